"""The cell values that mean "no value here": one definition for every reader of case
files (`hmip ingest`, `hmip regress --input`).

A cell is missing when, trimmed and in any case, it is one of `MISSING`:
- blank-likes: blank, NA (R), N/A and #N/A (Excel), NaN (Python, R), "." (SAS, SPSS);
- "not applicable";
- not recorded: "unknown", "not known", "not recorded", "don't know" (also with a
  typographic apostrophe, as Word and Excel autocorrect it, or none).

In a yes/no column, missing is never "no": a judgement is then not applicable (or, where it
should have been made, not recorded: ingest warns). In a category, number or date column
it is unknown (the "Not recorded" group of a breakdown). A required column must not be
missing. Free-text columns (inspection names, case ids, notes) are kept as written, except
that blank is blank.
"""

from __future__ import annotations

import polars as pl

BLANK_LIKE = ("", "na", "n/a", "#n/a", "nan", ".")
NOT_APPLICABLE = ("not applicable",)
NOT_RECORDED = (
    "unknown",
    "not known",
    "not recorded",
    "don't know",
    "don\u2019t know",
    "dont know",
)
MISSING: tuple[str, ...] = BLANK_LIKE + NOT_APPLICABLE + NOT_RECORDED

# For messages and help.
DESCRIPTION = (
    "blank, NA, N/A, #N/A, NaN, '.', not applicable, Unknown, Not known, Not recorded, "
    "Don't know (any case)"
)

# Exact spellings for a CSV reader's null list (a fast path: other cases and spacing are
# caught by `is_missing_expr` afterwards).
CSV_NULLS: tuple[str, ...] = ("", "NA", "N/A", "#N/A", "NaN", "nan", ".")


def normalise(text: str) -> str:
    """How a cell is compared with `MISSING`: trimmed, lower case."""
    return text.strip().lower()


def is_missing(text: str | None) -> bool:
    return text is None or normalise(text) in MISSING


def is_missing_expr(e: pl.Expr) -> pl.Expr:
    """True where a text cell is one of `MISSING` (null stays null)."""
    return e.str.strip_chars().str.to_lowercase().is_in(list(MISSING))
