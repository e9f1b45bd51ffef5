"""`hmip chart`: one of the bulletin's Figures 1-4 (or a trend) as SVG, PNG or text bars."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from hmip_cli import rates as R
from hmip_cli import schema
from hmip_cli.cli.common import (
    handle_errors,
    load_cases,
    load_framework,
    load_segments,
    refuse_ignored,
    say,
)
from hmip_cli.cli.options import (
    LEAD,
    DataOpt,
    FactorOpt,
    ItemOpt,
    MeasureOpt,
    PeriodOpt,
    PublishMinNOpt,
    PublishSuppressOpt,
    StoreFrameworkOpt,
    with_examples,
)
from hmip_cli.defaults import MIN_N
from hmip_cli.errors import BadRequest

# figure1 (the first measure's label), figure2 (...), ...: the default framework's figures.
FIGURES = ", ".join(
    f"figure{m.figure} ({m.label.lower()})" for m in sorted(schema.MEASURES, key=lambda m: m.figure)
)


class ChartFormat(str, Enum):
    svg = "svg"
    png = "png"
    text = "text"
    csv = "csv"


def _figure_number(name: str, fw) -> int:
    key = name.strip().lower().replace("figure", "").replace("fig", "").strip("-_ ")
    figures = sorted(m.figure for m in fw.measures)
    if key.isdigit() and int(key) in figures:
        return int(key)
    for m in fw.measures:
        if key in (m.key, *m.aliases):
            return m.figure
    raise BadRequest(
        f"unknown figure {name!r}; choose from: " + ", ".join(f"figure{n}" for n in figures)
    )


_CHART_EXTENSIONS = {".svg": "svg", ".png": "png", ".txt": "text", ".csv": "csv"}


def _chart_format(fmt: ChartFormat | None, output: Path | None) -> ChartFormat:
    """--format, else the --output extension, else text; a contradiction is a usage error."""
    implied = _CHART_EXTENSIONS.get(output.suffix.lower()) if output is not None else None
    if fmt is not None:
        if output is not None and implied is not None and implied != fmt.value:
            raise BadRequest(
                f"--format {fmt.value} contradicts the file name {output.name!r} (which means "
                f"{implied}): drop --format or change the extension"
            )
        return fmt
    if output is None:
        return ChartFormat.text
    if implied is None:
        raise BadRequest(
            f"cannot tell the chart format from {output.name!r}: use .svg, .png, .txt or .csv, "
            "or --format"
        )
    return ChartFormat(implied)


@handle_errors
def chart_cmd(
    ctx: typer.Context,
    figure: Annotated[
        str,
        typer.Argument(
            metavar="FIGURE",
            show_default=False,
            help=f"{FIGURES}, or trend (a line per series, as `hmip trend`; at most six: "
            "choose with --item, --factor, --measure).",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            dir_okay=False,
            metavar="FILE",
            help="Write an .svg, .png, .txt or .csv (the chart's data) file. Without it: "
            "text bars on stdout.",
        ),
    ] = None,
    fmt: Annotated[
        ChartFormat | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="svg, png, text or csv (the data behind the chart). Default: from the "
            "--output extension, else text.",
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            "-b",
            metavar="KEY",
            help=f"Grouped bars: one bar per group of this breakdown (e.g. {LEAD.key}) for "
            "each factor, % yes with n, and a legend.",
        ),
    ] = None,
    data: DataOpt = None,
    framework: StoreFrameworkOpt = None,
    min_n: PublishMinNOpt = MIN_N,
    suppress: PublishSuppressOpt = True,
    period: PeriodOpt = None,
    measure: MeasureOpt = None,
    factor: FactorOpt = None,
    item: ItemOpt = None,
) -> None:
    """One of the bulletin's Figures 1-4 as a chart: per factor, the applicable cases
    (full bar) and the cases judged yes (filled segment), labelled with % yes and n.
    Suppressed factors are shown as [c] with no bar. With --by, grouped bars: per factor
    one bar per group (% yes), each labelled with its group, % and n.

    SVG and PNG output is byte-identical for the same data; the SVG has a <title> and
    <desc> (alt text) and keeps its text as text; .csv writes the data behind the chart.

    \b
    `trend` draws a trend (`hmip trend`) as lines: % yes per period, hollow points
    for [u], gaps for [c] and [z], a dashed line at a break in series [b]; the SVG's
    <desc> holds the whole data table. As text it prints the trend table.

    \b
    Example:
      hmip chart figure1 --output fig1.svg
      hmip chart figure2 --by {lead} --output fig2-{lead}.svg
      hmip chart figure3 --output fig3.png --no-suppress
      hmip chart figure2
      hmip chart trend --measure {measure} --factor {factor2} --factor {factor3} -o trend.svg
    """
    if figure.strip().lower() == "trend":
        refuse_ignored(ctx, ("by",), "with trend", "a trend's series are its factors")
        refuse_ignored(
            ctx, ("framework",), "with trend", "a trend compares every framework in the store"
        )
        if fmt is ChartFormat.csv or (output is not None and output.suffix.lower() == ".csv"):
            raise BadRequest("a trend's data: hmip trend -o FILE.csv (chart trend draws it)")
        _trend_chart(output, fmt, data, min_n, suppress, period, measure, factor, item)
        return
    refuse_ignored(
        ctx, ("period", "measure", "factor", "item"), "to figures 1-4", "use FIGURE trend"
    )
    from hmip_cli.fileio import atomic_write_bytes
    from hmip_cli.render import strip_controls, write_text
    from hmip_cli.report import charts
    from hmip_cli.report.content import figure_data
    from hmip_cli.report.terminal import text_chart_for

    fw = load_framework(data)
    n = _figure_number(figure, fw)
    if output is not None:
        from hmip_cli.fileio import check_writable

        check_writable(output)
    kind = _chart_format(fmt, output)
    if kind is ChartFormat.png and output is None:
        raise BadRequest("PNG output needs --output FILE")
    shown = fw.measure_of_figure(n)
    breakdown = fw.breakdown(by) if by is not None else None
    frame = R.rates(
        load_cases(data),
        measures=[shown.key],
        by=[breakdown.key] if breakdown else None,
        min_n=min_n,
        suppress=suppress,
        fw=fw,
    )
    if kind is ChartFormat.text:
        chart_text = text_chart_for(frame, min_n=min_n, to_file=output is not None, fw=fw)
        write_text(strip_controls(chart_text), output)
        return
    fig = charts.by_data(frame, n, breakdown.key) if breakdown else figure_data(frame, n)
    if kind is ChartFormat.csv:
        from hmip_cli.render import Format, Table, emit

        emit(Table(fig, charts.chart_title(n, breakdown, fw)), Format.csv, output)
        return
    if breakdown is not None:
        payload = (
            charts.figure_by_svg(fig, n, breakdown.label, min_n=min_n, fw=fw).encode("utf-8")
            if kind is ChartFormat.svg
            else charts.figure_by_png(fig, n, breakdown.label, min_n=min_n, fw=fw)
        )
    else:
        payload = (
            charts.figure_svg(fig, n, min_n=min_n, fw=fw).encode("utf-8")
            if kind is ChartFormat.svg
            else charts.figure_png(fig, n, min_n=min_n, fw=fw)
        )
    if output is None:
        write_text(payload.decode("utf-8"))
        return
    atomic_write_bytes(output, payload)
    say(f"Wrote {output} ({kind.value}).")


def _trend_chart(output, fmt, data, min_n, suppress, period, measure, factor, item) -> None:
    """`hmip chart trend`: the trend's lines as SVG/PNG, or its table as text."""
    from hmip_cli import trend as TR
    from hmip_cli import trend_tables as TT
    from hmip_cli.fileio import atomic_write_bytes, check_writable
    from hmip_cli.render import Format, to_text, write_text
    from hmip_cli.report import trend_chart

    if output is not None:
        check_writable(output)
    kind = _chart_format(fmt, output)
    if kind is ChartFormat.png and output is None:
        raise BadRequest("PNG output needs --output FILE")
    segments, crosswalks = load_segments(data)
    result = TR.trend(
        segments,
        crosswalks=crosswalks,
        period=period.value if period else None,
        measures=measure,
        areas=factor,
        items=item,
        min_n=min_n,
        suppress=suppress,
    )
    if kind is ChartFormat.text:
        write_text(
            to_text(TT.trend_tables(result, Format.table, min_n=min_n), Format.table), output
        )
        return
    payload = (
        trend_chart.trend_svg(result, min_n=min_n).encode("utf-8")
        if kind is ChartFormat.svg
        else trend_chart.trend_png(result, min_n=min_n)
    )
    if output is None:
        write_text(payload.decode("utf-8"))
        return
    atomic_write_bytes(output, payload)
    say(f"Wrote {output} ({kind.value}).")


chart_cmd.__doc__ = with_examples(chart_cmd.__doc__)
