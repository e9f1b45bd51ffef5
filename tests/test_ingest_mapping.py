"""Mapping files: parsing, unknown keys named, recodes, column renames and leaving out."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from test_ingest_support import as_text, digest, make_cases
from typer.testing import CliRunner

from hmip_cli import store
from hmip_cli.cli.app import app
from hmip_cli.errors import BadInput
from hmip_cli.ingest import parse_mapping

runner = CliRunner()


def test_parse_full_example_from_docs():
    text = (
        (Path(__file__).resolve().parents[1] / "docs" / "mapping.md")
        .read_text()
        .split("```toml")[1]
        .split("```")[0]
    )
    m = parse_mapping(text, name="example.toml")
    assert m.file == {
        "inspection": "Durham",
        "inspection_date": "2016-08-15",
        "sheet": "Cases",
        "encoding": "utf-8",
    }
    assert m.columns["Case ref"] == "case_id" and m.columns["Officer initials"] == ""
    assert (
        m.values["*"]["N/A"] == ""
        and m.values["provider"]["Community Rehabilitation Company"] == "CRC"
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[colums]\n", "unknown section [colums]"),
        ("[file]\ninspector = 'x'\n", "unknown key 'inspector'"),
        ("[columns]\n'Ref' = 'case_idd'\n", "unknown column 'case_idd'"),
        ("[values]\nprovidr = { 'a' = 'b' }\n", "unknown column 'providr'"),
        ("[values]\nprovider = { 'a' = 1 }\n", "must be text"),
        ("[columns]\n'A' = 'age'\n'B' = 'age'\n", "both map to 'age'"),
        ("[file\n", "not valid TOML"),
    ],
)
def test_mistakes_in_a_mapping_are_named(text, needle):
    with pytest.raises(BadInput) as err:
        parse_mapping(text)
    assert needle in str(err.value)


def test_malformed_mapping_file_is_exit_1_and_store_unchanged(tmp_path):
    data = tmp_path / "store"
    src = tmp_path / "a.csv"
    as_text(make_cases(3, seed=1)).write_csv(src)
    assert runner.invoke(app, ["ingest", str(src), "--data", str(data)]).exit_code == 0
    before = digest(data)
    bad = tmp_path / "bad.toml"
    bad.write_text("[columns\n'x' = 'y'")
    other = tmp_path / "b.csv"
    as_text(make_cases(3, seed=2)).write_csv(other)
    result = runner.invoke(app, ["ingest", str(other), "--data", str(data), "--mapping", str(bad)])
    assert result.exit_code == 1
    assert "bad.toml" in result.stderr and "not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr
    assert digest(data) == before


def test_mapping_renames_recodes_fills_and_leaves_out(tmp_path):
    cases = make_cases(5, seed=4)
    text = as_text(cases).drop("inspection", "inspection_date").rename({"case_id": "Case ref"})
    text = text.with_columns(
        pl.col("provider").replace({"CRC": "Community Rehabilitation Company"}),
        pl.col("mappa").replace({"yes": "Y", "no": "N"}).fill_null("N/A"),
        pl.lit("AB").alias("Officer initials"),
    )
    src = tmp_path / "export.csv"
    text.write_csv(src)
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[file]\ninspection = "Durham"\ninspection_date = 2016-08-15\n'
        '[columns]\n"case ref" = "case_id"\n"Officer initials" = ""\n'
        '[values]\n"*" = { "Y" = "yes", "N" = "no", "N/A" = "" }\n'
        'provider = { "community rehabilitation company" = "CRC" }\n'
    )
    data = tmp_path / "store"
    result = runner.invoke(
        app, ["ingest", str(src), "--data", str(data), "--mapping", str(mapping)]
    )
    assert result.exit_code == 0, result.stderr
    got = store.load_cases(data)
    assert got["case_id"].to_list() == cases["case_id"].to_list()
    assert got["provider"].to_list() == cases["provider"].to_list()
    assert got["mappa"].to_list() == cases["mappa"].to_list()
    assert set(got["inspection"]) == {"Durham"}
    info = store.store_info(data)
    assert info.files[0]["mapping"]["name"] == "m.toml"
    assert "Officer initials" in info.files[0]["mapping"]["text"]


def test_messages_use_the_users_header(tmp_path):
    text = as_text(make_cases(4, seed=1)).rename({"age": "Age at start"})
    text = text.with_columns(
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.lit("old"))
        .otherwise(pl.col("Age at start"))
        .alias("Age at start")
    )
    src = tmp_path / "a.csv"
    text.write_csv(src)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\n"Age at start" = "age"\n')
    result = runner.invoke(
        app, ["ingest", str(src), "--data", str(tmp_path / "s"), "--mapping", str(mapping)]
    )
    assert result.exit_code == 1
    assert "a.csv, row 3, column 'Age at start (age)': got 'old'" in result.stderr
