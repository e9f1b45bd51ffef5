"""Cluster-robust (sandwich) standard errors for the final model of a stepwise run.

Cases are sampled within inspections, so they are not independent; the model-based
standard errors assume they are. The CR1 sandwich estimator (Liang & Zeger 1986, with the
usual small-sample factor) is

    V = c B M B,   B = (X'WX)^-1 at beta-hat,   M = sum over clusters g of u_g u_g',
    u_g = sum over cases i in g of x_i (y_i - p_i),   c = G/(G-1) * (N-1)/(N-K)

with G clusters, N cases and K parameters (constant included): what statsmodels GLM
`cov_type="cluster"` (use_correction=True, the default) and R `sandwich::vcovCL(fit,
cluster = ~g, type = "HC1")` compute. Per parameter: robust S.E., Wald z^2, p (normal
reference) and the Wald 95% CI for Exp(B); per term: the joint robust Wald chi-square over
its indicators. With fewer than MIN_CLUSTERS clusters the estimator is biased downwards
(the standard errors are too small) and a warning says so.

    from hmip_cli.stepwise.robust import cluster_robust
    cluster_robust(frame, result, "inspection").terms   # term -> (chi2, df, p)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from hmip_cli.render import Table
from hmip_cli.stepwise.pvalues import chi2_p
from hmip_cli.stepwise.refit import FinalDesign, final_design
from hmip_cli.stepwise.result import StepwiseResult

MIN_CLUSTERS = 20
Z95 = 1.959963984540054  # scipy.stats.norm.ppf(0.975) (select.Z95)


def cr1_covariance(fd: FinalDesign, beta: np.ndarray) -> np.ndarray:
    """The CR1 sandwich covariance of `beta` (see the module doc). `fd` rows must lie within
    one cluster each (final_design(..., cluster=) builds them so)."""
    if fd.clusters is None:
        raise ValueError("the design has no clusters")
    X, w, y = fd.X, fd.w, fd.y
    p = 1.0 / (1.0 + np.exp(-(X @ beta)))
    info = (X * (w * p * (1.0 - p))[:, None]).T @ X
    bread = np.linalg.inv(info)
    contrib = X * (y - w * p)[:, None]
    g = fd.n_clusters
    u = np.zeros((g, X.shape[1]))
    np.add.at(u, fd.clusters, contrib)
    meat = u.T @ u
    n, k = float(w.sum()), X.shape[1]
    c = (g / (g - 1.0)) * ((n - 1.0) / (n - k)) if g > 1 else float("nan")
    v = c * bread @ meat @ bread
    return (v + v.T) / 2.0


@dataclass(frozen=True)
class RobustRow:
    term: str
    parameter: str
    kind: str  # "parameter" | "term" (joint test of a categorical term's indicators)
    b: float | None
    se_model: float | None
    se_robust: float | None
    wald: float
    df: int
    p: float
    exp_b: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class ClusterRobust:
    cluster: str
    n_clusters: int
    n: int
    rows: tuple[RobustRow, ...]

    @property
    def warning(self) -> str | None:
        if self.n_clusters >= MIN_CLUSTERS:
            return None
        return (
            f"only {self.n_clusters} clusters ('{self.cluster}'): cluster-robust standard errors "
            f"need many clusters and with fewer than {MIN_CLUSTERS} they tend to be too small, so "
            "'survives clustering' is only indicative"
        )

    @property
    def terms(self) -> dict[str, tuple[float, int, float]]:
        """term -> (robust Wald chi-square, df, p) for each term of the final model."""
        out: dict[str, tuple[float, int, float]] = {}
        for r in self.rows:
            if r.kind == "term" or (r.kind == "parameter" and r.term not in out):
                out[r.term] = (r.wald, r.df, r.p)
        return out

    def to_dict(self) -> dict:
        from dataclasses import asdict

        from hmip_cli.jsonsafe import json_safe

        return json_safe(
            {
                "cluster": self.cluster,
                "n_clusters": self.n_clusters,
                "n": self.n,
                "estimator": "CR1",
                "warning": self.warning,
                "rows": [asdict(r) for r in self.rows],
                "terms": [
                    {"term": t, "wald": v[0], "df": v[1], "p": v[2], "survives": v[2] < 0.05}
                    for t, v in self.terms.items()
                ],
            }
        )

    def tables(self, pre: str = "") -> list[Table]:
        from dataclasses import asdict

        frame = pl.DataFrame([asdict(r) for r in self.rows])
        notes = [
            f"CR1 sandwich estimator over {self.n_clusters} clusters of '{self.cluster}' "
            f"({self.n} cases): S.E. robust to cases within a cluster being alike; Sig. from the "
            "robust Wald test; CI: Wald interval with the robust S.E."
        ]
        if self.warning:
            notes.append(self.warning[0].upper() + self.warning[1:] + ".")
        return [
            Table(
                frame,
                f"{pre}Final model: cluster-robust standard errors",
                display={
                    "parameter": "",
                    "b": "B",
                    "se_model": "S.E. (model)",
                    "se_robust": "S.E. (robust)",
                    "wald": "Wald (robust)",
                    "p": "Sig. (robust)",
                    "exp_b": "Exp(B)",
                    "ci_low": "Robust 95% CI lower",
                    "ci_high": "Robust 95% CI upper",
                },
                hidden=("term", "kind"),
                p_columns=("p",),
                notes=notes,
            )
        ]


def _exp(x: float) -> float | None:
    return math.exp(x) if x < 709 else None


def cluster_robust(frame: pl.DataFrame, result: StepwiseResult, cluster: str) -> ClusterRobust:
    """CR1 cluster-robust S.E., Wald tests and CIs for `result`'s final model on `frame`."""
    fd = final_design(frame, result, cluster)
    f = fd.fit()
    v = cr1_covariance(fd, f.beta)
    se_model = np.sqrt(np.maximum(np.diag(f.cov), 0.0))
    se = np.sqrt(np.maximum(np.diag(v), 0.0))
    shown = {
        c.parameter: c.exp_b is not None
        for c in result.final.in_equation
        if c.kind in ("parameter", "constant")
    }
    rows: list[RobustRow] = []
    for term in result.final_terms:
        pos = fd.positions(term)
        if len(pos) > 1:
            b = f.beta[pos]
            sub = v[np.ix_(pos, pos)]
            wald = float(b @ np.linalg.solve(sub, b))
            rows.append(
                RobustRow(
                    term,
                    term,
                    "term",
                    None,
                    None,
                    None,
                    wald,
                    len(pos),
                    chi2_p(wald, len(pos)),
                    None,
                    None,
                    None,
                )
            )
        for j in pos:
            rows.append(_param_row(term, fd.names[j], f.beta[j], se_model[j], se[j], shown))
    rows.append(_param_row("Constant", "Constant", f.beta[0], se_model[0], se[0], shown))
    return ClusterRobust(cluster, fd.n_clusters, int(round(fd.w.sum())), tuple(rows))


def _param_row(term: str, name: str, b: float, se_m: float, se_r: float, shown: dict) -> RobustRow:
    wald = (b / se_r) ** 2 if se_r > 0 else float("nan")
    ok = shown.get(name, False) and se_r > 0
    is_const = term == "Constant"
    return RobustRow(
        term,
        name,
        "constant" if is_const else "parameter",
        float(b),
        float(se_m),
        float(se_r),
        float(wald),
        1,
        chi2_p(wald, 1) if math.isfinite(wald) else float("nan"),
        _exp(b) if ok else None,
        _exp(b - Z95 * se_r) if ok and not is_const else None,
        _exp(b + Z95 * se_r) if ok and not is_const else None,
    )
