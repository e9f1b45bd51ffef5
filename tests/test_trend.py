"""Several inspections and years in one store: `--by year`, `--by inspection` (issue 9,
item 5). Every number is checked against a direct Polars count over the stored cases."""

from __future__ import annotations

import polars as pl
import pytest
from test_json_support import rows as json_rows

from hmip_cli import rates as R


def _direct(cases: pl.DataFrame, column: str, group: str) -> pl.DataFrame:
    """n (recorded) and n_yes of a judgement column per group: the plain definition."""
    return (
        cases.group_by(pl.col(group).cast(pl.String).fill_null(R.NOT_RECORDED).alias("group"))
        .agg(n=pl.col(column).is_not_null().sum(), n_yes=pl.col(column).sum())
        .with_columns(pl.col("n", "n_yes").cast(pl.Int64))
    )


def test_store_spans_four_years_and_an_undated_inspection(trend_cases):
    years = trend_cases["inspection_year"].unique().sort(nulls_last=True).to_list()
    assert years == [2016, 2017, 2019, 2020, None]
    undated = trend_cases.filter(pl.col("inspection_year").is_null())["inspection"].unique()
    assert undated.to_list() == ["Cumbria"]


@pytest.mark.parametrize("by, column", [("year", "inspection_year"), ("inspection", "inspection")])
def test_rates_by_period_match_direct_counts(trend_cases, by, column):
    out = R.rates(trend_cases, measures=["delivery"], factors=["ete", "drugs"], by=[by])
    for factor in ("ete", "drugs"):
        got = out.filter((pl.col("factor") == factor) & (pl.col("breakdown") == by))
        want = _direct(trend_cases, f"{factor}_delivered", column)
        joined = got.join(want, on="group", how="full", suffix="_want")
        assert joined.height == want.height == got.height
        assert joined["n"].to_list() == joined["n_want"].to_list()
        assert joined["n_yes"].to_list() == joined["n_yes_want"].to_list()
        pct = joined.filter(pl.col("n") > 0)
        assert (pct["percent_yes"] - 100 * pct["n_yes_want"] / pct["n_want"]).abs().max() < 1e-12
    if by == "year":  # in time order, the undated cases last
        groups = out.filter((pl.col("factor") == "ete") & (pl.col("breakdown") == "year"))
        assert groups["group"].to_list() == ["2016", "2017", "2019", "2020", R.NOT_RECORDED]
        assert groups["breakdown_label"].unique().to_list() == ["Year"]


def test_year_suppression_follows_the_usual_rules(trend_cases):
    """Below --min-n a year is [c] (primary); a lone primary takes the next smallest year
    (secondary); the all-cases row is never suppressed."""
    min_n = 60
    out = R.rates(
        trend_cases, measures=["delivery"], by=["year"], min_n=min_n, suppress=True
    ).filter(pl.col("breakdown") == "year")
    want = {}
    for factor in out["factor"].unique().to_list():
        d = _direct(trend_cases, f"{factor}_delivered", "inspection_year")
        want.update({(factor, g): n for g, n in d.select("group", "n").iter_rows()})
    checked_secondary = 0
    for (factor,), part in out.group_by("factor"):
        primary = [g for g, n in zip(part["group"], part["n"]) if 0 < want[(factor, g)] < min_n]
        assert sorted(part.filter(pl.col("suppressed") == "primary")["group"]) == sorted(primary)
        sec = part.filter(pl.col("suppressed") == "secondary")
        if len(primary) == 1:
            free = part.filter(pl.col("suppressed").is_null() & (pl.col("n") > 0))
            assert sec.height == 1 and sec["n"][0] <= free["n"].min()
            checked_secondary += 1
        else:
            assert sec.height == 0
        hidden = part.filter(pl.col("suppressed").is_not_null())
        assert hidden["marker"].to_list() == [R.MARK_SUPPRESSED] * hidden.height
        assert hidden["n_yes"].null_count() == hidden.height
    assert checked_secondary > 0  # the data exercise the secondary rule


def test_where_year_selects_one_year(trend_cases):
    out = R.rates(trend_cases, measures=["availability"], factors=["ete"], where=["year=2019"])
    want = trend_cases.filter(pl.col("inspection_date").dt.year() == 2019)["ete_available"]
    row = out.filter(pl.col("breakdown") == R.ALL).row(0, named=True)
    assert (row["n"], row["n_yes"]) == (want.count(), want.sum())


def test_cli_by_year_in_rates_protection_and_sample(cli, trend_store, trend_cases):
    r = cli("rates", "--measure", "partner", "--factor", "ete", "--by", "year", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = [x for x in json_rows(r.stdout) if x["breakdown"] == "year"]
    want = _direct(trend_cases, "ete_partner", "inspection_year").sort("group")
    got = sorted((x["group"], x["n"], x["n_yes"]) for x in rows)
    assert got == sorted(want.select("group", "n", "n_yes").iter_rows())

    r = cli("protection", "--by", "year", "--format", "csv")
    assert r.exit_code == 0, r.output
    frame = pl.read_csv(r.stdout.encode(), schema_overrides={"group": pl.String})
    got = frame.filter(
        (pl.col("breakdown") == "year") & (pl.col("question") == "partner-harm-focus")
    )
    want = _direct(trend_cases, "partner_harm_focus", "inspection_year")
    assert dict(got.select("group", "n").iter_rows()) == dict(want.select("group", "n").iter_rows())

    r = cli("sample", "--by", "year")
    assert r.exit_code == 0, r.output
    assert "Year" in r.stdout and "2020" in r.stdout


# --------------------------------------------------------------------------------------
# hmip trend: one column per period
# --------------------------------------------------------------------------------------


def _direct_trend(cases: pl.DataFrame, column: str) -> dict[str, tuple[int, int]]:
    d = _direct(cases, column, "inspection_year")
    return {g: (n, y) for g, n, y in d.select("group", "n", "n_yes").iter_rows()}


def test_trend_counts_match_direct_polars(trend_cases):
    from hmip_cli import trend as TR

    res = TR.trend(TR.segments_from_cases(trend_cases), measures=["delivery", "partner"])
    assert [p for p, _ in res.periods] == ["2016", "2017", "2019", "2020", R.NOT_RECORDED]
    assert res.frameworks == ("qi-2016",) and not res.breaks and not res.not_trended
    for (series,), part in res.frame.group_by("series"):
        area, measure = series.split("/")
        column = f"{area}_{'delivered' if measure == 'delivery' else measure}"
        want = _direct_trend(trend_cases, column)
        got = {p: (n, y) for p, n, y in part.select("period", "n", "n_yes").iter_rows()}
        assert got == want
    assert res.frame["series"].n_unique() == 20  # ten factors x two measures, no questions
    pct = res.frame.filter(pl.col("n") > 0)
    assert (pct["percent_yes"] - 100 * pct["n_yes"] / pct["n"]).abs().max() < 1e-12


def test_trend_suppression_per_series(trend_cases):
    from hmip_cli import trend as TR

    min_n = 40
    res = TR.trend(
        TR.segments_from_cases(trend_cases),
        items=["ete/delivery", "finance/delivery"],
        min_n=min_n,
        suppress=True,
    )
    for (series,), part in res.frame.group_by("series"):
        primary = part.filter((pl.col("n") > 0) & (pl.col("n") < min_n))["period"].sort()
        assert part.filter(pl.col("suppressed") == "primary")["period"].sort().equals(primary)
        sec = part.filter(pl.col("suppressed") == "secondary")
        assert sec.height == (1 if primary.len() == 1 else 0)
        hidden = part.filter(pl.col("suppressed").is_not_null())
        assert hidden["n_yes"].null_count() == hidden.height
        assert set(hidden["marker"]) <= {R.MARK_SUPPRESSED}


def test_codes_are_explained_above_the_table_as_in_rates(trend_cases):
    # As rates and protection do: the shorthand guidance, then each code in the table,
    # above it; below it only the notes on n and rounding (before: [u] and [c] sat below).
    from hmip_cli import trend as TR
    from hmip_cli import trend_tables as TT
    from hmip_cli.render import Format, to_text

    res = TR.trend(TR.segments_from_cases(trend_cases), items=["finance/delivery"], min_n=40)
    lines = to_text(TT.trend_tables(res, Format.table, min_n=40), Format.table).splitlines()
    header = next(i for i, line in enumerate(lines) if "┃ Area" in line)
    intro = lines.index("Some cells contain shorthand instead of a number:")
    low = next(i for i, line in enumerate(lines) if line.startswith("[u] low reliability"))
    assert intro < low < header
    assert "fewer than 40 applicable cases" in lines[low]
    assert any("[u]" in line for line in lines[header:])  # the code it explains is there


def test_trend_by_inspection_is_an_area_in_a_year(trend_cases):
    from hmip_cli import trend as TR

    res = TR.trend(TR.segments_from_cases(trend_cases), period="inspection", items=["ete/delivery"])
    periods = [p for p, _ in res.periods]
    assert periods[0] == "Durham 2016" and "Durham 2019" in periods
    assert periods[-1] == "Cumbria"  # round 2's Cumbria is undated: last
    want = trend_cases.filter(
        (pl.col("inspection") == "Durham") & (pl.col("inspection_year") == 2019)
    )["ete_delivered"]
    row = res.frame.filter(pl.col("period") == "Durham 2019").row(0, named=True)
    assert (row["n"], row["n_yes"]) == (want.count(), want.sum())


def _mixed(trend_cases, pdu_cases):
    from hmip_cli import framework as F
    from hmip_cli import trend as TR

    return [TR.Segment(F.load("qi-2016"), trend_cases), TR.Segment(F.load("pdu-2023"), pdu_cases)]


def test_mixed_frameworks_trend_through_the_crosswalk(trend_cases, pdu_cases):
    """qi-2016 rounds then pdu-2023: only implementation/safety (approximately
    partner-harm-focus) is trended; its first pdu-2023 year is [b]; nothing unmapped shows."""
    from hmip_cli import trend as TR

    res = TR.trend(_mixed(trend_cases, pdu_cases), suppress=False)
    assert res.reference == "pdu-2023" and res.frameworks == ("qi-2016", "pdu-2023")
    assert res.frame["series"].unique().to_list() == ["implementation/safety"]
    assert "assessment/desistance" not in res.frame["series"].to_list()  # unmapped: absent
    left_out = {(x.framework, x.item) for x in res.not_trended}
    assert ("pdu-2023", "assessment/desistance") in left_out
    assert ("pdu-2023", "reviewing/safety") in left_out
    assert ("qi-2016", "ete/delivery") in left_out and (
        "qi-2016",
        "partner-harm-focus",
    ) not in left_out
    periods = res.frame.select("period", "framework", "item", "n", "n_yes", "break_in_series")
    assert periods["period"].to_list() == [
        "2016",
        "2017",
        "2019",
        "2020",
        "2023",
        "2024",
        "not_recorded",  # undated cases last
    ]
    assert periods.filter(pl.col("break_in_series"))["period"].to_list() == ["2023"]
    qi = _direct_trend(trend_cases, "partner_harm_focus")
    pdu = _direct_trend(
        pdu_cases.with_columns(inspection_year=pl.col("inspection_date").dt.year()),
        "implementation_safety",
    )
    for p, fw, item, n, y, _ in periods.iter_rows():
        want = qi[p] if fw == "qi-2016" else pdu[p]
        assert (n, y) == want
        assert item == ("partner-harm-focus" if fw == "qi-2016" else "implementation/safety")


def test_segments_from_a_mixed_frame(trend_cases, pdu_cases):
    from hmip_cli import trend as TR

    qi = trend_cases.with_columns(framework=pl.lit("qi-2016"))
    pdu = pdu_cases.with_columns(framework=pl.lit("pdu-2023"))
    # A mixed frame holds each framework's categories as text (their levels differ).
    mixed = pl.concat(
        [f.with_columns(pl.col(pl.Enum).cast(pl.String)) for f in (qi, pdu)], how="diagonal"
    )
    segs = TR.segments_from_cases(mixed)
    assert sorted(s.framework.name for s in segs) == ["pdu-2023", "qi-2016"]
    res = TR.trend(segs)
    assert res.frame.filter(pl.col("break_in_series"))["period"].to_list() == ["2023"]


def test_an_exact_link_continues_without_a_break(trend_cases, pdu_cases):
    from hmip_cli import framework as F
    from hmip_cli import trend as TR
    from hmip_cli.framework.crosswalk import parse_crosswalk

    text = """
[crosswalk]
name = "test-exact"
from = "qi-2016"
to = "pdu-2023"
[[link]]
from = "partner-harm-focus"
to = "implementation/safety"
match = "exact"
[[link]]
from = "ete/delivery"
to = "implementation/desistance"
match = "approximate"
"""
    cw = parse_crosswalk(text, F.load)
    res = TR.trend(_mixed(trend_cases, pdu_cases), crosswalks=[cw])
    assert sorted(res.frame["series"].unique()) == [
        "implementation/desistance",
        "implementation/safety",
    ]
    breaks = res.frame.filter(pl.col("break_in_series"))
    assert breaks.select("series", "period").rows() == [("implementation/desistance", "2023")]
    assert res.crosswalks == ("test-exact",)


def test_mixed_human_tables_explain_b_above_and_list_the_unmapped(trend_cases, pdu_cases, tmp_path):
    from hmip_cli import trend as TR
    from hmip_cli import trend_tables as TT
    from hmip_cli.render import Format, emit, to_text

    res = TR.trend(_mixed(trend_cases, pdu_cases))
    text = to_text(TT.trend_tables(res, Format.table), Format.table)
    lines = text.splitlines()
    legend = next(i for i, line in enumerate(lines) if line.startswith("[b] break in series"))
    header = next(i for i, line in enumerate(lines) if "2023 %" in line or "2023" in line)
    assert legend < header  # explained above the table
    assert "Not trended: 7 pdu-2023 judgement(s)" in text
    assert "[b]" in next(line for line in lines if "Implementation and delivery" in line)
    assert "partner-harm-focus (approximate)" in text  # what the series continues
    md = to_text(TT.trend_tables(res, Format.markdown), Format.markdown)
    assert md.index("\\[b\\] break in series") < md.index("| Area")  # [b], escaped
    wide = TT.trend_tables(res, Format.csv, layout="wide")[0].frame
    assert wide["2023_marker"].to_list() == ["[b]"]
    path = tmp_path / "trend.xlsx"
    emit(TT.trend_tables(res, Format.xlsx), Format.xlsx, path)
    from openpyxl import load_workbook

    sheet = load_workbook(path).worksheets[-1]
    column_a = [c.value for c in sheet["A"] if c.value]
    assert "[b] = break in series" in column_a
    header_row = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "Series")
    assert "2023 %" in header_row


def test_cli_trend_formats(cli, trend_store, trend_cases):
    r = cli("trend", "--item", "ete/delivery", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    frame = pl.read_csv(r.stdout.encode(), schema_overrides={"period": pl.String})
    got = {p: (n, y) for p, n, y in frame.select("period", "n", "n_yes").iter_rows()}
    assert got == _direct_trend(trend_cases, "ete_delivered")
    r = cli("trend", "--measure", "delivery", "--format", "json", "--layout", "wide")
    assert r.exit_code == 0, r.stderr
    rows = json_rows(r.stdout)
    assert len(rows) == 10 and {"2016_n", "2020_percent_yes", "not_recorded_marker"} <= set(rows[0])
    r = cli("trend", "--measure", "delivery", "--suppress")
    assert r.exit_code == 0 and "Trend by year" in r.stdout and "2019 %" in r.stdout
    assert "[c]" in r.stdout
    r = cli("trend", "--item", "no-such-thing")
    assert r.exit_code == 2 and "no-such-thing" in r.stderr


def test_trend_chart_is_accessible_and_marks_the_break(trend_cases, pdu_cases):
    from hmip_cli import trend as TR
    from hmip_cli.render import percent_text
    from hmip_cli.report import trend_chart

    res = TR.trend(_mixed(trend_cases, pdu_cases))
    svg = trend_chart.trend_svg(res)
    assert 'role="img"' in svg and '<title id="hmip-trend-title">Trend by year' in svg
    desc = svg.split('<desc id="hmip-trend-desc">')[1].split("</desc>")[0]
    row = res.frame.filter(pl.col("period") == "2023").row(0, named=True)
    pct = percent_text(row["n_yes"], row["n"])
    assert f"2023: {pct}% (n = {row['n']:,}) [b]" in desc  # the data table, break included
    assert "[b]" in svg.split("</desc>")[1]  # drawn on the chart, not only described
    assert trend_chart.trend_svg(res) == svg  # byte-identical


def test_cli_chart_trend(cli, trend_store, tmp_path):
    out = tmp_path / "t.svg"
    r = cli("chart", "trend", "--measure", "delivery", "--factor", "ete", "-o", out)
    assert r.exit_code == 0, r.stderr
    assert "Education, training and employment" in out.read_text()
    r = cli("chart", "trend", "--measure", "delivery", "-o", out)  # ten series
    assert r.exit_code == 2 and "at most 6" in r.stderr
    r = cli("chart", "figure1", "--item", "ete/delivery")
    assert r.exit_code == 2 and "--item" in r.stderr


# --where in any framework, and across a change of framework (issue 9 item 5) ------------


def _pdu_derived(pdu_cases):
    from hmip_cli import framework as F
    from hmip_cli.framework.derive import with_derived

    return with_derived(F.load("pdu-2023"), pdu_cases)


def test_where_selects_pdu_cases_by_their_own_breakdowns(pdu_cases):
    from hmip_cli import framework as F
    from hmip_cli import trend as TR

    seg = TR.Segment(F.load("pdu-2023"), pdu_cases)
    res = TR.trend([seg], where=["region=london,wales", "gender=female"], items=["planning/safety"])
    assert res.where_text == "region = London, Wales and gender = Female"
    chosen = _pdu_derived(pdu_cases).filter(
        pl.col("region").cast(pl.String).is_in(["london", "wales"])
        & (pl.col("gender").cast(pl.String) == "female")
    )
    want = _direct_trend(chosen, "planning_safety")
    got = {p: (n, y) for p, n, y in res.frame.select("period", "n", "n_yes").iter_rows()}
    assert got == want and sum(n for n, _ in got.values()) > 0


def test_where_is_carried_across_the_crosswalk(trend_cases, pdu_cases):
    """--where sentence_type=licence selects pdu-2023's licence cases and, through the
    crosswalk's approximate breakdown link, qi-2016's post-custody cases; a note says so."""
    from hmip_cli import trend as TR

    res = TR.trend(_mixed(trend_cases, pdu_cases), where=["sentence_type=licence"])
    assert res.where_text == "sentence_type = Release on licence"
    assert res.where_notes == (
        "for the qi-2016 cases, supervision = Post-custody (approximate counterpart of "
        "sentence_type = Release on licence, crosswalk qi-2016--pdu-2023)",
    )
    qi = _direct_trend(
        trend_cases.filter(pl.col("supervision") == "post_custody"), "partner_harm_focus"
    )
    pdu = _direct_trend(
        _pdu_derived(pdu_cases).filter(pl.col("sentence_type") == "licence"),
        "implementation_safety",
    )
    rows = res.frame.select("period", "framework", "n", "n_yes").iter_rows()
    for p, fw, n, y in rows:
        assert (n, y) == (qi if fw == "qi-2016" else pdu).get(p, (0, 0))
    human = TR_tables_text(res)
    # Markdown: the key's "_" is escaped (render.markdown_escape, the one escaper)
    assert "Cases selected: sentence\\_type = Release on licence." in human
    assert "Cases selected for the qi-2016 cases, supervision = Post-custody" in human


def TR_tables_text(res) -> str:
    from hmip_cli import trend_tables as TT
    from hmip_cli.render import Format, to_text

    return to_text(TT.trend_tables(res, Format.markdown), Format.markdown)


def test_where_across_frameworks_refuses_what_does_not_carry(trend_cases, pdu_cases):
    from hmip_cli import trend as TR
    from hmip_cli.errors import BadRequest

    segs = _mixed(trend_cases, pdu_cases)
    with pytest.raises(BadRequest, match=r"--where region, for the qi-2016 cases: unknown"):
        TR.trend(segs, where=["region=london"])  # pdu-2023 only, and no crosswalk link
    with pytest.raises(BadRequest, match="unknown --where key 'provider'"):
        TR.trend(segs, where=["provider=CRC"])  # asked in the latest framework's terms
    with pytest.raises(BadRequest, match="unknown value 'Nowhere' for --where inspection"):
        TR.trend(segs, where=["inspection=Nowhere"])


def test_where_an_inspection_of_one_framework(trend_cases, pdu_cases):
    """An inspection only the pdu-2023 cases have selects them, and no qi-2016 case."""
    from hmip_cli import trend as TR

    res = TR.trend(_mixed(trend_cases, pdu_cases), where=["inspection=Leeds"])
    assert res.frame.filter(pl.col("framework") == "qi-2016")["n"].sum() == 0
    pdu = _direct_trend(
        _pdu_derived(pdu_cases).filter(pl.col("inspection") == "Leeds"), "implementation_safety"
    )
    got = res.frame.filter(pl.col("framework") == "pdu-2023").select("period", "n", "n_yes")
    assert {p: (n, y) for p, n, y in got.iter_rows()} == pdu
