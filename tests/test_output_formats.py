"""`-o FILE` picks the format from the extension on every table command, and an extension
that contradicts --format is a usage error (exit 2). Before, `hmip rates -o rates.csv`
wrote a box-drawn table and `-o rates.xlsx` wrote text, both with exit 0."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from test_json_support import doc
from test_regress_cli import BW
from test_report_support import write_fixture_store
from typer.testing import CliRunner

from hmip_cli.cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory) -> Path:
    return write_fixture_store(tmp_path_factory.mktemp("fmt") / "store")


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


COMMANDS = {
    "rates": ["rates", "--measure", "delivery"],
    "protection": ["protection"],
    "sample": ["sample"],
    "regress": ["regress", "--input", BW, "--outcome", "low", "--candidates", "ptd,ht"],
}


def _args(store_dir, cmd):
    # regress reads its --input file, and --data beside --input is a usage error
    return COMMANDS[cmd] if cmd == "regress" else [*COMMANDS[cmd], "--data", store_dir]


def _stdout(store_dir, cmd, fmt):
    res = invoke(*_args(store_dir, cmd), "--format", fmt)
    assert res.exit_code == 0, res.stderr
    return res.stdout


@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_extension_picks_the_format(store_dir, tmp_path, cmd):
    for ext, fmt in (("csv", "csv"), ("tsv", "tsv"), ("json", "json"), ("md", "markdown")):
        path = tmp_path / f"out.{ext}"
        res = invoke(*_args(store_dir, cmd), "-o", path)
        if cmd == "regress" and fmt in ("csv", "tsv"):  # several tables: one file per table
            assert res.exit_code == 2 and f"-o {tmp_path / 'out'}/" in res.stderr, res.stderr
            assert not path.exists()
            continue
        assert res.exit_code == 0, res.stderr
        assert path.read_text(encoding="utf-8") == _stdout(store_dir, cmd, fmt), (cmd, ext)
    path = tmp_path / "out.json"
    assert invoke(*_args(store_dir, cmd), "-o", path).exit_code == 0
    doc(path.read_text())
    csv = pl.read_csv(io.StringIO(_stdout(store_dir, cmd, "csv")), infer_schema_length=None)
    for ext in ("xlsx", "ods"):
        path = tmp_path / f"out.{ext}"
        res = invoke(*_args(store_dir, cmd), "-o", path)
        assert res.exit_code == 0, res.stderr
        if ext == "xlsx":
            wb = openpyxl.load_workbook(path)
            assert wb.sheetnames[:3] == ["Cover", "Contents", "Notes"]
            ws = wb[wb.sheetnames[3]]
            rows = list(ws.iter_rows(values_only=True))
            assert rows[0][0]  # title in A1
            if cmd != "regress":  # one table: the CSV's columns and numbers, as numbers
                header = next(i for i, r in enumerate(rows) if r[0] == csv.columns[0])
                shown = [c for c in rows[header] if c is not None]
                assert set(shown) <= set(csv.columns)
                first = dict(zip(rows[header], rows[header + 1]))
                for col in shown:
                    want = csv[col][0]
                    if csv[col].dtype.is_numeric() and want is not None:
                        assert isinstance(first[col], (int, float)), (cmd, col, first[col])
                        assert first[col] == pytest.approx(want, rel=1e-12)
        else:
            import zipfile

            with zipfile.ZipFile(path) as z:
                assert z.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
    path = tmp_path / "out.html"
    res = invoke(*_args(store_dir, cmd), "-o", path)
    assert res.exit_code == 0, res.stderr
    html = path.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<table" in html and "<caption>" in html


def test_contradicting_extension_is_a_usage_error(store_dir, tmp_path):
    cases = [
        [*COMMANDS["rates"], "--format", "csv", "-o", tmp_path / "x.xlsx"],
        [*COMMANDS["sample"], "--format", "json", "-o", tmp_path / "x.csv"],
        [*COMMANDS["regress"], "--format", "table", "-o", tmp_path / "x.ods"],
        ["report", "--format", "xlsx", "-o", tmp_path / "x.ods"],
        ["chart", "figure1", "--format", "png", "-o", tmp_path / "x.svg"],
        [*COMMANDS["rates"], "-o", tmp_path / "x.svg"],
    ]
    for args in cases:
        res = invoke(*args, "--data", store_dir)
        assert res.exit_code == 2, (args, res.stderr)
        assert "Traceback" not in res.stderr and "Error:" in res.stderr, res.stderr
        assert not list(tmp_path.glob("x.*")), args
    # the same format twice is fine, and an unknown extension keeps --format
    res = invoke(
        *COMMANDS["rates"], "--format", "csv", "-o", tmp_path / "y.csv", "--data", store_dir
    )
    assert res.exit_code == 0 and (tmp_path / "y.csv").read_text().startswith("figure,")
    res = invoke(
        *COMMANDS["rates"], "--format", "csv", "-o", tmp_path / "y.out", "--data", store_dir
    )
    assert res.exit_code == 0 and (tmp_path / "y.out").read_text().startswith("figure,")
    res = invoke(*COMMANDS["rates"], "--format", "xlsx", "--data", store_dir)
    assert res.exit_code == 2 and "--output" in res.stderr
