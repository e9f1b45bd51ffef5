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

MAX_ITER = 100
BETA_TOL = 1e-11  # max |change in beta| (relative to max(1, |beta|)) to call a fit converged
# Kept for compatibility; no longer a verdict. A fitted probability this close to 0 or 1 is
# legitimate with a strong or wide-range covariate (|eta| > 20.7); separation is decided by
# the linear program in `separation_direction`.
SEPARATION_EPS = 1e-9
# |eta| beyond this (a fitted probability within ~3e-7 of 0 or 1) makes a fit suspect, and
# the exact separation check (a small LP) is run.
SUSPECT_ETA = 15.0
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
    # With separation: cases whose outcome a linear combination of the model's columns
    # predicts perfectly (fitted probability -> 0 or 1), and whether that is every case
    # (complete) or not (quasi-complete).
    n_perfect: float = 0.0
    complete: bool = False


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
    """Solve a x = b for symmetric positive (semi)definite a; flag singularity.

    The Cholesky factorisation decides positive definiteness; NumPy only (scipy.linalg's
    import cost each `hmip regress` start about 0.3 s, for matrices of a few dozen rows)."""
    try:
        np.linalg.cholesky(a)  # raises unless a is positive definite
        x = np.linalg.solve(a, b)
        if np.all(np.isfinite(x)):
            return x, False
    except np.linalg.LinAlgError:
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


def _lp_rows(X: np.ndarray, w: np.ndarray, y: np.ndarray):
    """Covariate patterns for the separation LPs: (Z, sign, centre, scale, const) with Z the
    centred and scaled unique rows and sign +1 (events only), -1 (non-events only) or 0
    (both); None if no pattern has a single outcome."""
    present = w > 0
    Xp, wp, yp = X[present], w[present], y[present]
    if Xp.shape[0] == 0 or Xp.shape[1] == 0:
        return None
    uniq, inv = np.unique(Xp, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    ev = np.bincount(inv, weights=(yp > 0).astype(float), minlength=len(uniq)) > 0
    ne = np.bincount(inv, weights=(yp < wp).astype(float), minlength=len(uniq)) > 0
    Z = uniq.astype(float)
    const = np.all(Z == 1.0, axis=0)
    centre = np.where(const, 0.0, Z.mean(axis=0)) if const.any() else np.zeros(Z.shape[1])
    Z = Z - centre
    scale = np.max(np.abs(Z), axis=0)
    scale[scale == 0] = 1.0
    Z = Z / scale
    sign = np.where(ev & ~ne, 1.0, np.where(ne & ~ev, -1.0, 0.0))
    if not (sign != 0).any():
        return None
    return Z, sign, centre, scale, const


# presolve off: on tall LPs (many patterns, few columns) HiGHS presolve takes seconds.
_LP_OPTIONS = {
    "primal_feasibility_tolerance": 1e-10,
    "dual_feasibility_tolerance": 1e-10,
    "presolve": False,
}


def _konis(Z: np.ndarray, sign: np.ndarray) -> np.ndarray | None:
    """Konis's LP on prepared patterns: a separating direction (scaled units) or None."""
    from scipy.optimize import linprog

    k = Z.shape[1]
    strict = sign != 0
    mixed = ~strict
    c = -(sign[strict] @ Z[strict])
    a_ub = -(sign[strict, None] * Z[strict])
    res = linprog(
        c,
        A_ub=a_ub,
        b_ub=np.zeros(a_ub.shape[0]),
        A_eq=Z[mixed] if mixed.any() else None,
        b_eq=np.zeros(int(mixed.sum())) if mixed.any() else None,
        bounds=[(-1.0, 1.0)] * k,
        method="highs",
        options=_LP_OPTIONS,
    )
    if res.status != 0 or res.x is None:
        return None
    b = res.x
    margin = Z @ b
    signed = sign * margin
    tol = 1e-7
    # A certificate: no row on the wrong side, patterns with both outcomes on the hyperplane,
    # and at least one row strictly on its side.
    if (
        signed[strict].max(initial=0.0) <= tol
        or signed[strict].min(initial=0.0) < -tol
        or (mixed.any() and np.abs(margin[mixed]).max() > tol)
    ):
        return None
    return b


def perfectly_predicted(X: np.ndarray, w: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Boolean per row of X: the rows (cases or patterns) whose fitted probability goes to 0
    or 1 under separation, i.e. the largest set of patterns that some direction b puts
    strictly on their side (the union over all separating directions, which one direction
    attains because the directions form a convex cone). Konis's direction gives a first set;
    for the patterns it leaves on its hyperplane one more LP: maximise sum t_i subject to
    s_i z_i.b >= t_i (those patterns), s_i z_i.b >= 0 (the others), 0 <= t_i <= 1,
    z_i.b = 0 on patterns with both outcomes, b free. All False without separation."""
    from scipy.optimize import linprog

    out = np.zeros(len(w), dtype=bool)
    prepared = _lp_rows(X, w, y)
    if prepared is None:
        return out
    Z, sign, _, _, _ = prepared
    k, m = Z.shape[1], Z.shape[0]
    mixed = np.flatnonzero(sign == 0)
    # Patterns already strictly on their side under the Konis direction are in the set; only
    # the others (on its hyperplane) need a t variable: b1 * M + b2 keeps b1's strict rows.
    b1 = _konis(Z, sign)
    on_side = np.zeros(m, dtype=bool)
    if b1 is None:
        return out
    on_side[(sign * (Z @ b1) > 1e-7)] = True
    strict = np.flatnonzero(sign != 0)
    open_ = np.flatnonzero((sign != 0) & ~on_side)
    if len(open_):
        from scipy import sparse

        nt = len(open_)
        t_block = sparse.csr_matrix(
            (np.ones(nt), (np.searchsorted(strict, open_), np.arange(nt))), shape=(len(strict), nt)
        )
        a_ub = sparse.hstack(
            [sparse.csr_matrix(-(sign[strict, None] * Z[strict])), t_block], format="csr"
        )
        a_eq = (
            sparse.hstack(
                [sparse.csr_matrix(Z[mixed]), sparse.csr_matrix((len(mixed), nt))], format="csr"
            )
            if len(mixed)
            else None
        )
        res = linprog(
            np.concatenate([np.zeros(k), -np.ones(nt)]),
            A_ub=a_ub,
            b_ub=np.zeros(len(strict)),
            A_eq=a_eq,
            b_eq=np.zeros(len(mixed)) if len(mixed) else None,
            bounds=[(None, None)] * k + [(0.0, 1.0)] * nt,
            method="highs",
            options=_LP_OPTIONS,
        )
        if res.status == 0 and res.x is not None:
            on_side[open_] = res.x[k:] > 0.5
    # Map patterns back to rows.
    present = np.flatnonzero(w > 0)
    _, inv = np.unique(X[present], axis=0, return_inverse=True)
    out[present] = on_side[inv.reshape(-1)]
    return out


def separation_direction(X: np.ndarray, w: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """A direction b != 0 in which the likelihood increases without bound, or None.

    Konis (2007), "Linear programming algorithms for detecting separated data in binary
    logistic regression models" (DPhil thesis, Oxford; R packages safeBinaryRegression and
    detectseparation): the data are separated (completely or quasi-completely) iff some
    b != 0 has x_i.b >= 0 for every row with events and x_i.b <= 0 for every row with
    non-events (so x_i.b = 0 on rows, or covariate patterns, that have both) and x_i.b != 0
    for at least one row. We solve
        maximise  sum_events x_i.b - sum_nonevents x_i.b   subject to those signs, -1 <= b_j <= 1
    with scipy's HiGHS; the optimum is 0 iff there is no separation (a direction in the null
    space of X has all x_i.b = 0 and does not count). Columns are centred (when the constant
    is in the model) and scaled to max |x| = 1 first, which changes neither the answer nor
    the sign pattern and keeps the LP well conditioned. Rows with the same covariate values
    are merged first (a pattern with both events and non-events gets x.b = 0).

    Returns b in the original column units (unit max-norm in the scaled space), or None.
    """
    prepared = _lp_rows(X, w, y)
    if prepared is None:
        return None
    Z, sign, centre, scale, const = prepared
    b = _konis(Z, sign)
    if b is None:
        return None
    # Back to the original units: Z b = (X - centre)/scale . b
    b_orig = b / scale
    if const.any():
        j = int(np.argmax(const))
        b_orig[j] -= float(centre @ (b / scale))
    return b_orig


def _newton(
    Xs: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    beta: np.ndarray,
    max_iter: int,
    stop_on_divergence: bool,
    trace: list[tuple[np.ndarray, float]] | None = None,
) -> tuple[np.ndarray, np.ndarray, float, bool, int, bool]:
    """Newton-Raphson with step halving. Returns (beta, eta, loglik, converged, iterations,
    singular). `trace`, when given, gets (beta, loglik) after each iteration (the iteration
    history, iteration_history.py).

    Converged: max |delta beta| / max(1, |beta|) < BETA_TOL and max |delta eta| /
    max(1, |eta|) < BETA_TOL (the second makes the test independent of the units of the
    covariates: a covariate in pounds has a tiny beta), or the fit has stalled at the
    numerical maximum (three iterations in a row with no measurable gain in the
    log-likelihood and a Newton decrement g'I^-1 g below 1e-12 max(1, |LL|), which
    floating-point noise on ill-conditioned designs can otherwise keep from the strict test).
    """
    k = Xs.shape[1]
    eta = Xs @ beta
    ll = float(np.dot(y, eta) - np.dot(w, np.logaddexp(0.0, eta)))
    converged = singular = False
    it = 0
    flat_growth = 0  # iterations where the log-likelihood stalls while beta keeps moving
    stall = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - `it` is read after the loop
        p = _prob(eta)
        grad = Xs.T @ (y - w * p)
        wt = w * p * (1.0 - p)
        info = (Xs * wt[:, None]).T @ Xs
        delta, sing = _solve_psd(info, grad)
        singular = singular or sing
        decrement = float(abs(delta @ grad))
        step = 1.0
        for _ in range(40):
            new_beta = beta + step * delta
            new_eta = Xs @ new_beta
            new_ll = float(np.dot(y, new_eta) - np.dot(w, np.logaddexp(0.0, new_eta)))
            if new_ll >= ll - 1e-12 * max(1.0, abs(ll)) or not np.isfinite(ll):
                break
            step /= 2.0
        change = np.max(np.abs(new_beta - beta) / np.maximum(1.0, np.abs(new_beta))) if k else 0.0
        change_eta = float(
            np.max(np.abs(new_eta - eta) / np.maximum(1.0, np.abs(new_eta)), initial=0.0)
        )
        ll_gain = new_ll - ll
        beta, eta, ll = new_beta, new_eta, new_ll
        if trace is not None:
            trace.append((beta.copy(), ll))
        if change < BETA_TOL and change_eta < BETA_TOL:
            converged = True
            break
        if ll_gain <= 1e-15 * max(1.0, abs(ll)) and decrement < 1e-12 * max(1.0, abs(ll)):
            stall += 1
            if stall >= 3:
                converged = True
                break
        else:
            stall = 0
        # Divergence toward infinity (suspected separation): the likelihood stops improving
        # while some coefficient keeps growing. Only a reason to stop early and run the exact
        # check (separation_direction); never itself a verdict.
        if (
            stop_on_divergence
            and ll_gain < 1e-10 * max(1.0, abs(ll))
            and change > 1e-4
            and np.max(np.abs(eta)) > SUSPECT_ETA
        ):
            flat_growth += 1
            if flat_growth >= 5:
                break
        else:
            flat_growth = 0
    return beta, eta, ll, converged, it, singular


def fit_logit(
    X: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    cols: tuple[int, ...],
    start: np.ndarray | None = None,
) -> Fit:
    """Maximum-likelihood fit of the logit model on design columns `cols`.

    Newton-Raphson with step halving if the log-likelihood would fall. Starts from `start`
    or from the intercept-only solution (constant = logit of the event rate).

    Separation is decided by the linear program of `separation_direction`, run only when a
    fit is suspect (not converged, or some |eta| > SUSPECT_ETA, i.e. a fitted probability
    within 3e-7 of 0 or 1): extreme fitted probabilities alone are legitimate with a strong
    or wide-range covariate. A suspect fit that the LP clears is iterated further (another
    MAX_ITER iterations without the early stop) so that it converges.
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
    beta, eta, ll, converged, it, singular = _newton(Xs, w, y, beta, MAX_ITER, True)
    present = w > 0
    separation = complete = False
    n_perfect = 0.0
    suspect = (not converged) or np.max(np.abs(eta[present]), initial=0.0) > SUSPECT_ETA
    if suspect and k:
        direction = separation_direction(Xs, w, y)
        separation = direction is not None
        if separation:
            off = perfectly_predicted(Xs, w, y)
            n_perfect = float(w[off].sum())
            complete = bool(off[present].all())
        if not separation and not converged:
            beta, eta, ll, converged, it2, sing2 = _newton(Xs, w, y, beta, MAX_ITER, False)
            it += it2
            singular = singular or sing2
    p = _prob(eta)
    wt = w * p * (1.0 - p)
    info = (Xs * wt[:, None]).T @ Xs
    cov, sing = _inverse_psd(info)
    singular = singular or sing or (k > 0 and is_rank_deficient(info))
    return Fit(
        tuple(cols), beta, cov, ll, eta, p, converged, it, separation, singular, n_perfect, complete
    )


def score_blocks(
    X: np.ndarray, w: np.ndarray, y: np.ndarray, fit: Fit
) -> tuple[np.ndarray, np.ndarray]:
    """Score vector and information matrix for *all* design columns at the fit's estimates."""
    resid = y - w * fit.prob
    u = X.T @ resid
    wt = w * fit.prob * (1.0 - fit.prob)
    info = (X * wt[:, None]).T @ X
    return u, info


def score_statistic(
    u: np.ndarray, info: np.ndarray, model: list[int], extra: list[int]
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


def residual_score(
    u: np.ndarray, info: np.ndarray, model: list[int], extra: list[int]
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


def conditional_loglik(
    X: np.ndarray, w: np.ndarray, y: np.ndarray, fit: Fit, positions: list[int]
) -> float:
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
