"""render.py: the shared formats, rounding, Rich markup safety, NO_COLOR, broken pipes."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_json_support import doc
from test_json_support import rows as json_rows

from hmip_cli.render import Format, Table, percent_text, round_1dp, to_text, write_text


def _half_up_reference(n_yes: int, n: int) -> str:
    # Exact rational arithmetic: floor(1000 * k / n + 1/2), shown as tenths.
    tenths = int(Fraction(1000 * n_yes, n) + Fraction(1, 2))
    return f"{tenths // 10}.{tenths % 10}"


def test_percent_text_rounds_half_up_on_the_exact_fraction():
    assert percent_text(99, 144) == "68.8"  # 68.75 exactly; the bulletin printed 68.7
    assert percent_text(1, 8) == "12.5"
    assert percent_text(1, 800) == "0.1"  # 0.125 -> 0.1 (not a tie at one decimal)
    assert percent_text(1, 400) == "0.3"  # 0.25 -> 0.3 (f"{0.25:.1f}" gives 0.2)
    assert percent_text(0, 7) == "0.0" and percent_text(7, 7) == "100.0"
    with pytest.raises(ValueError):
        percent_text(0, 0)


@settings(max_examples=500, deadline=None)  # timing is not what this tests; CI machines are shared
@given(n=st.integers(1, 100_000), frac=st.floats(0, 1))
def test_percent_text_and_round_1dp_agree_with_exact_arithmetic(n, frac):
    k = int(round(frac * n))
    want = _half_up_reference(k, n)
    assert percent_text(k, n) == want
    assert round_1dp(100 * k / n).replace(",", "") == want


def test_round_1dp_signs():
    assert round_1dp(-0.25, signed=True) == "-0.3"
    assert round_1dp(3.0, signed=True) == "+3.0"
    assert round_1dp(-0.04, signed=True) == "0.0"
    assert round_1dp(1234.56) == "1,234.6"


def _table():
    frame = pl.DataFrame(
        {
            "group": ["[bold]North", "South"],
            "n": [1200, 3],
            "percent_yes": [68.75, None],
            "cell": ["[c]", "12.5 [u]"],
        }
    )
    return Table(
        frame,
        title="Rates [by region]",
        notes=["[z] not applicable"],
        display={"percent_yes": "% yes"},
        percent_columns=("percent_yes",),
        right_aligned=("cell",),
    )


def test_rich_table_keeps_square_brackets_and_rounds_half_up():
    text = to_text([_table()], Format.table)
    assert "Rates [by region]" in text
    assert (
        "[bold]North" in text
        and "[c]" in text
        and "12.5 [u]" in text
        and "[z] not applicable" in text
    )
    assert "68.8" in text and "1,200" in text and "% yes" in text
    assert "\x1b[" not in text


def test_markdown_escapes_pipes_and_markers():
    # One escaper for every Markdown output (render.markdown_escape): a shorthand code is
    # written \[c\], which every CommonMark renderer shows as [c] and which can never start a
    # link (until issue 9 item 7 the table commands kept "[c]" raw, the report escaped it).
    t = Table(pl.DataFrame({"a": ["x|y"], "b": ["[c]"], "c": ["*bold* _it_ `code`"]}), title="T")
    text = to_text([t], Format.markdown)
    assert "x\\|y" in text and "| \\[c\\] |" in text and text.startswith("### T")
    assert "\\*bold\\* \\_it\\_ \\`code\\`" in text


def test_one_markdown_escaper_for_tables_and_the_report():
    import hmip_cli.report.markdown as report_markdown
    from hmip_cli.render import markdown_escape

    assert report_markdown.markdown_escape is markdown_escape
    assert not hasattr(report_markdown, "md_escape")


def test_machine_formats_keep_full_precision_and_nulls():
    t = _table()
    rows = json_rows(to_text([t], Format.json))
    assert rows[0]["percent_yes"] == 68.75 and rows[1]["percent_yes"] is None
    csv = to_text([t], Format.csv)
    assert csv.splitlines()[0] == "group,n,percent_yes,cell"
    back = pl.read_csv(io.StringIO(csv))
    assert back["percent_yes"].to_list() == [68.75, None]
    tsv = to_text([t], Format.tsv)
    assert tsv.splitlines()[1].split("\t")[0] == "[bold]North"


def test_several_tables_stack_into_one_csv_stream_and_one_json_document():
    a = Table(pl.DataFrame({"x": [1]}), title="A", notes=["same note"])
    b = Table(pl.DataFrame({"y": ["z"]}), title="B b", notes=["same note", "other"])
    csv = to_text([a, b], Format.csv).splitlines()
    assert csv[0] == "table,x,y" and csv[1] == "a,1," and csv[2] == "b_b,,z"
    both = doc(to_text([a, b], Format.json))
    assert both["tables"] == [
        {
            "name": "a",
            "title": "A",
            "columns": [{"name": "x", "type": "integer"}],
            "rows": [{"x": 1}],
        },
        {
            "name": "b_b",
            "title": "B b",
            "columns": [{"name": "y", "type": "string"}],
            "rows": [{"y": "z"}],
        },
    ]
    assert both["notes"] == ["same note", "other"]  # each once, as people see them
    assert both["command"] is None and both["parameters"] == {}  # a library call
    clash = Table(pl.DataFrame({"table": [1]}), title="C")
    assert to_text([a, clash], Format.csv).splitlines()[0] == "table_name,x,table"
    same = [Table(pl.DataFrame({"x": [1]}), title="T"), Table(pl.DataFrame({"x": [2]}), title="T")]
    assert [t["name"] for t in doc(to_text(same, Format.json))["tables"]] == ["t", "t_2"]


def test_write_text_to_file_is_atomic_and_exact(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    write_text("héllo\n", target)
    assert target.read_text(encoding="utf-8") == "héllo\n"


def test_write_text_survives_a_closed_pipe():
    code = textwrap.dedent("""
        from hmip_cli.render import write_text
        write_text("x" * 80 + "\\n" * 1 + ("y" * 99 + "\\n") * 20000)
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 0
    assert err == ""


def test_table_output_prints_a_shared_note_once_and_every_distinct_note():
    from hmip_cli.render import Format, Table, to_text

    frame = pl.DataFrame({"factor": ["a"], "n": [3]})
    shared, first_only, second_only = (
        "Shared rounding note.",
        "Note of table one.",
        "Note of table two.",
    )
    text = to_text(
        [
            Table(frame, "One", notes=[first_only, shared]),
            Table(frame, "Two", notes=[shared, second_only]),
        ],
        Format.table,
    )
    assert text.count(shared) == 1
    assert first_only in text and second_only in text
    # Machine and Markdown formats are untouched: each Markdown table keeps its own notes.
    md = to_text(
        [Table(frame, "One", notes=[shared]), Table(frame, "Two", notes=[shared])], Format.markdown
    )
    assert md.count(shared) == 2
