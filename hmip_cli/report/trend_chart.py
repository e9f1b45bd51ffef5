"""A trend (`trend.TrendResult`) as a line chart, SVG or PNG, accessible like Figures 1-4.

One line per series (at most six: the palette's colours, each with its own marker shape and
a label at the line's end, so no meaning is carried by colour alone), % yes per dated
period. A suppressed ([c]) or empty ([z]) period leaves a gap; a low-reliability point
([u]) is drawn hollow. A break in series ([b]) is a dashed vertical line before the period,
labelled [b]. Undated cases are not plotted (the data table has them). The SVG has
role="img", a <title> and a <desc> holding the whole data table as text; output is
byte-identical for the same data (fixed hash salt, no dates, text as text).
"""

from __future__ import annotations

import polars as pl

from hmip_cli import rates as R
from hmip_cli import trend as TR
from hmip_cli.errors import BadRequest
from hmip_cli.render import percent_text
from hmip_cli.report.charts import _RC, PALETTE, TEXT, _accessible, png_bytes, svg_text

MARKERS = ("o", "s", "^", "D", "v", "P")
MAX_SERIES = len(PALETTE)


def _check(result: TR.TrendResult) -> None:
    n = result.frame["series"].n_unique() if result.frame.height else 0
    if n == 0:
        raise BadRequest("nothing to chart: no series")
    if n > MAX_SERIES:
        raise BadRequest(
            f"{n} series are too many for one chart (at most {MAX_SERIES}): choose with "
            "--item, --factor or --measure"
        )


def title_of(result: TR.TrendResult) -> str:
    groups = result.frame["group_label"].unique(maintain_order=True).to_list()
    return f"Trend by {TR.PERIODS[result.period].lower()}: {'; '.join(groups)}"


def _cell(r: dict) -> str:
    if r["marker"] in (R.MARK_SUPPRESSED, R.MARK_NOT_APPLICABLE):
        text = r["marker"]
    else:
        text = f"{percent_text(r['n_yes'], r['n'])}% (n = {r['n']:,})"
        text += f" {r['marker']}" if r["marker"] else ""
    return text + (f" {TR.MARK_BREAK}" if r["break_in_series"] else "")


def alt_text(result: TR.TrendResult, min_n: int = R.DEFAULT_MIN_N) -> str:
    """The chart's data as sentences: every series, every period, with n and markers."""
    parts = [f"Line chart of % yes by {result.period}, one line per series."]
    for (_,), s in result.frame.group_by("series", maintain_order=True):
        cells = "; ".join(f"{r['period_label']}: {_cell(r)}" for r in s.iter_rows(named=True))
        parts.append(f"{s['series_label'][0]}: {cells}.")
    parts.append(
        f"[u] fewer than {min_n} applicable cases; [c] suppressed; [z] no applicable cases; "
        "[b] break in series (a different framework, a comparable question)."
    )
    return " ".join(parts)


def _draw(result: TR.TrendResult, min_n: int, title: str):
    import matplotlib
    from matplotlib.figure import Figure

    dated = [(c, lab) for c, lab in result.periods if c != R.NOT_RECORDED]
    xs = {c: i for i, (c, _) in enumerate(dated)}
    frame = result.frame.filter(pl.col("period") != R.NOT_RECORDED)
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(8.0, 4.6), dpi=100)
        ax = fig.add_axes((0.08, 0.14, 0.62, 0.68))
        breaks: set[int] = set()
        for k, ((_,), s) in enumerate(frame.group_by("series", maintain_order=True)):
            colour, marker = PALETTE[k], MARKERS[k]
            x, y = [], []
            for r in s.iter_rows(named=True):
                shown = r["percent_yes"] is not None and r["marker"] != R.MARK_SUPPRESSED
                x.append(xs[r["period"]])
                y.append(r["percent_yes"] if shown else float("nan"))  # a gap
                if r["break_in_series"]:
                    breaks.add(xs[r["period"]])
                if shown:
                    low = r["marker"] == R.MARK_LOW
                    ax.plot(
                        [xs[r["period"]]],
                        [r["percent_yes"]],
                        marker=marker,
                        markersize=7,
                        color=colour,
                        markerfacecolor="white" if low else colour,
                        linestyle="none",
                    )
            ax.plot(x, y, color=colour, linewidth=1.8)
            last = next((v for v in reversed(list(zip(x, y))) if v[1] == v[1]), None)
            if last is not None:
                ax.annotate(
                    s["series_label"][0],
                    (last[0], last[1]),
                    xytext=(8, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=9,
                    color=colour,
                    annotation_clip=False,
                )
        for b in sorted(breaks):
            ax.axvline(b - 0.5, color=TEXT, linestyle="--", linewidth=1)
            ax.text(b - 0.5, 101, f" {TR.MARK_BREAK}", fontsize=9, va="bottom", ha="left")
        ax.set_xticks(range(len(dated)), [lab for _, lab in dated])
        ax.set_xlim(-0.5, max(len(dated) - 0.5, 0.5))
        ax.set_ylim(0, 100)
        ax.set_ylabel("% yes of applicable cases")
        ax.set_xlabel(TR.PERIODS[result.period])
        ax.spines["top"].set_visible(False)
        ax.spines["right"].set_visible(False)
        ax.grid(axis="y", color="#D0D0D0", linewidth=0.6)
        ax.set_axisbelow(True)
        fig.text(0.01, 0.97, title, ha="left", va="top", fontsize=12, weight="bold")
        fig.text(
            0.01,
            0.91,
            f"Hollow points: fewer than {min_n} applicable cases [u]; gaps: suppressed [c] or "
            "none applicable [z]; dashed line: break in series [b].",
            ha="left",
            va="top",
            fontsize=8.5,
        )
    return fig


def trend_svg(result: TR.TrendResult, *, min_n: int = R.DEFAULT_MIN_N) -> str:

    _check(result)
    title = title_of(result)
    fig = _draw(result, min_n, title)
    return _accessible(svg_text(fig, "hmip-trend"), "hmip-trend", title, alt_text(result, min_n))


def trend_png(result: TR.TrendResult, *, min_n: int = R.DEFAULT_MIN_N, dpi: int = 150) -> bytes:
    _check(result)
    return png_bytes(_draw(result, min_n, title_of(result)), dpi)
