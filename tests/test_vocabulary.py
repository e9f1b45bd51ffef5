"""One vocabulary (issue 14, item 1): every command accepts the same keys for a breakdown
(`ethnicity`, `ogrs_band` and their aliases), people see the same labels everywhere
("Ethnic group", "White", "Under 30"), and machine formats carry the same keys and codes."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest
from test_json_support import doc

from hmip_cli import schema

MODEL = ["regress", "--factor", "accommodation", "--measure", "delivery"]


@pytest.mark.parametrize("key", ["ethnicity", "ethnic_group", "ogrs_band", "ogrs", "age"])
def test_every_command_accepts_the_same_keys(cli, example_store, key):
    b = schema.get_breakdown(key)
    code = b.levels[0]
    for args in (
        ["sample", "--by", key],
        ["rates", "--measure", "delivery", "--by", key],
        ["protection", "--by", key],
        ["rates", "--measure", "delivery", "--where", f"{key}={code}"],
        [*MODEL, "--candidates", f"provider,{key}", "--format", "json"],
        [*MODEL, "--candidates", "provider,gender", "--where", f"{key}={code}", "-f", "json"],
    ):
        r = cli(*args)
        assert r.exit_code == 0, (args, r.stderr)


def test_people_see_the_labels_rates_shows(cli, example_store):
    cands = "provider,age_group,ethnicity,supervision,ogrs_band"
    regress = cli(*MODEL, "--candidates", cands).stdout
    rates = cli("rates", "--measure", "delivery", "--by", "ethnicity", "--by", "age_group").stdout
    for label in ("Ethnic group", "White", "BAME", "Age group", "Under 30"):
        assert label.lower() in rates.lower() and label in regress, label
    for label in ("Post-custody", "Community sentence", "OGRS band", "Low/Medium"):
        assert label in regress, label
    for code in ("ethnic_group", "ogrs_group", "under_30", "post_custody", "low_medium"):
        assert code not in regress and code not in rates, code
    # Markdown is for people too.
    md = cli(*MODEL, "--candidates", cands, "--format", "markdown").stdout
    assert "Ethnic group (White)" in md or "Ethnic group" in md
    assert "ethnic_group" not in md


def test_machines_get_the_keys_rates_uses(cli, example_store):
    payload = doc(
        cli(*MODEL, "--candidates", "provider,ethnicity,ogrs_band", "--format", "json").stdout
    )
    text = json.dumps(payload)
    assert "ethnic_group" not in text and "ogrs_group" not in text
    (model,) = payload["models"]
    assert set(model["candidates"]) == {"provider", "ethnicity", "ogrs_band"}
    coding = {c["term"]: c for c in model["codings"]}
    assert coding["ethnicity"]["levels"] == ["white", "bame"]  # codes, as in rates' `group`
    assert coding["ogrs_band"]["parameters"] == ["ogrs_band(low_medium)"]
    rates = pl.read_csv(
        io.StringIO(cli("rates", "--measure", "delivery", "--by", "ethnicity", "-f", "csv").stdout)
    )
    assert set(rates["breakdown"].drop_nulls()) >= {"ethnicity"}
    assert {"white", "bame"} <= set(rates["group"].drop_nulls())
    csv = cli(*MODEL, "--candidates", "provider,ethnicity", "--format", "csv").stdout
    assert "ethnicity(white)" in csv and "ethnic_group" not in csv


def test_the_sweep_gives_machines_codes_and_people_labels():
    """Issue 14 item 1 leftover: the findings' level/reference columns were labels
    ("Community sentence", "Post-custody") in CSV/JSON, where every other machine output
    has codes. The sweep keeps labels (the report's sentences use them); the CLI gives
    machines the codes and people the labels."""
    from hmip_cli.render import Format
    from hmip_cli.stepwise.spss_tables import findings_table
    from hmip_cli.stepwise.sweeps import FINDINGS_SCHEMA

    row = dict.fromkeys(FINDINGS_SCHEMA)
    row |= {
        "model": "accommodation/contracted",
        "label": "Accommodation: contracted",
        "n": 100,
        "term": "supervision",
        "parameter": "supervision(community)",
        "level": "Community sentence",
        "reference": "Post-custody",
        "groups": "Community sentence 50% vs Post-custody 79%",
        "odds_ratio": 0.3,
        "p": 0.01,
        "reliable": True,
    }
    frame = pl.DataFrame([row], schema=FINDINGS_SCHEMA)
    machine = findings_table(frame, Format.csv, []).frame.row(0, named=True)
    assert (machine["level"], machine["reference"]) == ("community", "post_custody")
    assert machine["parameter"] == "supervision(community)" and machine["term"] == "supervision"
    people = findings_table(frame, Format.table, []).frame.row(0, named=True)
    assert people["finding"] == "Community sentence 50% vs Post-custody 79%"
    assert people["term"] == "Supervision type"
