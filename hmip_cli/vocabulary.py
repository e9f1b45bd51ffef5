"""One vocabulary for breakdowns in every command's output (issue 14, item 1).

Store models are fitted on the derived case columns (`ethnic_group`, `ogrs_group`, ...),
which is what the stepwise result names its terms by. People read the breakdown's label
and its levels' labels, as `hmip rates` prints them ("Ethnic group", "White"); machine
formats carry the breakdown key that every command accepts (`ethnicity`, as in `rates
--by ethnicity` and its `breakdown` column) and the level codes (`white`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import polars as pl

from hmip_cli import framework
from hmip_cli.framework.model import Framework

_PARAMETER = re.compile(r"(.+)\((.*)\)")


class Vocabulary:
    """Names for a store model's terms, levels and parameters: `human` labels or keys."""

    def __init__(self, human: bool, fw: Framework | None = None) -> None:
        self.human = human
        fw = framework.default() if fw is None else fw  # the store's framework
        self._by_column = {b.column: b for b in fw.all_breakdowns()}

    def term(self, name: str | None) -> str | None:
        b = self._by_column.get(name or "")
        if b is None:
            return name
        return b.label if self.human else b.key

    def level(self, term: str | None, code: str | None) -> str | None:
        """A level for people (its label) or machines (its code). The sweep's findings
        hold labels (the report's sentences are built from them): machines get the code."""
        b = self._by_column.get(term or "")
        if b is None or code is None or code == "(reference)":
            return code
        if self.human:
            return b.label_of(code)
        if code not in b.levels and code in b.labels:
            return b.levels[b.labels.index(code)]
        return code

    def parameter(self, name: str | None) -> str | None:
        if name is None or name in self._by_column:
            return self.term(name)
        m = _PARAMETER.fullmatch(name)
        if m is None or m.group(1) not in self._by_column:
            return name
        term, level = m.group(1), m.group(2)
        if self.human:
            return f"{self.term(term)} ({self.level(term, level)})"
        return f"{self.term(term)}({level})"

    def terms(self, text: str | None) -> str | None:
        if not text:
            return text
        return ", ".join(str(self.term(t)) for t in text.split(", "))

    # ---- whole frames and JSON payloads ------------------------------------------------

    def frame(self, frame: pl.DataFrame) -> pl.DataFrame:
        """`frame` with its term, parameter, level and terms columns renamed."""
        named: dict[str, Callable[[Any], Any]] = {
            "variable": self.term,
            "term": self.term,
            "parameter": self.parameter,
            "terms": self.terms,
            "entered": self.terms,
        }
        present = [c for c in (*named, "level", "reference") if c in frame.columns]
        if not present or frame.height == 0:
            return frame
        term_col = "variable" if "variable" in frame.columns else "term"
        rows = frame.to_dicts()
        for row in rows:
            owner = row.get(term_col)
            for c in ("level", "reference"):
                if c in row and isinstance(row[c], str):
                    row[c] = self.level(owner, row[c])
            for c, fn in named.items():
                if c in row and isinstance(row[c], str):
                    row[c] = fn(row[c])
        return pl.DataFrame(rows, schema=frame.schema)

    def payload(self, value: Any) -> Any:
        """A JSON payload with every term name and parameter renamed (machine vocabulary)."""
        if isinstance(value, dict):
            return {k: self.payload(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.payload(v) for v in value]
        if isinstance(value, str):
            return self.message(str(self.parameter(value)))
        return value

    def message(self, text: str) -> str:
        """A problem message with quoted column names ('ethnic_group') renamed."""
        for column in self._by_column:
            text = text.replace(f"'{column}'", f"'{self.term(column)}'")
        return text
