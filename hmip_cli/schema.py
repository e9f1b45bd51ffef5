"""The default framework's tables under their historical names (a facade, nothing more).

Every column, level, label, applicability rule, derived field, breakdown and candidate is
declared once, in the framework file (`hmip_cli/framework/data/qi-2016.toml`); this
module computes the names older code imports (`FACTORS`, `MEASURES`, `COLUMNS`,
`get_factor`, `with_derived`, ...) from `framework.load("qi-2016")`. Code that works for
any framework asks the store's framework instead (`store.load_framework(data)`); use this
module only where qi-2016 is meant.

One record is one inspected case. Judgements are stored as nullable booleans:
True = yes, False = no, null = not applicable (the question was not asked).
"""

from __future__ import annotations

from typing import overload

import polars as pl

from hmip_cli import framework as _framework
from hmip_cli.framework import derive as _derive
from hmip_cli.framework.model import YES_NO, Breakdown, CutRule, Framework, Measure, Question
from hmip_cli.framework.model import Area as Factor
from hmip_cli.framework.model import DictionaryColumn as Column

__all__ = [
    "ATTRIBUTES",
    "BREAKDOWNS",
    "COLUMNS",
    "COLUMN_BY_NAME",
    "DEFAULT_BREAKDOWNS",
    "DERIVED",
    "DERIVED_BY_NAME",
    "FACTORS",
    "FRAMEWORK",
    "IDENTIFYING_COLUMNS",
    "MAX_PRIORITIES",
    "MEASURES",
    "QUESTIONS",
    "YES_NO",
    "Breakdown",
    "Column",
    "Factor",
    "Measure",
    "Question",
    "breakdown_for_column",
    "get_breakdown",
    "get_factor",
    "get_measure",
    "get_question",
    "judgement_column",
    "ogrs_band_expr",
    "priority_column",
    "stored_schema",
    "with_derived",
]

FRAMEWORK: Framework = _framework.load(_framework.DEFAULT)

# The judgement structure
FACTORS: tuple[Factor, ...] = FRAMEWORK.areas
MEASURES: tuple[Measure, ...] = FRAMEWORK.measures
QUESTIONS: tuple[Question, ...] = FRAMEWORK.questions


def _max_priorities(fw: Framework) -> int:
    assert fw.gate is not None and fw.gate.max_per_case is not None  # qi-2016 has both
    return fw.gate.max_per_case


MAX_PRIORITIES: int = _max_priorities(FRAMEWORK)

# Stored and derived columns
ATTRIBUTES: tuple[Column, ...] = FRAMEWORK.attribute_columns()
COLUMNS: tuple[Column, ...] = FRAMEWORK.stored_columns()
COLUMN_BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
IDENTIFYING_COLUMNS: tuple[str, ...] = FRAMEWORK.identifying_columns()
DERIVED: tuple[Column, ...] = FRAMEWORK.derived_columns()
DERIVED_BY_NAME: dict[str, Column] = {c.name: c for c in DERIVED}

# Breakdowns; the default ones are also the default regression candidates in qi-2016
BREAKDOWNS: tuple[Breakdown, ...] = FRAMEWORK.all_breakdowns()
DEFAULT_BREAKDOWNS: tuple[str, ...] = FRAMEWORK.default_breakdowns()


def priority_column(factor: Factor | str) -> str:
    return FRAMEWORK.gate_column(factor)


def judgement_column(factor: Factor | str, measure: Measure | str) -> str:
    return FRAMEWORK.judgement_column(factor, measure)


def stored_schema() -> pl.Schema:
    """The Polars schema of the stored case table (canonical columns, canonical order)."""
    return FRAMEWORK.stored_schema()


def ogrs_band_expr(score: pl.Expr) -> pl.Expr:
    """A score expression to its band, by the framework's stored-band rule (the derived
    column that replaces a stored one)."""
    spec = next(d for d in FRAMEWORK.derived if d.replaces_stored)
    assert isinstance(spec.rule, CutRule)
    return _derive.cut_expr(spec.rule, spec.levels, spec.dtype, score)


@overload
def with_derived(cases: pl.DataFrame) -> pl.DataFrame: ...
@overload
def with_derived(cases: pl.LazyFrame) -> pl.LazyFrame: ...
def with_derived(cases: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    """The cases with the framework's derived columns added (stored bands recomputed)."""
    if isinstance(cases, pl.LazyFrame):
        return _derive.with_derived(FRAMEWORK, cases)
    return _derive.with_derived(FRAMEWORK, cases)


def get_factor(key: str) -> Factor:
    return FRAMEWORK.area(key)


def get_measure(key: str) -> Measure:
    return FRAMEWORK.measure(key)


def get_question(key: str) -> Question:
    return FRAMEWORK.question(key)


def get_breakdown(key: str) -> Breakdown:
    return FRAMEWORK.breakdown(key)


def breakdown_for_column(column: str | None) -> Breakdown | None:
    """The breakdown whose groups a case-frame column holds (e.g. a stepwise term), or None."""
    return FRAMEWORK.breakdown_for_column(column)
