"""hmip schema: the data dictionary covers every column; templates carry the canonical header."""

from __future__ import annotations

import polars as pl
from test_json_support import rows as json_rows
from typer.testing import CliRunner

from hmip_cli import schema
from hmip_cli.cli.app import app

runner = CliRunner()


def test_dictionary_lists_every_stored_and_derived_column():
    result = runner.invoke(app, ["schema", "--format", "json"])
    assert result.exception is None and result.exit_code == 0
    rows = json_rows(result.stdout, "dictionary")
    assert [r["name"] for r in rows] == [c.name for c in schema.COLUMNS] + [
        c.name for c in schema.DERIVED
    ]
    by = {r["name"]: r for r in rows}
    assert (
        by["supervision"]["allowed_values"]
        == "community (Community sentence); post_custody (Post-custody)"
    )
    assert by["age"]["allowed_values"] == "16 to 100"
    assert by["case_id"]["required"] is True
    assert (
        "priority is yes"
        in by[schema.judgement_column("accommodation", "availability")]["applicable"]
    )
    assert by["age_group"]["kind"] == "derived"
    assert result.stderr == ""


def test_dictionary_as_csv_and_table():
    csv = runner.invoke(app, ["schema", "--format", "csv"])
    assert csv.exit_code == 0
    assert (
        csv.stdout.splitlines()[0]
        == "name,type,required,allowed_values,applicable,kind,description"
    )
    table = runner.invoke(app, ["schema"])
    assert table.exit_code == 0 and "ogrs_band" in table.stdout


def test_csv_template_has_the_canonical_header_and_ingests_as_no_cases(tmp_path):
    path = tmp_path / "t.csv"
    result = runner.invoke(app, ["schema", "--template", str(path)])
    assert result.exit_code == 0 and result.stdout == ""
    assert path.read_text().strip().split(",") == [c.name for c in schema.COLUMNS]
    ingest = runner.invoke(app, ["ingest", str(path), "--data", str(tmp_path / "s")])
    assert ingest.exit_code == 1 and "no cases" in ingest.stderr


def test_xlsx_template_round_trips_through_ingest(tmp_path):
    path = tmp_path / "t.xlsx"
    assert runner.invoke(app, ["schema", "--template", str(path)]).exit_code == 0
    header = pl.read_excel(path, sheet_name="Cases", infer_schema_length=0, has_header=False)
    assert list(header.row(0)) == [c.name for c in schema.COLUMNS]
    dictionary = pl.read_excel(path, sheet_name="Dictionary")
    assert dictionary.height == len(schema.COLUMNS)


def test_template_with_other_extension_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["schema", "--template", str(tmp_path / "t.json")])
    assert result.exit_code == 2 and ".csv or .xlsx" in result.stderr
