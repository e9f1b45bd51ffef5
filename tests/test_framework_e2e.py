"""End to end, for both shipped frameworks and a test's own (issue 9, "Done when"):
`hmip synth --framework` -> `hmip ingest --framework` -> info, rates, trend, regress --all
and report in every format, each through the CLI as a user runs it.

Every count is checked against a direct Polars count of the synthetic CSV the store was
ingested from (not of the store: the CSV is what the user had), and the wording of each
framework (its titles and labels) is checked in the outputs. The stores are built once per
run (`framework_store` in conftest.py); the report is built by the CLI once per framework
(HTML), and the same report is written as Markdown, XLSX and ODS by `report.write_report`,
which is what `hmip report -o x.md|.xlsx|.ods` calls after building it.
"""

from __future__ import annotations

import io
from html import unescape
from pathlib import Path

import polars as pl
import pytest
from test_framework_custom import CUSTOM
from test_json_support import rows as json_rows
from test_json_support import tables as json_tables

from hmip_cli import framework

N = 240
# (spec, --years): the custom framework has no inspection dates, so no years.
SPECS = {"qi-2016": "2016-2017", "pdu-2023": "2023-2024", "custom": None}


@pytest.fixture(scope="module")
def custom_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("custom-framework") / "youth.toml"
    path.write_text(CUSTOM, encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=list(SPECS))
def made(request, framework_store, custom_file):
    """(framework, store dir, the synthetic cases as the CSV has them: text)."""
    spec = str(custom_file) if request.param == "custom" else request.param
    data, csv = framework_store(spec, SPECS[request.param], N)
    return framework.load(spec), data, pl.read_csv(csv, infer_schema=False)


def _judged(cases: pl.DataFrame, column: str) -> tuple[int, int]:
    """(applicable = recorded, yes) of a judgement column of the CSV."""
    c = cases.get_column(column)
    return int(c.is_not_null().sum()), int((c == "yes").sum())


def _column(fw, item: str) -> str:
    return fw.item_column(item)


def test_info_counts_the_cases_per_inspection(made, cli):
    fw, data, cases = made
    r = cli("info", "--data", data, "-f", "json")
    assert r.exit_code == 0, r.stderr
    t = json_tables(r.stdout)
    (summary,) = t["store"]
    assert summary["n_cases"] == N == cases.height and summary["framework"] == fw.name
    got: dict[str, int] = {}
    for row in t["counts"]:
        got[row["inspection"]] = got.get(row["inspection"], 0) + row["n_cases"]
    want = dict(cases.group_by("inspection").len().iter_rows())
    assert got == want and len(want) > 1


def test_rates_match_direct_counts_in_the_framework_s_words(made, cli):
    fw, data, cases = made
    r = cli("rates", "--data", data, "-f", "json")
    assert r.exit_code == 0, r.stderr
    rows = [x for x in json_rows(r.stdout) if x["breakdown"] == "all"]
    assert len(rows) == len(fw.areas) * len(fw.measures)
    for row in rows:
        area, measure = fw.area(row["factor"]), fw.measure(row["measure"])
        assert (row["factor_label"], row["measure_label"]) == (area.label, measure.label)
        want = _judged(cases, fw.judgement_column(area, measure))
        assert (row["n"], row["n_yes"]) == want, (area.key, measure.key)
    r = cli("rates", "--data", data)
    for m in fw.measures:  # the figure titles, in the framework's own words
        assert fw.rates_title(m) in r.stdout


def _period(fw, cases: pl.DataFrame, period: str) -> pl.Expr:
    if period == "year":
        return pl.col("inspection_date").str.slice(0, 4).fill_null("not_recorded")
    return pl.col("inspection")


def test_trend_matches_direct_counts_per_period(made, cli):
    fw, data, cases = made
    r = cli("trend", "--data", data, "-f", "json")
    assert r.exit_code == 0, r.stderr
    got = json_rows(r.stdout)
    period = "year" if "inspection_date" in cases.columns else "inspection"
    series = {row["series"] for row in got}
    assert series == set(fw.items())
    assert {row["framework"] for row in got} == {fw.name}
    for item in fw.items():
        column = _column(fw, item)
        direct = (
            cases.group_by(_period(fw, cases, period).alias("p"))
            .agg(
                n=pl.col(column).is_not_null().sum(),
                y=(pl.col(column) == "yes").sum(),
            )
            .filter(pl.col("n") > 0)
        )
        want = {p: (n, y) for p, n, y in direct.iter_rows()}
        have = {x["period"]: (x["n"], x["n_yes"]) for x in got if x["series"] == item}
        assert {p: v for p, v in have.items() if v[0] > 0} == want, item
    labels = {row["series_label"] for row in got}
    assert {a.label for a in fw.areas} <= labels


@pytest.mark.slow
def test_regress_all_models_every_judgement(made, cli):
    fw, data, _ = made
    r = cli("regress", "--all", "--data", data, "-f", "csv")
    assert r.exit_code == 0, r.stderr
    frame = pl.read_csv(io.StringIO(r.stdout), infer_schema=False)
    assert set(frame.get_column(frame.columns[0]).unique()) == set(fw.items())


@pytest.mark.slow
def test_report_in_every_format_in_the_framework_s_words(made, cli, tmp_path, monkeypatch):
    from test_publication import read_ods, read_xlsx

    from hmip_cli import store
    from hmip_cli.report import content as C
    from hmip_cli.report import write as W

    fw, data, cases = made
    # The CLI's report is kept as build_report returns it, to be written in the other
    # formats below (before, a second build with the same arguments: the same report).
    built: list = []
    real_build = C.build_report

    def keep(cases, **kwargs):
        built.append((cases, kwargs, real_build(cases, **kwargs)))
        return built[-1][2]

    monkeypatch.setattr(C, "build_report", keep)
    html = tmp_path / "report.html"
    r = cli("report", "--data", data, "-o", html)
    assert r.exit_code == 0, r.stderr
    titles = [m.wording.figure_title for m in fw.measures]  # the report's figure titles
    text = unescape(html.read_text(encoding="utf-8"))
    for title in titles:
        assert title in text
    assert f"{N:,}" in text  # the number of cases

    # The same report as Markdown, XLSX and ODS: the CLI's own, built from the store's
    # cases and info with the framework's default parameters, as synthetic data.
    (got, kwargs, rep) = built.pop()
    loaded, info = store.load_cases_and_info(data, identifying=False)
    assert got.lazy().collect().select(loaded.columns).equals(loaded) and kwargs["info"] == info
    assert kwargs["params"] == W._for_framework(None, fw) and kwargs["synthetic"] is True
    md = tmp_path / "report.md"
    W.write_report(rep, md, "markdown")
    md_text = md.read_text(encoding="utf-8")
    for title in titles:
        assert title in md_text
    for kind, reader in (("xlsx", read_xlsx), ("ods", read_ods)):
        path = tmp_path / f"report.{kind}"
        W.write_report(rep, path, kind)
        sheets = reader(path.read_bytes())["sheets"]
        cells = [v for grid in sheets.values() for row in grid for _, v in row]
        texts = " ".join(str(v) for v in cells if isinstance(v, str))
        for title in titles:
            assert title in texts, (kind, title)
        # the all-cases count of the first judgement, as a number in some figure's sheet
        first = fw.judgement_column(fw.areas[0], fw.measures[0])
        n, _ = _judged(cases, first)
        assert any(v == n for v in cells if isinstance(v, (int, float))), kind
