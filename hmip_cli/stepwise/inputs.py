"""Reading a file of cases for `stepwise()` (what `hmip regress --input` does), with
missing-value spellings as nulls and text columns converted to numbers or Booleans.

    from hmip_cli.stepwise import read_table, stepwise
    frame, notes = read_table(Path("cases.csv"))
    result = stepwise(frame, "outcome", ["a", "b"], categorical=["a"])

See docs/stepwise.md, "hmip regress --input FILE".
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from hmip_cli.errors import BadInput, BadRequest
from hmip_cli.missing import BLANK_LIKE, CSV_NULLS, MISSING, NOT_APPLICABLE, NOT_RECORDED
from hmip_cli.privacy import describe_value, identifying_columns, quote_name, secret_set

# Cell values read as missing in text columns of any input, trimmed, in any case: the
# definition `hmip ingest` uses too (hmip_cli.missing): blank, NA, N/A, #N/A, NaN, ".",
# not applicable, Unknown, Not known, Not recorded, Don't know.
MISSING_TOKENS = MISSING
FILE_TYPES = ".csv, .tsv, .txt, .parquet, .pq, .xlsx, .xls, .xlsm, .ods, .sav, .zsav or .dta"


@dataclass
class CaseFile:
    """What `read_cases` read: the cases (or, collapsed, their distinct rows with the number
    of cases of each in the column `weights`), notes for the user, and the number of cases."""

    frame: pl.DataFrame
    notes: list[str]
    n_cases: int
    weights: str | None = None  # design.WEIGHT when collapsed
    # .sav/.dta: per column shown by its value labels, code text -> label (savfile.level_named)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)


def read_table(
    path: str | Path,
    columns: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    words_missing: bool = True,
) -> tuple[pl.DataFrame, list[str]]:
    """Cases from a file, with missing values as nulls (docs/stepwise.md, "--input").

    Returns (frame, notes): the frame after `normalise_frame`, and notes for the user about
    how the file was read (plain sentences; the caller decides how to show them).

    columns: read only these (the outcome and the candidates: a model needs nothing else,
    and a wide file of ten million cases is read in a fraction of the time). When one of them
    is not in the file, every column is read, so the caller's "not found" message can list
    what there is.

    CSV/TSV: MISSING_TOKENS (trimmed, any case) are null; a text column whose values (trimmed) are all numbers
    or all true/false becomes numeric or Boolean. Parquet and Excel (first sheet): the same
    clean-up of text columns. SPSS .sav/.zsav and Stata .dta (pyreadstat, savfile.py): system-
    and user-missing values are null; the value labels of the columns in `labels` (the
    outcome and the categorical candidates) replace their codes, as an Enum in code order,
    so the default reference (last) is the highest code, as in SPSS; other columns keep their
    codes. Float NaN is null everywhere.

    words_missing=False: only the blank-likes (blank, NA, N/A, #N/A, NaN, '.') are missing;
    'Unknown', 'Not recorded', 'not applicable' ... are values like any other, as SPSS and R
    read a file (`hmip regress --missing-words category`).
    """
    got = read_cases(path, columns, labels, collapse=False, words_missing=words_missing)
    return got.frame, got.notes


def read_cases(
    path: str | Path,
    columns: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    collapse: bool = True,
    covariates: Sequence[str] | None = None,
    words_missing: bool = True,
) -> CaseFile:
    """`read_table`, and with `collapse` (and every one of `columns` in the file) the cases
    collapsed onto their distinct rows of `columns` with their counts (design.WEIGHT), for
    `stepwise(..., weights=WEIGHT)`: the same results as the rows (tests/test_stepwise_weights.py),
    bit for bit (`build_design` collapses the rows onto the same sorted table). When there are
    more distinct rows than design.COLLAPSE_MAX_SHARE of the cases, the rows are returned
    (`weights` None): collapsing would save nothing.

    Parquet and CSV are scanned lazily and collapsed in one group_by before any row is
    materialised; text is then normalised on the distinct rows only (issue 13: ten million
    cases in about the time of that one group_by). Other formats are read whole first.

    covariates: the candidates not declared categorical. A text column among them whose
    values are mostly numbers ("?" or "n/k" among the ages) is refused (BadInput naming
    the file, the row and the value), where it would otherwise be coded silently as a
    categorical variable with a level per distinct number (SPSS refuses a string covariate
    that is not on CATEGORICAL).
    """
    from hmip_cli.stepwise.design import COLLAPSE_MAX_SHARE, WEIGHT, collapse_cases

    path = Path(path)
    notes: list[str] = []
    codes: dict[str, dict[str, str]] = {}
    if not path.exists():
        raise BadRequest(f"no such file: {path}")
    suffix = path.suffix.lower()
    separator = "\t" if suffix == ".tsv" else ","
    if suffix in _DELIMITED:
        _check_header(path, separator, columns)
    try:
        wanted, trim = _present(path, suffix, separator, columns)
        lazy: pl.LazyFrame | None = None
        if suffix in _PARQUET:
            lazy = pl.scan_parquet(path)
        elif suffix in _DELIMITED:
            lazy = pl.scan_csv(
                path,
                separator=separator,
                infer_schema_length=None,
                null_values=list(CSV_NULLS),  # the rest: `normalise_frame`
            )
        elif suffix in _EXCEL:
            frame = pl.read_excel(path, infer_schema_length=None)
            frame = frame.rename(_trimmed(frame.columns))
        elif suffix in _LABELLED:
            from hmip_cli.stepwise.savfile import read_labelled

            frame, notes, codes = read_labelled(path, columns, labels)
        else:
            raise BadRequest(f"{path}: expected a {FILE_TYPES} file")
        if lazy is not None:
            if trim:
                lazy = lazy.rename(trim)
            if wanted is not None:
                lazy = lazy.select(wanted)
            if collapse and wanted is not None:
                table = collapse_cases(_nan_to_null(lazy), wanted)
                n_cases = int(table.get_column(WEIGHT).sum())
                if table.height <= COLLAPSE_MAX_SHARE * n_cases:
                    words: dict[str, list[str]] = {}
                    mixed: set[str] = set()
                    frame = normalise_frame(
                        table, words=words, mixed=mixed, words_missing=words_missing
                    )
                    notes += _missing_words(table, words, WEIGHT)
                    frame = _recollapse(frame, wanted, WEIGHT)
                    _check_covariates(path, frame, _among(covariates, mixed), WEIGHT)
                    return CaseFile(frame, notes, n_cases, WEIGHT)
                # Rows hardly repeat: collapsing saves nothing, and the rows (in file
                # order) give bit-for-bit the results of `stepwise` on the file's frame.
            frame = lazy.collect()
    except BadRequest:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        where = None
        if suffix in _DELIMITED:
            where = _not_utf8(path) or _ragged_row(path, separator)
        if where:
            raise BadInput(f"{path}, {where}") from None
        raise BadInput(
            f"could not read {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    if columns is not None and wanted is None and set(columns) <= set(frame.columns):
        frame = frame.select(list(dict.fromkeys(columns)))  # read whole: Excel, SPSS, Stata
        wanted = list(dict.fromkeys(columns))
    # SPSS/Stata string variables coded as categories stay text: SPSS sorts a string
    # variable's values as text ("1" < "10" < "2", "01" stays "01"), so its reference (last)
    # is the last in that order, not the highest number
    keep = [c for c in labels or [] if suffix in _LABELLED and frame.schema.get(c) == pl.String]
    words, mixed = {}, set()
    raw, frame = (
        frame,
        normalise_frame(
            frame, keep_text=keep, words=words, mixed=mixed, words_missing=words_missing
        ),
    )
    notes += _missing_words(raw, words, None)
    _check_covariates(path, frame, _among(covariates, mixed), None)
    if collapse and wanted is not None:
        table = collapse_cases(frame, wanted)
        if table.height <= COLLAPSE_MAX_SHARE * frame.height:
            return CaseFile(table, notes, frame.height, WEIGHT, codes)
    return CaseFile(frame, notes, frame.height, codes=codes)


# The file types `read_cases` reads. Extensions and their readers are those of
# `hmip ingest` (ingest.readers.FORMATS) except that a model's reader
# - scans Parquet and CSV lazily and keeps their types (ingest reads every cell as text with
#   its row number, to report each bad cell; a model needs neither, and reading ten million
#   rows as text cost 13 s of the 16 s `regress --input` took: issue 13), and
# - reads SPSS and Stata files with their value labels and user-missing values (savfile.py);
#   ingest has no Stata reader.
_PARQUET = (".parquet", ".pq")
_DELIMITED = (".csv", ".tsv", ".txt")
_EXCEL = (".xlsx", ".xls", ".xlsm", ".ods")
_LABELLED = (".sav", ".zsav", ".dta")


def _nan_to_null(lazy: pl.LazyFrame) -> pl.LazyFrame:
    """Float NaN as null before grouping (NaN and null would otherwise be two patterns)."""
    schema = lazy.collect_schema()
    floats = [n for n, t in schema.items() if t in (pl.Float32, pl.Float64)]
    return lazy.with_columns(pl.col(floats).fill_nan(None)) if floats else lazy


def _recollapse(table: pl.DataFrame, columns: list[str], weights: str) -> pl.DataFrame:
    """Distinct rows again after normalising (" A" and "A" are one value): sum their counts."""
    if table.select(columns).is_duplicated().any():
        return table.group_by(columns).agg(pl.col(weights).sum()).sort(columns, nulls_last=True)
    return table


def _present(
    path: Path, suffix: str, separator: str, columns: Sequence[str] | None
) -> tuple[list[str] | None, dict[str, str]]:
    """(`columns` (each once) if the Parquet or CSV file has every one, else None (read all);
    the header names to trim, `_trimmed`)."""
    if suffix not in (*_PARQUET, *_DELIMITED):
        return None, {}
    if suffix in _PARQUET:
        names = list(pl.read_parquet_schema(path))
    else:
        names = pl.read_csv(path, separator=separator, n_rows=0).columns
    trim = _trimmed(names)
    if columns is None:
        return None, trim
    wanted = list(dict.fromkeys(columns))
    return (wanted if set(wanted) <= {trim.get(n, n) for n in names} else None), trim


def _trimmed(names: Sequence[str]) -> dict[str, str]:
    """Header names with spaces around them -> the names trimmed ("y, age, sex" written by
    hand: ' age' could not be named on the command line, whose names are trimmed), unless
    the trimmed name is another column's."""
    stripped = [n.strip() for n in names]
    return {
        n: t
        for n, t in zip(names, stripped, strict=True)
        if t != n and t and stripped.count(t) == 1 and t not in names
    }


def _header(path: Path, separator: str) -> list[str]:
    """The header's fields as the csv module reads them (quotes, a UTF-8 byte-order mark)."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        return next(csv.reader(fh, delimiter=separator), [])


_SEPARATOR_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "vertical bar"}


def _check_header(path: Path, separator: str, columns: Sequence[str] | None) -> None:
    """One clear message for a header that cannot be what the model reads: separated by
    another character than the extension says (a European Excel CSV uses semicolons), or
    naming a column the model uses twice (which of the two would be fitted?)."""
    with open(path, "rb") as fh:
        start = fh.read(4096)
    if start.startswith((b"\xff\xfe", b"\xfe\xff")) or start.count(0) > len(start) // 4:
        raise BadInput(
            f"{path}: the file is UTF-16 text (Excel's 'Unicode Text'); re-save it as "
            "'CSV UTF-8 (Comma delimited)', or as .xlsx"
        )
    header = _header(path, separator)
    what = _SEPARATOR_NAMES[separator]
    if len(header) == 1:
        for other, name in _SEPARATOR_NAMES.items():
            if other != separator and other in header[0]:
                fix = {
                    "\t": "give it the extension .tsv",
                    ",": "give it the extension .csv",
                }.get(other, "re-save it comma-separated (Excel: CSV UTF-8), or as .xlsx")
                raise BadInput(
                    f"{path}, row 1: the header has no {what}s but has {name}s: the file is "
                    f"{name}-separated, and hmip reads {path.suffix} as {what}-separated; {fix}"
                )
    for name in dict.fromkeys(columns or []):
        at = [i + 1 for i, h in enumerate(header) if h.strip() == name]
        if len(at) > 1:
            raise BadInput(
                f"{path}, row 1: the header names column {quote_name(name)} {len(at)} times "
                f"(columns {', '.join(map(str, at))}); rename all but one, so that the model's "
                "column is unambiguous"
            )


def _not_utf8(path: Path) -> str | None:
    """'row N: ...' at the first byte that is not UTF-8 (Polars' message names no row), e.g.
    a CSV saved by Excel on Windows in cp1252: the error path only."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        return (
            f"row {row}: the file is not UTF-8 text (byte 0x{data[exc.start]:02x}); re-save "
            "it as 'CSV UTF-8 (Comma delimited)' (Excel saves plain CSV in the Windows "
            "encoding), or as .xlsx"
        )
    return None


def _ragged_row(path: Path, separator: str) -> str | None:
    """'row N: ...' for the first row with more cells than the header (Polars' own message
    names no row), by the exact csv module: the error path only."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh, delimiter=separator)
        width = len(next(reader, []))
        try:
            for record in reader:
                if len(record) > width:
                    return (
                        f"row {reader.line_num}: this row has {len(record)} cells but the "
                        f"header has {width} (an unquoted {_SEPARATOR_NAMES[separator]} inside "
                        'a value? such a value must be in double quotes: "a, b")'
                    )
        except csv.Error as err:
            return f"row {reader.line_num}: {err}"
    return None


def _missing_words(
    frame: pl.DataFrame, words: dict[str, list[str]], weights: str | None
) -> list[str]:
    """A note naming the cells read as missing because they say 'Unknown', 'Not recorded',
    'not applicable' ... (hmip_cli.missing): SPSS and R would keep them as a category, so
    the cases listwise deletion drops for them must not go unexplained. `words`: per column,
    those values as written (`normalise_frame(words=)`); `frame` is before normalising.
    Cases are counted only for the columns that have such a value (one pass each)."""
    found = []
    for name, values in words.items():
        hits = (
            frame.filter(pl.col(name).is_in(values))
            .group_by(name)
            .agg((pl.col(weights).sum() if weights else pl.len()).alias("n"))
            .sort("n", descending=True)
        )
        found += [
            f"{describe_value(v)} in {quote_name(name)} ({int(n):,} case{'s' if n != 1 else ''})"
            for v, n in hits.rows()
        ]
    if not found:
        return []
    return [
        f"read as missing, as hmip reads every 'not recorded' or 'not applicable' spelling "
        f"(SPSS would keep them as a category): {', '.join(found)}; listwise deletion leaves "
        "those cases out (--missing-words category keeps them, as SPSS and R read the file)"
    ]


def _among(names: Sequence[str] | None, subset: set[str]) -> list[str]:
    return [n for n in names or [] if n in subset]


def _check_covariates(
    path: Path, frame: pl.DataFrame, covariates: Sequence[str] | None, weights: str | None
) -> None:
    """Refuse a covariate (a candidate not declared categorical) that is text only because
    a minority of its cases hold something other than a number: name the row and value."""
    for name in dict.fromkeys(covariates or []):
        if name not in frame.columns or frame.schema[name] != pl.String:
            continue
        counts = frame.group_by(name).agg(
            (pl.col(weights).sum() if weights else pl.len()).alias("n")
        )
        counts = counts.drop_nulls(name)
        numeric = counts.get_column(name).str.strip_chars().cast(pl.Float64, strict=False)
        is_num = numeric.is_not_null()
        n_num = int(counts.filter(is_num).get_column("n").sum())
        others = counts.filter(~is_num).sort("n", descending=True)
        n_other = int(others.get_column("n").sum())
        if n_num == 0 or n_num <= n_other:
            continue  # a text variable (categorical, as every text candidate is)
        bad = others.get_column(name).to_list()
        # the schema's identifier and free-text columns are never quoted (hmip_cli.privacy)
        secret = secret_set(bad) if name in identifying_columns() else frozenset()
        shown = ", ".join(describe_value(v, secret) for v in bad[:3])
        shown += ", ..." if len(bad) > 3 else ""
        row = _first_row(path, name, bad)
        raise BadInput(
            f"{path}{row}, column {quote_name(name)}: {describe_value(bad[0], secret)} is not a number, "
            f"but {n_num:,} of the column's {n_num + n_other:,} values are (not numbers: "
            f"{shown}; {n_other:,} case{'s' if n_other > 1 else ''}). A covariate must be "
            "numeric: make those cells "
            f"missing (blank or NA) or recode them, or list {quote_name(name)} in --categorical "
            "to code its values as categories"
        )


def _first_row(path: Path, column: str, values: list[object]) -> str:
    """', row N' (spreadsheet row: the header is row 1) or ', case N' of the first case whose
    `column` holds one of `values` (trimmed); '' if it cannot be found. Error path only."""
    suffix = path.suffix.lower()
    try:
        if suffix in _DELIMITED:
            sep = "\t" if suffix == ".tsv" else ","
            lazy = pl.scan_csv(path, separator=sep, infer_schema_length=0)
        elif suffix in _PARQUET:
            lazy = pl.scan_parquet(path)
        elif suffix in _EXCEL:
            lazy = pl.read_excel(path, infer_schema_length=0).lazy()
        else:
            return ""
        lazy = lazy.rename(_trimmed(lazy.collect_schema().names()))
        lazy = lazy.select(pl.col(column).cast(pl.String))
        hit = (
            lazy.with_row_index("__row")
            .filter(pl.col(column).str.strip_chars().is_in([str(v) for v in values]))
            .select("__row")
            .head(1)
            .collect()
        )
    except Exception:  # noqa: BLE001 - the message without a row is still right
        return ""
    if hit.height == 0:
        return ""
    i = int(hit.item())
    return f", row {i + 2}" if suffix in (*_DELIMITED, *_EXCEL) else f", case {i + 1}"


_BOOL_TEXT = {"true": True, "false": False}


def normalise_frame(
    frame: pl.DataFrame,
    keep_text: Sequence[str] = (),
    words: dict[str, list[str]] | None = None,
    mixed: set[str] | None = None,
    words_missing: bool = True,
) -> pl.DataFrame:
    """Float NaN -> null; text columns trimmed, MISSING_TOKENS (any case) -> null, and converted to
    Int64/Float64 (every non-missing value a number) or Boolean (every one true/false, any case),
    except the columns in `keep_text` (trimmed and missing values only). `words`, if given,
    receives per column the values made missing for their wording (not recorded, not
    applicable: `_missing_words`), as written; `mixed` the text columns holding both numbers
    and other values (`_check_covariates`). words_missing=False: only the blank-likes are
    missing (`read_table`).

    Text is examined and converted once per distinct value, then mapped back onto the rows:
    a coded column of ten million rows has a handful of values."""
    out = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype in (pl.Float32, pl.Float64):
            out.append(col.fill_nan(None))
        elif dtype == pl.String:
            text = _normalise_text(
                frame.get_column(name), name not in keep_text, words, mixed, words_missing
            )
            out.append(pl.lit(text).alias(name))
        else:
            out.append(col)
    return frame.select(out)


_WORDS = list(NOT_APPLICABLE + NOT_RECORDED)


def _normalise_text(
    s: pl.Series,
    convert: bool = True,
    words: dict[str, list[str]] | None = None,
    mixed: set[str] | None = None,
    words_missing: bool = True,
) -> pl.Series:
    distinct = s.drop_nulls().unique()
    t = distinct.str.strip_chars()
    tokens = MISSING_TOKENS if words_missing else BLANK_LIKE
    if words is not None and words_missing:
        wordy = distinct.filter(t.str.to_lowercase().is_in(_WORDS))
        if wordy.len():
            words[s.name] = wordy.to_list()
    t = t.set(t.str.to_lowercase().is_in(list(tokens)), None) if t.len() else t
    present = t.drop_nulls()
    if present.len() == 0:
        return pl.Series(s.name, [None] * s.len(), dtype=pl.String)
    converted = t
    if not convert:
        return s.replace_strict(distinct, converted, default=None, return_dtype=pl.String)
    as_int = t.cast(pl.Int64, strict=False)
    as_float = t.cast(pl.Float64, strict=False)
    if mixed is not None and t.null_count() < as_float.null_count() < t.len():
        mixed.add(s.name)  # some values numbers, some not
    if as_int.null_count() == t.null_count():
        converted = as_int
    elif as_float.null_count() == t.null_count() and as_float.drop_nulls().is_finite().all():
        converted = as_float
    elif present.str.to_lowercase().is_in(list(_BOOL_TEXT)).all():
        converted = t.str.to_lowercase().replace_strict(
            _BOOL_TEXT, default=None, return_dtype=pl.Boolean
        )
    if distinct.equals(converted, check_names=False, check_dtypes=True, null_equal=True):
        return s  # nothing to change (the common case for clean coded text)
    return s.replace_strict(distinct, converted, default=None, return_dtype=converted.dtype)
