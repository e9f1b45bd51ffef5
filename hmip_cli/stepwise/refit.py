"""The final model of a stepwise run as a binomial table again, for statistics the selection
engine does not compute (profile-likelihood CIs, cluster-robust SEs, Firth's fit).

`final_design(frame, result)` applies the same listwise deletion as `stepwise` (outcome and
every candidate), codes the final model's terms exactly as the result's codings say
(indicator columns, same reference), and collapses identical rows (optionally within a
cluster: the rows are then (pattern x cluster), so per-cluster score sums are exact).
Refitting it gives the result's estimates (the same likelihood; tested to 1e-9).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from hmip_cli.errors import BadInput, BadRequest
from hmip_cli.stepwise import fit as F
from hmip_cli.stepwise.design import _label, case_count
from hmip_cli.stepwise.result import StepwiseResult


@dataclass
class FinalDesign:
    """X (column 0 = constant, then the final model's parameters in "Variables in the
    Equation" order), w cases and y events per row, `names`/`terms` per column, and the
    cluster code of each row (None without clustering)."""

    X: np.ndarray
    w: np.ndarray
    y: np.ndarray
    names: list[str]
    terms: list[str]
    clusters: np.ndarray | None = None
    n_clusters: int = 0

    def positions(self, term: str) -> list[int]:
        return [i for i, t in enumerate(self.terms) if t == term]

    def fit(self) -> F.Fit:
        return F.fit_logit(self.X, self.w, self.y, tuple(range(self.X.shape[1])))


def _event_values(frame: pl.DataFrame, outcome: str, event: str) -> list:
    values = frame.get_column(outcome).drop_nulls().unique().to_list()
    return [v for v in values if _label(v) == event]


def final_design(
    frame: pl.DataFrame, result: StepwiseResult, cluster: str | None = None
) -> FinalDesign:
    """The final model of `result` (fitted to `frame`) as a collapsed binomial table."""
    keep = [result.outcome, *result.candidates]
    if cluster is not None:
        if cluster not in frame.columns:
            raise BadRequest(f"cluster column '{cluster}' not found")
        if cluster in keep:
            raise BadRequest(
                f"the cluster column '{cluster}' cannot also be the outcome or a candidate"
            )
    weights = result.weights
    extra = [*([cluster] if cluster else []), *([weights] if weights else [])]
    data = frame.select([*keep, *extra]).drop_nulls(keep)
    if cluster is not None:
        no_cluster = data.get_column(cluster).is_null()
        missing = case_count(data.filter(no_cluster), weights)
        if missing:
            raise BadInput(
                f"cluster column '{cluster}' is missing for {missing} of the "
                f"{case_count(data, weights)} cases "
                "used; give every case a cluster"
            )
    terms = list(result.final_terms)
    is_event = pl.col(result.outcome).is_in(_event_values(data, result.outcome, result.event))
    by = terms + ([cluster] if cluster else [])
    cases = pl.len() if weights is None else pl.col(weights).sum()
    events = is_event.sum() if weights is None else pl.col(weights).filter(is_event).sum()
    if by:
        table = data.group_by(by).agg(n=cases, events=events).sort(by)
    else:
        table = data.select(n=cases, events=events)
    w = table.get_column("n").to_numpy().astype(np.float64)
    y = table.get_column("events").to_numpy().astype(np.float64)
    cols: list[np.ndarray] = [np.ones(len(w))]
    names, owners = ["Constant"], ["Constant"]
    codings = {c["term"]: c for c in result.codings}
    for t in terms:
        s = table.get_column(t)
        if t in codings:
            labels = np.array([_label(v) for v in s.to_list()], dtype=object)
            c = codings[t]
            for param, level in zip(c["parameters"], c["parameter_levels"]):
                cols.append((labels == level).astype(np.float64))
                names.append(param)
                owners.append(t)
        else:
            cols.append(s.cast(pl.Float64).to_numpy())
            names.append(t)
            owners.append(t)
    clusters = None
    n_clusters = 0
    if cluster is not None:
        codes = table.get_column(cluster).cast(pl.String).to_numpy()
        uniq, inv = np.unique(codes, return_inverse=True)
        clusters, n_clusters = inv.reshape(-1), len(uniq)
    return FinalDesign(np.column_stack(cols), w, y, names, owners, clusters, n_clusters)
