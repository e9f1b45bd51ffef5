"""The bulletin's rates and tables, computed from a case frame.

Three analyses, each returning one long ("tidy") Polars frame:

- `sample_profile(cases, by=None)`: the sample profile (cases, CRC/NPS, female,
  post-custody, high or very high RoSH, MAPPA-eligible), optionally per group.
- `rates(cases, measures, factors, by, where)`: Figures 1-4: for every factor and measure,
  cases where the factor was a priority, applicable cases, yes, % yes and a 95% Wilson
  score interval; for all cases and for each group of each requested breakdown.
- `protection(cases, by)`: Tables 1 and 2: the four case-level questions for all cases
  and each group of each breakdown.

How they are computed: one aggregation over the case frame. All requested breakdown
columns are grouped together (their cross-classification has at most a few hundred cells)
and every count the tables need (priority, applicable, yes; per factor x measure and per
question) is summed in that one pass. Each breakdown's groups and the all-cases row are
then marginal sums of that small cross table. Cost is one scan of the cases whatever the
number of factors, measures and breakdowns.

Conventions, shared by every frame here:
- A judgement is applicable where it is non-null (schema: null = not asked); a rate is
  yes / applicable, as a percentage with full precision (`percent_yes`, 0-100).
- A case whose breakdown value is unknown (null) goes into the group `not_recorded`
  ("Not recorded"), listed after the real groups, whenever the selection holds such a
  case. It is never dropped, so the groups' n always sum to the all-cases n. Every level
  the schema defines is listed even when it has no cases (shown `[z]`).
- Small numbers (see `DEFAULT_MIN_N`): a rate with 0 < n < min_n has
  `low_reliability = True` and `marker = "[u]"`; with `suppress=True` it is instead
  suppressed (`marker = "[c]"`, n_yes/percent/CI null, `suppressed = "primary"`), and
  when that leaves exactly one suppressed group in a breakdown, the next smallest group
  is suppressed as well (`suppressed = "secondary"`) so the hidden value cannot be
  worked out as the all-cases count minus the other groups. A rate with n = 0 is not
  applicable (`marker = "[z]"`, percent null).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from hmip_cli import defaults, framework
from hmip_cli.errors import BadInput, BadRequest
from hmip_cli.framework import derive
from hmip_cli.framework.model import YES_NO, Area, Breakdown, DictionaryColumn, Framework, Measure
from hmip_cli.tally import Agg, Tally, cases_agg, recorded_agg, sum_by, yes_agg

if TYPE_CHECKING:
    import numpy as np

# A rate based on fewer than this many applicable cases is flagged low-reliability (and,
# with suppression, not published). Why 30: at n = 30 the 95% Wilson interval around a
# 50% rate is 33%-67% (+/-17 percentage points), already too wide to compare groups
# (the bulletin's significant differences are 8-37 points apart); below it a single case
# moves the rate by more than 3 points. 30 is also the threshold analysts most often
# meet in government statistical guidance on unreliable rates. Override with --min-n.
DEFAULT_MIN_N = defaults.MIN_N

CONFIDENCE = 0.95
NOT_RECORDED = "not_recorded"
NOT_RECORDED_LABEL = "Not recorded"
ALL = "all"
ALL_LABEL = "All cases"


def _fw(fw: Framework | None) -> Framework:
    """The framework to use: the one given, else the default (qi-2016)."""
    return framework.default() if fw is None else fw


MARK_LOW = "[u]"
MARK_SUPPRESSED = "[c]"
MARK_NOT_APPLICABLE = "[z]"

# Output columns, in order (public API: documented in `hmip rates --help`).
RATE_COLUMNS = (
    "figure",
    "measure",
    "measure_label",
    "factor",
    "factor_label",
    "breakdown",
    "breakdown_label",
    "group",
    "group_label",
    "n_priority",
    "n",
    "n_yes",
    "percent_yes",
    "ci_lower",
    "ci_upper",
    "low_reliability",
    "suppressed",
    "marker",
    "difference_pp",
    "difference_basis",
)
PROTECTION_COLUMNS = (
    "table",
    "who",
    "topic",
    "question",
    "question_label",
    "breakdown",
    "breakdown_label",
    "group",
    "group_label",
    "n",
    "n_yes",
    "percent_yes",
    "ci_lower",
    "ci_upper",
    "low_reliability",
    "suppressed",
    "marker",
)
SAMPLE_COLUMNS = (
    "breakdown",
    "breakdown_label",
    "group",
    "group_label",
    "characteristic",
    "characteristic_label",
    "n",
    "base",
    "percent",
    "not_recorded",
)


# --------------------------------------------------------------------------------------
# Wilson score interval
# --------------------------------------------------------------------------------------


def _z(confidence: float) -> float:
    # The standard library's normal quantile (Wichura's AS 241, about 1e-16 relative, the
    # same as scipy.stats.norm.isf): importing scipy.stats for one constant cost every
    # `hmip rates` about a second of start-up.
    from statistics import NormalDist

    if not 0 < confidence < 1:
        raise BadRequest(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson_exprs(
    n_yes: pl.Expr, n: pl.Expr, confidence: float = CONFIDENCE
) -> tuple[pl.Expr, pl.Expr]:
    """Wilson score interval for n_yes/n as two Polars expressions (lower, upper), proportions.

    The same arithmetic as statsmodels' `proportion_confint(method="wilson")` (so they
    agree to rounding error), clipped to [0, 1], with the bound exactly 0 when n_yes = 0
    and exactly 1 when n_yes = n. Where n = 0 both bounds are NaN. Expressions, not NumPy,
    so that `hmip rates` need not import NumPy at all.
    """
    k, m = n_yes.cast(pl.Float64), n.cast(pl.Float64)
    z = _z(confidence)
    z2 = z * z
    p = k / m
    denom = 1 + z2 / m
    center = (p + z2 / (2 * m)) / denom
    dist = z * (p * (1.0 - p) / m + z2 / (4.0 * m**2)).sqrt() / denom
    empty = m <= 0  # checked first: 0/0 is NaN, which Polars would clip to 1
    lower = pl.when(empty).then(float("nan")).when(k == 0).then(0.0)
    upper = pl.when(empty).then(float("nan")).when(k == m).then(1.0)
    return (
        lower.otherwise((center - dist).clip(0.0, 1.0)),
        upper.otherwise((center + dist).clip(0.0, 1.0)),
    )


def wilson_interval(n_yes, n, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """`wilson_exprs` on arrays (or scalars): (lower, upper) as NumPy float arrays."""
    import numpy as np

    k = np.atleast_1d(np.asarray(n_yes, dtype=float))
    m = np.atleast_1d(np.asarray(n, dtype=float))
    k, m = np.broadcast_arrays(k, m)
    lower, upper = wilson_exprs(pl.col("k"), pl.col("m"), confidence)
    out = pl.DataFrame({"k": k, "m": m}).select(lower.alias("lo"), upper.alias("hi"))
    lo, hi = out["lo"].to_numpy(), out["hi"].to_numpy()
    if np.ndim(n_yes) == 0 and np.ndim(n) == 0:
        return lo[0], hi[0]
    return lo, hi


# --------------------------------------------------------------------------------------
# Selecting cases: --where
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One `--where key=value[,value...]` condition, resolved against the schema."""

    key: str
    column: str
    codes: tuple  # matching codes (str or bool); None in the tuple = Not recorded
    text: str  # for notes: "provider = NPS"

    def expr(self) -> pl.Expr:
        col = pl.col(self.column)
        real = [c for c in self.codes if c is not None]
        if not real:
            cond = pl.lit(False)
        elif isinstance(real[0], bool):
            cond = col.is_in(real)
        else:
            cond = col.cast(pl.String).is_in([str(c) for c in real])
        if None in self.codes:
            cond = cond | col.is_null()
        return cond.fill_null(False)


_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}


def _where_keys(fw: Framework) -> list[str]:
    keys = [b.key for b in fw.all_breakdowns()]
    for c in fw.stored_columns():
        if c.identifying or c.name in keys:
            continue
        if c.levels or c.dtype == pl.String():
            keys.append(c.name)
    return keys


def _resolve_condition(
    key: str, raw_values: Sequence[str], cases: pl.DataFrame | pl.LazyFrame, fw: Framework
) -> Condition:
    norm = key.strip().lower().replace("-", "_")
    # key, column, and the Breakdown or Column that knows its levels and labels
    candidates: list[tuple[str, str, Breakdown | DictionaryColumn]] = []
    for b in fw.all_breakdowns():
        if norm in {b.key, *b.aliases}:
            candidates.append((b.key, b.column, b))
    col = fw.column_by_name.get(norm)
    if col is not None and not col.identifying and (col.levels or col.dtype == pl.String()):
        candidates.append((col.name, col.name, col))
    if not candidates:
        raise BadRequest(f"unknown --where key {key!r}; choose from: {', '.join(_where_keys(fw))}")

    # A key can name a breakdown and a raw column (ethnicity: White/BAME grouping or the
    # finer stored categories); use the first whose levels accept every value given.
    last_error: BadRequest | None = None
    for ckey, column, owner in candidates:
        spec = fw.column_by_name.get(column) or fw.derived_by_name.get(column)
        is_bool = spec is not None and spec.dtype == pl.Boolean()
        levels = owner.levels
        if levels:
            choices = list(levels)
            lookup = {}
            for code, label in zip(levels, owner.labels or levels):
                lookup[code.lower()] = code
                lookup[label.lower()] = code
        else:  # free text such as inspection: match what is in the data
            present = (
                cases.lazy()
                .select(pl.col(column).drop_nulls().unique().sort())
                .collect()
                .to_series()
                .to_list()
            )
            choices = [str(v) for v in present]
            lookup = {str(v).lower(): v for v in present}
        codes: list = []
        bad = None
        for value in raw_values:
            v = value.strip().lower()
            if v in ("not recorded", "not_recorded", "not-recorded"):
                codes.append(None)
            elif is_bool and v in _YES | _NO:
                codes.append(v in _YES)
            elif v in lookup and not is_bool:
                codes.append(lookup[v])
            else:
                bad = value
                break
        if bad is None:
            shown = ", ".join(
                NOT_RECORDED_LABEL
                if c is None
                else ("yes" if c is True else "no" if c is False else owner.label_of(c))
                for c in codes
            )
            return Condition(ckey, column, tuple(codes), f"{ckey} = {shown}")
        last_error = BadRequest(
            f"unknown value {bad!r} for --where {key}; choose from: "
            f"{', '.join(['yes', 'no'] if is_bool else choices)}, not recorded"
        )
    raise last_error or BadRequest(f"unknown --where key {key!r}")


def parse_where(
    where: Iterable[str] | Mapping[str, object] | None,
    cases: pl.DataFrame | pl.LazyFrame,
    fw: Framework | None = None,
) -> list[Condition]:
    """Resolve `--where` conditions: "key=value" strings or a {key: value(s)} mapping.

    Keys are breakdown keys (with aliases) or stored categorical columns; values are codes
    or labels, case-insensitive; several values separated by commas match any of them;
    "not recorded" matches unknown values. Raises BadRequest listing the choices.
    """
    if not where:
        return []
    items: list[tuple[str, list[str]]] = []
    if isinstance(where, Mapping):
        for k, v in where.items():
            vals = [v] if isinstance(v, (str, bool)) else list(v)  # type: ignore[arg-type]
            items.append((k, [str(x) for x in vals]))
    else:
        for text in where:
            if "=" not in text:
                raise BadRequest(f"--where needs key=value, got {text!r}")
            k, _, v = text.partition("=")
            if not k.strip() or not v.strip():
                raise BadRequest(f"--where needs key=value, got {text!r}")
            values = [x for x in v.split(",") if x.strip()]
            if not values:  # "provider=," would select nothing at all
                raise BadRequest(f"--where needs key=value, got {text!r}")
            items.append((k, values))
    return [_resolve_condition(k, vals, cases, _fw(fw)) for k, vals in items]


def filter_cases(
    cases: pl.DataFrame | pl.LazyFrame, where, fw: Framework | None = None
) -> tuple[pl.LazyFrame, list[Condition]]:
    """Cases (with derived columns) meeting every --where condition, as a LazyFrame."""
    fw = _fw(fw)
    lf = _prepared(cases, fw)
    conditions = parse_where(where, lf, fw)
    for cond in conditions:
        lf = lf.filter(cond.expr())
    if conditions and lf.select(pl.len()).collect().item() == 0:
        # An empty selection would give tables of nothing with exit 0: say so instead.
        raise BadRequest(f"no cases where {describe_where(conditions)}; nothing to analyse")
    return lf, conditions


def describe_where(conditions: Sequence[Condition]) -> str:
    return " and ".join(c.text for c in conditions)


def _prepared(cases: pl.DataFrame | pl.LazyFrame, fw: Framework) -> pl.LazyFrame:
    lf = cases.lazy()
    names = lf.collect_schema().names()
    added = [d.name for d in fw.derived_columns()]
    if not added or added[0] not in names:  # the derived columns are not there yet
        needed = [
            c.name
            for c in fw.stored_columns()
            if not c.identifying and c.name != "inspection_date" and c.name not in names
        ]
        if needed:
            raise BadInput(
                f"the case frame lacks {len(needed)} column(s): {', '.join(needed[:8])}"
                + (" ..." if len(needed) > 8 else "")
            )
        lf = derive.with_derived(fw, lf)
    return lf


# --------------------------------------------------------------------------------------
# The one aggregation
# --------------------------------------------------------------------------------------

_SEP = "\x1f"  # separates the parts of an internal count-column name
CROSS_SEP = " x "  # between the parts of a crossed group's code: "NPS x female"


class _DefaultBreakdowns:
    """The `by` default of protection and bulletin: the framework's default breakdowns."""

    def __repr__(self) -> str:
        return "the framework's default breakdowns"


DEFAULT_BY: Any = _DefaultBreakdowns()


def _breakdowns(by, fw: Framework) -> list[Breakdown]:
    if by is None:
        return []
    if by is DEFAULT_BY:
        by = fw.default_breakdowns()
    if isinstance(by, str):
        by = [by]
    seen: dict[str, Breakdown] = {}
    for key in by:
        b = key if isinstance(key, Breakdown) else fw.breakdown(key)
        seen.setdefault(b.key, b)
    return list(seen.values())


def _cross_counts(
    source: pl.LazyFrame | Tally, breakdowns: Sequence[Breakdown], aggs: list[Agg]
) -> pl.DataFrame:
    """Sum `aggs` over the cross-classification of the breakdown columns (one pass), over
    the cases or a tally of them (`hmip_cli.tally`: the same counts)."""
    keys = [b.column for b in breakdowns]
    return sum_by(source, keys, [cases_agg("__cases"), *aggs])


def _source(cases, where, fw: Framework) -> pl.LazyFrame | Tally:
    """The cases to count (`filter_cases`), or a tally of them as given."""
    if isinstance(cases, Tally):
        if where:
            raise BadRequest("--where selects cases: give the cases, not a tally of them")
        return cases
    return filter_cases(cases, where, fw)[0]


def _marginals(
    cross: pl.DataFrame,
    breakdowns: Sequence[Breakdown],
    inspections: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Per breakdown and group (plus the all-cases row): the summed counts.

    Columns: breakdown, group (code, or "not_recorded"), _order (display order), counts...
    Every schema level is present (zero counts where no cases); "not_recorded" only where
    cases have an unknown value.
    """
    keys = list(dict.fromkeys(b.column for b in breakdowns))
    counts = [c for c in cross.columns if c not in keys]
    sums = [pl.col(c).sum().cast(pl.Int64) for c in counts]
    parts = [
        cross.select(sums).with_columns(breakdown=pl.lit(ALL), group=pl.lit(ALL), _order=pl.lit(0))
    ]
    for b in breakdowns:
        col = pl.col(b.column)
        code: pl.Expr
        if cross.schema[b.column] == pl.Boolean:  # e.g. mappa: levels are "yes"/"no"
            code = pl.when(col).then(pl.lit(YES_NO[0])).when(~col).then(pl.lit(YES_NO[1]))
        else:
            code = col.cast(pl.String)
        m = cross.group_by(b.column).agg(sums).with_columns(code.alias("group"))
        levels = (
            list(b.levels) if b.levels else sorted(v for v in m["group"].to_list() if v is not None)
        )
        frame = pl.DataFrame({"group": [*levels, None]}, schema={"group": pl.String})
        frame = frame.join(m.drop(b.column), on="group", how="left", nulls_equal=True)
        frame = frame.with_columns(
            _order=pl.int_range(1, pl.len() + 1),
            breakdown=pl.lit(b.key),
        ).with_columns(pl.col(c).fill_null(0) for c in counts)
        # Not recorded: kept only when some case has an unknown value.
        frame = frame.filter(pl.col("group").is_not_null() | (pl.col("__cases") > 0))
        frame = frame.with_columns(pl.col("group").fill_null(NOT_RECORDED))
        parts.append(frame)
    return pl.concat(parts, how="diagonal_relaxed")


def _labels_frame(breakdowns: Sequence[Breakdown], groups: pl.DataFrame) -> pl.DataFrame:
    """breakdown, group -> breakdown_label, group_label."""
    rows = []
    by_key = {b.key: b for b in breakdowns}
    for bkey, group in groups.select("breakdown", "group").unique().iter_rows():
        if bkey == ALL:
            rows.append((bkey, group, ALL_LABEL, ALL_LABEL))
            continue
        b = by_key[bkey]
        rows.append(
            (
                bkey,
                group,
                b.label,
                NOT_RECORDED_LABEL if group == NOT_RECORDED else b.label_of(group),
            )
        )
    return pl.DataFrame(
        rows, schema=["breakdown", "group", "breakdown_label", "group_label"], orient="row"
    )


# --------------------------------------------------------------------------------------
# Small numbers, intervals, differences
# --------------------------------------------------------------------------------------


def _finish_rates(
    frame: pl.DataFrame, partition: list[str], min_n: int, suppress: bool, confidence: float
) -> pl.DataFrame:
    """Add percent, Wilson CI, low-reliability flag, suppression and marker columns."""
    if not isinstance(min_n, int) or isinstance(min_n, bool) or min_n < 1:
        raise BadRequest(f"--min-n must be a whole number of at least 1, got {min_n!r}")
    n, y = pl.col("n"), pl.col("n_yes")
    lower, upper = wilson_exprs(y, n, confidence)
    is_group = pl.col("breakdown") != ALL
    frame = frame.with_columns(
        percent_yes=pl.when(n > 0).then(100.0 * y / n),
        ci_lower=(lower * 100.0).fill_nan(None),
        ci_upper=(upper * 100.0).fill_nan(None),
        low_reliability=(n > 0) & (n < min_n),
    )
    if suppress and frame.filter(pl.col("breakdown").str.contains(CROSS_SEP, literal=True)).height:
        frame = frame.with_columns(suppressed=_complementary(frame, partition))
    elif suppress:
        primary = pl.col("low_reliability")
        eligible = is_group & ~primary & (n > 0)
        # Rank candidates by (n, display order): a unique integer per partition.
        rank_key = pl.when(eligible).then(n * 1_000_000 + pl.col("_order"))
        n_primary = (primary & is_group).cast(pl.Int32).sum().over(partition)
        secondary = eligible & (n_primary == 1) & (rank_key == rank_key.min().over(partition))
        frame = frame.with_columns(
            suppressed=pl.when(primary)
            .then(pl.lit("primary"))
            .when(secondary)
            .then(pl.lit("secondary"))
            .otherwise(pl.lit(None, pl.String))
        )
    else:
        frame = frame.with_columns(suppressed=pl.lit(None, pl.String))
    hidden = pl.col("suppressed").is_not_null()
    frame = frame.with_columns(
        marker=pl.when(n == 0)
        .then(pl.lit(MARK_NOT_APPLICABLE))
        .when(hidden)
        .then(pl.lit(MARK_SUPPRESSED))
        .when(pl.col("low_reliability"))
        .then(pl.lit(MARK_LOW))
        .otherwise(pl.lit(None, pl.String)),
    ).with_columns(
        [
            pl.when(hidden).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("n_yes", "percent_yes", "ci_lower", "ci_upper")
        ]
    )
    return frame


# Public: `trend` applies the same small-number rules to its periods.
finish_rates = _finish_rates


def _complementary(frame: pl.DataFrame, partition: list[str]) -> pl.Series:
    """Suppression for a crossed breakdown: every cell below min_n (primary), then, until
    nothing changes, wherever a row or a column of the cross (or the whole table) has
    exactly one suppressed cell, its smallest other cell too (secondary), so no suppressed
    cell can be worked out from a row's, a column's or the table's total."""
    parts = pl.col("group").str.split(CROSS_SEP)
    is_cross = pl.col("breakdown").str.contains(CROSS_SEP, literal=True)
    df = frame.with_row_index("__i").with_columns(
        _r=pl.when(is_cross).then(parts.list.get(0)),
        _c=pl.when(is_cross).then(parts.list.get(1)),
    )
    groups = df.filter((pl.col("breakdown") != ALL) & (pl.col("group") != NOT_RECORDED))
    status: dict[int, str] = {
        i: "primary"
        for i, low, is_group in df.select(
            "__i", "low_reliability", pl.col("breakdown") != ALL
        ).iter_rows()
        if low and is_group
    }
    lines = [partition, [*partition, "_r"], [*partition, "_c"]]
    cells = {key: part for cols in lines for key, part in _parts(groups, cols)}
    changed = True
    while changed:
        changed = False
        for part in cells.values():
            hidden = [i for i in part["__i"] if i in status]
            if len(hidden) != 1:
                continue
            free = part.filter(~pl.col("__i").is_in(list(status)) & (pl.col("n") > 0))
            if free.height:
                status[free.sort("n", "_order").row(0, named=True)["__i"]] = "secondary"
                changed = True
    return pl.Series("suppressed", [status.get(i) for i in range(frame.height)], pl.String)


def _parts(frame: pl.DataFrame, cols: list[str]):
    """(key, rows) per group of `cols`; rows outside the cross (null _r/_c) are skipped."""
    for key, part in frame.group_by(cols, maintain_order=True):
        if all(k is not None for k in key):
            yield (tuple(cols), *key), part


def _differences(frame: pl.DataFrame, partition: list[str]) -> pl.DataFrame:
    """difference_pp and difference_basis per partition (breakdown rows only).

    Two groups: the second group's % minus the first's (schema order, e.g. NPS - CRC),
    in percentage points. More groups: the range, highest minus lowest, with the two
    named. "Not recorded" and groups with no applicable cases are left out. Nothing is
    shown where a group is suppressed (the difference would give it away).
    """
    g = frame.filter((pl.col("breakdown") != ALL) & (pl.col("group") != NOT_RECORDED))
    pct, label, order = pl.col("percent_yes"), pl.col("group_label"), pl.col("_order")
    s = g.group_by(partition).agg(
        any_suppressed=pl.col("suppressed").is_not_null().any(),
        levels=pl.len(),
        valid=(pl.col("n") > 0).sum(),
        first_pct=pct.sort_by(order).first(),
        last_pct=pct.sort_by(order).last(),
        first_label=label.sort_by(order).first(),
        last_label=label.sort_by(order).last(),
        hi=pct.max(),
        lo=pct.min(),
        hi_label=label.sort_by([pct, order], descending=[True, False], nulls_last=True).first(),
        lo_label=label.sort_by([pct, order], descending=[False, False], nulls_last=True).first(),
    )
    two = pl.col("levels") == 2
    diffs = s.select(
        *partition,
        difference_pp=pl.when(pl.col("any_suppressed") | (pl.col("valid") < 2))
        .then(None)
        .when(two)
        .then(pl.col("last_pct") - pl.col("first_pct"))
        .otherwise(pl.col("hi") - pl.col("lo"))
        .cast(pl.Float64),
        difference_basis=pl.when(pl.col("any_suppressed"))
        .then(pl.lit("not shown: a group is suppressed"))
        .when(pl.col("valid") < 2)
        .then(pl.lit(None, pl.String))
        .when(two)
        .then(pl.format("{} minus {}", "last_label", "first_label"))
        .otherwise(pl.format("range: highest ({}) minus lowest ({})", "hi_label", "lo_label")),
    )
    return frame.join(diffs, on=partition, how="left", nulls_equal=True)


# --------------------------------------------------------------------------------------
# Figures 1-4
# --------------------------------------------------------------------------------------


def _as_factors(factors, fw: Framework) -> list[Area]:
    if factors is None:
        return list(fw.areas)
    if isinstance(factors, (str, Area)):
        factors = [factors]
    chosen = {(f if isinstance(f, Area) else fw.area(f)).key for f in factors}
    return [f for f in fw.areas if f.key in chosen]  # the framework's order


def _as_measures(measures, fw: Framework) -> list[Measure]:
    if measures is None:
        return list(fw.measures)
    if isinstance(measures, (str, Measure)):
        measures = [measures]
    chosen = {(m if isinstance(m, Measure) else fw.measure(m)).key for m in measures}
    return [m for m in fw.measures if m.key in chosen]


def _rate_aggs(factors, measures, fw: Framework) -> list[Agg]:
    aggs = []
    for f in factors:
        # n_priority: cases where the area's gate is yes (no gate: every case is in scope)
        p = f"p{_SEP}{f.key}"
        aggs.append(yes_agg(p, fw.gate_column(f)) if fw.gate is not None else cases_agg(p))
        for m in measures:
            col = fw.judgement_column(f, m)
            aggs.append(recorded_agg(f"n{_SEP}{f.key}{_SEP}{m.key}", col))
            aggs.append(yes_agg(f"y{_SEP}{f.key}{_SEP}{m.key}", col))
    return aggs


def _question_aggs(questions) -> list[Agg]:
    aggs = []
    for q in questions:
        aggs.append(recorded_agg(f"n{_SEP}{q.key}", q.column))
        aggs.append(yes_agg(f"y{_SEP}{q.key}", q.column))
    return aggs


def _rates_from_marginals(
    marg: pl.DataFrame,
    factors,
    measures,
    breakdowns,
    *,
    min_n: int,
    suppress: bool,
    confidence: float,
) -> pl.DataFrame:
    index = ["breakdown", "group", "_order"]
    keys = [f"{f.key}{_SEP}{m.key}" for f in factors for m in measures]
    n_long = marg.select(*index, *[pl.col(f"n{_SEP}{k}").alias(k) for k in keys]).unpivot(
        index=index, variable_name="key", value_name="n"
    )
    y_long = marg.select(*[pl.col(f"y{_SEP}{k}").alias(k) for k in keys]).unpivot(
        value_name="n_yes"
    )
    long = (
        n_long.with_columns(n_yes=y_long["n_yes"])
        .with_columns(
            pl.col("key").str.split_exact(_SEP, 1).struct.rename_fields(["factor", "measure"])
        )
        .unnest("key")
    )
    p_long = marg.select(
        *index[:2], *[pl.col(f"p{_SEP}{f.key}").alias(f.key) for f in factors]
    ).unpivot(index=index[:2], variable_name="factor", value_name="n_priority")
    long = long.join(p_long, on=["breakdown", "group", "factor"], how="left")

    meta = pl.DataFrame(
        [
            (m.key, m.figure, m.label, mi, f.key, f.label, fi)
            for mi, m in enumerate(measures)
            for fi, f in enumerate(factors)
        ],
        schema=["measure", "figure", "measure_label", "_m", "factor", "factor_label", "_f"],
        orient="row",
    )
    border = {ALL: -1, **{b.key: i for i, b in enumerate(breakdowns)}}
    long = (
        long.join(meta, on=["measure", "factor"], how="left")
        .join(_labels_frame(breakdowns, marg), on=["breakdown", "group"], how="left")
        .with_columns(_b=pl.col("breakdown").replace_strict(border, return_dtype=pl.Int32))
        .with_columns(pl.col("n", "n_yes", "n_priority").cast(pl.Int64))
    )
    partition = ["measure", "factor", "breakdown"]
    long = _finish_rates(long, partition, min_n, suppress, confidence)
    long = _differences(long, partition)
    return long.sort("_m", "_f", "_b", "_order").select(RATE_COLUMNS)


def rates(
    cases: pl.DataFrame | pl.LazyFrame,
    measures=None,
    factors=None,
    by=None,
    where=None,
    *,
    min_n: int = DEFAULT_MIN_N,
    suppress: bool = False,
    confidence: float = CONFIDENCE,
    test: bool = False,
    cross: bool = False,
    fw: Framework | None = None,
) -> pl.DataFrame:
    """Figures 1-4 (one per measure of the framework `fw`, default qi-2016) as one long frame: one row per measure x factor x (all cases, or group).

    Arguments: `measures`/`factors` are keys (default: all, in the bulletin's order); `by`
    is breakdown keys, each shown as its own set of groups (not crossed); `where` filters
    cases (see `parse_where`).

    Columns:
      figure, measure, measure_label   the bulletin figure (1-4) and measure
      factor, factor_label             factor key and label, bulletin order
      breakdown, breakdown_label       "all" for the all-cases row, else the breakdown key
      group, group_label               group code ("all", "not_recorded" for unknown values)
      n_priority                       cases in the group where the factor was a priority
      n                                applicable cases (judgement recorded yes or no)
      n_yes                            of those, yes (null when suppressed)
      percent_yes                      100 * n_yes / n, full precision (null if n = 0 or suppressed)
      ci_lower, ci_upper               95% Wilson score interval, percent
      low_reliability                  0 < n < min_n
      suppressed                       null, "primary" or "secondary"
      marker                           null, "[u]", "[c]" (suppressed) or "[z]" (n = 0)
      difference_pp, difference_basis  between-group difference in percentage points and
                                       what it is (see `_differences`); null on "all" rows
    With `test`, also (`with_tests`, on every row of a breakdown; null where untested):
      difference_ci_lower, difference_ci_upper  two groups: Newcombe's hybrid score interval
                                       for difference_pp, percentage points
      test_method                      "chi-square" or "Fisher's exact" (hmip_cli.compare)
      chi_square, test_df, p_value     Pearson's statistic (null for Fisher's) and two-sided p
    """
    fw = _fw(fw)
    f_list, m_list = _as_factors(factors, fw), _as_measures(measures, fw)
    b_list = _breakdowns(by, fw)
    lf, _ = filter_cases(cases, where, fw)
    if cross:
        lf, b_list = crossed(lf, b_list)
    counts = _cross_counts(lf, b_list, _rate_aggs(f_list, m_list, fw))
    marg = _marginals(counts, b_list)
    out = _rates_from_marginals(
        marg, f_list, m_list, b_list, min_n=min_n, suppress=suppress, confidence=confidence
    )
    return with_tests(out, confidence) if test else out


def crossed(lf: pl.LazyFrame, breakdowns: list[Breakdown]) -> tuple[pl.LazyFrame, list[Breakdown]]:
    """Two breakdowns as one crossed breakdown (provider x gender): a column of combined
    codes ("NPS x female"; null where either is unknown: "Not recorded") and its Breakdown,
    levels in the order of the first breakdown, then the second."""
    if len(breakdowns) != 2:
        raise BadRequest(f"--cross needs exactly two --by breakdowns, got {len(breakdowns)}")
    a, b = breakdowns
    names = lf.collect_schema()
    codes: list[pl.Expr] = []
    levels, labels = [], []
    for part in (a, b):
        col = pl.col(part.column)
        if names[part.column] == pl.Boolean:
            codes.append(pl.when(col).then(pl.lit("yes")).when(~col).then(pl.lit("no")))
        else:
            codes.append(col.cast(pl.String))
        present = part.levels or tuple(
            sorted(lf.select(col.cast(pl.String).drop_nulls().unique()).collect().to_series())
        )
        levels.append(present)
        labels.append(tuple(part.label_of(v) for v in present))
    column = f"__cross_{a.key}_{b.key}"
    lf = lf.with_columns(pl.concat_str([codes[0], pl.lit(CROSS_SEP), codes[1]]).alias(column))
    both = Breakdown(
        key=f"{a.key}{CROSS_SEP}{b.key}",
        column=column,
        label=f"{a.label} \u00d7 {b.label.lower()}",
        levels=tuple(f"{x}{CROSS_SEP}{y}" for x in levels[0] for y in levels[1]),
        labels=tuple(f"{x}, {y}" for x in labels[0] for y in labels[1]),
    )
    return lf, [both]


TEST_COLUMNS = (
    "difference_ci_lower",
    "difference_ci_upper",
    "test_method",
    "chi_square",
    "test_df",
    "p_value",
)


def with_tests(frame: pl.DataFrame, confidence: float = CONFIDENCE) -> pl.DataFrame:
    """`frame` (from `rates`) with TEST_COLUMNS: an unadjusted test of difference between the
    groups of each breakdown, per measure and factor (`hmip_cli.compare.compare`). "Not
    recorded" and groups without applicable cases are left out; nothing is tested where a
    group is suppressed (as for difference_pp)."""
    from hmip_cli.compare import compare

    partition = ["measure", "factor", "breakdown"]
    rows = []
    groups = frame.filter((pl.col("breakdown") != ALL) & (pl.col("group") != NOT_RECORDED))
    for key, part in groups.group_by(partition, maintain_order=True):
        part = part.sort("_order") if "_order" in part.columns else part
        tested = part.filter(pl.col("n") > 0)
        if part["suppressed"].is_not_null().any() or tested.height < 2:
            continue
        c = compare(tested["n_yes"].to_list(), tested["n"].to_list(), confidence)
        if c is None:
            continue
        rows.append(
            {
                **dict(zip(partition, key)),
                "difference_ci_lower": None if c.ci_lower is None else 100 * c.ci_lower,
                "difference_ci_upper": None if c.ci_upper is None else 100 * c.ci_upper,
                "test_method": c.method,
                "chi_square": c.statistic,
                "test_df": c.df,
                "p_value": c.p,
            }
        )
    schema_: dict[str, pl.DataType] = {
        "measure": frame.schema["measure"],
        "factor": frame.schema["factor"],
        "breakdown": frame.schema["breakdown"],
        "difference_ci_lower": pl.Float64(),
        "difference_ci_upper": pl.Float64(),
        "test_method": pl.String(),
        "chi_square": pl.Float64(),
        "test_df": pl.Int64(),
        "p_value": pl.Float64(),
    }
    tests = pl.DataFrame(rows, schema=schema_)
    return frame.join(tests, on=partition, how="left", nulls_equal=True, maintain_order="left")


# --------------------------------------------------------------------------------------
# Tables 1-2
# --------------------------------------------------------------------------------------


def _protection_from_marginals(
    marg: pl.DataFrame,
    breakdowns,
    *,
    min_n: int,
    suppress: bool,
    confidence: float,
    fw: Framework,
) -> pl.DataFrame:
    index = ["breakdown", "group", "_order"]
    qs = fw.questions
    if not qs:  # a framework without case-level questions (pdu-2023)
        return pl.DataFrame(schema=_EMPTY_PROTECTION)
    n_long = marg.select(*index, *[pl.col(f"n{_SEP}{q.key}").alias(q.key) for q in qs]).unpivot(
        index=index, variable_name="question", value_name="n"
    )
    y_long = marg.select(*[pl.col(f"y{_SEP}{q.key}").alias(q.key) for q in qs]).unpivot(
        value_name="n_yes"
    )
    long = n_long.with_columns(n_yes=y_long["n_yes"])
    meta = pl.DataFrame(
        [(q.key, q.table, q.who, q.topic, q.label, i) for i, q in enumerate(qs)],
        schema=["question", "table", "who", "topic", "question_label", "_q"],
        orient="row",
    )
    border = {ALL: -1, **{b.key: i for i, b in enumerate(breakdowns)}}
    long = (
        long.join(meta, on="question", how="left")
        .join(_labels_frame(breakdowns, marg), on=["breakdown", "group"], how="left")
        .with_columns(_b=pl.col("breakdown").replace_strict(border, return_dtype=pl.Int32))
        .with_columns(pl.col("n", "n_yes").cast(pl.Int64))
    )
    long = _finish_rates(long, ["question", "breakdown"], min_n, suppress, confidence)
    return long.sort("_q", "_b", "_order").select(PROTECTION_COLUMNS)


def protection(
    cases: pl.DataFrame | pl.LazyFrame,
    by=DEFAULT_BY,
    where=None,
    *,
    min_n: int = DEFAULT_MIN_N,
    suppress: bool = False,
    confidence: float = CONFIDENCE,
    fw: Framework | None = None,
) -> pl.DataFrame:
    """The case-level questions' tables (qi-2016: Tables 1-2), long: one row per question x group.

    Columns:
      table                        the question's table number (the framework's question_tables)
      who, topic                   the question's party and topic keys
      question, question_label     question key and its wording
      breakdown ... marker         as in `rates` (n = cases where the question was applicable)
    """
    fw = _fw(fw)
    if not fw.questions:
        raise BadRequest(
            f"the framework {fw.name!r} has no case-level questions: nothing to tabulate "
            "(`hmip rates` gives its judgements)"
        )
    b_list = _breakdowns(by, fw)
    lf, _ = filter_cases(cases, where, fw)
    cross = _cross_counts(lf, b_list, _question_aggs(fw.questions))
    marg = _marginals(cross, b_list)
    return _protection_from_marginals(
        marg, b_list, min_n=min_n, suppress=suppress, confidence=confidence, fw=fw
    )


_EMPTY_PROTECTION = {
    **dict.fromkeys(PROTECTION_COLUMNS, pl.String()),
    "table": pl.Int64(),
    **dict.fromkeys(("n", "n_yes"), pl.Int64()),
    **dict.fromkeys(("percent_yes", "ci_lower", "ci_upper"), pl.Float64()),
    "low_reliability": pl.Boolean(),
}


@dataclass(frozen=True)
class BulletinResults:
    """Everything the bulletin's figures and tables need, from one aggregation."""

    rates: pl.DataFrame
    protection: pl.DataFrame


def bulletin(
    cases: pl.DataFrame | pl.LazyFrame | Tally,
    by=DEFAULT_BY,
    where=None,
    *,
    min_n: int = DEFAULT_MIN_N,
    suppress: bool = False,
    confidence: float = CONFIDENCE,
    fw: Framework | None = None,
) -> BulletinResults:
    """Every measure x every area and every case-level question, by `by` (default: the
    framework's default breakdowns), in ONE scan. `cases` may be a `Tally` of the cases
    (by at least the breakdowns' columns, counting every judgement and question column)."""
    fw = _fw(fw)
    b_list = _breakdowns(by, fw)
    source = _source(cases, where, fw)
    f_list, m_list = list(fw.areas), list(fw.measures)
    aggs = _rate_aggs(f_list, m_list, fw) + _question_aggs(fw.questions)
    cross = _cross_counts(source, b_list, aggs)
    marg = _marginals(cross, b_list)
    return BulletinResults(
        rates=_rates_from_marginals(
            marg, f_list, m_list, b_list, min_n=min_n, suppress=suppress, confidence=confidence
        ),
        protection=_protection_from_marginals(
            marg, b_list, min_n=min_n, suppress=suppress, confidence=confidence, fw=fw
        ),
    )


# --------------------------------------------------------------------------------------
# Sample profile
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Characteristic:
    key: str
    label: str
    breakdown: str | None  # breakdown key whose column holds it (None: all cases)
    code: object = None  # the level counted
    short: str = ""  # column heading in wide tables


def characteristics(fw: Framework | None = None) -> tuple[Characteristic, ...]:
    """The sample profile's rows, in the framework's order."""
    return tuple(
        Characteristic(p.key, p.label, p.breakdown, p.code, p.short) for p in _fw(fw).profile
    )


def sample_profile(
    cases: pl.DataFrame | pl.LazyFrame | Tally,
    by=None,
    where=None,
    fw: Framework | None = None,
) -> pl.DataFrame:
    """The sample profile: how many cases, and how many of them have each characteristic.

    One row per (group, characteristic). With `by` (e.g. "inspection") the profile is
    given for all cases and then for each group of that breakdown.

    Columns:
      breakdown, breakdown_label, group, group_label   as in `rates`
      characteristic, characteristic_label             all_cases, crc, nps, female,
                                                       post_custody, rosh_high_very_high,
                                                       mappa_eligible
      n            cases with the characteristic
      base         cases where the attribute is recorded (the denominator)
      percent      100 * n / base, full precision (null if base = 0)
      not_recorded cases where the attribute is unknown (left out of base)
    """
    fw = _fw(fw)
    b_list = _breakdowns(by, fw)
    source = _source(cases, where, fw)
    chars = characteristics(fw)
    aggs = []
    for c in chars[1:]:
        if c.breakdown is None:  # only the first characteristic (all cases) has none
            continue
        column = fw.breakdown(c.breakdown).column
        col = pl.col(column)
        hit = col if isinstance(c.code, bool) else (col.cast(pl.String) == str(c.code))
        aggs.append(yes_agg(f"y{_SEP}{c.key}", when=hit))
        aggs.append(recorded_agg(f"n{_SEP}{c.key}", column))
    cross = _cross_counts(source, b_list, aggs)
    marg = _marginals(cross, b_list)
    labels = _labels_frame(b_list, marg)
    border = {ALL: -1, **{b.key: i for i, b in enumerate(b_list)}}
    parts = []
    for i, c in enumerate(chars):
        if c.breakdown is None:
            n_expr, base_expr = pl.col("__cases"), pl.col("__cases")
        else:
            n_expr, base_expr = pl.col(f"y{_SEP}{c.key}"), pl.col(f"n{_SEP}{c.key}")
        parts.append(
            marg.select(
                "breakdown",
                "group",
                "_order",
                characteristic=pl.lit(c.key),
                characteristic_label=pl.lit(c.label),
                _c=pl.lit(i),
                n=n_expr.cast(pl.Int64),
                base=base_expr.cast(pl.Int64),
                not_recorded=(pl.col("__cases") - base_expr).cast(pl.Int64),
            )
        )
    out = (
        pl.concat(parts)
        .join(labels, on=["breakdown", "group"], how="left")
        .with_columns(
            percent=pl.when(pl.col("base") > 0).then(100.0 * pl.col("n") / pl.col("base")),
            _b=pl.col("breakdown").replace_strict(border, return_dtype=pl.Int32),
        )
    )
    return out.sort("_b", "_order", "_c").select(SAMPLE_COLUMNS)
