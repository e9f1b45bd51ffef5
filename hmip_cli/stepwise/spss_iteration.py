"""SPSS's iteration rule for LOGISTIC REGRESSION (`iterate="spss"`, CLI `--iterate spss`).

hmip's default fits every model to the exact maximum (|Δβ| < 1e-11). SPSS stops earlier and
prints what it has then (IBM, LOGISTIC REGRESSION, "CRITERIA subcommand"):

  ITERATE(20)   at most 20 Newton-Raphson iterations;
  BCON(.001)    stop when every parameter changes by less than .001;
  LCON(0)       stop when -2LL changes by less than LCON percent (0: not used);
  EPS(1e-8)     redundancy tolerance (we keep hmip's collinearity test).

Each model is fitted from SPSS's start: the constant at logit(ȳ), every other B at 0, plain
Newton steps (no step halving). The estimates are those after the last step, and their
S.E.s come from the information matrix at the start of that step (the inverse that produced
it), which is why SPSS's printed S.E. and Wald can differ from the exact values in the third
decimal. The log-likelihood, fitted probabilities and score tests are at the final estimates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hmip_cli.stepwise import fit as F


@dataclass(frozen=True)
class SpssCriteria:
    iterate: int = 20
    bcon: float = 0.001
    lcon: float = 0.0  # percent


def spss_start(w: np.ndarray, y: np.ndarray, cols: tuple[int, ...]) -> np.ndarray:
    """SPSS's start for a model with predictors: the constant at logit(ȳ), every B at 0."""
    beta = np.zeros(len(cols))
    total_w, total_y = float(w.sum()), float(y.sum())
    if 0 < total_y < total_w and cols and cols[0] == 0:
        beta[0] = np.log(total_y / (total_w - total_y))
    return beta


def fit_logit_spss(
    X: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    cols: tuple[int, ...],
    criteria: SpssCriteria = SpssCriteria(),
    start: np.ndarray | None = None,
    trace: list[tuple[np.ndarray, float]] | None = None,
) -> F.Fit:
    """A fit by SPSS's rule (module docstring). `converged` is False when ITERATE ran out.

    start: the initial B (default SPSS's: constant = logit(ȳ), the rest 0). trace: gets
    (B, log-likelihood) after each iteration (SPSS's Iteration History)."""
    Xs = X[:, list(cols)]
    k = Xs.shape[1]
    beta = spss_start(w, y, cols) if start is None else np.array(start, dtype=float)
    eta = Xs @ beta
    ll = F.loglik_at(Xs, w, y, beta)
    info = np.zeros((k, k))
    converged = singular = False
    it = 0
    for it in range(1, criteria.iterate + 1):  # noqa: B007 - `it` is read after the loop
        p = F._prob(eta)
        grad = Xs.T @ (y - w * p)
        wt = w * p * (1.0 - p)
        info = (Xs * wt[:, None]).T @ Xs
        delta, sing = F._solve_psd(info, grad)
        singular = singular or sing
        new_beta = beta + delta
        new_ll = F.loglik_at(Xs, w, y, new_beta)
        change = float(np.max(np.abs(delta), initial=0.0))
        lchange = abs(new_ll - ll) / max(abs(ll), 1e-300) * 100.0
        beta, ll = new_beta, new_ll
        eta = Xs @ beta
        if trace is not None:
            trace.append((beta.copy(), ll))
        if change < criteria.bcon or (criteria.lcon > 0 and lchange < criteria.lcon):
            converged = True
            break
    cov, sing = F._inverse_psd(info)  # the information the last step was computed from
    p = F._prob(eta)
    present = w > 0
    separation = complete = False
    n_perfect = 0.0
    suspect = (not converged) or np.max(np.abs(eta[present]), initial=0.0) > F.SUSPECT_ETA
    if suspect and k and F.separation_direction(Xs, w, y) is not None:
        separation = True
        off = F.perfectly_predicted(Xs, w, y)
        n_perfect = float(w[off].sum())
        complete = bool(off[present].all())
    singular = singular or sing or (k > 0 and F.is_rank_deficient(info))
    return F.Fit(
        tuple(cols), beta, cov, ll, eta, p, converged, it, separation, singular, n_perfect, complete
    )
