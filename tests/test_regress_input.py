"""`hmip regress --input`: file types, missing-value spellings, outcome coding, --event,
--reference, numeric categorical codes, and clear errors (exit code, column named, no
traceback). Every file here is written by the test from MASS::birthwt (tests/data/stepwise)."""

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from test_json_support import model
from typer.testing import CliRunner

from hmip_cli.cli.app import app
from hmip_cli.stepwise import MISSING_TOKENS, read_table, stepwise

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "stepwise"
BW = pl.read_csv(DATA / "birthwt.csv")
CANDS = "age,lwt,race,smoke,ptd,ht,ui"


def run(args):
    r = runner.invoke(app, ["regress", *args])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.stderr
    return r


def run_json(path, *extra, outcome="low", cands=CANDS, cat="race"):
    args = [
        "--input",
        str(path),
        "--outcome",
        outcome,
        "--candidates",
        cands,
        "--format",
        "json",
        *extra,
    ]
    if cat:
        args += ["--categorical", cat]
    r = run(args)
    assert r.exit_code == 0, r.stderr
    return model(r.stdout, parse_constant=_no_constants)


def _no_constants(token):
    raise AssertionError(f"invalid JSON constant {token}")


def params(d):
    return {c["parameter"]: c["b"] for c in d["coefficients"]}


def test_missing_value_spellings_in_csv(tmp_path):
    # Knock out values with every spelling R, SPSS, SAS and Excel exports use.
    text = (DATA / "birthwt.csv").read_text().splitlines()
    header, rows = text[0], [r.split(",") for r in text[1:]]
    cols = header.split(",")
    spellings = ["", "NA", ".", "NaN", "N/A", "#N/A", " NA "]
    lwt, age = cols.index("lwt"), cols.index("age")
    for i, tok in enumerate(spellings):
        rows[i][lwt] = tok
        rows[20 + i][age] = tok
    path = tmp_path / "bw.csv"
    path.write_text("\n".join([header, *[",".join(r) for r in rows]]) + "\n")
    frame, _notes = read_table(path)
    assert frame.schema["lwt"].is_numeric() and frame.schema["age"].is_numeric()
    assert frame["lwt"].null_count() == len(spellings) and frame["age"].null_count() == len(
        spellings
    )
    d = run_json(path)
    assert d["n"] == 189 - 2 * len(spellings) and d["n_dropped"] == 2 * len(spellings)
    # Same as the library on the same data with nulls.
    want = stepwise(
        BW.with_row_index().with_columns(
            lwt=pl.when(pl.col("index") < len(spellings)).then(None).otherwise(pl.col("lwt")),
            age=pl.when((pl.col("index") >= 20) & (pl.col("index") < 20 + len(spellings)))
            .then(None)
            .otherwise(pl.col("age")),
        ),
        "low",
        CANDS.split(","),
        categorical=["race"],
    ).to_dict()
    assert d["final_terms"] == want["final_terms"]
    assert d["minus_2ll"] == pytest.approx(want["minus_2ll"], rel=1e-12)
    assert set(MISSING_TOKENS) >= {"", "na", ".", "nan", "#n/a", "unknown", "don't know"}


def test_float_nan_in_parquet_is_missing(tmp_path):
    f = BW.with_columns(
        lwt=pl.when(pl.int_range(pl.len()) < 3)
        .then(float("nan"))
        .otherwise(pl.col("lwt"))
        .cast(pl.Float64)
    )
    path = tmp_path / "bw.parquet"
    f.write_parquet(path)
    assert run_json(path)["n"] == 186


@pytest.mark.parametrize(
    "coding, event",
    [
        ((0, 1), "1"),
        ((1, 2), "2"),
        (("no", "yes"), "yes"),
        (("FALSE", "TRUE"), "true"),
        (("alive", "dead"), "dead"),
        (("N", "Y"), "Y"),
    ],
)
def test_outcome_codings_model_the_higher_value(tmp_path, coding, event):
    # SPSS codes the higher (later) of the two values 1; low = 1 maps to the second value.
    lo, hi = coding
    f = BW.with_columns(
        out=pl.when(pl.col("low") == 1).then(pl.lit(str(hi))).otherwise(pl.lit(str(lo)))
    )
    path = tmp_path / "bw.csv"
    f.drop("low").write_csv(path)
    d = run_json(path, outcome="out")
    assert d["event"] == event
    base = run_json(DATA / "birthwt.csv")
    assert d["final_terms"] == base["final_terms"]
    for k, v in params(base).items():
        assert params(d)[k] == pytest.approx(v, rel=1e-9)


def test_event_option_reverses_signs_and_accepts_any_case(tmp_path):
    f = BW.with_columns(out=pl.col("low") == 1)
    path = tmp_path / "bw.csv"
    f.drop("low").write_csv(path)
    a = run_json(path, outcome="out", cands="ptd,ht", cat=None)
    b = run_json(path, "--event", "FALSE", outcome="out", cands="ptd,ht", cat=None)
    assert (a["event"], b["event"]) == ("true", "false")
    for k, v in params(a).items():
        assert params(b)[k] == pytest.approx(-v, rel=1e-9)
    r = run(["--input", str(path), "--outcome", "out", "--candidates", "ptd", "--event", "maybe"])
    assert r.exit_code == 2 and "--event value given is not a value of 'out'" in r.stderr


def test_reference_repeatable_default_and_named():
    d = run_json(
        DATA / "birthwt.csv",
        "--reference",
        "first",
        "--reference",
        "race=2",
        "--pin",
        "0.3",
        "--pout",
        "0.4",
        cands="race,smoke,ptd",
        cat="race,smoke",
    )
    coding = {c["term"]: c for c in d["codings"]}
    assert coding["race"]["reference"] == "2"
    assert coding["smoke"]["reference"] == "0"  # the default (first) for the rest
    d2 = run_json(
        DATA / "birthwt.csv",
        "--reference",
        "race=first,smoke=last",
        cands="race,smoke",
        cat="race,smoke",
    )
    assert {c["term"]: c["reference"] for c in d2["codings"]} == {"race": "1", "smoke": "1"}
    r = run(
        [
            "--input",
            str(DATA / "birthwt.csv"),
            "--outcome",
            "low",
            "--candidates",
            "race",
            "--categorical",
            "race",
            "--reference",
            "race=7",
        ]
    )
    assert r.exit_code == 2 and "reference given for 'race' is not one of its levels" in r.stderr


def test_numeric_categorical_levels_sort_numerically(tmp_path):
    rng = np.random.default_rng(4)
    n = 400
    g = rng.choice([1, 2, 9, 10], n)
    y = rng.random(n) < np.where(g == 10, 0.7, 0.35)
    path = tmp_path / "codes.csv"
    pl.DataFrame({"y": y.astype(int), "g": g}).write_csv(path)
    d = run_json(path, outcome="y", cands="g", cat="g")
    coding = d["codings"][0]
    assert coding["levels"] == ["1", "2", "9", "10"]  # not "1", "10", "2", "9"
    assert coding["reference"] == "10"
    assert coding["parameters"] == ["g(1)", "g(2)", "g(9)"]


def test_spss_sav_shows_labels_and_user_missing(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    f = BW.select("low", "race", "smoke", "ptd", "lwt").with_columns(
        pl.col(pl.Int64).cast(pl.Float64)
    )
    f = f.with_columns(ptd=pl.when(pl.int_range(pl.len()) < 4).then(9.0).otherwise(pl.col("ptd")))
    path = tmp_path / "bw.sav"
    pyreadstat.write_sav(
        f.to_pandas(),
        str(path),
        variable_value_labels={"race": {1.0: "white", 2.0: "black", 3.0: "other"}},
        missing_ranges={"ptd": [9.0]},
    )
    r = run(
        [
            "--input",
            str(path),
            "--outcome",
            "low",
            "--candidates",
            "race,smoke,ptd,lwt",
            "--categorical",
            "race",
            "--format",
            "json",
        ]
    )
    assert r.exit_code == 0, r.stderr
    assert "value labels shown for race" in r.stderr
    assert "treated as missing: ptd 4 value(s)" in r.stderr
    d = model(r.stdout)
    assert d["n"] == 185  # the four user-missing ptd = 9 are missing
    race = next(c for c in d["codings"] if c["term"] == "race")
    # labels in code order: the reference (last) is the highest code, as SPSS
    assert race["levels"] == ["white", "black", "other"] and race["reference"] == "other"


def test_excel_input(tmp_path):
    path = tmp_path / "bw.xlsx"
    BW.with_columns(
        lwt=pl.when(pl.int_range(pl.len()) < 2)
        .then(pl.lit("NA"))
        .otherwise(pl.col("lwt").cast(pl.String))
    ).write_excel(path)
    d = run_json(path)
    assert d["n"] == 187
    want = stepwise(BW.slice(2), "low", CANDS.split(","), categorical=["race"]).to_dict()
    assert d["final_terms"] == want["final_terms"]
    assert d["minus_2ll"] == pytest.approx(want["minus_2ll"], rel=1e-10)


@pytest.mark.parametrize(
    "frame, args, code, texts",
    [
        (BW, ["--outcome", "low", "--candidates", "ptd,lwtt"], 2, ["'lwtt' (did you mean 'lwt'?)"]),
        (BW, ["--outcome", "Low", "--candidates", "ptd"], 2, ["'Low'", "'low'"]),
        (
            BW,
            ["--outcome", "age", "--candidates", "ptd"],
            1,
            ["outcome 'age' is not binary", "24 distinct values", "14, 15, 16, 17, 18, ..."],
        ),
        (
            BW.with_columns(c1=pl.lit(1), c2=pl.lit("a")),
            ["--outcome", "low", "--candidates", "c1,c2"],
            1,
            ["every candidate was excluded", "c1", "c2"],
        ),
        (
            BW.with_columns(empty=pl.lit(None, dtype=pl.Float64)),
            ["--outcome", "low", "--candidates", "ptd,empty"],
            1,
            ["no case has a value", "'empty' is missing for every case"],
        ),
        (
            BW.with_columns(
                half=pl.when(pl.col("low") == 1).then(None).otherwise(pl.col("lwt")),
                other=pl.when(pl.col("low") == 0).then(None).otherwise(pl.col("age")),
            ),
            ["--outcome", "low", "--candidates", "half,other"],
            1,
            ["no case has a value", "'half' missing for 59 of 189"],
        ),
        (
            BW.with_columns(low=pl.lit(1)),
            ["--outcome", "low", "--candidates", "ptd"],
            1,
            ["is 1 for every one of the 189", "nothing to model"],
        ),
        (
            BW,
            ["--outcome", "low", "--candidates", "ptd", "--reference", "middle"],
            2,
            ["--reference must be"],
        ),
    ],
)
def test_errors_name_the_column(tmp_path, frame, args, code, texts):
    path = tmp_path / "in.csv"
    frame.write_csv(path)
    r = run(["--input", str(path), *args])
    assert r.exit_code == code, r.stderr
    assert r.stdout == ""
    for t in texts:
        assert t in r.stderr, (t, r.stderr)


def test_unreadable_and_unknown_file_types(tmp_path):
    bad = tmp_path / "x.xlsx"
    bad.write_text("not a workbook")
    r = run(["--input", str(bad), "--outcome", "y", "--candidates", "x"])
    assert r.exit_code == 1 and "could not read" in r.stderr
    other = tmp_path / "x.json"
    other.write_text("{}")
    r = run(["--input", str(other), "--outcome", "y", "--candidates", "x"])
    assert r.exit_code == 2 and ".sav" in r.stderr


def test_json_is_strict_and_has_the_documented_keys(tmp_path):
    # A separated model has NaN/inf internally (infinite SEs); the JSON must still be valid.
    x = np.arange(40, dtype=float)
    path = tmp_path / "sep.csv"
    pl.DataFrame(
        {"y": (x >= 20).astype(int), "x": x, "g": np.where(x % 3 == 0, "a", "b")}
    ).write_csv(path)
    for p, extra in (
        (path, ["--candidates", "x,g", "--outcome", "y"]),
        (
            DATA / "birthwt.csv",
            ["--candidates", CANDS, "--outcome", "low", "--categorical", "race"],
        ),
    ):
        r = run(["--input", str(p), *extra, "--format", "json"])
        assert r.exit_code == 0, r.stderr
        d = model(r.stdout, parse_constant=_no_constants)
        for key in (
            "n",
            "n_dropped",
            "event",
            "steps",
            "stop_reason",
            "final_terms",
            "log_likelihood",
            "minus_2ll",
            "coefficients",
            "reliable",
            "problems",
            "warnings",
            "step_details",
        ):
            assert key in d, key
        for s in d["steps"]:
            assert set(s) == {"block", "action", "term", "statistic", "df", "p", "log_p"}
            assert s["action"] in ("enter", "remove")
        for c in d["coefficients"]:
            assert {
                "parameter",
                "b",
                "se",
                "wald",
                "df",
                "p",
                "exp_b",
                "ci_low",
                "ci_high",
                "reliable",
            } <= set(c)
        assert d["minus_2ll"] == pytest.approx(-2 * d["log_likelihood"])
        assert all(
            v is None or math.isfinite(v)
            for c in d["coefficients"]
            for v in c.values()
            if isinstance(v, float)
        )


def test_library_reads_a_file_like_the_cli(tmp_path):
    # Library first: read_table + stepwise() in Python give exactly the CLI's JSON.
    path = tmp_path / "bw.csv"
    BW.with_columns(
        lwt=pl.when(pl.int_range(pl.len()) < 3)
        .then(pl.lit("NA"))
        .otherwise(pl.col("lwt").cast(pl.String))
    ).write_csv(path)
    frame, notes = read_table(str(path))
    assert notes == [] and frame.schema["lwt"].is_numeric() and frame["lwt"].null_count() == 3
    lib = stepwise(frame, "low", CANDS.split(","), categorical=["race"]).to_dict()
    assert json.loads(json.dumps(lib)) == run_json(path)


def test_library_notes_for_spss_codes(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    path = tmp_path / "bw.sav"
    pyreadstat.write_sav(BW.select("low", "race").cast(pl.Float64).to_pandas(), str(path))
    frame, notes = read_table(path)
    assert frame.height == BW.height
    assert notes == []  # no value labels, no user-missing values: nothing to say
    pyreadstat.write_sav(
        BW.select("low", "race").cast(pl.Float64).to_pandas(),
        str(path),
        variable_value_labels={"race": {1.0: "white", 2.0: "black", 3.0: "other"}},
    )
    frame, notes = read_table(path)  # labels asked for no column: race keeps its codes
    assert frame.schema["race"].is_numeric()
    assert len(notes) == 1 and "race keep their numeric codes" in notes[0]
    assert not notes[0].startswith("note:")  # the CLI adds its own prefix
