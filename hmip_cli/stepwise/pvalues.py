"""Chi-square upper-tail p-values that never underflow: log p for any statistic and df.

`scipy.stats.chi2.logsf` is log(sf) (here computed directly as log(chdtrc)) and returns -inf once sf underflows (a statistic of
about 1,420 on 1 df). In samples of a million cases scores of 10^4 to 10^6 are ordinary, so
entry and removal would tie at -inf and follow the candidate list, not the statistics
(issue 15). Below a floor we compute log Q(df/2, x/2), the regularised upper incomplete
gamma, in log space from its continued fraction (Lentz's method; Numerical Recipes 6.2,
"gcf"), which converges fastest exactly where the tail is tiny (x > a + 1).

Reported p-values (`chi2_p`) are floored at the smallest normal double, P_FLOOR: the exact
value is below what a float can hold, and 0 would claim certainty; `chi2_logp` is exact and
is what every decision uses (docs/stepwise.md, "p-values").
"""

from __future__ import annotations

import math
import sys

import numpy as np
from scipy import special

P_FLOOR = sys.float_info.min  # 2.2250738585072014e-308, the smallest normal double
# Above this scipy's log(sf) is a normal double (full relative precision); below it the
# continued fraction takes over.
_SCIPY_LOGP_FLOOR = -700.0
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
    return -x + a * math.log(x) - float(special.gammaln(a)) + math.log(h)


def _scipy_logsf(stat: float, df: float) -> float:
    """Exactly `scipy.stats.chi2.logsf(stat, df)` (scipy 1.17's rv_continuous._logsf: log of
    the upper tail above the median, log1p of minus the lower tail below it), without the
    distribution machinery's per-call argument handling, which cost 1.7 ms a call: a report's
    sweep makes thousands."""
    if stat > 2.0 * float(special.gammaincinv(0.5 * df, 0.5)):
        sf = special.chdtrc(df, stat)
        return float(np.log(sf)) if sf > 0.0 else -math.inf
    # NumPy's log1p, not math's: they can differ in the last bit.
    return float(np.log1p(-special.chdtr(df, stat)))


def chi2_logp(stat: float, df: float) -> float:
    """Natural log of P(χ²_df ≥ stat); finite for every finite statistic (0 for stat ≤ 0)."""
    if math.isnan(stat):
        return math.nan
    if stat <= 0.0:
        return 0.0
    if math.isinf(stat):
        return -math.inf
    lp = _scipy_logsf(stat, df)
    if lp > _SCIPY_LOGP_FLOOR:
        return lp
    a, x = 0.5 * df, 0.5 * stat
    if x <= a + 1.0:  # cannot happen for a tail this small; keep scipy's value
        return lp
    return _log_upper_gamma_cf(a, x)


def chi2_p(stat: float, df: float) -> float:
    """P(χ²_df ≥ stat), floored at P_FLOOR (never 0 for a finite statistic)."""
    lp = chi2_logp(stat, df)
    if math.isnan(lp):
        return math.nan
    return max(math.exp(lp), P_FLOOR) if math.isfinite(lp) else 0.0
