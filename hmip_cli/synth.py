"""Calibrated synthetic case data: `generate(n_cases, seed)` and a "messy export" form.

The generating model is documented in `docs/synth_model.md`. In short:

* case attributes follow the bulletin's sample profile (63% CRC, 15% female, 47%
  post-custody, 17% high/very high RoSH, 26% MAPPA), with NPS holding the high-RoSH and
  MAPPA cases; ages, OGRS3 scores, ethnicity and 14 inspections as in Annex A;
* priorities follow a set model (correlated factors, 1-5 priorities per case) calibrated
  so the prevalence matches the bulletin (76% thinking and behaviour, 42% relationships,
  38% emotional wellbeing, plausible values for the rest);
* whether contracted providers / partners were involved (hence which contribution
  questions apply) depends on the provider, reproducing the bulletin's applicable n's;
* every judgement follows logistic(intercept + planted effects). Planted effects are
  exactly the significant differences the bulletin reports; every other subgroup
  variable has no effect.

Margins are exact, not just expected: every count the model fixes (CRC, female, ...,
each priority, each applicable n, each judgement's yes count) is the nearest whole
number to n times its rate, for any n. Which cases get an attribute or a "yes" is drawn
without replacement with weights from the model (`_select`: Gumbel-top-k with weights
-log(1 - p_i)), so the dependence structure and planted effects stay and nothing else
has an effect. Calibration is exact (closed forms plus 1-D quadrature, no Monte Carlo),
so the model is a fixed function of the constants below; `calibration()` returns it. A
fixed seed gives the same frame on every run: draws happen in a fixed order with
full-length arrays from `numpy.random.default_rng(seed)` (PCG64, platform-independent).
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from scipy.optimize import brentq
from scipy.special import expit, logit, ndtr, ndtri

from hmip_cli import schema, synth_margins
from hmip_cli.errors import BadRequest
from hmip_cli.report.provenance import NOTE_MARKER

MAX_CASES = 10_000_000
DEFAULT_ID_PREFIX = "SYN"
EXPORT_ID_PREFIX = "SYX"  # the messy example export: never collides with SYN- ids
NOTE_RATE = 0.03

_F = schema.get_factor
_M = schema.get_measure
_COL = schema.COLUMN_BY_NAME


def _fk(name: str) -> str:
    """Factor key from the bulletin's spelling (as in figures.csv), via schema aliases."""
    return _F(name).key


def _mk(name: str) -> str:
    return _M(name).key


# --------------------------------------------------------------------------------------
# Targets from the bulletin (sample.csv, priority_prevalence.csv, figures.csv, tables.csv)
# --------------------------------------------------------------------------------------

P_CRC = 672 / 1066  # 63%
P_FEMALE = 156 / 1066  # 15%
P_POST_CUSTODY = 500 / 1066  # 47%
P_ROSH_HIGH = 177 / 1066  # 17% high or very high
P_MAPPA = 271 / 1066  # 26%
P_UNDER_30 = 0.40  # Tables 1-2: 104/248 and 166/406 under 30
P_AGE_MISSING = 0.001  # Table 1: 248 of 249 have an age group (1 case in 1,066)
P_OGRS_HIGH = 0.28  # share of recorded OGRS scores that are 75+ (high / very high)
P_OGRS_MISSING = 0.03  # Table 1: 241 of 249 have an OGRS band
P_ETHNICITY_MISSING = 0.02  # Tables 1-2: 246 of 249, 376 of 406 recorded
P_BAME = 0.15  # of all cases

# Priority prevalence: thinking, relationships, emotional from the bulletin's text; the
# other seven are not legible in the text of Figure 1, so plausible values below 38%
# (relationships and emotional wellbeing were "the next two most frequent").
PRIORITY_PREVALENCE: dict[str, float] = {
    _fk("accommodation"): 0.30,
    _fk("education_training_employment"): 0.33,
    _fk("financial_management"): 0.14,
    _fk("relationships"): 0.42,
    _fk("lifestyle_associates"): 0.34,
    _fk("drug_misuse"): 0.27,
    _fk("alcohol_misuse"): 0.25,
    _fk("emotional_wellbeing"): 0.38,
    _fk("thinking_behaviour"): 0.76,
    _fk("attitudes_to_offending"): 0.30,
}

# Figures 1-4 (figures.csv), % yes among applicable cases. Financial management is not
# printed in Figures 3-4 (small numbers): plausible values are used.
_FIGURES: dict[str, tuple[float, ...]] = {
    # order: accommodation, ETE, finance, relationships, lifestyle, drugs, alcohol,
    # emotional, thinking, attitudes (the bulletin's order = schema.FACTORS order)
    "availability": (74, 83, 79, 84, 87, 86, 90, 82, 87, 86),
    "delivery": (62, 59, 51, 47, 47, 47, 47, 49, 52, 47),
    "contracted_provider_contribution": (67, 70, 55, 57, 50, 59, 61, 52, 59, 55),
    "partner_contribution": (73, 67, 60, 65, 60, 61, 62, 69, 65, 52),
}
FIGURE_RATES: dict[tuple[str, str], float] = {
    (f.key, _mk(m)): rates[i] / 100
    for m, rates in _FIGURES.items()
    for i, f in enumerate(schema.FACTORS)
}
FIGURE_RATES_NOT_PUBLISHED = {
    (_fk("financial_management"), _mk("contracted")),
    (_fk("financial_management"), _mk("partner")),
}

# Tables 1-2, all cases.
QUESTION_RATES: dict[str, float] = {
    "contracted_harm_focus": 0.610,
    "contracted_info_review": 0.661,
    "partner_harm_focus": 0.707,
    "partner_info_review": 0.724,
}

# Tables 1-2, the breakdown rows: question -> breakdown -> level -> (printed n, printed % yes).
# Each row's n and yes count (the nearest whole number to n x %) are reproduced exactly at
# 1,066 cases (scaled for other n). Rows the bulletin misprints (tables.csv `note`) are
# left out: the OGRS rows of three questions sum to more than the all-cases n, and the two
# BAME rows of Table 2 cannot be reached with their printed n; their cases pool with the
# unrecorded ones (a rest group). Partner info review's provider rows take their yes
# counts from PROVIDER_YES below. Level codes as in schema (derived breakdown columns).
TABLE_BREAKDOWNS: dict[str, tuple[str, ...]] = {
    column: schema.FRAMEWORK.levels_of(column)[0]
    for column in ("provider", "gender", "age_group", "ethnic_group", "supervision", "ogrs_group")
}
TABLE_ROWS: dict[str, dict[str, dict[str, tuple[int, float]]]] = {
    "contracted_harm_focus": {
        "provider": {"CRC": (150, 61.3), "NPS": (99, 60.6)},
        "gender": {"male": (203, 61.1), "female": (46, 60.9)},
        # 104 + 144 = 248 of 249: one case without a recorded age (P_AGE_MISSING)
        "age_group": {"under_30": (104, 50.0), "30_plus": (144, 68.7)},
        "ethnic_group": {"white": (202, 61.9), "bame": (44, 56.8)},
        "supervision": {"community": (131, 58.8), "post_custody": (118, 63.6)},
        "ogrs_group": {"low_medium": (190, 61.6), "high_very_high": (51, 58.8)},
    },
    "contracted_info_review": {
        "provider": {"CRC": (127, 62.2), "NPS": (53, 75.5)},
        "gender": {"male": (144, 66.0), "female": (36, 66.7)},
        "age_group": {"under_30": (67, 67.2), "30_plus": (113, 65.5)},
        "ethnic_group": {"white": (145, 64.1), "bame": (33, 72.7)},
        "supervision": {"community": (92, 65.2), "post_custody": (88, 67.0)},
    },
    "partner_harm_focus": {
        "provider": {"CRC": (183, 65.6), "NPS": (223, 74.9)},
        "gender": {"male": (349, 70.5), "female": (57, 71.9)},
        "age_group": {"under_30": (166, 60.8), "30_plus": (240, 77.5)},
        # BAME (printed n 52 at 69.3%: 52 is rather its yes count, 52/75 = 69.3%) is left out
        "ethnic_group": {"white": (324, 71.0)},
        "supervision": {"community": (187, 72.7), "post_custody": (219, 68.9)},
    },
    "partner_info_review": {
        "provider": {"CRC": (215, 63.6), "NPS": (176, 82.3)},
        "gender": {"male": (325, 71.4), "female": (66, 77.3)},
        "age_group": {"under_30": (147, 75.5), "30_plus": (244, 70.5)},
        "ethnic_group": {"white": (301, 70.8)},
        "supervision": {"community": (189, 70.9), "post_custody": (202, 73.8)},
    },
}
# Partner info review by provider: printed 63.6% of 215 and 82.3% of 176 cannot both hold
# with the all-cases 72.4% of 391 (283 yes); 138 + 145 = 283 keep the significant
# difference as the bulletin states it (CRC 64% vs NPS 82%).
PROVIDER_YES = {"partner_info_review": {"CRC": 138, "NPS": 145}}
TABLE_CASES = 1066  # the sample the rows describe

# Who was involved, by provider (Tables 1-2 n's: CRC / NPS).
#   contracted harm focus 150/99, contracted info review 127/53,
#   partner harm focus 183/223, partner info review 215/176.
P_CONTRACTED_DELIVERED = {"CRC": 150 / 672, "NPS": 99 / 394}
P_CONTRACTED_INFO_GIVEN_DELIVERED = {"CRC": 127 / 150, "NPS": 53 / 99}
P_PARTNER_DELIVERED = {"CRC": 183 / 672, "NPS": 223 / 394}
# Information from partners is used in reviews where they delivered interventions (a)
# and sometimes where they did not (b): the CRC n for info review (215) exceeds its n for
# harm focus (183), so info review cannot be a subset of harm focus.
P_PARTNER_INFO_GIVEN_DELIVERED = {"CRC": 0.75, "NPS": 0.70}
P_PARTNER_INFO_TOTAL = {"CRC": 215 / 672, "NPS": 176 / 394}

# Given the factor is a priority and the organisation type delivered interventions in the
# case, the chance they were involved for this factor (sets Figures 3-4 n's; finance kept
# small: expected n about 14 and 17 in 1,066 cases).
P_CONTRACTED_FOR_FACTOR: dict[str, float] = {
    _fk("accommodation"): 0.60,
    _fk("education_training_employment"): 0.65,
    _fk("financial_management"): 0.40,
    _fk("relationships"): 0.50,
    _fk("lifestyle_associates"): 0.45,
    _fk("drug_misuse"): 0.60,
    _fk("alcohol_misuse"): 0.60,
    _fk("emotional_wellbeing"): 0.50,
    _fk("thinking_behaviour"): 0.60,
    _fk("attitudes_to_offending"): 0.45,
}
P_PARTNER_FOR_FACTOR: dict[str, float] = {
    _fk("accommodation"): 0.70,
    _fk("education_training_employment"): 0.60,
    _fk("financial_management"): 0.30,
    _fk("relationships"): 0.55,
    _fk("lifestyle_associates"): 0.50,
    _fk("drug_misuse"): 0.70,
    _fk("alcohol_misuse"): 0.70,
    _fk("emotional_wellbeing"): 0.60,
    _fk("thinking_behaviour"): 0.50,
    _fk("attitudes_to_offending"): 0.45,
}

# --------------------------------------------------------------------------------------
# Planted effects (significant_differences.csv), on the log-odds scale
# --------------------------------------------------------------------------------------
# Variables: "nps" (provider NPS vs CRC), "ogrs_high" (OGRS high/very high vs low/medium;
# a missing score counts as low/medium), "age_30_plus" (30+ vs under 30). Provider effects
# are the log odds ratio of the two percentages the bulletin prints; the OGRS and age
# effects ("more likely for low likelihood of reoffending", "more likely for older
# service users") have no printed sizes: an odds ratio of 2 (log 0.7), a typical size for
# a difference that reaches p < .05 in a few hundred cases.


def _lor(p_nps: float, p_crc: float) -> float:
    return float(logit(p_nps) - logit(p_crc))


OGRS_EFFECT = -0.7
AGE_EFFECT = 0.7

PLANTED_EFFECTS: dict[tuple[str, str], dict[str, float]] = {
    (_fk("relationships"), _mk("availability")): {"nps": _lor(0.89, 0.81)},
    (_fk("accommodation"), _mk("delivery")): {"nps": _lor(0.74, 0.54)},
    (_fk("emotional_wellbeing"), _mk("delivery")): {"nps": _lor(0.56, 0.44)},
    (_fk("education_training_employment"), _mk("contracted")): {"nps": _lor(0.91, 0.59)},
    (_fk("education_training_employment"), _mk("partner")): {"nps": _lor(0.82, 0.54)},
    (_fk("attitudes_to_offending"), _mk("partner")): {"nps": _lor(0.61, 0.41)},
}
for _name in (
    "relationships",
    "lifestyle_associates",
    "alcohol_misuse",
    "emotional_wellbeing",
    "thinking_behaviour",
    "attitudes_to_offending",
):
    PLANTED_EFFECTS.setdefault((_fk(_name), _mk("delivery")), {}).update(
        ogrs_high=OGRS_EFFECT, age_30_plus=AGE_EFFECT
    )

# Partner info review's planted provider difference (NPS 82% vs CRC 64%) is in its Tables
# 1-2 rows (PROVIDER_YES): the four questions take every printed row as an exact margin.
EFFECT_VARIABLES = ("nps", "ogrs_high", "age_30_plus")

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

# Inspections (Annex A, Table A1): police force area, synthetic fieldwork date (a Monday a
# few months before the report month Annex A gives; London: the re-inspection, whose data
# the bulletin uses), and a relative sample size (metropolitan areas larger).
INSPECTIONS: tuple[tuple[str, date, int, float], ...] = (
    # name, fieldwork date, sample weight, relative BAME share
    ("Durham", date(2016, 3, 14), 60, 0.25),
    ("North Yorkshire", date(2016, 5, 9), 58, 0.3),
    ("Derbyshire", date(2016, 6, 13), 70, 0.9),
    ("Kent", date(2016, 7, 11), 88, 0.9),
    ("Staffordshire", date(2016, 10, 17), 86, 1.2),
    ("Greater Manchester", date(2016, 11, 14), 110, 1.6),
    ("Gwent", date(2017, 1, 16), 60, 0.5),
    ("Northamptonshire", date(2017, 1, 30), 72, 1.0),
    ("South Yorkshire", date(2017, 3, 13), 76, 0.9),
    ("Suffolk", date(2017, 3, 27), 62, 0.6),
    ("Gloucestershire", date(2017, 5, 15), 56, 0.6),
    ("Cumbria", date(2017, 7, 17), 56, 0.2),
    ("West Mercia", date(2017, 8, 14), 68, 0.6),
    ("London", date(2017, 12, 4), 144, 3.0),
)
# Finer ethnic groups within BAME (schema levels other than white).
BAME_SPLIT = {"black": 0.35, "asian": 0.35, "mixed": 0.22, "other": 0.06, "bame": 0.02}

# Priorities: P(S) proportional to prod_{f in S} exp(theta_f + x'gamma_f) over the sets S
# with 1..MAX_PRIORITIES factors; x = (female, under_30, post_custody, ogrs_high).
PRIORITY_VARIABLES = ("female", "under_30", "post_custody", "ogrs_high")
PRIORITY_EFFECTS: dict[str, dict[str, float]] = {
    _fk("accommodation"): {"post_custody": 0.6, "ogrs_high": 0.3},
    _fk("education_training_employment"): {"under_30": 0.5, "ogrs_high": 0.3, "female": -0.2},
    _fk("financial_management"): {"female": 0.3},
    _fk("relationships"): {"female": 0.5},
    _fk("lifestyle_associates"): {"under_30": 0.5, "ogrs_high": 0.5},
    _fk("drug_misuse"): {"ogrs_high": 0.7, "under_30": 0.2},
    _fk("alcohol_misuse"): {"under_30": -0.3, "female": -0.2},
    _fk("emotional_wellbeing"): {"female": 0.7},
    _fk("thinking_behaviour"): {},
    _fk("attitudes_to_offending"): {"ogrs_high": 0.2},
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


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(400)


def _integrate_normal(lo: float, hi: float, fn) -> float:
    """Integral of phi(z) * fn(z) over [lo, hi] (fixed Gauss-Legendre: deterministic)."""
    z = 0.5 * (hi - lo) * _GL_NODES + 0.5 * (hi + lo)
    w = 0.5 * (hi - lo) * _GL_WEIGHTS
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
    k = len(schema.FACTORS)
    rows = [
        [1 if i in combo else 0 for i in range(k)]
        for size in range(1, schema.MAX_PRIORITIES + 1)
        for combo in itertools.combinations(range(k), size)
    ]
    return np.array(rows, dtype=np.int8)


def _priority_design() -> np.ndarray:
    """(16, n_factors) linear predictor offsets per priority cell (bits of PRIORITY_VARIABLES)."""
    out = np.zeros((16, len(schema.FACTORS)))
    for cell in range(16):
        x = {v: (cell >> (3 - i)) & 1 for i, v in enumerate(PRIORITY_VARIABLES)}
        for j, f in enumerate(schema.FACTORS):
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
    target = np.array([PRIORITY_PREVALENCE[f.key] for f in schema.FACTORS])
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
    top = schema.MAX_PRIORITIES
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
    incl = (probs @ subsets).reshape(2, 2, 2, 2, len(schema.FACTORS))
    prov_axis = (2, 1, 1, 1, 1)
    p_c = np.array([P_CONTRACTED_DELIVERED[p] for p in PROVIDERS]).reshape(prov_axis)
    p_p = np.array([P_PARTNER_DELIVERED[p] for p in PROVIDERS]).reshape(prov_axis)

    intercepts: dict[tuple[str, str], float] = {}
    for j, f in enumerate(schema.FACTORS):
        base = cells * incl[None, ..., j]
        for m in schema.MEASURES:
            if m.key == _mk("contracted"):
                w = base * p_c * P_CONTRACTED_FOR_FACTOR[f.key]
            elif m.key == _mk("partner"):
                w = base * p_p * P_PARTNER_FOR_FACTOR[f.key]
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
        dict(zip([f.key for f in schema.FACTORS], theta.tolist())),
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


def _n_showing_rate(expected: float, rate: float, available: int, reach: int = 2) -> int:
    """An applicable n near `expected` (nearest first, at most `reach` away, never more
    than `available`) at which round(n * rate) yes answers show as the published whole
    percentage; round(expected) when there is none. Used for the contribution questions,
    whose n's the bulletin does not print but whose small n's (30-60) cannot show every
    percentage (e.g. no k of 41 rounds to 67%)."""
    base = _round_half_up(expected)
    for step in range(reach + 1):
        for cand in (base,) if step == 0 else (base - step, base + step):
            if 0 < cand <= available and _rate_rounds_to(_round_half_up(cand * rate), cand, rate):
                return cand
    return min(base, available)


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

    c_deliv: np.ndarray  # contracted providers delivered interventions
    c_info: np.ndarray  # ... and their information was used in review
    p_deliv: np.ndarray  # partners delivered interventions
    p_info: np.ndarray  # partners' information was used in review
    codes: dict[str, np.ndarray]  # Tables 1-2 breakdown levels per case (_table_codes)


def generate(n_cases: int, seed: int, *, id_prefix: str = DEFAULT_ID_PREFIX) -> pl.DataFrame:
    """`n_cases` synthetic cases in exactly `schema.stored_schema()` (no derived columns).

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
    priorities = np.zeros((n, len(schema.FACTORS)), dtype=bool)
    n_chosen = np.zeros(n, dtype=np.int64)
    for j, f in enumerate(schema.FACTORS):
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
    """Who was involved: exact counts within each provider (the applicable n's of Tables
    1-2), and every other printed row's n (gender, age group, ...)."""
    r, nps = _round_half_up, attrs.nps
    codes = _table_codes(attrs)
    everyone = np.ones(draws.n, dtype=bool)
    c_deliv = _involved(
        draws,
        codes,
        everyone,
        _provider_margin(nps, everyone, P_CONTRACTED_DELIVERED),
        "contracted_harm_focus",
    )
    c_info = _involved(
        draws,
        codes,
        c_deliv,
        _provider_margin(nps, c_deliv, P_CONTRACTED_INFO_GIVEN_DELIVERED),
        "contracted_info_review",
    )
    p_deliv = _involved(
        draws,
        codes,
        everyone,
        _provider_margin(nps, everyone, P_PARTNER_DELIVERED),
        "partner_harm_focus",
    )
    # partner info review: round(share x delivered) where partners delivered (a), the rest
    # of the provider's total where they did not (b)
    split = np.zeros(4, dtype=np.int64)  # (CRC b, CRC a, NPS b, NPS a)
    for i, (prov, m) in enumerate((("CRC", ~nps), ("NPS", nps))):
        total = r(m.sum() * P_PARTNER_INFO_TOTAL[prov])
        k_a = min(r((m & p_deliv).sum() * P_PARTNER_INFO_GIVEN_DELIVERED[prov]), total)
        k_b = min(total - k_a, int((m & ~p_deliv).sum()))
        k_a = min(total - k_b, int((m & p_deliv).sum()))
        split[2 * i : 2 * i + 2] = (k_b, k_a)
    by = synth_margins.Margin(2 * nps.astype(np.int64) + p_deliv, split)
    p_info = _involved(draws, codes, everyone, by, "partner_info_review")
    return _Involvement(c_deliv, c_info, p_deliv, p_info, codes)


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
    for j, f in enumerate(schema.FACTORS):
        pri = priorities[:, j]
        values[schema.priority_column(f)] = pri
        for meas in schema.MEASURES:
            col = schema.judgement_column(f, meas)
            key = (f.key, meas.key)
            if meas.key == _mk("contracted"):
                app = _contribution_asked(
                    draws, pri & inv.c_deliv, P_CONTRACTED_FOR_FACTOR[f.key], key
                )
            elif meas.key == _mk("partner"):
                app = _contribution_asked(
                    draws, pri & inv.p_deliv, P_PARTNER_FOR_FACTOR[f.key], key
                )
            else:
                app = pri
            values[col] = _outcome(
                draws, x, app, cal.intercepts[key], PLANTED_EFFECTS.get(key, {}), FIGURE_RATES[key]
            )
            applies[col] = app
    q_applies = {
        "contracted_harm_focus": inv.c_deliv,
        "contracted_info_review": inv.c_info,
        "partner_harm_focus": inv.p_deliv,
        "partner_info_review": inv.p_info,
    }
    for q in schema.QUESTIONS:
        app = q_applies[q.column]
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
    return frame.select([pl.col(c).cast(t) for c, t in schema.stored_schema().items()])


# --------------------------------------------------------------------------------------
# Writing: the clean CSV, and a "messy export" in the forms real exports take
# --------------------------------------------------------------------------------------

YES_TEXT, NO_TEXT = schema.YES_NO


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


# Their headers (a typical case-assessment spreadsheet export) -> our columns.
_MESSY_ATTRIBUTE_HEADERS = {
    "case_id": "Case ref",
    "inspection": "Area",
    "inspection_date": "Inspection date",
    "provider": "Provider",
    "gender": "Gender",
    "age": "Age at start",
    "ethnicity": "Ethnicity",
    "supervision": "Sentence type",
    "ogrs_score": "OGRS3 2yr %",
    "ogrs_band": "OGRS band",
    "rosh": "RoSH",
    "mappa": "MAPPA eligible?",
    "notes": "Inspector comments",
}
_MESSY_FACTOR_SHORT = {
    _fk("accommodation"): "Accom",
    _fk("education_training_employment"): "ETE",
    _fk("financial_management"): "Finance",
    _fk("relationships"): "Relationships",
    _fk("lifestyle_associates"): "Lifestyle",
    _fk("drug_misuse"): "Drugs",
    _fk("alcohol_misuse"): "Alcohol",
    _fk("emotional_wellbeing"): "Emotional WB",
    _fk("thinking_behaviour"): "T&B",
    _fk("attitudes_to_offending"): "Attitudes",
}
_MESSY_MEASURE_PHRASE = {
    _mk("availability"): "interventions available?",
    _mk("delivery"): "sufficient delivered?",
    _mk("contracted"): "contracted provider contribution OK?",
    _mk("partner"): "partner contribution OK?",
}
_MESSY_QUESTION_HEADERS = {
    "contracted_harm_focus": "CP - harm focus sufficient?",
    "contracted_info_review": "CP - info used in review?",
    "partner_harm_focus": "Partners - harm focus sufficient?",
    "partner_info_review": "Partners - info used in review?",
}
_MESSY_GENDER = {"male": "M", "female": "F"}
_MESSY_ETHNICITY_MISSING = "Not known"
# Sentence types in their words: (text, our code, share within that code)
_MESSY_SUPERVISION = (
    ("Community order", "community", 0.55),
    ("Suspended sentence", "community", 0.45),
    ("Licence", "post_custody", 0.7),
    ("Post-custody", "post_custody", 0.3),
)
MESSY_NOT_APPLICABLE = "N/A"
MESSY_BLANK_SHARE = 0.2  # of not-applicable cells left blank rather than "N/A"


def messy_headers() -> dict[str, str]:
    """Our column -> their header, for every stored column (in the stored order)."""
    out: dict[str, str] = {}
    for col in schema.COLUMNS:
        if col.name in _MESSY_ATTRIBUTE_HEADERS:
            out[col.name] = _MESSY_ATTRIBUTE_HEADERS[col.name]
        elif col.name in _MESSY_QUESTION_HEADERS:
            out[col.name] = _MESSY_QUESTION_HEADERS[col.name]
    for f in schema.FACTORS:
        short = _MESSY_FACTOR_SHORT.get(f.key, f.label)
        out[schema.priority_column(f)] = f"{short} - priority?"
        for m in schema.MEASURES:
            out[schema.judgement_column(f, m)] = f"{short} - {_MESSY_MEASURE_PHRASE[m.key]}"
    return {c.name: out[c.name] for c in schema.COLUMNS}


def messy_export(cases: pl.DataFrame, seed: int) -> pl.DataFrame:
    """`cases` (stored schema) as an all-text (String) frame the way real exports look.

    Their headers (`messy_headers()`), "Y"/"N" answers, "N/A" or blank for not applicable,
    labels instead of codes ("Post-custody", "Very high"), "M"/"F", sentence types in
    their words, "Not known" ethnicity, DD/MM/YYYY dates. `messy_mapping_toml()` maps it
    back; ingesting it with that mapping gives `cases` again.
    """
    return _messy_frame(cases, seed).with_columns(pl.col(pl.Enum).cast(pl.String))


def _messy_frame(cases: pl.DataFrame, seed: int) -> pl.DataFrame:
    """messy_export() with the Y/N/N/A answers as an Enum (fast to write as CSV)."""
    n = cases.height
    rng = np.random.default_rng([int(seed), 20190122])
    exprs: list[pl.Expr] = []
    blank = pl.Series(rng.random(n) < MESSY_BLANK_SHARE)  # one draw per row, shared by columns
    sup_u = pl.Series(rng.random(n))
    headers = messy_headers()
    answers = pl.Enum(["Y", "N", MESSY_NOT_APPLICABLE, ""])
    for col in schema.COLUMNS:
        c = pl.col(col.name)
        if col.dtype == pl.Boolean:
            e = (
                pl.when(c)
                .then(pl.lit("Y", answers))
                .when(c.not_())
                .then(pl.lit("N", answers))
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
        f'"*" = {{ "Y" = {_toml_str(YES_TEXT)}, "N" = {_toml_str(NO_TEXT)}, '
        f'{_toml_str(MESSY_NOT_APPLICABLE)} = "" }}',
        f"gender = {{ {gender} }}",
        f"supervision = {{ {sup} }}",
        f'ethnicity = {{ {_toml_str(_MESSY_ETHNICITY_MISSING)} = "" }}',
        "",
    ]
    return "\n".join(lines)
