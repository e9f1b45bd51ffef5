"""The publication workbook (`workbook.Workbook`) as XLSX, written with xlsxwriter.

What goes where is decided in `workbook.py` (shared with the ODS writer); this module only
writes it:
- text with write_string (never write()), so nothing becomes a formula; text that starts
  like a formula was already given a leading apostrophe by `workbook.safe_text`;
- numbers with write_number and a display format ("#,##0", "0.0", "0.00", "0.0000");
  percentages stored as shown, rounded half up to one decimal place;
- each table as an Excel table (named, one header row, no autofilter buttons), no merged
  cells anywhere;
- the workbook's created date is the report date, so the same data give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from hmip_cli.fileio import atomic_write_bytes
from hmip_cli.layout import Column
from hmip_cli.report import content as C
from hmip_cli.report.workbook import Release, Sheet, Workbook, report_workbook, safe_text

NUMBER_FORMATS = {
    "count": "#,##0",
    "percent": "0.0",
    "ratio": "0.00",
    "p": "0.0000",
    "decimal": "0.000",
    "percent_exact": "0.0",
}


def cell_number(kind: str, value: float) -> float:
    """The number stored for a numeric cell (percentages as shown, one decimal place)."""
    if kind == "percent":
        return C.one_dp(value)
    return value


def column_width(col: Column) -> float:
    """Width in characters (shared with the ODS writer)."""
    return max(12, min(48, len(col.header) * 0.9 if col.kind != "text" else 28))


class _Formats:
    def __init__(self, wb):
        self.header = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bottom": 1})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.title = wb.add_format({"bold": True, "font_size": 16})
        self.link = wb.add_format({"font_color": "#12436D", "underline": 1, "valign": "top"})
        self.num = {
            k: wb.add_format({"num_format": f, "valign": "top"}) for k, f in NUMBER_FORMATS.items()
        }
        self.code = wb.add_format({"align": "right", "valign": "top"})


def _write_sheet(wb, f: _Formats, sheet: Sheet) -> None:
    ws = wb.add_worksheet(sheet.name)
    if not sheet.columns:
        ws.set_column(0, 0, 110)
    for j, col in enumerate(sheet.columns):
        ws.set_column(j, j, column_width(col))
    ws.write_string(0, 0, safe_text(sheet.title), f.title)
    for i, line in enumerate(sheet.lines, start=1):
        ws.write_string(i, 0, safe_text(line))
    if not sheet.columns:
        return
    top = sheet.header_row
    for i, row in enumerate(sheet.rows, start=top + 1):
        for j, col in enumerate(sheet.columns):
            value = row.get(col.key)
            if value is None:
                continue  # an empty cell: no marker / not applicable to this row (see Notes)
            if sheet.links == col.key:
                ws.write_url(i, j, f"internal:'{value}'!A1", f.link, string=safe_text(value))
            elif isinstance(value, bool):
                ws.write_string(i, j, "yes" if value else "no", f.wrap)
            elif isinstance(value, str) or col.kind == "text":
                ws.write_string(i, j, safe_text(value), f.code if col.kind != "text" else f.wrap)
            else:
                fmt = f.num.get(col.kind, f.num["count"])
                ws.write_number(i, j, cell_number(col.kind, value), fmt)
    ws.add_table(
        top,
        0,
        top + len(sheet.rows),
        len(sheet.columns) - 1,
        {
            "name": sheet.table_name,
            "autofilter": False,
            "style": "Table Style Light 1",
            "columns": [
                {"header": safe_text(c.header), "header_format": f.header} for c in sheet.columns
            ],
        },
    )
    ws.set_row(top, 45)


def write_workbook(book: Workbook) -> bytes:
    """The workbook as XLSX bytes."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    wb.set_properties(
        {
            "title": book.title,
            "subject": book.subject,
            "author": "hmip",
            "created": dt.datetime.combine(book.created, dt.time(0, 0)),
            "comments": book.comments,
        }
    )
    wb.set_calc_mode("manual")  # there are no formulas; nothing to recalculate
    f = _Formats(wb)
    for sheet in book.sheets:
        _write_sheet(wb, f, sheet)
    wb.close()
    return buf.getvalue()


def render_xlsx(report: C.Report, release: Release | None = None) -> bytes:
    """The report's workbook as XLSX bytes."""
    return write_workbook(report_workbook(report, release))


def write_xlsx(report: C.Report, path: Path, release: Release | None = None) -> list[Path]:
    atomic_write_bytes(Path(path), render_xlsx(report, release))
    return [Path(path)]
