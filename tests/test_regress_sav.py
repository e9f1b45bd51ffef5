"""`hmip regress --input x.sav` (issue 11 item 7): value labels, not codes, in every table, and
the user-missing values the .sav declares treated as missing.

Fixture: tests/data/sav/birthwt_labelled.sav, written by GNU PSPP from
tests/data/sav/birthwt_labelled.sps (MASS::birthwt with value labels on low, race, smoke and
ht; MISSING VALUES race (9) / smoke (8, 9) / lwt (900 THRU HIGHEST) / ptl (-99 THRU -1, 99);
six cases carry one of those codes). References: the same model fitted to
tests/data/stepwise/birthwt.csv with those six cells empty (R-checked elsewhere:
tests/test_stepwise_reference.py), and, as a real client, PSPP's own LOGISTIC REGRESSION on
the .sav (PSPP excludes user-missing values by default), to 1e-6 relative at its 12 printed
decimals.
"""

import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
from test_json_support import model
from test_stepwise_syntax import _num, _pspp_tables

from hmip_cli.stepwise import read_table, stepwise

SAV = Path(__file__).parent / "data" / "sav" / "birthwt_labelled.sav"
CSV = Path(__file__).parent / "data" / "stepwise" / "birthwt.csv"
# the cells the .sps sets to user-missing codes (0-based rows): race 9, smoke 8, lwt 950 and
# 999 (range 900 THRU HIGHEST), ptl 99 (discrete) and -1 (range -99 THRU -1)
PLANTED = {3: "race", 10: "smoke", 20: "lwt", 30: "lwt", 40: "ptl", 50: "ptl"}
CANDIDATES = ["age", "lwt", "race", "smoke", "ptl", "ht"]
CATEGORICAL = ["race", "smoke", "ht"]


def _csv_twin() -> pl.DataFrame:
    f = pl.read_csv(CSV).select("low", *CANDIDATES).with_row_index("_r")
    for row, col in PLANTED.items():
        f = f.with_columns(
            pl.when(pl.col("_r") == row).then(None).otherwise(pl.col(col)).alias(col)
        )
    return f.drop("_r")


def test_read_table_applies_declared_missing_values_and_labels():
    frame, notes = read_table(SAV, labels=["low", *CATEGORICAL])
    nulls = frame.null_count().to_dicts()[0]
    assert nulls == {"low": 0, "age": 0, "lwt": 2, "race": 1, "smoke": 1, "ptl": 2, "ht": 0}
    assert frame.schema["race"] == pl.Enum(["White", "Black", "Other", "Not recorded"])
    assert frame.schema["low"] == pl.Enum(["Normal weight", "Low weight"])
    assert frame.schema["lwt"].is_numeric() and frame.schema["ptl"].is_numeric()
    assert notes[0] == (
        "user-missing values declared in the file are treated as missing: lwt 2, race 1, "
        "smoke 1, ptl 2 value(s)"
    )
    assert "value labels shown for low, race, smoke, ht" in notes[1]
    # the values that are not declared missing are the CSV's, row by row
    twin = _csv_twin()
    assert frame["lwt"].cast(pl.Int64).to_list() == twin["lwt"].to_list()
    assert frame["ptl"].cast(pl.Int64).to_list() == twin["ptl"].to_list()
    codes = {"White": 1, "Black": 2, "Other": 3}
    assert [codes.get(v) for v in frame["race"].to_list()] == twin["race"].to_list()


def test_without_labels_requested_codes_stay_and_labelled_covariates_are_said():
    frame, notes = read_table(SAV, labels=["low"])
    assert frame.schema["race"].is_numeric()
    assert any("race, smoke, ht keep their numeric codes" in n for n in notes)


def test_the_fit_on_the_sav_is_the_fit_on_the_csv_with_those_cells_missing():
    frame, _ = read_table(SAV, labels=["low", *CATEGORICAL])
    sav = stepwise(frame, "low", CANDIDATES, categorical=CATEGORICAL, method="enter")
    csv = stepwise(_csv_twin(), "low", CANDIDATES, categorical=CATEGORICAL, method="enter")
    assert (sav.n, sav.n_dropped) == (csv.n, csv.n_dropped) == (183, 6)
    assert (sav.event, sav.nonevent) == ("Low weight", "Normal weight")
    names = {"race(1)": "race(White)", "race(2)": "race(Black)", "smoke(0)": "smoke(Non-smoker)"}
    names["ht(0)"] = "ht(No hypertension)"
    want = {names.get(c.parameter, c.parameter): c for c in csv.final.in_equation}
    assert [c.parameter for c in sav.final.in_equation] == list(want)
    for c in sav.final.in_equation:
        w = want[c.parameter]
        assert c.wald == pytest.approx(w.wald, rel=1e-10)
        if c.kind != "term":
            assert (c.b, c.se) == pytest.approx((w.b, w.se), rel=1e-10)
    assert sav.final.minus_2ll == pytest.approx(csv.final.minus_2ll, rel=1e-12)


def test_cli_tables_show_labels_not_codes(cli):
    args = [
        "regress", "--input", str(SAV), "--outcome", "low", "--candidates", ",".join(CANDIDATES),
        "--categorical", ",".join(CATEGORICAL), "--method", "enter",
    ]  # fmt: skip
    r = cli(*args)
    assert r.exit_code == 0, r.output
    for text in ("race(White)", "smoke(Non-smoker)", "ht(No hypertension)", "Predicted Low weight"):
        assert text in r.stdout
    assert "race(1)" not in r.stdout and "(reference)" in r.stdout
    assert "user-missing values declared in the file are treated as missing" in r.stderr
    out = model(cli(*args, "--reference", "race=White", "-f", "json").stdout)
    assert out["event"] == "Low weight" and out["n"] == 183
    race = next(c for c in out["codings"] if c["term"] == "race")
    assert race["levels"] == ["White", "Black", "Other"] and race["reference"] == "White"


@pytest.mark.skipif(
    shutil.which("pspp") is None, reason="GNU PSPP (Debian package pspp) is not installed"
)
def test_pspp_fits_the_same_model_to_the_same_sav(cli, tmp_path):
    """Real client: PSPP's LOGISTIC REGRESSION on the fixture (user-missing excluded)."""
    sps = tmp_path / "m.sps"
    sps.write_text(
        "SET FORMAT=F30.12.\n"
        "OUTPUT MODIFY /SELECT TABLES /TABLECELLS SELECT=[SIGNIFICANCE] FORMAT=F30.12.\n"
        f"GET FILE='{SAV}'.\n"
        "LOGISTIC REGRESSION VARIABLES low WITH age lwt race smoke ptl ht\n"
        "  /CATEGORICAL = race smoke ht /CRITERIA = BCON(1e-10) ITERATE(100).\n"
    )
    out = tmp_path / "out.csv"
    run = subprocess.run(
        ["pspp", str(sps), "-o", str(out)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    tables = _pspp_tables(out.read_text())
    res = model(
        cli(
            "regress", "--input", str(SAV), "--outcome", "low", "--candidates",
            ",".join(CANDIDATES), "--categorical", ",".join(CATEGORICAL), "--method", "enter",
            "-f", "json",
        ).stdout
    )  # fmt: skip
    assert _num(tables["Model Summary"][1][1]) == pytest.approx(res["minus_2ll"], rel=1e-6)
    assert tables["Case Processing Summary"][1][:2] == ["Included in Analysis", "183"]
    # PSPP lists covariates first, names factors by their variable label and index, and adds
    # a joint row for two-level factors too (SPSS and hmip print none)
    pspp_name = {
        "Mother's race": "race", "Mother's race(1)": "race(White)",
        "Mother's race(2)": "race(Black)", "smoke(1)": "smoke(Non-smoker)",
        "ht(1)": "ht(No hypertension)",
    }  # fmt: skip
    rows = {
        pspp_name.get(r[1], r[1]): r
        for r in tables["Variables in the Equation"][1:]
        if r[1] not in ("smoke", "ht")
    }
    assert sorted(rows) == sorted(c["parameter"] for c in res["coefficients"])
    for c in res["coefficients"]:
        row = rows[c["parameter"]]
        if c["kind"] != "term":
            assert _num(row[2]) == pytest.approx(c["b"], rel=1e-6), c["parameter"]
            assert _num(row[3]) == pytest.approx(c["se"], rel=1e-6), c["parameter"]
        assert _num(row[4]) == pytest.approx(c["wald"], rel=1e-6), c["parameter"]
