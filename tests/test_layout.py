"""One "result -> titled table" layer (issue 9 item 7): `layout.Grid` is what every format
for people reads, so a cell reads the same on the terminal, in Markdown, in HTML and (as a
number) in the workbook, and p-values have one formatter with two named styles."""

from __future__ import annotations

import re
from html import unescape

import polars as pl
import pytest

from hmip_cli import layout
from hmip_cli.render import Format, Table, markdown_escape, to_text
from hmip_cli.report import content as C
from hmip_cli.report.html import tables_page
from hmip_cli.report.workbook import tables_workbook


def _table(**kw) -> Table:
    frame = pl.DataFrame(
        {
            "group": ["North", "South"],
            "n": [1200, 3],
            "percent_yes": [68.75, 0.25],
            "b": [-0.0001, 2.5],
            "p": [0.0423, 0.00001],
            "cell": ["68.8 [u]", "[c]"],
        }
    )
    return Table(
        frame,
        "Rates",
        notes=["n: applicable cases."],
        display={"group": "Group", "percent_yes": "% yes"},
        percent_columns=("percent_yes",),
        p_columns=("p",),
        right_aligned=("cell",),
        **kw,
    )


EXPECTED = [
    ["North", "1,200", "68.8", "0.000", ".042", "68.8 [u]"],
    ["South", "3", "0.3", "2.500", "<.001", "[c]"],  # 0.25 -> 0.3: half up, not to even
]


def test_a_table_layout_is_its_grid():
    g = _table().layout()
    assert [c.header for c in g.columns] == ["Group", "n", "% yes", "b", "p", "cell"]
    assert [c.kind for c in g.columns] == ["text", "count", "percent_exact", "decimal", "p", "text"]
    assert [c.right for c in g.columns] == [False, True, True, True, True, True]
    assert [c.unit for c in g.columns][:3] == [None, "number", "%"]
    assert g.cells() == EXPECTED  # regress's tables: SPSS's Sig. style by default


def test_every_writer_shows_the_same_cells():
    t = _table()
    md = to_text([t], Format.markdown)
    md_rows = [line for line in md.splitlines() if line.startswith("| North") or "| South" in line]
    assert md_rows == [
        "| " + " | ".join(markdown_escape(x) for x in row) + " |" for row in EXPECTED
    ]
    assert "|---|---:|---:|---:|---:|---:|" in md  # alignment from the same columns
    page = tables_page([t])
    cells = [unescape(x) for x in re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", page)]
    assert cells[6:] == [x for row in EXPECTED for x in row]
    text = to_text([t], Format.table)
    for row in EXPECTED:
        assert all(x in text for x in row)
    # the workbook keeps numbers as numbers, under the same headers and kinds
    sheet = tables_workbook([t]).sheets[-1]
    assert [c.header for c in sheet.columns] == [c.header for c in t.layout().columns]
    assert sheet.rows[0]["percent_yes"] == 68.75 and sheet.rows[0]["p"] == 0.0423


def test_p_style_is_one_parameter_of_one_function():
    t = _table(p_style="publication")
    assert [row[4] for row in t.layout().cells()] == ["0.042", "<0.001"]
    for fmt in (Format.table, Format.markdown):
        out = to_text([t], fmt)
        assert "0.042" in out and ".042 " not in out.replace("0.042", "")
    assert '<td class="num">0.042</td>' in tables_page([t])
    with pytest.raises(ValueError, match="p style"):
        _table(p_style="apa").layout().cells()
    # the report's tables are Grids; their p reads in the publication style
    col = layout.Column("p", "p", "p")
    assert C.cell_text(col, 0.0423) == "0.042" and C.cell_text(col, 1e-5) == "<0.001"
    assert C.DocTable is layout.Grid


def test_report_cells_read_as_before():
    # (the report.md snapshot pins the whole report; these are the kinds one by one)
    Col = layout.Column
    assert C.cell_text(Col("x", "x", "percent"), 68.75) == "68.8"
    assert C.cell_text(Col("x", "x", "percent"), 100) == "100.0"
    assert C.cell_text(Col("x", "x", "ratio"), 2.345) == "2.35"
    assert C.cell_text(Col("x", "x", "count"), 1066) == "1,066"
    assert C.cell_text(Col("x", "x", "count"), "[c]") == "[c]"
    assert C.cell_text(Col("x", "x"), True) == "yes" and C.cell_text(Col("x", "x"), None) == ""


def test_the_html_page_explains_markers_with_the_min_n_in_force():
    """`hmip rates --min-n 100 -o rates.html` (or .xlsx): the legend above a table said
    "fewer than 30" (the default) while the note below said 100; the rates tables now carry
    their own legend (tables.marker_notes with the --min-n in force), above the table
    everywhere, and the machine view its --min-n (render.Table.min_n) for the workbook's."""
    from hmip_cli import framework, synth
    from hmip_cli import rates as R
    from hmip_cli import tables as T
    from hmip_cli.framework import derive

    cases = derive.with_derived(framework.default(), synth.generate(300, 3))
    frame = R.rates(cases, min_n=100, suppress=True)
    tables = T.rates_human(frame, min_n=100)
    page = unescape(tables_page(tables))
    assert "fewer than 100 applicable cases" in page
    assert "fewer than 30 " not in page
    text = to_text(tables[:1], Format.table)
    assert text.index("fewer than 100") < text.index("Accommodation")  # above the table
    # the spreadsheet (`-o rates.xlsx`: the machine view) said 30 as well
    book = tables_workbook(T.rates_tables(frame, Format.xlsx, min_n=100))
    lines = [x for sheet in book.sheets for x in sheet.lines]
    assert "[u] = low reliability: based on fewer than 100 applicable cases" in lines or (
        "[c] = confidential: suppressed, because fewer than 100 applicable cases are behind "
        "it or to protect confidentiality (disclosure control)" in lines
    )
    assert not any("fewer than 30 " in x for x in lines)
