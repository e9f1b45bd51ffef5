"""Table 1 of the bulletin (contracted providers), rebuilt from case-level data.

The printed n and % below are copied from the bulletin (HM Inspectorate of Probation,
Research & Analysis Bulletin 2019/01, "The availability and delivery of interventions",
Table 1; the same numbers as ../shared/reference/tables.csv). Only the rows that are
internally consistent are used: the info_review OGRS rows print group n summing to more
than the all-cases n (a misprint, per the `note` column), so of those only the
Low/Medium row is reproduced, and the High/Very high row is left out.

Construction. For every printed (n, %) the yes count is the unique integer y with
|100*y/n - %| <= 0.05. Within a breakdown, the printed groups may cover fewer cases
than "All cases": the remainder (and its yes count) becomes the "Not recorded" group.
Because the bulletin's tables only constrain each attribute jointly with the answer (not
attributes with each other), cases can be built by splitting them into yes-cases and
no-cases and, within each, handing out every attribute's values in the required counts.
The harm-focus and info-review questions are built on separate sets of cases.
"""

from __future__ import annotations

import csv
import io

import polars as pl
import pytest
from test_json_support import rows as json_rows
from test_rates_support import exact_cases
from typer.testing import CliRunner

from hmip_cli import rates, schema
from hmip_cli.cli.app import app

# (breakdown key, group label as printed, n, % yes as printed) -- bulletin Table 1.
TABLE1 = {
    "harm_focus": [
        ("all", "All cases", 249, 61.0),
        ("provider", "CRC", 150, 61.3),
        ("provider", "NPS", 99, 60.6),
        ("gender", "Male", 203, 61.1),
        ("gender", "Female", 46, 60.9),
        ("age_group", "Under 30", 104, 50.0),
        ("age_group", "30+", 144, 68.7),
        ("ethnicity", "White", 202, 61.9),
        ("ethnicity", "BAME", 44, 56.8),
        ("supervision", "Community sentence", 131, 58.8),
        ("supervision", "Post-custody", 118, 63.6),
        ("ogrs_band", "Low/Medium", 190, 61.6),
        ("ogrs_band", "High/Very high", 51, 58.8),
    ],
    "info_review": [
        ("all", "All cases", 180, 66.1),
        ("provider", "CRC", 127, 62.2),
        ("provider", "NPS", 53, 75.5),
        ("gender", "Male", 144, 66.0),
        ("gender", "Female", 36, 66.7),
        ("age_group", "Under 30", 67, 67.2),
        ("age_group", "30+", 113, 65.5),
        ("ethnicity", "White", 145, 64.1),
        ("ethnicity", "BAME", 33, 72.7),
        ("supervision", "Community sentence", 92, 65.2),
        ("supervision", "Post-custody", 88, 67.0),
        ("ogrs_band", "Low/Medium", 152, 65.1),
        # ("ogrs_band", "High/Very high", 113, 66.4): misprint, left out (see module docstring)
    ],
}

# What hmip prints where the bulletin's rounding differs from ours: 99/144 = 68.75%
# exactly; the bulletin printed 68.7 (half down), hmip rounds half up (documented).
OURS = {("harm_focus", "age_group", "30+"): "68.8"}

# Case attribute values that put a case in each printed group (stored codes).
VALUES = {
    "provider": {"CRC": {"provider": "CRC"}, "NPS": {"provider": "NPS"}},
    "gender": {"Male": {"gender": "male"}, "Female": {"gender": "female"}},
    "age_group": {"Under 30": {"age": 25}, "30+": {"age": 41}},
    "ethnicity": {"White": {"ethnicity": "white"}, "BAME": {"ethnicity": "asian"}},
    "supervision": {
        "Community sentence": {"supervision": "community"},
        "Post-custody": {"supervision": "post_custody"},
    },
    "ogrs_band": {"Low/Medium": {"ogrs_score": 40}, "High/Very high": {"ogrs_score": 80}},
}
NOT_RECORDED = {
    "provider": None,
    "gender": {"gender": None},
    "age_group": {"age": None},
    "ethnicity": {"ethnicity": None},
    "supervision": {"supervision": None},
    "ogrs_band": {"ogrs_score": None, "ogrs_band": None},
}


def yes_count(n: int, pct: float) -> int:
    hits = [y for y in range(n + 1) if abs(100 * y / n - pct) <= 0.05 + 1e-9]
    assert len(hits) == 1, (n, pct, hits)
    return hits[0]


def build_question(topic: str) -> list[dict]:
    rows = TABLE1[topic]
    (_, _, n_all, pct_all) = rows[0]
    y_all = yes_count(n_all, pct_all)
    # Per breakdown: a list of (attribute values, yes count, no count), remainder = not recorded.
    plan: dict[str, list[tuple[dict, int, int]]] = {}
    for bkey, label, n, pct in rows[1:]:
        y = yes_count(n, pct)
        plan.setdefault(bkey, []).append((VALUES[bkey][label], y, n - y))
    yes_cases = [{} for _ in range(y_all)]
    no_cases = [{} for _ in range(n_all - y_all)]
    for bkey, groups in plan.items():
        y_left = y_all - sum(g[1] for g in groups)
        n_left = (n_all - y_all) - sum(g[2] for g in groups)
        assert y_left >= 0 and n_left >= 0, bkey
        if y_left or n_left:
            groups = [*groups, (NOT_RECORDED[bkey], y_left, n_left)]
        for cases, which in ((yes_cases, 1), (no_cases, 2)):
            values = [g[0] for g in groups for _ in range(g[which])]
            assert len(values) == len(cases)
            for case, v in zip(cases, values):
                case.update(v)
    column = f"contracted_{topic}"
    assert column in schema.COLUMN_BY_NAME
    for c in yes_cases:
        c[column] = True
    for c in no_cases:
        c[column] = False
    return yes_cases + no_cases


@pytest.fixture(scope="module")
def table1_cases() -> pl.DataFrame:
    records = build_question("harm_focus") + build_question("info_review")
    for r in records:
        r.setdefault("provider", "CRC")
    return exact_cases(records)


def expected_rows():
    for topic, rows in TABLE1.items():
        for bkey, label, n, pct in rows:
            text = OURS.get((topic, bkey, label), f"{pct:.1f}")
            yield topic, bkey, label, n, text


def test_the_library_reproduces_table_1(table1_cases):
    out = rates.protection(table1_cases)
    t1 = out.filter(pl.col("table") == 1)
    for topic, bkey, label, n, text in expected_rows():
        row = t1.filter(
            (pl.col("topic") == topic)
            & (pl.col("breakdown") == bkey)
            & (pl.col("group_label") == label)
        )
        assert row.height == 1, (topic, bkey, label)
        r = row.row(0, named=True)
        assert r["n"] == n, (topic, bkey, label)
        assert r["n_yes"] == yes_count(n, float(text)) or (topic, bkey, label) in OURS
        assert abs(r["percent_yes"] - 100 * r["n_yes"] / n) < 1e-12
    # Partners were not involved in any of these cases: Table 2 is all [z].
    t2 = out.filter(pl.col("table") == 2)
    assert (t2["n"] == 0).all() and (t2["marker"] == "[z]").all()


def _rich_rows(text: str) -> dict[tuple[str, str], list[str]]:
    """Parse the Rich tables printed by `hmip protection` into {(table, group): cells}."""
    rows = {}
    table = None
    breakdown = None
    for line in text.splitlines():
        if line.startswith("Table "):
            table = line.split(":")[0]
        if "│" not in line:
            continue
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if cells[0]:
            breakdown = cells[0]
        rows[(table, breakdown if cells[1] != "All cases" else "", cells[1])] = cells[2:]
    return rows


BREAKDOWN_LABELS = {b.key: b.label for b in schema.BREAKDOWNS}


def test_hmip_protection_prints_table_1(table1_cases, monkeypatch):
    from hmip_cli.cli import protection_cmd

    monkeypatch.setattr(protection_cmd, "load_cases", lambda data: table1_cases)
    result = CliRunner().invoke(app, ["protection"])
    assert result.exit_code == 0, result.stderr
    assert result.exception is None
    assert result.stderr == ""
    rows = _rich_rows(result.stdout)
    col = {"harm_focus": 0, "info_review": 2}
    for topic, bkey, label, n, text in expected_rows():
        key = ("Table 1", "" if bkey == "all" else BREAKDOWN_LABELS[bkey], label)
        cells = rows[key]
        assert cells[col[topic]] == f"{n:,}", key
        assert cells[col[topic] + 1] == text, key
    # The groups the bulletin left out are shown, explicitly, as Not recorded.
    assert rows[("Table 1", "Age group", "Not recorded")][:2] == ["1", "100.0 [u]"]


def test_protection_markdown_and_csv_carry_the_same_numbers(table1_cases, monkeypatch):
    from hmip_cli.cli import protection_cmd

    monkeypatch.setattr(protection_cmd, "load_cases", lambda data: table1_cases)
    md = CliRunner().invoke(app, ["protection", "--format", "markdown"])
    assert md.exit_code == 0 and md.stderr == ""
    assert (
        "| Age group | Under 30 | 104 | 50.0 | 67 | 67.2 |\n|  | 30+ | 144 | 68.8 | 113 | 65.5 |"
        in md.stdout
    )
    assert "| Provider | CRC | 150 | 61.3 | 127 | 62.2 |" in md.stdout

    out = CliRunner().invoke(app, ["protection", "--format", "csv", "--by", "age_group"])
    assert out.exit_code == 0 and out.stderr == ""
    recs = list(csv.DictReader(io.StringIO(out.stdout)))
    hit = [r for r in recs if r["question"] == "contracted-harm-focus" and r["group"] == "30_plus"]
    assert len(hit) == 1
    assert (hit[0]["n"], hit[0]["n_yes"], float(hit[0]["percent_yes"])) == ("144", "99", 68.75)

    js = CliRunner().invoke(app, ["protection", "--format", "json", "--by", "provider"])
    data = json_rows(js.stdout)
    nps = [r for r in data if r["question"] == "contracted-info-review" and r["group"] == "NPS"][0]
    assert (nps["n"], nps["n_yes"]) == (53, 40)
