"""Profile-likelihood confidence intervals, for the ordinary and for Firth's penalised
likelihood, and the constrained maximisation both need.

The profile interval for coefficient j is {b : 2 (L(beta-hat) - max over the other
coefficients of L(b, .)) <= chi2_1(level)}: the values of b that a likelihood-ratio test at
1 - level would not reject, so the interval agrees with the LR p-value beside it (a Wald
interval can exclude 1 while the LR p > .05, or the reverse). This is what R's
`confint()` on a glm computes (MASS's profile method, since R 4.4 in stats) and what
`logistf` reports for Firth's fit (profile penalised likelihood). We find each limit by
root-finding (Brent) on the exact constrained maximum rather than by interpolating a grid
as `confint.glm` does, so our limits are the exact roots.

With `penalised=True` L is Firth's penalised log-likelihood l(beta) + 1/2 log det I(beta),
with I the information of the *full* design at beta also when coefficients are fixed (as
`logistf` does for its profile intervals and penalised likelihood-ratio tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hmip_cli.stepwise.fit import _prob, loglik_at

MAX_ITER = 200
TOL = 1e-11


def penalised_loglik(X: np.ndarray, w: np.ndarray, y: np.ndarray, beta: np.ndarray) -> float:
    """Firth's penalised log-likelihood l(beta) + 1/2 log det(X' W X)."""
    p = _prob(X @ beta)
    info = (X * (w * p * (1.0 - p))[:, None]).T @ X
    sign, logdet = np.linalg.slogdet(info)
    if sign <= 0:
        return -math.inf
    return loglik_at(X, w, y, beta) + 0.5 * logdet


def objective(
    X: np.ndarray, w: np.ndarray, y: np.ndarray, beta: np.ndarray, penalised: bool
) -> float:
    return penalised_loglik(X, w, y, beta) if penalised else loglik_at(X, w, y, beta)


@dataclass
class ConstrainedFit:
    beta: np.ndarray
    value: float  # the (penalised) log-likelihood at beta
    converged: bool
    iterations: int


def constrained_max(
    X: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    fixed: dict[int, float],
    penalised: bool,
    start: np.ndarray | None = None,
) -> ConstrainedFit:
    """Maximise the (penalised) log-likelihood over the coefficients not in `fixed`.

    Newton-Raphson on the free coordinates with the expected information as the Hessian
    (for Firth's likelihood, the modified score U* = X'(y - w p + h (1/2 - p)) with h the
    diagonal of the weighted hat matrix, Firth 1993; Heinze & Schemper 2002), step halving
    on the objective, converged when the largest step is below TOL (relative to
    max(1, |beta|)) and the free score is numerically zero.
    """
    k = X.shape[1]
    beta = np.zeros(k) if start is None else np.array(start, dtype=float)
    for j, v in fixed.items():
        beta[j] = v
    free = np.array([j for j in range(k) if j not in fixed], dtype=int)
    value = objective(X, w, y, beta, penalised)
    if len(free) == 0:
        return ConstrainedFit(beta, value, True, 0)
    converged = False
    it = 0
    for it in range(1, MAX_ITER + 1):  # noqa: B007 - `it` is read after the loop
        p = _prob(X @ beta)
        wt = w * p * (1.0 - p)
        info = (X * wt[:, None]).T @ X
        resid = y - w * p
        if penalised:
            inv = np.linalg.pinv(info, hermitian=True)
            h = wt * np.einsum("ij,jk,ik->i", X, inv, X)
            resid = resid + h * (0.5 - p)
        score = X.T @ resid
        sub = info[np.ix_(free, free)]
        try:
            delta = np.linalg.solve(sub, score[free])
        except np.linalg.LinAlgError:
            delta = np.linalg.pinv(sub, hermitian=True) @ score[free]
        step = 1.0
        for _ in range(60):
            trial = beta.copy()
            trial[free] += step * delta
            new = objective(X, w, y, trial, penalised)
            # A full step must gain: with the expected information Firth's Newton step can
            # overshoot by a factor 2 (a saturated design, every h = 1) and then jumps
            # between two points either side of the maximum with equal values for ever;
            # the half step lands on it. Shorter steps may lose rounding noise.
            gain = new > value if step == 1.0 else new >= value - 1e-12 * max(1.0, abs(value))
            if gain:
                break
            step /= 2.0
        change = float(
            np.max(np.abs(trial[free] - beta[free]) / np.maximum(1.0, np.abs(trial[free])))
        )
        beta, value = trial, new
        if change < TOL:
            converged = True
            break
    return ConstrainedFit(beta, value, converged, it)


@dataclass(frozen=True)
class ProfileInterval:
    low: float | None  # on the coefficient scale; None = no finite limit (separation)
    high: float | None


def profile_interval(
    X: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    beta_hat: np.ndarray,
    j: int,
    se: float,
    level: float = 0.95,
    penalised: bool = False,
) -> ProfileInterval:
    """The profile (penalised) likelihood interval for coefficient j (see module doc).
    `beta_hat` is the unconstrained maximum and `se` its standard error (the search starts
    at beta_hat +- 2 se and widens; no finite limit within 60 se or |b| > 50 -> None)."""
    from scipy import optimize  # here: only profile CIs need it (a slow import)

    top = objective(X, w, y, beta_hat, penalised)
    crit = _chi2_1_quantile(level)
    warm: dict[float, np.ndarray] = {}

    def excess(b: float, start: np.ndarray) -> float:
        fit_b = constrained_max(X, w, y, {j: b}, penalised, start)
        warm[b] = fit_b.beta
        return 2.0 * (top - fit_b.value) - crit

    out: list[float | None] = []
    for sign in (-1.0, 1.0):
        step = max(se, 1e-3) * 2.5  # the limit is near 1.96 se: usually inside the first bracket
        inner, start = float(beta_hat[j]), beta_hat
        limit: float | None = None
        for _ in range(40):
            outer = float(beta_hat[j]) + sign * step
            if abs(outer) > 50 + abs(beta_hat[j]) and step > 60 * max(se, 1e-3):
                break
            if excess(outer, start) > 0:
                # Brent between the last point inside and the first outside.
                s0 = warm[outer]
                try:
                    limit = optimize.brentq(
                        lambda b, s0=s0: excess(b, s0),
                        min(inner, outer),
                        max(inner, outer),
                        xtol=1e-12,
                        rtol=4 * np.finfo(float).eps,
                        maxiter=200,
                    )
                except ValueError:
                    # No change of sign from this start: near separation the constrained fit
                    # is not unique enough to bracket the limit, so there is no reliable
                    # finite limit (shown as not available, like separation) rather than
                    # a crash.
                    limit = None
                break
            inner, start = outer, warm[outer]
            step *= 2.0
        out.append(limit)
    return ProfileInterval(out[0], out[1])


def _chi2_1_quantile(level: float) -> float:
    """scipy.stats.chi2.ppf(level, 1) = z^2 with z the (1 + level)/2 normal quantile."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2.0) ** 2


CI_METHODS = ("profile", "wald")


def _exp(x: float | None) -> float | None:
    if x is None or x >= 709:
        return None
    return math.exp(x)


def final_model_cis(
    frame, result, level: float = 0.95
) -> dict[str, tuple[float | None, float | None]]:
    """Profile-likelihood CIs for Exp(B) of every parameter of `result`'s final model
    (fitted to `frame`), keyed by parameter name; parameters whose Exp(B) is not reported
    (unreliable model, or a contrast beyond 1e6) are left out. A limit that does not exist
    (the profile never reaches the critical value) is None."""
    from hmip_cli.stepwise.refit import final_design

    shown = {
        c.parameter
        for c in result.final.in_equation
        if c.kind == "parameter" and c.exp_b is not None and c.reliable
    }
    if not shown:
        return {}
    fd = final_design(frame, result)
    f = fd.fit()
    se = np.sqrt(np.maximum(np.diag(f.cov), 0.0))
    out: dict[str, tuple[float | None, float | None]] = {}
    for j, name in enumerate(fd.names):
        if name not in shown:
            continue
        iv = profile_interval(fd.X, fd.w, fd.y, f.beta, j, float(se[j]), level)
        out[name] = (_exp(iv.low), _exp(iv.high))
    return out
