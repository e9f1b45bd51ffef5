"""The publication workbook (`workbook.Workbook`) as ODS (OpenDocument spreadsheet), with odfdo.

GOV.UK's open standard for documents is ODF, so the same workbook as the XLSX is written as
ODS: the same sheets, the same cells, the same types. Numbers are float cells (office:value)
with a number style for display; text is string cells (text that starts like a formula
already has its leading apostrophe from `workbook.safe_text`); each table is a named
database range with a header row; columns have widths; no merged cells.

Bytes are reproducible: the document's dates are the report date, its generator is hmip,
and the zip is rewritten with fixed timestamps and a fixed member order (mimetype first and
stored, as ODF requires).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

from hmip_cli.fileio import atomic_write_bytes
from hmip_cli.report import content as C
from hmip_cli.report.workbook import Release, Sheet, Workbook, report_workbook, safe_text
from hmip_cli.report.xlsx import cell_number, column_width

_NS = (
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
)

# kind -> (decimal places, thousands grouping), matching xlsx.NUMBER_FORMATS
_NUMBER_STYLES = {
    "count": (0, True),
    "percent": (1, False),
    "ratio": (2, False),
    "p": (4, False),
    "decimal": (3, False),
    "percent_exact": (1, False),
}


def display(kind: str, value: float) -> str:
    """The text a spreadsheet shows for a number cell (the stored value is the number)."""
    places, grouping = _NUMBER_STYLES.get(kind, (0, True))
    if kind == "percent":
        value = C.one_dp(value)
    return f"{value:,.{places}f}" if grouping else f"{value:.{places}f}"


def _styles(doc) -> None:
    from odfdo import Element

    auto = doc.content.get_element("//office:automatic-styles")
    for kind, (places, grouping) in _NUMBER_STYLES.items():
        auto.append(
            Element.from_tag(
                f'<number:number-style {_NS} style:name="N_{kind}"><number:number '
                f'number:decimal-places="{places}" number:min-decimal-places="{places}" '
                f'number:min-integer-digits="1"'
                + (' number:grouping="true"' if grouping else "")
                + "/></number:number-style>"
            )
        )
        auto.append(
            Element.from_tag(
                f'<style:style {_NS} style:name="ce_{kind}" style:family="table-cell" '
                f'style:data-style-name="N_{kind}"><style:table-cell-properties '
                'style:vertical-align="top"/></style:style>'
            )
        )
    auto.append(
        Element.from_tag(
            f'<style:style {_NS} style:name="ce_title" style:family="table-cell">'
            '<style:text-properties fo:font-size="16pt" fo:font-weight="bold"/></style:style>'
        )
    )
    auto.append(
        Element.from_tag(
            f'<style:style {_NS} style:name="ce_header" style:family="table-cell">'
            '<style:table-cell-properties fo:wrap-option="wrap" style:vertical-align="top" '
            'fo:border-bottom="0.5pt solid #000000"/>'
            '<style:text-properties fo:font-weight="bold"/></style:style>'
        )
    )
    auto.append(
        Element.from_tag(
            f'<style:style {_NS} style:name="ce_text" style:family="table-cell">'
            '<style:table-cell-properties fo:wrap-option="wrap" style:vertical-align="top"/>'
            "</style:style>"
        )
    )
    auto.append(
        Element.from_tag(
            f'<style:style {_NS} style:name="ce_code" style:family="table-cell">'
            '<style:table-cell-properties style:vertical-align="top"/>'
            '<style:paragraph-properties fo:text-align="end"/></style:style>'
        )
    )


def _column_style(doc, widths: dict[str, str], chars: float) -> str:
    from odfdo import Element

    # ~0.21 cm per character of the default 10pt font, as a spreadsheet sizes columns
    width = f"{chars * 0.21:.2f}cm"
    if width not in widths:
        name = f"co{len(widths) + 1}"
        widths[width] = name
        doc.content.get_element("//office:automatic-styles").append(
            Element.from_tag(
                f'<style:style {_NS} style:name="{name}" style:family="table-column">'
                f'<style:table-column-properties style:column-width="{width}"/></style:style>'
            )
        )
    return widths[width]


def _text_cell(text: str, style: str):
    from odfdo import Cell

    return Cell(safe_text(text), cell_type="string", style=style)


def _link_cell(sheet_name: str):
    from odfdo import Cell, Link, Paragraph

    cell = Cell(cell_type="string", style="ce_text")
    cell.clear()
    cell.set_attribute("office:value-type", "string")
    cell.set_attribute("calcext:value-type", "string")
    p = Paragraph()
    p.append(Link(f"#{sheet_name}.A1", text=safe_text(sheet_name)))
    cell.append(p)
    return cell


def _write_sheet(doc, widths: dict[str, str], sheet: Sheet):
    from odfdo import Cell, Column, Row, Table

    table = Table(sheet.name)
    if sheet.columns:
        for col in sheet.columns:
            table.append_column(Column(style=_column_style(doc, widths, column_width(col))))
    else:
        table.append_column(Column(style=_column_style(doc, widths, 110)))
    row = Row()
    row.append_cell(_text_cell(sheet.title, "ce_title"))
    table.append_row(row)
    for line in sheet.lines:
        row = Row()
        row.append_cell(_text_cell(line, "ce_text"))
        table.append_row(row)
    if not sheet.columns:
        return table
    row = Row()
    for col in sheet.columns:
        row.append_cell(_text_cell(col.header, "ce_header"))
    table.append_row(row)
    for data in sheet.rows:
        row = Row()
        for col in sheet.columns:
            value = data.get(col.key)
            if value is None:
                row.append_cell(Cell())
            elif sheet.links == col.key:
                row.append_cell(_link_cell(str(value)))
            elif isinstance(value, bool):
                row.append_cell(_text_cell("yes" if value else "no", "ce_text"))
            elif isinstance(value, str) or col.kind == "text":
                row.append_cell(
                    _text_cell(str(value), "ce_code" if col.kind != "text" else "ce_text")
                )
            else:
                kind = col.kind if col.kind in _NUMBER_STYLES else "count"
                number = cell_number(col.kind, value)
                row.append_cell(
                    Cell(
                        float(number),
                        text=display(kind, number),
                        cell_type="float",
                        style=f"ce_{kind}",
                    )
                )
        table.append_row(row)
    return table


def _database_range(sheet: Sheet):
    from odfdo import Element

    top = sheet.header_row + 1  # 1-based
    bottom = top + len(sheet.rows)
    last = _column_letter(len(sheet.columns) - 1)
    quoted = "'" + sheet.name.replace("'", "''") + "'"
    address = f"{quoted}.A{top}:{quoted}.{last}{bottom}"
    return Element.from_tag(
        f"<table:database-range {_NS} table:name={quoteattr(sheet.table_name or sheet.name)} "
        f'table:target-range-address={quoteattr(address)} table:contains-header="true"/>'
    )


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def write_workbook(book: Workbook) -> bytes:
    """The workbook as ODS bytes."""
    from odfdo import Document, Element

    doc = Document("spreadsheet")
    doc.body.clear()
    _styles(doc)
    widths: dict[str, str] = {}
    for sheet in book.sheets:
        doc.body.append(_write_sheet(doc, widths, sheet))
    ranges = [s for s in book.sheets if s.columns and s.table_name]
    if ranges:
        holder = Element.from_tag(f"<table:database-ranges {_NS}/>")
        for s in ranges:
            holder.append(_database_range(s))
        doc.body.append(holder)
    created = dt.datetime.combine(book.created, dt.time(0, 0))
    meta = doc.meta
    meta.set_title(book.title)
    meta.set_subject(book.subject)
    meta.set_description(book.comments)
    meta.set_creation_date(created)
    meta.set_modification_date(created)
    meta.set_generator("hmip")
    meta.set_language("en-GB")
    doc.set_language("en-GB")
    buf = io.BytesIO()
    doc.save(buf)
    return _reproducible_zip(buf.getvalue(), book.created)


def _reproducible_zip(data: bytes, date: dt.date) -> bytes:
    """The same package with fixed timestamps, mimetype first (stored), no thumbnail."""
    stamp = (max(date.year, 1980), date.month, date.day, 0, 0, 0)
    src = zipfile.ZipFile(io.BytesIO(data))
    names = [n for n in src.namelist() if not n.startswith("Thumbnails/")]
    names.sort(key=lambda n: (n != "mimetype", n))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in names:
            body = src.read(name)
            if name == "META-INF/manifest.xml":
                body = (
                    b"".join(
                        line + b">" for line in body.split(b">")[:-1] if b"Thumbnails/" not in line
                    )
                    or body
                )
            info = zipfile.ZipInfo(name, stamp)
            info.compress_type = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, body)
    return out.getvalue()


def render_ods(report: C.Report, release: Release | None = None) -> bytes:
    """The report's workbook as ODS bytes."""
    return write_workbook(report_workbook(report, release))


def write_ods(report: C.Report, path: Path, release: Release | None = None) -> list[Path]:
    atomic_write_bytes(Path(path), render_ods(report, release))
    return [Path(path)]
