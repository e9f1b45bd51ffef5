"""Validation: an all-text, schema-named frame in; a typed case frame and every problem out.

Every check is a vectorised Polars expression over whole columns (the Python loops are
over columns and factors, never rows), so a million-case file validates in seconds.
Problem lines are capped per column and kind (`MAX_LINES`), with a count of the rest, so
a file with one systematic mistake gives a readable report rather than a million lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import polars as pl

from hmip_cli import framework
from hmip_cli.errors import MAX_LINES, Problem
from hmip_cli.framework import derive
from hmip_cli.framework.model import (
    YES_NO,
    Area,
    CutRule,
    DerivedSpec,
    DictionaryColumn,
    Framework,
    GroupRule,
    Measure,
)
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


def level_lookup(col: DictionaryColumn) -> dict[str, str]:
    """Accepted spellings (normalised) -> code: the code and the label, any case, _ - or space."""
    table: dict[str, str] = {}
    for code, label in zip(col.levels, col.labels or col.levels):
        table[_norm_level(code)] = code
        table[_norm_level(label)] = code
    return table


def expected_text(col: DictionaryColumn) -> str:
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


def parse_expr(col: DictionaryColumn) -> pl.Expr:
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


def readable_expr(col: DictionaryColumn) -> pl.Expr:
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

    def add(self, columns: list[pl.Series], trimmed: bool = False) -> None:
        """Note these columns' values (`trimmed`: they are trimmed already)."""
        for c in columns:
            if c.len():
                text = c.cast(pl.String).drop_nulls()
                self._hashes.append((text if trimmed else text.str.strip_chars()).hash(_SEED))
        self._all = None

    def among(self, values: list[str]) -> set[str]:
        """Those of `values` (as given, or trimmed) that are an id or a note in the file."""
        if not values or not self._hashes:
            return set()
        if self._all is None:
            self._all = pl.concat(self._hashes, rechunk=False)
        asked = pl.Series(values, dtype=pl.String).str.strip_chars().hash(_SEED)
        # The few asked values as the set, the file's many hashes scanned once.
        found = set(self._all.filter(self._all.is_in(asked.unique().implode())).to_list())
        return {v for v, h in zip(values, asked.to_list()) if h in found}


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

    def __init__(self, file: str, origin: dict[str, str], secrets: Secrets, hidden: frozenset[str]):
        self.hidden = hidden  # identifying and free-text columns: values never shown
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
        if column in self.hidden:
            return None
        if cell and (column in self.free_text or _id_shaped(value)):
            return f"a value of {len(value):,} characters"
        return describe_value(value, secret)


class Validator:
    """Checks a mapped all-text file batch by batch against the framework `fw` (default
    qi-2016): its types, levels, ranges and applicability rules.

    `batch(frame)` returns the batch typed (the stored schema's columns plus ROW); rules
    within a row run per batch, rules across rows (duplicate ids) and the capping of every
    kind of problem run over the whole file in `finish()`, which returns every problem.
    `origin` maps our column name to the file's header, so messages use the user's words.
    """

    def __init__(
        self,
        file: str,
        origin: dict[str, str],
        present: list[str],
        fw: Framework | None = None,
    ):
        self.fw = fw = framework.default() if fw is None else fw
        self.hidden = frozenset(fw.identifying_columns())
        self.secrets = Secrets()
        self.out = _Collector(file, origin, self.secrets, self.hidden)
        self.present = [c for c in present if c != ROW]
        for col in fw.stored_columns():
            if col.required and col.name not in self.present:
                self.out.add(None, col.name, f"required column is missing ({col.description})")
        self.cols = [fw.column_by_name[c] for c in self.present]
        self._ids: list[pl.DataFrame] = []  # (ROW, case_id) of every batch
        self._missing: dict[str, tuple[str, int]] = {}  # absent column: (message, cases)
        self._bad: dict[str, set[str]] = {}  # distinct unreadable values (up to MAX_LINES + 1)
        self._bad_rows: dict[str, int] = {}
        self.codes = _CodeBook(fw)

    def batch(self, frame: pl.DataFrame, secrets: list[pl.Series] | None = None) -> pl.DataFrame:
        """Check one batch (`secrets`: the file's id and notes columns wherever the mapping
        sent them, for this batch); returns it typed."""
        parsed = _parse_batch(frame, self.cols, self)
        # Ids and notes as parsed (trimmed, blanks null), and those the mapping sent elsewhere.
        self.secrets.add(
            [parsed.get_column(c) for c in sorted(self.hidden) if c in parsed.columns], True
        )
        self.secrets.add(list(secrets or []))
        _check_rows(parsed, self.present, self.out, self._missing, self.fw)
        if "case_id" in self.present:
            self._ids.append(parsed.select(ROW, "case_id"))
        return parsed.select(_cached(self.fw, "stored", tuple(self.present), self._stored))

    def _stored(self) -> list[pl.Expr]:
        """The stored schema's columns from a parsed batch (absent ones: null)."""
        return [
            pl.col(ROW),
            *[
                (
                    pl.col(c.name).cast(c.dtype, strict=False)
                    if c.name in self.present
                    else pl.lit(None, c.dtype)
                ).alias(c.name)
                for c in self.fw.stored_columns()
            ],
        ]

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
        for jcol, (message, n) in self._missing.items():
            out.add(None, jcol, message.replace("{n}", f"{n:,}"), severity="warning")
        if self._ids:
            _check_duplicates(pl.concat(self._ids, rechunk=False), out)
        return out.done()


def validate(
    file: str,
    frame: pl.DataFrame,
    origin: dict[str, str],
    secrets: list[pl.Series] | None = None,
    fw: Framework | None = None,
) -> Validated:
    """Check a whole mapped all-text frame (one batch); return it typed and every problem.
    `secrets`: columns of identifiers and notes besides the frame's own (e.g. the file's
    `notes` column mapped elsewhere); a value found in any of them is never quoted."""
    v = Validator(file, origin, frame.columns, fw)
    typed = v.batch(frame, secrets)
    return Validated(typed, v.finish())


def _parse_batch(
    frame: pl.DataFrame, cols: list[DictionaryColumn], validator: Validator
) -> pl.DataFrame:
    """The batch parsed to the stored types (ROW first); unreadable values, blank required
    cells and impossible numbers noted."""
    out = validator.out
    coded = [c for c in cols if c.dtype != pl.String]
    texts = [c for c in cols if c.dtype == pl.String]
    # Free text: trimmed, blank -> null.
    text = frame.select(
        _cached(
            validator.fw,
            "text",
            tuple(c.name for c in texts),
            lambda: [_blank_to_null(pl.col(c.name)).alias(c.name) for c in texts],
        )
    )
    typed, bad_cols = validator.codes.read(frame, coded)
    parsed = frame.select(ROW).hstack(typed.get_columns()).hstack(text.get_columns())
    for c in coded:
        if c.name in bad_cols:
            hits = frame.select(ROW, pl.col(c.name).alias("value")).filter(
                pl.col("value").is_in(bad_cols[c.name].implode())
            )
            bad_cols[c.name] = hits.get_column("value").unique(maintain_order=True)
            hits = hits.with_columns(pl.col("value").str.strip_chars())
            validator.unreadable(c.name, bad_cols[c.name], hits.height)
            out.rows(hits, c.name, f"expected {expected_text(c)}", cell=True)
    parsed = pl.DataFrame([parsed.get_column(n) for n in (ROW, *(c.name for c in cols))])

    # Blank required cells and impossible numbers: counted in one pass; only the checks
    # that fire are filtered for their rows.
    checks: list[tuple[DictionaryColumn, str, pl.Expr]] = []
    for c in cols:
        if c.required:
            blank = pl.col(c.name).is_null()
            if c.name in bad_cols:  # an unreadable value is reported as such, not as blank
                blank = blank & ~pl.col(f"__raw_{c.name}").is_in(bad_cols[c.name].implode())
            checks.append((c, "blank", blank))
        if c.minimum is not None:  # (an unreadable cell is null here: not out of range)
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


# Every yes/no column reads alike, in every framework.
_YES_NO = DictionaryColumn("*yes/no*", pl.Boolean(), "yes/no", levels=YES_NO)
# Spellings parsed in this process, per framework content and reader: raw -> (parsed,
# readable), and the parsed type. A spelling reads the same in every file of a framework,
# so the files of one export (and a test suite's thousands of small files) parse each once.
_SPELLINGS: dict[tuple[str, str], dict[str, tuple[object, bool]]] = {}
_DTYPES: dict[tuple[str, str], pl.DataType] = {}
_CACHE_SPELLINGS = 20_000  # per reader; beyond, new spellings are not kept (ids, free text)


def _parse_table(c: DictionaryColumn, values: tuple[str, ...]) -> pl.LazyFrame:
    """raw -> parsed, ok for the distinct values of columns that read as `c` does."""
    table = pl.LazyFrame({"raw": [None, *values]}, schema={"raw": pl.String})
    table = table.with_columns(_blank_to_null(pl.col("raw")).alias(c.name)).with_columns(
        parse_expr(c).alias("parsed"), readable_expr(c).alias("ok")
    )
    return table


@dataclass(frozen=True)
class _Reading:
    """One coded column read through the spellings met so far (`_CodeBook.reading`)."""

    expr: pl.Expr  # the column parsed (spellings not met yet: null)
    unread: pl.Expr  # how many cells hold a spelling not met yet
    bad: list[str]  # the spellings met that are not readable
    bad_any: pl.Expr | None  # whether any cell holds one of them


_READINGS: dict[tuple[str, str, tuple[str, ...]], _Reading] = {}
_CACHE_READINGS = 4_096  # column readings kept (oldest dropped first)
_CACHE_CHARS = 100_000  # only readings of short spelling lists are kept

SMALL_ROWS = 256  # a batch of at most this many rows is read through the tables in Python
CHAIN_MAX = 8  # spellings of a column read by comparisons rather than a hash look-up
LEARN_MAX = 5_000  # spellings of a column learnt; beyond, each batch is read on its own


class _CodeBook:
    """What the raw spellings of a file's coded columns read as, learnt batch by batch.

    Coded columns hold few distinct spellings, so each distinct spelling is parsed once
    (trim, case, the framework's levels and labels, the missing spellings, ranges; see
    `_parse_table`) and every later batch is read through that table. A column of a few
    spellings (a yes/no column: "yes", "no") is read by comparing each cell with them, a
    few times faster than a hash look-up per cell; a column of many (ages, dates) through
    `replace_strict`. A spelling not met before is found by the cells left unread (a count
    over validity bits) and learnt then, so a batch costs one pass per column. Every yes/no
    column reads the same way, so they share one table; tables are built in one
    collect_all, and spellings parsed once are reused by later files (`_SPELLINGS`).

    A column of more than `LEARN_MAX` spellings (free text or ids mapped onto a coded
    column) is not learnt: each batch's distinct values are parsed on their own, so
    memory and time stay flat in the file size.
    """

    def __init__(self, fw: Framework):
        self.fw = fw
        # per reader (the shared yes/no one, or a column): raw spelling -> (parsed, readable)
        self.tables: dict[str, dict[str, tuple[object, bool]]] = {}
        self.dtypes: dict[str, pl.DataType] = {}  # per reader: the parsed values' type
        self.seen: dict[str, list[str]] = {}  # per column: its spellings, in order met
        self.wide: set[str] = set()  # columns of too many spellings: read batch by batch

    @staticmethod
    def reader(c: DictionaryColumn) -> DictionaryColumn:
        return _YES_NO if c.dtype == pl.Boolean else c

    def read(
        self, frame: pl.DataFrame, coded: list[DictionaryColumn]
    ) -> tuple[pl.DataFrame, dict[str, pl.Series]]:
        """The coded columns of `frame` parsed, and per column with unreadable cells in
        this batch the unreadable spellings it has met (a superset of this batch's)."""
        if frame.height <= SMALL_ROWS:
            return self._read_small(frame, coded)
        fresh = [c for c in coded if c.name not in self.seen and c.name not in self.wide]
        if fresh:  # columns not met before (the first batch): their distinct values
            values = frame.select(pl.col(c.name).unique().implode() for c in fresh).row(0)
            self.learn(dict(zip(fresh, values)))
        typed: dict[str, pl.Series] = {}
        bad: dict[str, pl.Series] = {}
        todo = [c for c in coded if c.name not in self.wide]
        for _round in range(2):  # the second only for spellings first met in this batch
            if not todo:
                break
            reads = [self.reading(c) for c in todo]
            part = frame.select(r.expr for r in reads)
            view = part.hstack([frame.get_column(c.name).alias(f"__raw_{c.name}") for c in todo])
            checks = [r.unread for r in reads] + [r.bad_any for r in reads if r.bad_any is not None]
            bad_of = {c.name: r.bad for c, r in zip(todo, reads)}
            found = view.select(checks).row(0, named=True) if checks else {}
            again = [c for c in todo if found[c.name]]
            for c in todo:
                if c not in again:
                    typed[c.name] = part.get_column(c.name)
                    if found.get(f"__bad_{c.name}"):
                        bad[c.name] = pl.Series(bad_of[c.name], dtype=pl.String)
            if not again:
                break
            assert _round == 0, "every spelling of the batch was learnt"
            values = view.select(
                pl.col(f"__raw_{c.name}").filter(self.unread(c)).unique().implode() for c in again
            ).row(0)
            self.learn(dict(zip(again, values)))
            todo = [c for c in again if c.name not in self.wide]
        wide = [c for c in coded if c.name not in typed]
        if wide:
            self._read_alone(frame, wide, typed, bad)
        return pl.DataFrame([typed[c.name] for c in coded]), bad

    def _read_small(
        self, frame: pl.DataFrame, coded: list[DictionaryColumn]
    ) -> tuple[pl.DataFrame, dict[str, pl.Series]]:
        """`read` for a batch of few rows: the same tables, looked up cell by cell in
        Python. Each Polars expression has a fixed cost of tens of microseconds, so for a
        few rows the look-ups are cheaper than the sixty-odd column expressions."""
        cells = {
            c.name: frame.get_column(c.name).to_list() for c in coded if c.name not in self.wide
        }
        new: dict[DictionaryColumn, list[str | None]] = {}
        for c in coded:
            if c.name not in cells:
                continue
            distinct = list(dict.fromkeys(cells[c.name]))
            if c.name not in self.seen:  # met first: its distinct values, the null too
                new[c] = distinct
            else:  # spellings not met before (learnt as `read` learns them)
                known = set(self.seen[c.name])
                unseen = [v for v in distinct if v is not None and v not in known]
                if unseen:
                    new[c] = unseen
        if new:
            self.learn(new)
        typed: dict[str, pl.Series] = {}
        bad: dict[str, pl.Series] = {}
        for c in coded:
            if c.name in self.wide:
                continue
            r = self.reader(c)
            table = self.tables[r.name]
            values = cells[c.name]
            typed[c.name] = pl.Series(
                c.name,
                [None if v is None else table[v][0] for v in values],
                dtype=self.dtypes[r.name],
            )
            unreadable = self.bad_spellings(c)
            if unreadable and not set(unreadable).isdisjoint(values):
                bad[c.name] = pl.Series(unreadable, dtype=pl.String)
        wide = [c for c in coded if c.name not in typed]
        if wide:
            self._read_alone(frame, wide, typed, bad)
        return pl.DataFrame([typed[c.name] for c in coded]), bad

    def _read_alone(
        self,
        frame: pl.DataFrame,
        cols: list[DictionaryColumn],
        typed: dict[str, pl.Series],
        bad: dict[str, pl.Series],
    ) -> None:
        """Columns of too many spellings, through tables of this batch's values only."""
        values = frame.select(pl.col(c.name).unique().implode() for c in cols).row(0)
        spellings = [tuple(sorted(v for v in vals if v is not None)) for vals in values]
        tables = pl.collect_all(
            [_parse_table(self.reader(c), vs) for c, vs in zip(cols, spellings)],
            engine="in-memory",  # small tables: the streaming engine's start-up dominates
        )
        for c, table in zip(cols, tables):
            # Row 0 of each table is the null blank cells map to (see _parse_table).
            raw, parsed = table.get_column("raw").slice(1), table.get_column("parsed").slice(1)
            typed[c.name] = frame.select(
                pl.col(c.name).replace_strict(raw, parsed, default=None, return_dtype=parsed.dtype)
            ).to_series()
            unreadable = raw.filter(~table.get_column("ok").slice(1))
            if unreadable.len():
                bad[c.name] = unreadable

    def learn(self, values: dict[DictionaryColumn, list[str | None]]) -> None:
        """Parse the spellings not met before (one table per reader, one collect_all)."""
        new: dict[str, tuple[DictionaryColumn, set[str]]] = {}
        for c, vals in values.items():
            r = self.reader(c)
            spellings = self.tables.setdefault(r.name, {})
            seen = self.seen.setdefault(c.name, [])
            known = set(seen)
            if len(known | set(vals)) > LEARN_MAX + 1:  # (+ 1: the null)
                self.wide.add(c.name)
                del self.seen[c.name]
                continue
            for v in vals:
                if v is None or v in known:
                    continue
                seen.append(v)
                known.add(v)
                if v not in spellings:
                    new.setdefault(r.name, (r, set()))[1].add(v)
            if r.name not in self.dtypes:
                new.setdefault(r.name, (r, set()))
        if not new:
            return
        todo: list[tuple[DictionaryColumn, tuple[str, ...]]] = []
        for r, vs in new.values():
            key = self._memo_key(r)
            memo = _SPELLINGS.get(key, {}) if key else {}
            self.tables[r.name].update((v, memo[v]) for v in vs if v in memo)
            unknown = tuple(sorted(v for v in vs if v not in memo))
            if key in _DTYPES:
                self.dtypes[r.name] = _DTYPES[key]
            if unknown or r.name not in self.dtypes:
                todo.append((r, unknown))
        # Small tables: the streaming engine's start-up would cost more than the parsing.
        tables = pl.collect_all([_parse_table(r, vs) for r, vs in todo], engine="in-memory")
        for (r, _vs), got in zip(todo, tables):
            self.dtypes[r.name] = got.schema["parsed"]
            # Row 0 of each table is the null blank cells map to (see _parse_table).
            cols = (got.get_column(k).slice(1).to_list() for k in ("raw", "parsed", "ok"))
            parsed = {raw: (p, ok) for raw, p, ok in zip(*cols)}
            self.tables[r.name].update(parsed)
            key = self._memo_key(r)
            if key:
                _DTYPES[key] = self.dtypes[r.name]
                memo = _SPELLINGS.setdefault(key, {})
                if len(memo) + len(parsed) <= _CACHE_SPELLINGS:
                    memo.update(parsed)

    def _memo_key(self, r: DictionaryColumn) -> tuple[str, str] | None:
        """Where reader `r`'s spellings are kept across files (None: not kept; a framework
        made in code has no content hash to key them on)."""
        if r is _YES_NO:
            return ("", r.name)
        return (self.fw.content_hash, r.name) if self.fw.content_hash else None

    def reading(self, c: DictionaryColumn) -> _Reading:
        """How column `c` is read through the spellings met so far. Built once per
        framework, column and spellings, and reused by every batch and every file that
        meets the same ones: building the expressions of some sixty columns costs more
        than running them on a small file."""
        seen = tuple(self.seen[c.name])
        key = (self.fw.content_hash, c.name, seen) if self.fw.content_hash else None
        got = _READINGS.get(key) if key is not None else None
        if got is not None:
            return got
        bad = self.bad_spellings(c)
        got = _Reading(
            self.expr(c),
            self.unread(c).sum().alias(c.name),
            bad,
            pl.col(f"__raw_{c.name}").is_in(bad).any().alias(f"__bad_{c.name}") if bad else None,
        )
        if key is not None and sum(map(len, seen)) <= _CACHE_CHARS:
            if len(_READINGS) >= _CACHE_READINGS:
                _READINGS.pop(next(iter(_READINGS)))
            _READINGS[key] = got
        return got

    def expr(self, c: DictionaryColumn) -> pl.Expr:
        """Column `c` parsed through the spellings met so far (others: null)."""
        r = self.reader(c)
        table, dtype = self.tables[r.name], self.dtypes[r.name]
        hits = [(v, table[v][0]) for v in self.seen[c.name] if table[v][0] is not None]
        e = pl.col(c.name)
        if not hits:
            return pl.repeat(None, pl.len(), dtype=dtype).alias(c.name)
        if len(hits) <= CHAIN_MAX:
            chain: Any = pl
            for v, p in hits:
                chain = chain.when(e == v).then(pl.lit(p, dtype))
            return cast(pl.Expr, chain).alias(c.name)
        old = pl.Series([v for v, _ in hits], dtype=pl.String)
        return e.replace_strict(
            old, pl.Series([p for _, p in hits], dtype=dtype), default=None, return_dtype=dtype
        ).alias(c.name)

    def unread(self, c: DictionaryColumn) -> pl.Expr:
        """Over `__raw_NAME` and the parsed `NAME`: cells of a spelling not met before."""
        table = self.tables[self.reader(c).name]
        nulls = [v for v in self.seen[c.name] if table[v][0] is None]
        raw = pl.col(f"__raw_{c.name}")
        mask = raw.is_not_null() & pl.col(c.name).is_null()
        if not nulls:
            return mask
        if len(nulls) <= CHAIN_MAX:
            for v in nulls:
                mask = mask & (raw != v)
            return mask
        return mask & ~raw.is_in(nulls)

    def bad_spellings(self, c: DictionaryColumn) -> list[str]:
        table = self.tables[self.reader(c).name]
        return [v for v in self.seen[c.name] if not table[v][1]]


def _check_duplicates(ids: pl.DataFrame, out: _Collector) -> None:
    """Case ids that repeat within the file (over all its batches). Their 64-bit hashes
    are sorted and neighbours compared first (a fifth of the cost of hashing ten million
    texts into a table); only ids whose hash repeats are compared as text."""
    hashes = ids.get_column("case_id").hash(_SEED)
    ordered = hashes.sort()
    twice = ordered.filter(ordered == ordered.shift(1)).unique()
    if twice.len() == 0:
        return
    dup = (
        ids.filter(hashes.is_in(twice.implode()))
        .select(ROW, pl.col("case_id").alias("value"))
        .filter(pl.col("value").is_not_null() & pl.col("value").is_duplicated())
    )
    if dup.height:
        first = dup.group_by("value").agg(pl.col(ROW).min().alias("__first"))
        dup = dup.join(first, on="value").filter(pl.col(ROW) != pl.col("__first")).sort(ROW)
        out.rows(dup, "case_id", lambda r: f"duplicate case id (first at row {r['__first']})")


def _check_rows(
    parsed: pl.DataFrame,
    present: list[str],
    out: _Collector,
    missing: dict[str, tuple[str, int]],
    fw: Framework,
) -> None:
    """Rules across the columns of a row: the applicability rules, the cap per case, stored
    values a derived rule recomputes (qi-2016: OGRS score and band). `missing` counts, per
    absent judgement column, the cases where it applies."""
    # Every applicability rule and the cap as one count each, in one pass; only the rules
    # that fire are filtered for their rows.
    plan = _row_checks(fw, present)
    counts = parsed.select(plan.counts).row(0) if plan.counts else ()
    for r, n in zip(plan.rules, counts):
        if not n:
            continue
        if r.severity == "missing":
            missing[r.column] = (r.message, missing.get(r.column, ("", 0))[1] + n)
            continue
        hits = parsed.filter(r.mask).select(
            ROW,
            pl.col(r.column)
            .replace_strict([True, False], list(YES_NO), return_dtype=pl.String)
            .alias("value"),
        )
        out.rows(hits, r.column, r.message, severity=r.severity, show_value=r.show)

    if plan.per_case is not None and counts[-1]:
        gate = fw.gate
        assert gate is not None and gate.max_per_case is not None
        counted = parsed.select(ROW, plan.per_case.alias("value")).filter(
            pl.col("value") > gate.max_per_case
        )
        out.rows(
            counted,
            None,
            f"more than {gate.max_per_case} {fw.wording.area_noun_plural} are "
            f"{gate.noun_plural} (value shown: how many)",
        )

    for spec in fw.derived:
        if spec.replaces_stored:
            _check_recomputed(parsed, present, out, fw, spec)


@dataclass(frozen=True)
class _RowChecks:
    """The rules across a row's columns for one framework and set of columns present."""

    rules: list[_Rule]
    per_case: pl.Expr | None  # how many areas are gated in (the cap per case), if checked
    counts: list[pl.Expr]  # per rule: rows breaking it; then rows over the cap


_PLANS: dict[tuple, Any] = {}
_CACHE_PLANS = 256  # built expressions kept, per framework and columns (oldest dropped first)


def _cached(fw: Framework, what: str, key: tuple, build: Callable[[], Any]) -> Any:
    """`build()`, kept per framework content, `what` and `key`: expressions are built once
    for every batch and every file of the same framework and columns (building some
    hundred expressions costs more than running them on a small batch)."""
    if not fw.content_hash:  # a framework made in code: nothing to key it on
        return build()
    k = (fw.content_hash, what, key)
    got = _PLANS.get(k)
    if got is None:
        if len(_PLANS) >= _CACHE_PLANS:
            _PLANS.pop(next(iter(_PLANS)))
        got = _PLANS[k] = build()
    return got


def _row_checks(fw: Framework, present: list[str]) -> _RowChecks:
    def build() -> _RowChecks:
        rules = _applicability_rules(fw, present)
        counts = [r.mask.sum().alias(str(i)) for i, r in enumerate(rules)]
        gate = fw.gate
        per_case = None
        if gate is not None and gate.max_per_case is not None:
            have = [fw.gate_column(a) for a in fw.areas if fw.gate_column(a) in present]
            if have:
                per_case = pl.sum_horizontal([pl.col(c).cast(pl.Int8) for c in have])
                counts.append((per_case > gate.max_per_case).sum().alias("__per_case"))
        return _RowChecks(rules, per_case, counts)

    return _cached(fw, "rows", tuple(present), build)


@dataclass(frozen=True)
class _Rule:
    column: str
    mask: pl.Expr  # rows where the rule is broken
    message: str  # "missing": a template with {n}, the cases where the column applies
    severity: str  # error | warning | missing (the column is absent where it applies)
    show: bool  # quote the value


def _applicability_rules(fw: Framework, present: list[str]) -> list[_Rule]:
    """Each judgement's `applies` rule as masks over the parsed frame:
    - a value where the area's gate is no: an error (the judgement was not asked);
    - a blank where it applies, unless blanks are ordinary there (a party's involvement, or
      "may not apply"): a warning (not recorded); a missing column: one warning."""
    gate = fw.gate
    rules: list[_Rule] = []
    for a in fw.areas:
        gcol = fw.gate_column(a) if gate is not None else None
        if gcol is not None and gcol not in present:
            continue  # a required gate column missing is reported already
        g = pl.col(gcol) if gcol is not None else None
        for m in fw.measures:
            jcol = fw.judgement_column(a, m)
            gated = m.applies.gate and g is not None
            if gated and jcol in present:
                assert gate is not None and g is not None
                rules.append(
                    _Rule(
                        jcol,
                        (g == False) & pl.col(jcol).is_not_null(),  # noqa: E712
                        f"a judgement is recorded but {a.label.lower()} is not a {gate.noun} "
                        f"for this case ({gcol} is no); leave it blank",
                        "error",
                        True,
                    )
                )
            if m.applies.blank_expected:
                continue
            rules.extend(_blank_rules(jcol, g if gated else None, present, a, m, fw))
    for q in fw.questions:
        if not q.applies.blank_expected:
            rules.extend(_blank_rules(q.column, None, present, None, None, fw))
    return rules


def _blank_rules(
    column: str,
    gate: pl.Expr | None,
    present: list[str],
    area: Area | None,
    measure: Measure | None,
    fw: Framework,
) -> list[_Rule]:
    """A judgement that applies (gate yes, or always) but is blank: not recorded."""
    applies = gate == True if gate is not None else pl.lit(True)  # noqa: E712
    if gate is not None and area is not None and fw.gate is not None:
        why = f"{area.label.lower()} is a {fw.gate.noun}"
        where = f"{area.label.lower()} is a {fw.gate.noun} in {{n}} cases"
    else:
        why = "it applies to every case"
        where = "it applies to all {n} cases"
    if column in present:
        return [
            _Rule(
                column,
                applies & pl.col(column).is_null(),
                f"not recorded: {why} but this judgement is blank (or unknown)",
                "warning",
                False,
            )
        ]
    return [
        _Rule(
            column, applies, f"not recorded: the column is missing, and {where}", "missing", False
        )
    ]


def _check_recomputed(
    parsed: pl.DataFrame, present: list[str], out: _Collector, fw: Framework, spec: DerivedSpec
) -> None:
    """A stored column that a derived rule recomputes (qi-2016's ogrs_band from ogrs_score):
    where both are given and disagree, a warning (the rule's value will be used)."""
    rule = spec.rule
    if not isinstance(rule, (CutRule, GroupRule)):
        return
    source = rule.source
    if source not in present or spec.name not in present:
        return
    disagree, shown = _cached(fw, "recomputed", (spec.name,), lambda: _recomputed(fw, spec, rule))
    # The rule is applied to the distinct (value, stored) pairs, a few hundred, not to
    # every row; the rows are looked for only when some pair disagrees.
    if parsed.select(source, spec.name).unique().filter(disagree).height == 0:
        return
    hits = parsed.filter(disagree).select(shown)
    out.rows(
        hits,
        spec.name,
        lambda r: (
            f"{source} and {spec.name} disagree (the {_short(source)} gives "
            f"{r['__implied']}); the {_short(spec.name)} will be taken from the {_short(source)}"
        ),
        severity="warning",
        kind=f"recomputed:{spec.name}",
    )


def _recomputed(
    fw: Framework, spec: DerivedSpec, rule: CutRule | GroupRule
) -> tuple[pl.Expr, list[pl.Expr]]:
    """For `_check_recomputed`: where the stored column and its rule disagree, and what a
    message shows of such a row (its row, the value pair and the rule's value)."""
    source = rule.source
    src_col = fw.column_by_name[source]
    value, stored = pl.col(source), pl.col(spec.name)
    readable = value.is_not_null()
    if src_col.dtype.is_integer():
        if src_col.minimum is not None:
            readable = readable & (value >= src_col.minimum)
        if src_col.maximum is not None:
            readable = readable & (value <= src_col.maximum)
        value = value.cast(src_col.dtype, strict=False)
    implied = derive.rule_expr(rule, spec.levels, spec.dtype, value)
    disagree = (
        readable
        & stored.is_not_null()
        & implied.is_not_null()
        & (implied.cast(pl.String) != stored.cast(pl.String))
    )
    shown = [
        pl.col(ROW),
        pl.format(
            "{} {} but {} {}",
            pl.lit(_short(source)),
            pl.col(source),
            pl.lit(_short(spec.name)),
            stored.cast(pl.String),
        ).alias("value"),
        implied.cast(pl.String).alias("__implied"),
    ]
    return disagree, shown


def _short(column: str) -> str:
    """The last word of a column name, for messages ("ogrs_score" -> "score")."""
    return column.rsplit("_", 1)[-1]
