"""SPSS's /CONTRAST codings of a categorical variable (LOGISTIC REGRESSION, "CONTRAST
subcommand"): the design columns that make each parameter B estimate one comparison.

Each contrast is defined by what its B's mean: the rows of L (k-1 comparisons of the k level
effects μ) and the intercept's weights a over the levels. The design coding is then
C = ([a; L]⁻¹)[:, 1:], so that B = L μ exactly (with [a; L]·[1, C] = I). SPSS's definitions:

    indicator(ref)  B_j = μ_j − μ_ref          a = e_ref (constant = the reference level)
    simple(ref)     B_j = μ_j − μ_ref          a = 1/k   (constant = the mean of the levels)
    deviation(ref)  B_j = μ_j − mean(μ)        a = 1/k   (the reference level has no B)
    helmert         B_j = μ_j − mean(μ_{j+1..k})
    difference      B_j = μ_{j+1} − mean(μ_{1..j})   (reverse Helmert)
    repeated        B_j = μ_j − μ_{j+1}
    polynomial      B = orthonormal polynomial contrasts of equally spaced levels (linear,
                    quadratic, ...), the columns of R's contr.poly

The step path does not depend on the contrast (every coding spans the same space); B, S.E.
and the constant do. Verified against R's contr.* mapped to these definitions
(tests/test_stepwise_contrasts.py; docs/stepwise.md, "Contrasts").
"""

from __future__ import annotations

import numpy as np

from hmip_cli.errors import BadRequest

CONTRASTS = (
    "indicator",
    "simple",
    "deviation",
    "helmert",
    "difference",
    "repeated",
    "polynomial",
)
# Contrasts with a reference category (SPSS's refcat; default last).
WITH_REFERENCE = ("indicator", "simple", "deviation")
_ORDER_NAMES = ("linear", "quadratic", "cubic")


def check(name: str) -> str:
    key = name.strip().lower()
    if key == "reverse_helmert" or key == "reverse-helmert":
        key = "difference"
    if key not in CONTRASTS:
        raise BadRequest(f"unknown contrast {name!r}; choose from: {', '.join(CONTRASTS)}")
    return key


def _poly(k: int) -> np.ndarray:
    """Orthonormal polynomial contrasts for k equally spaced levels (R's contr.poly)."""
    x = np.arange(1.0, k + 1) - (k + 1) / 2.0
    v = np.vander(x, k, increasing=True)
    q, r = np.linalg.qr(v)
    q = q * np.sign(np.diag(r))  # the sign convention of contr.poly: increasing columns
    return q[:, 1:]


def comparisons(kind: str, k: int, ref: int) -> tuple[np.ndarray, np.ndarray]:
    """(L, a) of the contrast: L is (k-1) x k, a has k weights summing to 1."""
    eye = np.eye(k)
    mean = np.full(k, 1.0 / k)
    others = [j for j in range(k) if j != ref]
    if kind == "indicator":
        return np.array([eye[j] - eye[ref] for j in others]), eye[ref]
    if kind == "simple":
        return np.array([eye[j] - eye[ref] for j in others]), mean
    if kind == "deviation":
        return np.array([eye[j] - mean for j in others]), mean
    if kind == "helmert":
        return np.array([eye[j] - eye[j + 1 :].mean(axis=0) for j in range(k - 1)]), mean
    if kind == "difference":
        return np.array([eye[j + 1] - eye[: j + 1].mean(axis=0) for j in range(k - 1)]), mean
    if kind == "repeated":
        return np.array([eye[j] - eye[j + 1] for j in range(k - 1)]), mean
    if kind == "polynomial":
        return _poly(k).T, mean
    raise BadRequest(f"unknown contrast {kind!r}")


def coding(kind: str, k: int, ref: int) -> np.ndarray:
    """The k x (k-1) design coding (SPSS's "Categorical Variables Codings" table)."""
    L, a = comparisons(kind, k, ref)
    return np.linalg.inv(np.vstack([a, L]))[:, 1:]


def labels(kind: str, levels: list[str], ref: int) -> list[str]:
    """What each parameter compares, in words (the `level` of its coefficient row)."""
    k = len(levels)
    others = [j for j in range(k) if j != ref]
    if kind in ("indicator", "simple"):
        return [levels[j] for j in others]
    if kind == "deviation":
        return [f"{levels[j]} vs mean" for j in others]
    if kind == "helmert":
        return [f"{levels[j]} vs later" for j in range(k - 1)]
    if kind == "difference":
        return [f"{levels[j + 1]} vs earlier" for j in range(k - 1)]
    if kind == "repeated":
        return [f"{levels[j]} vs {levels[j + 1]}" for j in range(k - 1)]
    return [_ORDER_NAMES[j] if j < 3 else f"order {j + 1}" for j in range(k - 1)]
