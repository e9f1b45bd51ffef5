"""The publication spreadsheets (XLSX and ODS) against the Analysis Function's checklist
("Releasing statistics in spreadsheets"), and against each other.

Both files are read back with independent readers (openpyxl for XLSX; odfdo and pandas'
odf engine for ODS) and checked for: cover, contents with links, numbered notes referred
to from titles, a title in A1 of every sheet, one table per sheet with one header row and
no blank rows or columns, no merged cells, numbers stored as numbers, shorthand explained
above every table that uses it. Then every sheet, cell type and value of the ODS is
compared with the XLSX.
"""

from __future__ import annotations

import io
import math
import re
import zipfile

import openpyxl
import pytest
from test_report_support import shared_report

from hmip_cli.report import content as C
from hmip_cli.report.ods import render_ods
from hmip_cli.report.shorthand import SHORTHAND
from hmip_cli.report.workbook import Release, report_workbook
from hmip_cli.report.xlsx import render_xlsx

TABLE_SHEETS = [
    "Key_findings",
    "Sample_profile",
    "Figure_1",
    "Figure_2",
    "Figure_3",
    "Figure_4",
    "Table_1",
    "Table_2",
    "Differences",
    "Models",
]
CODE = re.compile(r"\[[a-z]+\]")
NOTE = re.compile(r"\[note (\d+)\]")
UNIT = re.compile(r"\((number|%)\)$|[Nn]umber|ratio|^p\b")


@pytest.fixture(scope="module")
def rep():
    return shared_report()


@pytest.fixture(scope="module")
def files(rep):
    release = Release(
        title="Interventions bulletin (test)",
        about="About text for the test.",
        source="Source text for the test.",
        contact="analysis@example.gov.uk",
        published="2019-02-28",
    )
    return {"xlsx": render_xlsx(rep, release), "ods": render_ods(rep, release)}


# --------------------------------------------------------------------------------------
# Readers: each file as {sheet: [[(type, value), ...], ...]} plus its structure
# --------------------------------------------------------------------------------------


def read_xlsx(data: bytes) -> dict:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    sheets, tables, links, merged = {}, {}, {}, {}
    for ws in wb.worksheets:
        grid = []
        for row in ws.iter_rows():
            cells = []
            for c in row:
                if c.value is None:
                    cells.append((None, None))
                elif c.data_type == "n":
                    cells.append(("number", c.value))
                else:
                    assert c.data_type == "s", (ws.title, c.coordinate, c.data_type)
                    cells.append(("text", c.value))
            grid.append(cells)
        sheets[ws.title] = _trim(grid)
        tables[ws.title] = [t.ref for t in ws.tables.values()]
        links[ws.title] = {
            (c.row - 1, c.column - 1): c.hyperlink.location
            for row in ws.iter_rows()
            for c in row
            if c.hyperlink is not None
        }
        merged[ws.title] = list(ws.merged_cells.ranges)
    return {"sheets": sheets, "tables": tables, "links": links, "merged": merged}


def read_ods(data: bytes) -> dict:
    from odfdo import Document

    doc = Document(io.BytesIO(data))
    sheets, tables, links, merged = {}, {}, {}, {}
    for t in doc.body.tables:
        grid = []
        for i, row in enumerate(t.get_rows()):
            cells = []
            for j, c in enumerate(row.get_cells()):
                if c.get_attribute("table:number-columns-spanned") or c.get_attribute(
                    "table:number-rows-spanned"
                ):
                    merged.setdefault(t.name, []).append((i, j))
                kind = c.type
                if kind == "float":
                    cells.append(("number", float(c.value)))  # odfdo gives a Decimal
                elif kind == "string":
                    anchors = c.get_elements("descendant::text:a")
                    # odfdo shows a link cell's value as Markdown; the text is the anchor's
                    text = "".join(a.text for a in anchors) if anchors else c.value
                    cells.append(("text", text))
                else:
                    assert kind is None, (t.name, i, j, kind)
                    cells.append((None, None))
                for a in c.get_elements("descendant::text:a"):
                    links.setdefault(t.name, {})[(i, j)] = a.get_attribute("xlink:href")
            grid.append(cells)
        sheets[t.name] = _trim(grid)
        tables[t.name] = []
        merged.setdefault(t.name, [])
        links.setdefault(t.name, {})
    for r in doc.body.get_elements("descendant::table:database-range"):
        address = r.get_attribute("table:target-range-address")
        sheet = address.split(".")[0].strip("'")
        a, b = address.split(":")
        tables[sheet].append(a.split(".")[1] + ":" + b.split(".")[1])
        assert r.get_attribute("table:contains-header") in ("true", True)
    return {"sheets": sheets, "tables": tables, "links": links, "merged": merged}


def _trim(grid: list[list]) -> list[list]:
    """Drop trailing empty cells and rows (readers differ in how far they pad)."""
    out = []
    for row in grid:
        row = list(row)
        while row and row[-1] == (None, None):
            row.pop()
        out.append(row)
    while out and not out[-1]:
        out.pop()
    return out


READERS = {"xlsx": read_xlsx, "ods": read_ods}


def _range(ref: str) -> tuple[int, int, int, int]:
    """'A4:I14' -> 0-based (top, left, bottom, right)."""

    def cell(x):
        m = re.fullmatch(r"([A-Z]+)(\d+)", x)
        col = 0
        for ch in m.group(1):
            col = col * 26 + ord(ch) - 64
        return int(m.group(2)) - 1, col - 1

    (t, left), (b, r) = (cell(x) for x in ref.split(":"))
    return t, left, b, r


# --------------------------------------------------------------------------------------
# The checklist, for both formats
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_guidance_checklist(files, rep, fmt):
    book = READERS[fmt](files[fmt])
    sheets = book["sheets"]
    # Cover, Contents, Notes first, then one sheet per table.
    assert list(sheets) == ["Cover", "Contents", "Notes", *TABLE_SHEETS]
    # A title in cell A1 of every sheet; nothing else in row 1.
    for name, grid in sheets.items():
        assert grid[0][0][0] == "text" and grid[0][0][1].strip(), name
        assert len(grid[0]) == 1, name
    # The cover: title from the release file, the release's text, provenance; no table.
    cover = [row[0][1] for row in sheets["Cover"] if row]
    assert cover[0] == "Interventions bulletin (test)"
    for text in ("About text for the test.", "Source text for the test.", "2019-02-28"):
        assert text in cover
    assert "analysis@example.gov.uk" in cover
    assert any(rep.provenance.content_hash in line for line in cover)
    assert book["tables"]["Cover"] == []
    assert all(len(row) <= 1 for row in sheets["Cover"])  # one line of text per row, column A
    # No merged cells anywhere.
    assert all(not m for m in book["merged"].values()), book["merged"]
    # One table per sheet (Cover aside): from column A, header row after the title lines,
    # running to the sheet's last row, every header filled, no blank row or column.
    for name in ["Contents", "Notes", *TABLE_SHEETS]:
        grid = sheets[name]
        (ref,) = book["tables"][name]
        top, left, bottom, right = _range(ref)
        assert left == 0 and bottom == len(grid) - 1, (name, ref, len(grid))
        above = grid[1:top]
        assert all(len(row) <= 1 for row in above), name  # text lines above: column A only
        header = grid[top]
        assert len(header) == right + 1 and all(k == "text" and v for k, v in header), name
        body = [row + [(None, None)] * (right + 1 - len(row)) for row in grid[top + 1 :]]
        assert body, name
        assert all(any(v is not None for _, v in row) for row in body), (name, "blank row")
        for j in range(right + 1):
            assert any(row[j][1] is not None for row in body), (name, "blank column", j)
        # No [note N] in data cells; shorthand only from the defined list and explained above.
        used = set()
        for row in body:
            for kind, value in row:
                if kind == "text":
                    assert name == "Notes" or not NOTE.search(value), (name, value)
                    used.update(CODE.findall(value))
        assert "[low]" not in used
        assert used <= set(SHORTHAND), (name, used)
        explained = " ".join(row[0][1] for row in above if row)
        for code in used:
            assert f"{code} = " in explained, (name, code)
        # Units in every header: a column holding numbers says what they count ("(number)",
        # "(%)"); ratios, p-values and numbering name themselves.
        if name not in ("Contents", "Notes"):
            for j, (_, head) in enumerate(header):
                if any(row[j][0] == "number" for row in body):
                    assert UNIT.search(head), (name, head)
        # [note N] only in titles and headers: never in a data cell (checked above), and a
        # header's reference points at a real note.
    # Contents: every sheet after it, each name a link to the sheet's A1.
    contents = sheets["Contents"]
    (ref,) = book["tables"]["Contents"]
    top = _range(ref)[0]
    listed = [row[0][1] for row in contents[top + 1 :]]
    assert listed == ["Notes", *TABLE_SHEETS]
    links = book["links"]["Contents"]
    for i, name in enumerate(listed, start=top + 1):
        target = links[(i, 0)]
        assert target in (f"'{name}'!A1", f"#{name}.A1"), target
    # Notes: numbered [note 1].., and every note a title refers to exists.
    notes = sheets["Notes"]
    (ref,) = book["tables"]["Notes"]
    top = _range(ref)[0]
    numbers = [row[0][1] for row in notes[top + 1 :]]
    assert numbers == [f"[note {i}]" for i in range(1, len(numbers) + 1)]
    referred = {int(n) for g in sheets.values() for n in NOTE.findall(g[0][0][1])}
    assert referred and referred <= set(range(1, len(numbers) + 1))
    # Numbers are numbers: every numeric column holds numbers or shorthand, never digits as text.
    model = report_workbook(rep)
    for t in rep.tables:
        grid = sheets[t.sheet]
        top = _range(book["tables"][t.sheet][0])[0]
        shown = model.sheet(t.sheet).columns
        assert [v for _, v in grid[top]] == [c.header for c in shown]
        # only a column with nothing in it is left out
        for c in t.columns:
            keys = [x.key for x in shown]
            assert c.key in keys or all(r.get(c.key) is None for r in t.rows), (t.sheet, c.key)
        for i, row in enumerate(t.rows, start=top + 1):
            for j, col in enumerate(shown):
                value = row.get(col.key)
                kind, cell = grid[i][j] if j < len(grid[i]) else (None, None)
                if value is None:
                    assert cell is None
                elif isinstance(value, str):
                    assert (kind, cell) == ("text", value)
                elif col.kind == "percent":
                    assert kind == "number" and cell == C.one_dp(value)
                elif col.kind != "text":
                    assert kind == "number" and cell == pytest.approx(value, rel=1e-12)
                    assert not isinstance(cell, str)


def test_ods_matches_xlsx_cell_for_cell(files):
    x = read_xlsx(files["xlsx"])
    o = read_ods(files["ods"])
    assert list(o["sheets"]) == list(x["sheets"])
    for name, xgrid in x["sheets"].items():
        ogrid = o["sheets"][name]
        assert len(ogrid) == len(xgrid), name
        for i, (xr, orow) in enumerate(zip(xgrid, ogrid)):
            assert len(orow) == len(xr), (name, i)
            for j, ((xk, xv), (ok, ov)) in enumerate(zip(xr, orow)):
                assert xk == ok, (name, i, j, xv, ov)
                if xk == "number":
                    # XLSX keeps 15-16 significant digits, ODS the float's repr
                    assert math.isclose(float(xv), float(ov), rel_tol=1e-14), (name, i, j)
                else:
                    assert xv == ov, (name, i, j)
        assert o["tables"][name] == x["tables"][name], name


def test_ods_reads_back_with_pandas_odf_engine(files):
    """pandas' odf engine (odfpy) is a second, independent ODS reader."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("odf")
    o = pd.read_excel(io.BytesIO(files["ods"]), engine="odf", sheet_name=None, header=None)
    x = read_xlsx(files["xlsx"])["sheets"]
    assert list(o) == list(x)
    for name, frame in o.items():
        grid = x[name]
        for i, row in enumerate(grid):
            for j, (kind, value) in enumerate(row):
                got = frame.iat[i, j]
                if kind is None:
                    assert pd.isna(got), (name, i, j)
                elif kind == "number":
                    assert math.isclose(float(got), float(value), rel_tol=1e-14), (name, i, j)
                else:
                    assert got == value, (name, i, j, got, value)


def test_ods_is_reproducible_and_valid_package(rep, files):
    again = render_ods(
        rep,
        Release(
            title="Interventions bulletin (test)",
            about="About text for the test.",
            source="Source text for the test.",
            contact="analysis@example.gov.uk",
            published="2019-02-28",
        ),
    )
    assert again == files["ods"]
    z = zipfile.ZipFile(io.BytesIO(files["ods"]))
    first = z.infolist()[0]
    # ODF: mimetype first, stored uncompressed
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
    assert z.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
    meta = z.read("meta.xml").decode()
    assert "2019-01-31T00:00:00" in meta and "en-GB" in meta


def test_synthetic_data_are_marked_everywhere(tmp_path):
    import dataclasses

    from hmip_cli.report.html import render_html
    from hmip_cli.report.markdown import render_markdown

    rep = shared_report()
    assert not rep.synthetic  # the fixture's case ids and notes were overwritten
    rep = dataclasses.replace(rep, provenance=dataclasses.replace(rep.provenance, synthetic=True))
    html = render_html(rep)
    assert 'class="banner"' in html and "Synthetic data" in html
    assert "(synthetic data)</h1>" in html
    md = render_markdown(rep, "f")
    assert md.startswith("# The availability and delivery of interventions (synthetic data)")
    assert "Synthetic data" in md.split("\n")[2]
    book = report_workbook(rep)
    cover = book.sheet("Cover")
    assert cover.lines[0].startswith("Synthetic data")
    assert "Synthetic case assessment data made by hmip synth" in " ".join(cover.lines)
    assert "HM Inspectorate of Probation case assessment data" not in " ".join(cover.lines)
    for s in book.sheets[3:]:
        assert any(line.startswith("Synthetic data") for line in s.lines), s.name


def test_synthetic_detection():
    """The store knows synthetic data by what `hmip synth` writes: SYN-/SYX- case ids, or
    its marker in the notes. The bundled example is synthetic; the planted fixture is not."""
    import polars as pl
    from test_report_support import fixture_cases

    from hmip_cli import synth
    from hmip_cli.report.provenance import is_synthetic

    assert is_synthetic(synth.generate(50, 3))
    example = pl.read_csv(
        __import__("pathlib").Path(synth.__file__).parent / "data" / "cases.csv",
        infer_schema=False,
    )
    assert is_synthetic(example)
    assert not is_synthetic(fixture_cases())
    real = pl.DataFrame({"case_id": ["SYN-1", "AB-2"], "notes": [None, "seen at home"]})
    assert not is_synthetic(real)  # one id of another form, no marker: not synthetic
    assert is_synthetic(real.with_columns(notes=pl.lit(synth.NOTE_MARKER + " x")))


def test_break_in_series_is_explained_wherever_it_is_used(tmp_path):
    """[b] (trend tables) is defined wherever it appears, in a header or a cell: above the
    table in the workbook, in the HTML page of a table command, and in the report writers'
    legend; a table without codes gets no legend."""
    import polars as pl

    from hmip_cli.render import Table
    from hmip_cli.report.html import tables_page
    from hmip_cli.report.shorthand import legend_lines, used_codes
    from hmip_cli.report.workbook import tables_workbook

    frame = pl.DataFrame({"year": ["2020", "2021 [b]"], "n": [120, 131], "marker": [None, "[b]"]})
    book = tables_workbook([Table(frame, "Trend")], date=None)
    sheet = book.sheets[-1]
    assert "[b] = break in series" in sheet.lines
    header_only = pl.DataFrame({"n (2021 [b])": [1]})
    assert any(
        line.startswith("[b] = ")
        for line in tables_workbook([Table(header_only, "T")]).sheets[-1].lines
    )
    page = tables_page([Table(frame, "Trend")])
    assert page.index("[b] = break in series") < page.index('<table id="table-1">')
    cols = [C.Column("year", "Year"), C.Column("n", "Cases [b]", "count")]
    assert used_codes(cols, [{"year": "2020", "n": 1}]) == ["[b]"]
    assert legend_lines([]) == []
    plain = pl.DataFrame({"year": ["2020"], "n": [1]})
    assert not any("[b]" in line for line in tables_workbook([Table(plain, "T")]).sheets[-1].lines)


def test_report_explains_each_used_code_above_its_table(rep):
    """HTML and Markdown: every table that shows a code has its legend just above it, and
    only the codes it uses."""
    from hmip_cli.render import markdown_escape as md_escape
    from hmip_cli.report.html import render_html
    from hmip_cli.report.markdown import render_markdown
    from hmip_cli.report.shorthand import used_codes

    html = render_html(rep)
    md = render_markdown(rep, "f")
    with_codes = 0
    for t in rep.tables:
        codes = used_codes(t.columns, t.rows)
        at = html.index(f'<table id="{t.id}">')
        before = html[html.rindex("<section", 0, at) : at]
        md_at = md.index(f'<a id="{t.id}"></a>')
        md_block = md[md_at : md.index("| ", md_at)]
        for code in SHORTHAND:
            assert (f"{code} = " in before) == (code in codes), (t.id, code)
            assert (md_escape(f"{code} = ") in md_block) == (code in codes), (t.id, code)
        with_codes += bool(codes)
    assert with_codes >= 3
