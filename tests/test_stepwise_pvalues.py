"""Issue 15: chi-square p-values that never underflow, and entry/removal ordered by them.

References: mpmath (arbitrary precision, 50 digits) for log Q(df/2, x/2), and R's
`pchisq(x, df, lower.tail = FALSE, log.p = TRUE)` pasted below; the 1,000,000-case entry
order against statsmodels GLM score tests ranked with mpmath.
"""

import math

import mpmath
import numpy as np
import polars as pl
import pytest

from hmip_cli.stepwise import select as S
from hmip_cli.stepwise import stepwise
from hmip_cli.stepwise.design import build_design
from hmip_cli.stepwise.pvalues import P_FLOOR, chi2_logp, chi2_p

mpmath.mp.dps = 50


def mp_logp(stat: float, df: float) -> float:
    """log P(chi2_df >= stat) in 50-digit arithmetic (regularised upper incomplete gamma)."""
    q = mpmath.gammainc(mpmath.mpf(df) / 2, mpmath.mpf(stat) / 2, mpmath.inf, regularized=True)
    return float(mpmath.log(q))


STATS = [1.0, 10.0, 100.0, 700.0, 1400.0, 1420.0, 1500.0, 5e3, 2e4, 1e5, 1e6, 1e7, 1e9]


@pytest.mark.parametrize("df", [1, 2, 3, 5, 10, 40])
def test_log_p_matches_mpmath_for_any_statistic(df):
    for x in STATS:
        ref = mp_logp(x, df)
        got = chi2_logp(x, df)
        assert math.isfinite(got), (x, df)
        assert got == pytest.approx(ref, rel=1e-13, abs=1e-300), (x, df)


# R 4.x: options(digits = 17)
#   x <- c(1500, 2e4, 1e6)
#   for (df in c(1, 2, 5)) print(pchisq(x, df, lower.tail = FALSE, log.p = TRUE))
R_LOGP = {
    1: [-753.88306710538234, -10005.177585122665, -500007.13354763162],
    2: [-750.0, -10000.0, -500000.0],
    5: [-740.35257372822889, -9986.4690223162597, -499980.60113480437],
}


@pytest.mark.parametrize("df", sorted(R_LOGP))
def test_log_p_matches_r_pchisq(df):
    for x, ref in zip([1500.0, 2e4, 1e6], R_LOGP[df]):
        assert chi2_logp(x, df) == pytest.approx(ref, rel=1e-14)


def test_above_the_floor_log_p_is_scipys_logsf():
    """chi2_logp agrees with scipy.stats.chi2.logsf on both sides of the distribution's
    median (where scipy switches formula) and of the series/continued-fraction switch.
    Not to the bit: it is computed without SciPy (issue 13: importing scipy.special alone
    cost each `hmip regress` start 0.27 CPU s), from the same series and continued fraction
    SciPy's cephes uses, and agrees with mpmath at least as closely as SciPy does."""
    from scipy import stats

    rng = np.random.default_rng(20261201)
    checked = 0
    for _ in range(5_000):
        df = float(rng.integers(1, 40)) if rng.random() < 0.9 else float(rng.uniform(0.1, 50))
        x = float(rng.exponential(df)) * float(rng.choice([1e-6, 1e-2, 1.0, 3.0, 30.0]))
        ref = float(stats.chi2.logsf(x, df))
        if ref > -700.0:
            assert chi2_logp(x, df) == pytest.approx(ref, rel=1e-12, abs=1e-15), (x, df)
            checked += 1
    assert checked > 4_000


def test_scipy_logsf_underflows_where_ours_does_not():
    # The defect: scipy's logsf is log(sf) and gives -inf past about 1,420 on 1 df.
    from scipy import stats

    assert stats.chi2.logsf(1500.0, 1) == -math.inf
    assert chi2_logp(1500.0, 1) == pytest.approx(-753.88306710538234, rel=1e-14)


def test_p_is_never_zero_for_a_finite_statistic():
    for df in (1, 2, 5):
        for x in STATS:
            p = chi2_p(x, df)
            assert p > 0
            assert p == pytest.approx(max(math.exp(mp_logp(x, df)), P_FLOOR), rel=1e-12)
    assert chi2_p(0.0, 3) == 1.0 and chi2_logp(0.0, 3) == 0.0
    assert math.isnan(chi2_logp(math.nan, 1))


def test_statistics_in_the_thousands_to_millions_rank_by_p_not_by_statistic():
    # (statistic, df) pairs whose order by statistic differs from their order by p.
    pairs = [
        (2000.0, 1),
        (2010.0, 5),  # larger statistic, larger p than (2000, 1)
        (2003.0, 2),
        (19_500.0, 1),
        (19_513.0, 5),
        (1_000_000.0, 1),
        (1_000_030.0, 5),
        (1_000_000.5, 2),
        (5_000.0, 5),
        (4_999.0, 1),
    ]
    ours = sorted(range(len(pairs)), key=lambda i: chi2_logp(*pairs[i]))
    ref = sorted(range(len(pairs)), key=lambda i: mp_logp(*pairs[i]))
    assert ours == ref
    by_stat = sorted(range(len(pairs)), key=lambda i: -pairs[i][0])
    assert ours != by_stat  # the test would not notice ranking by the statistic otherwise


def test_removal_picks_the_largest_p_among_huge_statistics(monkeypatch):
    # Two terms in the model with removal statistics far past scipy's underflow: the one
    # with the larger p (5 df) is the candidate for removal, not the first listed.
    frame = pl.DataFrame({"y": [0, 1] * 6, "a": [1, 2] * 6, "b": list(range(6)) * 2})
    d = build_design(frame, "y", ["a", "b"], ["a", "b"], "last", None, None)
    eng = S._Engine(d, "lr", 0.05, 0.10, 0.5, None)
    fake = {"a": (5000.0, 1), "b": (5010.0, 5)}
    monkeypatch.setattr(eng, "removal_stat", lambda current, t: fake[t])
    name, key, (stat, df) = eng._worst_removal(frozenset({"a", "b"}))
    assert (name, stat, df) == ("b", 5010.0, 5)
    assert key == pytest.approx(mp_logp(5010.0, 5), rel=1e-13)


def _walk(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{path}.{k}")
            yield path, k, v, obj
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{path}[{i}]")


# ---- 1,000,000 cases with strong effects (tests/conftest.py: strong_million) -----------------


def _reference_entry_path(frame: pl.DataFrame, names: list[str], pin: float = 0.05):
    """Forward entry, independently: our own collapse (numpy), statsmodels GLM Binomial fits
    and `score_test`, ranked by mpmath's log p. Returns [(term, score, df)]."""
    import statsmodels.api as sm

    codes = frame.select(names).to_numpy()
    y = frame.get_column("y").to_numpy()
    # one integer per covariate pattern (mixed radix), then counts per pattern
    radix = codes.max(axis=0) + 1
    key = np.zeros(len(codes), dtype=np.int64)
    for j in range(codes.shape[1]):
        key = key * radix[j] + codes[:, j]
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    patterns = codes[first]
    m = np.bincount(inverse).astype(float)
    ev = np.bincount(inverse, weights=y.astype(float))
    endog = np.column_stack([ev, m - ev])

    def indicators(j: int) -> np.ndarray:  # SPSS INDICATOR, reference = last level
        levels = np.unique(patterns[:, j])
        return np.column_stack([(patterns[:, j] == v).astype(float) for v in levels[:-1]])

    blocks = {c: indicators(j) for j, c in enumerate(names)}
    current: list[str] = []
    path = []
    while len(current) < len(names):
        exog = np.column_stack([np.ones(len(m)), *(blocks[c] for c in current)])
        res = sm.GLM(endog, exog, family=sm.families.Binomial()).fit(tol=1e-10, maxiter=100)
        scores = {}
        for c in names:
            if c not in current:
                st = res.score_test(exog_extra=blocks[c])
                scores[c] = (float(np.asarray(st.statistic).ravel()[0]), blocks[c].shape[1])
        best = min(scores, key=lambda c: mp_logp(*scores[c]))
        if not mp_logp(*scores[best]) < math.log(pin):
            break
        current.append(best)
        path.append((best, *scores[best]))
    return path


@pytest.mark.slow
def test_million_cases_enter_in_the_order_of_their_p_values(strong_million):
    frame, names = strong_million
    result = stepwise(frame, "y", names, categorical=names)
    assert result.collapsed and result.n == 1_000_000
    ref = _reference_entry_path(frame, names)
    steps = result.steps[1:]
    assert [s.action for s in steps] == ["enter"] * len(ref)  # nothing is removed
    assert [s.term for s in steps] == [t for t, _, _ in ref]
    # sex (1 df) enters before risk (5 df) although its score is smaller: it has smaller p
    assert [s.term for s in steps[:2]] == ["sex", "risk"]
    s0 = {r.term: r for r in result.steps[0].not_in_equation if r.kind == "term"}
    assert s0["sex"].score < s0["risk"].score and s0["sex"].log_p < s0["risk"].log_p
    for s, (_, score, df) in zip(steps, ref):
        assert s.statistic == pytest.approx(score, rel=1e-8)
        assert s.df == df
        assert s.log_p == pytest.approx(mp_logp(score, df), rel=1e-8)
    # Old behaviour: every p below ~1e-308 was 0 and log p -inf; now none is, anywhere.
    d = result.to_dict()
    n_checked = 0
    for where, key, value, holder in _walk(d):
        if key in ("p", "removal_p") and value is not None:
            assert value > 0, (where, key)
            n_checked += 1
        if key in ("log_p", "removal_log_p") and value is not None:
            assert math.isfinite(value), (where, key)
    assert n_checked > 100
    assert min(s.log_p for s in steps[:5]) < -1000  # really beyond what a float p can hold


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 12, 25, 49, 120])
def test_p_matches_mpmath_in_the_series_and_fraction_regions(df):
    # Issue 13: p is computed without SciPy, from the series of P (x <= df/2 + 1) and the
    # continued fraction of Q (beyond): both sides of the switch and near it, to 1e-12.
    a = df / 2
    for x2 in [1e-9, 1e-4, 0.05, 0.5, a * 0.5, a, a + 0.999, a + 1.0, a + 1.001, a + 3, 2 * a + 5]:
        x = 2 * x2
        ref = math.exp(mp_logp(x, df))
        assert chi2_p(x, df) == pytest.approx(ref, rel=1e-12), (x, df)
