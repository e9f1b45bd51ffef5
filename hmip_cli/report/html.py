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

from hmip_cli import rates as R
from hmip_cli.layout import Grid
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
.banner { border: 3px solid #d4351c; padding: 0.5rem 0.75rem; margin: 0.5rem 0 1rem; }
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
th { min-width: 4.5rem; }
tr:target, tr.cited:target { background: #fff7bf; }
.notes { font-size: 0.9rem; color: var(--muted); }
.legend { font-size: 0.9rem; margin: 0.5rem 0 0; }
.legend p, .legend ul { margin: 0; }
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
  @page { size: A4; margin: 12mm; }
  table { font-size: 7.5pt; }
  th, td { padding: 0.2rem 0.3rem; }
  th { min-width: 0; hyphens: manual; }
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


def compact_differences(t: C.DocTable) -> C.DocTable:
    """The significant differences as publications print them: the comparison, each group's
    % yes with its n, "OR (95% CI)" in one column, p and the cases in the model. Seven
    columns that fit A4 and a 1280 px screen; every detail is in the XLSX/ODS."""
    fdr = any(c.key == "p_fdr" for c in t.columns)
    cols = [
        C.Column("outcome", "Outcome"),
        C.Column("comparison", "Comparison"),
        C.Column("group_pct", "Group: % yes (n)", align="right"),
        C.Column("reference_pct", "Reference: % yes (n)", align="right"),
        C.Column("or_ci", "OR (95% CI)", align="right"),
        C.Column("p", "p", "p"),
    ]
    if fdr:
        cols.append(C.Column("p_fdr", "p (BH)", "p"))
    cols.append(C.Column("n", "n", "count"))

    def pct_n(pct, n) -> str:
        p = C.cell_text(C.Column("", "", "percent"), pct)
        return f"{p} ({C.cell_text(C.Column('', '', 'count'), n)})"

    rows = []
    for r in t.rows:
        ci = (
            f"{r['odds_ratio']:.2f} ({r['ci_low']:.2f} to {r['ci_high']:.2f})"
            if isinstance(r["odds_ratio"], float) and isinstance(r["ci_low"], float)
            else str(r["odds_ratio"])
        )
        row = {
            "outcome": r["outcome"],
            "comparison": f"{r['variable']}: {r['group']} vs {r['reference']}",
            "group_pct": pct_n(r["percent_level"], r["n_level"]),
            "reference_pct": pct_n(r["percent_reference"], r["n_reference"]),
            "or_ci": ci,
            "p": r["p"],
            "n": r["n"],
        }
        if fdr:
            row["p_fdr"] = r.get("p_fdr")
        rows.append(row)
    notes = [
        *t.notes,
        "OR: adjusted odds ratio of the group against the reference group, with its 95% "
        "confidence interval. p: likelihood-ratio test of the variable in the final model. "
        "n: cases in the model. The spreadsheet versions have every column separately.",
    ]
    return C.doc_table(t.id, t.title, t.sheet, cols, rows, list(t.keys), notes)


def _legend(lines: list[str]) -> str:
    """The shorthand a table uses, explained above it: the first line, then a list."""
    if not lines:
        return ""
    intro, *codes = lines
    items = f"<ul>{''.join(f'<li>{escape(c)}</li>' for c in codes)}</ul>" if codes else ""
    return f'<div class="legend"><p>{escape(intro)}</p>{items}</div>'


def table_html(g: Grid) -> str:
    """The one HTML table writer (the report's tables and the table commands' page): the
    legend above, then the table captioned with its title in a region that scrolls sideways
    (numbers right-aligned, the first cell of each row its row header; with row `keys`,
    each row an anchor), then the notes."""
    out = [
        _legend(g.legend),
        f'<div class="table-wrap" role="region" aria-label="{escape(g.title)}" tabindex="0">',
        f'<table id="{escape(g.id)}"><caption>{escape(g.title)}</caption><thead><tr>',
    ]
    for c in g.columns:
        cls = ' class="num"' if c.right else ""
        out.append(f'<th scope="col"{cls}>{escape(c.header)}</th>')
    out.append("</tr></thead><tbody>")
    for r, cells in enumerate(g.cells()):
        out.append(f'<tr id="{escape(anchor(g.id, g.keys[r]))}">' if g.keys else "<tr>")
        for i, (c, text) in enumerate(zip(g.columns, cells)):
            cls = ' class="num"' if c.right else ""
            tag, scope = ("th", ' scope="row"') if i == 0 else ("td", "")
            out.append(f"<{tag}{scope}{cls}>{escape(text)}</{tag}>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    if g.notes:
        out.append(
            '<div class="notes">' + "".join(f"<p>{escape(n)}</p>" for n in g.notes) + "</div>"
        )
    return "".join(out)


def _table(t: C.DocTable, min_n: int = R.DEFAULT_MIN_N) -> str:
    if t.id == C.DIFFERENCES_ID:
        t = compact_differences(t)
    return table_html(C.publication_view(t, min_n))


def render_html(report: C.Report, svgs: dict[int, str] | None = None) -> str:
    """The whole report as HTML text. `svgs` (figure -> SVG text) may be passed to reuse
    figures already drawn for another output."""
    p = report.provenance
    title = report.display_title
    svgs = svgs or {
        n: charts.figure_svg(d, n, min_n=report.params.min_n, fw=report.params.fw)
        for n, d in report.figures.items()
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
        *(
            [f'<p class="banner" role="note"><strong>{escape(C.SYNTHETIC_BANNER)}</strong></p>']
            if report.synthetic
            else []
        ),
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

    h.append('<section id="key-findings" class="key-findings"><h2>Key findings</h2>')
    for group in C.findings_in_groups(report.key_findings):
        if group.heading:
            h.append(f"<h3>{escape(group.heading)}</h3>")
        h.append("<ul>")
        _finding_items(h, report, group.findings)
        h.append("</ul>")
    h.append("</section>")

    for s in secs:
        h.append(
            f'<section id="{escape(s.id)}"><h2>{escape(s.heading)}</h2><p>{escape(s.intro)}</p>'
        )
        if s.figure is not None:
            svg = charts.inline_svg(svgs[s.figure], f"fig{s.figure}-")
            h.append(
                f'<figure aria-labelledby="cap-{s.figure}">{svg}'
                f'<figcaption id="cap-{s.figure}">{escape(charts.subtitle(s.figure, report.params.fw))}. The data are in the '
                f"table below.</figcaption></figure>"
            )
        h.append(_table(s.table, report.params.min_n))
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


def _finding_items(h: list[str], report: C.Report, findings) -> None:
    for f in findings:
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


def tables_page(tables) -> str:
    """A table command's output (`render.Table`s) as one self-contained, accessible HTML page
    (`hmip rates -o rates.html`): the report's CSS and CSP, one captioned table per result."""
    from hmip_cli.render import data_synthetic
    from hmip_cli.report.shorthand import legend_lines, used_codes

    synthetic = data_synthetic()
    title = (tables[0].title if len(tables) == 1 and tables[0].title else "hmip results") + (
        " (synthetic data)" if synthetic else ""
    )
    h = [
        "<!DOCTYPE html>",
        '<html lang="en-GB">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{escape(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{escape(title)}</h1>",
    ]
    if synthetic:
        h.append(f'<p class="banner" role="note"><strong>{escape(C.SYNTHETIC_BANNER)}</strong></p>')
    for i, t in enumerate(tables, start=1):
        g = t.layout()
        g.id, g.title = f"table-{i}", g.title or f"Table {i}"
        # the table's own legend (trend: [b]), else the shorthand found in it explained
        g.legend = g.legend or legend_lines(
            used_codes(g.columns, g.rows), t.min_n or R.DEFAULT_MIN_N
        )
        h.append(table_html(g))
    h += ["</main>", "</body>", "</html>", ""]
    return "\n".join(h)
