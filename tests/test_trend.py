"""Several inspections and years in one store: `--by year`, `--by inspection` (issue 9,
item 5). Every number is checked against a direct Polars count over the stored cases."""

from __future__ import annotations

import json

import polars as pl
import pytest

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
    rows = [x for x in json.loads(r.stdout) if x["breakdown"] == "year"]
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
