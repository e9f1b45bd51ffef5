"""Properties: the covariate-pattern (collapsed) fit is the row-level fit; row order and
the removal statistic's bookkeeping do not change results."""

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hmip_cli.stepwise import stepwise


@st.composite
def categorical_data(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(60, 400))
    k = draw(st.integers(1, 4))
    rng = np.random.default_rng(seed)
    cols = {}
    eta = np.full(n, draw(st.floats(-1.0, 1.0)))
    for j in range(k):
        levels = draw(st.integers(2, 4))
        x = rng.integers(0, levels, n)
        cols[f"v{j}"] = np.array([f"L{i}" for i in x])
        eta = eta + draw(st.floats(-1.5, 1.5)) * (x == 0)
    y = rng.random(n) < 1 / (1 + np.exp(-eta))
    if y.all() or not y.any():
        y[0] = not y[0]
    pin = draw(st.sampled_from([0.05, 0.2, 0.5]))
    removal = draw(st.sampled_from(["lr", "wald", "conditional"]))
    return pl.DataFrame({"y": y, **cols}), list(cols), pin, removal


def _signature(r):
    return [(s.action, s.term, s.df) for s in r.steps[1:]], r.stop_reason


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(categorical_data())
def test_collapsed_and_row_level_paths_agree(case):
    frame, cands, pin, removal = case
    a = stepwise(frame, "y", cands, pin=pin, pout=min(pin * 2, 0.9), removal=removal)
    b = stepwise(
        frame, "y", cands, pin=pin, pout=min(pin * 2, 0.9), removal=removal, collapse=False
    )
    assert a.collapsed and not b.collapsed
    assert _signature(a) == _signature(b)
    assert a.n == b.n
    for sa, sb in zip(a.steps, b.steps):
        if sa.statistic is not None:
            assert sa.statistic == pytest.approx(sb.statistic, rel=1e-9, abs=1e-10)
        assert sa.minus_2ll == pytest.approx(sb.minus_2ll, rel=1e-9)
        if sa.separation or sb.separation:
            continue  # estimates of a separated model do not exist; only the flag must agree
        for ca, cb in zip(sa.in_equation, sb.in_equation):
            assert ca.parameter == cb.parameter
            if ca.b is not None:
                assert ca.b == pytest.approx(cb.b, rel=1e-9, abs=1e-9)
                assert ca.se == pytest.approx(cb.se, rel=1e-9, abs=1e-9)
        for ra, rb in zip(sa.not_in_equation, sb.not_in_equation):
            assert ra.eligible == rb.eligible
            if ra.score is not None:
                assert ra.score == pytest.approx(rb.score, rel=1e-8, abs=1e-9)
    assert a.reliable == b.reliable


@settings(max_examples=15, deadline=None)
@given(categorical_data(), st.integers(0, 1000))
def test_row_order_does_not_matter(case, seed):
    frame, cands, pin, removal = case
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    a = stepwise(frame, "y", cands, pin=pin, pout=min(pin * 2, 0.9), removal=removal)
    b = stepwise(shuffled, "y", cands, pin=pin, pout=min(pin * 2, 0.9), removal=removal)
    assert _signature(a) == _signature(b)
    assert a.final.minus_2ll == pytest.approx(b.final.minus_2ll, rel=1e-10)


def test_fits_are_cached_by_term_set():
    rng = np.random.default_rng(0)
    n = 500
    f = pl.DataFrame(
        {"y": rng.random(n) < 0.4, **{f"v{j}": rng.choice(["a", "b"], n) for j in range(5)}}
    )
    r = stepwise(f, "y", [f"v{j}" for j in range(5)], pin=0.9, pout=0.95)
    k = len(r.steps) - 1
    # every model fitted at most once: no more fits than distinct term sets touched
    assert r.models_fitted <= 1 + k * 6
