"""Binomial-logit maximum likelihood by Newton-Raphson, and the tests built on a fit.

Everything works on a "binomial table": a design matrix X (rows = cases or covariate
patterns, column 0 = the constant), `w` = number of cases on the row and `y` = number of
events on the row. With w = 1 and y in {0, 1} this is the ordinary case-level fit; with
rows collapsed by covariate pattern it is the same likelihood (no binomial coefficient is
added), so estimates, standard errors, log-likelihood and every test are identical.

Why our own Newton-Raphson: score tests are only exact at a fully converged fit, and we
want convergence to |delta beta| < 1e-11 (statsmodels and R stop earlier by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

MAX_ITER = 100
BETA_TOL = 1e-11  # max |change in beta| (relative to max(1, |beta|)) to call a fit converged
# A fitted probability this close to 0 or 1 means the likelihood has no finite maximum in
# some direction (complete or quasi-complete separation).
SEPARATION_EPS = 1e-9
# Relative size of the smallest eigenvalue (of the correlation-scaled information) below
# which columns are treated as linearly dependent.
COLLINEAR_TOL = 1e-10


@dataclass
class Fit:
    """One fitted model. `cols` are the design columns used (0 = constant)."""

    cols: tuple[int, ...]
    beta: np.ndarray
    cov: np.ndarray  # inverse information at beta
    loglik: float
    eta: np.ndarray
    prob: np.ndarray
    converged: bool
    iterations: int
    separation: bool
    singular: bool


def loglik_at(X: np.ndarray, w: np.ndarray, y: np.ndarray, beta: np.ndarray) -> float:
    eta = X @ beta
    # y*eta - w*log(1 + e^eta), computed without overflow.
    return float(np.dot(y, eta) - np.dot(w, np.logaddexp(0.0, eta)))


def _prob(eta: np.ndarray) -> np.ndarray:
    # Stable logistic function.
    out = np.empty_like(eta)
    pos = eta >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-eta[pos]))
    e = np.exp(eta[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _solve_psd(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, bool]:
    """Solve a x = b for symmetric positive (semi)definite a; flag singularity."""
    try:
        c = linalg.cho_factor(a, lower=True, check_finite=False)
        x = linalg.cho_solve(c, b, check_finite=False)
        if np.all(np.isfinite(x)):
            return x, False
    except linalg.LinAlgError:
        pass
    return np.linalg.pinv(a, hermitian=True) @ b, True


def _inverse_psd(a: np.ndarray) -> tuple[np.ndarray, bool]:
    inv, singular = _solve_psd(a, np.eye(a.shape[0]))
    return (inv + inv.T) / 2.0, singular


def is_rank_deficient(info: np.ndarray) -> bool:
    """True if the (information-like) matrix is singular up to COLLINEAR_TOL, after scaling
    to unit diagonal so the test does not depend on the units of the columns."""
    d = np.diag(info)
    if np.any(d <= 0):
        return True
    s = 1.0 / np.sqrt(d)
    scaled = info * s[:, None] * s[None, :]
    ev = np.linalg.eigvalsh(scaled)
    return bool(ev[0] < COLLINEAR_TOL * max(1.0, ev[-1]))


def fit_logit(X: np.ndarray, w: np.ndarray, y: np.ndarray, cols: tuple[int, ...],
              start: np.ndarray | None = None) -> Fit:
    """Maximum-likelihood fit of the logit model on design columns `cols`.

    Newton-Raphson with step halving if the log-likelihood would fall. Starts from `start`
    or from the intercept-only solution (constant = logit of the event rate).
    """
    Xs = X[:, list(cols)]
    k = Xs.shape[1]
    total_w, total_y = float(w.sum()), float(y.sum())
    if start is None:
        beta = np.zeros(k)
        if 0 < total_y < total_w and cols and cols[0] == 0:
            beta[0] = np.log(total_y / (total_w - total_y))
    else:
        beta = np.array(start, dtype=float)
    eta = Xs @ beta
    ll = float(np.dot(y, eta) - np.dot(w, np.logaddexp(0.0, eta)))
    converged = False
    singular = False
    separation = False
    it = 0
    flat_growth = 0  # iterations where the log-likelihood stalls while beta keeps moving
    for it in range(1, MAX_ITER + 1):
        p = _prob(eta)
        grad = Xs.T @ (y - w * p)
        wt = w * p * (1.0 - p)
        info = (Xs * wt[:, None]).T @ Xs
        delta, sing = _solve_psd(info, grad)
        singular = singular or sing
        step = 1.0
        for _ in range(40):
            new_beta = beta + step * delta
            new_eta = Xs @ new_beta
            new_ll = float(np.dot(y, new_eta) - np.dot(w, np.logaddexp(0.0, new_eta)))
            if new_ll >= ll - 1e-12 * max(1.0, abs(ll)) or not np.isfinite(ll):
                break
            step /= 2.0
        change = np.max(np.abs(new_beta - beta) / np.maximum(1.0, np.abs(new_beta))) if k else 0.0
        ll_gain = new_ll - ll
        beta, eta, ll = new_beta, new_eta, new_ll
        if change < BETA_TOL:
            converged = True
            break
        # Divergence toward infinity (separation): the likelihood stops improving while some
        # coefficient keeps growing by a roughly constant amount each iteration.
        if ll_gain < 1e-10 * max(1.0, abs(ll)) and change > 1e-4 and np.max(np.abs(eta)) > 15:
            flat_growth += 1
            if flat_growth >= 5:
                break
        else:
            flat_growth = 0
    p = _prob(eta)
    wt = w * p * (1.0 - p)
    info = (Xs * wt[:, None]).T @ Xs
    cov, sing = _inverse_psd(info)
    singular = singular or sing or (k > 0 and is_rank_deficient(info))
    present = w > 0
    extreme = np.any((np.minimum(p, 1.0 - p) < SEPARATION_EPS) & present)
    separation = bool(extreme or (not converged and np.max(np.abs(eta[present]), initial=0) > 15))
    return Fit(tuple(cols), beta, cov, ll, eta, p, converged, it, separation, singular)


def score_blocks(X: np.ndarray, w: np.ndarray, y: np.ndarray, fit: Fit) -> tuple[np.ndarray, np.ndarray]:
    """Score vector and information matrix for *all* design columns at the fit's estimates."""
    resid = y - w * fit.prob
    u = X.T @ resid
    wt = w * fit.prob * (1.0 - fit.prob)
    info = (X * wt[:, None]).T @ X
    return u, info


def score_statistic(u: np.ndarray, info: np.ndarray, model: list[int], extra: list[int]
                    ) -> tuple[float, int, bool]:
    """Rao score statistic U' I^-1 U for adding columns `extra` to a model fitted on
    columns `model`, with the information of the augmented design at the current fit.

    Returns (statistic, df, collinear). When the extra columns are linearly dependent on the
    model's (singular Schur complement) the block is not testable: (nan, df, True).
    """
    cols = list(model) + list(extra)
    sub = info[np.ix_(cols, cols)]
    if is_rank_deficient(sub):
        return float("nan"), len(extra), True
    uu = u[cols]
    x, _ = _solve_psd(sub, uu)
    return float(max(0.0, uu @ x)), len(extra), False


def residual_score(u: np.ndarray, info: np.ndarray, model: list[int], extra: list[int]
                   ) -> tuple[float, int]:
    """Joint score test of all `extra` columns; dependent columns are dropped one at a time
    (in order) so df is the rank of what can be tested."""
    keep: list[int] = []
    for c in extra:
        trial = list(model) + keep + [c]
        if not is_rank_deficient(info[np.ix_(trial, trial)]):
            keep.append(c)
    if not keep:
        return float("nan"), 0
    stat, df, _ = score_statistic(u, info, model, keep)
    return stat, df


def wald_statistic(fit: Fit, positions: list[int]) -> float:
    """Wald chi-square for the coefficients at `positions` (indices into fit.beta)."""
    b = fit.beta[positions]
    v = fit.cov[np.ix_(positions, positions)]
    x, _ = _solve_psd(v, b)
    return float(max(0.0, b @ x))


def conditional_loglik(X: np.ndarray, w: np.ndarray, y: np.ndarray, fit: Fit, positions: list[int]) -> float:
    """Log-likelihood at SPSS's *conditional* estimates of the model without `positions`.

    SPSS Algorithms, LOGISTIC REGRESSION, "Conditional statistic" (after Lawless & Singhal,
    1978): with beta = (beta_r, beta_i) and covariance C partitioned the same way, the
    conditional estimate of the remaining parameters is beta_r - C_ri C_ii^-1 beta_i; the
    statistic is -2 (L(conditional) - L(beta)).
    """
    keep = [j for j in range(len(fit.beta)) if j not in positions]
    c_ri = fit.cov[np.ix_(keep, positions)]
    c_ii = fit.cov[np.ix_(positions, positions)]
    x, _ = _solve_psd(c_ii, fit.beta[positions])
    beta_r = fit.beta[keep] - c_ri @ x
    cols = [fit.cols[j] for j in keep]
    return loglik_at(X[:, cols], w, y, beta_r)
