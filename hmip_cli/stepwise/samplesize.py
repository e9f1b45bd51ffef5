"""Small-sample rules: when a model has too few events for its parameters, and when a
comparison between groups has enough cases to support "no difference".

* Events per parameter (EPV) = min(events, non-events) / parameters in the final model
  (the constant not counted). Below MIN_EPV (10; Peduzzi et al. 1996) estimates are biased
  away from zero and their CIs unreliable: every output flags such a model.
* A "no significant difference between groups" statement needs every group of the
  comparison to have at least `min_n` cases (the report's --min-n, default 30) and at least
  MIN_GROUP_EVENTS events and as many non-events (the usual "expected count 5" rule for a
  chi-square test); otherwise the comparison is reported as not possible.
"""

from __future__ import annotations

from hmip_cli.stepwise.result import StepwiseResult

MIN_EPV = 10.0
MIN_GROUP_EVENTS = 5


def events(result: StepwiseResult) -> tuple[float, float]:
    """(events, non-events) among the cases used."""
    c = result.final.classification
    ev = c.event_predicted_nonevent + c.event_predicted_event
    ne = c.nonevent_predicted_nonevent + c.nonevent_predicted_event
    return ev, ne


def events_per_parameter(result: StepwiseResult) -> float | None:
    """min(events, non-events) / parameters of the final model; None with no parameter."""
    k = sum(1 for c in result.final.in_equation if c.kind == "parameter")
    if k == 0:
        return None
    return min(events(result)) / k


def low_epv(result: StepwiseResult) -> bool:
    epv = events_per_parameter(result)
    return epv is not None and epv < MIN_EPV


def epv_warning(result: StepwiseResult) -> str | None:
    epv = events_per_parameter(result)
    if epv is None or epv >= MIN_EPV:
        return None
    return (
        f"the final model has {epv:.1f} events per parameter (fewer than {MIN_EPV:.0f}): with so "
        "few events for its parameters the odds ratios are biased away from 1 and their CIs and "
        "p-values are unreliable"
    )


def group_counts(result: StepwiseResult, term: str) -> tuple[int, int] | None:
    """(smallest group's cases, smallest group's min(events, non-events)) of a categorical
    candidate among the cases used; None if the term is not categorical (or was excluded)."""
    coding = next((c for c in result.codings if c["term"] == term), None)
    if coding is None:
        return None
    n = [int(v) for v in coding["level_n"]]
    e = [int(v) for v in coding["level_events"]]
    return min(n), min(min(ei, ni - ei) for ei, ni in zip(e, n))


def comparison_possible(result: StepwiseResult, term: str, min_n: int) -> bool:
    counts = group_counts(result, term)
    return counts is not None and counts[0] >= min_n and counts[1] >= MIN_GROUP_EVENTS
