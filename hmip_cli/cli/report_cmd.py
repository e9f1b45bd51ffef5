"""`hmip report` (the bulletin as HTML, Markdown or an accessible XLSX) and `hmip chart`
(Figures 1-4 as SVG, PNG or text bars)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from hmip_cli import rates as R
from hmip_cli.cli.common import (
    DEFAULT_CANDIDATES,
    AdjustOpt,
    DataOpt,
    PinOpt,
    PoutOpt,
    Removal,
    RemovalOpt,
    handle_errors,
    load_cases,
    load_framework,
    refuse_ignored,
    say,
)
from hmip_cli.cli.trend_cmd import FactorOpt, ItemOpt, MeasureOpt, Period, PeriodOpt
from hmip_cli.errors import BadRequest

MinNOpt = Annotated[
    int,
    typer.Option(
        "--min-n",
        min=1,
        metavar="N",
        show_default=True,
        help="Rates with fewer applicable cases than this are suppressed [c] (or, with "
        "--no-suppress, marked [u]).",
    ),
]
SuppressOpt = Annotated[
    bool,
    typer.Option(
        "--suppress/--no-suppress",
        show_default=True,
        help="Suppress rates below --min-n ([c], with a second group where needed) rather than "
        "only marking them [u]. A report is a publication, so the default is to suppress.",
    ),
]


class ReportFormatOpt(str, Enum):
    html = "html"
    markdown = "markdown"
    xlsx = "xlsx"
    ods = "ods"


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


def register(app: typer.Typer) -> None:
    @app.command("report")
    @handle_errors
    def report_cmd(
        output: Annotated[
            Path,
            typer.Option(
                "--output",
                "-o",
                dir_okay=False,
                metavar="FILE",
                help="The report file: .html, .md, .xlsx or .ods (written atomically).",
            ),
        ],
        fmt: Annotated[
            ReportFormatOpt | None,
            typer.Option(
                "--format",
                "-f",
                metavar="FORMAT",
                help="html, markdown, xlsx or ods. Default: from the --output extension "
                "(an extension that contradicts it is an error).",
            ),
        ] = None,
        data: DataOpt = None,
        where: Annotated[
            list[str] | None,
            typer.Option(
                "--where",
                "-w",
                metavar="KEY=VALUE",
                help="Report on these cases only, e.g. --where inspection=Durham (repeatable; "
                "as in `hmip rates --where`).",
            ),
        ] = None,
        title: Annotated[
            str | None,
            typer.Option("--title", metavar="TEXT", help="The report's title."),
        ] = None,
        release: Annotated[
            Path | None,
            typer.Option(
                "--release",
                metavar="FILE",
                dir_okay=False,
                help="A release.toml with the cover text: title, about, source, contact, "
                "published (see docs/report.md).",
            ),
        ] = None,
        min_n: MinNOpt = R.DEFAULT_MIN_N,
        suppress: SuppressOpt = True,
        fdr: Annotated[
            bool,
            typer.Option(
                "--fdr",
                help="The same as --adjust bh: Benjamini-Hochberg adjusted p-values beside p.",
            ),
        ] = False,
        adjust: AdjustOpt = None,
        ci: Annotated[
            str,
            typer.Option(
                "--ci",
                metavar="METHOD",
                help="Odds-ratio CIs in the differences table: profile likelihood (agrees with "
                "the LR p) or wald (SPSS's).",
            ),
        ] = "profile",
        cluster: Annotated[
            str,
            typer.Option(
                "--cluster",
                metavar="KEY",
                help="Breakdown whose groups are the clusters for the 'survives clustering?' "
                "check (cluster-robust S.E.), or none.",
            ),
        ] = "inspection",
        disclosure: Annotated[
            str,
            typer.Option(
                "--disclosure",
                metavar="POLICY",
                show_default=True,
                help="Disclosure control across the whole report: threshold-10 (no count "
                "below 10, zeros included, as the secure research services check), "
                "threshold-5, or none. Cells that would let a suppressed one be worked out "
                "are suppressed too; the log is written beside the report "
                "(REPORT.disclosure-audit.csv for an --output REPORT.html).",
            ),
        ] = "threshold-10",
        reference: Annotated[
            list[str] | None,
            typer.Option(
                "--reference",
                metavar="VAR=LEVEL",
                help="The reference group of a breakdown's odds ratios, so they read in your "
                "direction (e.g. provider=CRC: NPS against CRC); default the last group. "
                "Repeatable.",
            ),
        ] = None,
        pin: PinOpt = 0.05,
        pout: PoutOpt = 0.10,
        removal: RemovalOpt = Removal.lr,
        candidates: Annotated[
            str | None,
            typer.Option(
                "--candidates",
                metavar="A,B,...",
                help=f"Comma-separated breakdown keys offered to the stepwise models (default {DEFAULT_CANDIDATES}).",
            ),
        ] = None,
        date: Annotated[
            str | None,
            typer.Option(
                "--date",
                metavar="YYYY-MM-DD",
                help="The report date (default: $SOURCE_DATE_EPOCH, else today). Fix it for byte-identical "
                "reports.",
            ),
        ] = None,
    ) -> None:
        """The bulletin as one file: key findings in plain English, the sample profile,
        Figures 1-4 each with its data table, Tables 1 and 2, the significant subgroup
        differences from forward stepwise logistic regression (with a methods note and
        the cases in each model), small-number markers and suppression, and provenance
        (store content hash, cases, inspections, hmip version, parameters, date).

        \b
        Formats:
          html      one self-contained file (inline SVG and CSS; no network requests),
                    readable on a phone and printable
          markdown  tables and SVG figures written to <name>_figures/ beside the file
          xlsx      an accessible publication spreadsheet (Analysis Function guidance):
                    Cover, Contents, Notes, then one table per sheet, title in A1
          ods       the same workbook as OpenDocument (GOV.UK's open standard)

        Case identifiers and free-text notes never appear in a report.

        \b
        Example:
          hmip report --output report.html
          hmip report --output bulletin.xlsx --date 2019-01-31
          hmip report --output docs/report.md --no-suppress --min-n 20 --adjust holm
          hmip report --output bulletin.ods --date 2019-01-31
          hmip report --output durham.html --where inspection=Durham --title "Durham"
          hmip report --output strict.html --pin 0.01 --pout 0.05 --candidates provider,gender
          hmip report --output report.html --reference provider=CRC --reference ethnicity=white
        """
        from hmip_cli.fileio import check_writable
        from hmip_cli.report.content import ReportParams
        from hmip_cli.report.workbook import read_release
        from hmip_cli.report.write import infer_format, report_from_store

        kind = infer_format(output, fmt.value if fmt else None)
        check_writable(output)  # before minutes of work, not after
        rel = read_release(release) if release is not None else None
        keys = tuple(k.strip() for k in (candidates or "").split(",") if k.strip())
        params = ReportParams(
            min_n=min_n,
            suppress=suppress,
            fdr=fdr,
            adjust=adjust.value if adjust else None,
            date=date,
            pin=pin,
            pout=pout,
            removal=removal.value,
            candidates=keys or None,
            ci=ci,
            cluster=None if cluster == "none" else cluster,
            disclosure=disclosure,
            reference=_reference_pairs(reference or []),
            fw=load_framework(data),
        )
        from hmip_cli.cli.progress import progress_bar

        # a bar on a terminal (steps done / total, % and time left); nothing in pipes or logs
        with progress_bar() as progress:
            rep, written = report_from_store(
                data,
                output,
                params,
                kind,
                progress=progress,
                release=rel,
                where=where,
                title=title,
            )
        figures = [p for p in written if p.suffix == ".svg"]
        extra = f" and {len(figures)} figures in {figures[0].parent}" if figures else ""
        d = rep.disclosure
        audit = (
            f" Disclosure control ({d.policy}): {len(d.audit)} cells suppressed; log in "
            f"{written[-1].name}."
            if d is not None
            else ""
        )
        say(
            f"Wrote {output} ({kind.value}; {len(rep.key_findings)} key findings, "
            f"{len(rep.tables)} tables){extra}.{audit}"
        )

    @app.command("chart")
    @handle_errors
    def chart_cmd(
        ctx: typer.Context,
        figure: Annotated[
            str,
            typer.Argument(
                metavar="FIGURE",
                show_default=False,
                help="figure1 (availability), figure2 (delivery), figure3 "
                "(contracted providers), figure4 (partners), or trend (a line per series, "
                "as `hmip trend`; at most six: choose with --item, --factor, --measure).",
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
                help="Grouped bars: one bar per group of this breakdown (e.g. provider) for "
                "each factor, % yes with n, and a legend.",
            ),
        ] = None,
        data: DataOpt = None,
        min_n: MinNOpt = R.DEFAULT_MIN_N,
        suppress: SuppressOpt = True,
        period: PeriodOpt = Period.year,
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
          hmip chart figure2 --by provider --output fig2-provider.svg
          hmip chart figure3 --output fig3.png --no-suppress
          hmip chart figure2
          hmip chart trend --measure delivery --factor ete --factor drugs -o trend.svg
        """
        if figure.strip().lower() == "trend":
            refuse_ignored(ctx, ("by",), "with trend", "a trend's series are its factors")
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

            emit(Table(fig, charts.chart_title(n, breakdown)), Format.csv, output)
            return
        if breakdown is not None:
            payload = (
                charts.figure_by_svg(fig, n, breakdown.label, min_n=min_n).encode("utf-8")
                if kind is ChartFormat.svg
                else charts.figure_by_png(fig, n, breakdown.label, min_n=min_n)
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
    result = TR.trend(
        TR.segments_from_cases(load_cases(data), load_framework(data)),
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


def _reference_pairs(values: list[str]) -> tuple[tuple[str, str], ...]:
    """--reference VAR=LEVEL (repeatable, or comma-separated) -> ((var, level), ...)."""
    pairs = []
    for part in (p.strip() for v in values for p in v.split(",")):
        if not part:
            continue
        key, sep, level = part.partition("=")
        if not sep or not key.strip() or not level.strip():
            raise BadRequest(f"--reference: expected VAR=LEVEL (e.g. provider=CRC), got {part!r}")
        pairs.append((key.strip(), level.strip()))
    return tuple(pairs)
