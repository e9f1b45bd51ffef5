"""Firth's penalised-likelihood logistic regression, for data where the ordinary fit separates.

Firth (1993) penalises the log-likelihood by the Jeffreys prior, l*(beta) = l(beta) +
1/2 log det I(beta); its maximum exists even under complete or quasi-complete separation,
and it removes the first-order bias of the MLE. What `logistf` (Heinze & Schemper 2002)
reports, and so what we report:

* B: the penalised maximum; S.E.: sqrt of the diagonal of I(beta-hat)^-1 (the same
  estimates and S.E. as R brglm2 `glm(..., method = "brglmFit", type = "AS_mean")`);
* tests: penalised likelihood-ratio chi-square 2 (l*(beta-hat) - max l* with the term's
  coefficients fixed at 0), with the penalty of the *full* design throughout (logistf's
  convention), df = the term's parameters;
* CIs: profile penalised likelihood (`profile.profile_interval(..., penalised=True)`).

One model with every candidate (no stepwise selection: SPSS has no Firth option, and score
tests for entry at the ordinary MLE do not exist under separation).

    from hmip_cli.stepwise.firth import firth
    firth(frame, "y", ["a", "b"], categorical=["a"]).to_dict()
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl

from hmip_cli.errors import ModelFailure
from hmip_cli.jsonsafe import json_safe
from hmip_cli.stepwise.design import Problem, build_design
from hmip_cli.stepwise.profile import constrained_max, profile_interval
from hmip_cli.stepwise.pvalues import chi2_p


@dataclass(frozen=True)
class FirthCoefficient:
    term: str
    parameter: str
    kind: str  # "parameter" | "constant" | "term" (joint test of a categorical term)
    level: str | None
    reference: str | None
    b: float | None
    se: float | None
    chi_square: float  # penalised likelihood-ratio statistic (b = 0)
    df: int
    p: float
    exp_b: float | None
    ci_low: float | None  # profile penalised likelihood 95% CI for Exp(B)
    ci_high: float | None
    reliable: bool = True


@dataclass(frozen=True)
class FirthResult:
    outcome: str
    event: str
    nonevent: str
    candidates: tuple[str, ...]
    categorical: tuple[str, ...]
    codings: tuple[dict, ...]
    n: int
    n_dropped: int
    n_total: int
    penalised_log_likelihood: float
    log_likelihood: float  # the ordinary log-likelihood at the Firth estimates
    null_penalised_log_likelihood: float  # intercept only (other coefficients fixed at 0)
    converged: bool
    iterations: int
    coefficients: tuple[FirthCoefficient, ...]
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    def coefficients_frame(self) -> pl.DataFrame:
        return pl.DataFrame([json_safe(asdict(c)) for c in self.coefficients])

    def to_dict(self) -> dict:
        chi = 2.0 * (self.penalised_log_likelihood - self.null_penalised_log_likelihood)
        df = sum(1 for c in self.coefficients if c.kind == "parameter")
        return json_safe(
            {
                "method": "firth",
                "outcome": self.outcome,
                "event": self.event,
                "nonevent": self.nonevent,
                "candidates": list(self.candidates),
                "categorical": list(self.categorical),
                "codings": list(self.codings),
                "n": self.n,
                "n_dropped": self.n_dropped,
                "n_total": self.n_total,
                "penalised_log_likelihood": self.penalised_log_likelihood,
                "log_likelihood": self.log_likelihood,
                "model_chi_square": {
                    "chi_square": chi,
                    "df": df,
                    "p": chi2_p(max(chi, 0.0), df) if df else None,
                },
                "converged": self.converged,
                "iterations": self.iterations,
                "coefficients": [asdict(c) for c in self.coefficients],
                "ci": "profile penalised likelihood, 95%",
                "tests": "penalised likelihood ratio",
                "problems": [p.to_dict() for p in self.problems],
                "warnings": [p.message for p in self.problems],
            }
        )


def _exp(x: float | None) -> float | None:
    return None if x is None or x >= 709 else math.exp(x)


def firth(
    frame: pl.DataFrame,
    outcome: str,
    candidates: list[str],
    categorical: list[str] | None = None,
    reference: dict[str, str] | str = "last",
    event: str | None = None,
    level: float = 0.95,
) -> FirthResult:
    """Firth's logistic regression of `outcome` on every candidate (see the module doc).
    Coding, listwise deletion, reference and event as `stepwise`."""
    d = build_design(frame, outcome, list(candidates), categorical, reference, event)
    X, w, y = d.X, d.w, d.y
    cols = [0] + [c for t in d.terms for c in t.cols]
    X = X[:, cols]
    where = {c: i for i, c in enumerate(cols)}
    fit = constrained_max(X, w, y, {}, penalised=True)
    if not fit.converged:
        raise ModelFailure(
            "Firth's penalised likelihood did not converge in 200 iterations; check the data"
        )
    beta = fit.beta
    p = 1.0 / (1.0 + np.exp(-(X @ beta)))
    info = (X * (w * p * (1.0 - p))[:, None]).T @ X
    cov = np.linalg.inv(info)
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    loglik = float(np.dot(y, X @ beta) - np.dot(w, np.logaddexp(0.0, X @ beta)))

    def plr(positions: list[int]) -> tuple[float, float]:
        red = constrained_max(X, w, y, dict.fromkeys(positions, 0.0), True, beta)
        chi = max(0.0, 2.0 * (fit.value - red.value))
        return chi, chi2_p(chi, len(positions))

    def param(term: str, name: str, j: int, kind: str, lv, ref) -> FirthCoefficient:
        chi, pv = plr([j])
        iv = profile_interval(X, w, y, beta, j, float(se[j]), level, penalised=True)
        const = kind == "constant"
        return FirthCoefficient(
            term,
            name,
            kind,
            lv,
            ref,
            float(beta[j]),
            float(se[j]),
            chi,
            1,
            pv,
            _exp(float(beta[j])),
            None if const else _exp(iv.low),
            None if const else _exp(iv.high),
        )

    rows: list[FirthCoefficient] = []
    for t in d.terms:
        pos = [where[c] for c in t.cols]
        if t.kind == "categorical" and t.df > 1:
            chi, pv = plr(pos)
            rows.append(
                FirthCoefficient(
                    t.name, t.name, "term", None, t.reference, None, None, chi, t.df, pv,
                    None, None, None,
                )
            )  # fmt: skip
        for k, j in enumerate(pos):
            lv = t.param_levels[k] if t.kind == "categorical" else None
            rows.append(param(t.name, t.params[k], j, "parameter", lv, t.reference))
    rows.append(param("Constant", "Constant", 0, "constant", None, None))
    null = constrained_max(X, w, y, dict.fromkeys(range(1, X.shape[1]), 0.0), True, beta)
    codings = tuple(
        {
            "term": t.name,
            "levels": t.levels,
            "reference": t.reference,
            "parameters": t.params,
            "parameter_levels": t.param_levels,
            "level_n": t.level_n,
            "level_events": t.level_events,
        }
        for t in d.terms
        if t.kind == "categorical"
    )
    problems = tuple(p for p in d.problems if p.code not in ("no_events_level", "all_events_level"))
    return FirthResult(
        outcome,
        d.event,
        d.nonevent,
        tuple(candidates),
        tuple(t.name for t in d.terms if t.kind == "categorical"),
        codings,
        d.n_used,
        d.n_dropped,
        d.n_total,
        fit.value,
        loglik,
        null.value,
        fit.converged,
        fit.iterations,
        tuple(rows),
        problems,
    )
