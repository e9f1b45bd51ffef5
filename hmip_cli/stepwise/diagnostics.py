"""Goodness of fit for one fitted model: Hosmer-Lemeshow and the classification table."""

from __future__ import annotations

import math

import numpy as np

from hmip_cli.stepwise.pvalues import chi2_logp, chi2_p
from hmip_cli.stepwise.result import Classification, HosmerLemeshow

# Predicted probabilities that agree to this many decimal places are ties (one block).
TIE_DECIMALS = 10


def hosmer_lemeshow(
    w: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    groups: int = 10,
    patterns: np.ndarray | None = None,
) -> HosmerLemeshow:
    """Hosmer-Lemeshow test with the grouping rule SAS PROC LOGISTIC documents
    ("The Hosmer-Lemeshow Goodness-of-Fit Test"): cases sorted by predicted probability;
    cases with the same covariate values (`patterns`: the model's design columns, one row
    per row of w) form a block that is never split; target group size M = floor(N/10 + 0.5);
    a block joins the current group if the group has fewer than M cases and adding half the
    block (floor) keeps it at most M, otherwise it starts a new group; a last group of at
    most floor(0.05 N) cases is merged into the one before. Statistic: Pearson chi-square
    over the 2 x g table, df = g - 2.

    Blocks are keyed on the covariate pattern, not on p-hat: two different patterns with the
    same fitted probability are two blocks (ordered by p-hat, then by their covariate
    values), so they may fall in different groups. Without `patterns` (older callers) equal
    p-hat (to TIE_DECIMALS) is used as the block key.
    """
    present = w > 0
    w, y, p = w[present], y[present], p[present]
    key = np.round(p, TIE_DECIMALS)
    if patterns is not None:
        # One block per covariate pattern; sort by (p-hat, pattern) so equal p-hat of
        # distinct patterns is ordered the same way on every path.
        pat = np.asarray(patterns, dtype=float)[present]
        table = np.column_stack([key, pat])
    else:
        table = key[:, None]
    uniq, inv = np.unique(table, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    bn = np.bincount(inv, weights=w)
    by = np.bincount(inv, weights=y)
    be = np.bincount(inv, weights=w * p)
    total = float(w.sum())
    target = math.floor(total / groups + 0.5)
    group_of = np.empty(len(uniq), dtype=np.int64)
    g, c = 0, 0.0
    for j in range(len(uniq)):
        nj = bn[j]
        if j == 0 or (c < target and c + math.floor(0.5 * nj) <= target):
            c += nj
        else:
            g += 1
            c = nj
        group_of[j] = g
    n_groups = g + 1
    if n_groups > 1 and c <= math.floor(0.05 * total):
        group_of[group_of == g] = g - 1
        n_groups -= 1
    gn = np.bincount(group_of, weights=bn, minlength=n_groups)
    gy = np.bincount(group_of, weights=by, minlength=n_groups)
    ge = np.bincount(group_of, weights=be, minlength=n_groups)
    rows = tuple(
        {
            "group": i + 1,
            "n": float(gn[i]),
            "observed_events": float(gy[i]),
            "expected_events": float(ge[i]),
            "observed_nonevents": float(gn[i] - gy[i]),
            "expected_nonevents": float(gn[i] - ge[i]),
        }
        for i in range(n_groups)
    )
    df = n_groups - 2
    if df < 1:
        return HosmerLemeshow(
            None,
            max(df, 0),
            None,
            rows,
            note=f"not computed: the cases form only {n_groups} group{'s' if n_groups != 1 else ''} "
            f"({len(uniq)} covariate pattern{'s' if len(uniq) != 1 else ''} in the model), and "
            "the test needs at least 3 (df = groups - 2)",
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (gy - ge) ** 2 / ge + ((gn - gy) - (gn - ge)) ** 2 / (gn - ge)
    chi = float(np.nansum(terms))
    return HosmerLemeshow(chi, df, chi2_p(chi, df), rows, chi2_logp(chi, df))


CUT_TOL = 1e-10


def classification(w: np.ndarray, y: np.ndarray, p: np.ndarray, cut: float = 0.5) -> Classification:
    """A case is predicted to be an event when its predicted probability is greater than or
    equal to the cut, as IBM documents SPSS's rule (LOGISTIC REGRESSION, CRITERIA
    subcommand: "CUT(value). Cutoff value for classification. A case is assigned to a group
    when the predicted event probability is greater than or equal to the cutoff value";
    https://www.ibm.com/docs/en/spss-statistics/31.0.0?topic=regression-criteria-subcommand-logistic-command).

    "Equal" allows for floating-point noise: a fitted probability within CUT_TOL of the cut
    is taken to be on it (an event). A covariate pattern with exactly half events (10 of
    20) has MLE p-hat = 0.5 exactly, but the computed value lands a few ulps either side of
    0.5 depending on summation order, which would make the table differ between the collapsed
    and the row-level path. Fitted probabilities are accurate to ~1e-12 at convergence.
    """
    pred = p >= cut - CUT_TOL
    nonev = w - y
    return Classification(
        cut,
        float(nonev[~pred].sum()),
        float(nonev[pred].sum()),
        float(y[~pred].sum()),
        float(y[pred].sum()),
    )
