"""Calibrated synthetic case data: `generate(n_cases, seed)` and a "messy export" form.

The bulletin's exact model for the qi-2016 framework. Its targets (shares, prevalences,
rates per area and measure, the Tables 1-2 cells, the planted effects, the inspections and
the messy export's spellings) are read from `hmip_cli/data/qi-2016.calibration.toml`; the
columns, areas, measures and questions from the framework that file names. The generating
model is documented in `docs/synth_model.md`. In short:

* case attributes follow the bulletin's sample profile (63% CRC, 15% female, 47%
  post-custody, 17% high/very high RoSH, 26% MAPPA), with NPS holding the high-RoSH and
  MAPPA cases; ages, OGRS3 scores, ethnicity and 14 inspections as in Annex A;
* priorities follow a set model (correlated factors, 1-5 priorities per case) calibrated
  so the prevalence matches the bulletin (the three it prints, plausible values for the
  rest);
* whether each party (the framework's [[parties]]) was involved, hence which contribution
  judgements and case-level questions apply, depends on the provider, reproducing the
  bulletin's applicable n's;
* every judgement follows logistic(intercept + planted effects). Planted effects are
  exactly the significant differences the bulletin reports; every other subgroup
  variable has no effect.

Margins are exact, not just expected: every count the model fixes (CRC, female, ...,
each priority, each applicable n, each judgement's yes count) is the nearest whole
number to n times its rate, for any n. Which cases get an attribute or a "yes" is drawn
without replacement with weights from the model (`_select`: Gumbel-top-k with weights
-log(1 - p_i)), so the dependence structure and planted effects stay and nothing else
has an effect. Calibration is exact (closed forms plus 1-D quadrature, no Monte Carlo),
so the model is a fixed function of the calibration file and the constants below;
`calibration()` returns it. A fixed seed gives the same frame on every run: draws happen
in a fixed order with full-length arrays from `numpy.random.default_rng(seed)` (PCG64,
platform-independent).
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import re
import tomllib
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from scipy.optimize import brentq
from scipy.special import expit, logit, ndtr, ndtri

from hmip_cli import defaults, framework, synth_margins
from hmip_cli.errors import BadRequest
from hmip_cli.framework.model import YES_NO, Area, Measure
from hmip_cli.report.provenance import NOTE_MARKER

MAX_CASES = 10_000_000
DEFAULT_ID_PREFIX = defaults.SYNTH_ID_PREFIX
EXPORT_ID_PREFIX = "SYX"  # the messy example export: never collides with SYN- ids


def _calibration_file() -> dict:
    """The model's targets (hmip_cli/data/qi-2016.calibration.toml)."""
    from importlib import resources

    text = (resources.files("hmip_cli") / "data" / "qi-2016.calibration.toml").read_text("utf-8")
    return tomllib.loads(text)


_CAL = _calibration_file()
FW = framework.load(_CAL["framework"])  # the framework the model's cases are in
_COLUMNS = FW.stored_columns()
_COL = {c.name: c for c in _COLUMNS}
AREAS: tuple[Area, ...] = FW.areas
MEASURES: tuple[Measure, ...] = FW.measures
MAX_PRIORITIES = FW.gate.max_per_case if FW.gate and FW.gate.max_per_case else len(AREAS)


def _fk(name: str) -> str:
    """An area key from any of its spellings (key or alias)."""
    return FW.area(name).key


def _mk(name: str) -> str:
    """A measure key from any of its spellings (key or alias)."""
    return FW.measure(name).key


def _share(value: float | str) -> float:
    """A share as the file writes it: a number, or a printed count over its base ("a/b")."""
    if isinstance(value, str):
        num, den = value.split("/")
        return int(num) / int(den)
    return float(value)


def _shares(table: dict) -> dict[str, float]:
    return {str(k): _share(v) for k, v in table.items()}


def _by_area(table: dict) -> dict[str, float]:
    """A per-area table, in the framework's area order, keyed by area key."""
    return {a.key: float(table[a.key]) for a in FW.areas}


def _item(item: str) -> tuple[str, str]:
    """ "area/measure" -> (area key, measure key)."""
    area, measure = item.split("/")
    return _fk(area), _mk(measure)


def _column(question_key: str) -> str:
    return FW.question(question_key).column


# --------------------------------------------------------------------------------------
# Targets from the bulletin (sample.csv, priority_prevalence.csv, figures.csv, tables.csv),
# read from the calibration file
# --------------------------------------------------------------------------------------

_SAMPLE = _CAL["sample"]
P_CRC = _share(_SAMPLE["crc"])
P_FEMALE = _share(_SAMPLE["female"])
P_POST_CUSTODY = _share(_SAMPLE["post_custody"])
P_ROSH_HIGH = _share(_SAMPLE["rosh_high"])  # high or very high
P_MAPPA = _share(_SAMPLE["mappa"])
P_UNDER_30 = _share(_SAMPLE["under_30"])
P_AGE_MISSING = _share(_SAMPLE["age_missing"])
P_OGRS_HIGH = _share(_SAMPLE["ogrs_high"])  # share of recorded OGRS scores that are 75+
P_OGRS_MISSING = _share(_SAMPLE["ogrs_missing"])
P_ETHNICITY_MISSING = _share(_SAMPLE["ethnicity_missing"])
P_BAME = _share(_SAMPLE["bame"])  # of all cases
NOTE_RATE = _share(_SAMPLE["notes"])

# Priority prevalence per area (the gate's yes share).
PRIORITY_PREVALENCE: dict[str, float] = _by_area(_CAL["priority_prevalence"])

# Figures 1-4, % yes among applicable cases (area order = the framework's).
_FIGURES: dict[str, tuple[float, ...]] = {
    _mk(m): tuple(_by_area(rates).values())
    for m, rates in _CAL["figures"].items()
    if m != "not_published"
}
FIGURE_RATES: dict[tuple[str, str], float] = {
    (f.key, m): rates[i] / 100 for m, rates in _FIGURES.items() for i, f in enumerate(FW.areas)
}
FIGURE_RATES_NOT_PUBLISHED = {_item(i) for i in _CAL["figures"]["not_published"]}

# Tables 1-2, all cases: % yes per question column.
QUESTION_RATES: dict[str, float] = {_column(q): float(v) for q, v in _CAL["question_rates"].items()}

# Tables 1-2, the breakdown rows: question column -> breakdown column -> level -> (printed
# n, printed % yes); see the calibration file. Level codes as in the framework (derived
# breakdown columns).
_TABLES = _CAL["tables"]
TABLE_BREAKDOWNS: dict[str, tuple[str, ...]] = {
    column: FW.levels_of(column)[0] for column in _TABLES["breakdowns"]
}
TABLE_ROWS: dict[str, dict[str, dict[str, tuple[int, float]]]] = {
    _column(q): {
        b: {lv: (int(n), float(pct)) for lv, (n, pct) in levels.items()}
        for b, levels in rows.items()
    }
    for q, rows in _TABLES["rows"].items()
}
PROVIDER_YES = {
    _column(q): {str(k): int(v) for k, v in by.items()}
    for q, by in _TABLES.get("provider_yes", {}).items()
}
TABLE_CASES = int(_TABLES["table_cases"])  # the sample the rows describe


@dataclass(frozen=True)
class PartyModel:
    """Who was involved for one party (the calibration file's [involvement.PARTY])."""

    party: str
    involved: dict[str, float]  # share of each provider's cases where it was involved
    involved_question: str  # question column that applies where it was involved
    info_given_involved: dict[str, float]
    info_question: str  # question column that applies where its information was used
    info_total: dict[str, float] | None  # None: information used only where involved
    for_area: dict[str, float]  # involved for the area, given it is a priority and involved


PARTIES: tuple[PartyModel, ...] = tuple(
    PartyModel(
        FW.party(party).key,
        _shares(spec["involved"]),
        _column(spec["involved_question"]),
        _shares(spec["info_given_involved"]),
        _column(spec["info_question"]),
        _shares(spec["info_total"]) if "info_total" in spec else None,
        _by_area(spec["for_area"]),
    )
    for party, spec in _CAL["involvement"].items()
)
PARTY_MODELS: dict[str, PartyModel] = {p.party: p for p in PARTIES}


def _party_of(m: Measure) -> PartyModel | None:
    """The party whose involvement a measure needs (None: asked wherever the gate is yes)."""
    return PARTY_MODELS[m.applies.involved] if m.applies.involved else None


# --------------------------------------------------------------------------------------
# Planted effects (significant_differences.csv), on the log-odds scale: see the
# calibration file's [[effects]]
# --------------------------------------------------------------------------------------


def _lor(p_nps: float, p_crc: float) -> float:
    return float(logit(p_nps) - logit(p_crc))


def _planted_effects(entries: list[dict]) -> dict[tuple[str, str], dict[str, float]]:
    """(area, measure) -> {variable: log odds}, in the file's order (a judgement's effects
    keep it: the provider effect first)."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for entry in entries:
        effects: dict[str, float] = {}
        if "nps_vs_crc" in entry:
            effects["nps"] = _lor(*entry["nps_vs_crc"])
        effects.update({v: float(entry[v]) for v in EFFECT_VARIABLES[1:] if v in entry})
        for item in entry["items"]:
            out.setdefault(_item(item), {}).update(effects)
    return out


EFFECT_VARIABLES = ("nps", "ogrs_high", "age_30_plus")
PLANTED_EFFECTS: dict[tuple[str, str], dict[str, float]] = _planted_effects(_CAL["effects"])

# --------------------------------------------------------------------------------------
# Case attributes: the model's structural constants
# --------------------------------------------------------------------------------------

P_FEMALE_BY = {"CRC": 0.17}
P_FEMALE_BY["NPS"] = (P_FEMALE - P_CRC * P_FEMALE_BY["CRC"]) / (1 - P_CRC)
P_POST_BY = {"NPS": 0.62}
P_POST_BY["CRC"] = (P_POST_CUSTODY - (1 - P_CRC) * P_POST_BY["NPS"]) / P_CRC

# RoSH (low, medium, high, very high) by provider: CRCs hold low/medium risk of serious
# harm, the NPS the high/very high (a few CRC cases have escalated).
_ROSH_HIGH_CRC = 0.03
_ROSH_HIGH_NPS = (P_ROSH_HIGH - P_CRC * _ROSH_HIGH_CRC) / (1 - P_CRC)
ROSH_PROBS = {
    "CRC": (0.42, 1 - 0.42 - _ROSH_HIGH_CRC, _ROSH_HIGH_CRC, 0.0),
    "NPS": (0.06, 1 - 0.06 - _ROSH_HIGH_NPS, 0.87 * _ROSH_HIGH_NPS, 0.13 * _ROSH_HIGH_NPS),
}
# MAPPA by provider and RoSH group.
_MAPPA_CRC = 0.04
_MAPPA_NPS_HIGH = 0.85
_MAPPA_NPS = (P_MAPPA - P_CRC * _MAPPA_CRC) / (1 - P_CRC)
_MAPPA_NPS_LOW = (_MAPPA_NPS - _ROSH_HIGH_NPS * _MAPPA_NPS_HIGH) / (1 - _ROSH_HIGH_NPS)
P_MAPPA_BY = {
    ("CRC", False): _MAPPA_CRC,
    ("CRC", True): _MAPPA_CRC,
    ("NPS", False): _MAPPA_NPS_LOW,
    ("NPS", True): _MAPPA_NPS_HIGH,
}

# Age: 18 + floor(E), log E ~ Normal(mu, sigma); mu set so P(age < 30) = P(E < 12) = 40%.
AGE_SIGMA = 0.6
AGE_MU = math.log(12) - AGE_SIGMA * float(ndtri(P_UNDER_30))
AGE_MIN, AGE_MAX = 18, 85

# OGRS3 score = floor(100 * logistic(L)), L = g0 + g_age * Z_age + g_female * female
#   + g_nps * nps + OGRS_NOISE * e, with Z_age the standardised log-age (younger -> higher).
OGRS_AGE = -0.5
OGRS_FEMALE = -0.3
OGRS_NPS = -0.4
OGRS_NOISE = 1.2
_OGRS_HIGH_CUT = float(logit(0.75))  # score >= 75 <=> L >= logit(0.75)

# Inspections (Annex A, Table A1): (name, fieldwork date, sample weight, relative BAME
# share), from the calibration file.
INSPECTIONS: tuple[tuple[str, date, int, float], ...] = tuple(
    (str(i["name"]), i["date"], int(i["weight"]), float(i["bame"])) for i in _SAMPLE["inspections"]
)
# Finer ethnic groups within BAME (the ethnicity levels other than white).
BAME_SPLIT: dict[str, float] = _shares(_SAMPLE["bame_split"])

# Priorities: P(S) proportional to prod_{f in S} exp(theta_f + x'gamma_f) over the sets S
# with 1..MAX_PRIORITIES factors; x = (female, under_30, post_custody, ogrs_high).
PRIORITY_VARIABLES = ("female", "under_30", "post_custody", "ogrs_high")
PRIORITY_EFFECTS: dict[str, dict[str, float]] = {
    a.key: {str(v): float(b) for v, b in _CAL["priority_effects"][a.key].items()} for a in FW.areas
}

PROVIDERS = _COL["provider"].levels  # ("CRC", "NPS")


# --------------------------------------------------------------------------------------
# Exact calibration
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """The solved model: everything `generate` needs beyond the constants above."""

    ogrs_g0: float
    bame_by_inspection: tuple[float, ...]  # P(BAME | recorded, inspection)
    priority_theta: dict[str, float]
    subsets: np.ndarray  # (n_sets, n_factors) 0/1
    subset_probs: np.ndarray  # (16 priority cells, n_sets)
    intercepts: dict[tuple[str, str], float]  # (factor, measure) -> intercept
    # P(cell) over (nps, female, under_30, post_custody, ogrs_high): shape (2,2,2,2,2)
    cell_probs: np.ndarray
    # P(factor j is a priority | priority cell, c of factors 0..j-1 are): (16, n_factors, 6)
    priority_conditional: np.ndarray


@functools.cache
def _gauss_legendre() -> tuple[np.ndarray, np.ndarray]:
    # 400 nodes cost 0.13 s: computed on first use, not at every import of this module
    return np.polynomial.legendre.leggauss(400)


def _integrate_normal(lo: float, hi: float, fn) -> float:
    """Integral of phi(z) * fn(z) over [lo, hi] (fixed Gauss-Legendre: deterministic)."""
    nodes, weights = _gauss_legendre()
    z = 0.5 * (hi - lo) * nodes + 0.5 * (hi + lo)
    w = 0.5 * (hi - lo) * weights
    phi = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return float(np.sum(w * phi * fn(z)))


_AGE_CUT_Z = (math.log(12) - AGE_MU) / AGE_SIGMA  # Z_age below this <=> under 30


def _p_under30_and_ogrs_high(g0: float, female: int, nps: int) -> tuple[float, float]:
    """(P(under 30 and L >= cut), P(30+ and L >= cut)) given gender and provider."""
    shift = g0 + OGRS_FEMALE * female + OGRS_NPS * nps - _OGRS_HIGH_CUT

    def p_high(z):
        return ndtr((shift + OGRS_AGE * z) / OGRS_NOISE)

    return (
        _integrate_normal(-10.0, _AGE_CUT_Z, p_high),
        _integrate_normal(_AGE_CUT_Z, 10.0, p_high),
    )


def _cell_probs(g0: float) -> np.ndarray:
    """P(nps, female, under_30, post_custody, ogrs_high), exactly."""
    out = np.zeros((2, 2, 2, 2, 2))
    for nps, prov in enumerate(PROVIDERS):
        p_prov = P_CRC if prov == "CRC" else 1 - P_CRC
        for female in (0, 1):
            p_f = P_FEMALE_BY[prov] if female else 1 - P_FEMALE_BY[prov]
            hi_young, hi_old = _p_under30_and_ogrs_high(g0, female, nps)
            # a missing OGRS score counts as not high
            hi = {1: hi_young * (1 - P_OGRS_MISSING), 0: hi_old * (1 - P_OGRS_MISSING)}
            p_age = {1: P_UNDER_30, 0: 1 - P_UNDER_30}
            for under30 in (0, 1):
                for post in (0, 1):
                    p_post = P_POST_BY[prov] if post else 1 - P_POST_BY[prov]
                    base = p_prov * p_f * p_post
                    out[nps, female, under30, post, 1] = base * hi[under30]
                    out[nps, female, under30, post, 0] = base * (p_age[under30] - hi[under30])
    return out


def _solve_ogrs_g0() -> float:
    def gap(g0):
        cells = _cell_probs(g0)
        return cells[..., 1].sum() / (1 - P_OGRS_MISSING) - P_OGRS_HIGH

    return float(brentq(gap, -10, 10, xtol=1e-13))


def _subsets() -> np.ndarray:
    k = len(AREAS)
    rows = [
        [1 if i in combo else 0 for i in range(k)]
        for size in range(1, MAX_PRIORITIES + 1)
        for combo in itertools.combinations(range(k), size)
    ]
    return np.array(rows, dtype=np.int8)


def _priority_design() -> np.ndarray:
    """(16, n_factors) linear predictor offsets per priority cell (bits of PRIORITY_VARIABLES)."""
    out = np.zeros((16, len(AREAS)))
    for cell in range(16):
        x = {v: (cell >> (3 - i)) & 1 for i, v in enumerate(PRIORITY_VARIABLES)}
        for j, f in enumerate(AREAS):
            out[cell, j] = sum(b * x[v] for v, b in PRIORITY_EFFECTS[f.key].items())
    return out


def _subset_probs(theta: np.ndarray, subsets: np.ndarray, design: np.ndarray) -> np.ndarray:
    eta = design + theta[None, :]  # (16, k)
    logw = eta @ subsets.T.astype(float)  # (16, n_sets)
    logw -= logw.max(axis=1, keepdims=True)
    w = np.exp(logw)
    return w / w.sum(axis=1, keepdims=True)


def _priority_cell_weights(cells: np.ndarray) -> np.ndarray:
    """P(priority cell) for the 16 cells (female, under_30, post_custody, ogrs_high)."""
    return cells.sum(axis=0).reshape(16)


def _solve_priorities(cells: np.ndarray, subsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    design = _priority_design()
    pc = _priority_cell_weights(cells)
    target = np.array([PRIORITY_PREVALENCE[f.key] for f in AREAS])
    theta = logit(target)
    for _ in range(500):
        probs = _subset_probs(theta, subsets, design)
        marginal = pc @ (probs @ subsets)
        step = logit(target) - logit(marginal)
        theta = theta + step
        if np.max(np.abs(step)) < 1e-13:
            break
    else:  # pragma: no cover - the constants above converge in about 40 iterations
        raise RuntimeError("priority calibration did not converge")
    return theta, _subset_probs(theta, subsets, design)


def _priority_conditional(theta: np.ndarray, design: np.ndarray) -> np.ndarray:
    """P(factor j in S | cell, |S & {0..j-1}| = c) under P(S) ~ prod exp(eta_f), 1 <= |S| <= 5.

    The remaining set T of S & {j..K-1} has P(T) ~ prod_{f in T} w_f with lo <= |T| <= hi
    (lo = max(0, 1 - c), hi = 5 - c), so P(j in T) = w_j * sum_{m=lo}^{hi} e_{m-1}(R_{j+1})
    / sum_{m=lo}^{hi} e_m(R_j), e_m the elementary symmetric polynomials of the weights of
    the suffix R_j = {j..K-1} (computed by the usual recursion, exactly).
    """
    n_cells, k = design.shape
    top = MAX_PRIORITIES
    w = np.exp(design + theta[None, :])  # (16, k)
    # e[:, j, m] = e_m(R_j), m = 0..top; R_k empty
    e = np.zeros((n_cells, k + 1, top + 1))
    e[:, k, 0] = 1.0
    for j in range(k - 1, -1, -1):
        e[:, j, :] = e[:, j + 1, :]
        e[:, j, 1:] += w[:, j, None] * e[:, j + 1, :-1]
    out = np.zeros((n_cells, k, top + 1))
    for j in range(k):
        for c in range(top + 1):
            lo, hi = max(0, 1 - c), top - c
            den = e[:, j, lo : hi + 1].sum(axis=1)
            num = w[:, j] * e[:, j + 1, max(lo - 1, 0) : hi].sum(axis=1) if hi >= 1 else 0.0
            out[:, j, c] = num / den if np.all(den > 0) else 0.0
    return np.clip(out, 0.0, 1.0)


def _solve_intercept(weights: np.ndarray, offsets: np.ndarray, target: float) -> float:
    """Intercept b with sum(w * expit(b + offset)) / sum(w) == target."""
    w = weights / weights.sum()

    def gap(b):
        return float(np.sum(w * expit(b + offsets))) - target

    return float(brentq(gap, -30, 30, xtol=1e-13))


def _effect_offsets(effects: dict[str, float]) -> np.ndarray:
    """Linear predictor over the cell grid (nps, female, under_30, post_custody, ogrs_high)."""
    nps = np.arange(2).reshape(2, 1, 1, 1, 1)
    under30 = np.arange(2).reshape(1, 1, 2, 1, 1)
    ogrs = np.arange(2).reshape(1, 1, 1, 1, 2)
    x = {"nps": nps, "ogrs_high": ogrs, "age_30_plus": 1 - under30}
    off = np.zeros((2, 2, 2, 2, 2))
    for var, beta in effects.items():
        off = off + beta * x[var]
    return off


@functools.lru_cache(maxsize=1)
def calibration() -> Calibration:
    """Solve the model's free parameters so expected marginal rates equal the targets."""
    g0 = _solve_ogrs_g0()
    cells = _cell_probs(g0)
    subsets = _subsets()
    theta, probs = _solve_priorities(cells, subsets)
    # inclusion P(f is a priority | priority cell): (16, k) -> broadcast on the cell grid
    incl = (probs @ subsets).reshape(2, 2, 2, 2, len(AREAS))
    prov_axis = (2, 1, 1, 1, 1)
    p_involved = {
        party.party: np.array([party.involved[p] for p in PROVIDERS]).reshape(prov_axis)
        for party in PARTIES
    }

    intercepts: dict[tuple[str, str], float] = {}
    for j, f in enumerate(AREAS):
        base = cells * incl[None, ..., j]
        for m in MEASURES:
            party = _party_of(m)
            if party is not None:
                w = base * p_involved[party.party] * party.for_area[f.key]
            else:
                w = base
            effects = PLANTED_EFFECTS.get((f.key, m.key), {})
            intercepts[(f.key, m.key)] = _solve_intercept(
                w.ravel(), _effect_offsets(effects).ravel(), FIGURE_RATES[(f.key, m.key)]
            )

    weights = np.array([w for _, _, w, _ in INSPECTIONS], dtype=float)
    weights /= weights.sum()
    rel = np.array([r for *_, r in INSPECTIONS])
    k = (P_BAME / (1 - P_ETHNICITY_MISSING)) / float(weights @ rel)
    bame = tuple(float(x) for x in k * rel)
    if max(bame) >= 1:  # pragma: no cover - guards edits to the constants
        raise RuntimeError("BAME shares exceed 1")
    return Calibration(
        g0,
        bame,
        dict(zip([f.key for f in AREAS], theta.tolist())),
        subsets,
        probs,
        intercepts,
        cells,
        _priority_conditional(theta, _priority_design()),
    )


# --------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------

_ID_PREFIX_RE = re.compile(r"^[A-Z][A-Z0-9]{1,7}$")


def _check_args(n_cases: int, seed: int, id_prefix: str) -> None:
    if isinstance(n_cases, bool) or not isinstance(n_cases, (int, np.integer)):
        raise BadRequest(f"the number of cases must be a whole number, got {n_cases!r}")
    if n_cases < 1 or n_cases > MAX_CASES:
        raise BadRequest(
            f"the number of cases must be between 1 and {MAX_CASES:,}, got {n_cases:,}"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise BadRequest(f"the seed must be a whole number 0 or more, got {seed!r}")
    if not _ID_PREFIX_RE.match(id_prefix):
        raise BadRequest(
            f"the case id prefix must be 2-8 capital letters or digits starting "
            f"with a letter (e.g. SYN), got {id_prefix!r}"
        )


def _round_half_up(x: float) -> int:
    """round(x) with halves rounded up (2.5 -> 3); the tiny epsilon absorbs float error
    in products such as 0.55 * 30."""
    return int(math.floor(x + 0.5 + 1e-9))


def _apportion(total: int, weights) -> np.ndarray:
    """Integer counts summing to `total`, proportional to `weights` (largest remainder;
    ties go to the earlier category)."""
    w = np.asarray(weights, dtype=float)
    quota = total * w / w.sum()
    base = np.floor(quota + 1e-9).astype(np.int64)
    extra = total - int(base.sum())
    if extra > 0:
        order = np.argsort(-(quota - base), kind="stable")
        base[order[:extra]] += 1
    return base


def _rate_rounds_to(k: int, n: int, rate: float) -> bool:
    """Does k of n show as the published whole-number percentage (strictly, so the result
    does not depend on how a tie at .5 is rounded)?"""
    return n > 0 and abs(100.0 * k / n - round(100 * rate)) < 0.5 - 1e-9


def _n_showing_rate(expected: float, rate: float, limit: int, reach: int = 2) -> int:
    """An applicable n near `expected` (nearest first, at most `reach` away, never more
    than `limit`) at which round(n * rate) yes answers show as the published whole
    percentage; round(expected) when there is none. Used for the contribution questions,
    whose n's the bulletin does not print but whose small n's (30-60) cannot show every
    percentage (e.g. no k of 41 rounds to 67%)."""
    base = _round_half_up(expected)
    for step in range(reach + 1):
        for cand in (base,) if step == 0 else (base - step, base + step):
            if 0 < cand <= limit and _rate_rounds_to(_round_half_up(cand * rate), cand, rate):
                return cand
    return min(base, limit)


def _hazard(p) -> np.ndarray:
    """The weight w = -log(1 - p) that makes exact-count selection reproduce p (see _select)."""
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore"):
        return -np.log1p(-p)


def _top_k(e: np.ndarray, w, k: int) -> np.ndarray:
    """Exactly k of these cases: the k smallest e_i / w_i (see `_select`)."""
    size = e.shape[0]
    chosen = np.zeros(size, dtype=bool)
    if np.ndim(w) == 0:  # one weight: a uniformly random subset
        score = e
        forced, possible = 0, size if float(w) > 0 else 0
    else:
        w = np.asarray(w, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(w > 0, e / w, np.inf)
        forced = int(np.count_nonzero(np.isinf(w)))
        possible = int(np.count_nonzero(w > 0))
    k = min(max(int(k), forced), possible)
    if k <= 0:
        return chosen
    if k >= size:
        chosen[:] = True
        return chosen
    kth = np.partition(score, k - 1)[k - 1]
    chosen = score < kth
    need = k - int(np.count_nonzero(chosen))
    chosen[np.flatnonzero(score == kth)[:need]] = True
    return chosen


def _select(e: np.ndarray, w, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Exactly k cases among `mask` (default all): the k smallest e_i / w_i.

    `e` is a full-length array of Exp(1) draws and `w` a weight per case (or one weight).
    Ranking by e_i / w_i is the Gumbel-top-k trick (the k largest of log w_i + Gumbel
    noise, i.e. weighted sampling without replacement proportional to w). With the
    weight w_i = -log(1 - p_i) (`_hazard`), case i is selected exactly when its "arrival
    time" e_i / w_i falls before a common threshold tau; P(e_i / w_i < 1) = p_i, so when k
    equals the model's expected count sum(p_i) (tau near 1) every case is selected with
    probability close to its own p_i, and two cases with the same p_i have the same chance
    (a variable that does not enter p_i has no effect). Independent Bernoulli draws are the
    same rule with tau fixed at 1 and a random count; here tau adapts so the count is k.
    (The odds p / (1 - p) as weights would not keep p_i: successive sampling by odds
    pushes high-p cases towards certainty, e.g. 0.904 vs 0.566 would come out 0.99 vs 0.51.)
    w = inf forces a case in, w = 0 keeps it out; k is clamped to what is possible.
    Ties (only among forced cases, e / inf = 0) go to the earlier row.
    """
    n = e.shape[0]
    out = np.zeros(n, dtype=bool)
    if mask is None:
        out[_top_k(e, w, k)] = True
        return out
    idx = np.flatnonzero(mask)
    if idx.size:
        out[idx[_top_k(e[idx], w if np.ndim(w) == 0 else np.asarray(w)[idx], k)]] = True
    return out


def _allocate(e: np.ndarray, cell: np.ndarray, p_cell: np.ndarray, k: int) -> np.ndarray:
    """Exactly k cases, split between cells in proportion to their expected counts
    (cell size x p, largest remainder, never more than a cell holds), then a uniformly
    random choice within each cell (the k_c smallest e's).

    Where the probability is one value per cell (a judgement's planted effects), this is
    `_select` with the random split between cells replaced by its expected value: the
    planted group rates (e.g. NPS 74% vs CRC 54%) come out as near the model's as whole
    counts allow, and within a cell every case has the same chance, so no other variable
    has an effect.
    """
    sizes = np.bincount(cell, minlength=p_cell.size)
    expected = sizes * p_cell
    alloc = _apportion(k, expected) if expected.sum() > 0 else np.zeros(p_cell.size, np.int64)
    alloc = np.minimum(alloc, sizes)
    short = k - int(alloc.sum())
    while short > 0:  # a cell was full: the rest go to the cells with most room, in turn
        room = sizes - alloc
        if not room.any():
            break
        give = int(np.argmax(room))
        alloc[give] += 1
        short -= 1
    chosen = np.zeros(e.shape[0], dtype=bool)
    for c in np.flatnonzero(alloc):
        members = np.flatnonzero(cell == c)
        chosen[members[_top_k(e[members], 1.0, int(alloc[c]))]] = True
    return chosen


def _deal(
    rng: np.random.Generator, counts: np.ndarray, n: int, mask: np.ndarray | None = None
) -> np.ndarray:
    """Category index for the cases in `mask`: exactly counts[j] get j, in random order.
    -1 outside mask."""
    out = np.full(n, -1, dtype=np.int64)
    idx = np.arange(n) if mask is None else np.flatnonzero(mask)
    out[idx] = np.repeat(np.arange(len(counts)), counts)[rng.permutation(idx.size)]
    return out


def _lowest(v: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(flag of the k smallest v among mask, a cut point between the k-th and (k+1)-th)."""
    n = v.shape[0]
    idx = np.arange(n) if mask is None else np.flatnonzero(mask)
    sub = v[idx]
    flag = np.zeros(n, dtype=bool)
    if k <= 0:
        return flag, float(sub.min()) - 1.0
    if k >= sub.size:
        flag[idx] = True
        return flag, float(sub.max()) + 1.0
    part = np.partition(sub, [k - 1, k])
    lo, hi = float(part[k - 1]), float(part[k])
    chosen = sub < hi  # continuous draws: no ties in practice
    if np.count_nonzero(chosen) != k:  # pragma: no cover - ties among continuous draws
        chosen = np.zeros(sub.size, dtype=bool)
        chosen[np.argsort(sub, kind="stable")[:k]] = True
    flag[idx[chosen]] = True
    return flag, 0.5 * (lo + hi)


@dataclass(frozen=True)
class _Draws:
    """The one random stream of a generation run; `expo()` is a full-length Exp(1) draw."""

    rng: np.random.Generator
    n: int

    def expo(self) -> np.ndarray:
        return self.rng.standard_exponential(self.n)


@dataclass(frozen=True)
class _Attributes:
    """Case attributes as arrays in generation order (one entry per case)."""

    insp: np.ndarray  # index into INSPECTIONS
    nps: np.ndarray
    female: np.ndarray
    post: np.ndarray
    under30: np.ndarray
    age: np.ndarray
    age_missing: np.ndarray  # age not recorded (under30 still holds the drawn group)
    ogrs_missing: np.ndarray
    ogrs_high: np.ndarray
    ogrs_score: np.ndarray
    rosh: np.ndarray  # index into the rosh levels
    mappa: np.ndarray
    eth_missing: np.ndarray
    ethnicity: np.ndarray  # index into the ethnicity levels

    def effect_variables(self) -> dict[str, np.ndarray]:
        """The planted-effect variables (EFFECT_VARIABLES) per case."""
        return {"nps": self.nps, "ogrs_high": self.ogrs_high, "age_30_plus": ~self.under30}


@dataclass(frozen=True)
class _Involvement:
    """Who was involved in each case: which Tables 1-2 questions apply."""

    involved: dict[str, np.ndarray]  # party key -> the party delivered interventions
    applies: dict[str, np.ndarray]  # question column -> the question applies
    codes: dict[str, np.ndarray]  # Tables 1-2 breakdown levels per case (_table_codes)


def generate(n_cases: int, seed: int, *, id_prefix: str = DEFAULT_ID_PREFIX) -> pl.DataFrame:
    """`n_cases` synthetic cases in exactly `FW.stored_schema()` (no derived columns).

    Every margin the model fixes is hit exactly, to the nearest whole count: CRC, female,
    post-custody, high/very high RoSH and MAPPA counts are round(n * bulletin share);
    each priority's count is round(n * prevalence); the involvement (applicable n's of
    Tables 1-2) is exact by provider; each judgement has round(n_applicable * rate) yes
    answers. *Which* cases get an attribute or a yes is drawn with weights from the model
    (`_select`), so the planted effects and dependence structure remain and nothing else
    has an effect. Rows are ordered by inspection date, and case ids ("SYN-000001", ...)
    follow that order. Judgements are True/False where applicable, null where not. The
    same (n_cases, seed, id_prefix) always gives the same frame.

    The stages below draw from one stream in a fixed order (attributes, priorities,
    involvement, judgements, notes), so their order is part of the output's definition.
    """
    _check_args(n_cases, seed, id_prefix)
    cal = calibration()
    draws = _Draws(np.random.default_rng(int(seed)), int(n_cases))
    attrs = _draw_attributes(draws, cal)
    priorities = _draw_priorities(draws, cal, attrs)
    inv = _draw_involvement(draws, attrs)
    values, applies = _draw_judgements(draws, cal, attrs, priorities, inv)
    has_note = _select(draws.expo(), 1.0, _round_half_up(draws.n * NOTE_RATE))
    return _assemble(attrs, values, applies, has_note, id_prefix)


# --- stage 1: case attributes ---------------------------------------------------------


def _by_provider(nps: np.ndarray, table: dict[str, float]) -> np.ndarray:
    """Per case, the provider's entry of `table`."""
    return np.where(nps, table["NPS"], table["CRC"])


def _draw_attributes(draws: _Draws, cal: Calibration) -> _Attributes:
    """Inspection, provider, gender, supervision, age, OGRS, RoSH, MAPPA, ethnicity."""
    n, r = draws.n, _round_half_up
    insp_w = np.array([w for _, _, w, _ in INSPECTIONS], dtype=float)
    insp = _deal(draws.rng, _apportion(n, insp_w), n)
    nps = ~_select(draws.expo(), 1.0, r(n * P_CRC))

    female = _select(draws.expo(), _hazard(_by_provider(nps, P_FEMALE_BY)), r(n * P_FEMALE))
    post = _select(draws.expo(), _hazard(_by_provider(nps, P_POST_BY)), r(n * P_POST_CUSTODY))
    under30, z_age, age = _draw_age(draws)
    # ages not recorded: among the 30+ cases, so the under-30 count stays exact
    age_missing = _select(draws.expo(), 1.0, r(n * P_AGE_MISSING), ~under30)
    ogrs_missing, ogrs_high, ogrs_score = _draw_ogrs(draws, cal, z_age, female, nps)
    rosh, mappa = _draw_rosh_mappa(draws, nps)
    eth_missing, ethnicity = _draw_ethnicity(draws, cal, insp)
    return _Attributes(
        insp=insp,
        nps=nps,
        female=female,
        post=post,
        under30=under30,
        age=age,
        age_missing=age_missing,
        ogrs_missing=ogrs_missing,
        ogrs_high=ogrs_high,
        ogrs_score=ogrs_score,
        rosh=rosh,
        mappa=mappa,
        eth_missing=eth_missing,
        ethnicity=ethnicity,
    )


def _draw_age(draws: _Draws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(under 30, standardised log age, age): exactly round(0.4 n) under 30 (the lowest
    z's; z shifted so the continuous ages agree with that split)."""
    z_age = draws.rng.standard_normal(draws.n)
    under30, cut = _lowest(z_age, _round_half_up(draws.n * P_UNDER_30))
    z_age = z_age + (_AGE_CUT_Z - cut)
    age = np.clip(AGE_MIN + np.floor(np.exp(AGE_MU + AGE_SIGMA * z_age)), AGE_MIN, AGE_MAX)
    age = np.where(under30, np.minimum(age, 29), np.maximum(age, 30)).astype(np.int16)
    return under30, z_age, age


def _draw_ogrs(
    draws: _Draws, cal: Calibration, z_age: np.ndarray, female: np.ndarray, nps: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(missing, high/very high, score): exactly round(0.03 n) missing; of the recorded,
    exactly round(0.28 n_recorded) high/very high (the highest latent scores; latent
    shifted to agree)."""
    n = draws.n
    ogrs_missing = _select(draws.expo(), 1.0, _round_half_up(n * P_OGRS_MISSING))
    ogrs_latent = (
        cal.ogrs_g0
        + OGRS_AGE * z_age
        + OGRS_FEMALE * female
        + OGRS_NPS * nps
        + OGRS_NOISE * draws.rng.standard_normal(n)
    )
    n_recorded = n - int(ogrs_missing.sum())
    ogrs_high, cut = _lowest(-ogrs_latent, _round_half_up(n_recorded * P_OGRS_HIGH), ~ogrs_missing)
    ogrs_latent = ogrs_latent + (_OGRS_HIGH_CUT + cut)
    ogrs_score = np.clip(np.floor(100 * expit(ogrs_latent)), 0, 99)
    high_score = ogrs_score >= 75
    ogrs_score = np.where(
        ogrs_high | (ogrs_missing & high_score),
        np.maximum(ogrs_score, 75),
        np.minimum(ogrs_score, 74),
    ).astype(np.int16)
    return ogrs_missing, ogrs_high, ogrs_score


def _draw_rosh_mappa(draws: _Draws, nps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(RoSH level index, MAPPA): exactly round(n * 177/1066) high/very high; within those,
    very high, and within the rest, low vs medium, at the model's expected counts; MAPPA
    exactly round(n * 271/1066), weighted by provider and RoSH group."""
    n, r = draws.n, _round_half_up

    p_rosh = {prov: np.array(ROSH_PROBS[prov]) for prov in PROVIDERS}
    p_high = _by_provider(nps, {p: v[2] + v[3] for p, v in p_rosh.items()})
    rosh_high = _select(draws.expo(), _hazard(p_high), r(n * P_ROSH_HIGH))
    p_vh = _by_provider(nps, {p: v[3] / (v[2] + v[3]) for p, v in p_rosh.items()})
    very_high = _select(draws.expo(), _hazard(p_vh), r(p_vh[rosh_high].sum()), rosh_high)
    p_low = _by_provider(nps, {p: v[0] / (v[0] + v[1]) for p, v in p_rosh.items()})
    low = _select(draws.expo(), _hazard(p_low), r(p_low[~rosh_high].sum()), ~rosh_high)
    rosh = np.where(rosh_high, np.where(very_high, 3, 2), np.where(low, 0, 1))
    p_mappa = np.select(
        [~nps, nps & ~rosh_high, nps & rosh_high],
        [P_MAPPA_BY[("CRC", False)], P_MAPPA_BY[("NPS", False)], P_MAPPA_BY[("NPS", True)]],
    )
    mappa = _select(draws.expo(), _hazard(p_mappa), r(n * P_MAPPA))
    return rosh, mappa


def _draw_ethnicity(
    draws: _Draws, cal: Calibration, insp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(not recorded, level index): exactly round(0.02 n) not recorded, round(0.15 n) BAME
    (more in London), the BAME split by largest remainder."""
    n, r = draws.n, _round_half_up
    eth_missing = _select(draws.expo(), 1.0, r(n * P_ETHNICITY_MISSING))
    p_bame = np.array(cal.bame_by_inspection)[insp]
    is_bame = _select(draws.expo(), _hazard(p_bame), r(n * P_BAME), ~eth_missing)
    eth_levels = _COL["ethnicity"].levels
    bame_codes = np.array([eth_levels.index(c) for c in BAME_SPLIT])
    split = _deal(draws.rng, _apportion(int(is_bame.sum()), list(BAME_SPLIT.values())), n, is_bame)
    ethnicity = np.where(is_bame, bame_codes[np.maximum(split, 0)], eth_levels.index("white"))
    return eth_missing, ethnicity


# --- stage 2: priorities --------------------------------------------------------------


def _draw_priorities(draws: _Draws, cal: Calibration, attrs: _Attributes) -> np.ndarray:
    """(n, factors) priority flags, factor by factor, each exactly round(n * prevalence).

    P(factor j | x, number already chosen among factors 1..j-1) under the set model keeps
    1..5 priorities per case (forced in / kept out at the limits)."""
    n = draws.n
    pcell = (
        (attrs.female.astype(np.int64) << 3)
        | (attrs.under30.astype(np.int64) << 2)
        | (attrs.post.astype(np.int64) << 1)
        | attrs.ogrs_high.astype(np.int64)
    )
    priorities = np.zeros((n, len(AREAS)), dtype=bool)
    n_chosen = np.zeros(n, dtype=np.int64)
    for j, f in enumerate(AREAS):
        q = cal.priority_conditional[pcell, j, n_chosen]
        sel = _select(draws.expo(), _hazard(q), _round_half_up(n * PRIORITY_PREVALENCE[f.key]))
        priorities[:, j] = sel
        n_chosen += sel
    return priorities


# --- stage 3: who was involved (which contribution questions apply) --------------------


def _table_codes(attrs: _Attributes) -> dict[str, np.ndarray]:
    """Per Tables 1-2 breakdown, each case's level (index into TABLE_BREAKDOWNS[b]), or
    -1 where it is not recorded."""
    eth_levels = _COL["ethnicity"].levels
    bame = attrs.ethnicity != eth_levels.index("white")
    missing = np.int64(-1)
    return {
        "provider": attrs.nps.astype(np.int64),
        "gender": attrs.female.astype(np.int64),
        "age_group": np.where(attrs.age_missing, missing, (~attrs.under30).astype(np.int64)),
        "ethnic_group": np.where(attrs.eth_missing, missing, bame.astype(np.int64)),
        "supervision": attrs.post.astype(np.int64),
        "ogrs_group": np.where(attrs.ogrs_missing, missing, attrs.ogrs_high.astype(np.int64)),
    }


def _table_margins(
    codes: dict[str, np.ndarray], question: str, total: int, *, yes: bool, skip: str = ""
) -> list[synth_margins.Margin]:
    """The Tables 1-2 rows of `question` as margins for `total` cases: each printed row's n
    (or, with `yes`, its yes count) scaled from TABLE_CASES to `total` by largest
    remainder; levels without a row (not recorded, misprinted) pool in one rest group."""
    rows = TABLE_ROWS[question]
    ref_total = _table_reference_total(question, yes=yes)
    out = []
    for b, levels in TABLE_BREAKDOWNS.items():
        if b == skip or b not in rows:
            continue
        kept = [lv for lv in levels if lv in rows[b]]
        ref = [_table_count(question, b, lv, yes=yes) for lv in kept]
        # level index (-1 = not recorded) -> group; levels without a row -> the rest
        lookup = np.full(len(levels) + 1, len(kept), dtype=np.int64)
        for g, lv in enumerate(kept):
            lookup[levels.index(lv) + 1] = g
        group = lookup[codes[b] + 1]
        targets = (
            _apportion(total, [*ref, ref_total - sum(ref)])
            if total
            else np.zeros(len(kept) + 1, np.int64)
        )
        out.append(synth_margins.Margin(group, targets))
    return out


def _table_count(question: str, breakdown: str, level: str, *, yes: bool) -> int:
    """A printed row's n, or its yes count (the nearest whole number to n x %)."""
    n, pct = TABLE_ROWS[question][breakdown][level]
    if not yes:
        return n
    override = PROVIDER_YES.get(question, {}) if breakdown == "provider" else {}
    return override.get(level, _round_half_up(n * pct / 100))


def _table_reference_total(question: str, *, yes: bool) -> int:
    """The all-cases n (or yes count) of a question at TABLE_CASES cases."""
    n = sum(n for n, _ in TABLE_ROWS[question]["provider"].values())
    return _round_half_up(n * QUESTION_RATES[question]) if yes else n


def _provider_margin(
    nps: np.ndarray, pool: np.ndarray, share: dict[str, float]
) -> synth_margins.Margin:
    """Exactly round(n_provider * share[provider]) of the pool's cases in each provider."""
    counts = [_round_half_up((pool & m).sum() * share[p]) for p, m in (("CRC", ~nps), ("NPS", nps))]
    return synth_margins.Margin(nps.astype(np.int64), np.array(counts, dtype=np.int64))


def _involved(
    draws: _Draws,
    codes: dict[str, np.ndarray],
    pool: np.ndarray,
    first: synth_margins.Margin,
    question: str,
) -> np.ndarray:
    """The cases of `pool` a question applies to: the involvement margin `first` (counts
    by provider) and the question's Tables 1-2 rows for n."""
    total = int(first.targets.sum())
    margins = [first, *_table_margins(codes, question, total, yes=False, skip="provider")]
    e = draws.rng.standard_exponential(int(pool.sum()))
    return synth_margins.exact_subset(e, pool, margins, total)


def _draw_involvement(draws: _Draws, attrs: _Attributes) -> _Involvement:
    """Who was involved, party by party (in the calibration file's order): exact counts
    within each provider (the applicable n's of Tables 1-2), and every other printed row's
    n (gender, age group, ...)."""
    codes = _table_codes(attrs)
    everyone = np.ones(draws.n, dtype=bool)
    involved: dict[str, np.ndarray] = {}
    applies: dict[str, np.ndarray] = {}
    for party in PARTIES:
        deliv = _involved(
            draws,
            codes,
            everyone,
            _provider_margin(attrs.nps, everyone, party.involved),
            party.involved_question,
        )
        involved[party.party] = applies[party.involved_question] = deliv
        applies[party.info_question] = _info_used(draws, codes, attrs.nps, deliv, party)
    return _Involvement(involved, applies, codes)


def _info_used(
    draws: _Draws,
    codes: dict[str, np.ndarray],
    nps: np.ndarray,
    deliv: np.ndarray,
    party: PartyModel,
) -> np.ndarray:
    """The cases where the party's information was used in reviews: a share of the cases
    where it was involved, or (`info_total`) round(share x involved) where it was involved
    (a) and the rest of the provider's total where it was not (b)."""
    if party.info_total is None:
        margin = _provider_margin(nps, deliv, party.info_given_involved)
        return _involved(draws, codes, deliv, margin, party.info_question)
    r = _round_half_up
    split = np.zeros(4, dtype=np.int64)  # (CRC b, CRC a, NPS b, NPS a)
    for i, (prov, m) in enumerate(zip(PROVIDERS, (~nps, nps))):
        total = r(m.sum() * party.info_total[prov])
        k_a = min(r((m & deliv).sum() * party.info_given_involved[prov]), total)
        k_b = min(total - k_a, int((m & ~deliv).sum()))
        k_a = min(total - k_b, int((m & deliv).sum()))
        split[2 * i : 2 * i + 2] = (k_b, k_a)
    by = synth_margins.Margin(2 * nps.astype(np.int64) + deliv, split)
    return _involved(draws, codes, np.ones(draws.n, dtype=bool), by, party.info_question)


# --- stage 4: judgements ----------------------------------------------------------------


def _among(
    draws: _Draws,
    x: dict[str, np.ndarray],
    app: np.ndarray,
    k: int,
    intercept: float = 0.0,
    effects: dict[str, float] | None = None,
) -> np.ndarray:
    """Exactly k of the cases in `app`, weighted by the logistic model over the planted
    variables `x` (draws only as many exponentials as there are cases in `app`)."""
    idx = np.flatnonzero(app)
    e = draws.rng.standard_exponential(idx.size)
    out = np.zeros(draws.n, dtype=bool)
    if not effects:  # no effects: every applicable case has the same chance
        out[idx[_top_k(e, 1.0, k)]] = True
        return out
    # the planted variables split the cases into cells with one probability each
    cell = np.zeros(idx.size, dtype=np.int64)
    p_cell = np.zeros(2 ** len(effects))
    for bit, var in enumerate(effects):
        cell |= x[var][idx].astype(np.int64) << bit
    for c in range(p_cell.size):
        p_cell[c] = expit(
            intercept + sum(beta * ((c >> b) & 1) for b, beta in enumerate(effects.values()))
        )
    chosen = _allocate(e, cell, p_cell, k)
    out[idx[chosen]] = True
    return out


def _outcome(
    draws: _Draws,
    x: dict[str, np.ndarray],
    app: np.ndarray,
    intercept: float,
    effects: dict[str, float],
    rate: float,
) -> np.ndarray:
    """A judgement's yes flags: exactly round(n applicable * rate) of `app`."""
    return _among(draws, x, app, _round_half_up(app.sum() * rate), intercept, effects)


def _question_yes(
    draws: _Draws, codes: dict[str, np.ndarray], app: np.ndarray, question: str
) -> np.ndarray:
    """A Tables 1-2 question's yes answers: exactly round(n applicable * rate), with every
    printed row's yes count (scaled to the applicable n; planted provider effects are in
    the rows)."""
    k = _round_half_up(app.sum() * QUESTION_RATES[question])
    margins = _table_margins(codes, question, k, yes=True)
    e = draws.rng.standard_exponential(int(app.sum()))
    return synth_margins.exact_subset(e, app, margins, k)


def _contribution_asked(
    draws: _Draws, eligible: np.ndarray, share: float, key: tuple[str, str]
) -> np.ndarray:
    """Which eligible cases are asked a factor's contribution question: round(eligible *
    share), moved (`_n_showing_rate`) so the published whole percentage can show."""
    k = _round_half_up(eligible.sum() * share)
    if key not in FIGURE_RATES_NOT_PUBLISHED:
        k = _n_showing_rate(eligible.sum() * share, FIGURE_RATES[key], int(eligible.sum()))
    return _among(draws, {}, eligible, k)


def _draw_judgements(
    draws: _Draws,
    cal: Calibration,
    attrs: _Attributes,
    priorities: np.ndarray,
    inv: _Involvement,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(values, applies) by stored column: priorities and every judgement's yes flags, and
    where each judgement applies. Exactly round(n_applicable * rate) yes, weighted by the
    model."""
    x = attrs.effect_variables()
    values: dict[str, np.ndarray] = {}
    applies: dict[str, np.ndarray] = {}
    for j, f in enumerate(AREAS):
        pri = priorities[:, j]
        values[FW.gate_column(f)] = pri
        for meas in MEASURES:
            col = FW.judgement_column(f, meas)
            key = (f.key, meas.key)
            party = _party_of(meas)
            if party is not None:
                app = _contribution_asked(
                    draws, pri & inv.involved[party.party], party.for_area[f.key], key
                )
            else:
                app = pri
            values[col] = _outcome(
                draws, x, app, cal.intercepts[key], PLANTED_EFFECTS.get(key, {}), FIGURE_RATES[key]
            )
            applies[col] = app
    for q in FW.questions:
        app = inv.applies[q.column]
        values[q.column] = _question_yes(draws, inv.codes, app, q.column)
        applies[q.column] = app
    return values, applies


# --- stage 5: order by inspection and assemble the frame --------------------------------


def _level_series(order: np.ndarray, col: str, idx: np.ndarray) -> pl.Series:
    """Column `col` (a category) from level indices, in row order `order`."""
    levels = pl.Series(_COL[col].levels, dtype=_COL[col].dtype)
    return levels.gather(pl.Series(idx[order].astype(np.uint32))).alias(col)


def _assemble(
    attrs: _Attributes,
    values: dict[str, np.ndarray],
    applies: dict[str, np.ndarray],
    has_note: np.ndarray,
    id_prefix: str,
) -> pl.DataFrame:
    """The frame in the stored schema: rows ordered by inspection date (stable), case ids
    in that order, not-applicable judgements and missing attributes as null."""
    n = attrs.insp.shape[0]
    date_rank = np.argsort(np.array([d.toordinal() for _, d, _, _ in INSPECTIONS]), kind="stable")
    rank_of = np.empty_like(date_rank)
    rank_of[date_rank] = np.arange(len(date_rank))
    order = np.argsort(rank_of[attrs.insp], kind="stable")

    width = max(6, len(str(n)))
    names = pl.Series([nm for nm, *_ in INSPECTIONS], dtype=pl.String)
    dates = pl.Series([d for _, d, *_ in INSPECTIONS], dtype=pl.Date)

    score = attrs.ogrs_score
    ogrs_band_idx = np.select([score >= 90, score >= 75, score >= 50], [3, 2, 1], 0)
    o_note = has_note[order]
    raw = pl.DataFrame(
        {
            "case_no": pl.int_range(1, n + 1, eager=True),
            "inspection": names.gather(pl.Series(attrs.insp[order].astype(np.uint32))),
            "inspection_date": dates.gather(pl.Series(attrs.insp[order].astype(np.uint32))),
            "provider": _level_series(order, "provider", attrs.nps.astype(np.int64)),
            "gender": _level_series(order, "gender", attrs.female.astype(np.int64)),
            "age": pl.Series(attrs.age[order], dtype=pl.Int16),
            "__age_missing": attrs.age_missing[order],
            "ethnicity": _level_series(order, "ethnicity", attrs.ethnicity),
            "__eth_missing": attrs.eth_missing[order],
            "supervision": _level_series(order, "supervision", attrs.post.astype(np.int64)),
            "ogrs_score": pl.Series(score[order], dtype=pl.Int16),
            "ogrs_band": _level_series(order, "ogrs_band", ogrs_band_idx),
            "__ogrs_missing": attrs.ogrs_missing[order],
            "rosh": _level_series(order, "rosh", attrs.rosh),
            "mappa": attrs.mappa[order],
            "__note_no": np.cumsum(o_note),
            "__has_note": o_note,
            **{name: v[order] for name, v in values.items()},
            **{f"__app_{name}": a[order] for name, a in applies.items()},
        }
    )
    frame = raw.with_columns(
        case_id=pl.format(f"{id_prefix}-{{}}", pl.col("case_no").cast(pl.String).str.zfill(width)),
        age=pl.when(~pl.col("__age_missing")).then(pl.col("age")),
        ethnicity=pl.when(~pl.col("__eth_missing")).then(pl.col("ethnicity")),
        ogrs_score=pl.when(~pl.col("__ogrs_missing")).then(pl.col("ogrs_score")),
        ogrs_band=pl.when(~pl.col("__ogrs_missing")).then(pl.col("ogrs_band")),
        notes=pl.when(pl.col("__has_note")).then(
            pl.format(
                f"{NOTE_MARKER} {{}}: invented text for testing, not about any real person.",
                pl.col("__note_no"),
            )
        ),
        **{name: pl.when(pl.col(f"__app_{name}")).then(pl.col(name)) for name in applies},
    )
    return frame.select([pl.col(c).cast(t) for c, t in FW.stored_schema().items()])


# --------------------------------------------------------------------------------------
# Writing: the clean CSV, and a "messy export" in the forms real exports take
# --------------------------------------------------------------------------------------

YES_TEXT, NO_TEXT = YES_NO


def _as_text(cases: pl.DataFrame) -> pl.DataFrame:
    """Booleans as yes/no (blank = not applicable); everything else as Polars writes it."""
    # An Enum result fills integer codes, not millions of strings: ~20x faster than replace.
    yes_no = pl.Enum([YES_TEXT, NO_TEXT])
    b = pl.col(pl.Boolean)
    return cases.with_columns(
        pl.when(b)
        .then(pl.lit(YES_TEXT, yes_no))
        .when(b.not_())
        .then(pl.lit(NO_TEXT, yes_no))
        .name.keep()
    )


def to_csv_text(cases: pl.DataFrame) -> str:
    """The cases as CSV text in the stored schema's columns: yes/no, blank = not applicable,
    categorical codes, dates YYYY-MM-DD. `hmip ingest` reads it back without a mapping."""
    buf = io.BytesIO()
    _as_text(cases).write_csv(buf, line_terminator="\n")
    return buf.getvalue().decode("utf-8")


def write_csv(cases: pl.DataFrame, path) -> None:
    """Write `to_csv_text(cases)` to `path` atomically."""
    from hmip_cli.fileio import atomic_write_bytes

    atomic_write_bytes(path, to_csv_text(cases).encode("utf-8"))


# How a typical case-assessment spreadsheet export spells things: the headers from the
# framework file (export_header, export_short, the gate's and measures' export_phrase),
# the answers and recodes from the calibration file's [messy].
_MESSY = _CAL["messy"]
MESSY_YES, MESSY_NO = str(_MESSY["yes"]), str(_MESSY["no"])
MESSY_NOT_APPLICABLE = str(_MESSY["not_applicable"])
MESSY_BLANK_SHARE = float(_MESSY["blank_share"])  # of not-applicable cells left blank
_MESSY_GENDER: dict[str, str] = {str(k): str(v) for k, v in _MESSY["gender"].items()}
_MESSY_ETHNICITY_MISSING = str(_MESSY["ethnicity_missing"])
# Sentence types in their words: (text, our code, share within that code)
_MESSY_SUPERVISION: tuple[tuple[str, str, float], ...] = tuple(
    (str(t), str(c), float(sh)) for t, c, sh in _MESSY["supervision"]
)


def messy_headers() -> dict[str, str]:
    """Our column -> their header, for every stored column (in the stored order)."""
    out = {c.name: c.export_header for c in FW.columns if c.export_header}
    out.update({q.column: q.export_header for q in FW.questions if q.export_header})
    gate_phrase = FW.gate.export_phrase if FW.gate else ""
    for f in AREAS:
        short = f.export_short or f.label
        if FW.gate is not None:
            out[FW.gate_column(f)] = f"{short} - {gate_phrase}"
        for m in MEASURES:
            out[FW.judgement_column(f, m)] = f"{short} - {m.wording.export_phrase}"
    return {c.name: out[c.name] for c in _COLUMNS}


def messy_export(cases: pl.DataFrame, seed: int) -> pl.DataFrame:
    """`cases` (stored schema) as an all-text (String) frame the way real exports look.

    Their headers (`messy_headers()`), their yes/no answers ([messy] in the calibration
    file), their not-applicable mark or a blank, labels instead of codes, their gender
    codes and sentence types, their word for an unrecorded ethnicity, DD/MM/YYYY dates.
    `messy_mapping_toml()` maps it back; ingesting it with that mapping gives `cases` again.
    """
    return _messy_frame(cases, seed).with_columns(pl.col(pl.Enum).cast(pl.String))


def _messy_frame(cases: pl.DataFrame, seed: int) -> pl.DataFrame:
    """messy_export() with the answers as an Enum (fast to write as CSV)."""
    n = cases.height
    rng = np.random.default_rng([int(seed), 20190122])
    exprs: list[pl.Expr] = []
    blank = pl.Series(rng.random(n) < MESSY_BLANK_SHARE)  # one draw per row, shared by columns
    sup_u = pl.Series(rng.random(n))
    headers = messy_headers()
    answers = pl.Enum([MESSY_YES, MESSY_NO, MESSY_NOT_APPLICABLE, ""])
    for col in _COLUMNS:
        c = pl.col(col.name)
        if col.dtype == pl.Boolean:
            e = (
                pl.when(c)
                .then(pl.lit(MESSY_YES, answers))
                .when(c.not_())
                .then(pl.lit(MESSY_NO, answers))
                .when(pl.lit(blank))
                .then(pl.lit("", answers))
                .otherwise(pl.lit(MESSY_NOT_APPLICABLE, answers))
            )
            exprs.append(e.alias(headers[col.name]))
            continue
        elif col.name == "gender":
            e = c.cast(pl.String).replace_strict(_MESSY_GENDER, default=None)
        elif col.name == "ethnicity":
            e = (
                c.cast(pl.String)
                .replace_strict(dict(zip(col.levels, col.labels)), default=None)
                .fill_null(_MESSY_ETHNICITY_MISSING)
            )
        elif col.name == "supervision":
            e = _messy_supervision(c, col.levels, sup_u)
        elif isinstance(col.dtype, pl.Enum):
            e = c.cast(pl.String).replace_strict(dict(zip(col.levels, col.labels)), default=None)
        elif col.dtype == pl.Date:
            e = c.dt.strftime("%d/%m/%Y")
        else:
            e = c.cast(pl.String)
        exprs.append(e.fill_null("").alias(headers[col.name]))
    return cases.select(exprs)


def _messy_supervision(c: pl.Expr, levels: tuple[str, ...], u: pl.Series) -> pl.Expr:
    """Each supervision code as one of its sentence types in their words, chosen by the
    uniform draw `u` with the shares of _MESSY_SUPERVISION."""
    e = pl.lit(None, pl.String)
    for code in levels:
        choices = [(t, s) for t, cd, s in _MESSY_SUPERVISION if cd == code]
        cum = 0.0
        for i, (text, share) in enumerate(choices):
            cum += share
            last = i == len(choices) - 1
            e = (
                pl.when((c == code) & (pl.lit(u) < cum if not last else pl.lit(True)) & e.is_null())
                .then(pl.lit(text))
                .otherwise(e)
            )
    return e


def messy_csv_text(cases: pl.DataFrame, seed: int) -> str:
    buf = io.BytesIO()
    _messy_frame(cases, seed).write_csv(buf, line_terminator="\n")
    return buf.getvalue().decode("utf-8")


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def messy_mapping_toml() -> str:
    """The mapping (TOML) that reads `messy_export()` back into the stored schema."""
    lines = [
        "# Mapping for a synthetic case-assessment export (made by `hmip synth --messy`).",
        "# Use: hmip ingest FILE --mapping THIS_FILE",
        "#",
        "# [file] would set values for the whole file, e.g. for a one-inspection export",
        "# without an Area column:",
        "#   [file]",
        '#   inspection = "Durham"',
        "",
        "[columns]  # their header = our column (see `hmip schema`)",
    ]
    for ours, theirs in messy_headers().items():
        lines.append(f"{_toml_str(theirs)} = {_toml_str(ours)}")
    sup = ", ".join(
        f"{_toml_str(t)} = {_toml_str(c)}"
        for t, c, _ in _MESSY_SUPERVISION
        if t.lower() not in {lab.lower() for lab in _COL["supervision"].labels}
    )
    gender = ", ".join(f"{_toml_str(v)} = {_toml_str(k)}" for k, v in _MESSY_GENDER.items())
    lines += [
        "",
        '[values]  # recodes: their value = our value ("" = blank, i.e. not applicable)',
        f'"*" = {{ {_toml_str(MESSY_YES)} = {_toml_str(YES_TEXT)}, '
        f"{_toml_str(MESSY_NO)} = {_toml_str(NO_TEXT)}, "
        f'{_toml_str(MESSY_NOT_APPLICABLE)} = "" }}',
        f"gender = {{ {gender} }}",
        f"supervision = {{ {sup} }}",
        f'ethnicity = {{ {_toml_str(_MESSY_ETHNICITY_MISSING)} = "" }}',
        "",
    ]
    return "\n".join(lines)
