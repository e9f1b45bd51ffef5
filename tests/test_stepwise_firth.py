"""Firth's penalised-likelihood logistic regression (issue 10, item 5).

References (tests/data/firth/reference.R): brglm2 `glm(HG ~ NV + PI + EH, family = binomial,
data = endometrial, method = "brglmFit", type = "AS_mean")` for B and S.E.; the penalised LR
tests and profile penalised CIs computed in R independently of hmip (optim on
l + 1/2 log det(X'WX) of the full design with the coefficient fixed, as logistf defines
them; uniroot for the limits). The endometrial data (Heinze & Schemper 2002) separate: no
low-grade case has neovasculation, and glm's NV estimate diverges (18.19 at its stop).
A closed form as well: for a 2 x 2 table Firth's estimate is the log odds ratio with 1/2
added to every cell (Haldane's correction), finite when a cell is 0.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from test_json_support import model
from typer.testing import CliRunner

from hmip_cli.cli.app import app
from hmip_cli.stepwise import stepwise
from hmip_cli.stepwise.firth import firth

ENDO = Path(__file__).parent / "data" / "firth" / "endometrial.csv"
runner = CliRunner()

# R: coef(fit), sqrt(diag(vcov(fit))) (brglm2); chi, p, CI limits (B scale) from reference.R
R = {
    "Constant": (3.7745597136471130, 1.4886916634356708, None, None, None, None),
    "NV": (2.9292733531971198, 1.5507637294530494, 6.79845724866605, 0.00912366754708583,
           0.609724436304104, 7.85463171387754),
    "PI": (-0.0347517598704366, 0.0395781473477635, 0.746828513432085, 0.387482203566456,
           -0.124458720851728, 0.040455473182035),
    "EH": (-2.6041639252936819, 0.7760176425015669, 17.7593174794384, 2.50686721485579e-05,
           -4.36518324726324, -1.23272105722042),
}  # fmt: skip


def test_endometrial_against_brglm2_and_r():
    res = firth(pl.read_csv(ENDO), "HG", ["NV", "PI", "EH"])
    assert res.penalised_log_likelihood == pytest.approx(-24.0372678006979, rel=1e-9)
    for c in res.coefficients:
        b, se, chi, p, lo, hi = R[c.parameter]
        assert c.b == pytest.approx(b, rel=1e-8), c.parameter
        assert c.se == pytest.approx(se, rel=1e-8), c.parameter
        if chi is not None:
            assert c.chi_square == pytest.approx(chi, rel=1e-6), c.parameter
            assert c.p == pytest.approx(p, rel=1e-6), c.parameter
            assert math.log(c.ci_low) == pytest.approx(lo, rel=1e-6), c.parameter
            assert math.log(c.ci_high) == pytest.approx(hi, rel=1e-6), c.parameter


def test_endometrial_separates_in_the_ordinary_fit_and_the_message_offers_firth():
    res = stepwise(pl.read_csv(ENDO), "HG", ["NV", "PI", "EH"], pin=0.5, pout=0.6)
    assert not res.reliable
    sep = [p for p in res.problems if p.code == "separation"]
    assert sep and "hmip regress --firth" in sep[0].message


def test_two_by_two_with_a_zero_cell_is_haldane():
    # x = yes: 0 events of 22; x = no: 7 of 363. Firth = log OR with 1/2 added to each cell.
    rows = [{"x": "yes", "y": 0}] * 22 + [{"x": "no", "y": 1}] * 7 + [{"x": "no", "y": 0}] * 356
    res = firth(pl.DataFrame(rows), "y", ["x"], reference="first")
    c = next(c for c in res.coefficients if c.parameter == "x(yes)")
    assert c.exp_b == pytest.approx((0.5 / 22.5) / (7.5 / 356.5), rel=1e-10)


def test_cli_firth_json_on_separated_data():
    args = ["regress", "--input", str(ENDO), "--outcome", "HG", "--candidates", "NV,PI,EH"]
    r = runner.invoke(app, [*args, "--firth", "--format", "json"])
    assert r.exit_code == 0, r.stderr
    got = model(r.stdout)
    assert got["method"] == "firth" and got["n"] == 79
    nv = next(c for c in got["coefficients"] if c["parameter"] == "NV")
    assert nv["b"] == pytest.approx(R["NV"][0], rel=1e-8)
    assert nv["p"] == pytest.approx(R["NV"][3], rel=1e-6)
    assert {"term", "parameter", "b", "se", "p", "exp_b", "ci_low", "ci_high"} <= set(nv)
    table = runner.invoke(app, [*args, "--firth"])
    assert table.exit_code == 0 and "Penalised LR" in table.stdout
    plain = runner.invoke(app, [*args, "--pin", "0.5", "--pout", "0.6"])
    assert "--firth" in plain.stderr  # the separation warning offers it
    bad = runner.invoke(app, ["regress", "--factor", "ete", "--firth"])
    assert bad.exit_code == 2 and "--firth goes with --input" in bad.stderr
