"""Chi-square upper-tail p-values that never underflow: log p for any statistic and df.

log(sf) of a chi-square (as `scipy.stats.chi2.logsf` computes it) is -inf once sf
underflows (a statistic of about 1,420 on 1 df). In samples of a million cases scores of
10^4 to 10^6 are ordinary, so entry and removal would tie at -inf and follow the candidate
list, not the statistics (issue 15). So log Q(df/2, x/2), the regularised upper incomplete
gamma, is computed in log space: for x > a + 1 from its continued fraction (Lentz's method;
Numerical Recipes 6.2, "gcf"), which converges fastest exactly where the tail is tiny, and
below that from the series of P = 1 - Q (Numerical Recipes 6.2, "gser"), where Q is not
small. Both agree with scipy.special.gammaincc to about 1e-14 relative
(tests/test_stepwise_pvalues.py). No SciPy import: loading scipy.stats cost every
`hmip regress` start about 2 s on the benchmark machine (issue 13).

Reported p-values (`chi2_p`) are floored at the smallest normal double, P_FLOOR: the exact
value is below what a float can hold, and 0 would claim certainty; `chi2_logp` is exact and
is what every decision uses (docs/stepwise.md, "p-values").
"""

from __future__ import annotations

import math
import sys

P_FLOOR = sys.float_info.min  # 2.2250738585072014e-308, the smallest normal double
_CF_EPS = 1e-16
_CF_TINY = 1e-300
_CF_MAX_ITER = 10_000


def _log_upper_gamma_cf(a: float, x: float) -> float:
    """log Q(a, x) = log Γ(a, x)/Γ(a) for x > a + 1 (modified Lentz continued fraction)."""
    b = x + 1.0 - a
    c = 1.0 / _CF_TINY
    d = 1.0 / b
    h = d
    for i in range(1, _CF_MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _CF_TINY:
            d = _CF_TINY
        c = b + an / c
        if abs(c) < _CF_TINY:
            c = _CF_TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _CF_EPS:
            break
    return -x + a * math.log(x) - math.lgamma(a) + math.log(h)


def chi2_logp(stat: float, df: float) -> float:
    """Natural log of P(χ²_df ≥ stat); finite for every finite statistic (0 for stat ≤ 0)."""
    if math.isnan(stat):
        return math.nan
    if stat <= 0.0:
        return 0.0
    if math.isinf(stat):
        return -math.inf
    a, x = 0.5 * df, 0.5 * stat
    if x > a + 1.0:
        return _log_upper_gamma_cf(a, x)
    log_lower = _log_lower_gamma_series(a, x)  # Q = 1 - P, here at least 0.08
    if log_lower < -math.log(2.0):
        return math.log1p(-math.exp(log_lower))  # P small: log1p keeps log Q's precision
    return math.log(-math.expm1(log_lower))


def _log_lower_gamma_series(a: float, x: float) -> float:
    """log P(a, x) = log γ(a, x)/Γ(a) for 0 < x <= a + 1 (its power series)."""
    term = total = 1.0 / a
    ap = a
    for _ in range(_CF_MAX_ITER):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * _CF_EPS:
            break
    return math.log(total) - x + a * math.log(x) - math.lgamma(a)


def chi2_p(stat: float, df: float) -> float:
    """P(χ²_df ≥ stat), floored at P_FLOOR (never 0 for a finite statistic)."""
    lp = chi2_logp(stat, df)
    if math.isnan(lp):
        return math.nan
    return max(math.exp(lp), P_FLOOR) if math.isfinite(lp) else 0.0
