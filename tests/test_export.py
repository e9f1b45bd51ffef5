"""`hmip export` (issue 9, item 6): the store's cleaned cases as CSV/TSV/Parquet/XLSX;
case ids and notes left out unless --include-identifiers; --where; ingest reads every
export back; outputs only where fileio allows."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest
from test_ingest_support import SECRETS, as_text, digest, make_cases, planted, write_csv

from hmip_cli import schema, store
from hmip_cli.export import META_KEY, export_bytes, export_cases

FORMATS = ("csv", "tsv", "parquet", "xlsx")
ANALYSIS = [c for c in schema.stored_schema() if c not in schema.IDENTIFYING_COLUMNS]


@pytest.fixture
def planted_store(tmp_path, cli) -> Path:
    """A store of 40 cases with distinctive ids and notes (tricky text in some notes)."""
    data = tmp_path / "planted"
    text = planted(30, seed=11)
    other = as_text(make_cases(10, seed=12, prefix="ZQXID-B"))  # quotes, commas, unicode
    both = pl.concat([text, other])
    src = tmp_path / "planted.csv"
    both.write_csv(src)
    assert cli("ingest", src, "--data", data).exit_code == 0
    return data


def _analysis(data: Path) -> pl.DataFrame:
    return store.load_cases(data, identifying=False).select(ANALYSIS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_with_identifiers_ingests_to_the_same_store_content(
    planted_store, tmp_path, cli, fmt
):
    out = tmp_path / f"cases.{fmt}"
    r = cli("export", "--data", planted_store, "--include-identifiers", "-o", out)
    assert r.exit_code == 0, r.stderr
    assert "Exported 40 cases (67 columns; with case ids and notes)" in r.stderr
    again = tmp_path / f"again-{fmt}"
    r = cli("ingest", out, "--data", again)
    assert r.exit_code == 0, r.stderr
    # Same content hash: every value of every column (ids and notes too), in the same order.
    assert store.store_info(again).content_hash == store.store_info(planted_store).content_hash


@pytest.mark.parametrize("fmt", FORMATS)
def test_default_export_leaves_out_ids_and_notes_and_keeps_the_analysis_data(
    planted_store, tmp_path, cli, fmt
):
    out = tmp_path / f"cases.{fmt}"
    r = cli("export", "--data", planted_store, "-o", out)
    assert r.exit_code == 0, r.stderr
    assert "case ids and notes left out" in r.stderr
    raw = out.read_bytes()
    for secret in SECRETS:
        assert secret.encode() not in raw and secret not in r.stderr + r.stdout
    assert "café".encode() not in raw and b"quoted" not in raw  # the other notes
    back = _read_back(out, fmt)
    assert back.columns == ANALYSIS
    # Ingest needs ids: supply row numbers, and the analysis data is what the store holds.
    with_ids = back.with_columns(pl.format("R{}", pl.int_range(pl.len())).alias("case_id"))
    src = tmp_path / "with_ids.csv"
    with_ids.write_csv(src)
    again = tmp_path / f"again-{fmt}"
    assert cli("ingest", src, "--data", again).exit_code == 0
    assert _analysis(again).equals(_analysis(planted_store))


def _read_back(path: Path, fmt: str) -> pl.DataFrame:
    if fmt == "parquet":
        return pl.read_parquet(path)
    if fmt == "xlsx":
        return pl.read_excel(path, sheet_name="Cases", infer_schema_length=0)
    return pl.read_csv(path, separator="\t" if fmt == "tsv" else ",", infer_schema=False)


def test_parquet_keeps_the_stored_types_and_says_what_it_holds(planted_store, tmp_path, cli):
    out = tmp_path / "cases.parquet"
    assert cli("export", "--data", planted_store, "-o", out).exit_code == 0
    got = pl.read_parquet(out)
    assert got.schema == pl.Schema({c: schema.stored_schema()[c] for c in ANALYSIS})
    assert got.equals(_analysis(planted_store))
    meta = json.loads(pl.read_parquet_metadata(out)[META_KEY])
    assert meta == {
        "n_cases": 40,
        "columns_left_out": ["case_id", "notes"],
        "where": None,
        "store_content_hash": store.store_info(planted_store).content_hash,
    }
    assert store.META_KEY not in pl.read_parquet_metadata(out)  # never taken for a store


def test_csv_to_stdout_matches_the_library(planted_store, cli):
    r = cli("export", "--data", planted_store)
    assert r.exit_code == 0
    got = export_cases(planted_store)
    assert r.stdout.encode() == export_bytes(got.frame, "csv")
    lines = r.stdout.splitlines()
    assert lines[0] == ",".join(ANALYSIS) and len(lines) == 41


def test_xlsx_types_numbers_and_dates(planted_store, tmp_path, cli):
    out = tmp_path / "cases.xlsx"
    assert cli("export", "--data", planted_store, "-o", out).exit_code == 0
    got = pl.read_excel(out, sheet_name="Cases")
    assert got.schema["age"].is_integer()
    assert got.schema["inspection_date"] in (pl.Date, pl.Datetime)
    assert set(got["accommodation_priority"].to_list()) <= {"yes", "no"}


def test_where_exports_only_the_selected_cases(example_store, tmp_path, cli):
    out = tmp_path / "durham.csv"
    r = cli("export", "--where", "inspection=Durham", "-w", "age_group=under 30", "-o", out)
    assert r.exit_code == 0, r.stderr
    got = pl.read_csv(out, infer_schema=False)
    cases = store.load_cases(example_store)
    expect = cases.filter((pl.col("inspection") == "Durham") & (pl.col("age") < 30))
    assert got.height == expect.height > 0
    assert set(got["inspection"]) == {"Durham"}
    assert all(int(a) < 30 for a in got["age"])
    assert f"Exported {expect.height} cases where inspection = Durham" in r.stderr
    r = cli("export", "--where", "inspection=Nowhere")
    assert r.exit_code == 2 and "Nowhere" in r.stderr and r.stdout == ""


def test_text_a_spreadsheet_would_run_is_neutralised_in_csv_only(tmp_path, cli):
    cases = make_cases(3, seed=2).with_columns(inspection=pl.lit("=HYPERLINK(1)"))
    data = tmp_path / "s"
    assert cli("ingest", write_csv(cases, tmp_path / "c.csv"), "--data", data).exit_code == 0
    csv_text = cli("export", "--data", data).stdout
    assert "'=HYPERLINK(1)" in csv_text
    out = tmp_path / "c.xlsx"
    assert cli("export", "--data", data, "-o", out).exit_code == 0
    from openpyxl import load_workbook

    ws = load_workbook(out)["Cases"]
    cell = ws.cell(row=2, column=1)
    assert cell.value == "=HYPERLINK(1)" and cell.data_type == "s"  # text, not a formula


@pytest.mark.parametrize(
    "args, says",
    [
        (["-f", "parquet"], "parquet output needs --output FILE.parquet"),
        (["-o", "x.json"], "writes .csv, .tsv, .parquet or .xlsx"),
        (["-f", "csv", "-o", "x.xlsx"], "--format csv contradicts the file name"),
        (["-f", "html"], "'html' is not one of"),
    ],
)
def test_usage_mistakes(example_store, tmp_path, cli, args, says):
    os.chdir(tmp_path)
    r = cli("export", *args)
    assert r.exit_code == 2 and says in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []


def test_no_store(tmp_path, cli):
    r = cli("export", "--data", tmp_path / "none")
    assert r.exit_code == 2 and "no store at" in r.stderr and r.stdout == ""


@pytest.mark.parametrize("kind", ["symlink", "fifo", "inside store", "directory"])
def test_unsafe_targets_are_refused(example_store_copy, tmp_path, cli, kind):
    before = digest(example_store_copy)
    if kind == "symlink":
        victim = tmp_path / "victim.csv"
        victim.write_bytes(b"precious")
        target = tmp_path / "out.csv"
        target.symlink_to(victim)
        expect = "is a symbolic link"
    elif kind == "fifo":
        target = tmp_path / "out.csv"
        os.mkfifo(target)
        expect = "named pipe (FIFO), not a regular file"
    elif kind == "directory":
        target = tmp_path / "out.csv"
        target.mkdir()
        expect = "is a directory"  # said by the option parser
    else:
        target = example_store_copy / "out.parquet"
        expect = "inside the store directory"
    r = cli("export", "--include-identifiers", "-o", target)
    assert r.exit_code == 2 and r.stderr.count("Error:") == 1, r.stderr
    assert expect in r.stderr and ("cannot write" in r.stderr or kind == "directory")
    assert digest(example_store_copy) == before
    if kind == "symlink":
        assert target.is_symlink() and victim.read_bytes() == b"precious"
    assert not list(tmp_path.glob(".*.tmp")) and not list(example_store_copy.glob(".*.tmp"))


def test_an_existing_export_is_replaced_whole(example_store, tmp_path, cli):
    out = tmp_path / "cases.csv"
    out.write_text("old\n")
    assert cli("export", "-o", out).exit_code == 0
    assert out.read_text().startswith("inspection,") and len(out.read_text().splitlines()) == 1067
