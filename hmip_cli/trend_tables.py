"""`trend.TrendResult` as `render.Table`s: for people, one table per measure (rows: the
areas; for case-level questions, the questions) with an n and a % column per period; for
machines, the long frame as it is (TREND_COLUMNS), full precision.

Cells carry the rates' shorthand ([u], [c], [z]) and [b] where the series breaks; every code
in a table is explained above it (the shorthand guidance), as in `hmip rates`. Spreadsheets
(-o x.xlsx / .ods) explain every code above their tables.
"""

from __future__ import annotations

import polars as pl

from hmip_cli import rates as R
from hmip_cli import tables as T
from hmip_cli import trend as TR
from hmip_cli.layout import LEGEND_INTRO
from hmip_cli.render import Format, Table, percent_text

BREAK_LEGEND = (
    f"{TR.MARK_BREAK} break in series: the first period assessed under a different inspection "
    "framework, where the question is only comparable (crosswalk match 'approximate'), not the "
    "same; compare across it with care."
)


def _pct(row: dict) -> str:
    marker = row["marker"]
    if marker in (R.MARK_SUPPRESSED, R.MARK_NOT_APPLICABLE):
        text = marker
    else:
        text = percent_text(row["n_yes"], row["n"])
        text = f"{text} {marker}" if marker else text
    return f"{text} {TR.MARK_BREAK}" if row["break_in_series"] else text


def _n(row: dict) -> str:
    return f"{row['n']:,}"


def not_trended_note(result: TR.TrendResult, limit: int = 8) -> list[str]:
    """One note per framework naming the judgements not trended across the change."""
    notes = []
    by_fw: dict[str, list[str]] = {}
    for x in result.not_trended:
        by_fw.setdefault(x.framework, []).append(x.item)
    for fw, items in by_fw.items():
        shown = ", ".join(items[:limit]) + (
            f" and {len(items) - limit} more" if len(items) > limit else ""
        )
        notes.append(
            f"Not trended: {len(items)} {fw} judgement(s) with no counterpart across the change "
            f"of framework (crosswalk {', '.join(result.crosswalks)}): {shown}."
        )
    return notes


def trend_human(
    result: TR.TrendResult, *, min_n: int = R.DEFAULT_MIN_N, where_text: str | None = None
) -> list[Table]:
    frame = result.frame
    period_label = TR.PERIODS[result.period]
    common = [
        *T._where_note(where_text or result.where_text),
        *(f"Cases selected {note}." for note in result.where_notes),
        *not_trended_note(result),
        "n: applicable cases in the period; %: of them, judged yes.",
        T.ROUNDING_NOTE,
    ]
    if len(result.frameworks) > 1:
        links = (
            frame.filter(pl.col("match").is_not_null())
            .select("series", "framework", "item", "match")
            .unique(maintain_order=True)
        )
        continued = "; ".join(
            f"{s} continues {fw}'s {i} ({m})" for s, fw, i, m in links.iter_rows()
        )
        common.insert(
            0,
            f"Frameworks: {', '.join(result.frameworks)}; rows are named in "
            f"{result.reference}'s terms" + (f": {continued}." if continued else "."),
        )
    if frame.height == 0:
        return [Table(pl.DataFrame({"note": ["Nothing to trend."]}), title="Trend", notes=common)]
    periods = list(result.periods)
    out = []
    for (group,), part in frame.group_by("group", maintain_order=True):
        rows = []
        for _, srows in part.group_by("series", maintain_order=True):
            cells = {"series": srows["series_label"][0]}
            by_period = {r["period"]: r for r in srows.iter_rows(named=True)}
            for i, (code, _) in enumerate(periods):
                r = by_period.get(code)
                cells[f"n_{i}"] = _n(r) if r else ""
                cells[f"pct_{i}"] = _pct(r) if r else ""
            rows.append(cells)
        display = {"series": "Question" if group == TR.QUESTIONS_GROUP else "Area"}
        for i, (_, label) in enumerate(periods):
            display[f"n_{i}"] = f"{label} n"
            display[f"pct_{i}"] = f"{label} %"
        table = pl.DataFrame(rows, schema=dict.fromkeys(display, pl.String))
        breaks = bool(part["break_in_series"].any())
        out.append(
            Table(
                table,
                title=f"Trend by {period_label.lower()}: {part['group_label'][0]}",
                legend=_legend(part, min_n, breaks),
                notes=common,
                display=display,
                right_aligned=tuple(c for c in display if c != "series"),
            )
        )
    return out


def _period_key(code: str) -> str:
    """A period code as a column-name prefix: snake_case ("Durham 2016" -> durham_2016)."""
    import re

    return re.sub(r"[^0-9a-z]+", "_", code.lower()).strip("_") or "period"


def trend_wide(result: TR.TrendResult) -> list[Table]:
    """One table per measure with numbers as numbers: series, series_label, then per period
    `<period>_n`, `<period>_percent_yes` (null where hidden) and `<period>_marker` (the
    shorthand, [b] included). The spreadsheet layout, and `--layout wide` in csv/json."""
    frame = result.frame
    periods = list(result.periods)
    keys = []
    for code, _ in periods:
        k = _period_key(code)
        while k in keys:
            k += "_"
        keys.append(k)
    out = []
    for (group,), part in frame.group_by("group", maintain_order=True):
        rows = []
        for (series,), srows in part.group_by("series", maintain_order=True):
            cells: dict[str, object] = {"series": series, "series_label": srows["series_label"][0]}
            by_period = {r["period"]: r for r in srows.iter_rows(named=True)}
            for k, (code, _) in zip(keys, periods):
                r = by_period.get(code)
                marks = [] if r is None else [r["marker"]] if r["marker"] else []
                if r is not None and r["break_in_series"]:
                    marks.append(TR.MARK_BREAK)
                cells[f"{k}_n"] = None if r is None else r["n"]
                cells[f"{k}_percent_yes"] = None if r is None else r["percent_yes"]
                cells[f"{k}_marker"] = " ".join(marks) or None
            rows.append(cells)
        schema: dict[str, pl.DataType] = {"series": pl.String(), "series_label": pl.String()}
        display = {
            "series": "Series",
            "series_label": "Area" if group != TR.QUESTIONS_GROUP else "Question",
        }
        for k, (_, label) in zip(keys, periods):
            schema |= {
                f"{k}_n": pl.Int64(),
                f"{k}_percent_yes": pl.Float64(),
                f"{k}_marker": pl.String(),
            }
            display |= {
                f"{k}_n": f"{label} n",
                f"{k}_percent_yes": f"{label} %",
                f"{k}_marker": f"{label} marker",
            }
        breaks = bool(part["break_in_series"].any())
        out.append(
            Table(
                pl.DataFrame(rows, schema=schema),
                title=f"Trend by {TR.PERIODS[result.period].lower()}: {part['group_label'][0]}",
                legend=[BREAK_LEGEND] if breaks else [],
                notes=not_trended_note(result),
                display=display,
                percent_columns=tuple(c for c in schema if c.endswith("_percent_yes")),
            )
        )
    return out


def trend_machine(result: TR.TrendResult) -> Table:
    return Table(
        result.frame,
        title=f"Trend by {result.period}",
        name="trend",
        notes=not_trended_note(result),
        percent_columns=("percent_yes", "ci_lower", "ci_upper"),
    )


def _legend(part: pl.DataFrame, min_n: int, breaks: bool) -> list[str]:
    """The lines above a table explaining its codes: the rates' markers, then [b]."""
    codes = [*T.marker_notes(part, min_n), *([BREAK_LEGEND] if breaks else [])]
    return [LEGEND_INTRO, *codes] if codes else []


LAYOUTS = ("long", "wide")


def trend_tables(
    result: TR.TrendResult,
    fmt: Format,
    *,
    min_n: int = R.DEFAULT_MIN_N,
    where_text: str | None = None,
    layout: str | None = None,
) -> list[Table]:
    """People's formats (table, markdown, html): a column per period, text cells. Spreadsheets:
    the same layout with numbers as numbers (`trend_wide`). csv/tsv/json: the long frame, or
    `trend_wide` with layout="wide"."""
    if T.is_human(fmt) or fmt is Format.html:
        return trend_human(result, min_n=min_n, where_text=where_text)
    if fmt in (Format.xlsx, Format.ods) or layout == "wide":
        return trend_wide(result) if result.frame.height else [trend_machine(result)]
    return [trend_machine(result)]
