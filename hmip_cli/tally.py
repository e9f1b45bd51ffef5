"""Cases collapsed onto the distinct patterns of a few columns, with counts.

A report's rates, tables, sample profile and stepwise models all count cases: how many
there are, how many have a judgement recorded, how many said yes, within groups of a few
categorical columns. Every one of those counts is a sum over cases, so it is also a sum
over the patterns of those columns of the per-pattern counts. `tally(cases, keys,
counted)` computes the per-pattern counts in one scan (one `group_by`), and each analysis
then sums them (`Agg.over_tally`) instead of scanning the cases again (issue 13: a report
on 10M cases). The integers are the same either way (tests/test_tally.py).

The frame of a `Tally`: the `keys` columns, CASES (cases of the pattern), and for each
counted yes/no column `c` its recorded count (`recorded(c)`) and yes count (`yes(c)`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

CASES = "__cases"
_SEP = "\x1f"


def recorded(column: str) -> str:
    """The tally column of `column`'s recorded (non-null) count."""
    return f"{column}{_SEP}n"


def yes(column: str) -> str:
    """The tally column of `column`'s yes (true) count."""
    return f"{column}{_SEP}yes"


@dataclass(frozen=True)
class Tally:
    frame: pl.DataFrame
    keys: tuple[str, ...]
    counted: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        """The case columns it can answer for (keys, then counted)."""
        return [*self.keys, *self.counted]

    @property
    def n_cases(self) -> int:
        return int(self.frame[CASES].sum())


def tally(cases: pl.DataFrame | pl.LazyFrame, keys: Iterable[str], counted: Iterable[str]) -> Tally:
    """`cases` collapsed onto the distinct patterns of `keys` (nulls are a value, so every
    case is in one pattern), with the counts of every yes/no column of `counted`, in one
    scan. A column in both is a key only."""
    keys = tuple(dict.fromkeys(keys))
    counted = tuple(c for c in dict.fromkeys(counted) if c not in keys)
    aggs = [pl.len().cast(pl.Int64).alias(CASES)]
    for c in counted:
        aggs.append(pl.col(c).count().cast(pl.Int64).alias(recorded(c)))
        aggs.append(pl.col(c).sum().cast(pl.Int64).alias(yes(c)))
    lf = cases.lazy()
    frame = (lf.group_by(keys).agg(aggs) if keys else lf.select(aggs)).collect()
    return Tally(frame, keys, counted)


@dataclass(frozen=True)
class Agg:
    """One count over cases: "cases" (how many), "recorded" (`column` not null) or "yes"
    (`column`, or the condition `when` on key columns, is true). `over_rows` sums it over
    the cases, `over_tally` over a tally's patterns: the same number."""

    alias: str
    kind: str
    column: str = ""
    when: pl.Expr | None = None

    def over_rows(self) -> pl.Expr:
        if self.kind == "cases":
            out = pl.len()
        elif self.when is not None:
            out = self.when.sum()
        elif self.kind == "recorded":
            out = pl.col(self.column).count()
        else:
            out = pl.col(self.column).sum()
        return out.alias(self.alias)

    def over_tally(self, t: Tally) -> pl.Expr:
        cases = pl.col(CASES)
        if self.kind == "cases":
            out = cases.sum()
        elif self.when is not None:
            out = cases.filter(self.when).sum()  # a null condition counts no case, as on rows
        elif self.column in t.counted:
            name = recorded(self.column) if self.kind == "recorded" else yes(self.column)
            out = pl.col(name).sum()
        elif self.column in t.keys:
            col = pl.col(self.column)
            out = cases.filter(col.is_not_null() if self.kind == "recorded" else col).sum()
        else:
            raise KeyError(f"the tally does not count {self.column!r}")
        return out.alias(self.alias)


def cases_agg(alias: str) -> Agg:
    return Agg(alias, "cases")


def recorded_agg(alias: str, column: str) -> Agg:
    return Agg(alias, "recorded", column)


def yes_agg(alias: str, column: str = "", when: pl.Expr | None = None) -> Agg:
    return Agg(alias, "yes", column, when)


def sum_by(
    source: pl.DataFrame | pl.LazyFrame | Tally, keys: Sequence[str], aggs: Sequence[Agg]
) -> pl.DataFrame:
    """Each of `aggs` per group of `keys` (no keys: one row), over the cases `source`: case
    rows, or a tally of them whose keys include `keys`."""
    keys = list(dict.fromkeys(keys))
    if isinstance(source, Tally):
        missing = [k for k in keys if k not in source.keys]
        if missing:
            raise KeyError(f"the tally is not by {', '.join(missing)}")
        lf = source.frame.lazy()
        exprs = [a.over_tally(source) for a in aggs]
    else:
        lf = source.lazy()
        exprs = [a.over_rows() for a in aggs]
    return (lf.group_by(keys).agg(exprs) if keys else lf.select(exprs)).collect()
