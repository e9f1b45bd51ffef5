"""The store's cleaned, validated cases as a file for other tools (`hmip export`).

    from hmip_cli.export import export_cases, export_bytes
    cases = export_cases(data, where=["inspection=Durham"])
    Path("cases.parquet").write_bytes(export_bytes(cases.frame, "parquet"))

What is written: the stored columns in the stored order (the store's framework: `Framework.stored_schema()`), cases
in store order. Identifying columns (case_id) and free text (notes) are left out unless
asked for: case data is sensitive, and no analysis needs them. So an export with
identifiers, ingested into a new store, gives the same store content hash; one without
them gives the same analysis data once ids are supplied.

Formats:
- csv / tsv: yes/no for judgements (blank = not applicable / not recorded), category
  codes, dates YYYY-MM-DD; text that a spreadsheet would run as a formula gets a leading
  apostrophe. `hmip ingest` reads it back with no mapping.
- parquet: the stored types (Boolean, Enum, Date, Int16); key-value metadata
  `hmip_export` (JSON: what was exported, from which store content).
- xlsx: one sheet "Cases" from cell A1, yes/no as text, ages and scores as numbers,
  dates as dates; text is written as text, never as a formula.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import polars as pl

from hmip_cli.errors import BadRequest
from hmip_cli.framework import derive
from hmip_cli.framework.model import YES_NO


class ExportFormat(str, Enum):
    csv = "csv"
    tsv = "tsv"
    parquet = "parquet"
    xlsx = "xlsx"


EXTENSIONS: dict[str, ExportFormat] = {
    ".csv": ExportFormat.csv,
    ".tsv": ExportFormat.tsv,
    ".parquet": ExportFormat.parquet,
    ".xlsx": ExportFormat.xlsx,
}
BINARY = (ExportFormat.parquet, ExportFormat.xlsx)
META_KEY = "hmip_export"  # not the store's key: an export is never mistaken for a store
SHEET = "Cases"


@dataclass(frozen=True)
class Export:
    """The cases to export and what was asked.

    frame: the stored columns (typed, stored order) less `left_out`, one row per case.
    left_out: columns left out (case_id and notes unless identifiers were asked for).
    where: the --where conditions as text ("inspection = Durham"), or None.
    content_hash: the store's content hash (what the export was taken from).
    """

    frame: pl.DataFrame
    left_out: tuple[str, ...]
    content_hash: str
    where: str | None = None
    conditions: list = field(default_factory=list)

    @property
    def n_cases(self) -> int:
        return self.frame.height

    def metadata(self) -> dict:
        return {
            "n_cases": self.n_cases,
            "columns_left_out": list(self.left_out),
            "where": self.where,
            "store_content_hash": self.content_hash,
        }


def export_cases(
    data: Path | str | None = None,
    *,
    include_identifiers: bool = False,
    where: Iterable[str] | None = None,
    framework: str | None = None,
) -> Export:
    """The store's cases for export (see the module docstring). `where`: `--where`
    conditions as `rates` takes them ("inspection=Durham"); no case meeting them is a
    BadRequest. Raises BadRequest when there is no store. A mixed store: the cases of
    `framework` (default: the latest ingested)."""
    from hmip_cli import store

    digest = store.store_info(data).content_hash  # the footer only; BadRequest if no store
    got = store.read_stored(data, identifying=include_identifiers, framework=framework)
    if got is None:  # removed since (by hand): say so as for no store
        raise BadRequest(f"no store at {store.resolve_store(data)}")
    frame = got[0]
    fw = store.load_framework(data, framework)
    text = None
    conditions: list = []
    where = list(where or [])
    if where:
        from hmip_cli.rates import describe_where, filter_cases

        # Filtered on the derived columns (age group, OGRS band, ...), exported as stored.
        indexed = frame.with_row_index("__row")
        lf, conditions = filter_cases(derive.with_derived(fw, indexed), where, fw)
        rows = lf.select("__row").collect().get_column("__row")
        frame = indexed.filter(pl.col("__row").is_in(rows.implode())).drop("__row")
        text = describe_where(conditions)
    stored = [c for c in fw.stored_schema() if c in frame.columns]
    left_out = tuple(c for c in fw.stored_schema() if c not in stored)
    return Export(frame.select(stored), left_out, digest, text, conditions)


def export_format(fmt: ExportFormat | None, output: Path | None) -> ExportFormat:
    """The format: --format if given (an extension that contradicts it is a usage error),
    else from the --output extension, else CSV."""
    suffix = Path(output).suffix.lower() if output is not None else ""
    implied = EXTENSIONS.get(suffix)
    if output is not None and implied is None and fmt is None:
        raise BadRequest(
            f"{Path(output).name!r}: hmip export writes .csv, .tsv, .parquet or .xlsx files "
            "(or give --format)"
        )
    if fmt is not None and implied is not None and implied is not fmt:
        raise BadRequest(
            f"--format {fmt.value} contradicts the file name {Path(output).name!r} "  # type: ignore[arg-type]
            f"(which means {implied.value}): drop --format or change the extension"
        )
    chosen = fmt or implied or ExportFormat.csv
    if chosen in BINARY and output is None:
        raise BadRequest(f"{chosen.value} output needs --output FILE.{chosen.value}")
    return chosen


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Booleans as yes/no (null stays null), dates ISO, everything else as text."""
    yes, no = YES_NO
    exprs = []
    for name, dtype in frame.schema.items():
        e = pl.col(name)
        if dtype == pl.Boolean:
            e = pl.when(e).then(pl.lit(yes)).when(e.not_()).then(pl.lit(no))
        exprs.append(e.cast(pl.String).alias(name))
    return frame.select(exprs)


def export_bytes(
    frame: pl.DataFrame, fmt: ExportFormat | str, metadata: dict | None = None
) -> bytes:
    """`frame` (an `Export.frame`) encoded as `fmt`, in memory (so a full disk is reported
    by `fileio`, not buried in a writer's own error)."""
    fmt = ExportFormat(fmt)
    buf = io.BytesIO()
    if fmt is ExportFormat.parquet:
        kv = {META_KEY: json.dumps(metadata or {}, ensure_ascii=False)}
        frame.write_parquet(buf, metadata=kv)
    elif fmt is ExportFormat.xlsx:
        _write_xlsx(frame, buf)
    else:
        from hmip_cli.render import csv_safe

        text = csv_safe(as_text(frame))
        text.write_csv(
            buf, separator="\t" if fmt is ExportFormat.tsv else ",", line_terminator="\n"
        )
    return buf.getvalue()


def _write_xlsx(frame: pl.DataFrame, buf: io.BytesIO) -> None:
    """One sheet from A1: yes/no as text, numbers as numbers, dates as dates, text as
    text (xlsxwriter's write_string: a value starting "=" is never a formula)."""
    import xlsxwriter

    yes, no = YES_NO
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet(SHEET)
    bold = wb.add_format({"bold": True})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    for j, name in enumerate(frame.columns):
        ws.write_string(0, j, name, bold)
    for j, (name, dtype) in enumerate(frame.schema.items()):
        values = frame.get_column(name).to_list()
        for i, v in enumerate(values, start=1):
            if v is None:
                continue
            if dtype == pl.Boolean:
                ws.write_string(i, j, yes if v else no)
            elif dtype == pl.Date:
                ws.write_datetime(i, j, v, day)
            elif dtype.is_integer():
                ws.write_number(i, j, v)
            else:
                ws.write_string(i, j, str(v))
        ws.set_column(j, j, max(10, min(40, len(name) + 2)))
    ws.freeze_panes(1, 0)
    wb.close()
