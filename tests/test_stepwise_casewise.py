"""Case-level extras of the final model (issue 11 item 6): SPSS /PRINT=CORR, /SAVE (PRED,
PGROUP, RESID, ZRESID, DEV beside a case index, no identifiers), /CASEWISE OUTLIER(2) and
the classification plot.

Reference: `Rscript tests/data/stepwise/casewise.R` (MASS::birthwt, glm(low ~ lwt + race +
smoke), race reference = last): cov2cor(vcov(fit)), fitted(), residuals(type = "pearson"
and "deviance") for cases 1, 2, 50, 100, 189, and which(abs(pearson) > 2).
"""

from pathlib import Path

import polars as pl
import pytest

from hmip_cli.stepwise import stepwise
from hmip_cli.stepwise.casewise import case_values, casewise, classification_plot, correlation_frame

DATA = Path(__file__).parent / "data" / "stepwise"
CORR = [
    [1, -0.941009267932, -0.0410051538219, 0.129370075473, -0.140372368577],
    [-0.941009267932, 1, -0.131809484439, -0.294255514532, 0.055569180918],
    [-0.0410051538219, -0.131809484439, 1, 0.427377209492, -0.474464458726],
    [0.129370075473, -0.294255514532, 0.427377209492, 1, -0.17804751888],
    [-0.140372368577, 0.055569180918, -0.474464458726, -0.17804751888, 1],
]
CASES = [1, 2, 50, 100, 189]
FITTED = [0.225770947087, 0.232558376255, 0.688742397466, 0.127219975468, 0.315842646445]
PEARSON = [-0.540006882857, -0.550482247629, -1.48753922, -0.381790620472, 1.47177904313]
DEVIANCE = [-0.715384533207, -0.727588981061, -1.52783140803, -0.521673712918, 1.51822998502]
OUTLIERS = [132, 147, 152, 155, 170, 183]


@pytest.fixture(scope="module")
def fitted():
    bw = pl.read_csv(DATA / "birthwt.csv")
    res = stepwise(bw, "low", ["lwt", "race", "smoke"], categorical=["race"], method="enter")
    return bw, res


@pytest.mark.parametrize("collapse", [False, True])
def test_saved_values_match_r(collapse):
    bw = pl.read_csv(DATA / "birthwt.csv")
    res = stepwise(
        bw, "low", ["lwt", "race", "smoke"], categorical=["race"], method="enter", collapse=collapse
    )
    v = case_values(bw, res)
    assert v.height == 189 and v.columns == [
        "case", "observed", "pred", "pgroup", "resid", "zresid", "dev",
    ]  # fmt: skip
    rows = v.filter(pl.col("case").is_in(CASES)).sort("case")
    assert rows["pred"].to_list() == pytest.approx(FITTED, rel=1e-9)
    assert rows["zresid"].to_list() == pytest.approx(PEARSON, rel=1e-9)
    assert rows["dev"].to_list() == pytest.approx(DEVIANCE, rel=1e-9)
    assert (v["pgroup"] == (v["pred"] > 0.5)).all()
    assert casewise(v)["case"].to_list() == OUTLIERS


def test_correlation_of_estimates_matches_r(fitted):
    _, res = fitted
    c = correlation_frame(res)
    assert c["parameter"].to_list() == ["Constant", "lwt", "race(1)", "race(2)", "smoke"]
    got = [list(r[1:]) for r in c.iter_rows()]
    for g, want in zip(got, CORR):
        assert g == pytest.approx(want, rel=1e-8, abs=1e-12)


def test_classification_plot_counts_every_case(fitted):
    bw, res = fitted
    text = classification_plot(case_values(bw, res))
    rows = [line for line in text.splitlines() if "|" in line]
    assert len(rows) == 20
    n0 = sum(int(r.split()[-2]) for r in rows)
    n1 = sum(int(r.split()[-1]) for r in rows)
    assert (n0, n1) == (130, 59)


def test_cli_save_casewise_correlations_classplot(cli, tmp_path):
    out = tmp_path / "saved.csv"
    args = [
        "regress", "--input", str(DATA / "birthwt.csv"), "--outcome", "low", "--candidates",
        "lwt,race,smoke", "--categorical", "race", "--method", "enter",
    ]  # fmt: skip
    r = cli(*args, "--save", str(out), "--casewise", "2", "--correlations", "--classplot")
    assert r.exit_code == 0, r.output
    saved = pl.read_csv(out)
    assert saved.columns == ["case", "observed", "pred", "pgroup", "resid", "zresid", "dev"]
    assert saved.height == 189
    assert "Casewise List" in r.stdout and "Correlation Matrix" in r.stdout
    assert "Classification Plot" in r.stdout
    r = cli(*args, "--save", str(tmp_path / "x.xlsx"))
    assert r.exit_code == 2 and "--save" in r.output


@pytest.mark.parametrize("z", ["-1", "0", "nan"])
def test_casewise_needs_a_positive_value(cli, z):
    """SPSS's /CASEWISE OUTLIER(value) takes a positive value: -1 (which listed every case)
    and 0 are refused before anything is read, as usage errors."""
    args = ["regress", "--input", str(DATA / "birthwt.csv"), "--outcome", "low"]
    r = cli(*args, "--candidates", "lwt", "--method", "enter", "--casewise", z)
    assert r.exit_code == 2, r.output
    assert "--casewise takes a positive value" in r.output and "Traceback" not in r.output
    with pytest.raises(ValueError, match="positive"):
        casewise(pl.DataFrame({"zresid": [3.0]}), -1)
