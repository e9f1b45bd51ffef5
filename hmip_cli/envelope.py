"""The one JSON document every command writes (issue 14, item 7), described by
docs/output.schema.json:

    {"hmip_version", "command", "parameters",
     "tables": [{"name", "title", "columns": [{"name", "type", "label"}], "rows": [{...}]}],
     "notes", "provenance"}

plus `"models"` (regress: one object per fitted model, every step and coefficient). A
table's `name` is a stable snake_case key (also the file name of `-o DIR/`); its rows are
objects keyed by the column names, at full precision, NaN and infinity as null.

The CLI says which command is running and with what (`set_invocation`) and where the data
came from (`note_provenance`); library callers get `"command": null` and empty parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import polars as pl

from hmip_cli import __version__
from hmip_cli.jsonsafe import json_safe

if TYPE_CHECKING:
    from hmip_cli.render import Table

SCHEMA_FILE = "docs/output.schema.json"
NAME_LENGTH = 80  # table names are file names too (-o DIR/): keep them short enough


@dataclass
class Invocation:
    command: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    # key -> value, or a callable computed only when JSON is written (store hashes)
    provenance: dict[str, Any] = field(default_factory=dict)


_INVOCATION: ContextVar[Invocation | None] = ContextVar("hmip_invocation", default=None)


def set_invocation(command: str | None, parameters: dict[str, Any]) -> None:
    """The command now running (`rates`, `framework show`) and its parameters; forgets the
    provenance of the previous command (tests run many in one process)."""
    _INVOCATION.set(Invocation(command, {k: plain(v) for k, v in parameters.items()}))


def clear_invocation() -> None:
    _INVOCATION.set(None)


def note_provenance(key: str, value: Any | Callable[[], Any]) -> None:
    """Say where this output's data came from (`store`, `input`); a callable is called
    only if JSON is written."""
    inv = _INVOCATION.get()
    if inv is None:
        inv = Invocation()
        _INVOCATION.set(inv)
    inv.provenance[key] = value


def plain(value: Any) -> Any:
    """A parameter value as JSON: enums by value, paths as text, tuples as lists."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def slug(title: str) -> str:
    """A snake_case key from a title: "Cases per inspection and provider" ->
    "cases_per_inspection_and_provider"."""
    text = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
    return text[:NAME_LENGTH].rstrip("_") or "table"


def table_names(tables: list[Table]) -> list[str]:
    """Each table's `name` (or the slug of its title), made unique within one output by
    `_2`, `_3`, ... suffixes in order."""
    names: list[str] = []
    seen: set[str] = set()
    for t in tables:
        base = t.name or slug(t.title)
        name, i = base, 1
        while name in seen:
            i += 1
            name = f"{base}_{i}"
        seen.add(name)
        names.append(name)
    return names


def column_type(dtype: pl.DataType) -> str:
    """The JSON type of a column's values (null aside): integer, number, boolean, string,
    date (ISO text), datetime (ISO text), or list."""
    if dtype.is_integer():
        return "integer"
    if dtype.is_float() or dtype.is_decimal():
        return "number"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype == pl.Date:
        return "date"
    if dtype.is_temporal():
        return "datetime"
    if isinstance(dtype, pl.List | pl.Array):
        return "list"
    return "string"


def table_object(t: Table, name: str) -> dict[str, Any]:
    frame = t.frame
    return {
        "name": name,
        "title": t.title,
        "columns": [_column(t, c) for c in frame.columns],
        "rows": json_safe(frame.to_dicts()),
    }


def _column(t: Table, c: str) -> dict[str, str]:
    # `label`: the header people see, where the human table renames the column ("Exp(B)")
    out = {"name": c, "type": column_type(t.frame.schema[c])}
    if c in t.display and t.display[c] != c:
        out["label"] = t.display[c]
    return out


def document(tables: list[Table], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON document for `tables` (and `extra` keys such as regress's `models`).

    notes: every table's notes, each once, in order (as the human table shows them)."""
    from hmip_cli.render import data_synthetic

    inv = _INVOCATION.get() or Invocation()
    notes: list[str] = []
    for t in tables:  # the legend ("[b] break in series") first, as people see it
        for n in [*t.legend, *t.notes]:
            if n not in notes:
                notes.append(n)
    provenance = {k: (v() if callable(v) else v) for k, v in inv.provenance.items()}
    provenance["synthetic"] = data_synthetic()
    return {
        "hmip_version": __version__,
        "command": inv.command,
        "parameters": json_safe(inv.parameters),
        "tables": [table_object(t, n) for t, n in zip(tables, table_names(tables))],
        "notes": notes,
        "provenance": json_safe(provenance),
        **json_safe(extra or {}),
    }


def store_provenance(data: Any) -> Callable[[], dict[str, Any]]:
    """Provenance of a store, read (from the Parquet footer) only when JSON is written:
    the content hash and case count that `hmip info` shows, and the files' names."""

    def read() -> dict[str, Any]:
        from hmip_cli import store

        si = store.store_info(data)
        return {
            "content_hash": si.content_hash,
            "n_cases": si.n_cases,
            "files": [f["source"] for f in si.files],
        }

    return read
