"""`hmip regress --input FILE` against R's FSTEP by hand (tests/data/cross_check/fstep.R) on
awkward public data sets that no other test uses, one file type each:

* rpart::kyphosis (CSV): text outcome absent/present; columns named 'Âge (months)' and
  'Start.vertebra' (non-ASCII, spaces, parentheses, a dot); PIN .2 POUT .25.
* survival::lung (SPSS .sav): outcome 1/2 with value labels (event 2 = dead), sex 1/2
  labelled and --categorical, wt.loss missing as a declared user-missing -99, NA elsewhere;
  PIN .5 POUT .6 (five terms enter).
* survival::pbc (Parquet): outcome died/alive, null for the transplanted; codes 1/2, 0/0.5/1
  and 1-4 with nulls as --categorical; text m/f; conditional removal.
* MASS::Cars93 (Excel): an R factor outcome (USA / non-USA); Cylinders text with numbers and
  'rotary' (--categorical); levels with spaces and '&'; a level with no events; NA in two
  covariates that removes every van (Type loses a level); PIN .3 POUT .35, ending when Type
  enters and separates.
* datasets::airquality (CSV): Yes/No outcome blank where Ozone is NA; Month codes
  --categorical; a fitted probability below 1e-8 without separation; Wald removal.

R: tests/data/cross_check/awkward_reference.R (then awkward_files.py for the .sav, .parquet
and .xlsx) writes awkward_stepwise_r.csv. Compared, to 1e-6 relative: the path and, at every
step, every statistic tests/test_cross_check_datasets.py compares (B, S.E., Wald, Sig.,
Exp(B), CI, scores, residual chi-square, model if term removed, -2LL, R squares, omnibus,
classification), plus the removal statistic of Wald/conditional and the final model's
Hosmer-Lemeshow test (SAS's documented grouping, written independently in R). Observed:
at most 1.3e-11 (the printed maxima). Tests never call R.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from test_cross_check_support import assert_kv_close, hmip_kv, load_r_kv
from test_json_support import model
from typer.testing import CliRunner

from hmip_cli.cli.app import app

HERE = Path(__file__).parent / "data" / "cross_check"
R_STEPWISE = HERE / "awkward_stepwise_r.csv"
runner = CliRunner()

CASES = {
    # name: (file, outcome, candidates, removal, options, R's parameter names -> hmip's)
    "kyphosis_pin.2": (
        "kyphosis.csv",
        "Kyphosis",
        "Âge (months),Number,Start.vertebra",
        "lr",
        ["--pin", "0.2", "--pout", "0.25"],
        {},
    ),
    "lung_pin.5": (
        "lung.sav",
        "status",
        "age,sex,ph.ecog,ph.karno,pat.karno,meal.cal,wt.loss",
        "lr",
        ["--categorical", "sex", "--pin", "0.5", "--pout", "0.6"],
        {"sex(1)": "sex(Male)"},  # value labels, not codes
    ),
    "pbc": (
        "pbc.parquet",
        "outcome",
        "trt,age,sex,ascites,hepato,spiders,edema,bili,chol,albumin,stage",
        "conditional",
        ["--categorical", "trt,edema,stage"],
        {},
    ),
    "cars93_pin.3": (
        "cars93.xlsx",
        "Origin",
        "Type,AirBags,DriveTrain,Cylinders,Man.trans.avail,Price,MPG.city,Horsepower,"
        "Rear.seat.room,Luggage.room",
        "lr",
        ["--categorical", "Cylinders", "--pin", "0.3", "--pout", "0.35"],
        {},
    ),
    "airquality": (
        "airquality.csv",
        "high",
        "Solar.R,Wind,Temp,Month",
        "wald",
        ["--categorical", "Month"],
        {},
    ),
}


@cache  # each file is run once for both tests (the suite's CPU budget)
def regress(name: str) -> dict:
    file, outcome, cands, removal, opts, _ = CASES[name]
    args = ["regress", "--input", str(HERE / file), "--outcome", outcome]
    args += ["--candidates", cands, "--removal", removal, "--format", "json", *opts]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return model(result.stdout)


@pytest.mark.parametrize("name", list(CASES))
def test_regress_input_matches_r(name):
    r = regress(name)
    removal, renames = CASES[name][3], CASES[name][5]
    ref = dict(load_r_kv(R_STEPWISE)[(name, removal)])
    for old, new in renames.items():
        ref = {k.replace(old, new): v for k, v in ref.items()}
    got = hmip_kv(r)
    if r["reliable"]:
        hl = r["step_details"][-1]["hosmer_lemeshow"]
        got |= {"hl.groups": len(hl["groups"]), "hl.chi2": hl["chi_square"]}
        got |= {"hl.df": hl["df"], "hl.p": hl["p"]}
    worst = assert_kv_close(got, ref, 1e-6)
    print(f"{name} ({removal}): {len(ref)} numbers, max relative difference {worst:.2e}")


def test_files_are_read_as_spss_would():
    """What the R script assumed of each file: the event, the cases used, the levels and
    reference of each categorical candidate among the cases used."""
    lung = regress("lung_pin.5")
    assert (lung["event"], lung["nonevent"], lung["n"], lung["n_dropped"]) == (
        "dead",
        "censored",
        168,  # R: complete.cases with wt.loss -99 as NA
        60,
    )
    assert lung["codings"][0]["levels"] == ["Male", "Female"]  # code order: 1, 2
    pbc = regress("pbc")
    assert (pbc["event"], pbc["n"], pbc["n_dropped"]) == ("died", 266, 152)
    assert {c["term"]: (c["levels"], c["reference"]) for c in pbc["codings"]} == {
        "trt": (["1", "2"], "2"),
        "sex": (["f", "m"], "m"),
        "edema": (["0", "0.5", "1"], "1"),
        "stage": (["1", "2", "3", "4"], "4"),
    }
    cars = regress("cars93_pin.3")
    assert (cars["event"], cars["n"]) == ("non-USA", 82)
    codings = {c["term"]: c["levels"] for c in cars["codings"]}
    assert codings["Type"] == ["Compact", "Large", "Midsize", "Small", "Sporty"]  # no Van
    assert codings["AirBags"] == ["Driver & Passenger", "Driver only", "None"]
    assert not cars["reliable"] and cars["steps"][-1]["term"] == "Type"
    assert {p["code"] for p in cars["problems"]} >= {"no_events_level", "separation"}
    air = regress("airquality")
    assert air["reliable"] and (air["n"], air["n_dropped"]) == (111, 42)
