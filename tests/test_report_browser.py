"""The HTML report in a real headless Chromium: figures and tables are in the rendered DOM,
the page makes no network request, and it lays out without sideways scrolling on a phone.

Skipped when chromium is not installed (CI installs it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from test_report_support import shared_report

from hmip_cli.report.html import render_html

CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="needs headless Chromium: apt-get install chromium (see the README, Quick start)",
    ),
]

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
]


def _chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def html_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("browser") / "report.html"
    path.write_text(render_html(shared_report()), encoding="utf-8")
    return path


def test_rendered_dom_has_figures_and_tables(html_file, tmp_path):
    netlog = tmp_path / "net.json"
    res = _chromium(tmp_path, f"--log-net-log={netlog}", "--dump-dom", html_file.as_uri())
    dom = res.stdout
    assert res.returncode == 0, res.stderr[-2000:]
    assert dom.count("<svg") == 4
    assert len(re.findall(r'<svg[^>]*role="img"', dom)) == 4
    for n in range(1, 5):
        assert f'<table id="figure-{n}">' in dom
        assert f'<title id="hmip-figure-{n}-title">Figure {n}' in dom
    assert '<table id="table-1">' in dom and '<table id="table-2">' in dom
    assert '<table id="differences">' in dom and '<table id="sample-profile">' in dom
    assert dom.count("<li>") >= 10 and "Key findings" in dom
    # Network: requests the page made carry its origin as initiator; the browser's own
    # background requests (updates, time) are initiated by "not an origin" and are ignored.
    log = json.loads(netlog.read_text() or "{}")
    types = {v: k for k, v in log.get("constants", {}).get("logEventTypes", {}).items()}
    page_requests = [
        e["params"].get("url")
        for e in log.get("events", [])
        if types.get(e.get("type")) == "URL_REQUEST_START_JOB"
        and "url" in e.get("params", {})
        and e["params"].get("initiator") != "not an origin"
    ]
    assert page_requests == []


def test_no_sideways_scroll_on_a_phone(html_file, tmp_path):
    """At a 390 px wide viewport the page is no wider than the screen (tables scroll in
    their own boxes). Measured by a copy of the page with a measuring script (the report
    itself has no scripts and forbids them)."""
    probe = html_file.with_name("probe.html")
    text = html_file.read_text().replace(
        '<meta http-equiv="Content-Security-Policy"', '<meta name="csp-off"'
    )
    script = (
        "<script>window.addEventListener('load',()=>{const d=document.documentElement;"
        "const p=document.createElement('pre');p.id='probe';p.textContent=d.scrollWidth+' '+d.clientWidth;"
        "document.body.appendChild(p);});</script>"
    )
    probe.write_text(text.replace("</body>", script + "</body>"))
    res = _chromium(tmp_path, "--window-size=390,800", "--dump-dom", probe.as_uri())
    m = re.search(r'<pre id="probe">(\d+) (\d+)</pre>', res.stdout)
    assert m, res.stderr[-2000:]
    scroll, client = int(m.group(1)), int(m.group(2))
    assert scroll <= client, f"page is {scroll}px wide in a {client}px viewport"


@pytest.fixture(scope="module")
def printed(html_file, tmp_path_factory):
    """The report printed to PDF by Chromium once, for the two PDF tests: (run, pdf path)."""
    tmp = tmp_path_factory.mktemp("pdf")
    pdf = tmp / "report.pdf"
    res = _chromium(tmp, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", html_file.as_uri())
    return res, pdf


def test_print_to_pdf(printed):
    res, pdf = printed
    assert res.returncode == 0 and pdf.exists() and pdf.read_bytes().startswith(b"%PDF")


# --------------------------------------------------------------------------------------
# Print to PDF (A4) and accessibility (axe-core), issue 12 items 5 and 6
# --------------------------------------------------------------------------------------

CHROMEDRIVER = shutil.which("chromedriver")
PDFTOTEXT = shutil.which("pdftotext")


@pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext (poppler-utils) is not installed")
def test_pdf_print_contains_every_column_and_value(printed):
    """Printed on A4, every table shows every column: each header's words and each cell's
    text are in the PDF's text (the 16-column differences table used to lose p and n)."""
    from hmip_cli.report import content as C
    from hmip_cli.report.html import compact_differences

    res, pdf = printed
    assert pdf.exists() and pdf.stat().st_size > 10_000, res.stderr[-2000:]
    text = subprocess.run([PDFTOTEXT, str(pdf), "-"], capture_output=True, text=True).stdout
    flat = " ".join(text.split())
    words = set(flat.split())
    rep = shared_report()
    for t in rep.tables:
        t = compact_differences(t) if t.id == C.DIFFERENCES_ID else t
        for c in t.columns:  # multi-line headers interleave in extraction: check their words
            missing = [w for w in c.header.split() if w not in words]
            assert not missing, (t.id, c.header, missing)
        for row in t.rows:
            for c in t.columns:
                value = " ".join(C.cell_text(c, row.get(c.key)).split())
                if c.kind != "text":  # numbers and codes: whole, exactly as shown
                    assert value in flat, (t.id, c.key, value)
    assert "OR (95% CI)" in flat


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium under Selenium for every Selenium test here (each start costs
    over a second of CPU); `_driver` gives each test its viewport and a fresh page."""
    if CHROMEDRIVER is None:
        pytest.skip("chromedriver is not installed")
    selenium = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("selenium") / "profile"
    for flag in [*FLAGS, f"--user-data-dir={profile}", "--window-size=1280,900"]:
        opts.add_argument(flag)
    driver = selenium.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def _driver(browser, width: int = 1280, height: int = 900):
    """The shared browser, on a blank page, with a `width` x `height` CSS px viewport (what
    CSS px are measured in; a phone's below 600 px) and no script timeout of an earlier test."""
    browser.get("about:blank")
    browser.set_script_timeout(30)
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    return browser


@pytest.mark.skipif(CHROMEDRIVER is None, reason="chromedriver is not installed")
def test_chart_text_is_legible_on_a_phone(html_file, browser):
    """At a 390 CSS px wide viewport every text label of every chart (titles, factor names,
    values, axis, legend) renders at least 10 CSS px high (getBoundingClientRect of each
    SVG <text>): the figures used to be drawn 8 inches wide and shrunk to fit, leaving
    labels about 4 px high."""
    driver = _driver(browser, 390, 844)
    try:
        driver.get(html_file.as_uri())
        width = driver.execute_script("return document.documentElement.clientWidth")
        boxes = driver.execute_script(
            "const figs = [...document.querySelectorAll('figure')];"
            "return [...document.querySelectorAll('figure svg text')].map(t => {"
            "const r = t.getBoundingClientRect();"
            "return [figs.indexOf(t.closest('figure')), t.textContent.trim(), r.height, r.right];"
            "});"
        )
    finally:
        driver.get("about:blank")
    assert width <= 390
    assert len({b[0] for b in boxes}) == 4 and len(boxes) >= 40, boxes[:5]
    small = [(svg, text, round(h, 1)) for svg, text, h, _ in boxes if text and h < 10]
    assert small == [], small[:10]
    # and nothing is drawn past the right edge of the screen
    assert max(right for *_, right in boxes) <= width


# axe-selenium-python 2.1.6 bundles axe-core 3.1.1 (axe.version; site-packages/
# axe_selenium_python/node_modules/axe-core/axe.min.js). Its rules carry the tags wcag2a,
# wcag2aa and wcag21aa only: it has no wcag21a and no wcag22aa tag (those, and the
# target-size rule for WCAG 2.2's 2.5.8, arrived in axe-core 4.x), so "WCAG 2.2 AA" is
# checked as axe-core 3.1.1's wcag2a + wcag2aa + wcag21aa rules plus the two new 2.2 AA
# criteria that can be tested mechanically, by hand below: 2.5.8 Target Size (Minimum)
# and 2.4.11 Focus Not Obscured (Minimum).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_TAGS_IN_3_1_1 = {"wcag2a", "wcag2aa", "wcag21aa"}

# Every focusable or clickable element of the page (WCAG's "targets").
_TARGETS_JS = (
    "return [...document.querySelectorAll('a[href], button, input, select, textarea, "
    '[tabindex]:not([tabindex="-1"]), summary\')]'
)


@pytest.mark.skipif(CHROMEDRIVER is None, reason="chromedriver is not installed")
@pytest.mark.parametrize("width", [390, 1280])
def test_wcag_22_target_size_minimum(html_file, browser, width):
    """WCAG 2.2 SC 2.5.8 (AA), which the bundled axe-core cannot check: every target is at
    least 24 x 24 CSS px, or a 24 px circle on its centre meets no other target (the
    spacing exception), or it is a link inside a sentence (the inline exception)."""
    driver = _driver(browser, width)
    try:
        driver.get(html_file.as_uri())
        targets = driver.execute_script(
            _TARGETS_JS + ".map(e => {const r = e.getBoundingClientRect();"
            "const p = e.parentElement;"
            "const inline = e.tagName === 'A' && getComputedStyle(e).display === 'inline' && "
            "p.textContent.trim().length > e.textContent.trim().length;"
            "return {what: e.tagName + ' ' + e.textContent.trim().slice(0, 30), x: r.left, "
            "y: r.top, w: r.width, h: r.height, inline: inline};})"
        )
    finally:
        driver.get("about:blank")
    assert len(targets) >= 15  # the contents list, the finding references, the table regions
    centres = [(t["x"] + t["w"] / 2, t["y"] + t["h"] / 2) for t in targets]
    small = []
    for i, t in enumerate(targets):
        if t["inline"] or (t["w"] >= 24 and t["h"] >= 24):
            continue
        cx, cy = centres[i]
        near = [
            targets[j]["what"]
            for j, (ox, oy) in enumerate(centres)
            if j != i and ((ox - cx) ** 2 + (oy - cy) ** 2) ** 0.5 < 24
        ]
        if near:
            small.append((t["what"], round(t["w"]), round(t["h"]), near[:2]))
    assert small == [], small[:5]


def _obscured_on_focus(driver) -> list[str]:
    """The targets that, once focused, are off screen or covered by other content."""
    return driver.execute_script(
        _TARGETS_JS + ".flatMap(e => {e.focus({focusVisible: true});"
        "if (document.activeElement !== e) return [];"
        "const name = e.tagName + ' ' + e.textContent.trim().slice(0, 30);"
        # a link that wraps has one box per line: it is seen if any box's visible centre is it
        "let onScreen = false;"
        "for (const r of e.getClientRects()) {"
        "const l = Math.max(r.left, 0), t = Math.max(r.top, 0);"
        "const R = Math.min(r.right, innerWidth), B = Math.min(r.bottom, innerHeight);"
        "if (R <= l || B <= t) continue;"
        "onScreen = true;"
        "if (e.contains(document.elementFromPoint((l + R) / 2, (t + B) / 2))) return [];}"
        "return [name + (onScreen ? ' (covered)' : ' (off screen)')];})"
    )


@pytest.mark.skipif(CHROMEDRIVER is None, reason="chromedriver is not installed")
@pytest.mark.parametrize("width", [390, 1280])
def test_wcag_22_focus_not_obscured(html_file, browser, width):
    """WCAG 2.2 SC 2.4.11 (AA): when any element has keyboard focus it is not entirely
    hidden by content the page draws (a sticky header, a banner): after focus() its box is
    in the viewport and the topmost element at the centre of the visible part of one of its
    boxes (a wrapped link has one per line) is itself or inside it."""
    driver = _driver(browser, width, 844)
    try:
        driver.get(html_file.as_uri())
        hidden = _obscured_on_focus(driver)
        focused = driver.execute_script(_TARGETS_JS + ".length")
    finally:
        driver.get("about:blank")
    assert focused >= 15
    assert hidden == [], hidden[:5]


@pytest.mark.skipif(CHROMEDRIVER is None, reason="chromedriver is not installed")
def test_focus_check_catches_a_covering_banner(html_file, browser):
    """Not a hollow check: the same page with a fixed banner over the screen fails it."""
    covered = html_file.with_name("covered.html")
    banner = (
        '<div style="position:fixed;left:0;right:0;top:0;height:100vh;'
        'background:#fff;z-index:9">cookie banner</div>'
    )
    covered.write_text(html_file.read_text().replace("<main>", banner + "<main>", 1))
    driver = _driver(browser, 1280)
    try:
        driver.get(covered.as_uri())
        assert len(_obscured_on_focus(driver)) >= 15
    finally:
        driver.get("about:blank")


@pytest.mark.skipif(CHROMEDRIVER is None, reason="chromedriver is not installed")
def test_axe_core_finds_no_wcag_22_aa_violations(html_file, browser):
    """axe-core (the copy axe-selenium-python bundles; nothing downloaded) in headless
    Chromium through Selenium: zero violations for every rule tagged wcag2a, wcag2aa,
    wcag21a, wcag21aa or wcag22aa that it has. The bundled axe-core is 3.1.1, which knows
    only wcag2a, wcag2aa and wcag21aa (no wcag21a, no wcag22aa): the WCAG 2.2 AA criteria
    it lacks that can be tested mechanically (2.5.8 target size, 2.4.11 focus not
    obscured) are checked by the two tests above."""
    from pathlib import Path

    axe_pkg = pytest.importorskip("axe_selenium_python")

    axe_js = Path(axe_pkg.__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
    driver = _driver(browser)
    try:
        driver.set_script_timeout(180)
        driver.get(html_file.as_uri())
        driver.execute_script(axe_js.read_text(encoding="utf-8"))
        result = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "const want = arguments[0];"
            "const have = new Set(axe.getRules().flatMap(r => r.tags));"
            "const tags = want.filter(t => have.has(t));"
            "axe.run(document, {runOnly: {type: 'tag', values: tags}})"
            ".then(r => done({...r, tags: tags, version: axe.version}))"
            ".catch(e => done({error: String(e)}));",
            AXE_TAGS,
        )
    finally:
        driver.get("about:blank")
    assert "error" not in result, result
    assert result["passes"], "axe ran no rules"
    assert result["version"] == "3.1.1", result["version"]  # if this changes, revisit the tags
    assert set(result["tags"]) == AXE_TAGS_IN_3_1_1, result["tags"]
    problems = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]]) for v in result["violations"]
    ]
    assert problems == [], problems
