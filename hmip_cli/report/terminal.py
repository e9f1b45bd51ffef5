"""Figures 1-4 as text: horizontal bars for the terminal, readable without colour.

Each bar is 0-100%: `█` for the share judged yes and `░` for the rest, followed by the %
(whole number, as in the bulletin's charts) and n (applicable cases). Suppressed and empty
rates get no bar, only their marker and a few words. Plain text: no ANSI codes, no Rich.
"""

from __future__ import annotations

import polars as pl

from hmip_cli import rates as R
from hmip_cli.framework.model import Framework
from hmip_cli.render import half_up
from hmip_cli.report import content as C
from hmip_cli.tables import marker_notes

YES, REST = "\u2588", "\u2591"


def bar(percent: float, width: int) -> str:
    filled = min(width, max(0, int(half_up(percent * width / 100.0, "1"))))
    return YES * filled + REST * (width - filled)


def _line(label: str, r: dict, label_width: int, width: int, min_n: int) -> str:
    head = label.ljust(label_width)
    n = r["n"] or 0
    if r["marker"] == R.MARK_SUPPRESSED:
        shown_n = f" (n={r['n']:,})" if r["n"] is not None else ""  # n may be hidden too
        return f"{head}  {R.MARK_SUPPRESSED} not shown: {C.hidden_reason(r, min_n)}{shown_n}"
    if r["marker"] == R.MARK_NOT_APPLICABLE or r["percent_yes"] is None:
        return f"{head}  {R.MARK_NOT_APPLICABLE} no applicable cases"
    text = f"{head}  {bar(r['percent_yes'], width)} {C.whole(r['percent_yes']):>3}%  n={n:,}"
    return text + (f" {R.MARK_LOW}" if r["marker"] == R.MARK_LOW else "")


def _bar_label(r: dict) -> str:
    """A bar's label: the factor on an all-cases row, else the indented group."""
    return (
        r["factor_label"]
        if r["breakdown"] == R.ALL
        else f"  {r['breakdown_label']}: {r['group_label']}"
    )


def bar_width_for(
    frame: pl.DataFrame, columns: int, *, widest: int = 40, narrowest: int = 10
) -> int:
    """The longest bar (at most `widest`) that keeps every bar line within `columns` characters:
    label, two spaces, bar, " 100%  n=1,066 [u]"."""
    labels = [_bar_label(r) for r in frame.iter_rows(named=True)]
    n_max = max((r or 0 for r in frame["n"].to_list()), default=0)
    tail = len(f" 100%  n={n_max:,} {R.MARK_LOW}")
    room = columns - max((len(s) for s in labels), default=0) - 2 - tail
    return max(narrowest, min(widest, room))


def text_chart(
    frame: pl.DataFrame,
    *,
    min_n: int = R.DEFAULT_MIN_N,
    width: int = 40,
    fw: Framework | None = None,
) -> str:
    """Bars for every measure in a `rates()` frame, factors in the bulletin's order.

    Where the frame has breakdown rows (`rates(..., by=...)`), each factor's all-cases bar
    is followed by one indented bar per group.
    """
    out: list[str] = []
    for (figure,), part in frame.group_by("figure", maintain_order=True):
        rows = part.to_dicts()
        labels = [_bar_label(r) for r in rows]
        lw = max(len(s) for s in labels)
        if out:
            out.append("")
        out.append(C.figure_title(figure, fw))
        out.append(f"% yes of applicable cases ({YES} yes, {REST} no; bar = 0-100%)")
        out.append("n = applicable cases")
        out.append("")
        for label, r in zip(labels, rows):
            out.append(_line(label, r, lw, width, min_n))
        notes = marker_notes(part, min_n)  # the rates tables' words for the same markers
        if notes:
            out.append("")
            out.extend(notes)
    return "\n".join(out) + "\n"


def text_chart_for(
    frame: pl.DataFrame, *, min_n: int, to_file: bool, fw: Framework | None = None
) -> str:
    """`text_chart` as `hmip rates --chart` and `hmip chart` print it: 40-character bars in a
    file, and on a terminal the longest bars that fit its width."""
    from hmip_cli.render import terminal_width

    width = 40 if to_file else bar_width_for(frame, terminal_width())
    return text_chart(frame, min_n=min_n, width=width, fw=fw)
