"""The analyst's mapping file (TOML): rename their columns, recode their answers,
fill values for the whole file. Documented in docs/mapping.md.

```toml
[file]
inspection = "Durham"
inspection_date = "2016-08-15"
sheet = "Cases"
encoding = "utf-8"
[columns]
"Case ref" = "case_id"
[values]
"*" = { "Y" = "yes", "N" = "no", "N/A" = "" }
provider = { "Community Rehabilitation Company" = "CRC" }
```
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from hmip_cli import schema
from hmip_cli.errors import BadInput, BadRequest
from hmip_cli.ingest.readers import ROW

FILE_KEYS = ("inspection", "inspection_date", "sheet", "encoding")
SECTIONS = ("file", "columns", "values")
ALL_YES_NO = "*"
IGNORE = ""  # [columns] "Officer" = "" leaves that column out


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping. `text` is the file's content, kept for provenance."""

    columns: dict[str, str] = field(default_factory=dict)  # their header -> our column
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # our column or "*" -> recodes
    file: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    text: str | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "text": self.text}


def load_mapping(path: str | Path) -> Mapping:
    """Parse and check a mapping file. Missing file: BadRequest; any mistake in it: BadInput."""
    p = Path(path)
    if not p.exists():
        raise BadRequest(f"{path}: no such mapping file")
    if p.is_dir():
        raise BadRequest(f"{path}: is a directory, not a mapping file")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{path}: the mapping file is not UTF-8 text") from None
    return parse_mapping(text, name=p.name, where=str(path))


def parse_mapping(text: str, name: str | None = None, where: str = "mapping") -> Mapping:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{where}: not valid TOML ({exc})") from None
    problems: list[str] = []
    for key in doc:
        if key not in SECTIONS:
            problems.append(
                f"unknown section [{key}] (known: {', '.join(f'[{s}]' for s in SECTIONS)})"
            )
    file_ = _table(doc, "file", problems)
    cols = _table(doc, "columns", problems)
    vals = _table(doc, "values", problems)

    file_out: dict[str, str] = {}
    for key, value in file_.items():
        if key not in FILE_KEYS:
            problems.append(f"[file]: unknown key {key!r} (known: {', '.join(FILE_KEYS)})")
        elif hasattr(value, "isoformat"):  # an unquoted TOML date: 2016-08-15
            file_out[key] = value.isoformat()
        elif not isinstance(value, str):
            problems.append(f"[file] {key}: expected text in quotes, got {value!r}")
        else:
            file_out[key] = value

    col_out: dict[str, str] = {}
    targets: dict[str, str] = {}
    for theirs, ours in cols.items():
        if not isinstance(ours, str):
            problems.append(
                f"[columns] {theirs!r}: expected a column name, got {type(ours).__name__}"
            )
        elif ours == IGNORE:
            col_out[theirs.strip()] = IGNORE
        elif ours not in schema.COLUMN_BY_NAME:
            problems.append(f"[columns] {theirs!r}: unknown column {ours!r} (see `hmip schema`)")
        elif ours in targets:
            problems.append(f"[columns]: {targets[ours]!r} and {theirs!r} both map to {ours!r}")
        else:
            targets[ours] = theirs
            col_out[theirs.strip()] = ours

    val_out: dict[str, dict[str, str]] = {}
    for ours, recode in vals.items():
        if ours != ALL_YES_NO and ours not in schema.COLUMN_BY_NAME:
            problems.append(
                f'[values]: unknown column {ours!r} (a column name, or "*" for every yes/no column)'
            )
            continue
        if not isinstance(recode, dict):
            problems.append(f'[values] {ours}: expected a table like {{ "Y" = "yes" }}')
            continue
        bad = [k for k, v in recode.items() if not isinstance(v, str)]
        if bad:
            problems.append(f"[values] {ours}: recoded values must be text (check {bad[0]!r})")
            continue
        val_out[ours] = {str(k): v for k, v in recode.items()}
    if problems:
        raise BadInput(f"{where}: " + "; ".join(problems))
    return Mapping(col_out, val_out, file_out, name, text)


def _table(doc: dict, key: str, problems: list[str]) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        problems.append(f"[{key}] must be a table")
        return {}
    return value


def normalise_header(h: str) -> str:
    """How a header is matched to a schema name: trimmed, lower case, spaces/hyphens as _."""
    return re.sub(r"[\s\-]+", "_", h.strip().lower())


def is_yes_no(column: str) -> bool:
    col = schema.COLUMN_BY_NAME.get(column)
    return col is not None and col.dtype == pl.Boolean


@dataclass
class Mapped:
    """A file after mapping: schema-named text columns (plus ROW) and what did not map."""

    frame: pl.DataFrame
    origin: dict[str, str]  # our column -> their header (or the option that filled it)
    unknown: list[str]  # headers that match no column
    ignored: list[str]  # headers deliberately left out (derived columns, mapped to "")
    clashes: list[
        tuple[str, str, str]
    ]  # (their header, our column, the header already mapped to it)


def apply_mapping(
    frame: pl.DataFrame,
    headers: list[str],
    mapping: Mapping | None,
    inspection: str | None = None,
    inspection_date: str | None = None,
) -> Mapped:
    """Rename columns to schema names, fill whole-file values, apply recodes."""
    mapping = mapping or Mapping()
    by_lower = {k.strip().lower(): v for k, v in mapping.columns.items()}
    derived = {c.name for c in schema.DERIVED}
    renames: dict[str, str] = {}
    origin: dict[str, str] = {}
    unknown: list[str] = []
    ignored: list[str] = []
    clashes: list[tuple[str, str, str]] = []
    for h in headers:
        key = h.strip()
        ours: str | None
        if key in mapping.columns:
            ours = mapping.columns[key]
        elif key.lower() in by_lower:
            ours = by_lower[key.lower()]
        else:
            n = normalise_header(h)
            ours = n if n in schema.COLUMN_BY_NAME else None
            if ours is None and n in derived:
                ours = IGNORE  # hmip's own derived columns (an export re-ingested): recomputed
        if ours is None:
            unknown.append(h)
        elif ours == IGNORE:
            ignored.append(h)
        elif ours in origin:
            clashes.append((h, ours, origin[ours]))
        else:
            renames[h] = ours
            origin[ours] = h
    frame = frame.select(pl.col(ROW), *[pl.col(h).alias(o) for h, o in renames.items()])
    for col, cli_value in (("inspection", inspection), ("inspection_date", inspection_date)):
        value = cli_value or mapping.file.get(col)
        if value is not None and col not in frame.columns:
            frame = frame.with_columns(pl.lit(value, pl.String).alias(col))
            origin[col] = f"--{col.replace('_', '-')}" if cli_value else f"mapping [file] {col}"
    exprs = []
    for col in frame.columns:
        if col == ROW:
            continue
        recode = dict(mapping.values.get(ALL_YES_NO, {})) if is_yes_no(col) else {}
        recode.update(mapping.values.get(col, {}))
        if recode:
            exprs.append(_recode(pl.col(col), recode).alias(col))
    if exprs:
        frame = frame.with_columns(exprs)
    return Mapped(frame, origin, unknown, ignored, clashes)


def _recode(e: pl.Expr, recode: dict[str, str]) -> pl.Expr:
    """Replace whole cells (trimmed, case-insensitive); "" means blank (not applicable)."""
    trimmed = e.str.strip_chars()
    keys = {k.strip().lower(): v for k, v in recode.items()}
    return trimmed.str.to_lowercase().replace_strict(
        list(keys), list(keys.values()), default=trimmed, return_dtype=pl.String
    )
