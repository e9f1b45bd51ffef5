"""Properties of rates/protection/sample that must hold for any data (hypothesis)."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint
from test_rates_support import random_cases

from hmip_cli import rates, schema

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BY = [*list(schema.DEFAULT_BREAKDOWNS), "mappa", "inspection"]

data_params = st.tuples(
    st.integers(0, 400), st.integers(0, 2**31 - 1), st.sampled_from([0.0, 0.05, 0.3])
)


@SETTINGS
@given(params=data_params, min_n=st.integers(1, 60), suppress=st.booleans())
def test_rates_are_proportions_and_intervals_contain_them(params, min_n, suppress):
    n, seed, missing = params
    out = rates.rates(random_cases(n, seed, missing), by=BY, min_n=min_n, suppress=suppress)
    shown = out.filter(pl.col("percent_yes").is_not_null())
    assert ((shown["percent_yes"] >= 0) & (shown["percent_yes"] <= 100)).all()
    assert (
        (shown["ci_lower"] <= shown["percent_yes"]) & (shown["percent_yes"] <= shown["ci_upper"])
    ).all()
    assert ((shown["ci_lower"] >= 0) & (shown["ci_upper"] <= 100)).all()
    assert (out["n_yes"].fill_null(0) <= out["n"]).all() and (out["n"] <= out["n_priority"]).all()
    # markers are consistent with the counts
    assert (out.filter(pl.col("n") == 0)["marker"] == "[z]").all()
    low = out.filter((pl.col("n") > 0) & (pl.col("n") < min_n))
    assert (low["marker"] == ("[c]" if suppress else "[u]")).all()
    if not suppress:
        assert out["suppressed"].null_count() == out.height


@SETTINGS
@given(params=data_params, perm_seed=st.integers(0, 2**31 - 1), suppress=st.booleans())
def test_row_order_changes_nothing(params, perm_seed, suppress):
    n, seed, missing = params
    cases = random_cases(n, seed, missing)
    shuffled = cases.sample(fraction=1.0, shuffle=True, seed=perm_seed) if n else cases
    kw = {"by": BY, "suppress": suppress}
    assert rates.rates(cases, **kw).equals(rates.rates(shuffled, **kw))
    assert rates.protection(cases, by=BY, suppress=suppress).equals(
        rates.protection(shuffled, by=BY, suppress=suppress)
    )
    assert rates.sample_profile(cases, by="inspection").equals(
        rates.sample_profile(shuffled, by="inspection")
    )


@SETTINGS
@given(params=data_params)
def test_groups_add_up_to_all_cases(params):
    n, seed, missing = params
    cases = random_cases(n, seed, missing)
    out = rates.rates(cases, by=BY)
    total = out.filter(pl.col("breakdown") == "all").select(
        "measure", "factor", "n", "n_yes", "n_priority"
    )
    sums = (
        out.filter(pl.col("breakdown") != "all")
        .group_by("measure", "factor", "breakdown")
        .agg(pl.col("n", "n_yes", "n_priority").sum())
    )
    joined = sums.join(total, on=["measure", "factor"], suffix="_all")
    # every breakdown is present (inspection has no groups when there are no cases)
    assert joined.height == (len(BY) - (n == 0)) * len(schema.FACTORS) * len(schema.MEASURES)
    for c in ("n", "n_yes", "n_priority"):
        assert (joined[c] == joined[f"{c}_all"]).all(), c
    prot = rates.protection(cases, by=BY)
    ptot = prot.filter(pl.col("breakdown") == "all").select("question", "n", "n_yes")
    psum = (
        prot.filter(pl.col("breakdown") != "all")
        .group_by("question", "breakdown")
        .agg(pl.col("n", "n_yes").sum())
    )
    pj = psum.join(ptot, on="question", suffix="_all")
    assert (pj["n"] == pj["n_all"]).all() and (pj["n_yes"] == pj["n_yes_all"]).all()
    prof = rates.sample_profile(cases, by=["inspection", "gender"])
    cases_rows = prof.filter(pl.col("characteristic") == "all_cases")
    for b in ("inspection", "gender"):
        assert cases_rows.filter(pl.col("breakdown") == b)["n"].sum() == n


@SETTINGS
@given(params=data_params, min_n=st.integers(2, 80))
def test_a_single_suppressed_group_is_never_alone(params, min_n):
    n, seed, missing = params
    out = rates.rates(random_cases(n, seed, missing), by=BY, min_n=min_n, suppress=True)
    groups = out.filter(pl.col("breakdown") != "all")
    counts = groups.group_by("measure", "factor", "breakdown").agg(
        hidden=pl.col("suppressed").is_not_null().sum(), nonempty=(pl.col("n") > 0).sum()
    )
    # one hidden group would be all-cases minus the rest; unless it is the only group
    # with cases (then it equals the all-cases row, which is itself below min_n)
    bad = counts.filter((pl.col("hidden") == 1) & (pl.col("nonempty") > 1))
    assert bad.height == 0


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 10**6), frac=st.floats(0, 1), conf=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_matches_statsmodels_and_contains_the_estimate(n, frac, conf):
    k = int(round(frac * n))
    lo, hi = rates.wilson_interval(k, n, confidence=conf)
    slo, shi = proportion_confint(k, n, alpha=1 - conf, method="wilson")
    assert abs(float(lo) - slo) <= 1e-12 and abs(float(hi) - shi) <= 1e-12
    assert 0 <= lo <= k / n <= hi <= 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5000), st.floats(0, 1)), min_size=1, max_size=50))
def test_wilson_vectorised_equals_scalar(pairs):
    n = np.array([p[0] for p in pairs])
    k = np.array([int(round(p[1] * p[0])) for p in pairs])
    lo, hi = rates.wilson_interval(k, n)
    for i in range(len(n)):
        a, b = rates.wilson_interval(int(k[i]), int(n[i]))
        assert lo[i] == a and hi[i] == b
