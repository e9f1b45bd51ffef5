"""hmip report: content, HTML / Markdown / XLSX writers, provenance, leaks, CLI."""

from __future__ import annotations

import copy
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from test_report_support import (
    DATE,
    LEAK_ID,
    LEAK_NOTE,
    check_snapshot,
    counted_build,
    fixture_cases,
    report_for,
    shared_report,
    write_fixture_store,
)
from typer.testing import CliRunner

from hmip_cli import rates as R
from hmip_cli import schema
from hmip_cli.cli.app import app
from hmip_cli.report import charts
from hmip_cli.report import content as C
from hmip_cli.report.html import render_html
from hmip_cli.report.markdown import render_markdown, write_markdown
from hmip_cli.report.write import write_report
from hmip_cli.report.xlsx import render_xlsx, safe_text

runner = CliRunner()


@pytest.fixture(scope="module")
def rep():
    return shared_report()


# --------------------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------------------


def test_tables_in_bulletin_order(rep):
    ids = [t.id for t in rep.tables]
    assert ids == [
        "sample-profile",
        "figure-1",
        "figure-2",
        "figure-3",
        "figure-4",
        "table-1",
        "table-2",
        "differences",
        "models",
    ]
    sections = [s.heading for s in C.sections(rep)]
    assert sections[0] == "Sample profile" and sections[1].startswith("Figure 1")
    assert sections[-2:] == ["Significant subgroup differences", "Stepwise models"]


def test_figure_tables_match_rates(rep):
    """Each figure's data table is the all-cases rows of rates.bulletin(), factors in schema order."""
    for m in schema.MEASURES:
        t = rep.table(C.figure_id(m.figure))
        assert t.keys == [f.key for f in schema.FACTORS]
        frame = rep.results.rates.filter(
            (pl.col("figure") == m.figure) & (pl.col("breakdown") == R.ALL)
        )
        for r in frame.iter_rows(named=True):
            row = t.row(r["factor"])
            assert row["n"] == r["n"]
            if r["marker"] == R.MARK_SUPPRESSED:
                assert row["percent_yes"] == "[c]" and row["n_yes"] == "[c]"
            else:
                assert row["percent_yes"] == r["percent_yes"]


@pytest.fixture(scope="module")
def counted_rebuild():
    """`report_for()` built again with the bulletin() and sweep calls counted while it is
    built and written in three formats (test_report_support.counted_build)."""
    rep, calls, _ = counted_build()
    return rep, calls


def test_analyses_run_once_for_three_formats(counted_rebuild):
    """build_report computes rates.bulletin() and the sweep once; writers only format."""
    _, calls = counted_rebuild
    assert calls == {"bulletin": 1, "sweep": 1}


def test_suppression_and_low_markers():
    """With a high --min-n, small factors are suppressed in tables and shown as [c] in figures."""
    rep = shared_report(min_n=60)  # suppress=True is the default; test_findings reads it too
    fig3 = rep.table("figure-3")
    hidden = [k for k, r in zip(fig3.keys, fig3.rows) if r["marker"] == "[c]"]
    assert hidden, "expected some suppressed factors at min_n=60"
    svg = charts.figure_svg(rep.figures[3], 3, min_n=60)
    for key in hidden:
        label = schema.get_factor(key).label
        assert label in svg
    assert svg.count("[c] not shown: fewer than 60 applicable cases") == len(hidden)
    low = shared_report(min_n=60, suppress=False, disclosure="none")
    assert any(r["marker"] == "[u]" for r in low.table("figure-3").rows)
    assert not any(r["marker"] == "[c]" for r in low.table("figure-3").rows)


# --------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------


def test_html_self_contained(rep):
    html = render_html(rep)
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 4 and "<?xml" not in html
    # No external resources: every src/href is a fragment; no scripts, no link elements, no @import.
    refs = re.findall(r"""\b(?:src|href|xlink:href)\s*=\s*["']([^"']*)["']""", html)
    assert refs and all(r.startswith("#") for r in refs), [r for r in refs if not r.startswith("#")]
    assert "<script" not in html.lower() and "<link" not in html.lower() and "@import" not in html
    assert all(
        u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", html)
    )  # SVG clip paths only
    assert "default-src 'none'" in html
    assert '<meta name="viewport"' in html and "@media print" in html and "overflow-x: auto" in html


def test_html_key_findings_link_to_tables(rep):
    html = render_html(rep)
    all_ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(all_ids) == len(set(all_ids)), "duplicate ids in the page"
    ids = set(all_ids)
    targets = re.findall(r'<a href="#([^"]+)" data-table="([^"]+)"', html)
    assert len({t for _, t in targets}) >= 5
    for target, table in targets:
        assert target in ids
        assert table in ids


# Hostile inspection names, planted in one report for the HTML and the XLSX checks: text that
# looks like a formula in the first 40 cases, markup in the next 50.
EVIL = ['=HYPERLINK("http://x","y")', "+SUM(1,2)", "-2+3", "@cmd"]
MARKUP = '<img src=x onerror="alert(1)">&Durham'


@pytest.fixture(scope="module")
def hostile():
    frame = fixture_cases()
    insp = pl.Series(
        [
            EVIL[i % 4] if i < 40 else MARKUP if i < 90 else v
            for i, v in enumerate(frame["inspection"].to_list())
        ]
    )
    return report_for(frame.with_columns(inspection=insp))


def test_html_escapes_data(hostile):
    html = render_html(hostile)
    assert "<img" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;Durham" in html


# --------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------


def test_markdown_snapshot(rep):
    check_snapshot("report.md", render_markdown(rep, "report_figures"))


def test_markdown_writes_figures_beside(rep, tmp_path):
    written = write_markdown(rep, tmp_path / "bulletin.md")
    md = (tmp_path / "bulletin.md").read_text()
    folder = tmp_path / "bulletin_figures"
    assert sorted(p.name for p in folder.iterdir()) == [
        "figure1.svg",
        "figure2.svg",
        "figure3.svg",
        "figure4.svg",
    ]
    for n in range(1, 5):
        assert f"](bulletin_figures/figure{n}.svg)" in md
    assert len(written) == 5
    assert "| Factor |" in md and "## Key findings" in md


# --------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------


def _open_xlsx(data: bytes, tmp_path: Path):
    path = tmp_path / "r.xlsx"
    path.write_bytes(data)
    return path, openpyxl.load_workbook(path)


# The workbook's layout (cover, contents, notes, A1 titles, one table per sheet, numbers as
# numbers, shorthand) is checked for XLSX and ODS alike in test_publication.py.


def test_xlsx_has_no_formulas_and_neutralises_text(hostile, tmp_path):
    """Data text that looks like a formula stays text: written with write_string and, at the
    start of a cell, behind an apostrophe. Planted in inspection names (shown on the cover)
    and in a table's text cells (as if a group label came from the data)."""
    evil = EVIL
    rep = copy.deepcopy(hostile)  # the group labels are changed below; the fixture is shared
    t1 = rep.table("table-1")
    for row, text in zip(t1.rows, evil):
        row["group"] = text
    path, wb = _open_xlsx(render_xlsx(rep), tmp_path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                if isinstance(c.value, str):
                    assert not c.value.startswith(("=", "+", "-", "@")), (
                        ws.title,
                        c.coordinate,
                        c.value,
                    )
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                xml = z.read(name).decode()
                assert "<f>" not in xml and "<f " not in xml, name
    ws = wb["Table_1"]
    header = next(i for i in range(1, ws.max_row + 1) if ws.cell(i, 1).value == "Breakdown")
    groups = [ws.cell(i, 2).value for i in range(header + 1, header + 5)]
    assert groups == ["'" + e for e in evil]
    cover = " ".join(str(c.value) for row in wb["Cover"].iter_rows() for c in row if c.value)
    assert all(e in cover for e in evil)
    assert safe_text("=1") == "'=1" and safe_text("fine") == "fine" and safe_text("\t=x") == "'\t=x"
    assert safe_text(None) == "" and safe_text("-3.5") == "-3.5"  # a number as text: no formula
    assert safe_text("-3.5+A1") == "'-3.5+A1"  # the rule CSV output uses (render.spreadsheet_safe)


# --------------------------------------------------------------------------------------
# Provenance, reproducibility, leaks
# --------------------------------------------------------------------------------------


def test_reports_are_byte_identical(rep, counted_rebuild):
    again, _ = counted_rebuild  # a second build of the same report
    assert render_html(rep) == render_html(again)
    assert render_markdown(rep, "f") == render_markdown(again, "f")
    a, b = render_xlsx(rep), render_xlsx(again)
    if a != b:
        za, zb = zipfile.ZipFile(io.BytesIO(a)), zipfile.ZipFile(io.BytesIO(b))
        diff = [
            (n, za.getinfo(n).date_time, zb.getinfo(n).date_time)
            for n in za.namelist()
            if za.read(n) != zb.read(n) or za.getinfo(n).date_time != zb.getinfo(n).date_time
        ]
        raise AssertionError(f"XLSX differs in {diff}")


# The fixed cases as a store, and the reports the store tests read: each built once here
# (a report is seconds of work) and checked by several tests below.


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory) -> Path:
    """The fixed cases written as a store (read-only: a test that changes it makes its own)."""
    return write_fixture_store(tmp_path_factory.mktemp("report-store") / "store")


@pytest.fixture(scope="module")
def store_report(store_dir):
    """The library's report of the store, --fdr, dated by SOURCE_DATE_EPOCH: the provenance
    check, and the library half of the leak check (every format is written from it)."""
    from hmip_cli import store
    from hmip_cli.report import ReportParams, build_report

    cases, info = store.load_cases(store_dir), store.store_info(store_dir)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", "1548892800")  # 2019-01-31T00:00:00Z
        return build_report(cases, info=info, params=ReportParams(fdr=True))


@pytest.fixture(scope="module")
def cli_markdown(store_dir, tmp_path_factory):
    """`hmip report --format markdown` to a file of another extension (with --fdr and
    --date): the formats check, and the CLI half of the leak check."""
    out = tmp_path_factory.mktemp("cli-markdown")
    args = ["report", "-o", str(out / "x.out"), "--format", "markdown", "--data", str(store_dir)]
    res = runner.invoke(app, [*args, "--date", DATE, "--fdr"])
    return res, out


@pytest.fixture(scope="module")
def cli_parity(store_dir, tmp_path_factory):
    """`hmip report` to HTML with --min-n 40 --no-suppress: the parity check, and the leak
    check of the CLI's HTML."""
    out = tmp_path_factory.mktemp("cli-parity")
    args = ["report", "-o", str(out / "cli.html"), "--data", str(store_dir), "--date", DATE]
    res = runner.invoke(app, [*args, "--min-n", "40", "--no-suppress"])
    return res, out / "cli.html"


def test_provenance_from_store(store_dir, store_report, tmp_path):
    from hmip_cli import store

    info = store.store_info(store_dir)
    rep = store_report
    p = rep.provenance
    assert p.content_hash == info.content_hash and len(p.content_hash) == 64
    assert p.n_cases == 800 and p.inspections == info.inspections
    assert p.date.isoformat() == "2019-01-31"
    assert p.parameters["fdr"] is True and p.parameters["min_n"] == 30
    for text in (render_html(rep), render_markdown(rep, "f").replace("\\", "")):
        assert info.content_hash in text and "2019-01-31" in text and p.hmip_version in text
        assert "800" in text and info.inspections[0] in text and "min_n = 30" in text
    _, wb = _open_xlsx(render_xlsx(rep), tmp_path)
    cover = " ".join(str(c.value) for row in wb["Cover"].iter_rows() for c in row if c.value)
    assert info.content_hash in cover and "2019-01-31" in cover
    assert wb.properties.created.date().isoformat() == "2019-01-31"


def test_no_case_ids_or_notes_in_any_output(
    store_dir, store_report, cli_markdown, cli_parity, tmp_path
):
    """Every file a report writes, in every format, and what the CLI prints: the library's
    report of the store (loaded with the ids and notes) written as HTML, Markdown, XLSX and
    ODS; the CLI's Markdown and HTML reports; every chart as SVG and PNG."""
    out = tmp_path / "out"
    for name in ("r.html", "r.md", "r.xlsx", "r.ods"):
        write_report(store_report, out / name)
    for res in (cli_markdown[0], cli_parity[0]):
        assert res.exit_code == 0, res.stderr
        assert LEAK_ID not in res.stderr and LEAK_NOTE not in res.stderr
    for n in (1, 2, 3, 4):
        for ext in ("svg", "png"):
            res = runner.invoke(
                app,
                [
                    "chart",
                    f"figure{n}",
                    "--output",
                    str(out / f"f{n}.{ext}"),
                    "--data",
                    str(store_dir),
                ],
            )
            assert res.exit_code == 0, res.stderr
    res = runner.invoke(app, ["chart", "figure3", "--data", str(store_dir)])
    assert LEAK_ID not in res.stdout
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) == 4 + 4 + 8 + 1  # + the disclosure audit log (r.disclosure-audit.csv)
    cli_files = [p for p in cli_markdown[1].rglob("*") if p.is_file()]
    assert len(cli_files) == 1 + 4 + 1  # x.out, its four figures, x.disclosure-audit.csv
    cli_files += [cli_parity[1], cli_parity[1].with_name("cli.disclosure-audit.csv")]
    for p in files + cli_files:
        blobs = [p.read_bytes()]
        if p.suffix in (".xlsx", ".ods"):
            with zipfile.ZipFile(p) as z:
                blobs = [z.read(n) for n in z.namelist()]
        for blob in blobs:
            for secret in (LEAK_ID, LEAK_NOTE):
                assert secret.encode() not in blob, (p, secret)


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def test_cli_report_formats(store_dir, cli_markdown, tmp_path):
    res, out = cli_markdown
    assert res.exit_code == 0, res.stderr
    assert res.stdout == ""
    assert (out / "x.out").read_text().startswith("# ")
    assert (out / "x_figures" / "figure1.svg").exists()
    assert "Wrote" in res.stderr
    res = runner.invoke(app, ["report", "-o", str(tmp_path / "x.pdf"), "--data", str(store_dir)])
    assert res.exit_code == 2 and "format" in res.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_cli_report_library_parity(store_dir, cli_parity):
    """The CLI's HTML equals the library's for the same store, options and date."""
    from hmip_cli import store
    from hmip_cli.report import ReportParams, build_report

    res, html = cli_parity
    assert res.exit_code == 0, res.stderr
    rep = build_report(
        store.load_cases(store_dir),
        info=store.store_info(store_dir),
        params=ReportParams(min_n=40, suppress=False, date=DATE),
    )
    assert html.read_text() == render_html(rep)


def test_cli_report_without_store_is_a_usage_error(tmp_path):
    res = runner.invoke(
        app, ["report", "-o", str(tmp_path / "r.html"), "--data", str(tmp_path / "none")]
    )
    assert (res.exit_code == 2 and res.exception is None) or isinstance(res.exception, SystemExit)
    assert "Error" in res.stderr


def test_cli_bad_date(store_dir, tmp_path):
    res = runner.invoke(
        app,
        [
            "report",
            "-o",
            str(tmp_path / "r.html"),
            "--data",
            str(store_dir),
            "--date",
            "31/01/2019",
        ],
    )
    assert res.exit_code == 2 and "YYYY-MM-DD" in res.stderr


def test_demo_report(tmp_path):
    """`hmip demo --report FILE` writes the report of the bundled example alongside the tables."""
    res = runner.invoke(app, ["demo", "--report", str(tmp_path / "demo.md"), "--format", "csv"])
    assert res.exit_code == 0, res.stderr
    md = (tmp_path / "demo.md").read_text()
    assert "1,066 case assessments" in md and "## Key findings" in md
    assert (tmp_path / "demo_figures" / "figure4.svg").exists()
    assert res.stdout.startswith("table_name") or "," in res.stdout.splitlines()[0]
    res = runner.invoke(app, ["demo", "--report", str(tmp_path / "demo.pdf")])
    assert res.exit_code == 2 and not (tmp_path / "demo.pdf").exists()


@pytest.mark.slow
def test_cli_report_stepwise_options(store_dir, monkeypatch, tmp_path):
    """--pin/--pout/--removal/--candidates reach the sweep and the methods notes, as in the library;
    a stricter PIN can only drop differences (the stricter selection path is a prefix of the default one
    here); bad values are usage errors before anything is written.

    The CLI's reports are caught as build_report returns them: the check is that the CLI
    passes the store's cases and info with exactly the library's ReportParams and writes
    that report (a library build with the same arguments is the same report:
    test_reports_are_byte_identical; the whole path: test_cli_report_library_parity)."""
    from hmip_cli import store
    from hmip_cli.report import ReportParams

    built: list = []
    real_build = C.build_report

    def spy(cases, **kwargs):
        rep = real_build(cases, **kwargs)
        built.append((cases, kwargs, rep))
        return rep

    monkeypatch.setattr(C, "build_report", spy)
    cases, info = store.load_cases(store_dir, identifying=False), store.store_info(store_dir)

    def cli_report(name: str, *args: str, params: ReportParams):
        res = runner.invoke(
            app,
            ["report", "-o", str(tmp_path / name), "--data", str(store_dir), "--date", DATE, *args],
        )
        assert res.exit_code == 0, res.stderr
        got_cases, kwargs, rep = built.pop()
        got_cases = got_cases.lazy().collect()  # the CLI passes a scan of the store
        assert got_cases.select(cases.columns).equals(cases) and kwargs["info"] == info
        assert kwargs["params"] == params
        return rep, (tmp_path / name).read_text()

    default = shared_report()  # the same cases (report_for), default options
    strict, html = cli_report(
        "strict.html", "--pin", "0.01", params=ReportParams(date=DATE, pin=0.01)
    )
    assert html == render_html(strict)
    assert "p &lt; 0.01 (PIN)" in html and "p &lt; 0.05 (PIN)" not in html
    assert "p &lt; 0.05 (PIN)" in render_html(default)
    assert set(strict.table(C.DIFFERENCES_ID).keys) <= set(default.table(C.DIFFERENCES_ID).keys)

    wald, html = cli_report(
        "wald.html",
        *("--removal", "wald", "--pout", "0.2", "--candidates", "provider, gender"),
        params=ReportParams(date=DATE, removal="wald", pout=0.2, candidates=("provider", "gender")),
    )
    assert html == render_html(wald)
    assert (
        "SPSS FSTEP(WALD)" in html and "Wald removal test" in html and "p &gt; 0.2 (POUT)" in html
    )
    assert "Candidates: Provider, Gender." in " ".join(wald.table(C.DIFFERENCES_ID).notes)
    assert wald.provenance.parameters["removal"] == "wald"
    assert "removal" not in default.provenance.parameters  # default reports are unchanged

    for args, text in (
        (["--pin", "0.2", "--pout", "0.1"], "PIN (0.2) must be less than POUT (0.1)"),
        (["--pin", "2"], "PIN and POUT must be between 0 and 1"),
        (["--candidates", "provider,nope"], "unknown breakdown 'nope'"),
        (["--removal", "score"], "--removal"),
    ):
        out = tmp_path / "bad.html"
        res = runner.invoke(app, ["report", "-o", str(out), "--data", str(store_dir), *args])
        assert res.exit_code == 2 and text in res.stderr, (args, res.stderr)
        assert not out.exists()


def test_models_table_has_short_notes_not_raw_warnings(rep):
    """The Models table shows a short note per model (from the stepwise Problem codes), each
    explained once in the table's notes; never the raw warning text, which quotes small
    counts ("3 of 3 cases") and internal column names."""
    from hmip_cli.report.content import MODEL_NOTES

    t = rep.table(C.MODELS_ID)
    seen: set[str] = set()
    for row in t.rows:
        note = row["note"]
        if note is None:
            continue
        assert not re.search(r"\d|'|_|step ", note), note
        for part in note.split("; "):
            short = part[:1].upper() + part[1:]
            assert short in MODEL_NOTES, note
            seen.add(short)
    assert {"No variable entered", "Separation"} <= seen
    for short in seen:
        assert sum(n.startswith(f"Note column, '{short}'") for n in t.notes) == 1, short
