"""Exact subsets with several margins at once: which cases make up a published table.

`exact_subset` picks exactly `total` cases of a pool so that, for each of several
breakdowns of the pool into groups (provider, gender, age group, ...), each group holds
exactly its target count: the n's and yes counts of every row of a published table. How:

1. the pool is split into cells, one per combination of the breakdowns' groups;
2. raking (`rake`): a logistic model with one main effect per group, fitted so that each
   group's expected count is its target. It is the model with no interactions that meets
   every margin (the maximum-entropy one), so nothing but the published rows shapes it;
3. controlled rounding (`round_cells`): whole counts per cell, as near the expected counts
   as possible (least total absolute difference) with every margin exact, by a small
   integer program (HiGHS via `scipy.optimize.milp`, deterministic). A margin that cannot
   be met (targets scaled to a small sample) is met as nearly as possible instead;
4. within each cell, a uniformly random choice (the smallest Exp(1) draws), so no other
   variable has an effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.special import expit

_SLACK_COST = 1000.0  # per case a margin misses by, against 1 per case a cell moves
_MAX_SWEEPS = 500


@dataclass(frozen=True)
class Margin:
    """One breakdown of the cases: `codes[i]` is case i's group (0..len(targets) - 1),
    and `targets[g]` how many of the chosen cases group g must hold."""

    codes: np.ndarray
    targets: np.ndarray


def rake(
    sizes: np.ndarray, groups: Sequence[np.ndarray], targets: Sequence[np.ndarray]
) -> np.ndarray:
    """P(chosen) per cell: expit(sum of one effect per group the cell is in), with
    sum(sizes * p) over each group equal to its target (clipped to what the group holds).

    `groups[m][c]` is cell c's group in margin m. A group whose target is 0 (all of it)
    keeps its cells out (in); the other effects are fitted by cyclic one-dimensional
    updates (iterative proportional fitting on the logit scale).
    """
    n_cells = sizes.shape[0]
    out_ = np.zeros(n_cells, dtype=bool)
    in_ = np.zeros(n_cells, dtype=bool)
    for g_of, tgt in zip(groups, targets):
        for g, t in enumerate(tgt):
            cells = g_of == g
            if t <= 0:
                out_ |= cells
            elif t >= sizes[cells].sum():
                in_ |= cells
    in_ &= ~out_
    free = ~(out_ | in_)
    beta = [np.zeros(len(t)) for t in targets]
    forced = [np.bincount(g_of[in_], sizes[in_], len(t)) for g_of, t in zip(groups, targets)]
    w = sizes[free]
    free_groups = [g_of[free] for g_of in groups]
    eta = np.zeros(w.shape[0])  # sum of the effects, per free cell
    for _ in range(_MAX_SWEEPS):
        worst = 0.0
        for m, (g_free, tgt) in enumerate(zip(free_groups, targets)):
            held = np.bincount(g_free, w, len(tgt))
            want = np.clip(np.asarray(tgt, float) - forced[m], 1e-9 * held, (1 - 1e-9) * held)
            for newton in range(50):  # this margin's effects, all groups at once
                p = expit(eta)
                gap = np.bincount(g_free, w * p, len(tgt)) - want
                if newton == 0:
                    worst = max(worst, float(np.max(np.abs(gap))))
                if np.max(np.abs(gap)) < 1e-11:
                    break
                slope = np.bincount(g_free, w * p * (1 - p), len(tgt))
                step = np.clip(np.where(slope > 0, gap / np.maximum(slope, 1e-300), 0.0), -5, 5)
                beta[m] -= step
                eta -= step[g_free]
        if worst < 1e-9:
            break
    p = np.where(in_, 1.0, 0.0)
    p[free] = expit(eta)
    return p


def round_cells(
    sizes: np.ndarray,
    expected: np.ndarray,
    groups: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    total: int,
) -> np.ndarray:
    """Whole counts per cell (0..size) summing to `total`, each group's sum equal to its
    target where possible, with the least total |count - expected|.

    First each cell is rounded down or up (a 0/1 program, fast); only if that cannot meet
    every margin may a cell move further."""
    counts, missed = _solve_cells(sizes, expected, groups, targets, total, near=True)
    if missed:
        counts, _ = _solve_cells(sizes, expected, groups, targets, total, near=False)
    return counts


def _solve_cells(
    sizes: np.ndarray,
    expected: np.ndarray,
    groups: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    total: int,
    *,
    near: bool,
) -> tuple[np.ndarray, bool]:
    """(counts, whether some margin is missed). Variables: x per cell, then (unless
    `near`) d per cell with d >= |x - expected|, then an under and an over slack per
    group. With `near`, x is floor(expected) or one more, and |x - expected| is linear."""
    n_cells = sizes.shape[0]
    n_groups = sum(len(t) for t in targets)
    n_d = 0 if near else n_cells
    n_var = n_cells + n_d + 2 * n_groups
    # a tiny, fixed per-cell tie-break so the optimum is unique (no solver-dependent ties)
    tie = 1e-6 * ((np.arange(n_cells) * 0.6180339887498949) % 1.0)
    base = np.floor(expected + 1e-9)
    if near:
        x_cost = 1.0 - 2.0 * (expected - base) + tie  # |base + y - e| = y(1 - 2f) + f
        x_lo, x_hi = base, np.minimum(base + 1.0, sizes)
    else:
        x_cost = np.zeros(n_cells)
        x_lo, x_hi = np.zeros(n_cells), sizes.astype(float)
    cost = np.concatenate([x_cost, 1.0 + tie[:n_d], np.full(2 * n_groups, _SLACK_COST)])
    cells = np.arange(n_cells)
    r_idx: list[np.ndarray] = []
    c_idx: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    row = 0
    if not near:  # d_c - x_c >= -e_c and d_c + x_c >= e_c
        r_idx += [cells, cells, n_cells + cells, n_cells + cells]
        c_idx += [cells, n_cells + cells, cells, n_cells + cells]
        vals += [-np.ones(n_cells), np.ones(n_cells), np.ones(n_cells), np.ones(n_cells)]
        lo += [-expected, expected]
        hi += [np.full(2 * n_cells, np.inf)]
        row = 2 * n_cells
    k = n_cells + n_d
    for g_of, tgt in zip(groups, targets):  # sum of x over a group + under - over = target
        for g, t in enumerate(tgt):
            members = np.flatnonzero(g_of == g)
            r_idx.append(np.full(members.size + 2, row))
            c_idx.append(np.concatenate([members, [k, k + 1]]))
            vals.append(np.concatenate([np.ones(members.size), [1.0, -1.0]]))
            lo.append(np.array([float(t)]))
            hi.append(np.array([float(t)]))
            row, k = row + 1, k + 2
    r_idx.append(np.full(n_cells, row))  # the total, exactly
    c_idx.append(cells)
    vals.append(np.ones(n_cells))
    lo.append(np.array([float(total)]))
    hi.append(np.array([float(total)]))
    matrix = sparse.csr_array(
        (np.concatenate(vals), (np.concatenate(r_idx), np.concatenate(c_idx))),
        shape=(row + 1, n_var),
    )
    rest = np.full(n_d + 2 * n_groups, np.inf)
    result = milp(
        cost,
        constraints=LinearConstraint(matrix, np.concatenate(lo), np.concatenate(hi)),
        integrality=np.concatenate([np.ones(n_cells), np.zeros(n_d + 2 * n_groups)]),
        bounds=Bounds(
            np.concatenate([x_lo, np.zeros(n_d + 2 * n_groups)]),
            np.concatenate([x_hi, rest]),
        ),
    )
    if result.x is None:  # the total cannot be met within the bounds (only when `near`)
        return np.rint(expected).astype(np.int64), True
    counts = np.rint(result.x[:n_cells]).astype(np.int64)
    return counts, bool(np.any(result.x[n_cells + n_d :] > 0.5))


def exact_subset(
    e: np.ndarray, pool: np.ndarray, margins: Sequence[Margin], total: int
) -> np.ndarray:
    """Exactly `total` cases of `pool` (boolean, one per case) meeting every margin.

    `e` holds one Exp(1) draw per pool member (in case order): within a cell the cases with
    the smallest draws are chosen. Returns a boolean flag per case.
    """
    n = pool.shape[0]
    idx = np.flatnonzero(pool)
    out = np.zeros(n, dtype=bool)
    total = min(max(int(total), 0), idx.size)
    if total == 0 or not margins:
        if total:
            out[idx[np.argsort(e, kind="stable")[:total]]] = True
        return out
    # cells: one per combination of groups (mixed radix), compacted
    code = np.zeros(idx.size, dtype=np.int64)
    for m in margins:
        code = code * len(m.targets) + m.codes[idx]
    present = np.bincount(code) > 0
    cell_codes = np.flatnonzero(present)
    cell = (np.cumsum(present) - 1)[code]
    sizes = np.bincount(cell, minlength=cell_codes.size)
    groups = []
    rest = cell_codes.copy()
    for m in reversed(margins):
        groups.append(rest % len(m.targets))
        rest //= len(m.targets)
    groups.reverse()
    targets = [np.asarray(m.targets, dtype=float) for m in margins]
    p = rake(sizes.astype(float), groups, targets)
    counts = round_cells(sizes, sizes * p, groups, targets, total)
    # within each cell, the counts[c] members with the smallest draws
    order = np.argsort(cell + e / (float(e.max()) + 1.0), kind="stable")  # by cell, then e
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(idx.size, dtype=np.int64)
    rank[order] = np.arange(idx.size) - first[cell[order]]
    out[idx[rank < counts[cell]]] = True
    return out
