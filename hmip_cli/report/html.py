"""The report as one self-contained HTML file.

Self-contained: the figures are inline SVG, the CSS is inline, there are no scripts, no
fonts, no images fetched from anywhere, and a Content-Security-Policy of `default-src
'none'` tells the browser to make no request even if something slipped in. Readable on a
phone (responsive, tables scroll sideways inside their own box) and printable (print CSS:
no navigation, tables unclipped, figures kept whole). Every piece of data is escaped with
`html.escape`.
"""

from __future__ import annotations

import re
from html import escape

from hmip_cli.report import charts
from hmip_cli.report import content as C

CSS = """
:root { --ink: #0b0c0c; --muted: #3d3d3d; --rule: #b1b4b6; --accent: #12436D; --band: #f3f2f1; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff;
       font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.75rem; line-height: 1.2; margin: 0.5rem 0 0.25rem; }
h2 { font-size: 1.35rem; margin: 2.25rem 0 0.5rem; border-top: 2px solid var(--accent); padding-top: 0.75rem; }
a { color: var(--accent); }
.meta { color: var(--muted); margin: 0 0 1rem; overflow-wrap: anywhere; }
nav ol { padding-left: 1.25rem; }
.key-findings li { margin-bottom: 0.5rem; }
.ref { font-size: 0.9em; }
figure { margin: 1rem 0; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 0.9rem; }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; margin: 0.75rem 0; border: 1px solid var(--rule); }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 0.5rem; }
th, td { padding: 0.35rem 0.6rem; border-bottom: 1px solid var(--rule); vertical-align: top; }
th { text-align: left; background: var(--band); }
td.num { text-align: right; white-space: nowrap; }
th.num { text-align: right; }
th { min-width: 6rem; }
tr:target, tr.cited:target { background: #fff7bf; }
.notes { font-size: 0.9rem; color: var(--muted); }
dl.provenance { display: grid; grid-template-columns: minmax(8rem, max-content) 1fr; gap: 0.25rem 1rem; }
dl.provenance dt { font-weight: 600; }
dl.provenance dd { margin: 0; overflow-wrap: anywhere; }
@media (max-width: 40rem) {
  main { padding: 0.75rem; }
  h1 { font-size: 1.4rem; }
  dl.provenance { grid-template-columns: 1fr; }
}
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  nav, .ref { display: none; }
  a { color: inherit; text-decoration: none; }
  .table-wrap { overflow: visible; border: 0; }
  table { font-size: 8.5pt; }
  figure, tr { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
  section { break-before: auto; }
}
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def anchor(table_id: str, key: str) -> str:
    """The id of a table row: letters, digits, '-' and '_' only."""
    return f"{table_id}--" + re.sub(r"[^A-Za-z0-9_-]+", "-", key).strip("-")


def _ref_label(table_id: str, report: C.Report) -> str:
    return C.short_name(report.table(table_id))


def _table(t: C.DocTable) -> str:
    out = [
        f'<div class="table-wrap" role="region" aria-label="{escape(t.title)}" tabindex="0">',
        f'<table id="{escape(t.id)}"><caption>{escape(t.title)}</caption><thead><tr>',
    ]
    for c in t.columns:
        cls = ' class="num"' if c.kind != "text" else ""
        out.append(f'<th scope="col"{cls}>{escape(c.header)}</th>')
    out.append("</tr></thead><tbody>")
    for key, row in zip(t.keys, t.rows):
        out.append(f'<tr id="{escape(anchor(t.id, key))}">')
        for i, c in enumerate(t.columns):
            text = escape(C.cell_text(c, row.get(c.key)))
            cls = ' class="num"' if c.kind != "text" else ""
            tag = "th" if i == 0 else "td"
            scope = ' scope="row"' if i == 0 else ""
            out.append(f"<{tag}{scope}{cls}>{text}</{tag}>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    if t.notes:
        out.append(
            '<div class="notes">' + "".join(f"<p>{escape(n)}</p>" for n in t.notes) + "</div>"
        )
    return "".join(out)


def render_html(report: C.Report, svgs: dict[int, str] | None = None) -> str:
    """The whole report as HTML text. `svgs` (figure -> SVG text) may be passed to reuse
    figures already drawn for another output."""
    p = report.provenance
    title = report.title
    svgs = svgs or {
        n: charts.figure_svg(d, n, min_n=report.params.min_n) for n, d in report.figures.items()
    }
    secs = C.sections(report)
    h: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en-GB">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f'<meta name="generator" content="hmip {escape(p.hmip_version)}">',
        f"<title>{escape(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{p.n_cases:,} case assessments; {len(p.inspections)} inspections; report date '
        f"{escape(p.date.isoformat())}. Store content hash: <code>{escape(p.content_hash or 'none')}</code></p>",
        '<nav aria-label="Contents"><h2 id="contents">Contents</h2><ol>',
        '<li><a href="#key-findings">Key findings</a></li>',
    ]
    h += [f'<li><a href="#{escape(s.id)}">{escape(s.heading)}</a></li>' for s in secs]
    h += [
        '<li><a href="#notes">Notes</a></li>',
        '<li><a href="#provenance">Provenance</a></li>',
        "</ol></nav>",
    ]

    h.append('<section id="key-findings" class="key-findings"><h2>Key findings</h2><ul>')
    for f in report.key_findings:
        target = (
            anchor(f.table, f.rows[0])
            if f.rows and f.rows[0] in report.table(f.table).keys
            else f.table
        )
        refs = [
            f'<a href="#{escape(target)}" data-table="{escape(f.table)}">{escape(_ref_label(f.table, report))}</a>'
        ]
        refs += [
            f'<a href="#{escape(t)}" data-table="{escape(t)}">{escape(_ref_label(t, report))}</a>'
            for t in f.also
        ]
        h.append(f'<li>{escape(f.text)} <span class="ref">(see {", ".join(refs)})</span></li>')
    h.append("</ul></section>")

    for s in secs:
        h.append(
            f'<section id="{escape(s.id)}"><h2>{escape(s.heading)}</h2><p>{escape(s.intro)}</p>'
        )
        if s.figure is not None:
            svg = charts.inline_svg(svgs[s.figure], f"fig{s.figure}-")
            h.append(
                f'<figure aria-labelledby="cap-{s.figure}">{svg}'
                f'<figcaption id="cap-{s.figure}">{escape(charts.subtitle(s.figure))}. The data are in the '
                f"table below.</figcaption></figure>"
            )
        h.append(_table(s.table))
        h.append("</section>")

    h.append('<section id="notes"><h2>Notes</h2><dl class="provenance">')
    for code, text in C.marker_definitions(report.params.min_n):
        h.append(f"<dt>{escape(code)}</dt><dd>{escape(text)}</dd>")
    h.append(
        '</dl><p class="notes">Percentages in tables are rounded half up to one decimal place from the '
        "exact fraction; in figures and key findings to whole numbers. n is the number of applicable "
        "cases: those where the question was asked and answered.</p></section>"
    )

    h.append('<section id="provenance"><h2>Provenance</h2><dl class="provenance">')
    for label, text in p.items():
        h.append(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>")
    h.append("</dl></section>")
    h += ["</main>", "</body>", "</html>", ""]
    return "\n".join(h)
