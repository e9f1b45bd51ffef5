"""Profile-likelihood confidence intervals (issue 10, item 8).

Reference: R on MASS::birthwt (tests/data/profile/reference.R), the final model of
`stepwise(birthwt, ..., pin=0.2, pout=0.3)`: low ~ lwt + race + smoke + ptd + ht + ui, race
with reference 3. Two R numbers per limit: the exact root of the profile deviance
(uniroot on glm.fit with an offset, tol 1e-13), which we match to 1e-9, and confint()
(the MASS profile method in stats), which evaluates the same profile on a grid and
interpolates with a spline, so it agrees with the exact root only to 1e-5..3e-4 relative;
we match it to 5e-4 relative (1e-5 absolute near 0) and say so.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from test_json_support import model
from typer.testing import CliRunner

from hmip_cli import store
from hmip_cli.cli.app import app
from hmip_cli.stepwise import run_sweep, stepwise
from hmip_cli.stepwise.profile import profile_interval
from hmip_cli.stepwise.refit import final_design

BW = Path(__file__).parent / "data" / "stepwise" / "birthwt.csv"
runner = CliRunner()

# parameter: (exact low, exact high, confint low, confint high) on the B scale
R_LIMITS = {
    "Constant": (-0.925623578607332, 2.509330070743276, -0.9255903129329202, 2.50936420037437591),
    "lwt": (-0.03040019234459360, -0.00300090889950704, -0.0304008888512591, -0.00300125693632131),
    "race(1)": (
        -1.7419365635560631,
        -0.0028374015866299,
        -1.7419756854051665,
        -0.00284150687807313,
    ),
    "race(2)": (-0.634247129818799, 1.524995294725094, -0.6342866276031494, 1.52502982397695375),
    "smoke": (0.083859338277392, 1.679435780581413, 0.0838605579715166, 1.67947251362266825),
    "ptd": (0.252291156062583, 2.030467090265797, 0.2522819868050206, 2.03050978955096317),
    "ht": (0.514643139940891, 3.341570489008565, 0.5146148443797514, 3.34167842141965687),
    "ui": (-0.159238643024124, 1.652806568852659, -0.1592746599481207, 1.65283260820564681),
}


@pytest.fixture(scope="module")
def birthwt_final():
    bw = pl.read_csv(BW)
    cands = ["age", "lwt", "race", "smoke", "ptd", "ht", "ui"]
    res = stepwise(bw, "low", cands, categorical=["race"], pin=0.2, pout=0.3)
    assert res.final_terms == ("lwt", "race", "smoke", "ptd", "ht", "ui")
    return bw, res


def test_birthwt_profile_limits_against_r(birthwt_final):
    bw, res = birthwt_final
    fd = final_design(bw, res)
    f = fd.fit()
    # the refit is the stepwise fit (R coef(fit): ht 1.8668952651357742, lwt -0.0159184738581858)
    b = {c.parameter: c.b for c in res.final.in_equation if c.b is not None}
    for j, name in enumerate(fd.names):
        assert f.beta[j] == pytest.approx(b[name], rel=1e-9)
    assert f.beta[fd.names.index("ht")] == pytest.approx(1.8668952651357742, rel=1e-9)
    se = np.sqrt(np.diag(f.cov))
    for j, name in enumerate(fd.names):
        iv = profile_interval(fd.X, fd.w, fd.y, f.beta, j, float(se[j]))
        lo, hi, c_lo, c_hi = R_LIMITS[name]
        assert iv.low == pytest.approx(lo, rel=1e-9), name
        assert iv.high == pytest.approx(hi, rel=1e-9), name
        assert iv.low == pytest.approx(c_lo, rel=5e-4, abs=1e-5), name
        assert iv.high == pytest.approx(c_hi, rel=5e-4, abs=1e-5), name


def test_cli_ci_profile_table_and_json(birthwt_final):
    args = ["regress", "--input", str(BW), "--outcome", "low", "--candidates"]
    args += [
        "age,lwt,race,smoke,ptd,ht,ui",
        "--categorical",
        "race",
        "--pin",
        "0.2",
        "--pout",
        "0.3",
    ]
    r = runner.invoke(app, [*args, "--ci", "profile", "--format", "json"])
    assert r.exit_code == 0, r.stderr
    got = {row["parameter"]: row for row in model(r.stdout)["profile_ci"]["rows"]}
    lo, hi, _, _ = R_LIMITS["ht"]
    assert got["ht"]["ci_low"] == pytest.approx(math.exp(lo), rel=1e-9)
    assert got["ht"]["ci_high"] == pytest.approx(math.exp(hi), rel=1e-9)
    text = runner.invoke(app, [*args, "--ci", "profile"]).stdout
    assert "profile-likelihood 95% CI" in text and "Exp(B) 95% Wald CI" in text
    assert "profile_ci" not in runner.invoke(app, [*args, "--format", "json"]).stdout
    bad = runner.invoke(app, [*args, "--ci", "exact"])
    assert bad.exit_code == 2 and "--ci must be profile or wald" in bad.stderr


def test_sweep_profile_ci_agrees_with_the_lr_test(_example_store_dir):
    """The profile CI excludes 1 exactly when the LR p < .05 (both come from the same
    likelihood); SPSS's Wald CI does not always (the example has cases either way)."""
    cases = store.load_cases(_example_store_dir)
    prof = run_sweep(cases).findings.filter(pl.col("odds_ratio").is_not_null())
    wald = run_sweep(cases, ci="wald").findings.filter(pl.col("odds_ratio").is_not_null())
    assert set(prof["ci_method"]) == {"profile"} and set(wald["ci_method"]) == {"wald"}
    disagree_wald = 0
    for p, w in zip(prof.iter_rows(named=True), wald.iter_rows(named=True)):
        if p["parameter"] != p["term"] and p["n_level"] is not None:  # 1-df terms only
            excl = p["ci_low"] > 1 or p["ci_high"] < 1
            assert excl == (p["p"] < 0.05), p
            disagree_wald += (w["ci_low"] > 1 or w["ci_high"] < 1) != (w["p"] < 0.05)
    assert disagree_wald > 0  # e.g. thinking/contracted: Wald CI to 1.0002 with LR p = .044


def test_a_limit_that_cannot_be_bracketed_is_none_not_a_crash(monkeypatch):
    """Near separation the constrained fit started from another point can land elsewhere,
    so the bracket found while widening has no change of sign when re-evaluated and
    brentq raises (found by the weighted-rows property test). The limit is then reported
    as not available (None), as for separation, instead of a traceback."""
    from hmip_cli.stepwise import profile as P

    rng = np.random.default_rng(5)
    X = np.column_stack([np.ones(60), rng.integers(0, 2, 60)]).astype(float)
    y = (rng.random(60) < 0.5).astype(float)
    w = np.ones(60)
    beta = np.array([0.0, 0.0])
    calls = {"n": 0}

    def stubborn(X_, w_, y_, fixed, penalised, start):
        calls["n"] += 1
        # the first probe of each side is "outside"; every later evaluation (brentq's) too
        return P.ConstrainedFit(start, -1e6, True, 1)

    monkeypatch.setattr(P, "constrained_max", stubborn)
    interval = profile_interval(X, w, y, beta, 1, se=0.5)
    assert interval == P.ProfileInterval(None, None) and calls["n"] >= 4
