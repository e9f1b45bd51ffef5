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

from hmip_cli import rates as R
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
        return f"{R.MARK_SUPPRESSED} not shown: fewer than {min_n} applicable cases"
    if marker == R.MARK_NOT_APPLICABLE or row["percent_yes"] is None:
        return f"{R.MARK_NOT_APPLICABLE} no applicable cases"
    text = f"{C.whole(row['percent_yes'])}% yes (n = {row['n']:,})"
    return f"{text} {R.MARK_LOW}" if marker == R.MARK_LOW else text


def axis_label(figure: int) -> str:
    m = C.measure_of_figure(figure)
    if not m.requires_involvement:
        return "Number of applicable cases (the factor was a priority)"
    who = m.label.split(" contributed")[0].lower()
    return f"Number of applicable cases (the factor was a priority and {who} were involved)"


def subtitle(figure: int) -> str:
    m = C.measure_of_figure(figure)
    return f"Applicable cases (full bar) and % where: {m.label.lower()} (filled segment)"


def alt_text(data: pl.DataFrame, figure: int, min_n: int = R.DEFAULT_MIN_N) -> str:
    """A text equivalent of the chart: what it shows and every value in it."""
    m = C.measure_of_figure(figure)
    parts = [
        f"Horizontal bar chart. For each factor, the full bar is the number of applicable cases "
        f"and the filled segment the cases where the answer to '{m.question}' was yes."
    ]
    for r in data.iter_rows(named=True):
        if not C._shown(r):
            why = (
                "no applicable cases"
                if r["marker"] == R.MARK_NOT_APPLICABLE
                else f"not shown, fewer than {min_n} applicable cases"
            )
            parts.append(f"{r['factor_label']}: {why}.")
        else:
            low = " (low reliability)" if r["marker"] == R.MARK_LOW else ""
            parts.append(
                f"{r['factor_label']}: {C.whole(r['percent_yes'])}% of {r['n']:,} applicable cases{low}."
            )
    return " ".join(parts)


def _draw(data: pl.DataFrame, figure: int, min_n: int, title: str | None):
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    rows = data.to_dicts()
    k = len(rows)
    # Layout in inches: title and subtitle, legend, the bars (0.42 in each), the x axis.
    height = 2.0 + 0.42 * k
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(8.0, height), dpi=100)
        ax = fig.add_axes((0.36, 0.75 / height, 0.60, (0.42 * k) / height))
        ns = [r["n"] or 0 for r in rows]
        top = max(ns) if ns and max(ns) > 0 else 1
        xmax = top * 1.45  # room for the labels
        ys = list(range(k))
        for y, r in zip(ys, rows):
            if not C._shown(r):
                ax.text(
                    0,
                    y,
                    " " + _label(r, min_n),
                    va="center",
                    ha="left",
                    fontsize=9,
                    style="italic",
                    color=TEXT,
                )
                continue
            n, yes = r["n"], r["n_yes"]
            low = r["marker"] == R.MARK_LOW
            ax.barh(y, n, height=0.62, color="white", edgecolor=BAR, linewidth=1.0)
            ax.barh(
                y,
                yes,
                height=0.62,
                color=BAR,
                edgecolor=BAR,
                linewidth=1.0,
                hatch="///" if low else None,
            )
            ax.text(
                n + top * 0.015, y, _label(r, min_n), va="center", ha="left", fontsize=9, color=TEXT
            )
        ax.set_yticks(ys, [r["factor_label"] for r in rows])
        ax.set_ylim(k - 0.4, -0.6)  # first factor at the top, as in the bulletin
        ax.set_xlim(0, xmax)
        ax.set_xlabel(axis_label(figure))
        ax.set_ylabel("Factor")
        ax.spines["top"].set_visible(False)
        ax.spines["right"].set_visible(False)
        ax.grid(axis="x", color="#D0D0D0", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.tick_params(axis="y", length=0)
        fig.text(
            0.01,
            1 - 0.12 / height,
            title or C.figure_title(figure),
            ha="left",
            va="top",
            fontsize=12,
            weight="bold",
        )
        fig.text(0.01, 1 - 0.45 / height, subtitle(figure), ha="left", va="top", fontsize=9.5)
        handles = [
            Patch(facecolor=BAR, edgecolor=BAR, label="Yes (filled segment)"),
            Patch(facecolor="white", edgecolor=BAR, label="Applicable cases (full bar)"),
        ]
        ax.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(-0.55, 1.02),
            frameon=False,
            fontsize=9,
            ncols=2,
            borderaxespad=0,
        )
    return fig


def figure_svg(
    data: pl.DataFrame, figure: int, *, min_n: int = R.DEFAULT_MIN_N, title: str | None = None
) -> str:
    """Figure `figure` as an SVG document (text), from `content.figure_data(...)`."""
    import matplotlib

    fig = _draw(data, figure, min_n, title)
    buf = io.StringIO()
    with matplotlib.rc_context({**_RC, "svg.hashsalt": f"hmip-figure-{figure}"}):
        fig.savefig(
            buf,
            format="svg",
            metadata={"Date": None, "Creator": "hmip"},
            bbox_inches="tight",
            pad_inches=0.12,
        )
    return _accessible(
        buf.getvalue(),
        f"hmip-figure-{figure}",
        title or C.figure_title(figure),
        alt_text(data, figure, min_n),
    )


def figure_png(
    data: pl.DataFrame,
    figure: int,
    *,
    min_n: int = R.DEFAULT_MIN_N,
    title: str | None = None,
    dpi: int = 150,
) -> bytes:
    """Figure `figure` as PNG bytes (no software or date metadata)."""
    import matplotlib

    fig = _draw(data, figure, min_n, title)
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
