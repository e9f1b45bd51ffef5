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
from hmip_cli.privacy import clip_name, describe_value

__all__ = ["MAX_LINES", "Secrets", "Validated", "validate"]

ID_LIKE = 3  # this many unreadable values in a column, each in one row only: identifiers

YES = ("yes", "y", "true", "1", "1.0")
NO = ("no", "n", "false", "0", "0.0")
NOT_APPLICABLE = ("na", "n/a", "not applicable")
YES_NO_EXPECTED = (
    "yes or no (y/n, true/false, 1/0 also accepted; blank, NA or n/a if not applicable)"
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
            [*YES, *NO, *NOT_APPLICABLE],
            [True] * len(YES) + [False] * len(NO) + [None] * len(NOT_APPLICABLE),
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
    """True where the text is blank or was understood (so a null parse means 'bad value')."""
    e = pl.col(col.name)
    if col.dtype == pl.Boolean:
        return e.is_null() | e.str.to_lowercase().is_in([*YES, *NO, *NOT_APPLICABLE])
    if isinstance(col.dtype, pl.Enum):
        return e.is_null() | _norm_level_expr(e).is_in(list(level_lookup(col)))
    return pl.lit(True)  # ints and dates: a null parse of a non-null input is the signal


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

    Held as columns and asked only about the few values a message would show, so a file
    of a million ids costs nothing unless something is wrong.
    """

    def __init__(self, columns: list[pl.Series]):
        self.columns = [c.cast(pl.String) for c in columns if c.len()]
        self._stripped: list[pl.Series] | None = None

    def among(self, values: list[str]) -> set[str]:
        """Those of `values` (as given, or trimmed) that are an id or a note in the file."""
        if not values or not self.columns:
            return set()
        if self._stripped is None:
            self._stripped = [c.str.strip_chars() for c in self.columns]
        asked = pl.Series(values, dtype=pl.String)
        trimmed = asked.str.strip_chars()
        hit = pl.Series([False] * len(values))
        for col in self._stripped:
            hit = hit | trimmed.is_in(col.implode())
        return {v for v, h in zip(values, hit.to_list()) if h}


class _Collector:
    def __init__(self, file: str, origin: dict[str, str], secrets: Secrets):
        self.file = file
        self.origin = origin
        self.secrets = secrets
        self.free_text: set[str] = set()  # coded columns whose values look like free text
        self.problems: list[Problem] = []

    def label(self, column: str | None) -> str | None:
        if column is None:
            return None
        theirs = self.origin.get(column, column)
        return column if theirs == column else f"{clip_name(theirs)} ({column})"

    def add(self, row, column, value, expected, severity="error", secret=frozenset(), cell=False):
        """`cell`: the value is a cell as the file has it (not one hmip composed)."""
        # Case data concerns real people: identifiers and free text never reach the screen;
        # the row number is enough to find the cell.
        if value is not None:
            if column == "notes" or column in schema.IDENTIFYING_COLUMNS:
                value = None
            elif cell and (column in self.free_text or _id_shaped(value)):
                value = f"a value of {len(value):,} characters"
            else:
                value = describe_value(value, secret)
        self.problems.append(Problem(self.file, row, self.label(column), value, expected, severity))

    def rows(
        self,
        hits: pl.DataFrame,
        column: str | None,
        expected,
        severity="error",
        show_value: bool = True,
        cell: bool = False,
    ):
        """One problem per offending row (capped), `hits` has ROW and optionally `value`
        (`cell`: as the file has it)."""
        n = hits.height
        if n == 0:
            return
        shown = hits.head(MAX_LINES)
        values = (
            [str(v) for v in shown.get_column("value").drop_nulls().to_list()]
            if show_value and "value" in shown.columns
            else []
        )
        secret = self.secrets.among(values)
        for rec in shown.iter_rows(named=True):
            value = rec.get("value") if show_value else None
            text = expected(rec) if callable(expected) else expected
            shown_value = None if value is None else str(value)
            self.add(rec[ROW], column, shown_value, text, severity, secret, cell)
        if n > MAX_LINES:
            rows = hits.get_column(ROW)
            first, last = int(rows.min()), int(rows.max())  # type: ignore[arg-type]
            text = expected(shown.row(0, named=True)) if callable(expected) else expected
            self.problems.append(
                Problem(
                    self.file,
                    None,
                    self.label(column),
                    None,
                    f"... and {n - MAX_LINES:,} more rows (between rows {first:,} and {last:,}) "
                    f"with the same problem: {text}",
                    severity,
                    summary=True,
                    more=n - MAX_LINES,
                )
            )


def validate(
    file: str,
    frame: pl.DataFrame,
    origin: dict[str, str],
    secrets: list[pl.Series] | None = None,
) -> Validated:
    """Check a mapped all-text frame against the schema; return it typed and every problem.

    `origin` maps our column name to the file's header, so messages use the user's words.
    `secrets`: columns of identifiers and notes besides the frame's own (e.g. the file's
    `notes` column mapped elsewhere); a value found in any of them is never quoted.
    """
    own = [
        frame.get_column(c) for c in ("notes", *schema.IDENTIFYING_COLUMNS) if c in frame.columns
    ]
    out = _Collector(file, origin, Secrets(own + list(secrets or [])))
    present = [c for c in frame.columns if c != ROW]
    for col in schema.COLUMNS:
        if col.required and col.name not in present:
            out.add(None, col.name, None, f"required column is missing ({col.description})")

    cols = [schema.COLUMN_BY_NAME[c] for c in present]
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
            distinct = bad_cols[c.name].len()
            if distinct > MAX_LINES or (distinct >= ID_LIKE and hits.height == distinct):
                # Codes go wrong in a few ways, repeatedly: dozens of different values, or
                # a different one in every row, are free text or identifiers (a notes or
                # id column mapped here, cells shifted): described, never quoted.
                out.free_text.add(c.name)
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
                out.rows(hits, c.name, "required: must not be blank", show_value=False)
            else:
                hits = view.filter(mask).select(ROW, pl.col(c.name).alias("value"))
                out.rows(hits, c.name, f"impossible value: expected {c.minimum:g} to {c.maximum:g}")

    _check_cases(parsed, present, out)

    typed = parsed.select(
        pl.col(ROW),
        *[
            (
                pl.col(c.name).cast(c.dtype, strict=False)
                if c.name in present
                else pl.lit(None, c.dtype)
            ).alias(c.name)
            for c in schema.COLUMNS
        ],
    )
    return Validated(typed, out.problems)


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
    if c.dtype.is_integer() or c.dtype == pl.Date:  # readable = blank or parsed
        table = table.with_columns(ok=pl.col(c.name).is_null() | pl.col("parsed").is_not_null())
    return table


def _check_cases(parsed: pl.DataFrame, present: list[str], out: _Collector) -> None:
    """Rules across columns: duplicates, judgements vs priorities, OGRS agreement."""
    if "case_id" in present:
        dup = parsed.select(ROW, pl.col("case_id").alias("value")).filter(
            pl.col("value").is_not_null() & pl.col("value").is_duplicated()
        )
        if dup.height:
            first = dup.group_by("value").agg(pl.col(ROW).min().alias("__first"))
            dup = dup.join(first, on="value").filter(pl.col(ROW) != pl.col("__first")).sort(ROW)
            out.rows(dup, "case_id", lambda r: f"duplicate case id (first at row {r['__first']})")

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
                        f"not recorded: {f.label.lower()} is a priority but this judgement is blank",
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
                f = next(f for f in schema.FACTORS if jcol.startswith(f.key + "_"))
                out.add(
                    None,
                    jcol,
                    None,
                    f"not recorded: the column is missing, and "
                    f"{f.label.lower()} is a priority in {n:,} cases",
                    severity="warning",
                )
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
        )
