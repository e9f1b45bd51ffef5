"""Separation is decided by Konis's linear program, not by extreme fitted probabilities.

A legitimate strong (or wide-range) covariate can put a case at |eta| > 20.7 (fitted
probability within 1e-9 of 0 or 1) while the maximum-likelihood estimates exist; the old
rule called that separation and stopped selection, diverging from SPSS and R.
"""

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from hmip_cli.stepwise import fit as F
from hmip_cli.stepwise import stepwise

DATA = Path(__file__).parent / "data" / "stepwise"
REL = 1e-6


def close(a, b, rel=REL):
    assert a == pytest.approx(b, rel=rel, abs=1e-12), (a, b)


def coef(step, name):
    return next(c for c in step.in_equation if c.parameter == name)


def score(step, term):
    return next(r for r in step.not_in_equation if r.parameter == term and r.kind == "term")


def codes(result):
    return [p.code for p in result.problems]


@pytest.fixture(scope="module")
def strong():
    # tests/data/stepwise/strong.csv, made with numpy: rng = default_rng(5); n = 200;
    # x = round(normal(0, 2.5), 3) with x[0] = 24; z ~ 0/1; g ~ {a,b,c}; noise ~ N(0,1);
    # y ~ Bernoulli(logistic(-1 + 1.2 x + 1.5 z)), y[0] = 1.
    return pl.read_csv(DATA / "strong.csv")


def test_strong_covariate_is_not_separation_and_matches_r(strong):
    r = stepwise(strong, "y", ["x", "z", "g", "noise"], categorical=["g"])
    # The old rule (any p within 1e-9 of 0 or 1) flagged separation after x entered and
    # stopped; R and SPSS go on to enter z.
    assert [(s.action, s.term) for s in r.steps[1:]] == [("enter", "x"), ("enter", "z")]
    assert "separation" not in codes(r) and "nonconvergence" not in codes(r)
    assert r.reliable and all(s.converged and not s.separation for s in r.steps)
    assert np.max(np.abs(F.fit_logit(*_table(r, strong), (0, 1, 2)).eta)) > 25
    s0, s1, s2 = r.steps
    # R (tests/data/stepwise/reference.R, block "strong.csv"):
    #   fstep(st, "y", c("x", "z", "g", "noise")) with g a factor, contr.treatment(3, base = 3)
    for t, v in {
        "x": 75.2129709679,
        "z": 4.88776129265,
        "g": 0.728513729785,
        "noise": 0.122211751195,
    }.items():
        close(score(s0, t).score, v)
    close(s0.log_likelihood, -137.818339054)
    for t, v in {"z": 13.8748486091, "g": 1.08100421039, "noise": 2.40793407863}.items():
        close(score(s1, t).score, v)
    close(s1.log_likelihood, -70.5352320727)
    close(coef(s1, "x").b, 1.22974341685)
    close(coef(s1, "x").se, 0.17469255436)
    close(s1.if_removed[0].change_minus_2ll, 134.566213962)
    close(s2.statistic, 13.8748486091)
    close(s2.p, 0.00019539592707)
    for name, b, se in [
        ("Constant", -0.829135852539, 0.311869502378),
        ("x", 1.404596879, 0.202323567596),
        ("z", 1.77756350416, 0.503428829669),
    ]:
        close(coef(s2, name).b, b)
        close(coef(s2, name).se, se)
    close(s2.log_likelihood, -63.2069051347)
    lr = {row.term: row.change_minus_2ll for row in s2.if_removed}
    close(lr["x"], 144.318868929)
    close(lr["z"], 14.656653876)
    for t, v in {"g": 1.73649800812, "noise": 1.82075179887}.items():
        close(score(s2, t).score, v)
    # Odds ratios are reported for a converged fit.
    assert coef(s2, "x").exp_b == pytest.approx(np.exp(1.404596879), rel=REL)


def _table(r, frame):
    X = np.column_stack([np.ones(frame.height), frame["x"].to_numpy(), frame["z"].to_numpy()])
    return X, np.ones(frame.height), frame["y"].to_numpy().astype(float)


def test_units_of_a_covariate_do_not_matter(strong):
    # x in "pence" (x 10,000) and shifted: same path, statistics and LL; B scales by 1e-4.
    wide = strong.with_columns(x=pl.col("x") * 10_000 + 5e6)
    a = stepwise(strong, "y", ["x", "z", "g", "noise"], categorical=["g"])
    b = stepwise(wide, "y", ["x", "z", "g", "noise"], categorical=["g"])
    assert [(s.action, s.term) for s in b.steps] == [(s.action, s.term) for s in a.steps]
    assert b.reliable and not codes(b)
    close(b.final.log_likelihood, a.final.log_likelihood, 1e-9)
    close(coef(b.final, "x").b * 10_000, coef(a.final, "x").b, 1e-8)
    close(coef(b.final, "x").se * 10_000, coef(a.final, "x").se, 1e-7)
    close(coef(b.final, "z").b, coef(a.final, "z").b, 1e-8)


def test_complete_separation_is_flagged_with_message():
    x = np.arange(40, dtype=float)
    f = pl.DataFrame({"y": (x >= 20).astype(int), "x": x, "noise": np.sin(x)})
    r = stepwise(f, "y", ["x", "noise"])
    assert r.final_terms == ("x",) and not r.reliable
    p = next(p for p in r.problems if p.code == "separation")
    assert p.term == "x" and p.step == 1
    assert "complete separation" in p.message and "quasi" not in p.message
    assert "40 of 40 cases" in p.message
    assert "SPSS would continue" in p.message and "not meaningful" in p.message
    assert "stopped" in r.stop_reason
    assert all(c.exp_b is None and not c.reliable for c in r.final.in_equation)


def test_quasi_complete_separation_numeric():
    # Overlap at x = 3 only: the MLE does not exist (quasi-complete separation).
    x = [0, 1, 2, 3, 3, 4, 5, 6] * 3
    y = [0, 0, 0, 0, 1, 1, 1, 1] * 3
    f = pl.DataFrame({"y": y, "x": x, "noise": np.cos(np.arange(24))})
    r = stepwise(f, "y", ["x", "noise"])
    assert "x" in r.final_terms and not r.reliable
    p = next(p for p in r.problems if p.code == "separation")
    assert "quasi-complete separation" in p.message and "18 of 24 cases" in p.message


@pytest.mark.parametrize("collapse", [True, False])
def test_quasi_complete_separation_level_with_no_events(collapse):
    rng = np.random.default_rng(11)
    n = 300
    a = rng.choice(["x", "y", "z"], n)
    b = rng.choice(["p", "q"], n)
    y = rng.random(n) < np.where(a == "x", 0.6, 0.3)
    y[a == "z"] = False  # level z: no events
    f = pl.DataFrame({"y": y, "a": a, "b": b})
    r = stepwise(f, "y", ["a", "b"], collapse=collapse)
    assert r.collapsed is collapse
    assert "no_events_level" in codes(r) and "separation" in codes(r)
    p = next(p for p in r.problems if p.code == "separation")
    nz = int((a == "z").sum())
    assert p.term == "a" and "quasi-complete" in p.message and f"{nz} of {n} cases" in p.message
    assert not r.reliable


def test_lp_certificate_directly():
    # Complete separation: a direction exists and puts every case on its side.
    x = np.arange(10.0)
    X = np.column_stack([np.ones(10), x])
    y = (x > 4.5).astype(float)
    b = F.separation_direction(X, np.ones(10), y)
    assert b is not None
    signed = (X @ b) * (2 * y - 1)
    assert signed.min() > -1e-9 and signed.max() > 1e-6
    assert F.perfectly_predicted(X, np.ones(10), y).all()  # complete: every case
    # Overlap: no direction.
    y2 = y.copy()
    y2[0], y2[9] = 1.0, 0.0
    assert F.separation_direction(X, np.ones(10), y2) is None
    # Collapsed table: a pattern with both outcomes must sit on the hyperplane.
    Xc = np.array([[1.0, 0.0], [1.0, 1.0]])
    assert F.separation_direction(Xc, np.array([5.0, 5.0]), np.array([2.0, 3.0])) is None
    assert F.separation_direction(Xc, np.array([5.0, 5.0]), np.array([2.0, 5.0])) is not None
    # Collinear columns with no separation: the null space does not count.
    Xd = np.column_stack([np.ones(10), x, 2 * x])
    assert F.separation_direction(Xd, np.ones(10), y2) is None


def test_fast_path_skips_the_lp(monkeypatch, strong):
    calls = []
    real = F.separation_direction
    monkeypatch.setattr(F, "separation_direction", lambda *a: calls.append(1) or real(*a))
    stepwise(strong, "y", ["z", "g", "noise"], categorical=["g"])
    assert calls == []  # nothing suspect: no LP
