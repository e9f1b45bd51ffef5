"""`rates --by inspection`: a breakdown with many groups is shown one row per group, the
measures side by side (issue 14, item 2). Before, 14 inspections side by side were 30
columns, which no terminal holds, so every cell became a "label value" line: 1,333 lines
at 100 columns for `hmip rates --by inspection`."""

from __future__ import annotations

import re

import polars as pl
import pytest

from hmip_cli import rates as R
from hmip_cli import tables
from hmip_cli.render import percent_text


def _clean(text: str) -> str:
    """Without colour codes and table borders, each line stripped."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return "\n".join(re.sub("[\u2500-\u257f]", " ", x).strip() for x in text.splitlines())


def test_many_groups_are_rows_and_the_numbers_are_the_rates(cli, example_store, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    r = cli("rates", "--by", "inspection")
    assert r.exit_code == 0, r.stderr
    out = _clean(r.stdout)
    # one table per factor, not one per measure with a line per cell
    assert len(re.findall(r"^Range \(points\)", out, re.M)) == 10
    assert len(out.splitlines()) < 300
    side = _clean(cli("rates", "--by", "inspection", "--rows", "factors").stdout)
    assert len(side.splitlines()) > 1000  # the old layout, still there on request
    # every inspection's row holds its four rates, as the machine output has them
    machine = pl.read_csv(
        cli("rates", "--by", "inspection", "--factor", "accommodation", "-f", "csv").stdout.encode()
    )
    inspections = machine.filter(pl.col("breakdown") == "inspection")
    raw = cli("rates", "--by", "inspection", "--factor", "accommodation").stdout
    first = _clean(raw)
    for name in inspections["group_label"].unique().to_list():
        line = next(x for x in first.splitlines() if x.startswith(name + " "))
        cells = re.findall(r"(\d+\.\d|\[z\]|\[c\])(?: \[u\])? \((\d+)\)", line)
        want = inspections.filter(pl.col("group_label") == name).sort("figure")
        assert len(cells) == 4 == want.height, line
        for (pct, n), row in zip(cells, want.iter_rows(named=True)):
            assert int(n) == row["n"]
            assert pct == (percent_text(row["n_yes"], row["n"]) if row["n"] else "[z]")
    # 80 columns: every line fits, nothing is cut
    assert max(len(x) for x in raw.splitlines()) <= 80


def test_the_test_of_difference_is_the_last_row(cli, example_store):
    out = _clean(
        cli(
            "rates", "--by", "inspection", "--factor", "ete", "--measure", "delivery", "--test"
        ).stdout
    )
    machine = pl.read_csv(
        cli(
            "rates", "--by", "inspection", "--factor", "ete", "--measure", "delivery", "--test",
            "-f", "csv",
        ).stdout.encode()
    )  # fmt: skip
    first = machine.filter(pl.col("breakdown") == "inspection").row(0, named=True)
    range_line = next(x for x in out.splitlines() if x.startswith("Range (points)"))
    p_line = next(x for x in out.splitlines() if x.startswith("p (unadjusted)"))
    assert range_line.split()[-1] == f"+{first['difference_pp']:.1f}"
    # publication style (render.p_text): "0.042", as the report prints p; it was ".042"
    # (SPSS's style) until issue 9 item 7 gave every output one p formatter
    assert p_line.split()[-1] == f"{first['p_value']:.3f}"
    assert "unadjusted" in out and "hmip regress" in out


def test_rows_chooses_the_layout(cli, example_store):
    groups = _clean(
        cli("rates", "--by", "gender", "--measure", "delivery", "--rows", "groups").stdout
    )
    assert "Accommodation: rates by gender" in groups and "Difference (points)" in groups
    factors = _clean(cli("rates", "--by", "gender", "--measure", "delivery").stdout)
    assert "Accommodation: rates by gender" not in factors and "Female minus Male" in factors


@pytest.mark.parametrize(
    "args",
    [
        ["--rows", "groups"],  # no --by
        ["--by", "inspection", "--rows", "groups", "--format", "csv"],
        ["--by", "inspection", "--rows", "sideways"],
    ],
)
def test_rows_where_it_cannot_apply_is_a_usage_error(cli, example_store, args):
    r = cli("rates", *args)
    assert r.exit_code == 2 and "Traceback" not in r.stderr, r.stderr


def test_the_threshold_is_more_than_six_groups():
    def frame(k: int) -> pl.DataFrame:
        return pl.DataFrame(
            {"breakdown": ["x"] * k + [R.ALL], "group": [*map(str, range(k)), R.ALL]}
        )

    assert tables.GROUPS_AS_ROWS_ABOVE == 6
    assert not tables.groups_as_rows(frame(6), "x") and tables.groups_as_rows(frame(7), "x")
    assert tables.groups_as_rows(frame(2), "x", "groups")
    assert not tables.groups_as_rows(frame(9), "x", "factors")
