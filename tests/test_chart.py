"""Figures 1-4: SVG/PNG (byte-stable, accessible, snapshot), text bars, hmip chart."""

from __future__ import annotations

import re

import polars as pl
import pytest
from test_report_support import check_snapshot, fixture_cases, write_fixture_store
from typer.testing import CliRunner

from hmip_cli import rates as R
from hmip_cli import schema
from hmip_cli.cli.app import app
from hmip_cli.report import charts
from hmip_cli.report import content as C
from hmip_cli.report.content import figure_data
from hmip_cli.report.terminal import REST, YES, text_chart

runner = CliRunner()


@pytest.fixture(scope="module")
def rates_frame():
    return R.bulletin(schema.with_derived(fixture_cases()), suppress=True).rates


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_svg_snapshot_and_stable(rates_frame, n):
    data = figure_data(rates_frame, n)
    svg = charts.figure_svg(data, n)
    assert svg == charts.figure_svg(data, n)
    check_snapshot(f"figure{n}.svg", svg)


def test_png_byte_identical(rates_frame):
    data = figure_data(rates_frame, 1)
    a, b = charts.figure_png(data, 1), charts.figure_png(data, 1)
    assert a == b and a.startswith(b"\x89PNG")
    assert b"Software" not in a and b"matplotlib" not in a.lower()


def test_svg_accessible(rates_frame):
    data = figure_data(rates_frame, 3)
    svg = charts.figure_svg(data, 3)
    head = svg[svg.index("<svg") : svg.index("<svg") + 2000]
    assert (
        'role="img"' in head and 'aria-labelledby="hmip-figure-3-title hmip-figure-3-desc"' in head
    )
    title = re.search(r'<title id="hmip-figure-3-title">(.*?)</title>', svg).group(1)
    assert title.startswith("Figure 3")
    desc = re.search(r'<desc id="hmip-figure-3-desc">(.*?)</desc>', svg, re.S).group(1)
    for f in schema.FACTORS:
        assert f.label in desc  # alt text names every factor
    assert "Date" not in svg and "<dc:date>" not in svg
    assert charts.PALETTE[0].lower() in svg.lower()  # the Analysis Function dark blue
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert any(t.startswith("Number of applicable cases") for t in texts)  # axis label
    for f in schema.FACTORS:  # every factor named above its bar, as text
        assert f.label in texts, f.label
    # Every published factor is labelled with its % and n: meaning is not in colour alone.
    for r in data.iter_rows(named=True):
        if r["marker"] not in ("[c]", "[z]"):
            assert f"(n = {r['n']:,})" in svg


def test_suppressed_factor_has_no_bar(rates_frame):
    frame = R.bulletin(schema.with_derived(fixture_cases()), suppress=True, min_n=80).rates
    data = figure_data(frame, 4)
    hidden = data.filter(pl.col("marker") == "[c]")
    assert hidden.height > 0
    svg = charts.figure_svg(data, 4, min_n=80)
    assert svg.count("[c] not shown: fewer than 80 applicable cases") == hidden.height
    shown = data.height - hidden.height
    # Two bars (applicable, yes) per shown factor: count the bar patches matplotlib writes.
    assert len(re.findall(r'<g id="patch_\d+">', svg)) >= 2 * shown
    assert f"{hidden['factor_label'][0]}: not shown" in svg  # in the alt text


def test_inline_svgs_share_no_ids(rates_frame):
    """Inlined together in one HTML page, figures must not repeat ids; references follow."""
    a = charts.inline_svg(charts.figure_svg(figure_data(rates_frame, 1), 1), "fig1-")
    b = charts.inline_svg(charts.figure_svg(figure_data(rates_frame, 2), 2), "fig2-")
    ids_a = re.findall(r'id="([^"]+)"', a)
    ids_b = re.findall(r'id="([^"]+)"', b)
    assert not set(ids_a) & set(ids_b)
    assert len(ids_a) == len(set(ids_a))
    for ref in re.findall(r"url\(#([^)]+)\)", a) + re.findall(r'href="#([^"]+)"', a):
        assert ref in ids_a
    assert a.startswith("<svg") and "<metadata>" not in a


def test_text_chart(rates_frame):
    text = text_chart(rates_frame.filter(pl.col("breakdown") == R.ALL), width=20)
    lines = text.splitlines()
    assert lines[0].startswith("Figure 1")
    assert sum(1 for line in lines if line.startswith("Figure ")) == 4
    first = [line for line in lines if line.startswith(tuple(f.label for f in schema.FACTORS))][:10]
    assert [line.split("  ")[0].strip() for line in first] == [f.label for f in schema.FACTORS]
    acc = next(
        r
        for r in rates_frame.iter_rows(named=True)
        if r["figure"] == 1 and r["breakdown"] == R.ALL and r["factor"] == schema.FACTORS[0].key
    )
    line = first[0]
    pct = round(acc["percent_yes"])
    assert f"{pct}%" in line and f"n={acc['n']:,}" in line
    bar = re.search(f"[{YES}{REST}]+", line).group(0)
    assert len(bar) == 20 and bar.count(YES) == round(acc["percent_yes"] / 5)
    assert "\x1b" not in text  # no colour codes: readable without colour


def test_text_chart_with_breakdown_and_suppression():
    cases = schema.with_derived(fixture_cases())
    frame = R.rates(cases, measures=["contracted"], by=["provider"], suppress=True, min_n=40)
    text = text_chart(frame, min_n=40)
    assert "  Provider: CRC" in text and "  Provider: NPS" in text
    assert "[c] not shown: fewer than 40 applicable cases" in text
    assert "[c] suppressed" in text


def test_cli_chart(tmp_path):
    store_dir = write_fixture_store(tmp_path / "store")
    res = runner.invoke(
        app, ["chart", "figure1", "--output", str(tmp_path / "f1.svg"), "--data", str(store_dir)]
    )
    assert res.exit_code == 0, res.stderr
    assert res.stdout == ""
    cases = schema.with_derived(fixture_cases())
    expected = charts.figure_svg(
        figure_data(R.rates(cases, measures=["availability"], suppress=True), 1), 1
    )
    assert (tmp_path / "f1.svg").read_text() == expected  # CLI-vs-library parity
    res = runner.invoke(
        app, ["chart", "4", "-o", str(tmp_path / "f4.png"), "--data", str(store_dir)]
    )
    assert res.exit_code == 0 and (tmp_path / "f4.png").read_bytes().startswith(b"\x89PNG")
    res = runner.invoke(app, ["chart", "delivery", "--data", str(store_dir)])
    assert res.exit_code == 0 and res.stdout.startswith("Figure 2")
    res = runner.invoke(app, ["chart", "figure9", "--data", str(store_dir)])
    assert res.exit_code == 2 and "figure1" in res.stderr
    res = runner.invoke(
        app, ["chart", "figure1", "-o", str(tmp_path / "f.gif"), "--data", str(store_dir)]
    )
    assert res.exit_code == 2


def test_rates_chart_option(tmp_path):
    """`hmip rates --chart` prints the library's text_chart for the same rates."""
    store_dir = write_fixture_store(tmp_path / "store")
    res = runner.invoke(
        app,
        [
            "rates",
            "--measure",
            "delivery",
            "--by",
            "provider",
            "--chart",
            "--suppress",
            "--data",
            str(store_dir),
        ],
    )
    assert res.exit_code == 0, res.stderr
    cases = schema.with_derived(fixture_cases())
    frame = R.rates(cases, measures=["delivery"], by=["provider"], suppress=True)
    assert res.stdout == text_chart(frame)
    assert YES in res.stdout and "n=" in res.stdout


def test_chart_by_provider_grouped_bars(tmp_path):
    """`hmip chart figure2 --by provider`: one bar per provider for each factor, each bar's
    label naming its group (so colour is not needed), a legend, title/desc/role, the data
    behind it as CSV, byte-identical for the same data."""
    store_dir = write_fixture_store(tmp_path / "store")
    cases = schema.with_derived(fixture_cases())
    frame = R.rates(cases, measures=["delivery"], by=["provider"], suppress=True)
    data = charts.by_data(frame, 2, "provider")
    assert data.height == 2 * len(schema.FACTORS)
    svg = charts.figure_by_svg(data, 2, "Provider")
    assert svg == charts.figure_by_svg(data, 2, "Provider")
    assert re.search(r'<svg[^>]*role="img"[^>]*aria-labelledby="hmip-figure-2-by-title', svg)
    assert '<title id="hmip-figure-2-by-title">Figure 2: ' in svg and ", by provider</title>" in svg
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg, re.S).group(1)
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    for r in data.iter_rows(named=True):
        if r["marker"] is None:
            label = f"{r['group_label']} {C.whole(r['percent_yes'])}% (n = {r['n']:,})"
            assert label in texts, label  # on the chart, as text
            assert f"{r['group_label']} {C.whole(r['percent_yes'])}% of {r['n']:,}" in desc
    assert texts.count("CRC") >= 1 and texts.count("NPS") >= 1  # the legend
    colours = {c.lower() for c in re.findall(r"fill: (#[0-9A-Fa-f]{6})", svg)}
    assert {charts.PALETTE[0].lower(), charts.PALETTE[1].lower()} <= colours
    out = tmp_path / "f2.svg"
    args = ["chart", "figure2", "--by", "provider", "--data", str(store_dir)]
    res = runner.invoke(app, [*args, "-o", str(out)])
    assert res.exit_code == 0, res.stderr
    assert out.read_text() == svg  # CLI-vs-library parity
    res = runner.invoke(app, [*args, "-o", str(tmp_path / "f2.csv")])
    assert res.exit_code == 0, res.stderr
    got = pl.read_csv(tmp_path / "f2.csv")
    assert got["group"].to_list() == data["group"].to_list()
    assert got["n"].to_list() == data["n"].to_list()
    res = runner.invoke(app, [*args, "-o", str(tmp_path / "f2.png")])
    assert res.exit_code == 0 and (tmp_path / "f2.png").read_bytes().startswith(b"\x89PNG")
    res = runner.invoke(app, ["chart", "figure2", "--by", "nope", "--data", str(store_dir)])
    assert res.exit_code == 2 and "provider" in res.stderr


def test_grouped_chart_speaks_its_frameworks_words(pdu_cases):
    """`chart --by` on another framework: title, subtitle and text equivalent are that
    framework's (its figure title, area noun and question), not qi-2016's Figures 1-4."""
    from hmip_cli import framework
    from hmip_cli.framework.derive import with_derived

    pdu = framework.load("pdu-2023")
    cases = with_derived(pdu, pdu_cases)
    frame = R.rates(cases, measures=["safety"], by=["gender"], suppress=True, fw=pdu)
    data = charts.by_data(frame, 2, "gender")
    svg = charts.figure_by_svg(data, 2, "Gender", fw=pdu)
    title = "Figure 2: Keeping other people safe, by standard, by gender"
    assert f'<title id="hmip-figure-2-by-title">{title}</title>' in svg
    assert charts.chart_title(2, pdu.breakdown("gender"), pdu) == title
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg, re.S).group(1)
    assert desc.startswith("Grouped horizontal bar chart. For each standard, one bar ")
    assert "focus sufficiently on keeping other people safe?" in desc
    assert "{area}" not in desc and "factor" not in svg and "Figure 2: Delivery" not in svg
