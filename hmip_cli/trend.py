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
INSPECTION_COLUMN = "inspection"  # every framework has it (docs/frameworks.md)
DATE_COLUMN = "inspection_date"  # optional

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
    where_text: str | None = None  # the --where conditions, in the reference's terms
    where_notes: tuple[str, ...] = ()  # how they were carried across a framework change
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
            "where": self.where_text,
            "where_notes": list(self.where_notes),
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


def segments_from_store(data=None) -> tuple[list[Segment], list[Crosswalk]]:
    """The store's cases as segments, one per framework (a store of several frameworks:
    each framework's cases, as it recorded them per case), and the crosswalks recorded
    with them at ingest (`hmip ingest --crosswalk FILE`; shipped ones are found anyway)."""
    from hmip_cli import store

    # lazy scans: each count reads only the columns it needs (issue 13)
    segments = [Segment(fw, f) for fw, f in store.scan_segments(data)]
    return segments, store.crosswalks_of(store.read_meta(data), store.cases_path(data))


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
# Periods
# --------------------------------------------------------------------------------------


def _period_column(fw: Framework, period: str) -> str:
    """The column a period is read from: the framework's `year` / `inspection` breakdown
    (the `inspection` column itself when it declares no such breakdown)."""
    if period not in PERIODS:
        raise BadRequest(f"unknown period {period!r}; choose from: {', '.join(PERIODS)}")
    try:
        return fw.breakdown(period).column
    except BadRequest:
        if period == "inspection":
            return INSPECTION_COLUMN
        raise BadRequest(
            f"the framework {fw.name!r} has no inspection dates (no 'year' breakdown), so "
            "its cases cannot be trended by year: use --period inspection"
        ) from None


def has_year(fw: Framework) -> bool:
    """Whether `fw`'s cases can be trended by year (it declares a `year` breakdown)."""
    try:
        fw.breakdown("year")
    except BadRequest:
        return False
    return True


def default_period(segments: Sequence[Segment]) -> str:
    """year where every segment's framework has inspection dates, else inspection."""
    return DEFAULT_PERIOD if all(has_year(s.framework) for s in segments) else "inspection"


def _dated(fw: Framework) -> bool:
    return DATE_COLUMN in fw.column_by_name


# --------------------------------------------------------------------------------------
# Selecting cases: --where, in the reference framework's terms
# --------------------------------------------------------------------------------------


def _where_items(where) -> list[tuple[str, list[str]]]:
    """`--where` as (key, [values]) pairs (syntax checked as in `rates.parse_where`)."""
    if not where:
        return []
    if isinstance(where, Mapping):
        return [
            (k, [str(x) for x in ([v] if isinstance(v, (str, bool)) else list(v))])
            for k, v in where.items()
        ]
    out = []
    for text in where:
        k, sep, v = str(text).partition("=")
        values = [x for x in v.split(",") if x.strip()]
        if not sep or not k.strip() or not values:
            raise BadRequest(f"--where needs key=value, got {text!r}")
        out.append((k, values))
    return out


def _free_text(fw: Framework, key: str) -> bool:
    """Whether a --where key names a text column with no levels (inspection): its values
    are those in the data, so a value may be present under one framework only."""
    norm = key.strip().lower().replace("-", "_")
    for b in fw.all_breakdowns():
        if norm in {b.key, *b.aliases}:
            return not b.levels
    col = fw.column_by_name.get(norm)
    return col is not None and not col.levels


def _breakdown_link(cw: Crosswalk, ref: Framework, key: str):
    """(the crosswalk's breakdown link whose `ref` side is the breakdown `key`, the key on
    the other side, {ref level: [other levels]}), or None when it lists none."""
    try:
        bkey = ref.breakdown(key).key
    except BadRequest:
        return None
    ref_is_source = ref.name == cw.source
    for b in cw.breakdowns:
        if (b.source if ref_is_source else b.target) != bkey:
            continue
        other = b.target if ref_is_source else b.source
        levels: dict[str, list[str]] = {}
        for a, t in b.levels:
            mine, theirs = (a, t) if ref_is_source else (t, a)
            levels.setdefault(mine, []).append(theirs)
        return b, other, levels
    return None


def _segment_where(
    fw: Framework,
    lf: pl.LazyFrame,
    ref: Framework,
    ref_lf: pl.LazyFrame,
    cw: Crosswalk | None,
    items: Sequence[tuple[str, list[str]]],
    misses: dict[str, BadRequest],
) -> tuple[list[R.Condition], list[str]]:
    """The conditions that select a segment's cases (`items` in `ref`'s terms; `lf`, `ref_lf`
    the cases to look free-text values up in), and notes saying how a condition was carried
    across to an older framework through the crosswalk `cw`. A free-text value these cases
    lack (an inspection of another framework) selects none of them, and goes in `misses`."""
    conds: list[R.Condition] = []
    notes: list[str] = []
    for key, values in items:
        link = None if cw is None or fw.name == ref.name else _breakdown_link(cw, ref, key)
        if cw is None or link is None:
            try:
                conds += R.parse_where({key: values}, lf, fw)
            except BadRequest as exc:
                if not _free_text(fw, key):
                    if fw.name == ref.name:
                        raise
                    raise BadRequest(f"--where {key}, for the {fw.name} cases: {exc}") from None
                # A value that only another framework's cases have: none of these cases.
                misses.setdefault(key, exc)
                conds.append(R.Condition(key, INSPECTION_COLUMN, (), f"{key} = none"))
            continue
        b, other, levels = link
        if other is None or b.match not in CONTINUES:
            why = f" ({b.note})" if b.note else ""
            raise BadRequest(
                f"--where {key} cannot select the {fw.name} cases: the crosswalk {cw.name} "
                f"gives {key} no counterpart in {fw.name}{why}"
            )
        (ref_cond,) = R.parse_where({key: values}, ref_lf, ref)
        codes = tuple(
            c2 for c in ref_cond.codes for c2 in ([None] if c is None else levels.get(c, []))
        )
        target = fw.breakdown(other)
        shown = ", ".join(target.label_of(c) for c in codes) or "none"
        cond = R.Condition(target.key, target.column, codes, f"{target.key} = {shown}")
        conds.append(cond)
        notes.append(
            f"for the {fw.name} cases, {cond.text} ({b.match} counterpart of "
            f"{ref_cond.text}, crosswalk {cw.name})"
        )
    return conds, notes


def _prepared(seg: Segment) -> pl.LazyFrame:
    from hmip_cli.framework.derive import with_derived

    return with_derived(seg.framework, seg.cases.lazy().drop(FRAMEWORK_COLUMN, strict=False))


# --------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------


def _counts(seg: Segment, lf: pl.LazyFrame, items: Sequence[str], period: str) -> pl.DataFrame:
    """framework, item, period (code; null = undated), n, n_yes, first (earliest date)."""
    fw = seg.framework
    col = _period_column(fw, period)
    first = pl.col(DATE_COLUMN).min() if _dated(fw) else pl.lit(None, pl.Date)
    aggs: list[pl.Expr] = [first.alias("first")]
    for i, item in enumerate(items):
        c = pl.col(fw.item_column(item))
        aggs += [c.is_not_null().sum().alias(f"n{i}"), c.sum().alias(f"y{i}")]
    key = pl.col(col).cast(pl.String)
    if period == "inspection":
        # An inspection is an area in a year: a re-inspection of Durham is a new period.
        if has_year(fw):
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
    period: str | None = None,
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

    `period`: "year" or "inspection" (default: year, or inspection where a framework has no
    inspection dates). `measures`/`areas`/`items` select series, and `where` cases, in the
    reference framework's terms: a `where` key the crosswalk links to another breakdown
    selects the older framework's cases through that link (levels mapped, noted in
    `where_notes`); others are read in each framework's own terms. `crosswalks` are used
    before the shipped ones. Columns of `frame`:
      series, series_label   the item in the reference framework ("<area>/<measure>", or a
                             question key) and its row label (the area's, or the question's)
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
    period = period or default_period(segments)
    if period not in PERIODS:
        raise BadRequest(f"unknown period {period!r}; choose from: {', '.join(PERIODS)}")
    by_name: dict[str, Framework] = {}
    for seg in segments:
        by_name.setdefault(seg.framework.name, seg.framework)
    # Frameworks in time order (latest inspection last): the last one names the series.
    latest: dict[str, Any] = {}
    for seg in segments:
        d = None
        if _dated(seg.framework):
            d = seg.cases.lazy().select(pl.col(DATE_COLUMN).max()).collect().item()
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

    frames = [_prepared(seg) for seg in segments]
    where_text: str | None = None
    where_notes: list[str] = []
    conditions = _where_items(where)
    if conditions:
        frames, where_text, where_notes = _selected(
            segments,
            frames,
            ref,
            conditions,
            {n: _crosswalk(by_name[n], ref, crosswalks) for n in order[:-1]},
        )
    parts = []
    for seg, lf in zip(segments, frames):
        m = mapping[seg.framework.name]
        src = [m[s][0] for s in series]
        c = _counts(seg, lf, src, period)
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
        where_text=where_text,
        where_notes=tuple(where_notes),
        periods=tuple(
            cols.select("period", "period_label").unique(maintain_order=True).iter_rows()
        ),
    )


def _selected(
    segments: Sequence[Segment],
    frames: list[pl.LazyFrame],
    ref: Framework,
    conditions: Sequence[tuple[str, list[str]]],
    crosswalk_of: Mapping[str, Crosswalk],
) -> tuple[list[pl.LazyFrame], str, list[str]]:
    """Each segment's cases meeting `conditions` (`--where`, in `ref`'s terms), the
    conditions described in `ref`'s terms, and how they were carried across frameworks.
    Refused when no case at all is selected (tables of nothing would look like a result)."""
    ref_lfs = [lf for seg, lf in zip(segments, frames) if seg.framework.name == ref.name]
    ref_lf = pl.concat(ref_lfs, how="vertical_relaxed") if len(ref_lfs) > 1 else ref_lfs[0]
    out, notes, ref_text = [], [], None
    misses: dict[str, BadRequest] = {}
    found: set[str] = set()
    for seg, lf in zip(segments, frames):
        fw = seg.framework
        cw = crosswalk_of.get(fw.name)
        seg_misses: dict[str, BadRequest] = {}
        conds, why = _segment_where(fw, lf, ref, ref_lf, cw, conditions, seg_misses)
        found |= {k for k, _ in conditions if k not in seg_misses}
        for k, exc in seg_misses.items():
            misses.setdefault(k, exc)
        if fw.name == ref.name and ref_text is None and not seg_misses:
            ref_text = R.describe_where(conds)
        notes += [n for n in why if n not in notes]
        for cond in conds:
            lf = lf.filter(cond.expr())
        out.append(lf)
    for key, exc in misses.items():
        if key not in found:  # no framework's cases have that value
            raise exc
    if ref_text is None:  # where a value of a free-text key is missing from the reference
        ref_text = " and ".join(f"{k} = {', '.join(v)}" for k, v in conditions)
    total = sum(lf.select(pl.len()).collect().item() for lf in out)
    if total == 0:
        raise BadRequest(f"no cases where {ref_text}; nothing to trend")
    return out, ref_text, notes


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
