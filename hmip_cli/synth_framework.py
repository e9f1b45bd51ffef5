"""Synthetic cases for any framework: `generate_for(fw, n_cases, seed)`.

qi-2016 has its own model, calibrated exactly to the bulletin (`hmip_cli.synth`). Any other
framework — pdu-2023, or an analyst's own file — is generated from what the framework
declares (its attributes, areas, gate, measures, parties, questions and their
applicability rules) and a *synth plan*: the assumed shares and rates, read from a TOML
file (`plan_for`: the shipped `hmip_cli/data/<name>.synth.toml`, a `<file>.synth.toml`
beside a framework file, or the defaults below). docs/synth_model.md section 8 describes
the model and the format.

As in `synth`, counts are exact (round(n x share) for every category, gate, involvement
and yes count) and only which cases carry them is random; a judgement's yes answers are
weighted by its planted effects (`[[effects]]` in the plan), and no other variable has an
effect. The same (framework, plan, n, seed) gives the same frame.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from scipy.optimize import brentq
from scipy.special import expit

from hmip_cli.errors import BadInput, BadRequest
from hmip_cli.framework import Framework
from hmip_cli.framework.derive import derived_expr
from hmip_cli.framework.model import Applicability, ColumnSpec
from hmip_cli.report.provenance import NOTE_MARKER

# Defaults where a plan says nothing (stated in docs/synth_model.md section 8).
DEFAULT_RATE = 0.6  # % yes of a judgement
DEFAULT_GATE = 0.4  # share of cases where an area's gate is yes
DEFAULT_INVOLVED = 0.5  # share of cases where a party was involved
DEFAULT_INVOLVED_FOR_AREA = 0.6  # ... and, where its area's gate is yes, involved for it
DEFAULT_NOT_APPLICABLE = 0.05  # judgements that may not apply: share not asked
DEFAULT_YES_NO = 0.5  # a yes/no attribute
DEFAULT_NOTES = 0.03
DEFAULT_INSPECTIONS = 6  # "Inspection 1" ... when the plan lists none
DEFAULT_FIRST_DATE = date(2024, 1, 8)
INSPECTION_COLUMN = "inspection"


@dataclass(frozen=True)
class Inspection:
    name: str
    date: date
    weight: float = 1.0
    values: dict[str, str] = field(default_factory=dict)  # attributes fixed per inspection


@dataclass(frozen=True)
class ColumnPlan:
    shares: dict[str, float] = field(default_factory=dict)  # category levels / yes share
    missing: float = 0.0
    mean: float | None = None  # integers: normal(mean, sd), rounded, clipped to min..max
    sd: float | None = None
    values: tuple[str, ...] = ()  # text columns: values dealt out evenly


@dataclass(frozen=True)
class Effect:
    """A planted effect: log odds `log_odds` for cases with `column` == `level`, on every
    judgement `item` matches ("area/measure", "*/measure", "area/*" or a question key)."""

    item: str
    column: str
    level: str
    log_odds: float


@dataclass(frozen=True)
class Plan:
    """The assumptions behind a framework's synthetic data (all shares are of all cases,
    rates of applicable cases)."""

    source: str = "defaults"
    inspections: tuple[Inspection, ...] = ()
    columns: dict[str, ColumnPlan] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)  # item, measure or question key
    gate: dict[str, float] = field(default_factory=dict)  # area key (or "*")
    involved: dict[str, float] = field(default_factory=dict)  # party key
    involved_for_area: dict[str, float] = field(default_factory=dict)  # area key (or "*")
    not_applicable: dict[str, float] = field(default_factory=dict)  # item/measure/question
    effects: tuple[Effect, ...] = ()
    notes: float = DEFAULT_NOTES
    assumptions: tuple[str, ...] = ()

    def rate(self, item: str, measure: str = "") -> float:
        return _first(self.rates, (item, measure), DEFAULT_RATE)


def _first(table: dict[str, float], keys: tuple[str, ...], default: float) -> float:
    for k in keys:
        if k and k in table:
            return float(table[k])
    return float(table.get("*", default))


# --------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------


def _shipped_plan_path(name: str) -> Path:
    from importlib import resources

    return Path(str(resources.files("hmip_cli") / "data" / f"{name}.synth.toml"))


def plan_for(fw: Framework) -> Plan:
    """The plan of a framework: beside its file (`x.toml` -> `x.synth.toml`), else the
    shipped one for its name, else the defaults."""
    candidates = []
    if fw.origin and fw.origin.endswith(".toml"):
        candidates.append(Path(fw.origin[: -len(".toml")] + ".synth.toml"))
    candidates.append(_shipped_plan_path(fw.name))
    for path in candidates:
        if path.is_file():
            return load_plan(path)
    return Plan()


def load_plan(path: Path) -> Plan:
    """Read a synth plan file (format: docs/synth_model.md section 8)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{path.name}: not a readable synth plan ({exc})") from None
    try:
        return _parse_plan(doc, path.name)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"{path.name}: bad synth plan ({exc})") from None


def _parse_plan(doc: dict, source: str) -> Plan:
    inspections = tuple(
        Inspection(
            str(i["name"]),
            i["date"] if isinstance(i["date"], date) else date.fromisoformat(str(i["date"])),
            float(i.get("weight", 1.0)),
            {str(k): str(v) for k, v in i.get("values", {}).items()},
        )
        for i in doc.get("inspections", [])
    )
    columns = {
        str(name): ColumnPlan(
            shares={str(k): float(v) for k, v in spec.get("shares", {}).items()},
            missing=float(spec.get("missing", 0.0)),
            mean=None if "mean" not in spec else float(spec["mean"]),
            sd=None if "sd" not in spec else float(spec["sd"]),
            values=tuple(str(v) for v in spec.get("values", ())),
        )
        for name, spec in doc.get("columns", {}).items()
    }
    effects = tuple(
        Effect(str(e["item"]), str(e["column"]), str(e["level"]), float(e["log_odds"]))
        for e in doc.get("effects", [])
    )

    def table(key: str) -> dict[str, float]:
        return {str(k): float(v) for k, v in doc.get(key, {}).items()}

    return Plan(
        source=source,
        inspections=inspections,
        columns=columns,
        rates=table("rates"),
        gate=table("gate"),
        involved=table("involved"),
        involved_for_area=table("involved_for_area"),
        not_applicable=table("not_applicable"),
        effects=effects,
        notes=float(doc.get("notes", DEFAULT_NOTES)),
        assumptions=tuple(str(a) for a in doc.get("assumptions", ())),
    )


# --------------------------------------------------------------------------------------
# Exact-count primitives (the same rules as hmip_cli.synth)
# --------------------------------------------------------------------------------------


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5 + 1e-9))


def _apportion(total: int, weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if total <= 0 or w.sum() <= 0:
        return np.zeros(w.size, dtype=np.int64)
    quota = total * w / w.sum()
    base = np.floor(quota + 1e-9).astype(np.int64)
    order = np.argsort(-(quota - base), kind="stable")
    base[order[: total - int(base.sum())]] += 1
    return base


def _deal(rng: np.random.Generator, counts: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Category index per case in `mask` (exactly counts[j] get j, in random order); -1
    elsewhere."""
    out = np.full(mask.shape[0], -1, dtype=np.int64)
    idx = np.flatnonzero(mask)
    out[idx] = np.repeat(np.arange(len(counts)), counts)[rng.permutation(idx.size)]
    return out


def _choose(rng: np.random.Generator, mask: np.ndarray, k: int, p: np.ndarray | None = None):
    """Exactly k cases of `mask`: weighted by p (Gumbel-top-k with weights -log(1 - p), so
    each case is chosen with probability close to its p), uniformly without p."""
    idx = np.flatnonzero(mask)
    out = np.zeros(mask.shape[0], dtype=bool)
    k = min(max(int(k), 0), idx.size)
    e = rng.standard_exponential(idx.size)
    if k == 0:
        return out
    if p is not None:
        with np.errstate(divide="ignore"):
            e = e / -np.log1p(-np.clip(p[idx], 1e-12, 1 - 1e-12))
    out[idx[np.argsort(e, kind="stable")[:k]]] = True
    return out


# --------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------


def generate_for(
    fw: Framework,
    n_cases: int,
    seed: int,
    *,
    id_prefix: str = "SYN",
    plan: Plan | None = None,
) -> pl.DataFrame:
    """`n_cases` synthetic cases in exactly `fw.stored_schema()` (no derived columns except
    those the framework also stores), rows ordered by inspection date."""
    plan = plan_for(fw) if plan is None else plan
    rng = np.random.default_rng([int(seed), 2023])
    n = int(n_cases)
    inspections = plan.inspections or _default_inspections()
    insp = _deal(rng, _apportion(n, [i.weight for i in inspections]), np.ones(n, dtype=bool))
    order = np.argsort(np.array([inspections[i].date.toordinal() for i in insp]), kind="stable")
    insp = insp[order]
    values: dict[str, pl.Series] = {}
    for col in fw.columns:
        values[col.name] = _attribute(fw, col, plan, inspections, insp, rng, n, id_prefix)
    frame = pl.DataFrame(values)
    # stored columns a rule derives (ogrs_band from ogrs_score) follow the rule
    frame = frame.with_columns(derived_expr(fw, d) for d in fw.derived if d.replaces_stored)
    judgements = _judgements(fw, plan, frame, rng)
    frame = frame.with_columns(
        pl.Series(name, v, dtype=pl.Boolean) for name, v in judgements.items()
    )
    return frame.select(pl.col(c).cast(t) for c, t in fw.stored_schema().items())


def _default_inspections() -> tuple[Inspection, ...]:
    return tuple(
        Inspection(f"Inspection {k + 1}", date.fromordinal(DEFAULT_FIRST_DATE.toordinal() + 56 * k))
        for k in range(DEFAULT_INSPECTIONS)
    )


def _attribute(
    fw: Framework,
    col: ColumnSpec,
    plan: Plan,
    inspections: tuple[Inspection, ...],
    insp: np.ndarray,
    rng: np.random.Generator,
    n: int,
    id_prefix: str,
) -> pl.Series:
    """One attribute column (stored dtype). Values an inspection fixes come from it."""
    spec = plan.columns.get(col.name, ColumnPlan())
    if col.identifying and not col.free_text:
        width = max(6, len(str(n)))
        return pl.Series(col.name, [f"{id_prefix}-{k:0{width}d}" for k in range(1, n + 1)])
    if col.free_text:
        has = _choose(rng, np.ones(n, dtype=bool), _round_half_up(n * plan.notes))
        number = np.cumsum(has)
        text = [
            f"{NOTE_MARKER} {k}: invented text for testing, not about any real person."
            if h
            else None
            for h, k in zip(has, number)
        ]
        return pl.Series(col.name, text, dtype=pl.String)
    if col.name == INSPECTION_COLUMN:
        return pl.Series(col.name, [inspections[i].name for i in insp], dtype=pl.String)
    if col.type == "date":
        return pl.Series(col.name, [inspections[i].date for i in insp], dtype=pl.Date)
    fixed = [inspections[i].values.get(col.name) for i in insp]
    if any(v is not None for v in fixed):
        return pl.Series(col.name, fixed, dtype=pl.String).cast(col.dtype)
    if any(d.replaces_stored and d.name == col.name for d in fw.derived):
        return pl.Series(col.name, [None] * n, dtype=col.dtype)  # the rule fills it
    missing = _choose(rng, np.ones(n, dtype=bool), _round_half_up(n * spec.missing))
    if col.type in ("category", "yes_no"):
        levels = list(col.levels) if col.type == "category" else [True, False]
        shares = (
            [spec.shares.get(str(lv), 0.0) for lv in col.levels]
            if col.type == "category" and spec.shares
            else [1.0] * len(levels)
            if col.type == "category"
            else [
                spec.shares.get("yes", DEFAULT_YES_NO),
                1 - spec.shares.get("yes", DEFAULT_YES_NO),
            ]
        )
        idx = _deal(rng, _apportion(int((~missing).sum()), shares), ~missing)
        out = [None if i < 0 else levels[i] for i in idx]
        return pl.Series(col.name, out).cast(col.dtype)
    if col.type == "integer":
        lo = col.minimum if col.minimum is not None else 0.0
        hi = col.maximum if col.maximum is not None else 100.0
        mean = spec.mean if spec.mean is not None else (lo + hi) / 2
        sd = spec.sd if spec.sd is not None else (hi - lo) / 6
        x = np.clip(np.rint(mean + sd * rng.standard_normal(n)), lo, hi).astype(np.int64)
        return pl.Series(col.name, [None if m else int(v) for v, m in zip(x, missing)]).cast(
            col.dtype
        )
    # other text: the plan's values dealt out evenly, else "<column> k" by inspection
    if spec.values:
        idx = _deal(rng, _apportion(n, [1.0] * len(spec.values)), np.ones(n, dtype=bool))
        return pl.Series(col.name, [spec.values[i] for i in idx], dtype=pl.String)
    return pl.Series(col.name, [f"{col.name} {i + 1}" for i in insp], dtype=pl.String)


def _judgements(
    fw: Framework, plan: Plan, cases: pl.DataFrame, rng: np.random.Generator
) -> dict[str, np.ndarray | list]:
    """Gate columns and every judgement (None where not applicable), by column."""
    n = cases.height
    everyone = np.ones(n, dtype=bool)
    out: dict[str, np.ndarray | list] = {}
    involved = {
        p.key: _choose(
            rng, everyone, _round_half_up(n * plan.involved.get(p.key, DEFAULT_INVOLVED))
        )
        for p in fw.parties
    }
    n_gates = np.zeros(n, dtype=np.int64)
    for area in fw.areas:
        gate = everyone
        if fw.gate is not None:
            room = everyone if fw.gate.max_per_case is None else n_gates < fw.gate.max_per_case
            rate = _first(plan.gate, (area.key,), DEFAULT_GATE)
            gate = _choose(rng, room, _round_half_up(n * rate))
            n_gates += gate
            out[fw.gate_column(area)] = gate
        for m in fw.measures:
            item = f"{area.key}/{m.key}"
            app = _applicable(fw, plan, m.applies, (item, m.key), gate, involved, area.key, rng)
            rate = plan.rate(item, m.key)
            out[fw.judgement_column(area, m)] = _answers(
                plan, cases, app, rate, (item, area.key, m.key), rng
            )
    for q in fw.questions:
        app = _applicable(fw, plan, q.applies, (q.key, q.column), everyone, involved, "", rng)
        rate = _first(plan.rates, (q.key, q.column), DEFAULT_RATE)
        out[q.column] = _answers(plan, cases, app, rate, (q.key, "", ""), rng)
    return out


def _applicable(
    fw: Framework,
    plan: Plan,
    applies: Applicability,
    keys: tuple[str, ...],
    gate: np.ndarray,
    involved: dict[str, np.ndarray],
    area: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """Where a judgement is asked: its gate (if the rule has one), its party's involvement
    (for an area: a share of the involved cases), and (where a blank may mean not
    applicable) all but a share of those."""
    app = gate.copy() if applies.gate else np.ones(gate.shape[0], dtype=bool)
    if applies.involved is not None:
        app &= involved[applies.involved]
        if area:
            share = _first(plan.involved_for_area, (area,), DEFAULT_INVOLVED_FOR_AREA)
            app = _choose(rng, app, _round_half_up(app.sum() * share))
    if applies.blank == "not_applicable" and applies.involved is None:
        skip = _first(plan.not_applicable, keys, DEFAULT_NOT_APPLICABLE)
        app = _choose(rng, app, app.sum() - _round_half_up(app.sum() * skip))
    return app


def _answers(
    plan: Plan,
    cases: pl.DataFrame,
    app: np.ndarray,
    rate: float,
    keys: tuple[str, str, str],
    rng: np.random.Generator,
) -> list:
    """Exactly round(n applicable x rate) yes among `app`, weighted by the planted effects
    on this judgement; None where not applicable."""
    item, area, measure = keys
    offset = np.zeros(cases.height)
    for e in plan.effects:
        if _matches(e.item, item, area, measure) and e.column in cases.columns:
            hit = (cases.get_column(e.column).cast(pl.String) == e.level).fill_null(False)
            offset += e.log_odds * hit.to_numpy()
    k = _round_half_up(app.sum() * rate)
    p = None
    if np.any(offset[app] != 0):
        o = offset[app]
        b = brentq(lambda b0: float(np.mean(expit(b0 + o))) - rate, -30, 30, xtol=1e-12)
        p = expit(b + offset)
    yes = _choose(rng, app, k, p)
    return [None if not a else bool(y) for a, y in zip(app, yes)]


def _matches(pattern: str, item: str, area: str, measure: str) -> bool:
    if pattern == item:
        return True
    if "/" in pattern and area:
        pa, pm = pattern.split("/", 1)
        return pa in ("*", area) and pm in ("*", measure)
    return False


def check_plan(fw: Framework, plan: Plan) -> None:
    """Refuse a plan naming columns, levels, areas, measures or questions the framework
    does not have (BadRequest naming the first)."""
    names = {c.name for c in fw.columns}
    for name, spec in plan.columns.items():
        if name not in names:
            raise BadRequest(f"synth plan {plan.source}: unknown column {name!r}")
        col = next(c for c in fw.columns if c.name == name)
        for level in spec.shares:
            if col.type == "category" and level not in col.levels:
                raise BadRequest(f"synth plan {plan.source}: {name} has no level {level!r}")
    items = set(fw.items()) | {m.key for m in fw.measures} | {q.column for q in fw.questions}
    for key in (*plan.rates, *plan.not_applicable):
        if key != "*" and key not in items:
            raise BadRequest(f"synth plan {plan.source}: unknown judgement {key!r}")
    for e in plan.effects:
        if e.column not in names:
            raise BadRequest(f"synth plan {plan.source}: effect on unknown column {e.column!r}")


# --------------------------------------------------------------------------------------
# Any framework, one entry point; inspection years
# --------------------------------------------------------------------------------------

MAX_YEARS = 50


def is_bulletin_framework(fw: Framework) -> bool:
    """Whether `fw` is the shipped qi-2016 (content, not name): its cases come from the
    bulletin's exact model (`hmip_cli.synth`). An edited copy is any other framework."""
    from hmip_cli import framework

    return fw == framework.default()


def synthesize(
    fw: Framework,
    n_cases: int,
    seed: int,
    *,
    id_prefix: str = "SYN",
    years: tuple[int, int] | None = None,
) -> pl.DataFrame:
    """Synthetic cases in `fw`'s stored schema: the bulletin's exact model for qi-2016,
    `generate_for` (with the framework's plan) for any other; with `years`, the
    inspections spread over those years (`spread_years`)."""
    from hmip_cli import synth

    synth._check_args(n_cases, seed, id_prefix)
    if is_bulletin_framework(fw):
        frame = synth.generate(n_cases, seed, id_prefix=id_prefix)
    else:
        plan = plan_for(fw)
        check_plan(fw, plan)
        frame = generate_for(fw, n_cases, seed, id_prefix=id_prefix, plan=plan)
    return frame if years is None else spread_years(frame, *years)


def assumption_note(fw: Framework) -> str | None:
    """What to tell the user when `fw` is generated from the defaults alone (no synth
    plan): every share and rate is then an assumption of hmip's, not the framework's."""
    if is_bulletin_framework(fw) or plan_for(fw).source != "defaults":
        return None
    return (
        f"Note: no synth plan for {fw.name}, so every share and rate is a default "
        f"assumption: {DEFAULT_RATE:.0%} yes of applicable judgements, "
        f"{DEFAULT_GATE:.0%} of cases gated per area, parties involved in "
        f"{DEFAULT_INVOLVED:.0%}, {DEFAULT_NOT_APPLICABLE:.0%} not applicable where a blank "
        "may mean so, categories in equal shares, no effects (docs/synth_model.md section 8; "
        f"a plan beside the file, {Path(fw.origin).stem if fw.origin else fw.name}.synth.toml, "
        "sets them)."
    )


def parse_years(text: str) -> tuple[int, int]:
    """ "2016-2019" (or one year "2020") -> (first, last); BadRequest if it is not that."""
    parts = text.strip().split("-")
    try:
        first, last = (int(parts[0]), int(parts[-1])) if len(parts) in (1, 2) else (0, -1)
    except ValueError:
        first, last = 0, -1
    if not (1900 <= first <= last <= 2100) or last - first >= MAX_YEARS:
        raise BadRequest(
            f"--years must be FIRST-LAST (e.g. 2016-2019, at most {MAX_YEARS} years "
            f"between 1900 and 2100), got {text!r}"
        )
    return first, last


def spread_years(frame: pl.DataFrame, first: int, last: int) -> pl.DataFrame:
    """The inspections, in date order, spread evenly over the years first..last: the k-th
    of K keeps its month and day and gets year first + floor(k * years / K) (29 February
    becomes the 28th). Every date column follows its inspection; rows and ids stay."""
    dates = [c for c, t in frame.schema.items() if t == pl.Date]
    if INSPECTION_COLUMN not in frame.columns or not dates:
        return frame
    key = dates[0]
    order = (
        frame.group_by(INSPECTION_COLUMN)
        .agg(pl.col(key).min())
        .sort([key, INSPECTION_COLUMN], nulls_last=True)
        .get_column(INSPECTION_COLUMN)
        .to_list()
    )
    span = last - first + 1
    year_of = {name: first + (k * span) // len(order) for k, name in enumerate(order)}
    new_year = pl.col(INSPECTION_COLUMN).replace_strict(year_of, return_dtype=pl.Int32)

    def moved(col: str) -> pl.Expr:
        d = pl.col(col)
        day = pl.when((d.dt.month() == 2) & (d.dt.day() == 29)).then(28).otherwise(d.dt.day())
        return pl.date(new_year, d.dt.month(), day).alias(col)

    return frame.with_columns(moved(c) for c in dates)
