"""A framework of the analyst's own works with no code change (issue 9, item 3).

The test writes a small framework (its own keys, areas, measures, a gate, a party, a
case-level question, breakdowns and wording), writes cases for it, ingests them with
`--framework FILE`, and gets rates, a regression sweep and a report in its own words; the
store remembers the framework, so no later command is told. Then a factor key is renamed
in an exported framework file and in the data, and every output carries the new key.
"""

from __future__ import annotations

import csv
import random
import textwrap
from pathlib import Path

import pytest
from test_json_support import rows as json_rows
from test_json_support import tables as json_tables

from hmip_cli import framework, store

CUSTOM = textwrap.dedent(
    """
    [framework]
    name = "youth-2025"
    title = "Youth offending team case audit (test framework)"

    [[columns]]
    name = "case_id"
    type = "text"
    description = "Case reference"
    required = true
    identifying = true

    [[columns]]
    name = "inspection"
    type = "text"
    description = "Audit round"
    required = true

    [[columns]]
    name = "team"
    type = "category"
    description = "Youth offending team"
    required = true
    levels = ["north", "south"]
    labels = ["North team", "South team"]

    [[columns]]
    name = "order_type"
    type = "category"
    description = "Type of order"
    levels = ["referral", "youth_rehab"]
    labels = ["Referral order", "Youth rehabilitation order"]

    [[columns]]
    name = "notes"
    type = "text"
    description = "Free text"
    free_text = true

    [[parties]]
    key = "school"
    label = "the school"

    [gate]
    suffix = "needed"
    kind = "need"
    description = "{area}: a need for this child"
    noun = "need"
    noun_plural = "needs"
    max_per_case = 2

    [[areas]]
    key = "schooling"
    label = "Schooling"

    [[areas]]
    key = "housing"
    label = "Housing"

    [[areas]]
    key = "wellbeing"
    label = "Emotional wellbeing"

    [[measures]]
    key = "planned"
    suffix = "planned"
    label = "Work was planned"
    question = "Was work on {area} planned?"
    figure = 1
    applies = { gate = true }

    [measures.wording]
    figure_title = "Figure 1: Planning of work where the child had the need"
    finding_subject = "Work was planned"
    finding_noun = "planning"
    finding_more_likely = "work was more likely to have been planned"

    [[measures]]
    key = "helped"
    suffix = "helped"
    label = "The school helped"
    question = "Did the school help with {area}?"
    figure = 2
    applies = { gate = true, involved = "school" }

    [measures.wording]
    figure_title = "Figure 2: Help from schools where the child had the need"
    finding_subject = "The school helped"
    finding_noun = "help from schools"
    finding_more_likely = "the school was more likely to have helped"

    [[topics]]
    key = "voice"
    heading = "Child's voice"
    report_heading = "The child's voice was heard"
    finding = "the child's voice was heard"
    note = "Child's voice: was the child's voice heard in planning?"

    [[question_tables]]
    number = 1
    title = "Table 1: The child's voice"

    [[questions]]
    key = "voice-heard"
    column = "voice_heard"
    who = "school"
    topic = "voice"
    label = "The child's voice was heard"
    table = 1
    applies = { involved = "school" }

    [[breakdowns]]
    key = "team"
    column = "team"
    label = "Team"
    default = true
    candidate = true

    [[breakdowns]]
    key = "order"
    column = "order_type"
    label = "Order type"
    default = true
    candidate = true

    [[breakdowns]]
    key = "inspection"
    column = "inspection"
    label = "Audit round"

    [[profile]]
    key = "all_cases"
    label = "All children"
    short = "Children"

    [[profile]]
    key = "north"
    label = "North team children"
    short = "North"
    breakdown = "team"
    code = "north"

    [wording]
    report_title = "Youth case audit: planning and help from schools"
    area_noun = "area"
    area_noun_plural = "areas"
    area_heading = "Area of need"
    rates_title = "Figure {figure}: {label}, where the child had the need"
    rates_machine_title = "Audit rates"
    questions_machine_title = "Audit questions"
    gate_count_heading = "Children with the need"
    gate_count_note = "Children with the need: cases where the need was identified."
    gate_count_column = "Children with the need"
    gate_share_column = "Percentage of all children with the need"
    section_intro = "Children with the need, and the percentage where: {question}? (yes)."
    axis_label = "Children with the need"
    axis_label_involved = "Children with the need where {party} was involved"
    gate_finding = "The most common need was {area}, in {pct} of cases"
    methods_scope = "For every area of need and measure, and for the child's voice"
    dictionary_note = "Audit judgements: yes/no, blank where not asked."
    lead_breakdown = "team"
    figures_title = "Audit figures"
    sweep_title = "Stepwise logistic regression across the audit"
    """
)

AREAS = ("schooling", "housing", "wellbeing")


def _cases(fw, n: int, seed: int) -> list[dict[str, str]]:
    """Cases that keep every rule of `fw` (gate, max two needs, the school's involvement);
    the north team's work is planned more often (a difference the sweep can find)."""
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        team = rnd.choice(["north", "south"])
        row = {
            "case_id": f"Y{i:05d}",
            "inspection": rnd.choice(["Round 1", "Round 2", "Round 3"]),
            "team": team,
            "order_type": rnd.choice(["referral", "youth_rehab", ""]),
            "notes": "",
        }
        needs = rnd.sample([a.key for a in fw.areas], rnd.choice([0, 1, 2]))
        school = rnd.random() < 0.6
        for a in fw.areas:
            need = a.key in needs
            row[fw.gate_column(a)] = "yes" if need else "no"
            p = 0.8 if team == "north" else 0.45
            row[fw.judgement_column(a, "planned")] = (
                ("yes" if rnd.random() < p else "no") if need else ""
            )
            row[fw.judgement_column(a, "helped")] = (
                ("yes" if rnd.random() < 0.5 else "no") if need and school else ""
            )
        row["voice_heard"] = ("yes" if rnd.random() < 0.7 else "no") if school else ""
        rows.append(row)
    return rows


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def custom_store(tmp_path_factory):
    """A store of 400 cases of the test's own framework, ingested with --framework FILE.
    The framework file is deleted afterwards: the store keeps what it needs."""
    from typer.testing import CliRunner

    from hmip_cli.cli.app import app

    root = tmp_path_factory.mktemp("custom")
    fw_file = root / "youth.toml"
    fw_file.write_text(CUSTOM, encoding="utf-8")
    fw = framework.load(fw_file)
    data = root / "store"
    cases = _write(root / "cases.csv", _cases(fw, 400, 7))
    r = CliRunner().invoke(
        app, ["ingest", str(cases), "--framework", str(fw_file), "--data", str(data)]
    )
    assert r.exit_code == 0, r.stderr
    fw_file.unlink()
    return data, fw


def test_the_store_records_the_framework_and_later_commands_use_it(custom_store, cli):
    data, fw = custom_store
    meta = store.read_meta(data)
    assert meta is not None
    assert meta["framework"]["name"] == "youth-2025"
    assert meta["framework"]["sha256"] == fw.content_hash
    assert store.load_framework(data) == fw  # from the store alone: the file is gone
    info = json_tables(cli("info", "--data", data, "-f", "json").stdout)
    assert info["store"][0]["framework"] == "youth-2025"
    schema_rows = json_rows(cli("schema", "--data", data, "-f", "json").stdout)
    names = [r["name"] for r in schema_rows]
    assert "schooling_needed" in names and "voice_heard" in names
    assert "accommodation_priority" not in names


def test_rates_in_the_framework_s_own_words(custom_store, cli):
    data, _ = custom_store
    r = cli("rates", "--data", data)
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert "Figure 1: Work was planned, where the child had the need" in out
    assert "Area of need" in out and "Children with the need" in out
    assert "Emotional wellbeing" in out
    assert "factor" not in out.lower() and "priority" not in out.lower()
    rows = json_rows(cli("rates", "--data", data, "-f", "json", "--by", "team").stdout)
    assert {r["factor"] for r in rows} == set(AREAS)
    assert {r["measure"] for r in rows} == {"planned", "helped"}
    north = next(
        r
        for r in rows
        if r["factor"] == "schooling" and r["measure"] == "planned" and r["group"] == "north"
    )
    assert north["group_label"] == "North team"
    prot = cli("protection", "--data", data)
    assert prot.exit_code == 0, prot.stderr
    assert "Table 1: The child's voice" in prot.stdout and "Child's voice n" in prot.stdout


def test_ingest_applies_the_framework_s_rules(custom_store, cli, tmp_path):
    data, fw = custom_store
    rows = _cases(fw, 5, 3)
    rows[0] |= {"schooling_needed": "no", "schooling_planned": "yes"}  # not a need
    rows[1] |= dict.fromkeys(("schooling_needed", "housing_needed", "wellbeing_needed"), "yes")
    rows[2]["team"] = "east"
    r = cli("ingest", _write(tmp_path / "bad.csv", rows), "--data", data)
    assert r.exit_code == 1
    err = r.stderr
    assert "schooling is not a need for this case (schooling_needed is no)" in err
    assert "more than 2 areas are needs" in err
    assert "expected one of north, south" in err
    # Another framework than the store's is refused, the store untouched.
    before = store.store_info(data).content_hash
    r = cli(
        "ingest",
        _write(tmp_path / "ok.csv", _cases(fw, 5, 4)),
        "--data",
        data,
        "--framework",
        "qi-2016",
    )
    assert r.exit_code == 2 and "holds cases of the framework 'youth-2025'" in r.stderr
    assert store.store_info(data).content_hash == before


@pytest.mark.slow
def test_regression_sweep_and_report_in_its_own_words(custom_store, cli, tmp_path):
    data, _ = custom_store
    r = cli("regress", "--all", "--data", data, "-f", "csv")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    models = {ln.split(",")[0] for ln in lines[1:]}
    assert models == {f"{a}/{m}" for a in AREAS for m in ("planned", "helped")} | {"voice-heard"}
    assert "team" in r.stdout  # the difference built into the data
    out = tmp_path / "audit.md"
    r = cli("report", "--data", data, "-o", out)
    assert r.exit_code == 0, r.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Youth case audit: planning and help from schools")
    for phrase in (
        "Figure 1: Planning of work where the child had the need",
        "Figure 2: Help from schools where the child had the need",
        "Table 1: The child's voice",
        "Children with the need",
        "For every area of need and measure, and for the child's voice",
        "The most common need was",
        "between South team and North team cases for planning",
    ):
        assert phrase in text, phrase
    for qi_word in ("factor", "priority", "CRC", "NPS", "contracted provider"):
        assert qi_word not in text, qi_word


def test_renaming_a_factor_key_renames_it_everywhere(cli, tmp_path):
    """Export a shipped framework, rename one area key in the file and in the data: the
    new key is in every output and the old one in none."""
    exported = tmp_path / "mine.toml"
    assert cli("framework", "export", "qi-2016", exported).exit_code == 0
    text = exported.read_text(encoding="utf-8")
    assert text.count('key = "drugs"') == 1
    text = text.replace('key = "drugs"', 'key = "substances"').replace(
        'name = "qi-2016"', 'name = "qi-2016-renamed"'
    )
    exported.write_text(text, encoding="utf-8")
    cases = tmp_path / "cases.csv"
    assert cli("synth", "-n", "300", "-s", "5", "-o", cases).exit_code == 0
    renamed = cases.read_text(encoding="utf-8")
    header, rest = renamed.split("\n", 1)
    cases.write_text(header.replace("drugs_", "substances_") + "\n" + rest, encoding="utf-8")
    data = tmp_path / "store"
    r = cli("ingest", cases, "--framework", exported, "--data", data)
    assert r.exit_code == 0, r.stderr
    outs = [
        cli("rates", "--data", data, "-f", "csv").stdout,
        cli("rates", "--data", data, "--factor", "substances", "-f", "json").stdout,
        cli("schema", "--data", data, "-f", "csv").stdout,
        cli(
            "regress",
            "--data",
            data,
            "--factor",
            "substances",
            "--measure",
            "delivery",
            "-f",
            "json",
        ).stdout,
    ]
    for out in outs:
        assert "substances" in out
        assert "drugs_" not in out and ",drugs," not in out and '"drugs"' not in out
    r = cli("rates", "--data", data, "--factor", "drugs")
    assert r.exit_code == 2 and "unknown factor 'drugs'" in r.stderr
