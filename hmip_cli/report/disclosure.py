"""Disclosure control across a whole report: primary suppression by a named policy, then
secondary suppression at least cost until no suppressed count can be derived from the
published ones.

Every count a report publishes (or implies: a percentage with its n gives the yes count) is
a sum over cases, so it is a row of a 0/1 matrix over "atoms" (groups of cases that every
published cell treats alike). A suppressed count s can be worked out by adding and
subtracting published counts exactly when its row lies in the row space of the published
rows. `protect()` suppresses by the policy and the reliability rule (primary), then, while
some suppressed cell is recoverable, lets a linear programme choose the complementary cells
that protect it at least cost (the cost of a cell is its count, so small groups go first
and all-cases figures last), and finally publishes again every complement that no
suppressed cell needs. `still_recoverable()` is the same check the tests run as an
attacker.

Policies (`--disclosure`):
  threshold-10  a count below 10, zero included, is suppressed: the threshold rule of the
                ONS Secure Research Service and the UK Data Service SecureLab output
                checks (at least 10 units behind every cell), with zeros treated as
                disclosive as those services do for frequency tables ("all / none of the
                group" is a group disclosure).
  threshold-5   the same with 5 (the Government Statistical Service's common minimum for
                published frequency tables of people).
  none          no disclosure control (the reliability rule `--min-n` still applies).
For a rate, the counts are the applicable cases n, the yes count and the no count n - yes:
if any is below the threshold, the rate (yes count, percentage, CI) is suppressed; if n
itself is, n is suppressed too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import polars as pl

from hmip_cli import rates as R

POLICIES: dict[str, int | None] = {"threshold-10": 10, "threshold-5": 5, "none": None}
DEFAULT_POLICY = "threshold-10"
# Above this many distinct case patterns the dense cells x patterns matrix would not fit
# in memory: the check then works on the cells' Gram matrix instead (`_gram_system`).
MAX_ATOMS = 60_000
_GRAM_BATCH = 200_000  # patterns per block of the Gram sum (float32 sums exact below 2**24)


@dataclass(frozen=True)
class Cell:
    """One published (or publishable) count.

    source/key/column locate it in the analyses' frames: ("rates", (factor, measure),
    "n_yes"), ("protection", (question, breakdown, group), "n"), ("profile",
    (characteristic,), "n"), ("differences", (model, term, level), "yes_level"),
    ("models", (model,), "n"). `rate_of`: for a yes count, the index of its n cell.
    """

    source: str
    key: tuple
    column: str
    value: int
    label: str
    zero_counts: bool = True  # a zero is below the threshold (people counts of a group)
    # Published whatever is hidden (the number of cases: the provenance states it), so never
    # a complement: hiding it would protect nothing.
    fixed: bool = False


@dataclass(frozen=True)
class AuditEntry:
    """Which cell, why, which rule (never the suppressed value)."""

    cell: str
    reason: str  # "primary" or "secondary"
    rule: str

    def to_dict(self) -> dict:
        return {"cell": self.cell, "reason": self.reason, "rule": self.rule}


@dataclass
class System:
    """`matrix`: cells x atoms, 0/1 (weights of atoms do not matter for the span). Or, for
    a store of too many atoms, a cells x rank matrix R with R R^T = `gram` = M D M^T
    (`_gram_system`; D > 0 diagonal, integers): R's rows have the same linear relations as
    M's, and {R z} = {M y}, which is all the checks and the LP depend on."""

    cells: list[Cell]
    matrix: np.ndarray
    gram: np.ndarray | None = None

    @functools.cached_property
    def basis(self) -> np.ndarray:
        """The cells in coordinates of their row space (cells x rank): the same linear
        relations among cells as `matrix`, in far fewer columns, so each check is cheap."""
        u, sv, _ = np.linalg.svd(self.matrix, full_matrices=False)
        if sv.size == 0 or sv[0] == 0:
            return np.zeros((self.matrix.shape[0], 0))
        rank = int((sv > sv[0] * max(self.matrix.shape) * np.finfo(float).eps).sum())
        return u[:, :rank] * sv[:rank]

    @property
    def nonzero(self) -> np.ndarray:
        """Cells that count at least one case pattern."""
        if self.gram is not None:
            return np.diag(self.gram) > 0
        return np.asarray(self.matrix.any(axis=1))

    @functools.cached_property
    def row_class(self) -> np.ndarray:
        """Per cell, the index of the first cell with the same row (the same cases): rows i
        and j of M are equal exactly when G_ii = G_jj = G_ij (|D^(1/2) (m_i - m_j)|^2 = 0)."""
        n = len(self.cells)
        out = np.arange(n)
        if self.gram is None:
            first: dict[bytes, int] = {}
            for i in range(n):
                out[i] = first.setdefault(self.matrix[i].tobytes(), i)
            return out
        g, d = self.gram, np.diag(self.gram)
        reps: list[int] = []
        for i in range(n):
            hit = next((r for r in reps if d[r] == d[i] == g[r, i]), None)
            if hit is None:
                reps.append(i)
            out[i] = i if hit is None else hit
        return out

    def span(self, published: np.ndarray) -> Span:
        return Span(self.matrix, published)

    def recoverable(self, published: np.ndarray, target: int) -> bool:
        """Whether cell `target` is a linear combination of the `published` cells' rows."""
        return self.span(published).recoverable(target)


class Span:
    """The row space of the published cells (one SVD), for many recoverability checks."""

    def __init__(self, matrix: np.ndarray, published: np.ndarray):
        self.matrix = matrix
        self.index = np.flatnonzero(published)
        p = matrix[self.index]
        if p.shape[0] == 0:
            self.u = np.zeros((0, 0))
            self.sv = np.zeros(0)
            self.vt = np.zeros((0, matrix.shape[1]))
            return
        u, sv, vt = np.linalg.svd(p, full_matrices=False)
        rank = int((sv > sv[0] * max(p.shape) * np.finfo(float).eps).sum())
        self.u, self.sv, self.vt = u[:, :rank], sv[:rank], vt[:rank]

    def residual(self, targets) -> np.ndarray:
        """max |s - projection of s| per target: 0 when the target is recoverable."""
        s = self.matrix[np.asarray(targets, dtype=int)]
        if s.shape[0] == 0:
            return np.zeros(0)
        proj = (s @ self.vt.T) @ self.vt
        return np.abs(s - proj).max(axis=1)

    def recoverable(self, target: int) -> bool:
        return bool(self.residual([target])[0] < 1e-8)

    def recovery(self, target: int) -> np.ndarray:
        """Cells (indices into the system) the least-norm recovery of `target` uses."""
        lam = self.u @ ((self.vt @ self.matrix[target]) / self.sv)
        return self.index[np.abs(lam) > 1e-9]


# --------------------------------------------------------------------------------------
# Masks: which cases a cell counts
# --------------------------------------------------------------------------------------


def _group_mask(bkey: str, group: str, fw) -> pl.Expr:
    if bkey == R.ALL:
        return pl.lit(True)
    b = fw.breakdown(bkey)
    col = pl.col(b.column)
    if group == R.NOT_RECORDED:
        return col.is_null()
    return (col.cast(pl.String) == group).fill_null(False)


def _candidate_columns(params) -> list[str]:
    from hmip_cli.stepwise.sweeps import candidate_columns

    return list(candidate_columns(list(params.candidates), params.fw))


def cells_and_masks(results, profile, findings, params) -> list[tuple[Cell, pl.Expr]]:
    """Every count the report publishes or implies, with the expression selecting its cases."""
    fw = params.fw
    out: list[tuple[Cell, pl.Expr]] = []
    fig = results.rates.filter(pl.col("breakdown") == R.ALL)
    seen_priority: set[str] = set()
    for r in fig.iter_rows(named=True):
        f, m = fw.area(r["factor"]), fw.measure(r["measure"])
        col = pl.col(fw.judgement_column(f, m))
        name = f"Figure {r['figure']}, {r['factor_label']}"
        if fw.gate is not None and f.key not in seen_priority:
            seen_priority.add(f.key)
            out.append(
                (
                    Cell(
                        "rates",
                        (f.key, "priority"),
                        "n_priority",
                        r["n_priority"],
                        f"{name}: priority cases",
                    ),
                    pl.col(fw.gate_column(f)).fill_null(False),
                )
            )
        key = (f.key, m.key)
        out.append(
            (Cell("rates", key, "n", r["n"], f"{name}: applicable cases"), col.is_not_null())
        )
        y = r["n_yes"] if r["n_yes"] is not None else -1  # -1: counted from the data
        out.append((Cell("rates", key, "n_yes", y, f"{name}: yes"), col.fill_null(False)))
    for r in results.protection.iter_rows(named=True):
        q = fw.question(r["question"])
        col = pl.col(q.column)
        g = _group_mask(r["breakdown"], r["group"], fw)
        pkey: tuple = (q.key, r["breakdown"], r["group"])
        name = f"Table {r['table']}, {r['topic']}, {r['breakdown_label']}: {r['group_label']}"
        out.append(
            (
                Cell("protection", pkey, "n", r["n"], f"{name}: applicable cases"),
                col.is_not_null() & g,
            )
        )
        y = r["n_yes"] if r["n_yes"] is not None else -1
        out.append((Cell("protection", pkey, "n_yes", y, f"{name}: yes"), col.fill_null(False) & g))
    chars = {c.key: c for c in R.characteristics(fw)}
    for r in profile.filter(pl.col("breakdown") == R.ALL).iter_rows(named=True):
        c = chars[r["characteristic"]]
        if c.breakdown is None:
            mask, recorded = pl.lit(True), pl.lit(True)
        else:
            col = pl.col(fw.breakdown(c.breakdown).column)
            mask = (
                col if isinstance(c.code, bool) else col.cast(pl.String) == str(c.code)
            ).fill_null(False)
            recorded = col.is_not_null()
        name = f"Sample profile, {r['characteristic_label']}"
        total = c.breakdown is None  # all cases
        cell = Cell("profile", (c.key,), "n", r["n"], f"{name}: cases", False, fixed=total)
        out.append((cell, mask))
        if c.breakdown is not None:
            out.append(
                (
                    Cell(
                        "profile",
                        (c.key,),
                        "not_recorded",
                        r["not_recorded"],
                        f"{name}: not recorded",
                        False,
                    ),
                    ~recorded,
                )
            )
    out += _model_cells(findings, params)
    return out


def _model_cells(findings, params) -> list[tuple[Cell, pl.Expr]]:
    from hmip_cli.report import content as C

    targets = C.target_index()
    cands = _candidate_columns(params)
    out: list[tuple[Cell, pl.Expr]] = []
    done: set[str] = set()
    for r in findings.iter_rows(named=True):
        t = targets.get(r["model"])
        if t is None or r["n"] is None:
            continue
        outcome = pl.col(t.column)
        complete = outcome.is_not_null()
        for c in cands:
            complete = complete & pl.col(c).is_not_null()
        if r["model"] not in done:
            done.add(r["model"])
            name = f"Stepwise models, {r['label']}"
            out.append(
                (
                    Cell("models", (r["model"],), "n", r["n"], f"{name}: cases in model", False),
                    complete,
                )
            )
            out.append(
                (
                    Cell(
                        "models",
                        (r["model"],),
                        "n_dropped",
                        r["n_dropped"],
                        f"{name}: cases dropped",
                        False,
                    ),
                    outcome.is_not_null() & ~complete,
                )
            )
        if r["term"] is None or r["n_level"] is None or r["odds_ratio"] is None:
            continue
        if not r.get("reliable"):
            continue
        b = params.fw.breakdown_for_column(r["term"])
        if b is None:
            continue
        key = C.difference_key(r, params.fw)
        name = f"Significant differences, {r['label']}, {b.label}"
        for side, label in (("level", r["level"]), ("reference", r["reference"])):
            code = C._level_code(b, label)
            g = (pl.col(r["term"]).cast(pl.String) == code).fill_null(False) & complete
            n_value, pct = r[f"n_{side}"], r[f"percent_{side}"]
            # The differences table hides both percentages when a group is under --min-n.
            sizes = [v for v in (r["n_level"], r["n_reference"]) if v is not None]
            small = min(sizes, default=params.min_n) < params.min_n
            shown = pct is not None and not (small and params.suppress)
            y_value = int(round(pct * n_value / 100.0)) if shown else -1
            out.append(
                (Cell("differences", (key, side), "n", n_value, f"{name}: {label} cases"), g)
            )
            out.append(
                (
                    Cell("differences", (key, side), "n_yes", y_value, f"{name}: {label} yes"),
                    g & outcome.fill_null(False),
                )
            )
    return out


def build_system(cases: pl.DataFrame, pairs: list[tuple[Cell, pl.Expr]]) -> System:
    """The cells x atoms matrix. Atoms: cases grouped by their pattern over every mask. More
    atoms than MAX_ATOMS (a 10M-case store has 6.4 million): the Gram form (`_gram_system`)."""
    names = [f"c{i}" for i in range(len(pairs))]
    if cases.lazy().select(pl.len()).collect().item() > MAX_ATOMS:
        # Possibly too many atoms for the dense matrix: first the distinct patterns of the
        # columns the cells read (fewer masks to evaluate than cases).
        used = sorted({c for _, e in pairs for c in e.meta.root_names()})
        patterns = cases.lazy().group_by(used).agg(pl.len().alias("__w")) if used else None
        if patterns is not None and (got := patterns.collect()).height > MAX_ATOMS:
            return _gram_system(got, used, pairs)
    masks = cases.lazy().select([e.alias(n) for (_, e), n in zip(pairs, names)])
    atoms = masks.group_by(names).agg(pl.len().alias("__w")).collect()  # <= MAX_ATOMS
    matrix = atoms.select(names).to_numpy().T.astype(float)
    weights = atoms["__w"].to_numpy()
    counts = (matrix * weights).sum(axis=1).round().astype(int)
    cells = [
        c
        if c.value is not None and c.value >= 0
        else Cell(c.source, c.key, c.column, int(v), c.label, c.zero_counts)
        for (c, _), v in zip(pairs, counts)
    ]
    return System(cells, matrix)


def _gram_system(
    patterns: pl.DataFrame, used: list[str], pairs: list[tuple[Cell, pl.Expr]]
) -> System:
    """The system of a store with too many atoms for the dense matrix M (a 10M-case store:
    6.4M atoms; the report has a few hundred cells). Every decision of the check (whether a
    cell is recoverable, which cells a least-cost complement moves, which complements are
    needed, which cells show the same count) depends only on the linear relations between
    M's rows and on the cell vectors {M y} the LP may move. Those are the same for a cells x
    rank matrix R with R R^T = G = M D M^T for any positive diagonal D. G is summed, in
    blocks, over the distinct patterns of the columns the cells read (each a column of M;
    D_a: the patterns of atom a): G_ij = patterns in both cells i and j, a few hundred
    squared integers, and R comes from its eigendecomposition (its rank is M's). The counts
    are the mask sums with the patterns' case counts as weights."""
    names = [f"c{i}" for i in range(len(pairs))]
    # The masks compare codes as text: cast the Enum columns once, not once per mask.
    schema = patterns.schema
    lf = patterns.lazy().with_columns(
        pl.col(c).cast(pl.String) for c in used if isinstance(schema[c], pl.Enum)
    )
    n = len(pairs)
    gram = np.zeros((n, n))
    counts = np.zeros(n)
    for start in range(0, patterns.height, _GRAM_BATCH):
        part = (
            lf.slice(start, _GRAM_BATCH)
            .select(*[e.alias(c) for (_, e), c in zip(pairs, names)], "__w")
            .collect()
        )
        x = part.select(names).to_numpy().astype(np.float32)
        gram += (x.T @ x).astype(np.float64)  # integers below 2**24 per block: exact
        counts += x.T.astype(np.float64) @ part["__w"].to_numpy().astype(np.float64)
    gram = np.round(gram)
    values, vectors = np.linalg.eigh(gram)
    top = float(values.max(initial=0.0))
    keep = values > top * n * np.finfo(float).eps * 10
    matrix = vectors[:, keep] * np.sqrt(values[keep])
    cells = [
        c
        if c.value is not None and c.value >= 0
        else Cell(c.source, c.key, c.column, int(v), c.label, c.zero_counts)
        for (c, _), v in zip(pairs, np.round(counts).astype(int))
    ]
    return System(cells, matrix, gram)


# --------------------------------------------------------------------------------------
# Primary and secondary suppression
# --------------------------------------------------------------------------------------


def _primary(system: System, already: set[int], k: int | None, min_n: int, suppress: bool):
    """Cells suppressed by the policy (and those the analyses already hid), with the rule."""
    out: dict[int, str] = {}
    index = {(c.source, c.key, c.column): i for i, c in enumerate(system.cells)}
    reliability = f"reliability: fewer than {min_n} applicable cases (--min-n)"
    for i in already:
        out[i] = reliability
    if suppress:
        # The analyses leave rates unsuppressed (marked [u]); a publication hides them.
        for c in system.cells:
            if c.column == "n" and c.source in ("rates", "protection") and 0 < c.value < min_n:
                out[index[(c.source, c.key, "n_yes")]] = reliability
    if k is None:
        return out
    for i, c in enumerate(system.cells):
        small = c.value < k and (c.value > 0 or c.zero_counts)
        if c.column == "n_yes":
            n = system.cells[index[(c.source, c.key, "n")]].value
            if n > 0 and (small or (n - c.value < k)):
                out.setdefault(i, f"threshold-{k}: fewer than {k} yes or no cases behind the rate")
        elif c.column == "n" and c.source in ("rates", "protection", "differences"):
            if 0 < c.value < k:
                out.setdefault(i, f"threshold-{k}: fewer than {k} applicable cases")
                out.setdefault(
                    index[(c.source, c.key, "n_yes")], f"threshold-{k}: its n is suppressed"
                )
        elif c.source == "models" and c.column == "n_dropped":
            continue  # cases with a missing value: data quality, not a group of people
        elif c.value < k and (c.value > 0 or c.zero_counts):
            out.setdefault(i, f"threshold-{k}: fewer than {k} cases")
    return out


def protect(system: System, primary: dict[int, str]) -> tuple[np.ndarray, list[AuditEntry]]:
    """Secondary suppression at least cost until no suppressed cell is recoverable. Returns
    the published mask and the audit log (primary first, then secondary).

    The cost of hiding a cell is its count (the number of cases whose figure a reader loses,
    the information-loss measure tau-argus uses by default), so small groups go before
    totals and before the figures the key findings quote. For each recoverable suppressed
    cell t in turn, a linear programme picks the complement: a direction y over the case
    patterns in which t changes (t.y = 1) while as little published count as possible moves,
    minimising sum(cost_p * |p.y|) over the published cells p; the cells that move
    (p.y != 0) are hidden. Then t is not recoverable: y is orthogonal to every cell still
    published but not to t, and hiding more cells later keeps it so. (The weighted L1 norm
    is the usual convex stand-in for the weighted number of cells; its optimum is a vertex,
    which moves few cells.) Last, the complements are offered back, most costly first, and
    each that no suppressed cell needs is published again, so none is redundant: publishing
    any remaining complement would let some suppressed cell be worked out.
    """
    n = len(system.cells)
    published = np.ones(n, dtype=bool)
    groups = _linked(system)
    cost = np.array([max(c.value, 1) for c in system.cells], dtype=float)
    # Hiding a rate's n hides its percentage too, so the n costs both.
    cost_of = np.array([cost[list(groups[i])].sum() for i in range(n)])
    # A fixed cell costs more than hiding every other cell: chosen only if nothing else does.
    cost_of[[i for i, c in enumerate(system.cells) if c.fixed]] = cost_of.sum() + 1.0
    for i in primary:
        published[list(groups[i])] = False
    log = [
        AuditEntry(system.cells[i].label, "primary", rule) for i, rule in sorted(primary.items())
    ]
    order = {i: k for k, i in enumerate(sorted(primary))}
    secondary: set[int] = set()
    tried: set[int] = set()
    while bad := _recoverable(system, published):
        target = min(bad, key=lambda i: (order.get(i, n), i))
        moved = (
            [] if target in tried else _least_cost_complement(system, published, target, cost_of)
        )
        if not moved:  # numerically ill-posed (not seen): the cheapest cell of a recovery
            used = system.span(published).recovery(target)
            moved = [int(min(used, key=lambda i: (cost_of[i], i)))]
        tried.add(target)
        for i in moved:
            secondary |= groups[i] & set(np.flatnonzero(published).tolist())
            published[list(groups[i])] = False
    published, needs = _prune(system, published, sorted(secondary, key=lambda i: -cost_of[i]))
    for i in sorted(secondary):
        if not published[i]:
            log.append(
                AuditEntry(
                    system.cells[i].label,
                    "secondary",
                    f"complementary: otherwise '{system.cells[needs[i]].label}' could be "
                    "worked out from published cells"
                    if i in needs
                    else "complementary: shown only with a suppressed cell",
                )
            )
    return published, log


def _least_cost_complement(
    system: System, published: np.ndarray, target: int, cost_of: np.ndarray
) -> list[int]:
    """The published cells the least-cost LP (see `protect`) moves to protect `target`:
    min sum(cost_p (a_p + b_p)) subject to P y - a + b = 0, t.y = 1, a, b >= 0, y free,
    over the case patterns (sparse 0/1 rows: HiGHS solves it in a fraction of a second)."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, hstack, identity, vstack

    pub = np.flatnonzero(published)
    p = csr_matrix(system.matrix[pub])
    k, r = p.shape
    eye = identity(k, format="csr")
    row = csr_matrix(np.concatenate([system.matrix[target], np.zeros(2 * k)])[None, :])
    res = linprog(
        np.concatenate([np.zeros(r), cost_of[pub], cost_of[pub]]),
        A_eq=vstack([hstack([p, -eye, eye]), row]),
        b_eq=np.concatenate([np.zeros(k), [1.0]]),
        bounds=[(None, None)] * r + [(0, None)] * (2 * k),
        method="highs",
    )
    if res.status != 0:
        return []
    return [int(i) for i in pub[np.abs(p @ res.x[:r]) > 1e-6]]


def _prune(
    system: System, published: np.ndarray, offers: list[int]
) -> tuple[np.ndarray, dict[int, int]]:
    """Publish again each offered complement that no suppressed cell needs (in order), and
    for each one kept, a suppressed cell publishing it would give away.

    Rank-one updates of the published span: a hidden cell h becomes recoverable when s is
    published exactly when h's residual (off the span) is a multiple of s's residual."""
    basis = system.basis
    span = Span(basis, published)
    q = list(span.vt)  # orthonormal rows spanning the published cells
    hidden = set(np.flatnonzero(~published & system.nonzero).tolist())

    def residual(i: int) -> np.ndarray:
        v = basis[i].copy()
        for e in q:
            v -= (v @ e) * e
        return v

    res = {h: residual(h) for h in hidden}
    trial = published.copy()
    for s in offers:
        if trial[s] or not _may_publish(system, trial, s):
            continue
        twins = set(_same(system, s).tolist())
        rs = residual(s)
        norm = float(np.linalg.norm(rs))
        if norm < 1e-8:
            given_away = None  # s is already determined: showing it changes nothing
        else:
            e = rs / norm
            given_away = next(
                (
                    h
                    for h in sorted(hidden - twins)
                    if np.abs(res[h] - (res[h] @ e) * e).max() < 1e-8
                ),
                None,
            )
            if given_away is not None:
                continue
            q.append(e)
            for h in res:
                res[h] = res[h] - (res[h] @ e) * e
        trial[list(twins)] = True
        hidden -= twins
    if _recoverable(system, trial):  # rounding in the updates (not seen): keep them all
        trial = published
    # Why each remaining complement stays: what showing it would give away.
    span = Span(basis, trial)
    hid = np.flatnonzero(~trial & system.nonzero)
    res_all = basis[hid] - (basis[hid] @ span.vt.T) @ span.vt
    needs: dict[int, int] = {}
    for s in offers:
        if trial[s]:
            continue
        k = int(np.flatnonzero(hid == s)[0]) if s in hid else None
        if k is None:
            continue
        e = res_all[k] / max(float(np.linalg.norm(res_all[k])), 1e-300)
        twins = set(_same(system, s).tolist())
        after = np.abs(res_all - np.outer(res_all @ e, e)).max(axis=1)
        for j in np.flatnonzero(after < 1e-8):
            if int(hid[j]) not in twins:
                needs[s] = int(hid[j])
                break
    return trial, needs


def _linked(system: System) -> list[frozenset[int]]:
    """For each cell, the cells hidden with it: cells with the same row (the same count shown
    twice) and, for a rate's n, its yes count (a percentage is not shown without its n)."""
    n = len(system.cells)
    same: dict[int, list[int]] = {}
    for i in range(n):
        same.setdefault(int(system.row_class[i]), []).append(i)
    index = {(c.source, c.key, c.column): i for i, c in enumerate(system.cells)}
    out: list[frozenset[int]] = []
    for i in range(n):
        todo, seen = [i], set()
        while todo:
            j = todo.pop()
            if j in seen:
                continue
            seen.add(j)
            todo += same[int(system.row_class[j])]
            c = system.cells[j]
            yes = index.get((c.source, c.key, "n_yes")) if c.column == "n" else None
            if yes is not None:
                todo.append(yes)
        out.append(frozenset(seen))
    return out


def _same(system: System, i: int) -> np.ndarray:
    """Cells showing the same count as cell i (published or hidden together)."""
    return np.flatnonzero(system.row_class == system.row_class[i])


def _may_publish(system: System, published: np.ndarray, i: int) -> bool:
    """Whether cell i (and its twins) may be shown: a yes count only beside its n."""
    index = {(c.source, c.key, c.column): j for j, c in enumerate(system.cells)}
    twins = set(_same(system, i).tolist())
    for j in twins:
        c = system.cells[j]
        if c.column == "n_yes":
            n_cell = index.get((c.source, c.key, "n"))
            if n_cell is not None and not published[n_cell] and n_cell not in twins:
                return False
    return True


def _recoverable(system: System, published: np.ndarray) -> list[int]:
    """Suppressed cells (with at least one case) that published cells determine."""
    hidden = np.flatnonzero(~published & system.nonzero)
    span = Span(system.basis, published)
    return [int(i) for i in hidden[span.residual(hidden) < 1e-8]]


def still_recoverable(system: System, published: np.ndarray) -> list[int]:
    """Suppressed cells that can be worked out from the published ones (should be none)."""
    from threadpoolctl import threadpool_limits

    hidden = np.flatnonzero(~published & system.nonzero)
    with threadpool_limits(limits=1):
        return [int(i) for i in hidden[system.span(published).residual(hidden) < 1e-8]]


# --------------------------------------------------------------------------------------
# The whole step, and what it changes in the analyses' frames
# --------------------------------------------------------------------------------------


@dataclass
class Disclosure:
    """The outcome of disclosure control for one report."""

    policy: str
    hidden: set  # {(source, key, column)} of every suppressed cell
    audit: list[AuditEntry]
    system: System | None = None
    published: np.ndarray | None = None

    def is_hidden(self, source: str, key: tuple, column: str) -> bool:
        return (source, key, column) in self.hidden

    def to_dict(self) -> dict:
        return {
            "policy": self.policy,
            "threshold": POLICIES.get(self.policy),
            "suppressed": len(self.audit),
            "primary": sum(e.reason == "primary" for e in self.audit),
            "secondary": sum(e.reason == "secondary" for e in self.audit),
            "cells": [e.to_dict() for e in self.audit],
        }


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        from hmip_cli.errors import BadRequest

        raise BadRequest(f"unknown --disclosure {policy!r}; choose from: " + ", ".join(POLICIES))
    return policy


def _reliability_hidden(pairs, params) -> bool:
    """Whether --suppress hides a rate for reliability (as `_primary` does)."""
    if not params.suppress:
        return False
    return any(
        c.column == "n" and c.source in ("rates", "protection") and 0 < c.value < params.min_n
        for c, _ in pairs
    )


def control(cases, results, profile, findings, params):
    """Disclosure control for a report: (results, profile, findings, Disclosure), the frames
    with every suppressed count (and what implies it) set to null and marked [c]."""
    policy = check_policy(getattr(params, "disclosure", DEFAULT_POLICY))
    pairs = cells_and_masks(results, profile, findings, params)
    already = {i for i, (c, _) in enumerate(pairs) if c.value is None or c.value < 0}
    if POLICIES[policy] is None and not already and not _reliability_hidden(pairs, params):
        # --disclosure none with nothing hidden for reliability: nothing to protect, so no
        # linked system either (it needs every case pattern: 6.4 million at 10M cases).
        return results, profile, findings, Disclosure(policy, set(), [])
    system = build_system(cases, pairs)
    primary = _primary(system, already, POLICIES[policy], params.min_n, params.suppress)
    if not primary:
        return (
            results,
            profile,
            findings,
            Disclosure(policy, set(), [], system, np.ones(len(pairs), bool)),
        )
    # One BLAS thread: the SVDs are small, and on a busy machine OpenBLAS's thread pool made
    # each one 20 times slower (measured: 7.7 s against 0.38 s for 350 x 800).
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        published, audit = protect(system, primary)
    hidden = {(c.source, c.key, c.column) for c, p in zip(system.cells, published) if not p}
    audit = [e for e in audit if e.rule.startswith("reliability") is False] + [
        e for e in audit if e.rule.startswith("reliability")
    ]
    d = Disclosure(policy, hidden, audit, system, published)
    return (
        _apply_rates(results, d),
        _apply_profile(profile, d),
        _apply_findings(findings, d, params.fw),
        d,
    )


def _hide(frame: pl.DataFrame, mask: pl.Series, columns: list[str]) -> pl.DataFrame:
    return frame.with_columns(
        [
            pl.when(mask).then(None).otherwise(pl.col(c)).alias(c)
            for c in columns
            if c in frame.columns
        ]
    )


def _apply_rates(results, d: Disclosure):
    import dataclasses

    def keyed(frame, key_of, source):
        yes = pl.Series(
            [d.is_hidden(source, key_of(r), "n_yes") for r in frame.iter_rows(named=True)]
        )
        n = pl.Series([d.is_hidden(source, key_of(r), "n") for r in frame.iter_rows(named=True)])
        frame = _hide(frame, yes | n, ["n_yes", "percent_yes", "ci_lower", "ci_upper"])
        frame = _hide(frame, n, ["n"])
        newly = (yes | n) & frame["suppressed"].is_null()
        why = pl.when(pl.col("low_reliability")).then(pl.lit("primary"))
        return frame.with_columns(
            suppressed=pl.when(newly)
            .then(why.otherwise(pl.lit("disclosure")))
            .otherwise(pl.col("suppressed")),
            marker=pl.when(yes | n).then(pl.lit(R.MARK_SUPPRESSED)).otherwise(pl.col("marker")),
        )

    rates = results.rates
    is_all = rates["breakdown"] == R.ALL
    top = keyed(rates.filter(is_all), lambda r: (r["factor"], r["measure"]), "rates")
    pri = pl.Series(
        [
            d.is_hidden("rates", (r["factor"], "priority"), "n_priority")
            for r in top.iter_rows(named=True)
        ]
    )
    top = _hide(top, pri, ["n_priority"])
    rates = pl.concat([top, rates.filter(~is_all)], how="vertical_relaxed")
    prot = keyed(
        results.protection, lambda r: (r["question"], r["breakdown"], r["group"]), "protection"
    )
    return dataclasses.replace(results, rates=rates, protection=prot)


def _apply_profile(profile: pl.DataFrame, d: Disclosure) -> pl.DataFrame:
    rows = list(profile.iter_rows(named=True))
    n = pl.Series(
        [
            r["breakdown"] == R.ALL and d.is_hidden("profile", (r["characteristic"],), "n")
            for r in rows
        ]
    )
    nr = pl.Series(
        [
            r["breakdown"] == R.ALL
            and d.is_hidden("profile", (r["characteristic"],), "not_recorded")
            for r in rows
        ]
    )
    profile = _hide(profile, n | nr, ["n", "percent"])
    return _hide(profile, nr, ["not_recorded", "base"])


def _apply_findings(findings: pl.DataFrame, d: Disclosure, fw=None) -> pl.DataFrame:
    from hmip_cli.report import content as C

    rows = list(findings.iter_rows(named=True))
    out = findings
    for side in ("level", "reference"):

        def hid(r, col, side=side):
            return r["term"] is not None and d.is_hidden(
                "differences", (C.difference_key(r, fw), side), col
            )

        n = pl.Series([hid(r, "n") for r in rows], dtype=pl.Boolean)
        y = pl.Series([hid(r, "n_yes") for r in rows], dtype=pl.Boolean)
        out = _hide(out, n | y, [f"percent_{side}"])
        out = _hide(out, n, [f"n_{side}"])
    mn = pl.Series([d.is_hidden("models", (r["model"],), "n") for r in rows], dtype=pl.Boolean)
    md = pl.Series(
        [d.is_hidden("models", (r["model"],), "n_dropped") for r in rows], dtype=pl.Boolean
    )
    out = _hide(out, mn, ["n"])
    return _hide(out, md, ["n_dropped"])
