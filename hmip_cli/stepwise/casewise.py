"""SPSS LOGISTIC REGRESSION's case-level extras for the final model (issue 11 item 6):
/PRINT=CORR (correlation of estimates), /SAVE PRED PGROUP RESID ZRESID DEV (per case, beside a
case index, never an identifier), /CASEWISE OUTLIER(2) and /PRINT=... CLASSPLOT (a text
histogram of predicted probabilities by observed group).

The per-case values are computed from the final estimates on the cases' own design rows
(rebuilt by design.build_design on the row-level path), so they are the same whether the fit
ran on covariate patterns or on cases.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from hmip_cli.errors import BadRequest
from hmip_cli.stepwise.design import build_design
from hmip_cli.stepwise.result import StepwiseResult
from hmip_cli.stepwise.terms import base_columns


def correlation_frame(result: StepwiseResult) -> pl.DataFrame:
    """Correlation matrix of the final estimates (SPSS /PRINT=CORR): one row per parameter,
    Constant first, as SPSS prints it."""
    cov = np.array(result.final_cov, dtype=float)
    names = list(result.final_parameters)
    sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(sd, sd)
    data: dict[str, list] = {"parameter": names}
    for j, name in enumerate(names):
        data[name] = [float(v) for v in corr[:, j]]
    return pl.DataFrame(data)


def case_values(frame: pl.DataFrame, result: StepwiseResult) -> pl.DataFrame:
    """SPSS /SAVE for every case used: `case` (1-based row number in the input, not an
    identifier), `observed` (1 = event), `pred` (fitted probability), `pgroup` (1 when pred
    > the cut, as the classification table), `resid` (observed - pred), `zresid` (Pearson,
    resid / sqrt(pred (1 - pred))) and `dev` (deviance residual)."""
    if result.weights is not None:
        raise BadRequest(
            "case-level values need the cases: fit the model to the rows, not to a collapsed frame"
        )
    cols = base_columns(list(result.candidates))
    complete = frame.select(
        pl.all_horizontal([pl.col(c).is_not_null() for c in [result.outcome, *cols]])
    ).to_series()
    case = np.flatnonzero(complete.to_numpy()) + 1
    reference = {c["term"]: c["reference"] for c in result.codings if c["reference"] is not None}
    contrasts = {c["term"]: c.get("contrast", "indicator") for c in result.codings}
    d = build_design(
        frame,
        result.outcome,
        list(result.candidates),
        list(result.categorical),
        reference,
        result.event,
        collapse=False,
        max_levels=None,
        contrasts=contrasts,
    )
    order = {t.name: i for i, t in enumerate(d.terms)}
    by_name = {t.name: t for t in d.terms}
    fit_cols = [0]
    for t in sorted(result.final_terms, key=order.__getitem__):
        fit_cols.extend(by_name[t].cols)
    beta = np.array(result.final_beta, dtype=float)
    eta = d.X[:, fit_cols] @ beta
    p = 1.0 / (1.0 + np.exp(-eta))
    y = d.y
    resid = y - p
    with np.errstate(divide="ignore", invalid="ignore"):
        zresid = resid / np.sqrt(p * (1.0 - p))
        ll = np.where(y > 0, np.log(p), np.log1p(-p))
    dev = np.sign(resid) * np.sqrt(np.maximum(-2.0 * ll, 0.0))
    cut = result.cut
    return pl.DataFrame(
        {
            "case": case,
            "observed": y.astype(np.int64),
            "pred": p,
            "pgroup": (p > cut + 1e-10).astype(np.int64),
            "resid": resid,
            "zresid": zresid,
            "dev": dev,
        }
    )


def casewise(values: pl.DataFrame, outlier: float = 2.0) -> pl.DataFrame:
    """SPSS /CASEWISE OUTLIER(value): the cases whose |zresid| exceeds `outlier`."""
    if not (math.isfinite(outlier) and outlier > 0):
        raise ValueError(
            f"casewise outlier must be positive (SPSS OUTLIER(value)), not {outlier!r}"
        )
    return values.filter(pl.col("zresid").abs() > outlier)


def classification_plot(values: pl.DataFrame, bins: int = 20, width: int = 40) -> str:
    """SPSS's CLASSPLOT as text: for each band of predicted probability, how many non-events
    (0) and events (1) fall in it, drawn with one symbol per `scale` cases."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    p = values.get_column("pred").to_numpy()
    obs = values.get_column("observed").to_numpy()
    band = np.minimum((p * bins).astype(int), bins - 1)
    n0 = np.bincount(band[obs == 0], minlength=bins)
    n1 = np.bincount(band[obs == 1], minlength=bins)
    top = int(max((n0 + n1).max(), 1))
    scale = max(1, math.ceil(top / width))
    lines = [
        f"Observed groups by predicted probability (0 = non-event, 1 = event; "
        f"each symbol = {scale} case{'s' if scale > 1 else ''})"
    ]
    for i in range(bins):
        bar = "0" * math.ceil(n0[i] / scale) + "1" * math.ceil(n1[i] / scale)
        lines.append(f"{edges[i]:.2f}-{edges[i + 1]:.2f} | {bar:<{width}} {n0[i]:>6} {n1[i]:>6}")
    return "\n".join(lines) + "\n"
