"""Write a built report to a file, in the format its name (or the caller) asks for."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from hmip_cli.errors import BadRequest
from hmip_cli.fileio import atomic_write_bytes
from hmip_cli.report import charts
from hmip_cli.report import content as C


class ReportFormat(str, Enum):
    html = "html"
    markdown = "markdown"
    xlsx = "xlsx"


_EXTENSIONS = {
    ".html": ReportFormat.html,
    ".htm": ReportFormat.html,
    ".md": ReportFormat.markdown,
    ".markdown": ReportFormat.markdown,
    ".xlsx": ReportFormat.xlsx,
}


def infer_format(path: Path, fmt: ReportFormat | str | None = None) -> ReportFormat:
    if fmt:
        return ReportFormat(fmt)
    got = _EXTENSIONS.get(Path(path).suffix.lower())
    if got is None:
        raise BadRequest(
            f"cannot tell the report format from {Path(path).name!r}: use a .html, .md or .xlsx "
            "name, or --format html|markdown|xlsx"
        )
    return got


def write_report(report: C.Report, path: Path, fmt: ReportFormat | str | None = None) -> list[Path]:
    """Write `report` to `path` (atomically); return every file written (Markdown also writes
    its figures to `<stem>_figures/`)."""
    path = Path(path)
    fmt = infer_format(path, fmt)
    if fmt is ReportFormat.xlsx:
        from hmip_cli.report.xlsx import write_xlsx

        return write_xlsx(report, path)
    svgs = {
        n: charts.figure_svg(d, n, min_n=report.params.min_n) for n, d in report.figures.items()
    }
    if fmt is ReportFormat.markdown:
        from hmip_cli.report.markdown import write_markdown

        return write_markdown(report, path, svgs)
    from hmip_cli.report.html import render_html

    atomic_write_bytes(path, render_html(report, svgs).encode("utf-8"))
    return [path]


def report_from_store(
    data: Path | None,
    path: Path,
    params: C.ReportParams | None = None,
    fmt: ReportFormat | str | None = None,
    progress=None,
) -> tuple[C.Report, list[Path]]:
    """Load the store, build the report once and write it: what `hmip report` and
    `hmip demo --report` do. Returns the report and the files written."""
    from hmip_cli import store

    kind = infer_format(path, fmt)
    cases, info = store.load_cases_and_info(data, identifying=False)
    rep = C.build_report(cases, info=info, params=params, progress=progress)
    return rep, write_report(rep, path, kind)
