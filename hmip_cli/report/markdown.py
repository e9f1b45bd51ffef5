"""The report as Markdown for a repository: tables, and figures as SVG files beside it.

`write_markdown(report, path)` writes `path` and `<stem>_figures/figure1.svg ...` next to
it, linked by relative paths, all or nothing (`fileio.atomic_write_files`). Data are
escaped for Markdown tables (`|`) and for the HTML that Markdown renderers pass through
(`<`, `>`, `&`).
"""

from __future__ import annotations

from pathlib import Path

from hmip_cli.fileio import atomic_write_files
from hmip_cli.report import charts
from hmip_cli.report import content as C
from hmip_cli.report.html import anchor
from hmip_cli.report.shorthand import is_code_note


def md_escape(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in ("\\", "|", "*", "_", "`", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", " ")


def _table(t: C.DocTable, min_n: int) -> list[str]:
    lines = [f'<a id="{t.id}"></a>', "", f"**{md_escape(t.title)}**", ""]
    legend = C.code_legend(t, min_n)
    if legend:  # the shorthand the table uses, explained above it
        lines += [md_escape(legend[0]), ""] + [f"- {md_escape(x)}" for x in legend[1:]] + [""]
    lines.append("| " + " | ".join(md_escape(c.header) for c in t.columns) + " |")
    lines.append("|" + "|".join("---:" if c.kind != "text" else "---" for c in t.columns) + "|")
    for row in t.rows:
        lines.append(
            "| " + " | ".join(md_escape(C.cell_text(c, row.get(c.key))) for c in t.columns) + " |"
        )
    lines.append("")
    lines += [f"_{md_escape(n)}_\n" for n in t.notes if not is_code_note(n)]
    return lines


def figures_dir(path: Path) -> Path:
    return path.with_name(f"{path.stem}_figures")


def render_markdown(report: C.Report, figures_folder: str) -> str:
    """The Markdown text; figures are linked as `<figures_folder>/figureN.svg`."""
    p = report.provenance
    out = [
        f"# {md_escape(report.display_title)}",
        "",
        *([f"> **{md_escape(C.SYNTHETIC_BANNER)}**", ""] if report.synthetic else []),
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
                f"[{md_escape(C.short_name(report.table(t)))}](#{t})" for t in (f.table, *f.also)
            ]
            out.append(f"- {md_escape(f.text)} (see {', '.join(refs)})")
    out.append("")
    for s in C.sections(report):
        out += [f"## {md_escape(s.heading)}", "", md_escape(s.intro), ""]
        if s.figure is not None:
            alt = charts.alt_text(
                report.figures[s.figure], s.figure, report.params.min_n, report.params.fw
            )
            out += [f"![{md_escape(alt)}]({figures_folder}/figure{s.figure}.svg)", ""]
        out += _table(s.table, report.params.min_n)
    out += ["## Notes", ""]
    out += [
        f"- `{code}` {md_escape(text)}" for code, text in C.marker_definitions(report.params.min_n)
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
    out += [f"| {md_escape(k)} | {md_escape(v)} |" for k, v in p.items()]
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


__all__ = ["anchor", "md_escape", "render_markdown", "write_markdown"]
