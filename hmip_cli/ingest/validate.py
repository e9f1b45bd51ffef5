"""Validation: an all-text, schema-named frame in; a typed case frame and every problem out.

Every check is a vectorised Polars expression over whole columns (the Python loops are
over columns and factors, never rows), so a million-case file validates in seconds.
Problem lines are capped per column and kind (`MAX_LINES`), with a count of the rest, so
a file with one systematic mistake gives a readable report rather than a million lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from hmip_cli import schema
from hmip_cli.errors import MAX_LINES, Problem
from hmip_cli.ingest.readers import ROW
from hmip_cli.missing import MISSING
from hmip_cli.privacy import clip_name, describe_value

__all__ = ["MAX_LINES", "Secrets", "Validated", "validate"]

ID_LIKE = 3  # this many unreadable values in a column, each in one row only: identifiers

YES = ("yes", "y", "true", "1", "1.0")
NO = ("no", "n", "false", "0", "0.0")
# Blank, NA, n/a, not applicable, Unknown, Don't know, ...: not applicable (or not
# recorded), never "no" (hmip_cli.missing, shared with `regress --input`).
YES_NO_EXPECTED = (
    "yes or no (y/n, true/false, 1/0 also accepted; blank, NA or n/a if not applicable; "
    "Unknown or Not known if not recorded)"
)

_INT = r"^[+-]?\d+(\.0*)?$"
_ISO = r"^\d{4}-\d{1,2}-\d{1,2}([ T]00:00(:00(\.0+)?)?)?$"
_UK = r"^\d{1,2}/\d{1,2}/\d{4}$"


def _norm_level(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


def _norm_level_expr(e: pl.Expr) -> pl.Expr:
    return e.str.to_lowercase().str.replace_all(r"[\s_\-]+", " ").str.strip_chars()


def level_lookup(col: schema.Column) -> dict[str, str]:
    """Accepted spellings (normalised) -> code: the code and the label, any case, _ - or space."""
    table: dict[str, str] = {}
    for code, label in zip(col.levels, col.labels or col.levels):
        table[_norm_level(code)] = code
        table[_norm_level(label)] = code
    return table


def expected_text(col: schema.Column) -> str:
    if col.dtype == pl.Boolean:
        return YES_NO_EXPECTED
    if isinstance(col.dtype, pl.Enum):
        opts = ", ".join(col.levels)
        return f"one of {opts} (or their labels: {', '.join(col.labels)})"
    if col.dtype.is_integer():
        return "a whole number" + (
            f" from {col.minimum:g} to {col.maximum:g}" if col.minimum is not None else ""
        )
    if col.dtype == pl.Date:
        return "a date as YYYY-MM-DD (or DD/MM/YYYY)"
    return "text"


def parse_expr(col: schema.Column) -> pl.Expr:
    """Text (already trimmed, blanks null) -> the stored type; unreadable values -> null."""
    e = pl.col(col.name)
    if col.dtype == pl.Boolean:
        low = e.str.to_lowercase()
        return low.replace_strict(
            [*YES, *NO],
            [True] * len(YES) + [False] * len(NO),
            default=None,
            return_dtype=pl.Boolean,
        )
    if isinstance(col.dtype, pl.Enum):
        table = level_lookup(col)
        return (
            _norm_level_expr(e)
            .replace_strict(list(table), list(table.values()), default=None, return_dtype=pl.String)
            .cast(col.dtype)
        )
    if col.dtype.is_integer():
        ok = e.str.contains(_INT)
        whole = e.str.replace(r"\.0*$", "").cast(pl.Int64, strict=False)
        return pl.when(ok).then(whole)
    if col.dtype == pl.Date:
        iso = pl.when(e.str.contains(_ISO)).then(
            e.str.slice(0, 10).str.replace(r"[ T].*$", "").str.to_date("%Y-%m-%d", strict=False)
        )
        uk = pl.when(e.str.contains(_UK)).then(e.str.to_date("%d/%m/%Y", strict=False))
        return pl.coalesce(iso, uk)
    return e


def _blank_to_null(e: pl.Expr) -> pl.Expr:
    e = e.str.strip_chars()
    return pl.when(e != "").then(e)


def readable_expr(col: schema.Column) -> pl.Expr:
    """True where the text is blank, missing (`hmip_cli.missing`) or was understood (so a
    null parse means 'bad value'). A category's own levels win over the missing spellings."""
    e = pl.col(col.name)
    missing = e.str.to_lowercase().is_in(list(MISSING))
    if col.dtype == pl.Boolean:
        return e.is_null() | e.str.to_lowercase().is_in([*YES, *NO]) | missing
    if isinstance(col.dtype, pl.Enum):
        return e.is_null() | _norm_level_expr(e).is_in(list(level_lookup(col))) | missing
    # ints and dates: a null parse of a non-null, non-missing input is the signal
    return e.is_null() | missing | parse_expr(col).is_not_null()


@dataclass
class Validated:
    frame: pl.DataFrame  # the stored schema's columns, typed, plus ROW
    problems: list[Problem]


def _id_shaped(value: str) -> bool:
    """Letters and digits together (C11-00001, AB12345): a reference number, not a
    misspelt code (codes are words or numbers), so never quoted."""
    return any(ch.isalpha() for ch in value) and any(ch.isdigit() for ch in value)


class Secrets:
    """The file's identifiers and notes, to check a value against before a message quotes it.

    Kept as 64-bit hashes of the trimmed values, batch by batch (a file of ten million ids
    costs 80 MB, not its text), and asked only about the few values a message would show,
    once every batch has been read. A hash collision can only hide a value, never show one.
    """

    def __init__(self, columns: list[pl.Series] | None = None):
        self._hashes: list[pl.Series] = []
        self._all: pl.Series | None = None
        self.add(columns or [])

    def add(self, columns: list[pl.Series]) -> None:
        for c in columns:
            if c.len():
                text = c.cast(pl.String).drop_nulls().str.strip_chars()
                self._hashes.append(text.hash(_SEED).unique())
        self._all = None

    def among(self, values: list[str]) -> set[str]:
        """Those of `values` (as given, or trimmed) that are an id or a note in the file."""
        if not values or not self._hashes:
            return set()
        if self._all is None:
            self._all = pl.concat(self._hashes).unique()
        asked = pl.Series(values, dtype=pl.String).str.strip_chars().hash(_SEED)
        hit = asked.is_in(self._all.implode())
        return {v for v, h in zip(values, hit.to_list()) if h}


_SEED = 20_160_314  # any fixed seed: the hashes are compared within one process


@dataclass
class _Run:
    """The rows of one kind of problem in one column, over every batch: the first
    MAX_LINES as (row, value, message), how many in all, the first and last row."""

    column: str | None
    severity: str
    cell: bool
    shown: list[tuple[int, str | None, str]]
    n: int = 0
    first: int = 0
    last: int = 0


class _Collector:
    """Problems as found, batch by batch; shown values are decided only at the end (`done`),
    when it is known which columns hold free text and which values are ids or notes."""

    def __init__(self, file: str, origin: dict[str, str], secrets: Secrets):
        self.file = file
        self.origin = origin
        self.secrets = secrets
        self.free_text: set[str] = set()  # coded columns whose values look like free text
        self._found: list[Problem | _Run] = []
        self._runs: dict[tuple, _Run] = {}

    def label(self, column: str | None) -> str | None:
        if column is None:
            return None
        theirs = self.origin.get(column, column)
        return column if theirs == column else f"{clip_name(theirs)} ({column})"

    def add(self, row, column, expected, severity="error"):
        """A problem that shows no value."""
        self._found.append(Problem(self.file, row, self.label(column), None, expected, severity))

    def rows(
        self,
        hits: pl.DataFrame,
        column: str | None,
        expected,
        severity="error",
        show_value: bool = True,
        cell: bool = False,
        kind: str | None = None,
    ):
        """One problem per offending row (the first MAX_LINES over the whole file, then a
        count), `hits` has ROW and optionally `value` (`cell`: as the file has it). Hits
        of one `kind` (default: the message) in one column from every batch form one run."""
        n = hits.height
        if n == 0:
            return
        key = (column, kind or expected, severity)
        run = self._runs.get(key)
        if run is None:
            run = self._runs[key] = _Run(column, severity, cell, [])
            self._found.append(run)
        rows = hits.get_column(ROW)
        first, last = int(rows.min()), int(rows.max())  # type: ignore[arg-type]
        run.first = first if run.n == 0 else min(run.first, first)
        run.last = max(run.last, last)
        run.n += n
        room = MAX_LINES - len(run.shown)
        for rec in hits.head(max(room, 0)).iter_rows(named=True):
            value = rec.get("value") if show_value else None
            text = expected(rec) if callable(expected) else expected
            run.shown.append((rec[ROW], None if value is None else str(value), text))

    def done(self) -> list[Problem]:
        """Every problem, in the order found, with values shown only where safe."""
        runs = [f for f in self._found if isinstance(f, _Run)]
        values = [v for r in runs for _, v, _ in r.shown if v is not None]
        secret = self.secrets.among(values)
        out: list[Problem] = []
        for f in self._found:
            if isinstance(f, Problem):
                out.append(f)
                continue
            label = self.label(f.column)
            for row, value, text in f.shown:
                shown = None if value is None else self._show(f.column, value, secret, f.cell)
                out.append(Problem(self.file, row, label, shown, text, f.severity))
            if f.n > MAX_LINES:
                out.append(
                    Problem(
                        self.file,
                        None,
                        label,
                        None,
                        f"... and {f.n - MAX_LINES:,} more rows (between rows {f.first:,} and "
                        f"{f.last:,}) with the same problem: {f.shown[0][2]}",
                        f.severity,
                        summary=True,
                        more=f.n - MAX_LINES,
                    )
                )
        return out

    def _show(self, column: str | None, value: str, secret: set[str], cell: bool) -> str | None:
        # Case data concerns real people: identifiers and free text never reach the screen;
        # the row number is enough to find the cell.
        if column == "notes" or column in schema.IDENTIFYING_COLUMNS:
            return None
        if cell and (column in self.free_text or _id_shaped(value)):
            return f"a value of {len(value):,} characters"
        return describe_value(value, secret)


class Validator:
    """Checks a mapped all-text file batch by batch against the schema.

    `batch(frame)` returns the batch typed (the stored schema's columns plus ROW); rules
    within a row run per batch, rules across rows (duplicate ids) and the capping of every
    kind of problem run over the whole file in `finish()`, which returns every problem.
    `origin` maps our column name to the file's header, so messages use the user's words.
    """

    def __init__(self, file: str, origin: dict[str, str], present: list[str]):
        self.secrets = Secrets()
        self.out = _Collector(file, origin, self.secrets)
        self.present = [c for c in present if c != ROW]
        for col in schema.COLUMNS:
            if col.required and col.name not in self.present:
                self.out.add(None, col.name, f"required column is missing ({col.description})")
        self.cols = [schema.COLUMN_BY_NAME[c] for c in self.present]
        self._ids: list[pl.DataFrame] = []  # (ROW, case_id) of every batch
        self._missing: dict[str, int] = {}  # judgement column absent: priority cases
        self._bad: dict[str, set[str]] = {}  # distinct unreadable values (up to MAX_LINES + 1)
        self._bad_rows: dict[str, int] = {}

    def batch(self, frame: pl.DataFrame, secrets: list[pl.Series] | None = None) -> pl.DataFrame:
        """Check one batch (`secrets`: the file's id and notes columns wherever the mapping
        sent them, for this batch); returns it typed."""
        self.secrets.add(
            [
                frame.get_column(c)
                for c in ("notes", *schema.IDENTIFYING_COLUMNS)
                if c in frame.columns
            ]
            + list(secrets or [])
        )
        parsed = _parse_batch(frame, self.cols, self)
        _check_rows(parsed, self.present, self.out, self._missing)
        if "case_id" in self.present:
            self._ids.append(parsed.select(ROW, "case_id"))
        return parsed.select(
            pl.col(ROW),
            *[
                (
                    pl.col(c.name).cast(c.dtype, strict=False)
                    if c.name in self.present
                    else pl.lit(None, c.dtype)
                ).alias(c.name)
                for c in schema.COLUMNS
            ],
        )

    def unreadable(self, column: str, values: pl.Series, n_rows: int) -> None:
        """Note a batch's distinct unreadable values of a coded column and their rows."""
        seen = self._bad.setdefault(column, set())
        if len(seen) <= MAX_LINES:
            seen.update(values.head(MAX_LINES + 1 - len(seen)).to_list())
        self._bad_rows[column] = self._bad_rows.get(column, 0) + n_rows

    def finish(self) -> list[Problem]:
        out = self.out
        for column, seen in self._bad.items():
            distinct = len(seen)
            if distinct > MAX_LINES or (distinct >= ID_LIKE and self._bad_rows[column] == distinct):
                # Codes go wrong in a few ways, repeatedly: dozens of different values, or
                # a different one in every row, are free text or identifiers (a notes or
                # id column mapped here, cells shifted): described, never quoted.
                out.free_text.add(column)
        for jcol, n in self._missing.items():
            f = next(f for f in schema.FACTORS if jcol.startswith(f.key + "_"))
            out.add(
                None,
                jcol,
                f"not recorded: the column is missing, and "
                f"{f.label.lower()} is a priority in {n:,} cases",
                severity="warning",
            )
        if self._ids:
            _check_duplicates(pl.concat(self._ids, rechunk=False), out)
        return out.done()


def validate(
    file: str,
    frame: pl.DataFrame,
    origin: dict[str, str],
    secrets: list[pl.Series] | None = None,
) -> Validated:
    """Check a whole mapped all-text frame (one batch); return it typed and every problem.
    `secrets`: columns of identifiers and notes besides the frame's own (e.g. the file's
    `notes` column mapped elsewhere); a value found in any of them is never quoted."""
    v = Validator(file, origin, frame.columns)
    typed = v.batch(frame, secrets)
    return Validated(typed, v.finish())


def _parse_batch(
    frame: pl.DataFrame, cols: list[schema.Column], validator: Validator
) -> pl.DataFrame:
    """The batch parsed to the stored types (ROW first); unreadable values, blank required
    cells and impossible numbers noted."""
    out = validator.out
    coded = [c for c in cols if c.dtype != pl.String]
    texts = [c for c in cols if c.dtype == pl.String]
    # Free text: trimmed, blank -> null.
    text = frame.select(ROW, *[_blank_to_null(pl.col(c.name)).alias(c.name) for c in texts])
    # Coded columns hold few distinct values, so each column's distinct values are parsed
    # (trim, case, spellings, ranges) and the column is then mapped through that small
    # table: one hash look-up per cell instead of several new strings per cell. Every
    # yes/no column reads the same way, so they share one table; all tables are built in
    # one collect_all (a small file costs a few milliseconds, not hundreds of queries).
    uniques = dict(
        zip(
            [c.name for c in coded],
            frame.select([pl.col(c.name).unique().implode() for c in coded]).row(0)
            if coded
            else (),
        )
    )
    groups: dict[str, list[schema.Column]] = {}
    for c in coded:
        groups.setdefault("*yes/no*" if c.dtype == pl.Boolean else c.name, []).append(c)
    keys = [
        (
            _YES_NO.name if cs[0].dtype == pl.Boolean else cs[0].name,
            tuple(sorted({v for c in cs for v in uniques[c.name] if v is not None})),
        )
        for cs in groups.values()
    ]
    # Files of one export share their codes: tables already built are reused (only tables
    # of values that all read: codes, numbers and dates, never a file's stray text).
    tables = {i: _TABLES[k] for i, k in enumerate(keys) if k in _TABLES}
    todo = [i for i in range(len(keys)) if i not in tables]
    built = pl.collect_all(
        [_parse_table(schema.COLUMN_BY_NAME[keys[i][0]], keys[i][1]) for i in todo]
    )
    for i, table in zip(todo, built):
        tables[i] = table
        if len(keys[i][1]) <= _CACHE_VALUES and table.get_column("ok").all():
            if len(_TABLES) >= _CACHE_TABLES:
                _TABLES.pop(next(iter(_TABLES)))
            _TABLES[keys[i]] = table
    typed_exprs, bad_cols = [], {}
    for i, cs in enumerate(groups.values()):
        table = tables[i]
        # Row 0 of each table is the null the blank cells map to (see _parse_table).
        raw_s, parsed_s = table.get_column("raw").slice(1), table.get_column("parsed").slice(1)
        oks = table.get_column("ok").slice(1).to_list()
        unreadable = {r for r, ok in zip(raw_s.to_list(), oks) if not ok}
        for c in cs:
            typed_exprs.append(
                pl.col(c.name)
                .replace_strict(raw_s, parsed_s, default=None, return_dtype=parsed_s.dtype)
                .alias(c.name)
            )
            bad = [v for v in uniques[c.name] if v in unreadable] if unreadable else []
            if bad:
                bad_cols[c.name] = pl.Series(bad, dtype=pl.String)
    parsed = frame.select(ROW, *typed_exprs).hstack(text.drop(ROW))
    for c in coded:
        if c.name in bad_cols:
            hits = frame.select(ROW, pl.col(c.name).alias("value")).filter(
                pl.col("value").is_in(bad_cols[c.name].implode())
            )
            hits = hits.with_columns(pl.col("value").str.strip_chars())
            validator.unreadable(c.name, bad_cols[c.name], hits.height)
            out.rows(hits, c.name, f"expected {expected_text(c)}", cell=True)
    parsed = parsed.select(ROW, *[c.name for c in cols])

    # Blank required cells and impossible numbers: counted in one pass; only the checks
    # that fire are filtered for their rows.
    checks: list[tuple[schema.Column, str, pl.Expr]] = []
    for c in cols:
        if c.required:
            blank = pl.col(c.name).is_null()
            if c.name in bad_cols:  # an unreadable value is reported as such, not as blank
                blank = blank & ~pl.col(f"__raw_{c.name}").is_in(bad_cols[c.name].implode())
            checks.append((c, "blank", blank))
        if c.minimum is not None and c.name not in bad_cols:
            v = pl.col(c.name)
            checks.append((c, "range", (v < c.minimum) | (v > c.maximum)))
    if checks:
        raw_needed = [c.name for c in cols if c.required and c.name in bad_cols]
        view = parsed.hstack([frame.get_column(n).alias(f"__raw_{n}") for n in raw_needed])
        counts = view.select(
            [mask.sum().alias(str(i)) for i, (_, _, mask) in enumerate(checks)]
        ).row(0)
        for (c, kind, mask), n in zip(checks, counts):
            if not n:
                continue
            if kind == "blank":
                hits = view.filter(mask).select(ROW)
                out.rows(
                    hits,
                    c.name,
                    "required: must not be blank, NA or unknown",
                    show_value=False,
                )
            else:
                hits = view.filter(mask).select(ROW, pl.col(c.name).alias("value"))
                out.rows(hits, c.name, f"impossible value: expected {c.minimum:g} to {c.maximum:g}")

    return parsed


_TABLES: dict[tuple[str, tuple[str, ...]], pl.DataFrame] = {}
_CACHE_TABLES = 512  # parse tables kept (oldest dropped first)
_YES_NO = next(c for c in schema.COLUMNS if c.dtype == pl.Boolean)  # every yes/no reads alike
_CACHE_VALUES = 1_000  # only small ones: a column of a million distinct values is not kept


def _parse_table(c: schema.Column, values: tuple[str, ...]) -> pl.LazyFrame:
    """raw -> parsed, ok for the distinct values of columns that read as `c` does."""
    table = pl.LazyFrame({"raw": [None, *values]}, schema={"raw": pl.String})
    table = table.with_columns(_blank_to_null(pl.col("raw")).alias(c.name)).with_columns(
        parse_expr(c).alias("parsed"), readable_expr(c).alias("ok")
    )
    return table


def _check_duplicates(ids: pl.DataFrame, out: _Collector) -> None:
    """Case ids that repeat within the file (over all its batches)."""
    dup = ids.select(ROW, pl.col("case_id").alias("value")).filter(
        pl.col("value").is_not_null() & pl.col("value").is_duplicated()
    )
    if dup.height:
        first = dup.group_by("value").agg(pl.col(ROW).min().alias("__first"))
        dup = dup.join(first, on="value").filter(pl.col(ROW) != pl.col("__first")).sort(ROW)
        out.rows(dup, "case_id", lambda r: f"duplicate case id (first at row {r['__first']})")


def _check_rows(
    parsed: pl.DataFrame, present: list[str], out: _Collector, missing: dict[str, int]
) -> None:
    """Rules across the columns of a row: judgements vs priorities, OGRS agreement.
    `missing` counts, per absent judgement column, the cases where it was a priority."""
    # Every judgement-vs-priority rule as one boolean column; counted in one pass, and
    # only the rules that fire are filtered for their rows.
    pcols = [(f, schema.priority_column(f)) for f in schema.FACTORS]
    rules: list[tuple[str, pl.Expr, str, str, bool]] = []  # (column, mask, message, severity, show)
    for f, pcol in pcols:
        if pcol not in present:
            continue
        p = pl.col(pcol)
        for m in schema.MEASURES:
            jcol = schema.judgement_column(f, m)
            if jcol in present:
                rules.append(
                    (
                        jcol,
                        (p == False) & pl.col(jcol).is_not_null(),  # noqa: E712
                        f"a judgement is recorded but {f.label.lower()} is not a priority "
                        f"for this case ({pcol} is no); leave it blank",
                        "error",
                        True,
                    )
                )
            if m.requires_involvement:
                continue
            if jcol in present:
                rules.append(
                    (
                        jcol,
                        (p == True) & pl.col(jcol).is_null(),  # noqa: E712
                        f"not recorded: {f.label.lower()} is a priority but this judgement is blank "
                        "(or unknown)",
                        "warning",
                        False,
                    )
                )
            else:
                rules.append((jcol, p == True, "", "missing", False))  # noqa: E712
    if rules:
        counts = parsed.select(
            [mask.sum().alias(str(i)) for i, (_, mask, *_rest) in enumerate(rules)]
        ).row(0)
        for (jcol, mask, message, severity, show), n in zip(rules, counts):
            if not n:
                continue
            if severity == "missing":
                missing[jcol] = missing.get(jcol, 0) + n
                continue
            hits = parsed.filter(mask).select(
                ROW,
                pl.col(jcol)
                .replace_strict([True, False], ["yes", "no"], return_dtype=pl.String)
                .alias("value"),
            )
            out.rows(hits, jcol, message, severity=severity, show_value=show)

    have = [pcol for _, pcol in pcols if pcol in present]
    if have:
        counted = parsed.select(
            ROW, pl.sum_horizontal([pl.col(c).cast(pl.Int8) for c in have]).alias("value")
        ).filter(pl.col("value") > schema.MAX_PRIORITIES)
        out.rows(
            counted,
            None,
            f"more than {schema.MAX_PRIORITIES} factors are priorities (value shown: how many)",
        )

    if "ogrs_score" in present and "ogrs_band" in present:
        score, band = pl.col("ogrs_score"), pl.col("ogrs_band")
        implied = schema.ogrs_band_expr(score.cast(pl.Int16, strict=False))
        hits = parsed.filter(
            score.is_not_null()
            & band.is_not_null()
            & (score >= 0)
            & (score <= 99)
            & (implied.cast(pl.String) != band.cast(pl.String))
        )
        hits = hits.select(
            ROW,
            pl.format("score {} but band {}", score, band.cast(pl.String)).alias("value"),
            implied.cast(pl.String).alias("__implied"),
        )
        out.rows(
            hits,
            "ogrs_band",
            lambda r: (
                f"ogrs_score and ogrs_band disagree (the score gives "
                f"{r['__implied']}); the band will be taken from the score"
            ),
            severity="warning",
            kind="ogrs",
        )
