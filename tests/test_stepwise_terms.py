"""Numeric candidates, interactions (a*b, a:b) with SPSS's hierarchy rule, and the collapse
onto covariate patterns with numeric columns (issue 11 item 3).

R reference: `Rscript tests/data/stepwise/interactions.R` (MASS::birthwt, race indicator
coding with reference = last, glm polished to exact convergence, score statistic U'S^-1U at
the final fit); printed numbers pasted beside each test.
"""

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_json_support import model

from hmip_cli.errors import BadRequest
from hmip_cli.stepwise import stepwise
from hmip_cli.stepwise.terms import expand

DATA = Path(__file__).parent / "data" / "stepwise"
REL = 1e-8


def test_expand_writes_out_star_and_keeps_order():
    assert expand(["x", "a*b"]) == ["x", "a", "b", "a:b"]
    assert expand(["a*b*c"]) == ["a", "b", "c", "a:b", "a:c", "b:c", "a:b:c"]
    assert expand(["a", "b", "a:b", "a*b"]) == ["a", "b", "a:b"]
    with pytest.raises(BadRequest, match="needs its lower-order terms"):
        expand(["a", "a:b"])
    with pytest.raises(BadRequest, match="names a column twice"):
        expand(["a", "a:a"])


def test_interaction_columns_match_r_glm():
    # interactions.R: glm(low ~ lwt + race + smoke + lwt:race), race ref = 3
    bw = pl.read_csv(DATA / "birthwt.csv")
    r = stepwise(
        bw, "low", ["lwt", "race", "smoke", "lwt:race"], categorical=["race"], method="enter"
    )
    params = [c for c in r.final.in_equation if c.kind != "term"]
    assert [c.parameter for c in params] == [
        "lwt", "race(1)", "race(2)", "smoke", "lwt:race(1)", "lwt:race(2)", "Constant",
    ]  # fmt: skip
    params = params[-1:] + params[:-1]
    b = [2.42128280348, -0.0266258049107, -2.91637664143, -2.25393142698, 1.08407510338,
         0.0163036678698, 0.0203718271134]  # fmt: skip
    se = [1.66545162568, 0.0141672145622, 2.09159891119, 2.36054971708, 0.384819517008,
          0.0170353515335, 0.018050008054]  # fmt: skip
    assert [c.b for c in params] == pytest.approx(b, rel=REL)
    assert [c.se for c in params] == pytest.approx(se, rel=REL)
    assert r.final.minus_2ll == pytest.approx(213.516324162, rel=REL)
    joint = next(c for c in r.final.in_equation if c.kind == "term" and c.term == "lwt:race")
    assert joint.df == 2


def test_interaction_scores_match_r():
    # interactions.R: score_stat(glm(low ~ lwt + race + smoke), lwt x race indicators) etc.
    bw = pl.read_csv(DATA / "birthwt.csv")
    r = stepwise(
        bw, "low", ["lwt", "race", "smoke", "lwt:race", "race:smoke"], categorical=["race"],
        blocks=[("enter", ["lwt", "race", "smoke"]), ("fstep", ["lwt:race", "race:smoke"])],
    )  # fmt: skip
    s1 = {x.term: x for x in r.steps[1].not_in_equation if x.kind == "term"}
    assert s1["lwt:race"].score == pytest.approx(1.38494878746, rel=REL)
    assert s1["race:smoke"].score == pytest.approx(2.38748502294, rel=REL)
    assert s1["lwt:race"].df == s1["race:smoke"].df == 2
    assert len(r.steps) == 2  # neither is significant


def _xor(n=400, seed=3):
    """y depends on a:b only (a xor b): no main effect, a huge interaction."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 2, n), rng.integers(0, 2, n)
    p = np.where(a ^ b, 0.9, 0.1)
    return pl.DataFrame({"y": rng.random(n) < p, "a": a, "b": b})


def test_hierarchy_an_interaction_enters_only_after_its_main_effects():
    f = _xor()
    r = stepwise(f, "y", ["a*b"])
    s0 = {x.term: x for x in r.steps[0].not_in_equation if x.kind == "term"}
    assert s0["a:b"].p < 1e-15  # by far the smallest p at step 0 ...
    assert s0["a"].p > 0.05 and s0["b"].p > 0.05
    assert r.final_terms == ()  # ... but not eligible: neither a nor b enters
    # with the main effects forced in, it enters at once
    r = stepwise(f, "y", ["a*b"], enter=["a", "b"])
    assert r.final_terms == ("a", "b", "a:b")


def test_hierarchy_main_effects_of_an_interaction_in_the_model_are_not_removed():
    # y depends on a*b alone (0.9 where both are 1, else 0.1): in the full model the main
    # effects have B ~ 0 and LR p well above POUT, yet they stay while a:b is in.
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    f = pl.DataFrame({"y": rng.random(400) < np.where(a & b, 0.9, 0.1), "a": a, "b": b})
    r = stepwise(f, "y", ["a*b"], method="bstep")
    lr = {x.term: x.p for x in r.final.if_removed}
    assert r.final_terms == ("a", "b", "a:b")
    assert min(lr["a"], lr["b"]) > 0.5  # would be removed without the hierarchy rule
    assert [s.action for s in r.steps[1:]] == ["enter"]


def test_numeric_candidates_collapse_when_patterns_repeat():
    rng = np.random.default_rng(7)
    n = 3000
    age = rng.integers(18, 70, n)
    g = rng.integers(0, 2, n)
    y = rng.random(n) < 1 / (1 + np.exp(-(-2 + 0.04 * age + 0.5 * g)))
    f = pl.DataFrame({"y": y, "age": age, "g": g})
    r = stepwise(f, "y", ["age", "g", "age:g"], categorical=["g"])
    assert r.collapsed and r.n_rows_fitted <= 2 * 52
    # a covariate with a value per case: the row-level path
    f2 = f.with_columns(x=pl.Series(rng.normal(size=n)))
    assert not stepwise(f2, "y", ["x", "g"], categorical=["g"]).collapsed


@st.composite
def mixed_data(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(80, 400))
    rng = np.random.default_rng(seed)
    k = draw(st.integers(2, 12))  # distinct values of the numeric covariate
    x = rng.integers(0, k, n).astype(float) * draw(st.sampled_from([1.0, 0.37, 12.5]))
    g = rng.integers(0, draw(st.integers(2, 4)), n)
    eta = (
        draw(st.floats(-1, 1)) + draw(st.floats(-0.3, 0.3)) * x + draw(st.floats(-1, 1)) * (g == 0)
    )
    y = rng.random(n) < 1 / (1 + np.exp(-eta))
    if y.all() or not y.any():
        y[0] = not y[0]
    pin = draw(st.sampled_from([0.05, 0.3, 0.6]))
    removal = draw(st.sampled_from(["lr", "wald", "conditional"]))
    return pl.DataFrame({"y": y, "x": x, "g": [f"L{v}" for v in g]}), pin, removal


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_data())
def test_collapsed_path_with_numeric_columns_is_the_row_path(case):
    frame, pin, removal = case
    kw = {"pin": pin, "pout": min(pin * 1.5, 0.9), "removal": removal}
    a = stepwise(frame, "y", ["x", "g", "x:g"], collapse=True, **kw)
    b = stepwise(frame, "y", ["x", "g", "x:g"], collapse=False, **kw)
    assert a.collapsed and not b.collapsed and a.n_rows_fitted < b.n_rows_fitted
    assert [(s.action, s.term) for s in a.steps] == [(s.action, s.term) for s in b.steps]
    for sa, sb in zip(a.steps, b.steps):
        if sa.statistic is not None:
            assert sa.statistic == pytest.approx(sb.statistic, rel=1e-10, abs=1e-10)
        assert sa.minus_2ll == pytest.approx(sb.minus_2ll, rel=1e-10)
        if sa.separation or sb.separation or not sa.converged:
            continue
        for ca, cb in zip(sa.in_equation, sb.in_equation):
            assert ca.parameter == cb.parameter
            if ca.b is not None:
                assert ca.b == pytest.approx(cb.b, rel=1e-10, abs=1e-10)
                assert ca.se == pytest.approx(cb.se, rel=1e-10, abs=1e-10)
        for ra, rb in zip(sa.not_in_equation, sb.not_in_equation):
            if ra.score is not None:
                assert ra.score == pytest.approx(rb.score, rel=1e-10, abs=1e-10)


def test_store_numeric_candidates_and_interactions(cli, example_store):
    r = cli(
        "regress", "--factor", "accommodation", "--measure", "delivery", "--candidates",
        "provider,age,ogrs_score,age*gender", "--data", str(example_store), "-f", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    d = model(r.stdout)
    assert d["candidates"] == ["provider", "age", "ogrs_score", "gender", "age:gender"]
    assert d["categorical"] == ["provider", "gender"]  # age and ogrs_score are covariates
    s0 = {x["term"]: x for x in d["step_details"][0]["variables_not_in_equation"]}
    assert s0["age"]["df"] == 1 and s0["ogrs_score"]["df"] == 1 and s0["age:gender"]["df"] == 1
