"""SPSS LOGISTIC REGRESSION's iteration history (`/PRINT=ITER`, `stepwise(history=True)`, CLI
`--print-iterations`): the -2 log-likelihood and every coefficient after each Newton-Raphson
iteration of each step's model, as SPSS's "Iteration History" tables print them.

Starts, as SPSS's tables show them: Block 0 (the constant-only model) from B = 0, so its
first row is one Newton step from zero; every model with predictors from the constant at
logit(ȳ) and the other coefficients at 0 ("Initial -2 Log Likelihood" in SPSS's footnote is
then Block 0's -2LL). With `iterate="spss"` the iterations are SPSS's rule (BCON .001,
ITERATE 20; spss_iteration.py), the very fit whose estimates are reported; with the default
(exact) they are hmip's Newton-Raphson from the same start, to |ΔB| < 1e-11, whose last row
is the reported estimate (the selection may reach it from a warm start in fewer iterations).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from hmip_cli.jsonsafe import json_safe
from hmip_cli.stepwise import fit as F
from hmip_cli.stepwise.spss_iteration import SpssCriteria, fit_logit_spss, spss_start


@dataclass(frozen=True)
class IterationHistory:
    """One model's iterations: `rows` are (iteration, -2LL, coefficients in `parameters`
    order, Constant first) after each iteration."""

    parameters: tuple[str, ...]
    start: tuple[float, ...]
    initial_minus_2ll: float
    rows: tuple[tuple[int, float, tuple[float, ...]], ...]
    converged: bool
    note: str

    def to_dict(self) -> dict:
        return json_safe(
            {
                "parameters": list(self.parameters),
                "start": list(self.start),
                "initial_minus_2ll": self.initial_minus_2ll,
                "iterations": [
                    {"iteration": i, "minus_2ll": m2, "coefficients": list(b)}
                    for i, m2, b in self.rows
                ],
                "converged": self.converged,
                "note": self.note,
            }
        )

    def frame(self) -> pl.DataFrame:
        """One row per iteration: iteration, minus_2ll, then one column per parameter."""
        data: dict[str, list] = {
            "iteration": [r[0] for r in self.rows],
            "minus_2ll": [r[1] for r in self.rows],
        }
        for j, name in enumerate(self.parameters):
            data[name] = [r[2][j] for r in self.rows]
        return pl.DataFrame(data)


def iteration_history(
    X: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    cols: tuple[int, ...],
    parameters: Sequence[str],
    iterate: str = "exact",
    constant_only_from_zero: bool = True,
) -> IterationHistory:
    """The iterations of the model on design columns `cols` (0 = the constant) from SPSS's
    start (module docstring): B = 0 for the constant-only model (when
    `constant_only_from_zero`), else the constant at logit(ȳ) and the rest 0."""
    Xs = X[:, list(cols)]
    if constant_only_from_zero and tuple(cols) == (0,):
        start = np.zeros(1)
    else:
        start = spss_start(w, y, cols)
    trace: list[tuple[np.ndarray, float]] = []
    if iterate == "spss":
        criteria = SpssCriteria()
        f = fit_logit_spss(X, w, y, cols, criteria, start=start, trace=trace)
        converged = f.converged
        note = (
            f"Estimation terminated at iteration number {len(trace)} because parameter "
            f"estimates changed by less than {f'{criteria.bcon:g}'.lstrip('0')}."
            if converged
            else f"Estimation terminated at iteration number {len(trace)} because the maximum "
            f"number of iterations ({criteria.iterate}) was reached; the estimates are not final."
        )
    else:
        _, _, _, converged, _, _ = F._newton(Xs, w, y, start.copy(), F.MAX_ITER, True, trace)
        note = (
            f"Estimation terminated at iteration number {len(trace)} because parameter "
            f"estimates changed by less than {F.BETA_TOL:g} (hmip's exact fit; SPSS stops "
            "at .001, --iterate spss)."
            if converged
            else f"Estimation stopped at iteration number {len(trace)} without converging."
        )
    return IterationHistory(
        parameters=tuple(parameters),
        start=tuple(float(b) for b in start),
        initial_minus_2ll=-2.0 * F.loglik_at(Xs, w, y, start),
        rows=tuple(
            (i, -2.0 * ll, tuple(float(b) for b in beta)) for i, (beta, ll) in enumerate(trace, 1)
        ),
        converged=bool(converged),
        note=note,
    )
