"""`hmip regress`: exit codes, stdout vs stderr, CLI-vs-library parity."""

import io
import json
from pathlib import Path

import polars as pl
import pytest
from test_json_support import model, models
from typer.testing import CliRunner

from hmip_cli import schema
from hmip_cli.cli import regress_cmd
from hmip_cli.cli.app import app
from hmip_cli.stepwise import stepwise, sweep

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "stepwise"
BW = str(DATA / "birthwt.csv")


@pytest.fixture(scope="module")
def cases(synth_cases):
    return schema.with_derived(synth_cases(1066, 7))


@pytest.fixture
def store(monkeypatch, cases):
    monkeypatch.setattr(regress_cmd, "load_cases", lambda data: cases)
    return cases


def run(args):
    result = runner.invoke(app, ["regress", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_file_json_matches_library():
    r = run(
        [
            "--input",
            BW,
            "--outcome",
            "low",
            "--candidates",
            "age,lwt,race,smoke,ptd,ht,ui",
            "--categorical",
            "race",
            "--format",
            "json",
        ]
    )
    assert r.exit_code == 0, r.stderr
    got = model(r.stdout)
    want = stepwise(
        pl.read_csv(BW),
        "low",
        ["age", "lwt", "race", "smoke", "ptd", "ht", "ui"],
        categorical=["race"],
    ).to_dict()
    assert got == json.loads(json.dumps(want))
    assert got["final_terms"] == ["lwt", "ptd", "ht"]


def test_file_table_has_spss_blocks_and_parquet_reads(tmp_path):
    pq = tmp_path / "bw.parquet"
    pl.read_csv(BW).write_parquet(pq)
    r = run(
        [
            "--input",
            str(pq),
            "--outcome",
            "low",
            "--candidates",
            "race,ptd,ht",
            "--categorical",
            "race",
            "--removal",
            "wald",
            "--pin",
            "0.2",
            "--pout",
            "0.3",
        ]
    )
    assert r.exit_code == 0, r.stderr
    for block in (
        "Case Processing Summary",
        "Categorical Variables Codings",
        "Variables in the Equation",
        "Variables not in the Equation",
        "Model if Term Removed",
        "Model Summary",
        "Omnibus Tests",
        "Hosmer and Lemeshow",
        "Classification Table",
        "Overall Statistics",
    ):
        assert block in r.stdout, block


def test_csv_output_is_clean():
    r = run(["--input", BW, "--outcome", "low", "--candidates", "ptd,ht", "--format", "csv"])
    assert r.exit_code == 0
    frame = pl.read_csv(io.StringIO(r.stdout))
    assert "table" in frame.columns


@pytest.mark.parametrize(
    "args, code, text",
    [
        (["--input", BW, "--outcome", "low", "--candidates", "nope"], 2, "not found"),
        (["--input", BW, "--outcome", "race", "--candidates", "ptd"], 1, "not binary"),
        (["--input", BW, "--outcome", "low"], 2, "--candidates"),
        (
            ["--input", BW, "--outcome", "low", "--candidates", "ptd", "--factor", "accommodation"],
            2,
            "not both",
        ),
        (
            [
                "--input",
                BW,
                "--outcome",
                "low",
                "--candidates",
                "ptd",
                "--pin",
                "0.2",
                "--pout",
                "0.1",
            ],
            2,
            "PIN",
        ),
        ([], 2, "choose"),
        (["--factor", "accommodation"], 2, "store"),  # no store in the test's empty HMIP_DATA
    ],
)
def test_errors_exit_codes_and_messages(args, code, text):
    r = run(args)
    assert r.exit_code == code
    assert text in r.stderr
    assert r.stdout == ""


def test_factor_measure_from_store(store):
    r = run(["--factor", "accommodation", "--measure", "delivery", "--format", "json"])
    assert r.exit_code == 0, r.stderr
    got = models(r.stdout)
    assert len(got) == 1 and got[0]["model"] == "accommodation/delivery"
    col = schema.judgement_column("accommodation", "delivery")
    cands = [schema.get_breakdown(k).column for k in schema.DEFAULT_BREAKDOWNS]
    want = stepwise(store.filter(pl.col(col).is_not_null()), col, cands, categorical=cands)
    # the CLI names terms by breakdown key (hmip_cli/vocabulary.py): ethnic_group -> ethnicity
    keys = [schema.breakdown_for_column(c).key for c in want.final_terms]
    assert got[0]["final_terms"] == keys and len(keys) >= 1
    assert got[0]["n"] == want.n


def test_factor_without_measure_runs_four_models(store):
    r = run(["--factor", "ete", "--format", "json", "--candidates", "provider,gender"])
    assert r.exit_code == 0, r.stderr
    got = models(r.stdout)
    assert [m["model"] for m in got] == [f"ete/{m.key}" for m in schema.MEASURES]
    assert all(m["candidates"] == ["provider", "gender"] for m in got)


def test_question_table(store):
    r = run(["--question", "partner-info-review"])
    assert r.exit_code == 0, r.stderr
    assert "partner-info-review: Step 0" in r.stdout


def test_all_with_fdr_matches_library(store):
    r = run(["--all", "--fdr", "--format", "csv"])
    assert r.exit_code == 0, r.stderr
    got = pl.read_csv(io.StringIO(r.stdout))
    want = sweep(store, fdr=True)
    assert got.columns == want.columns
    assert got.height == want.height
    assert got.get_column("model").to_list() == want.get_column("model").to_list()
    assert "p_adjusted" in got.columns


def test_separation_is_reported_on_stderr(tmp_path):
    f = pl.DataFrame({"y": [0] * 20 + [1] * 20, "g": ["a"] * 25 + ["b"] * 15, "h": ["u", "v"] * 20})
    f = f.with_columns(y=pl.when(pl.col("g") == "b").then(1).otherwise(pl.col("y")))
    path = tmp_path / "sep.csv"
    f.write_csv(path)
    r = run(["--input", str(path), "--outcome", "y", "--candidates", "g,h"])
    assert r.exit_code == 0
    assert "only events" in r.stderr and "unreliable" in r.stderr
