"""The HTML report in a real headless Chromium: figures and tables are in the rendered DOM,
the page makes no network request, and it lays out without sideways scrolling on a phone.

Skipped when chromium is not installed (CI installs it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from test_report_support import report_for

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
    path.write_text(render_html(report_for()), encoding="utf-8")
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


def test_print_to_pdf(html_file, tmp_path):
    pdf = tmp_path / "report.pdf"
    res = _chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", html_file.as_uri())
    assert res.returncode == 0 and pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
