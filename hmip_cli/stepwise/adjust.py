"""Multiple-testing adjustment over the whole family of tests a sweep considered.

The family (docs/stepwise.md, "Multiple testing"): every model x every candidate. For a
candidate in the final model its test is the likelihood-ratio removal test in the final
model (change in -2LL when it is dropped); for a candidate not in the final model it is
the score test in the final step's "Variables not in the Equation" (the test that kept it
out). A candidate with no test (excluded as constant, or collinear with the model) is
listed with p = null and is not part of the family. Adjusting only the selected terms, as
earlier versions did, adjusts p-values that are all < .05 by construction and can never
remove a finding.

    from hmip_cli.stepwise.adjust import adjust
    adjust(np.array([0.01, 0.04, 0.30]), "holm")
"""

from __future__ import annotations

import numpy as np
import polars as pl

from hmip_cli.errors import BadRequest
from hmip_cli.stepwise.result import StepwiseResult

METHODS = {"bh": "Benjamini-Hochberg", "holm": "Holm", "none": "none"}
# The level at which an adjusted (or raw) p counts as significant in sweeps and reports.
ALPHA = 0.05


def check_method(method: str) -> str:
    if method not in METHODS:
        raise BadRequest(f"adjust must be one of {', '.join(METHODS)}; got {method!r}")
    return method


def adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values, in the order given (NaN stays NaN and is not counted in m).

    bh: Benjamini & Hochberg (1995) step-up: min over j >= i of p_(j) m / j.
    holm: Holm (1979) step-down: max over j <= i of (m - j + 1) p_(j).
    Both capped at 1; the same as statsmodels `multipletests(method="fdr_bh" | "holm")`
    and R `p.adjust(method = "BH" | "holm")`.
    """
    check_method(method)
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = len(q)
    if m == 0 or method == "none":
        out[ok] = q
        return out
    order = np.argsort(q, kind="stable")
    ranked = q[order]
    i = np.arange(1, m + 1)
    if method == "bh":
        adj = np.minimum.accumulate((ranked * m / i)[::-1])[::-1]
    else:
        adj = np.maximum.accumulate(ranked * (m - i + 1))
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


FAMILY_SCHEMA = {
    "model": pl.String,
    "term": pl.String,
    "in_model": pl.Boolean,
    "test": pl.String,  # "lr" (removal test in the final model) | "score" | "none"
    "statistic": pl.Float64,
    "df": pl.Int64,
    "p": pl.Float64,
    # the candidate's smallest group: cases, and min(events, non-events) (categorical only)
    "min_group_n": pl.Int64,
    "min_group_events": pl.Int64,
}


def family_rows(model: str, result: StepwiseResult) -> list[dict]:
    """One row per candidate of one model: its test in the family (see the module doc)."""
    from hmip_cli.stepwise.samplesize import group_counts

    final = result.final
    removal = {r.term: r for r in final.if_removed}
    score = {s.term: s for s in final.not_in_equation if s.kind == "term"}
    rows = []
    for term in result.candidates:
        if term in removal:
            r = removal[term]
            rows.append(
                {
                    "model": model,
                    "term": term,
                    "in_model": True,
                    "test": "lr",
                    "statistic": max(r.change_minus_2ll, 0.0),
                    "df": r.df,
                    "p": r.p,
                }
            )
        elif term in score and score[term].p is not None:
            s = score[term]
            rows.append(
                {
                    "model": model,
                    "term": term,
                    "in_model": False,
                    "test": "score",
                    "statistic": s.score,
                    "df": s.df,
                    "p": s.p,
                }
            )
        else:
            # excluded before step 0 (constant) or collinear with the final model: no test
            rows.append(
                {
                    "model": model,
                    "term": term,
                    "in_model": False,
                    "test": "none",
                    "statistic": None,
                    "df": None,
                    "p": None,
                }
            )
    for row in rows:
        counts = group_counts(result, str(row["term"]))
        row["min_group_n"], row["min_group_events"] = counts if counts else (None, None)
    return rows


def adjust_family(family: pl.DataFrame, method: str) -> pl.DataFrame:
    """The family frame with `p_adjusted` (null where there is no test)."""
    p = family.get_column("p").cast(pl.Float64).fill_null(float("nan")).to_numpy()
    adj = adjust(p, method)
    return family.with_columns(p_adjusted=pl.Series(adj, dtype=pl.Float64).fill_nan(None))
