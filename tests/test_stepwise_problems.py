"""Honest failure: separation, a level with no events, a constant candidate, a collinear
pair, bad requests. Each gives its documented Problem (code + message), never a crash and
never an absurd odds ratio presented as a finding."""

import math

import numpy as np
import polars as pl
import pytest

from hmip_cli.errors import BadInput, BadRequest, ModelFailure
from hmip_cli.stepwise import stepwise


def _frame(n=400, seed=3):
    rng = np.random.default_rng(seed)
    a = rng.choice(["x", "y", "z"], n)
    b = rng.choice(["p", "q"], n)
    eta = -0.3 + 0.9 * (a == "x") - 0.4 * (b == "p")
    y = rng.random(n) < 1 / (1 + np.exp(-eta))
    return pl.DataFrame({"y": y, "a": a, "b": b, "num": rng.normal(size=n)})


def codes(result):
    return [p.code for p in result.problems]


def test_level_with_no_events_is_named_and_the_model_flagged():
    f = _frame()
    # Level "z" of a: no events at all -> quasi-complete separation when a enters.
    f = f.with_columns(y=pl.when(pl.col("a") == "z").then(False).otherwise(pl.col("y")))
    r = stepwise(f, "y", ["a", "b"])
    assert "no_events_level" in codes(r)
    msg = next(p.message for p in r.problems if p.code == "no_events_level")
    assert "level 'z' of 'a' has no events" in msg
    assert "a" in r.final_terms
    assert "separation" in codes(r)
    assert not r.reliable
    sep = next(p for p in r.problems if p.code == "separation")
    assert sep.term == "a" and "unreliable" in sep.message
    # No odds ratio is presented from the separated model; nothing is NaN in JSON.
    for c in r.final.in_equation:
        assert c.exp_b is None and c.ci_low is None and not c.reliable
    d = r.to_dict()
    assert d["reliable"] is False
    assert "separation" in d["stop_reason"] or "estimable" in d["stop_reason"]
    _assert_json_finite(d)


def test_complete_separation_on_a_numeric_candidate():
    x = np.arange(40, dtype=float)
    f = pl.DataFrame({"y": (x >= 20).astype(int), "x": x, "noise": np.sin(x)})
    r = stepwise(f, "y", ["x", "noise"])
    assert r.final_terms == ("x",)
    assert "separation" in codes(r)
    assert not r.reliable
    assert all(c.exp_b is None for c in r.final.in_equation)


def test_constant_candidate_is_excluded_before_step_0():
    f = _frame().with_columns(const=pl.lit("same"), cnum=pl.lit(2.5))
    r = stepwise(f, "y", ["a", "const", "b", "cnum"])
    assert codes(r).count("constant") == 2
    msgs = [p.message for p in r.problems if p.code == "constant"]
    assert any(
        "'const' has only one level (same)" in m and "excluded before step 0" in m for m in msgs
    )
    assert any("'cnum' has the same value (2.5)" in m for m in msgs)
    assert all(s.term != "const" for s in r.steps[0].not_in_equation)


def test_collinear_pair_second_term_not_eligible():
    f = _frame()
    f = f.with_columns(a_copy=pl.col("a").replace({"x": "X", "y": "Y", "z": "Z"}))
    r = stepwise(f, "y", ["a", "a_copy", "b"], pin=0.2, pout=0.3)
    entered = [s.term for s in r.steps[1:] if s.action == "enter"]
    assert ("a" in entered) != ("a_copy" in entered)  # exactly one of the pair enters
    assert "collinear" in codes(r)
    p = next(p for p in r.problems if p.code == "collinear")
    assert p.term in ("a", "a_copy") and "not eligible to enter" in p.message
    row = next(x for x in r.final.not_in_equation if x.term == p.term and x.kind == "term")
    assert row.eligible is False and row.score is None


def test_collinear_numeric_pair():
    f = _frame().with_columns(
        num2=2 * pl.col("num") + 1, y=pl.col("num") + np.random.default_rng(1).normal(size=400) > 0
    )
    r = stepwise(f, "y", ["num", "num2"])
    assert r.final_terms in (("num",), ("num2",))
    assert "collinear" in codes(r)


def test_outcome_checks():
    f = _frame().with_columns(three=pl.Series(["a", "b", "c"] * 133 + ["a"]))
    with pytest.raises(BadInput, match="not binary"):
        stepwise(f, "three", ["a"])
    with pytest.raises(ModelFailure, match="nothing to model"):
        stepwise(f.with_columns(y=pl.lit(True)), "y", ["a"])
    with pytest.raises(BadRequest, match="not found"):
        stepwise(f, "y", ["nope"])
    with pytest.raises(BadRequest, match="PIN"):
        stepwise(f, "y", ["a"], pin=0.2, pout=0.1)
    with pytest.raises(BadRequest, match="removal"):
        stepwise(f, "y", ["a"], removal="score")
    with pytest.raises(BadRequest, match="reference"):
        stepwise(f, "y", ["a"], reference={"a": "nope"})


def test_listwise_deletion_counts_and_event_choice():
    f = _frame().with_columns(
        a=pl.when(pl.int_range(pl.len()) % 10 == 0).then(None).otherwise(pl.col("a")),
        y=pl.when(pl.int_range(pl.len()) % 7 == 0).then(None).otherwise(pl.col("y")),
    )
    r = stepwise(f, "y", ["a", "b"])
    dropped = f.filter(pl.col("a").is_null() | pl.col("y").is_null()).height
    assert (r.n, r.n_dropped, r.n_total) == (400 - dropped, dropped, 400)
    # Row-level path counts the same cases.
    assert stepwise(f, "y", ["a", "b"], collapse=False).n == r.n
    # Text outcome: the later value is the event unless --event says otherwise.
    g = _frame().with_columns(out=pl.when(pl.col("y")).then(pl.lit("yes")).otherwise(pl.lit("no")))
    assert stepwise(g, "out", ["a"]).event == "yes"
    r_no = stepwise(g, "out", ["a"], event="no")
    r_yes = stepwise(g, "out", ["a"])
    assert r_no.event == "no"
    b_no = [c.b for c in r_no.final.in_equation if c.kind == "parameter"]
    b_yes = [c.b for c in r_yes.final.in_equation if c.kind == "parameter"]
    assert b_no == pytest.approx([-b for b in b_yes], rel=1e-9)


def test_reference_first_and_named():
    f = _frame()
    last = stepwise(f, "y", ["a"])
    first = stepwise(f, "y", ["a"], reference="first")
    named = stepwise(f, "y", ["a"], reference={"a": "y"})
    assert [c.parameter for c in last.final.in_equation if c.kind == "parameter"] == [
        "a(x)",
        "a(y)",
    ]
    assert [c.parameter for c in first.final.in_equation if c.kind == "parameter"] == [
        "a(y)",
        "a(z)",
    ]
    assert [c.parameter for c in named.final.in_equation if c.kind == "parameter"] == [
        "a(x)",
        "a(z)",
    ]
    # The fit does not depend on the coding.
    assert first.final.minus_2ll == pytest.approx(last.final.minus_2ll, rel=1e-12)


def test_json_contract():
    r = stepwise(_frame(), "y", ["a", "b", "num"], categorical=["a", "b"])
    d = r.to_dict()
    for key in ("n", "steps", "final_terms", "minus_2ll", "log_likelihood", "coefficients"):
        assert key in d
    for s in d["steps"]:
        assert set(s) == {"block", "action", "term", "statistic", "df", "p", "log_p"}
    _assert_json_finite(d)
    import json

    json.dumps(d)


def _assert_json_finite(obj):
    if isinstance(obj, float):
        assert math.isfinite(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            _assert_json_finite(v)
    elif isinstance(obj, list):
        for v in obj:
            _assert_json_finite(v)
