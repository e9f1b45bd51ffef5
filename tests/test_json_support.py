"""Reading hmip's JSON document (docs/output.schema.json) in tests: every parse is also
checked against the schema, so any test that reads JSON checks the shape too."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "output.schema.json"


@functools.cache
def _validator():
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check(document: dict[str, Any]) -> dict[str, Any]:
    """`document`, after checking it against the schema and that each table's rows have
    exactly its columns, in order."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    for t in document["tables"]:
        names = [c["name"] for c in t["columns"]]
        assert all(list(r) == names for r in t["rows"]), t["name"]
    assert len({t["name"] for t in document["tables"]}) == len(document["tables"])
    return document


def doc(text: str | bytes, **loads) -> dict[str, Any]:
    """The parsed, checked document of a command's JSON output."""
    return check(json.loads(text, **loads))


def tables(text: str | dict) -> dict[str, list[dict]]:
    """{table name: rows}."""
    d = doc(text) if isinstance(text, str | bytes) else text
    return {t["name"]: t["rows"] for t in d["tables"]}


def by_title(text: str | dict) -> dict[str, list[dict]]:
    """{table title: rows}."""
    d = doc(text) if isinstance(text, str | bytes) else text
    return {t["title"]: t["rows"] for t in d["tables"]}


def rows(text: str | dict, name: str | None = None) -> list[dict]:
    """The rows of table `name`, or of the only table."""
    found = tables(text)
    if name is None:
        assert len(found) == 1, list(found)
        return next(iter(found.values()))
    return found[name]


def models(text: str | dict, **loads) -> list[dict]:
    """regress: one object per fitted model."""
    d = doc(text, **loads) if isinstance(text, str | bytes) else text
    return d["models"]


def model(text: str | dict, **loads) -> dict:
    """regress: the one fitted model."""
    (m,) = models(text, **loads)
    return m
