"""`hmip report`: the bulletin as one file (HTML, Markdown, or an accessible XLSX/ODS)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from hmip_cli import defaults
from hmip_cli.cli.common import handle_errors, load_framework, say
from hmip_cli.cli.options import (
    REMOVAL,
    AdjustOpt,
    CandidatesOpt,
    CiOpt,
    ClusterOpt,
    DataOpt,
    FdrOpt,
    GroupReferenceOpt,
    PinOpt,
    PoutOpt,
    PublishMinNOpt,
    PublishSuppressOpt,
    RemovalOpt,
    StoreFrameworkOpt,
    WhereOpt,
)
from hmip_cli.errors import BadRequest


class ReportFormatOpt(str, Enum):
    html = "html"
    markdown = "markdown"
    xlsx = "xlsx"
    ods = "ods"


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
    framework: StoreFrameworkOpt = None,
    where: WhereOpt = None,
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
    min_n: PublishMinNOpt = defaults.MIN_N,
    suppress: PublishSuppressOpt = True,
    fdr: FdrOpt = False,
    adjust: AdjustOpt = None,
    ci: CiOpt = defaults.REPORT_CI,
    cluster: ClusterOpt = defaults.REPORT_CLUSTER,
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
    ] = defaults.DISCLOSURE,
    reference: GroupReferenceOpt = None,
    pin: PinOpt = defaults.PIN,
    pout: PoutOpt = defaults.POUT,
    removal: RemovalOpt = REMOVAL,
    candidates: CandidatesOpt = None,
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
        ci=ci or defaults.REPORT_CI,
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
            framework=params.fw.name,
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
