"""The report as an accessible publication spreadsheet (GSS "Releasing statistics in
spreadsheets" style), written with xlsxwriter.

Layout:
- Cover: the title in A1, then one line of text per row in column A (what the workbook
  holds, source, provenance). No merged cells, no tables.
- Contents: a table from A1 (Worksheet name | Worksheet title), each name linking to its sheet.
- Notes: a table from A1 (Code | Meaning) explaining [c], [u], [z], [x] and the conventions.
- Key_findings, Sample_profile, Figure_1..Figure_4, Table_1, Table_2, Differences, Models:
  one table per sheet, its single header row in row 1 starting at A1, marked up as an Excel
  table. The table's title is the sheet's entry on the Contents sheet (and the Excel table
  name), not a row above the table: the brief for this tool asks for header-at-A1 sheets,
  which GSS allows when titles are given on the contents sheet.

Cell rules:
- Numbers are stored as numbers (write_number) with a display format; percentages are
  stored as shown, rounded half up to one decimal place. A code ([c], [z], [x]) in an
  otherwise numeric column is text. Every marker is also in its own Marker column.
- Text is always written with write_string, never write(), so nothing becomes a formula;
  and any text that begins with =, +, -, @, a tab or a carriage return gets a leading
  apostrophe character (') in the stored text, so that it cannot turn into a formula
  either if the sheet is later exported to CSV and reopened.
- The workbook's created date is the report date (not "now"), so the same data and options
  give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from hmip_cli.fileio import atomic_write_bytes
from hmip_cli.report import content as C

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: str) -> str:
    """Text that cannot become a formula: a leading apostrophe before =, +, -, @, tab, CR."""
    text = "" if text is None else str(text)
    return "'" + text if text.startswith(_DANGEROUS) else text


class _Sheets:
    def __init__(self, wb):
        self.wb = wb
        self.header = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bottom": 1})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.title = wb.add_format({"bold": True, "font_size": 16})
        self.bold = wb.add_format({"bold": True})
        self.link = wb.add_format({"font_color": "#12436D", "underline": 1})
        self.num = {
            "count": wb.add_format({"num_format": "#,##0", "valign": "top"}),
            "percent": wb.add_format({"num_format": "0.0", "valign": "top"}),
            "ratio": wb.add_format({"num_format": "0.00", "valign": "top"}),
            "p": wb.add_format({"num_format": "0.0000", "valign": "top"}),
        }
        self.code = wb.add_format({"align": "right", "valign": "top"})

    def text(self, ws, r: int, c: int, value, fmt=None) -> None:
        ws.write_string(r, c, safe_text(value), fmt or self.wrap)


def _number(kind: str, value):
    if kind == "percent":
        return C.one_dp(value)
    return value


def _table_sheet(
    s: _Sheets, name: str, columns: list[C.Column], rows: list[dict], table_name: str
) -> None:
    ws = s.wb.add_worksheet(name)
    for j, col in enumerate(columns):
        width = max(12, min(48, len(col.header) * 0.9 if col.kind != "text" else 28))
        ws.set_column(j, j, width)
    data_rows = rows or [{columns[0].key: "No rows: nothing to show for this table."}]
    for i, row in enumerate(data_rows, start=1):
        for j, col in enumerate(columns):
            value = row.get(col.key)
            if value is None:
                continue  # an empty cell: no marker / not applicable to this row (see Notes)
            if isinstance(value, str):
                s.text(ws, i, j, value, s.code if col.kind != "text" else None)
            elif isinstance(value, bool):
                s.text(ws, i, j, "yes" if value else "no")
            elif col.kind == "text":
                s.text(ws, i, j, str(value))
            else:
                ws.write_number(i, j, _number(col.kind, value), s.num.get(col.kind, s.num["count"]))
    ws.add_table(
        0,
        0,
        len(data_rows),
        len(columns) - 1,
        {
            "name": table_name,
            "autofilter": False,
            "style": "Table Style Light 1",
            "columns": [
                {"header": safe_text(c.header), "header_format": s.header} for c in columns
            ],
        },
    )
    ws.set_row(0, 45)
    ws.freeze_panes(1, 0)


def render_xlsx(report: C.Report) -> bytes:
    """The workbook as bytes."""
    import xlsxwriter

    p = report.provenance
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
    created = dt.datetime.combine(p.date, dt.time(0, 0))
    wb.set_properties(
        {
            "title": report.title,
            "subject": "Probation case assessments: interventions",
            "author": "hmip",
            "created": created,
            "comments": f"hmip {p.hmip_version}",
        }
    )
    wb.set_calc_mode("manual")  # there are no formulas; nothing to recalculate
    s = _Sheets(wb)

    tables = list(report.tables)
    kf = C.DocTable(
        "key-findings",
        "Key findings: plain-English summary of the tables",
        "Key_findings",
        [
            C.Column("number", "Finding number", "count"),
            C.Column("finding", "Key finding"),
            C.Column("sheet", "Table it summarises (worksheet)"),
            C.Column("rows", "Rows it is about"),
        ],
        [
            {
                "number": i,
                "finding": f.text,
                "sheet": ", ".join(report.table(t).sheet for t in (f.table, *f.also)),
                "rows": ", ".join(_row_names(report.table(f.table), f.rows)),
            }
            for i, f in enumerate(report.key_findings, start=1)
        ],
        [str(i) for i in range(1, len(report.key_findings) + 1)],
    )
    sheets = [kf, *tables]

    # Cover
    ws = wb.add_worksheet("Cover")
    ws.set_column(0, 0, 110)
    s.text(ws, 0, 0, report.title, s.title)
    lines = [
        (
            "This spreadsheet contains the key findings, the sample profile, the data for Figures 1 to 4, "
            "Tables 1 and 2, and the significant subgroup differences from stepwise logistic regression, for "
            "probation case assessments.",
            None,
        ),
        (
            "Each table is on its own worksheet, starting in cell A1 with one header row. The Contents worksheet "
            "lists and links to every table; the Notes worksheet explains the codes used in cells.",
            None,
        ),
        ("Source", s.bold),
        (
            f"HM Inspectorate of Probation case assessment data, analysed with hmip {p.hmip_version}.",
            None,
        ),
        ("Provenance", s.bold),
        *[(f"{label}: {text}", None) for label, text in p.items()],
    ]
    for i, (text, fmt) in enumerate(lines, start=1):
        s.text(ws, i, 0, text, fmt)

    # Contents
    ws = wb.add_worksheet("Contents")
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 100)
    for i, t in enumerate(sheets, start=1):
        ws.write_url(i, 0, f"internal:'{t.sheet}'!A1", s.link, string=safe_text(t.sheet))
        s.text(ws, i, 1, t.title)
    ws.add_table(
        0,
        0,
        len(sheets),
        1,
        {
            "name": "Contents",
            "autofilter": False,
            "style": "Table Style Light 1",
            "columns": [
                {"header": "Worksheet name", "header_format": s.header},
                {"header": "Worksheet title", "header_format": s.header},
            ],
        },
    )

    # Notes
    notes = [
        {"code": code, "meaning": text} for code, text in C.marker_definitions(report.params.min_n)
    ]
    notes += [
        {
            "code": "Empty cell",
            "meaning": "An empty Marker cell means the value has no marker; other empty "
            "cells mean the column does not apply to that row.",
        },
        {
            "code": "Percentages",
            "meaning": "Stored rounded half up to one decimal place from the exact fraction "
            "(99/144 = 68.75% is stored as 68.8).",
        },
        {
            "code": "Applicable cases",
            "meaning": "Cases where the question was asked and answered yes or no; "
            "percentages are of these cases.",
        },
        {
            "code": "Leading apostrophe",
            "meaning": "Text beginning with =, +, - or @ is stored with a leading "
            "apostrophe so that it can never be read as a formula.",
        },
    ]
    for t in tables:
        notes += [{"code": t.sheet, "meaning": n} for n in t.notes]
    _table_sheet(
        s,
        "Notes",
        [C.Column("code", "Code or worksheet"), C.Column("meaning", "Note text")],
        notes,
        "Notes",
    )

    for t in sheets:
        _table_sheet(s, t.sheet, t.columns, t.rows, t.sheet)
    wb.close()
    return buf.getvalue()


def _row_names(t: C.DocTable, keys) -> list[str]:
    first = t.columns[0].key
    out = []
    for k in keys:
        if k in t.keys:
            out.append(str(t.row(k).get(first)))
    return list(dict.fromkeys(out))


def write_xlsx(report: C.Report, path: Path) -> list[Path]:
    atomic_write_bytes(Path(path), render_xlsx(report))
    return [Path(path)]
