"""Trends: every judgement's % yes per period (inspection year, or inspection), with n,
across a change of inspection framework.

    from hmip_cli import trend
    result = trend.trend(trend.segments_from_cases(cases), period="year")
    result.frame  # one row per series x period

A *segment* is the cases assessed under one framework. Each segment is counted in its own
framework's terms (its judgement columns, its derived `inspection_year`); the series are
named in the *reference* framework's terms: the framework of the latest inspection. When
a trend spans several frameworks, a crosswalk (`hmip_cli.framework.crosswalk`) says which
item of an older framework continues which series:
- exact: the series continues;
- approximate: the series continues, and its first period under the new framework is
  marked `[b]` (break in series, the official shorthand);
- none, or not listed: the series is not trended (it appears in `not_trended`, with the
  crosswalk's reason), nor is an older framework's item with no counterpart.

Counts are the rates' definitions (a judgement is applicable where it is recorded; % yes of
applicable cases) and small numbers follow the rates' rules (`rates._finish_rates`): below
`min_n` a rate is `[u]`, or with `suppress` hidden `[c]`, and where that leaves one hidden
period in a series under one framework, the next smallest period is hidden too, so the
hidden one cannot be worked out from the all-cases rate of `hmip rates`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from hmip_cli import rates as R
from hmip_cli.errors import BadInput, BadRequest
from hmip_cli.framework import Crosswalk, Framework
from hmip_cli.framework.crosswalk import CONTINUES
from hmip_cli.jsonsafe import json_safe

PERIODS: dict[str, str] = {"year": "Year", "inspection": "Inspection"}
DEFAULT_PERIOD = "year"
MARK_BREAK = "[b]"
QUESTIONS_GROUP = "questions"
FRAMEWORK_COLUMN = "framework"  # a mixed frame's column naming each case's framework

# Output columns, in order (public API: documented in `hmip trend --help`).
TREND_COLUMNS = (
    "series",
    "series_label",
    "group",
    "group_label",
    "period",
    "period_label",
    "framework",
    "item",
    "match",
    "n",
    "n_yes",
    "percent_yes",
    "ci_lower",
    "ci_upper",
    "low_reliability",
    "suppressed",
    "marker",
    "break_in_series",
)


@dataclass(frozen=True)
class Segment:
    """The cases assessed under one framework (stored columns; derived ones are added)."""

    framework: Framework
    cases: pl.DataFrame | pl.LazyFrame


@dataclass(frozen=True)
class NotTrended:
    framework: str
    item: str
    label: str
    reason: str


@dataclass(frozen=True)
class TrendResult:
    """`frame`: one row per series and period (TREND_COLUMNS); `not_trended`: the items left
    out across a framework change, with why; `breaks`: whether any cell is marked [b]."""

    frame: pl.DataFrame
    period: str
    frameworks: tuple[str, ...]
    reference: str
    crosswalks: tuple[str, ...] = ()
    not_trended: tuple[NotTrended, ...] = ()
    periods: tuple[tuple[str, str], ...] = field(default=())  # (code, label) in order

    @property
    def breaks(self) -> bool:
        return bool(self.frame["break_in_series"].any()) if self.frame.height else False

    def to_frame(self) -> pl.DataFrame:
        return self.frame

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "frameworks": list(self.frameworks),
            "reference_framework": self.reference,
            "crosswalks": list(self.crosswalks),
            "periods": [{"period": c, "period_label": lab} for c, lab in self.periods],
            "rows": json_safe(self.frame.to_dicts()),
            "not_trended": [vars(x) for x in self.not_trended],
        }


# --------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------


def segments_from_cases(
    cases: pl.DataFrame | pl.LazyFrame,
    default: Framework | None = None,
    frameworks: Mapping[str, Framework] | None = None,
) -> list[Segment]:
    """Split a case frame into segments by its `framework` column (a mixed frame), or, with
    no such column, one segment of `default` (the store's framework; qi-2016 if not given).
    Names in the column are resolved through `frameworks`, else `framework.load`."""
    from hmip_cli import framework as F

    lf = cases.lazy()
    if FRAMEWORK_COLUMN not in lf.collect_schema().names():
        return [Segment(default or F.load(F.DEFAULT), lf)]
    names = lf.select(pl.col(FRAMEWORK_COLUMN).unique()).collect().to_series().to_list()
    if None in names:
        raise BadInput(f"some cases have no {FRAMEWORK_COLUMN!r}: every case needs one")
    out = []
    for name in sorted(str(n) for n in names):
        fw = (frameworks or {}).get(name) or F.load(name)
        out.append(Segment(fw, lf.filter(pl.col(FRAMEWORK_COLUMN) == name)))
    return out


# --------------------------------------------------------------------------------------
# Which items are trended
# --------------------------------------------------------------------------------------


def _group_of(fw: Framework, item: str) -> tuple[str, str, str]:
    """(group key, group label, row label) of an item: per-area items are grouped by
    measure (rows: areas), case-level questions form one group."""
    if "/" in item:
        akey, mkey = item.split("/", 1)
        m = fw.measure(mkey)
        return m.key, m.label, fw.area(akey).label
    return QUESTIONS_GROUP, fw.wording.questions_machine_title, fw.question(item).label


def select_items(
    fw: Framework,
    measures: Sequence[str] | None = None,
    areas: Sequence[str] | None = None,
    items: Sequence[str] | None = None,
) -> list[str]:
    """The items of `fw` to trend: `items` by key (or label-free alias), else every item,
    narrowed to `measures` and `areas` (case-level questions only when neither is given)."""
    all_items = fw.items()
    if items:
        out = []
        for key in items:
            norm = key.strip().lower().replace("_", "-")
            hit = next((i for i in all_items if i.replace("_", "-") == norm), None)
            if hit is None and "/" in key:
                a, _, m = key.partition("/")
                hit = f"{fw.area(a).key}/{fw.measure(m).key}"  # BadRequest names the choices
            if hit is None:
                hit = fw.question(key).key
            out.append(hit)
        return list(dict.fromkeys(out))
    mkeys = {fw.measure(m).key for m in measures} if measures else None
    akeys = {fw.area(a).key for a in areas} if areas else None
    out = []
    for item in all_items:
        if "/" not in item:
            if mkeys is None and akeys is None:
                out.append(item)
            continue
        a, m = item.split("/", 1)
        if (mkeys is None or m in mkeys) and (akeys is None or a in akeys):
            out.append(item)
    return out


def _crosswalk(a: Framework, b: Framework, crosswalks: Sequence[Crosswalk]) -> Crosswalk:
    from hmip_cli import framework as F

    for cw in crosswalks:
        if {cw.source, cw.target} == {a.name, b.name}:
            return cw
    found = F.crosswalk_between(a.name, b.name)
    if found is None:
        raise BadRequest(
            f"the cases were assessed under frameworks {a.name} and {b.name}, and no crosswalk "
            "maps one to the other: give one with --crosswalk FILE (docs/frameworks.md)"
        )
    return found


# --------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------


def _period_column(fw: Framework, period: str) -> str:
    if period not in PERIODS:
        raise BadRequest(f"unknown period {period!r}; choose from: {', '.join(PERIODS)}")
    return fw.breakdown(period).column


def _prepared(seg: Segment, where) -> pl.LazyFrame:
    from hmip_cli.framework.derive import with_derived

    lf = seg.cases.lazy()
    if where:
        if seg.framework.name != "qi-2016":  # --where reads schema.py until rates does not
            raise BadRequest(f"--where is not yet supported for {seg.framework.name} cases")
        lf, _ = R.filter_cases(lf.drop(FRAMEWORK_COLUMN, strict=False), where)
        return lf
    return with_derived(seg.framework, lf)


def _counts(seg: Segment, items: Sequence[str], period: str, where) -> pl.DataFrame:
    """framework, item, period (code; null = undated), n, n_yes, first (earliest date)."""
    fw = seg.framework
    col = _period_column(fw, period)
    lf = _prepared(seg, where)
    aggs: list[pl.Expr] = [pl.col("inspection_date").min().alias("first")]
    for i, item in enumerate(items):
        c = pl.col(fw.item_column(item))
        aggs += [c.is_not_null().sum().alias(f"n{i}"), c.sum().alias(f"y{i}")]
    key = pl.col(col).cast(pl.String)
    if period == "inspection":
        # An inspection is an area in a year: a re-inspection of Durham is a new period.
        year = pl.col(_period_column(fw, "year")).cast(pl.String)
        key = pl.when(year.is_null()).then(key).otherwise(pl.format("{} {}", key, year))
    wide = lf.group_by(key.alias("period")).agg(aggs).collect()
    parts = [
        wide.select(
            "period",
            "first",
            item=pl.lit(item),
            n=pl.col(f"n{i}").cast(pl.Int64),
            n_yes=pl.col(f"y{i}").cast(pl.Int64),
        )
        for i, item in enumerate(items)
    ]
    schema = {"period": pl.String, "first": pl.Date, "item": pl.String}
    empty = pl.DataFrame(schema={**schema, "n": pl.Int64, "n_yes": pl.Int64})
    out = pl.concat(parts) if parts else empty
    return out.with_columns(framework=pl.lit(fw.name))


def _period_order(counts: pl.DataFrame, period: str, order: Sequence[str]) -> pl.DataFrame:
    """One row per column of the trend: (period, framework) with its label and position.
    Years in numeric order; inspections by their earliest date; undated ("Not recorded")
    last; a period holding cases of two frameworks is two columns, the older first."""
    rank = {name: i for i, name in enumerate(order)}
    cols = (
        counts.group_by("period", "framework")
        .agg(pl.col("first").min())
        .with_columns(
            _fw=pl.col("framework").replace_strict(rank, return_dtype=pl.Int32),
            _missing=pl.col("period").is_null(),
            _year=pl.col("period").cast(pl.Int32, strict=False) if period == "year" else None,
        )
    )
    keys = ["_missing", "_year", "period", "_fw"] if period == "year" else ["_missing", "first"]
    cols = cols.sort([*keys, "period", "_fw"], nulls_last=True)
    shared = cols.group_by("period").agg(pl.len().alias("_k"))
    cols = cols.join(shared, on="period", how="left", nulls_equal=True)
    label = pl.col("period").fill_null(R.NOT_RECORDED_LABEL)
    return cols.select(
        pl.col("period").fill_null(R.NOT_RECORDED),
        "framework",
        period_label=pl.when(pl.col("_k") > 1)
        .then(pl.format("{} ({})", label, pl.col("framework")))
        .otherwise(label),
        _order=pl.int_range(1, pl.len() + 1),
    )


# --------------------------------------------------------------------------------------
# The trend
# --------------------------------------------------------------------------------------


def trend(
    segments: Sequence[Segment],
    *,
    period: str = DEFAULT_PERIOD,
    measures: Sequence[str] | None = None,
    areas: Sequence[str] | None = None,
    items: Sequence[str] | None = None,
    crosswalks: Sequence[Crosswalk] = (),
    where=None,
    min_n: int = R.DEFAULT_MIN_N,
    suppress: bool = False,
    confidence: float = R.CONFIDENCE,
) -> TrendResult:
    """% yes per series and period, with n, across `segments` (see the module docstring).

    `measures`/`areas`/`items` select series in the reference framework's terms; `where`
    filters cases (qi-2016 segments only, for now); `crosswalks` are used before the shipped
    ones. Columns of `frame`:
      series, series_label   the item in the reference framework ("ete/delivery", a question
                             key) and its row label (the area's, or the question's)
      group, group_label     the measure (or "questions") the series is tabled under
      period, period_label   year, or inspection name ("not_recorded": undated cases);
                             a period with cases of two frameworks is labelled "2021 (qi-2016)"
      framework, item        the framework of the period's cases and the item counted there
      match                  null under the reference framework; else the crosswalk's match
      n, n_yes, percent_yes, ci_lower, ci_upper, low_reliability, suppressed, marker
                             as in `rates.rates` (per series and period)
      break_in_series        the first period under a new framework, where the series
                             continues only approximately: shown [b]
    """
    if not segments:
        raise BadRequest("no cases to trend")
    if period not in PERIODS:
        raise BadRequest(f"unknown period {period!r}; choose from: {', '.join(PERIODS)}")
    by_name: dict[str, Framework] = {}
    for seg in segments:
        by_name.setdefault(seg.framework.name, seg.framework)
    # Frameworks in time order (latest inspection last): the last one names the series.
    latest: dict[str, Any] = {}
    for seg in segments:
        d = seg.cases.lazy().select(pl.col("inspection_date").max()).collect().item()
        prev = latest.get(seg.framework.name)
        latest[seg.framework.name] = d if prev is None or (d is not None and d > prev) else prev
    order = sorted(by_name, key=lambda n: (latest[n] is None, latest[n] or 0, n))
    ref = by_name[order[-1]]
    wanted = select_items(ref, measures, areas, items)

    # Per framework: the item counted for each series, its match, and what is left out.
    mapping: dict[str, dict[str, tuple[str, str | None]]] = {
        ref.name: {s: (s, None) for s in wanted}
    }
    not_trended: list[NotTrended] = []
    used: list[str] = []
    dropped: set[str] = set()
    for name in order[:-1]:
        fw = by_name[name]
        cw = _crosswalk(fw, ref, crosswalks)
        used.append(cw.name)
        mapping[name] = {}
        for s in wanted:
            other, match = cw.counterpart(s, ref.name)
            if other is None or match not in CONTINUES:
                dropped.add(s)
            else:
                mapping[name][s] = (other, match)
        linked = {item for item, _ in mapping[name].values()}
        for item in select_items(fw, measures if measures else None, areas, None):
            if item not in linked and not cw.continues(item, fw.name):
                not_trended.append(
                    NotTrended(fw.name, item, fw.item_label(item), _why(cw, item, fw))
                )
    for s in wanted:
        if s in dropped:
            cw = _crosswalk(by_name[order[0]], ref, crosswalks)
            not_trended.append(NotTrended(ref.name, s, ref.item_label(s), _why(cw, s, ref)))
    series = [s for s in wanted if s not in dropped]

    parts = []
    for seg in segments:
        m = mapping[seg.framework.name]
        src = [m[s][0] for s in series]
        c = _counts(seg, src, period, where)
        back = pl.DataFrame(
            {
                "item": src,
                "series": series,
                "match": [m[s][1] for s in series],
            },
            schema={"item": pl.String, "series": pl.String, "match": pl.String},
        )
        parts.append(c.join(back, on="item", how="left"))
    counts = pl.concat(parts, how="vertical_relaxed")
    # Several segments of one framework (split by where they came from) add up.
    counts = counts.group_by("series", "item", "match", "framework", "period").agg(
        pl.col("n", "n_yes").sum(), pl.col("first").min()
    )
    cols = _period_order(counts, period, order)
    counts = counts.with_columns(pl.col("period").fill_null(R.NOT_RECORDED))
    frame = _grid(counts, cols, series, ref, by_name)
    frame = R.finish_rates(
        frame.with_columns(breakdown=pl.lit(period)),
        ["series", "framework"],
        min_n,
        suppress,
        confidence,
    )
    frame = _mark_breaks(frame)
    return TrendResult(
        frame=frame.sort("_s", "_order").select(TREND_COLUMNS),
        period=period,
        frameworks=tuple(order),
        reference=ref.name,
        crosswalks=tuple(dict.fromkeys(used)),
        not_trended=tuple(not_trended),
        periods=tuple(
            cols.select("period", "period_label").unique(maintain_order=True).iter_rows()
        ),
    )


def _why(cw: Crosswalk, item: str, fw: Framework) -> str:
    link = next(
        (x for x in cw.links if (x.source if fw.name == cw.source else x.target) == item), None
    )
    if link is not None and link.note:
        return link.note
    other = cw.target if fw.name == cw.source else cw.source
    return f"no counterpart in {other} (crosswalk {cw.name})"


def _grid(
    counts: pl.DataFrame,
    cols: pl.DataFrame,
    series: list[str],
    ref: Framework,
    by_name: Mapping[str, Framework],
) -> pl.DataFrame:
    """Every series x every period column of its frameworks (zero counts where a period
    has no applicable case), with labels and sort keys."""
    meta = []
    for i, s in enumerate(series):
        g, glabel, row = _group_of(ref, s)
        meta.append((s, row, g, glabel, i))
    smeta = pl.DataFrame(
        meta, schema=["series", "series_label", "group", "group_label", "_s"], orient="row"
    )
    frameworks_of = counts.select("series", "item", "match", "framework").unique()
    grid = frameworks_of.join(cols, on="framework", how="inner")
    grid = grid.join(
        counts.select("series", "framework", "period", "n", "n_yes"),
        on=["series", "framework", "period"],
        how="left",
    ).with_columns(pl.col("n", "n_yes").fill_null(0))
    return grid.join(smeta, on="series", how="left").with_columns(
        pl.col("_s").cast(pl.Int64), group=pl.col("group"), breakdown=pl.lit("period")
    )


def _mark_breaks(frame: pl.DataFrame) -> pl.DataFrame:
    """break_in_series: the first dated period of a series under a framework other than the
    one before it, where the series continues there only approximately."""
    dated = pl.col("period") != R.NOT_RECORDED
    ordered = frame.with_row_index("__i").sort("_s", "_order")
    flags = (
        ordered.filter(dated)
        .with_columns(
            _prev=pl.col("framework").shift(1).over("_s"),
            _prev_match=pl.col("match").shift(1).over("_s"),
        )
        .with_columns(
            break_in_series=(pl.col("_prev").is_not_null())
            & (pl.col("_prev") != pl.col("framework"))
            & ((pl.col("match") == "approximate") | (pl.col("_prev_match") == "approximate"))
        )
        .select("__i", "break_in_series")
    )
    out = ordered.join(flags, on="__i", how="left").with_columns(
        pl.col("break_in_series").fill_null(False)
    )
    return out.drop("__i")
