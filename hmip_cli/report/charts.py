"""Figures 1-4 as SVG and PNG, drawn like the bulletin's figures and accessible.

Design (one choice, done consistently): per factor, in the bulletin's order, the full bar
is the number of applicable cases (an outline) and the filled segment the cases judged
yes; a label at the end of every bar gives the % yes and n, so no meaning is carried by
colour alone. A suppressed factor ([c]) or one without applicable cases ([z]) gets no bar,
only a note in its row, as the bulletin did for financial management in Figures 3 and 4.
A low-reliability rate ([u]) is drawn hatched and labelled [u].

Output is byte-identical for the same data: matplotlib's SVG hash salt is fixed (per
figure, so ids do not collide when several SVGs are inlined in one HTML page), the SVG has
no date, the PNG no software tag, and text is kept as text (`svg.fonttype = none`) so it
can be read by screen readers and searched. Every SVG carries <title> and <desc> (alt text)
and role="img". matplotlib is used through `Figure` objects only (no pyplot state).
"""

from __future__ import annotations

import html
import io
import re
from typing import Any

import polars as pl

from hmip_cli import framework
from hmip_cli import rates as R
from hmip_cli.framework.model import Framework
from hmip_cli.report import content as C

# UK Government Analysis Function categorical palette.
PALETTE = ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")
BAR = PALETTE[0]
TEXT = PALETTE[4]

_RC: Any = {  # matplotlib types rc keys as Literals; ours are checked at run time
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.edgecolor": TEXT,
    "axes.labelcolor": TEXT,
    "xtick.color": TEXT,
    "ytick.color": TEXT,
    "text.color": TEXT,
    "hatch.color": "white",
    "path.simplify": False,
}


def _label(row: dict, min_n: int = R.DEFAULT_MIN_N) -> str:
    """The text at the end of a factor's bar (or in place of it)."""
    marker = row["marker"]
    if marker == R.MARK_SUPPRESSED:
        return f"{R.MARK_SUPPRESSED} not shown: {C.hidden_reason(row, min_n)}"
    if marker == R.MARK_NOT_APPLICABLE or row["percent_yes"] is None:
        return f"{R.MARK_NOT_APPLICABLE} no applicable cases"
    text = f"{C.whole(row['percent_yes'])}% yes (n = {row['n']:,})"
    return f"{text} {R.MARK_LOW}" if marker == R.MARK_LOW else text


def axis_label(figure: int, fw: Framework | None = None) -> str:
    fw = framework.default() if fw is None else fw
    return fw.axis_label(C.measure_of_figure(figure, fw))


def subtitle(figure: int, fw: Framework | None = None) -> str:
    m = C.measure_of_figure(figure, fw)
    return f"Applicable cases (full bar) and % where: {m.label.lower()} (filled segment)"


def alt_text(
    data: pl.DataFrame, figure: int, min_n: int = R.DEFAULT_MIN_N, fw: Framework | None = None
) -> str:
    """A text equivalent of the chart: what it shows and every value in it."""
    fw = framework.default() if fw is None else fw
    m = C.measure_of_figure(figure, fw)
    question = m.question.replace("{area}", f"the {fw.wording.area_noun}")
    parts = [
        f"Horizontal bar chart. For each {fw.wording.area_noun}, the full bar is the number of applicable cases "
        f"and the filled segment the cases where the answer to '{question}' was yes."
    ]
    for r in data.iter_rows(named=True):
        if not C.shown(r):
            why = (
                "no applicable cases"
                if r["marker"] == R.MARK_NOT_APPLICABLE
                else f"not shown, {C.hidden_reason(r, min_n)}"
            )
            parts.append(f"{r['factor_label']}: {why}.")
        else:
            low = " (low reliability)" if r["marker"] == R.MARK_LOW else ""
            parts.append(
                f"{r['factor_label']}: {C.whole(r['percent_yes'])}% of {r['n']:,} applicable cases{low}."
            )
    return " ".join(parts)


# Drawn narrow, with every label at least 10 pt, so that shrunk to a phone's width (390 CSS
# px less the page margins, about 0.85 of the natural size) no text is under 10 CSS px; the
# factor names sit above their bars instead of beside them to leave the width to the bars.
WIDTH_IN = 4.4
FONT = 10.0
TITLE_FONT = 12.0
ROW_IN = 0.56  # per factor: its name, then its bar


def _wrap(text: str, size: float) -> str:
    """Wrap to the chart's width (an average glyph is about 0.55 em; bold titles wider)."""
    import textwrap

    per_line = int(WIDTH_IN * 72 / (size * (0.62 if size > FONT else 0.55)))
    return "\n".join(textwrap.wrap(text, per_line)) or text


def _header(fig, height: float, title: str, sub: str) -> float:
    """Title and subtitle at the top-left; returns the inches they take."""
    t, st = _wrap(title, TITLE_FONT), _wrap(sub, FONT)
    fig.text(0.0, 1.0, t, ha="left", va="top", fontsize=TITLE_FONT, weight="bold")
    used = 0.23 * (t.count("\n") + 1) + 0.06
    fig.text(0.0, 1.0 - used / height, st, ha="left", va="top", fontsize=FONT)
    return used + 0.19 * (st.count("\n") + 1)


def _header_height(title: str, sub: str) -> float:
    t, st = _wrap(title, TITLE_FONT), _wrap(sub, FONT)
    return 0.23 * (t.count("\n") + 1) + 0.06 + 0.19 * (st.count("\n") + 1)


def _bars_axes(fig, height: float, top_in: float, k: int, xlabel: str):
    """The axes for k rows below `top_in` inches of header and legend, x axis at the foot."""
    ax = fig.add_axes((0.0, _FOOT_IN / height, 1.0, (ROW_IN * k) / height))
    ax.set_ylim(k - 0.45, -0.8)  # first factor at the top, as in the bulletin
    ax.set_yticks([])
    ax.set_xlabel(_wrap(xlabel, FONT), fontsize=FONT, loc="left")
    ax.tick_params(axis="x", labelsize=FONT)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color="#D0D0D0", linewidth=0.6)
    ax.set_axisbelow(True)
    return ax


_FOOT_IN = 0.75  # x tick labels and a two-line axis label


def _draw(data: pl.DataFrame, figure: int, min_n: int, title: str | None, fw: Framework):
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    rows = data.to_dicts()
    k = len(rows)
    head = _header_height(title or C.figure_title(figure, fw), subtitle(figure, fw))
    legend_in = 0.45
    height = head + legend_in + ROW_IN * k + _FOOT_IN + 0.1
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(WIDTH_IN, height), dpi=100)
        _header(fig, height, title or C.figure_title(figure, fw), subtitle(figure, fw))
        ax = _bars_axes(fig, height, head + legend_in, k, axis_label(figure, fw))
        ns = [r["n"] or 0 for r in rows]
        top = max(ns) if ns and max(ns) > 0 else 1
        ax.set_xlim(0, top * 1.85)  # room for the value labels
        for y, r in enumerate(rows):
            ax.text(0, y - 0.3, r["factor_label"], va="bottom", ha="left", fontsize=FONT)
            if not C.shown(r):
                ax.text(
                    0, y, _label(r, min_n), va="center", ha="left", fontsize=FONT, style="italic"
                )
                continue
            n, yes = r["n"], r["n_yes"]
            low = r["marker"] == R.MARK_LOW
            ax.barh(y, n, height=0.44, color="white", edgecolor=BAR, linewidth=1.0)
            ax.barh(
                y,
                yes,
                height=0.44,
                color=BAR,
                edgecolor=BAR,
                linewidth=1.0,
                hatch="///" if low else None,
            )
            ax.text(n + top * 0.02, y, _label(r, min_n), va="center", ha="left", fontsize=FONT)
        handles = [
            Patch(facecolor=BAR, edgecolor=BAR, label="Yes (filled segment)"),
            Patch(facecolor="white", edgecolor=BAR, label="Applicable cases (full bar)"),
        ]
        fig.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(0.0, 1.0 - head / height),
            frameon=False,
            fontsize=FONT,
            ncols=1,
            borderaxespad=0,
            borderpad=0,
            handletextpad=0.5,
            labelspacing=0.25,
        )
    return fig


def figure_svg(
    data: pl.DataFrame,
    figure: int,
    *,
    min_n: int = R.DEFAULT_MIN_N,
    title: str | None = None,
    fw: Framework | None = None,
) -> str:
    """Figure `figure` as an SVG document (text), from `content.figure_data(...)`."""

    fw = framework.default() if fw is None else fw
    fig = _draw(data, figure, min_n, title, fw)
    return _accessible(
        svg_text(fig, f"hmip-figure-{figure}"),
        f"hmip-figure-{figure}",
        title or C.figure_title(figure, fw),
        alt_text(data, figure, min_n, fw),
    )


def figure_png(
    data: pl.DataFrame,
    figure: int,
    *,
    min_n: int = R.DEFAULT_MIN_N,
    title: str | None = None,
    dpi: int = 150,
    fw: Framework | None = None,
) -> bytes:
    """Figure `figure` as PNG bytes (no software or date metadata)."""
    fw = framework.default() if fw is None else fw
    fig = _draw(data, figure, min_n, title, fw)
    return png_bytes(fig, dpi)


def svg_text(fig, salt: str) -> str:
    """A drawn figure as SVG text, the same way for every chart: no date, and ids salted with
    `salt` (so the text depends on the data only and ids differ between figures)."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({**_RC, "svg.hashsalt": salt}):
        fig.savefig(
            buf,
            format="svg",
            metadata={"Date": None, "Creator": "hmip"},
            bbox_inches="tight",
            pad_inches=0.12,
        )
    return buf.getvalue()


def png_bytes(fig, dpi: int) -> bytes:
    """A drawn figure as PNG bytes, the same way for every chart (no software or date
    metadata, so the bytes depend on the data only)."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(
            buf,
            format="png",
            dpi=dpi,
            metadata={"Software": None},
            bbox_inches="tight",
            pad_inches=0.12,
        )
    return buf.getvalue()


_SVG_OPEN = re.compile(r"<svg\b[^>]*>")


def _accessible(svg: str, ident: str, title: str, desc: str) -> str:
    """Add role="img", <title> and <desc> (referenced by aria-labelledby) to the root <svg>."""
    m = _SVG_OPEN.search(svg)
    if m is None:  # pragma: no cover - matplotlib always writes one
        return svg
    tag = m.group(0)
    new_tag = tag[:-1] + f' role="img" aria-labelledby="{ident}-title {ident}-desc">'
    inner = (
        f'\n <title id="{ident}-title">{html.escape(title)}</title>'
        f'\n <desc id="{ident}-desc">{html.escape(desc)}</desc>'
    )
    return svg[: m.start()] + new_tag + inner + svg[m.end() :]


def inline_svg(svg: str, prefix: str = "") -> str:
    """The <svg> element alone (no XML declaration or DOCTYPE), for embedding in HTML.

    With `prefix`, every id matplotlib wrote (and every reference to one) is prefixed, so
    that several figures in one page never share an id ("patch_1", clip paths, ...).
    """
    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg
    # The RDF <metadata> block only names vocabularies; inline it is noise.
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
    if prefix:
        own = r"(?!hmip-)"
        svg = re.sub(rf'\bid="{own}([^"]+)"', rf'id="{prefix}\1"', svg)
        svg = re.sub(rf"url\(#{own}([^)]+)\)", rf"url(#{prefix}\1)", svg)
        svg = re.sub(rf'href="#{own}([^"]+)"', rf'href="#{prefix}\1"', svg)
    return svg


# --------------------------------------------------------------------------------------
# One figure by a breakdown (`hmip chart figure1 --by provider`): grouped bars
# --------------------------------------------------------------------------------------

BY_COLUMNS = (
    "factor",
    "factor_label",
    "breakdown",
    "group",
    "group_label",
    "n",
    "n_yes",
    "percent_yes",
    "ci_lower",
    "ci_upper",
    "low_reliability",
    "marker",
)


def by_data(rates_frame: pl.DataFrame, figure: int, breakdown: str) -> pl.DataFrame:
    """The group rows of one figure for one breakdown from a `rates(..., by=[breakdown])`
    frame, factors in the bulletin's order and groups in the breakdown's. Columns: factor,
    factor_label, breakdown, group, group_label, n, n_yes, percent_yes, ci_lower, ci_upper,
    low_reliability, marker (as in `rates.rates`)."""
    return rates_frame.filter(
        (pl.col("figure") == figure) & (pl.col("breakdown") == breakdown)
    ).select(BY_COLUMNS)


def chart_title(figure: int, breakdown=None, fw: Framework | None = None) -> str:
    """The chart's title: the figure's, and 'by <breakdown>' for grouped bars."""
    if breakdown is None:
        return C.figure_title(figure, fw)
    return by_title(figure, breakdown.label, fw)


def by_title(figure: int, breakdown_label: str, fw: Framework | None = None) -> str:
    return f"{C.figure_title(figure, fw)}, by {breakdown_label[:1].lower() + breakdown_label[1:]}"


def by_subtitle(figure: int, breakdown_label: str, fw: Framework | None = None) -> str:
    m = C.measure_of_figure(figure, fw)
    return (
        f"% of applicable cases where: {m.label.lower()}, one bar for each "
        f"{breakdown_label[:1].lower() + breakdown_label[1:]} group"
    )


def _group_label(row: dict, min_n: int) -> str:
    """The text at the end of a group's bar: the group named, so colour is never needed."""
    marker = row["marker"]
    if marker == R.MARK_SUPPRESSED:
        return f"{row['group_label']}: {R.MARK_SUPPRESSED} not shown, {C.hidden_reason(row, min_n)}"
    if marker == R.MARK_NOT_APPLICABLE or row["percent_yes"] is None:
        return f"{row['group_label']}: {R.MARK_NOT_APPLICABLE} no applicable cases"
    text = f"{row['group_label']} {C.whole(row['percent_yes'])}% (n = {row['n']:,})"
    return f"{text} {R.MARK_LOW}" if marker == R.MARK_LOW else text


def by_alt_text(
    data: pl.DataFrame,
    figure: int,
    breakdown_label: str,
    min_n: int,
    fw: Framework | None = None,
) -> str:
    """A text equivalent of the grouped chart: what it shows and every value in it."""
    fw = framework.default() if fw is None else fw
    m = C.measure_of_figure(figure, fw)
    question = m.question.replace("{area}", f"the {fw.wording.area_noun}")
    parts = [
        f"Grouped horizontal bar chart. For each {fw.wording.area_noun}, one bar for each "
        f"{breakdown_label.lower()} group gives the % of applicable cases where the answer to "
        f"'{question}' was yes."
    ]
    for (_, label), part in data.group_by(["factor", "factor_label"], maintain_order=True):
        bits = []
        for r in part.iter_rows(named=True):
            if C.shown(r):
                low = " (low reliability)" if r["marker"] == R.MARK_LOW else ""
                bits.append(
                    f"{r['group_label']} {C.whole(r['percent_yes'])}% of {r['n']:,} applicable "
                    f"cases{low}"
                )
            elif r["marker"] == R.MARK_NOT_APPLICABLE:
                bits.append(f"{r['group_label']} no applicable cases")
            else:
                bits.append(f"{r['group_label']} not shown, {C.hidden_reason(r, min_n)}")
        parts.append(f"{label}: " + "; ".join(bits) + ".")
    return " ".join(parts)


def _draw_by(
    data: pl.DataFrame, figure: int, breakdown_label: str, min_n: int, fw: Framework | None
):
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    factors = [
        (label, part.to_dicts())
        for (_, label), part in data.group_by(["factor", "factor_label"], maintain_order=True)
    ]
    groups = list(dict.fromkeys(data["group_label"].to_list()))
    colour = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
    g = max(len(groups), 1)
    title, sub = by_title(figure, breakdown_label, fw), by_subtitle(figure, breakdown_label, fw)
    head = _header_height(title, sub)
    legend_in = 0.1 + 0.2 * g
    slot = 0.27  # inches per group bar
    row_in = 0.3 + slot * g
    k = len(factors)
    units = row_in / slot  # one data unit = one group bar
    span = (k - 1) * units + g + 0.9  # from the first factor's name to the last bar
    height = head + legend_in + span * slot + _FOOT_IN + 0.1
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(WIDTH_IN, height), dpi=100)
        _header(fig, height, title, sub)
        ax = fig.add_axes((0.0, _FOOT_IN / height, 1.0, (span * slot) / height))
        ax.set_ylim((k - 1) * units + g - 0.4, -1.3)
        ax.set_yticks([])
        ax.set_xlim(0, 175)  # the bars end by 100%; the rest is room for the labels
        ax.set_xticks(range(0, 101, 20), [f"{x}%" for x in range(0, 101, 20)])
        ax.tick_params(axis="x", labelsize=FONT)
        ax.set_xlabel(
            _wrap("Percentage of applicable cases where the answer was yes", FONT),
            fontsize=FONT,
            loc="left",
        )
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.spines["bottom"].set_bounds(0, 100)
        ax.grid(axis="x", color="#D0D0D0", linewidth=0.6)
        ax.set_axisbelow(True)
        for i, (label, rows) in enumerate(factors):
            y0 = i * units
            ax.text(0, y0 - 0.6, label, va="bottom", ha="left", fontsize=FONT, weight="bold")
            for j, r in enumerate(rows):
                y = y0 + j
                if not C.shown(r):
                    ax.text(
                        0,
                        y,
                        _group_label(r, min_n),
                        va="center",
                        ha="left",
                        fontsize=FONT,
                        style="italic",
                    )
                    continue
                low = r["marker"] == R.MARK_LOW
                ax.barh(
                    y,
                    r["percent_yes"],
                    height=0.8,
                    color=colour[r["group_label"]],
                    edgecolor=colour[r["group_label"]],
                    hatch="///" if low else None,
                )
                ax.text(
                    r["percent_yes"] + 1.5,
                    y,
                    _group_label(r, min_n),
                    va="center",
                    ha="left",
                    fontsize=FONT,
                )
        fig.legend(
            handles=[Patch(facecolor=colour[gl], edgecolor=colour[gl], label=gl) for gl in groups],
            loc="upper left",
            bbox_to_anchor=(0.0, 1.0 - head / height),
            frameon=False,
            fontsize=FONT,
            ncols=1,
            borderaxespad=0,
            borderpad=0,
            handletextpad=0.5,
            labelspacing=0.25,
            title=breakdown_label,
            title_fontsize=FONT,
            alignment="left",
        )
    return fig


def figure_by_svg(
    data: pl.DataFrame,
    figure: int,
    breakdown_label: str,
    *,
    min_n: int = R.DEFAULT_MIN_N,
    fw: Framework | None = None,
) -> str:
    """Figure `figure` by a breakdown as an SVG document, from `by_data(...)`: grouped bars
    (% yes per group), each labelled with its group, %, n; <title>, <desc> and role="img"."""

    fig = _draw_by(data, figure, breakdown_label, min_n, fw)
    return _accessible(
        svg_text(fig, f"hmip-figure-{figure}-by"),
        f"hmip-figure-{figure}-by",
        by_title(figure, breakdown_label, fw),
        by_alt_text(data, figure, breakdown_label, min_n, fw),
    )


def figure_by_png(
    data: pl.DataFrame,
    figure: int,
    breakdown_label: str,
    *,
    min_n: int = R.DEFAULT_MIN_N,
    dpi: int = 150,
    fw: Framework | None = None,
) -> bytes:
    """Figure `figure` by a breakdown as PNG bytes (no software or date metadata)."""
    fig = _draw_by(data, figure, breakdown_label, min_n, fw)
    return png_bytes(fig, dpi)
