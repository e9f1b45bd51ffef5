"""`hmip regress --input FILE` against R's FSTEP by hand on public data sets shipped with R
that the engine's own tests do not use: datasets::Titanic (2,201 people, all categorical:
the collapsed path, a 4-level factor), MASS::Aids2 (2,843 cases, numeric and categorical
with an 8-level factor: the row-level path; with PIN .3 POUT .35 a term enters and is later
removed, LR and Wald removal) and datasets::esoph expanded to 975 cases and controls (three
categorical terms of 6, 4 and 4 levels).

R: tests/data/cross_check/datasets_reference.R (writes the CSV files the CLI reads and
datasets_stepwise_r.csv) with tests/data/cross_check/fstep.R. Compared: path (action, term,
statistic, df, p per step) and at every step B, S.E., Wald (joint Wald for k > 2 levels),
Sig., Exp(B), 95% CI, every score not in the equation (per term and per indicator), the
residual chi-square, model if term removed, -2LL, Cox & Snell, Nagelkerke, omnibus, and the
classification table, to 1e-6 relative (observed: see the printed maxima). Tests never call R.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cross_check_support import assert_kv_close, hmip_kv, load_r_kv
from test_json_support import model
from typer.testing import CliRunner

from hmip_cli.cli.app import app

HERE = Path(__file__).parent / "data" / "cross_check"
R_STEPWISE = HERE / "datasets_stepwise_r.csv"
runner = CliRunner()

CASES = {
    # name: (file, outcome, candidates, options, R's path)
    "titanic": ("titanic.csv", "Survived", "Class,Sex,Age", [], "enter:Sex;enter:Class;enter:Age"),
    "aids2": ("aids2.csv", "status", "state,sex,diag,T.categ,age", [], "enter:diag;enter:age"),
    "aids2_pin.3": (
        "aids2.csv",
        "status",
        "state,sex,diag,T.categ,age",
        ["--pin", "0.3", "--pout", "0.35"],
        "enter:diag;enter:age;enter:sex;enter:state;enter:T.categ;remove:sex",
    ),
    "esoph": (
        "esoph.csv",
        "case",
        "agegp,alcgp,tobgp",
        ["--categorical", "agegp,alcgp,tobgp"],
        "enter:alcgp;enter:agegp;enter:tobgp",
    ),
}
RUNS = [(name, "lr") for name in CASES] + [("titanic", "wald"), ("aids2_pin.3", "wald")]


def regress(name: str, removal: str) -> dict:
    file, outcome, cands, opts, _ = CASES[name]
    args = [
        "regress",
        "--input",
        str(HERE / file),
        "--outcome",
        outcome,
        "--candidates",
        cands,
        "--removal",
        removal,
        "--format",
        "json",
        *opts,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return model(result.stdout)


@pytest.mark.parametrize(("name", "removal"), RUNS)
def test_regress_input_matches_r(name, removal):
    r = regress(name, removal)
    ref = load_r_kv(R_STEPWISE)[(name, removal)]
    assert ref["path"] == CASES[name][4]
    assert r["removal"] == removal and r["reliable"] and not r["problems"]
    got = hmip_kv(r)
    worst = assert_kv_close(got, ref, 1e-6)
    print(f"{name} ({removal}): {len(ref)} numbers, max relative difference {worst:.2e}")


def test_data_sets_take_the_intended_paths():
    """Titanic and esoph run on covariate patterns, Aids2 (numeric diag, age) case by case;
    the outcome codings and reference levels are the ones the R script assumed."""
    t = regress("titanic", "lr")
    assert t["collapsed"] and t["n"] == 2201 and (t["event"], t["nonevent"]) == ("Yes", "No")
    assert {c["term"]: (c["levels"], c["reference"]) for c in t["codings"]} == {
        "Class": (["1st", "2nd", "3rd", "Crew"], "Crew"),
        "Sex": (["Female", "Male"], "Male"),
        "Age": (["Adult", "Child"], "Child"),
    }
    a = regress("aids2_pin.3", "lr")
    assert not a["collapsed"] and a["n"] == 2843 and a["event"] == "D"
    assert a["categorical"] == ["state", "sex", "T.categ"]
    assert [c["reference"] for c in a["codings"]] == ["VIC", "M", "other"]
    e = regress("esoph", "lr")
    assert e["collapsed"] and e["n"] == 975 and e["event"] == "1"
    assert {c["term"]: c["reference"] for c in e["codings"]} == {
        "agegp": "75+",
        "alcgp": "80-119",
        "tobgp": "30+",
    }


def test_reduced_models_are_true_maxima_after_dropping_a_large_unit_covariate():
    """Model if Term Removed must come from the reduced model's maximum: between the
    constant-only log-likelihood and the current model's. Before the fix in
    stepwise/select.py, the warm start for Aids2 without diag (B*diag ~ -31) put every case
    at eta ~ 31, where Newton's step is numerically 0, and the fit was reported converged at
    LL -19992 (R: -1868.31), so diag's LR statistic was 37318 instead of 1069.8."""
    r = regress("aids2_pin.3", "lr")
    ll0 = r["step_details"][0]["log_likelihood"]
    for sd in r["step_details"]:
        for t in sd["model_if_term_removed"]:
            assert ll0 - 1e-9 <= t["log_likelihood"] <= sd["log_likelihood"] + 1e-9, (sd["step"], t)
    (diag,) = [t for t in r["step_details"][6]["model_if_term_removed"] if t["term"] == "diag"]
    # R: drop1(glm(y ~ state + diag + T.categ + age), test = "LRT") (datasets_reference.R)
    assert diag["log_likelihood"] == pytest.approx(-1868.3109210076784, rel=1e-9)
