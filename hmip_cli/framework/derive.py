"""Derived columns as Polars expressions, from a framework's `[[derived]]` rules.

`with_derived(fw, cases)` is the framework counterpart of `schema.with_derived`: the same
columns, values and order for qi-2016 (a test checks it on edge values and synthetic data).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TypeVar

import polars as pl

from hmip_cli.framework.model import (
    CountRule,
    CutRule,
    DerivedSpec,
    Framework,
    GroupRule,
    YearRule,
)


def cut_expr(
    rule: CutRule, levels: tuple[str, ...], dtype: pl.DataType, value: pl.Expr | None = None
) -> pl.Expr:
    """level i where lower[i] <= value < lower[i + 1]; below lower[0] or null: null.

    `value` defaults to the rule's source column (ingest passes a parsed expression)."""
    x = pl.col(rule.source) if value is None else value
    expr: pl.Expr = pl.lit(None, pl.String)
    # Nested from the lowest band out, so the highest band is tested first and each test
    # needs only its lower bound.
    for bound, level in zip(rule.lower, levels):
        cond = x.is_not_null() if math.isinf(bound) and bound < 0 else x >= bound
        expr = pl.when(cond).then(pl.lit(level)).otherwise(expr)
    return expr.cast(dtype)


def group_expr(rule: GroupRule, dtype: pl.DataType, value: pl.Expr | None = None) -> pl.Expr:
    """Each source level to its group; levels in no group and nulls: null."""
    x = pl.col(rule.source) if value is None else value
    expr: pl.Expr = pl.lit(None, pl.String)
    for code, members in reversed(rule.groups):
        expr = pl.when(x.is_in(list(members))).then(pl.lit(code)).otherwise(expr)
    return expr.cast(dtype)


def rule_expr(
    rule: CutRule | GroupRule, levels: tuple[str, ...], dtype: pl.DataType, value: pl.Expr
) -> pl.Expr:
    """A cut or group rule applied to `value` (ingest checks a stored band against it)."""
    if isinstance(rule, CutRule):
        return cut_expr(rule, levels, dtype, value)
    return group_expr(rule, dtype, value)


def derived_expr(fw: Framework, d: DerivedSpec, present: Collection[str] | None = None) -> pl.Expr:
    """The expression computing one derived column (named `d.name`). A year whose date
    column is not among the `present` columns (a regression's input file) is null."""
    rule = d.rule
    if isinstance(rule, CutRule):
        expr = cut_expr(rule, d.levels, d.dtype)
        if d.replaces_stored:
            # Where the rule gives a value it wins, so a stored band never disagrees.
            expr = pl.coalesce(expr, pl.col(d.name))
    elif isinstance(rule, GroupRule):
        expr = group_expr(rule, d.dtype)
        if d.replaces_stored:
            expr = pl.coalesce(expr, pl.col(d.name))
    elif isinstance(rule, CountRule):
        gates = [pl.col(fw.gate_column(a)).cast(d.dtype) for a in fw.areas]
        expr = pl.sum_horizontal(gates).cast(d.dtype)
    elif isinstance(rule, YearRule):
        if present is not None and rule.source not in present:
            expr = pl.lit(None, d.dtype)
        else:
            expr = pl.col(rule.source).dt.year().cast(d.dtype)
    return expr.alias(d.name)


Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def with_derived(fw: Framework, cases: Frame) -> Frame:
    """`cases` with every derived column added (or recomputed), in the framework's order.

    Rules that replace a stored column come first (later rules may read them); the
    others are appended after the stored columns.
    """
    present = cases.collect_schema().names()
    first = [derived_expr(fw, d, present) for d in fw.derived if d.replaces_stored]
    rest = [derived_expr(fw, d, present) for d in fw.derived if not d.replaces_stored]
    out = cases.with_columns(first) if first else cases
    # A derived column may read an earlier one: add them in dependency layers.
    names = {d.name for d in fw.derived if not d.replaces_stored}
    pending = [(d, e) for d, e in zip([d for d in fw.derived if not d.replaces_stored], rest)]
    done: set[str] = set()
    while pending:
        layer = [(d, e) for d, e in pending if _source(d) not in names - done]
        if not layer:  # cannot happen for a validated framework (sources come first)
            layer = pending
        out = out.with_columns([e for _, e in layer])
        done |= {d.name for d, _ in layer}
        pending = [(d, e) for d, e in pending if d.name not in done]
    return out


def _source(d: DerivedSpec) -> str | None:
    rule = d.rule
    return rule.source if isinstance(rule, (CutRule, GroupRule, YearRule)) else None
