"""Unadjusted tests of difference between groups' proportions (`hmip rates --test`).

Two groups: the difference in proportions (second minus first) with Newcombe's hybrid
score interval (Newcombe 1998, "Interval estimation for the difference between independent
proportions", method 10: each group's Wilson score interval, combined), and a two-sided p
from Pearson's chi-square test without continuity correction (R `prop.test(correct =
FALSE)`), or Fisher's exact test (R `fisher.test`) when an expected count is below 5
(Cochran's rule). More groups: Pearson's chi-square test of homogeneity on k - 1 df (R
`chisq.test(correct = FALSE)`), with no interval.

These ignore every other variable: for differences adjusted for the others, see
`hmip regress`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CHI_SQUARE = "chi-square"
FISHER = "Fisher's exact"
MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class Comparison:
    """One test of difference. `difference`, `ci_lower`, `ci_upper`: proportions (second
    group minus first; None for more than two groups). `statistic`: Pearson's chi-square
    (None for Fisher's test). `df`: its degrees of freedom."""

    method: str
    p: float
    statistic: float | None
    df: int
    difference: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None


def _wilson(x: int, n: int, z: float) -> tuple[float, float]:
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(
    x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """(d, lower, upper) for d = x2/n2 - x1/n1: Newcombe's hybrid score interval."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = _wilson(x1, n1, z)
    l2, u2 = _wilson(x2, n2, z)
    d = p2 - p1
    lower = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    upper = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return d, lower, upper


def compare(yes: list[int], n: list[int], confidence: float = 0.95) -> Comparison | None:
    """Test of difference between groups with `yes[i]` of `n[i]` (every n > 0), or None when
    there is nothing to test (fewer than two groups, or no yes or no no at all)."""
    import numpy as np
    from scipy.stats import chi2_contingency, fisher_exact

    if len(n) < 2 or any(k <= 0 for k in n):
        return None
    table = np.array([[y, m - y] for y, m in zip(yes, n)], dtype=float)
    if table[:, 0].sum() == 0 or table[:, 1].sum() == 0:
        return None  # every answer the same: the test is undefined
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    chi = chi2_contingency(table, correction=False)
    if len(n) > 2:
        return Comparison(CHI_SQUARE, float(chi.pvalue), float(chi.statistic), int(chi.dof))
    d, lo, hi = newcombe_interval(yes[0], n[0], yes[1], n[1], confidence)
    if (expected < MIN_EXPECTED).any():
        p = float(fisher_exact(table.astype(int)).pvalue)
        return Comparison(FISHER, min(p, 1.0), None, 1, d, lo, hi)
    return Comparison(CHI_SQUARE, float(chi.pvalue), float(chi.statistic), 1, d, lo, hi)
