"""Text from the data cannot take over a spreadsheet, a Markdown page or a terminal
(issue 8, item 12): CSV/TSV cells that a spreadsheet would run as formulas get a leading
apostrophe (numbers stay numbers), Markdown escapes HTML and line breaks, terminal tables
drop control characters and ANSI/OSC escapes."""

from __future__ import annotations

import csv
import io
import re

import polars as pl
import pytest
from typer.testing import CliRunner

from hmip_cli import synth
from hmip_cli.cli.app import app
from hmip_cli.render import Format, Table, csv_safe, spreadsheet_safe, strip_controls, to_text

runner = CliRunner()
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize(
    "text, safe",
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-", "'-"),
        ("-3.5", "-3.5"),  # a number written as text is not a formula
        ("+1,200", "+1,200"),
        ("Durham", "Durham"),
    ],
)
def test_spreadsheet_safe(text, safe):
    assert spreadsheet_safe(text) == safe


def test_csv_cells_neutralised_numbers_kept():
    frame = pl.DataFrame(
        {
            "group": ['=HYPERLINK("http://x")', "@A1", "Leeds"],
            "difference_pp": [-12.5, 3.0, -0.1],
            "n": [-1, 2, 3],
        }
    )
    assert csv_safe(frame)["group"].to_list() == ['\'=HYPERLINK("http://x")', "'@A1", "Leeds"]
    for fmt, sep in ((Format.csv, ","), (Format.tsv, "\t")):
        rows = list(csv.reader(io.StringIO(to_text([Table(frame)], fmt)), delimiter=sep))
        assert [r[0][:1] for r in rows[1:]] == ["'", "'", "L"]
        assert [r[1] for r in rows[1:]] == ["-12.5", "3.0", "-0.1"]  # still numbers
        assert [r[2] for r in rows[1:]] == ["-1", "2", "3"]


def test_terminal_tables_drop_escapes_and_controls():
    evil = "\x1b]0;pwned\x07North\x1b[2J\x1b[31m\x9b\x00\u202eX"
    t = Table(
        pl.DataFrame({"group": [evil], "n": [5]}),
        title="T\x1b]8;;http://x\x1b\\link",
        notes=["note\x1b[1A\x07"],
        display={"group": "Gr\x1b[5moup"},
    )
    text = to_text([t], Format.table)
    assert "North" in text and "link" in text and "Group" in text
    for bad in ("\x1b", "\x07", "\x9b", "\x00", "\u202e", "pwned", "http://x"):
        assert bad not in text
    assert strip_controls("a\nb\tc") == "a\nb c"
    assert strip_controls("a\nb", keep_newlines=False) == "a b"


def test_markdown_escapes_html_and_newlines():
    t = Table(
        pl.DataFrame({"group": ["<script>alert(1)</script>", "two\nlines", "[x](javascript:y)"]}),
        title="<img src=x>",
        notes=["a & b"],
    )
    text = to_text([t], Format.markdown)
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "<img" not in text and "a &amp; b" in text
    assert "| two lines |" in text  # a line break in data cannot end the row
    assert re.search(r"(?<!\\)\]\(", text) is None  # no unescaped "](": never a link
    assert "\\[x\\](javascript:y)" in text


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory):
    from hmip_cli.ingest import ingest_files

    d = tmp_path_factory.mktemp("hostile")
    cases = synth.generate(300, seed=3)
    names = sorted(set(cases["inspection"].to_list()))
    hostile = {names[0]: '=HYPERLINK("http://x")', names[1]: "@SUM(1)", names[2]: "+cmd"}
    cases = cases.with_columns(pl.col("inspection").replace(hostile))
    path = d / "=cmd.csv"  # the source file name goes into `hmip info`
    synth.write_csv(cases, path)
    ingest_files([path], data=d / "store")
    return d / "store"


@pytest.mark.slow
def test_no_command_writes_a_formula_cell(hostile_store):
    commands = [
        ["info"],
        ["sample", "--by", "inspection"],
        ["rates", "--measure", "delivery", "--by", "inspection"],
        ["protection", "--by", "inspection"],
        [
            "regress",
            "--factor",
            "accommodation",
            "--measure",
            "delivery",
            "--candidates",
            "inspection,provider",
        ],
    ]
    for args in commands:
        for fmt, sep in (("csv", ","), ("tsv", "\t")):
            r = runner.invoke(app, [*args, "--data", str(hostile_store), "--format", fmt])
            assert r.exit_code == 0, (args, r.stderr)
            rows = list(csv.reader(io.StringIO(r.stdout), delimiter=sep))
            header = rows[0]
            cells = [(h, c) for row in rows[1:] for h, c in zip(header, row)]
            formulas = [
                (h, c) for h, c in cells if c.startswith(DANGEROUS) and c != spreadsheet_safe(c)
            ]
            assert not formulas, (args, formulas[:5])
            if "provider" not in args:  # the hostile names are in these outputs, made safe
                assert any(c.startswith("'=HYPERLINK") or c == "'=cmd.csv" for _, c in cells)
    # Negative differences stay numbers in rates.
    r = runner.invoke(
        app,
        [
            "rates",
            "--by",
            "provider",
            "--measure",
            "delivery",
            "--data",
            str(hostile_store),
            "--format",
            "csv",
        ],
    )
    diffs = pl.read_csv(io.StringIO(r.stdout))["difference_pp"].drop_nulls()
    assert diffs.dtype == pl.Float64 and (diffs < 0).any()
