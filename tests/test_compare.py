"""`hmip rates --by X --test` (issue 14, item 2): Newcombe's hybrid score interval for the
difference and a chi-square or Fisher's exact p, against R."""

from __future__ import annotations

import io

import polars as pl
import pytest

from hmip_cli.compare import CHI_SQUARE, FISHER, compare, newcombe_interval

# Reference values from R 4.x (options(digits = 15)):
#   newcombe <- function(x1, n1, x2, n2) {       # Newcombe (1998), method 10
#     w1 <- prop.test(x1, n1, correct = FALSE)$conf.int   # Wilson score intervals
#     w2 <- prop.test(x2, n2, correct = FALSE)$conf.int
#     p1 <- x1 / n1; p2 <- x2 / n2; d <- p2 - p1
#     c(d, d - sqrt((p2 - w2[1])^2 + (w1[2] - p1)^2), d + sqrt((w2[2] - p2)^2 + (p1 - w1[1])^2))
#   }
#   prop.test(c(x1, x2), c(n1, n2), correct = FALSE)   # $statistic, $p.value
#   fisher.test(matrix(c(x1, n1 - x1, x2, n2 - x2), nrow = 2, byrow = TRUE))$p.value
CASES = [
    # x1, n1, x2, n2, d, lower, upper, chi-square, chi-square p, Fisher p
    (
        103, 191, 88, 119,
        0.200228782612522, 0.0902479146112978, 0.300111441429815,
        12.4283852698126, 0.000422857347310737, 0.000479312392244551,
    ),
    (
        56, 70, 48, 80,
        -0.2, -0.333872654036906, -0.0524314724023649,
        7.02341137123746, 0.00804508136819656, 0.0125211297492092,
    ),
    (
        3, 9, 8, 10,
        0.466666666666667, 0.026628739629411, 0.723186377062739,
        4.23181818181818, 0.03967291990431, 0.0697785186949273,
    ),
    (
        0, 12, 5, 15,
        0.333333333333333, 0.030395979314377, 0.582864522614802,
        4.90909090909091, 0.0267156984471795, 0.047008547008547,
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_against_r(case):
    x1, n1, x2, n2, d, lo, hi, chi, p_chi, p_fisher = case
    got = newcombe_interval(x1, n1, x2, n2)
    assert got == pytest.approx((d, lo, hi), rel=1e-9, abs=1e-12)
    c = compare([x1, x2], [n1, n2])
    assert c is not None
    small = min(x1, n1 - x1, x2, n2 - x2) < 10  # expected counts below 5 in cases 3 and 4
    if small:
        assert c.method == FISHER and c.statistic is None
        assert c.p == pytest.approx(p_fisher, rel=1e-9)
    else:
        assert c.method == CHI_SQUARE
        assert c.statistic == pytest.approx(chi, rel=1e-9)
        assert c.p == pytest.approx(p_chi, rel=1e-9)
    assert (c.difference, c.ci_lower, c.ci_upper) == pytest.approx((d, lo, hi), rel=1e-9)


def test_more_groups_chi_square_homogeneity():
    # m <- matrix(c(40, 20, 30, 30, 25, 35), nrow = 3, byrow = TRUE)
    # chisq.test(m, correct = FALSE): X-squared = 7.80185758513932, df = 2, p = 0.0202231196370549
    c = compare([40, 30, 25], [60, 60, 60])
    assert c is not None and c.method == CHI_SQUARE and c.df == 2 and c.difference is None
    assert c.statistic == pytest.approx(7.80185758513932, rel=1e-9)
    assert c.p == pytest.approx(0.0202231196370549, rel=1e-9)


def test_nothing_to_test():
    assert compare([0, 0], [10, 12]) is None  # no yes at all
    assert compare([3], [10]) is None
    assert compare([3, 0], [10, 0]) is None


def test_cli_test_columns_match_the_library(cli, example_store):
    r = cli("rates", "--measure", "delivery", "--by", "provider", "--test", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    frame = pl.read_csv(io.StringIO(r.stdout))
    for col in ("difference_ci_lower", "difference_ci_upper", "test_method", "p_value"):
        assert col in frame.columns
    for (_factor,), part in frame.filter(pl.col("breakdown") == "provider").group_by(
        "factor", maintain_order=True
    ):
        crc, nps = (
            part.filter(pl.col("group") == "CRC").row(0, named=True),
            part.filter(pl.col("group") == "NPS").row(0, named=True),
        )
        c = compare([crc["n_yes"], nps["n_yes"]], [crc["n"], nps["n"]])
        assert c is not None
        assert crc["p_value"] == pytest.approx(c.p, rel=1e-12)
        assert crc["difference_ci_lower"] == pytest.approx(100 * c.ci_lower, rel=1e-12)
        assert crc["difference_pp"] == pytest.approx(100 * c.difference, rel=1e-9)
        assert crc["difference_ci_lower"] <= crc["difference_pp"] <= crc["difference_ci_upper"]
    table = cli("rates", "--measure", "delivery", "--by", "provider", "--test").stdout
    assert "95% CI" in table and "p (unadjusted)" in table and "hmip regress" in table


def test_cli_test_needs_by(cli, example_store):
    r = cli("rates", "--measure", "delivery", "--test")
    assert r.exit_code == 2 and "--test does not apply without --by" in r.stderr
    r = cli("rates", "--measure", "delivery", "--by", "provider", "--test", "--chart")
    assert r.exit_code == 2


# ---- --cross: one crossed table, suppression on its cells, rows and columns -------------


def test_crossed_counts_are_the_cross_classification(example_cases):
    from hmip_cli import rates, schema

    f = rates.rates(
        example_cases, measures=["delivery"], factors=["accommodation"],
        by=["provider", "gender"], cross=True,
    )  # fmt: skip
    cells = f.filter(pl.col("breakdown") == "provider x gender")
    direct = (
        schema.with_derived(example_cases)
        .filter(pl.col("accommodation_delivered").is_not_null())
        .group_by("provider", "gender")
        .agg(n=pl.len(), n_yes=pl.col("accommodation_delivered").sum())
    )
    for row in direct.drop_nulls().iter_rows(named=True):
        cell = cells.filter(pl.col("group") == f"{row['provider']} x {row['gender']}")
        assert cell["n"].item() == row["n"] and cell["n_yes"].item() == row["n_yes"]
    assert cells["group_label"].to_list()[:2] == ["CRC, Male", "CRC, Female"]
    assert cells["n"].sum() == f.filter(pl.col("breakdown") == "all")["n"].item()


def test_crossed_suppression_protects_rows_columns_and_total(example_cases):
    from hmip_cli import rates

    f = rates.rates(
        example_cases, measures=["contracted", "delivery"], by=["provider", "supervision"],
        cross=True, suppress=True, min_n=30,
    )  # fmt: skip
    cells = f.filter(
        (pl.col("breakdown") != "all") & (pl.col("group") != "not_recorded")
    ).with_columns(
        _r=pl.col("group").str.split(" x ").list.get(0),
        _c=pl.col("group").str.split(" x ").list.get(1),
        hidden=pl.col("suppressed").is_not_null(),
    )
    assert cells.filter(pl.col("n").is_between(1, 29))["suppressed"].is_not_null().all()
    assert (cells["suppressed"] == "secondary").any()
    for line in (["measure", "factor"], ["measure", "factor", "_r"], ["measure", "factor", "_c"]):
        counts = cells.group_by(line).agg(pl.col("hidden").sum())
        assert (counts["hidden"] != 1).all(), line  # never exactly one: it could be worked out
    assert f.filter(pl.col("suppressed").is_not_null())["n_yes"].is_null().all()


def test_cross_usage(cli, example_store):
    r = cli("rates", "--by", "provider", "--cross")
    assert r.exit_code == 2 and "--cross needs exactly two --by" in r.stderr
    r = cli("rates", "--cross")
    assert r.exit_code == 2 and "--cross does not apply" in r.stderr
    r = cli("rates", "--measure", "delivery", "--by", "provider", "--by", "gender", "--cross")
    assert r.exit_code == 0 and "by provider × gender" in r.stdout and "CRC, Female" in r.stdout
