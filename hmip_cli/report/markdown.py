"""The report as Markdown for a repository: tables, and figures as SVG files beside it.

`write_markdown(report, path)` writes `path` and `<stem>_figures/figure1.svg ...` next to
it, linked by relative paths, all or nothing (`fileio.atomic_write_files`). Every piece of text
goes through `render.markdown_escape`, the one Markdown escaper (table cells, the HTML that
Markdown renderers pass through, links, emphasis).
"""

from __future__ import annotations

from pathlib import Path

from hmip_cli.fileio import atomic_write_files
from hmip_cli.render import markdown_escape, markdown_table
from hmip_cli.report import charts
from hmip_cli.report import content as C
from hmip_cli.report.html import anchor


def _table(t: C.DocTable, min_n: int) -> list[str]:
    return [*markdown_table(C.publication_view(t, min_n), caption=True), ""]


def figures_dir(path: Path) -> Path:
    return path.with_name(f"{path.stem}_figures")


def render_markdown(report: C.Report, figures_folder: str) -> str:
    """The Markdown text; figures are linked as `<figures_folder>/figureN.svg`."""
    p = report.provenance
    out = [
        f"# {markdown_escape(report.display_title)}",
        "",
        *([f"> **{markdown_escape(C.SYNTHETIC_BANNER)}**", ""] if report.synthetic else []),
        f"{p.n_cases:,} case assessments; {len(p.inspections)} inspections; report date {p.date.isoformat()}. "
        f"Store content hash: `{p.content_hash or 'none'}`",
        "",
        "## Key findings",
        "",
    ]
    for group in C.findings_in_groups(report.key_findings):
        if group.heading:
            out += ["", f"### {group.heading}", ""]
        for f in group.findings:
            refs = [
                f"[{markdown_escape(C.short_name(report.table(t)))}](#{t})"
                for t in (f.table, *f.also)
            ]
            out.append(f"- {markdown_escape(f.text)} (see {', '.join(refs)})")
    out.append("")
    for s in C.sections(report):
        out += [f"## {markdown_escape(s.heading)}", "", markdown_escape(s.intro), ""]
        if s.figure is not None:
            alt = charts.alt_text(
                report.figures[s.figure], s.figure, report.params.min_n, report.params.fw
            )
            out += [f"![{markdown_escape(alt)}]({figures_folder}/figure{s.figure}.svg)", ""]
        out += _table(s.table, report.params.min_n)
    out += ["## Notes", ""]
    out += [
        f"- `{code}` {markdown_escape(text)}"
        for code, text in C.marker_definitions(report.params.min_n)
    ]
    out += [
        "",
        "Percentages in tables are rounded half up to one decimal place from the exact fraction; in "
        "figures and key findings to whole numbers.",
        "",
        "## Provenance",
        "",
        "| Item | Value |",
        "|---|---|",
    ]
    out += [f"| {markdown_escape(k)} | {markdown_escape(v)} |" for k, v in p.items()]
    return "\n".join(out) + "\n"


def write_markdown(report: C.Report, path: Path, svgs: dict[int, str] | None = None) -> list[Path]:
    """Write the Markdown file and its SVG figures; return every path written."""
    path = Path(path)
    folder = figures_dir(path)
    svgs = svgs or {
        n: charts.figure_svg(d, n, min_n=report.params.min_n, fw=report.params.fw)
        for n, d in report.figures.items()
    }
    files = [(folder / f"figure{n}.svg", svg.encode("utf-8")) for n, svg in sorted(svgs.items())]
    files.append((path, render_markdown(report, folder.name).encode("utf-8")))
    atomic_write_files(files)  # all or nothing: no figures left without their report
    return [path, *(f for f, _ in files[:-1])]


__all__ = ["anchor", "render_markdown", "write_markdown"]
