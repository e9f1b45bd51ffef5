"""Result objects of a stepwise run: frozen, `to_dict()` (JSON-safe) and `to_frame()`.

Column names of every frame are public API (documented in docs/stepwise.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import polars as pl

from hmip_cli.jsonsafe import json_safe
from hmip_cli.stepwise.design import Problem
from hmip_cli.stepwise.iteration_history import IterationHistory


@dataclass(frozen=True)
class Coefficient:
    """One row of "Variables in the Equation". `kind` is "constant", "parameter" (one
    coefficient) or "term" (the joint Wald test of a categorical variable's indicators,
    with b/se/exp_b empty, as SPSS prints it)."""

    term: str
    parameter: str
    kind: str
    level: str | None
    reference: str | None
    b: float | None
    se: float | None
    wald: float
    df: int
    p: float
    exp_b: float | None
    ci_low: float | None
    ci_high: float | None
    reliable: bool = True
    log_p: float | None = None  # natural log of p, exact where p is floored (pvalues.py)


@dataclass(frozen=True)
class ScoreRow:
    """One row of "Variables not in the Equation" (kind term/parameter) or its "Overall
    Statistics" (the residual chi-square). `eligible` is False for a collinear block."""

    term: str
    parameter: str
    kind: str
    score: float | None
    df: int
    p: float | None
    eligible: bool = True
    log_p: float | None = None


@dataclass(frozen=True)
class RemovalRow:
    """One row of "Model if Term Removed": the refitted model without the term."""

    term: str
    log_likelihood: float
    change_minus_2ll: float
    df: int
    p: float
    removal_statistic: float  # the statistic of the chosen removal method (lr, wald, conditional)
    removal_p: float
    log_p: float | None = None
    removal_log_p: float | None = None


@dataclass(frozen=True)
class ChiSquare:
    chi_square: float
    df: int
    p: float | None
    log_p: float | None = None


@dataclass(frozen=True)
class HosmerLemeshow:
    chi_square: float | None
    df: int
    p: float | None
    groups: tuple[
        dict, ...
    ]  # group, n, observed_events, expected_events, observed_nonevents, expected_nonevents
    log_p: float | None = None
    note: str | None = None  # why the statistic is missing (df 0), in words


@dataclass(frozen=True)
class Classification:
    cut: float
    # counts: observed nonevent/event x predicted nonevent/event
    nonevent_predicted_nonevent: float
    nonevent_predicted_event: float
    event_predicted_nonevent: float
    event_predicted_event: float

    @property
    def percent_correct(self) -> float:
        tot = (
            self.nonevent_predicted_nonevent
            + self.nonevent_predicted_event
            + self.event_predicted_nonevent
            + self.event_predicted_event
        )
        return 100.0 * (self.nonevent_predicted_nonevent + self.event_predicted_event) / tot

    def to_dict(self) -> dict:
        d = asdict(self)
        ne = self.nonevent_predicted_nonevent + self.nonevent_predicted_event
        ev = self.event_predicted_nonevent + self.event_predicted_event
        d["percent_correct_nonevent"] = (
            100.0 * self.nonevent_predicted_nonevent / ne if ne else None
        )
        d["percent_correct_event"] = 100.0 * self.event_predicted_event / ev if ev else None
        d["percent_correct"] = self.percent_correct
        return d


@dataclass(frozen=True)
class Step:
    """One step of the selection and the model it leaves (SPSS prints one block per step)."""

    number: int
    action: str  # "start" (step 0), "enter" or "remove"
    term: str | None
    statistic: float | None  # score (enter) or the removal statistic (remove)
    df: int | None
    p: float | None
    terms: tuple[str, ...]  # terms in the model after this step
    minus_2ll: float
    log_likelihood: float
    cox_snell_r2: float
    nagelkerke_r2: float
    omnibus_step: ChiSquare | None
    omnibus_block: ChiSquare | None
    omnibus_model: ChiSquare | None
    converged: bool
    iterations: int
    separation: bool
    in_equation: tuple[Coefficient, ...]
    not_in_equation: tuple[ScoreRow, ...]
    residual: ScoreRow | None
    if_removed: tuple[RemovalRow, ...]
    hosmer_lemeshow: HosmerLemeshow | None
    classification: Classification
    log_p: float | None = None  # natural log of p (p itself is floored at pvalues.P_FLOOR)
    block: int = 1  # the /METHOD block this step belongs to (0 for step 0)
    # SPSS /PRINT=ITER: the model's iterations (only with stepwise(history=True))
    iteration_history: IterationHistory | None = None

    def summary(self) -> dict:
        return {
            "block": self.block,
            "action": self.action,
            "term": self.term,
            "statistic": self.statistic,
            "df": self.df,
            "p": self.p,
            "log_p": self.log_p,
        }

    def to_dict(self) -> dict:
        d = {
            "step": self.number,
            **self.summary(),
            "terms": list(self.terms),
            "minus_2ll": self.minus_2ll,
            "log_likelihood": self.log_likelihood,
            "cox_snell_r2": self.cox_snell_r2,
            "nagelkerke_r2": self.nagelkerke_r2,
            "omnibus": {
                k: (asdict(v) if v is not None else None)
                for k, v in (
                    ("step", self.omnibus_step),
                    ("block", self.omnibus_block),
                    ("model", self.omnibus_model),
                )
            },
            "converged": self.converged,
            "iterations": self.iterations,
            "separation": self.separation,
            "variables_in_equation": [asdict(c) for c in self.in_equation],
            "variables_not_in_equation": [asdict(s) for s in self.not_in_equation],
            "overall_statistics": asdict(self.residual) if self.residual else None,
            "model_if_term_removed": [asdict(r) for r in self.if_removed],
            "hosmer_lemeshow": asdict(self.hosmer_lemeshow) if self.hosmer_lemeshow else None,
            "classification": self.classification.to_dict(),
        }
        if self.iteration_history is not None:
            d["iteration_history"] = self.iteration_history.to_dict()
        return json_safe(d)


@dataclass(frozen=True)
class StepwiseResult:
    """Everything a forward stepwise (SPSS FSTEP) run produced."""

    outcome: str
    event: str
    nonevent: str
    candidates: tuple[str, ...]
    categorical: tuple[str, ...]
    codings: tuple[dict, ...]  # per categorical term: levels, reference, parameters, level counts
    method: str  # "FSTEP(LR)", "FSTEP(WALD)" or "FSTEP(COND)"
    removal: str
    pin: float
    pout: float
    n: int  # cases used
    n_dropped: int  # cases with a missing outcome or candidate
    n_total: int
    collapsed: bool  # fitted on covariate patterns
    n_rows_fitted: int  # patterns (collapsed) or cases
    steps: tuple[Step, ...]
    stop_reason: str
    problems: tuple[Problem, ...] = field(default_factory=tuple)
    models_fitted: int = 0
    blocks: tuple[dict, ...] = ()  # /METHOD blocks: {block, method, terms}
    iterate: str = "exact"  # "exact" or "spss" (SPSS's iteration rule)
    cut: float = 0.5  # classification cut
    # the final model's estimates and covariance in fit order (Constant first), for the
    # case-level extras (casewise.py)
    final_parameters: tuple[str, ...] = ()
    final_beta: tuple[float, ...] = ()
    final_cov: tuple[tuple[float, ...], ...] = ()
    # the frame's column of case counts, if it was fitted to a collapsed frame (the refits
    # of refit.py weight by it too); not part of the output
    weights: str | None = None

    @property
    def final(self) -> Step:
        return self.steps[-1]

    @property
    def final_terms(self) -> tuple[str, ...]:
        return self.final.terms

    @property
    def reliable(self) -> bool:
        return not self.final.separation and self.final.converged

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(p.message for p in self.problems)

    def _epv(self) -> float | None:
        from hmip_cli.stepwise.samplesize import events_per_parameter

        return events_per_parameter(self)

    def to_dict(self) -> dict:
        final = self.final
        epv = self._epv()
        d = {
            "outcome": self.outcome,
            "event": self.event,
            "nonevent": self.nonevent,
            "method": self.method,
            "blocks": list(self.blocks),
            "iterate": self.iterate,
            "removal": self.removal,
            "pin": self.pin,
            "pout": self.pout,
            "candidates": list(self.candidates),
            "categorical": list(self.categorical),
            "codings": list(self.codings),
            "n": self.n,
            "n_dropped": self.n_dropped,
            "n_total": self.n_total,
            "collapsed": self.collapsed,
            "n_rows_fitted": self.n_rows_fitted,
            "models_fitted": self.models_fitted,
            "steps": [s.summary() for s in self.steps[1:]],
            "stop_reason": self.stop_reason,
            "final_terms": list(final.terms),
            "minus_2ll": final.minus_2ll,
            "log_likelihood": final.log_likelihood,
            "cox_snell_r2": final.cox_snell_r2,
            "nagelkerke_r2": final.nagelkerke_r2,
            "coefficients": [asdict(c) for c in final.in_equation],
            "reliable": self.reliable,
            # min(events, non-events) per parameter of the final model; low below 10
            "events_per_parameter": epv,
            "low_epv": epv is not None and epv < 10.0,
            "problems": [p.to_dict() for p in self.problems],
            "warnings": list(self.warnings),
            "step_details": [s.to_dict() for s in self.steps],
        }
        return json_safe(d)

    # ---- frames -------------------------------------------------------------------
    def steps_frame(self) -> pl.DataFrame:
        """step, action, term, statistic, df, p, minus_2ll, terms (one row per step, 0 = start)."""
        return pl.DataFrame(
            [
                {
                    "step": s.number,
                    "action": s.action,
                    "term": s.term,
                    "statistic": s.statistic,
                    "df": s.df,
                    "p": s.p,
                    "minus_2ll": s.minus_2ll,
                    "terms": ", ".join(s.terms),
                }
                for s in self.steps
            ],
            schema={
                "step": pl.Int64,
                "action": pl.String,
                "term": pl.String,
                "statistic": pl.Float64,
                "df": pl.Int64,
                "p": pl.Float64,
                "minus_2ll": pl.Float64,
                "terms": pl.String,
            },
        )

    def coefficients_frame(self, step: int | None = None) -> pl.DataFrame:
        """Variables in the Equation of the final model (or of `step`)."""
        s = self.steps[-1 if step is None else step]
        return coefficients_frame(s.in_equation)

    def to_frame(self) -> pl.DataFrame:
        return self.coefficients_frame()


COEF_SCHEMA = {
    "term": pl.String,
    "parameter": pl.String,
    "kind": pl.String,
    "level": pl.String,
    "reference": pl.String,
    "b": pl.Float64,
    "se": pl.Float64,
    "wald": pl.Float64,
    "df": pl.Int64,
    "p": pl.Float64,
    "exp_b": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "reliable": pl.Boolean,
}


def coefficients_frame(rows) -> pl.DataFrame:
    return pl.DataFrame([json_safe(asdict(c)) for c in rows], schema=COEF_SCHEMA)


def not_in_frame(step: Step) -> pl.DataFrame:
    rows = [asdict(r) for r in step.not_in_equation]
    if step.residual is not None:
        rows.append(asdict(step.residual))
    return pl.DataFrame(
        [json_safe(r) for r in rows],
        schema={
            "term": pl.String,
            "parameter": pl.String,
            "kind": pl.String,
            "score": pl.Float64,
            "df": pl.Int64,
            "p": pl.Float64,
            "eligible": pl.Boolean,
        },
    )


def if_removed_frame(step: Step) -> pl.DataFrame:
    return pl.DataFrame(
        [json_safe(asdict(r)) for r in step.if_removed],
        schema={
            "term": pl.String,
            "log_likelihood": pl.Float64,
            "change_minus_2ll": pl.Float64,
            "df": pl.Int64,
            "p": pl.Float64,
            "removal_statistic": pl.Float64,
            "removal_p": pl.Float64,
        },
    )
