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

import codecs
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import polars as pl

from hmip_cli import framework
from hmip_cli.errors import MAX_LINES, BadInput, BadRequest
from hmip_cli.framework.model import Framework
from hmip_cli.ingest.readers import ROW, clean_header, codec_name
from hmip_cli.privacy import clip_name, quote_name

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

    @cached_property
    def by_lower(self) -> dict[str, str]:
        """[columns] keyed by the lower-cased header, for case-insensitive matching."""
        return {clean_header(k).lower(): v for k, v in self.columns.items()}


def load_mapping(path: str | Path, fw: Framework | None = None) -> Mapping:
    """Parse and check a mapping file. Missing file: BadRequest; any mistake in it: BadInput."""
    p = Path(path)
    if not p.exists():
        raise BadRequest(f"{path}: no such mapping file")
    if p.is_dir():
        raise BadRequest(f"{path}: is a directory, not a mapping file")
    data = p.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise BadInput(
            f"{path}: the mapping file is UTF-16 text; save it as UTF-8 (in Notepad: "
            "Save As, Encoding 'UTF-8')"
        )
    try:
        # utf-8-sig: a byte-order mark (Notepad writes one) is not part of the TOML.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInput(
            f"{path}, line {line}: the mapping file is not UTF-8 text "
            f"(byte 0x{data[exc.start]:02x}); save it as UTF-8"
        ) from None
    return parse_mapping(text, name=p.name, where=str(path), fw=fw)


def parse_mapping(
    text: str, name: str | None = None, where: str = "mapping", fw: Framework | None = None
) -> Mapping:
    """A mapping from TOML text, its column names checked against `fw` (default qi-2016)."""
    known = (fw or framework.default()).column_by_name
    text = text.removeprefix("\ufeff")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{where}: not valid TOML ({clip_name(exc, 200)})") from None
    except RecursionError:  # thousands of nested tables or arrays
        raise BadInput(f"{where}: not valid TOML (nested too deeply)") from None
    problems: list[str] = []
    for key in doc:
        if key not in SECTIONS:
            problems.append(
                f"unknown section [{clip_name(key)}] (known: {', '.join(f'[{s}]' for s in SECTIONS)})"
            )
    file_ = _table(doc, "file", problems)
    cols = _table(doc, "columns", problems)
    vals = _table(doc, "values", problems)

    file_out: dict[str, str] = {}
    for key, value in file_.items():
        if key not in FILE_KEYS:
            problems.append(
                f"[file]: unknown key {quote_name(key)} (known: {', '.join(FILE_KEYS)})"
            )
        elif hasattr(value, "isoformat"):  # an unquoted TOML date: 2016-08-15
            file_out[key] = value.isoformat()
        elif not isinstance(value, str):
            problems.append(f"[file] {key}: expected text in quotes, got {clip_name(value)}")
        elif key == "encoding":
            try:
                file_out[key] = codec_name(value)
            except BadRequest:
                problems.append(
                    f"[file] encoding: {quote_name(value)} is not a text encoding Python "
                    'knows; use e.g. "utf-8", "cp1252" (Excel on Windows), "latin-1" '
                    'or "utf-16"'
                )
        else:
            file_out[key] = value

    col_out: dict[str, str] = {}
    targets: dict[str, str] = {}
    for theirs, ours in cols.items():
        if not isinstance(ours, str):
            problems.append(
                f"[columns] {quote_name(theirs)}: expected a column name, got {type(ours).__name__}"
            )
        elif ours == IGNORE:
            col_out[clean_header(theirs)] = IGNORE
        elif ours not in known:
            problems.append(
                f"[columns] {quote_name(theirs)}: unknown column {quote_name(ours)} (see `hmip schema`)"
            )
        elif ours in targets:
            problems.append(
                f"[columns]: {quote_name(targets[ours])} and {quote_name(theirs)} both map to {ours!r}"
            )
        else:
            targets[ours] = theirs
            col_out[clean_header(theirs)] = ours

    val_out: dict[str, dict[str, str]] = {}
    for ours, recode in vals.items():
        if ours != ALL_YES_NO and ours not in known:
            problems.append(
                f'[values]: unknown column {quote_name(ours)} (a column name, or "*" for every yes/no column)'
            )
            continue
        if not isinstance(recode, dict):
            problems.append(f'[values] {ours}: expected a table like {{ "Y" = "yes" }}')
            continue
        bad = [k for k, v in recode.items() if not isinstance(v, str)]
        if bad:
            problems.append(
                f"[values] {ours}: recoded values must be text (check {quote_name(bad[0])})"
            )
            continue
        val_out[ours] = {str(k): v for k, v in recode.items()}
    if problems:
        more = len(problems) - MAX_LINES
        shown = problems[:MAX_LINES] + ([f"and {more:,} more mistakes"] if more > 0 else [])
        raise BadInput(f"{where}: " + "; ".join(shown))
    return Mapping(col_out, val_out, file_out, name, text)


def _table(doc: dict, key: str, problems: list[str]) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        problems.append(f"[{key}] must be a table")
        return {}
    return value


@lru_cache(maxsize=4096)
def normalise_header(h: str) -> str:
    """How a header is matched to a schema name: trimmed, lower case, spaces/hyphens as _."""
    return re.sub(r"[\s\-]+", "_", h.strip().lower())


def is_yes_no(column: str, fw: Framework | None = None) -> bool:
    col = (fw or framework.default()).column_by_name.get(column)
    return col is not None and col.dtype == pl.Boolean


@dataclass
class Mapped:
    """A file after mapping: schema-named text columns (plus ROW) and what did not map."""

    frame: pl.DataFrame
    origin: dict[str, str]  # our column -> their header (or the option that filled it)
    unknown: list[str]  # headers that match no column
    ignored: list[str]  # headers deliberately left out (derived columns, mapped to "")
    # (their header, our column, the header already mapped to it)
    clashes: list[tuple[str, str, str]]
    # (column, the option or mapping key, blank cells it filled): a whole-file value given
    # for a file that has the column, so only its blanks were filled
    filled: list[tuple[str, str, int]] = field(default_factory=list)


def resolve_header(h: str, mapping: Mapping | None, fw: Framework | None = None) -> str | None:
    """The column a header maps to: a stored column of `fw` (default qi-2016), IGNORE (left
    out), or None (unknown)."""
    fw = fw or framework.default()
    mapping = mapping or Mapping()
    key = clean_header(h)
    if key in mapping.columns:
        return mapping.columns[key]
    if key.lower() in mapping.by_lower:
        return mapping.by_lower[key.lower()]
    n = normalise_header(key)
    if n in fw.column_by_name:
        return n
    if n in fw.derived_by_name:
        return IGNORE  # hmip's own derived columns (an export re-ingested): recomputed
    return None


def apply_mapping(
    frame: pl.DataFrame,
    headers: list[str],
    mapping: Mapping | None,
    inspection: str | None = None,
    inspection_date: str | None = None,
    fw: Framework | None = None,
) -> Mapped:
    """Rename columns to schema names, fill whole-file values, apply recodes.

    A whole-file value (--inspection, a mapping's [file] inspection) fills the column when
    the file has none; when it has one, it fills only that column's blank cells, and
    `filled` says so (the file's own values win).
    """
    mapping = mapping or Mapping()
    renames: dict[str, str] = {}
    origin: dict[str, str] = {}
    unknown: list[str] = []
    ignored: list[str] = []
    clashes: list[tuple[str, str, str]] = []
    filled: list[tuple[str, str, int]] = []
    for h in headers:
        ours = resolve_header(h, mapping, fw)
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
        if value is None:
            continue
        source = f"--{col.replace('_', '-')}" if cli_value else f"mapping [file] {col}"
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(value, pl.String).alias(col))
            origin[col] = source
            continue
        blank = pl.col(col).is_null() | (pl.col(col).str.strip_chars() == "")
        n_blank = int(frame.select(blank.sum()).item())
        if n_blank:
            frame = frame.with_columns(
                pl.when(blank).then(pl.lit(value, pl.String)).otherwise(pl.col(col)).alias(col)
            )
        filled.append((col, source, n_blank))
    exprs = []
    for col in frame.columns:
        if col == ROW:
            continue
        recode = dict(mapping.values.get(ALL_YES_NO, {})) if is_yes_no(col, fw) else {}
        recode.update(mapping.values.get(col, {}))
        if recode:
            exprs.append(_recode(pl.col(col), recode).alias(col))
    if exprs:
        frame = frame.with_columns(exprs)
    return Mapped(frame, origin, unknown, ignored, clashes, filled)


def _recode(e: pl.Expr, recode: dict[str, str]) -> pl.Expr:
    """Replace whole cells (trimmed, case-insensitive); "" means blank (not applicable)."""
    trimmed = e.str.strip_chars()
    keys = {k.strip().lower(): v for k, v in recode.items()}
    return trimmed.str.to_lowercase().replace_strict(
        list(keys), list(keys.values()), default=trimmed, return_dtype=pl.String
    )
