"""SPSS `.sav`/`.zsav` and Stata `.dta` files for `hmip regress --input` (issue 11 item 7), read
with pyreadstat as `hmip ingest` reads them.

* **User-missing values** declared in a `.sav` (`MISSING VALUES`: up to three discrete codes,
  or a range `LO THRU HI` plus one code) are missing, as SPSS treats them; the file is read
  with the codes kept (`user_missing=True`) and the declared values set to null here, so the
  note can say how many values each column lost. System-missing values are null anyway.
  (Stata's extended missing values `.a`-`.z` are null, as pyreadstat reads them.)
* **Value labels** of the columns named in `labels` (the outcome and the categorical
  candidates) replace the codes: the column becomes an Enum of the labels **in code order**,
  so levels sort as SPSS sorts the codes and the default reference (last) is the highest
  code. A code without a label keeps its number as its name; two codes with the same label
  are told apart by the code ("Other (3)"). Other columns keep their codes (a labelled
  numeric covariate stays numeric).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import polars as pl


def read_labelled(
    path: Path, columns: Sequence[str] | None, labels: Sequence[str] | None
) -> tuple[pl.DataFrame, list[str], dict[str, dict[str, str]]]:
    """(frame, notes, codes) from a .sav/.zsav/.dta file (module docstring). `columns`: read
    only these when the file has them all (else everything, so a caller can list what there
    is). `codes`: per labelled column, each code as text ("2") -> the level it became."""
    from hmip_cli.statfiles import read_stat  # in a child: a damaged file can crash pyreadstat

    spss = path.suffix.lower() in (".sav", ".zsav")
    kind: Literal["sav", "dta"] = "sav" if spss else "dta"
    _, meta = read_stat(kind, str(path), metadataonly=True)
    names = list(meta.column_names)
    usecols = list(dict.fromkeys(columns)) if columns and set(columns) <= set(names) else None
    if spss:  # codes kept, so the declared values can be counted (_user_missing)
        frame, meta = read_stat(kind, str(path), usecols=usecols, user_missing=True)
    else:
        frame, meta = read_stat(kind, str(path), usecols=usecols)
    notes: list[str] = []
    if spss:
        frame, lost = _user_missing(frame, meta.missing_ranges or {})
        if lost:
            notes.append(
                "user-missing values declared in the file are treated as missing: "
                + ", ".join(f"{c} {n:,}" for c, n in lost.items())
                + " value(s)"
            )
    frame, codes = _apply_labels(frame, meta.variable_value_labels or {}, labels or [])
    labelled = list(codes)
    if labelled:
        notes.append(
            f"value labels shown for {', '.join(labelled)}; levels are in code order, so the "
            "default reference (last) is the highest code, as in SPSS"
        )
    unlabelled = [
        c
        for c in (meta.variable_value_labels or {})
        if c in frame.columns and c not in labelled and frame.schema[c].is_numeric()
    ]
    if unlabelled:
        notes.append(
            f"{', '.join(unlabelled)} keep their numeric codes (value labels are applied to "
            "the outcome and the --categorical variables)"
        )
    return frame, notes, codes


def level_named(codes: Mapping[str, Mapping[str, str]], column: str, text: str) -> str:
    """The level `text` names in a labelled column: a label as it is; else a code ("2",
    "2.0") -> its label, as an SPSS user names a category by its value (--event 2,
    --reference sex=1). Anything else is returned unchanged (the caller's message lists the
    levels)."""
    mapping = codes.get(column)
    if not mapping or text in mapping.values():
        return text
    try:
        number = float(text)
    except ValueError:
        return mapping.get(text.strip(), text)
    return mapping.get(_code_text(number), mapping.get(text.strip(), text))


def _user_missing(
    frame: pl.DataFrame, ranges: Mapping[str, Sequence[Any]]
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Declared user-missing values -> null; returns the frame and the count per column."""
    exprs, lost = [], {}
    for col, spans in ranges.items():
        if col not in frame.columns or not spans:
            continue
        c = pl.col(col)
        hit = pl.lit(False)
        for span in spans:
            # a range {lo, hi} (a discrete code has lo == hi), or a bare value
            lo, hi = (span["lo"], span["hi"]) if isinstance(span, dict) else (span, span)
            if isinstance(lo, str) or isinstance(hi, str):  # string variables: discrete values
                hit = hit | (c == lo) | (c == hi)
            else:
                lo_ok = pl.lit(True) if math.isinf(lo) else c >= lo
                hi_ok = pl.lit(True) if math.isinf(hi) else c <= hi
                hit = hit | (lo_ok & hi_ok)
        n = int(frame.select(hit.fill_null(False).sum()).item())
        if n:
            lost[col] = n
            exprs.append(pl.when(hit.fill_null(False)).then(None).otherwise(c).alias(col))
    return (frame.with_columns(exprs) if exprs else frame), lost


def _apply_labels(
    frame: pl.DataFrame, value_labels: dict[str, dict], columns: Sequence[str]
) -> tuple[pl.DataFrame, dict[str, dict[str, str]]]:
    """Codes -> labels (an Enum in code order) for the named columns that have labels.
    Returns the frame and, per column relabelled, code text -> label."""
    done: dict[str, dict[str, str]] = {}
    for col in dict.fromkeys(columns):
        labels = value_labels.get(col)
        if not labels or col not in frame.columns:
            continue
        s = frame.get_column(col)
        present = s.drop_nulls().unique().to_list()
        codes = sorted(set(present) | set(labels), key=_code_key)
        names = [_name(code, labels) for code in codes]
        seen: dict[str, int] = {}
        for n in names:
            seen[n] = seen.get(n, 0) + 1
        names = [f"{n} ({_code_text(c)})" if seen[n] > 1 else n for n, c in zip(names, codes)]
        frame = frame.with_columns(
            s.replace_strict(codes, names, default=None, return_dtype=pl.Enum(names)).alias(col)
        )
        done[col] = {_code_text(c): n for c, n in zip(codes, names, strict=True)}
    return frame, done


def _code_key(code: object) -> tuple[int, float | str]:
    return (0, float(code)) if isinstance(code, int | float) else (1, str(code))


def _code_text(code: object) -> str:
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


def _name(code: object, labels: dict) -> str:
    label = labels.get(code)
    text = str(label).strip() if label is not None else ""
    return text or _code_text(code)
