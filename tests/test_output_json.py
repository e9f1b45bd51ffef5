"""One JSON document and one CSV per table for every command (issue 14, item 7).

Before, `sample`/`rates`/`protection` wrote a bare list of rows, `info` and `demo` a list
of {title, rows}, `regress` an object (one model) or a list (several), and several tables
to CSV were stacked in one file. Now every command writes the document of
docs/output.schema.json, and `-o DIR/` writes one CSV per table."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest
from test_json_support import SCHEMA, check, doc, tables
from test_regress_cli import BW

from hmip_cli import store

STORE_COMMANDS = {
    "sample": ["sample"],
    "sample by": ["sample", "--by", "provider"],
    "rates": ["rates", "--measure", "delivery", "--by", "provider"],
    "rates cross": ["rates", "--by", "provider", "--by", "gender", "--cross"],
    "rates test": ["rates", "--measure", "delivery", "--by", "gender", "--test"],
    "protection": ["protection", "--by", "mappa"],
    "info": ["info"],
    "trend": ["trend", "--measure", "delivery"],
    "regress": ["regress", "--factor", "accommodation", "--measure", "delivery"],
    "regress factor": ["regress", "--factor", "ete", "--candidates", "provider,gender"],
}
BIRTHWT = ["regress", "--input", BW, "--outcome", "low", "--candidates"]
FILE_COMMANDS = {
    "regress input": [*BIRTHWT, "ptd,ht,race"],
    "regress firth": [*BIRTHWT, "ptd,ht", "--firth"],
    "regress extras": [*BIRTHWT, "ptd,ht", "--ci", "profile", "--correlations"],
    "schema": ["schema"],
    "framework list": ["framework", "list"],
    "framework show": ["framework", "show", "pdu-2023"],
}


def _json(cli, args) -> dict:
    r = cli(*args, "--format", "json")
    assert r.exit_code == 0, r.stderr
    return doc(r.stdout)


@pytest.mark.parametrize("name", list(STORE_COMMANDS))
def test_store_commands_write_the_one_document(cli, example_store, name):
    args = STORE_COMMANDS[name]
    d = _json(cli, args)  # checked against docs/output.schema.json
    assert d["command"] == args[0]
    assert d["parameters"]["data"] == str(example_store)
    assert "fmt" not in d["parameters"] and "output" not in d["parameters"]
    info = store.store_info(example_store)
    assert d["provenance"]["store"] == {
        "content_hash": info.content_hash,
        "n_cases": info.n_cases,
        "files": ["cases.csv"],
    }
    assert d["provenance"]["synthetic"] is False and d["tables"]
    if args[0] == "regress":
        assert d["models"] and all("steps" in m and "coefficients" in m for m in d["models"])
    else:
        assert "models" not in d


@pytest.mark.parametrize("name", list(FILE_COMMANDS))
def test_other_commands_write_the_one_document(cli, name):
    args = FILE_COMMANDS[name]
    d = _json(cli, args)
    assert d["command"] == " ".join(args[:2] if args[0] == "framework" else args[:1])
    if "--input" in args:
        assert d["provenance"]["input"] == {"file": "birthwt.csv", "rows": 189}
        (m,) = d["models"]
        assert m["n"] == 189 and m["outcome"] == "low"
        assert any(n.startswith("Dependent variable: low") for n in d["notes"])
    if name == "regress extras":  # extras are in the model and are tables too
        assert d["models"][0]["profile_ci"]["rows"]
        assert "correlations" in tables(d)


def test_parameters_say_what_was_asked(cli, example_store):
    d = _json(cli, ["rates", "--measure", "delivery", "--by", "gender", "--min-n", "20"])
    p = d["parameters"]
    assert (p["measure"], p["by"], p["min_n"], p["suppress"]) == (
        ["delivery"],
        ["gender"],
        20,
        False,
    )


def test_json_rows_are_the_csv_rows(cli, example_store):
    """The document's table is the CSV, value for value (full precision both ways)."""
    args = ["rates", "--measure", "delivery", "--by", "provider"]
    rows = doc(cli(*args, "-f", "json").stdout)["tables"]
    (t,) = rows
    assert t["name"] == "rates"
    csv = pl.read_csv(io.StringIO(cli(*args, "-f", "csv").stdout), infer_schema_length=None)
    assert [c["name"] for c in t["columns"]] == csv.columns
    from_json = pl.DataFrame(t["rows"], schema=csv.schema)
    assert from_json.equals(csv)


def test_the_schema_rejects_the_old_shapes():
    """Not a hollow schema: the shapes before issue 14 and a table without columns fail."""
    with pytest.raises(AssertionError):
        check([{"title": "A", "rows": []}])  # type: ignore[arg-type]
    good = {
        "hmip_version": "0",
        "command": "rates",
        "parameters": {},
        "tables": [{"name": "rates", "title": "", "columns": [], "rows": []}],
        "notes": [],
        "provenance": {"synthetic": False},
    }
    check(good)
    for broken in (
        {**good, "tables": [{"name": "Rates!", "title": "", "columns": [], "rows": []}]},
        {**good, "tables": [{"name": "rates", "rows": []}]},
        {k: v for k, v in good.items() if k != "provenance"},
        {**good, "extra": 1},
    ):
        with pytest.raises(AssertionError):
            check(broken)
    assert json.loads(SCHEMA.read_text())["required"] == [
        "hmip_version",
        "command",
        "parameters",
        "tables",
        "notes",
        "provenance",
    ]


@pytest.mark.slow
def test_the_sweep_writes_the_document(cli, example_store):
    d = _json(cli, ["regress", "--all"])
    (t,) = d["tables"]
    assert t["name"] == "findings" and d["command"] == "regress"
    assert {r["model"] for r in t["rows"]} >= {"accommodation/delivery"}
    from hmip_cli import schema

    codes = {lv for b in schema.BREAKDOWNS for lv in b.levels}
    levels = {r[c] for r in t["rows"] for c in ("level", "reference")} - {None}
    assert levels and levels <= codes, levels - codes  # codes in machine formats (issue 14)


# ---- one CSV per table ------------------------------------------------------------------


def test_output_dir_writes_one_csv_per_table(cli, tmp_path):
    args = ["regress", "--input", BW, "--outcome", "low", "--candidates", "ptd,ht"]
    d = doc(cli(*args, "-f", "json").stdout)
    out = tmp_path / "new" / "regress"
    r = cli(*args, "-o", f"{out}/")  # a trailing slash: a directory, made if missing
    assert r.exit_code == 0 and r.stdout == "", r.stderr
    names = [t["name"] for t in d["tables"]]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.csv" for n in names)
    for t in d["tables"]:
        csv = pl.read_csv(out / f"{t['name']}.csv", infer_schema_length=None)
        assert csv.columns == [c["name"] for c in t["columns"]] and csv.height == len(t["rows"])
    # TSV the same way; an existing directory needs no slash
    r = cli(*args, "-o", str(out), "--format", "tsv")
    assert r.exit_code == 0, r.stderr
    assert len(list(out.glob("*.tsv"))) == len(names)


def test_several_tables_to_one_csv_file_are_refused(cli, tmp_path):
    args = ["regress", "--input", BW, "--outcome", "low", "--candidates", "ptd,ht"]
    target = tmp_path / "model.csv"
    r = cli(*args, "-o", str(target))
    assert r.exit_code == 2 and not target.exists() and not list(tmp_path.iterdir())
    assert f"-o {tmp_path / 'model'}/" in r.stderr and "case_processing_summary" in r.stderr
    # On standard output they stay one stream, stacked, with the table's name first.
    stacked = pl.read_csv(io.StringIO(cli(*args, "-f", "csv").stdout), infer_schema_length=None)
    assert stacked.columns[0] == "table"
    assert stacked["table"].unique(maintain_order=True).to_list()[0] == "case_processing_summary"
