"""`hmip mapping draft` (issue 9, item 6): a proposed mapping for an export's headers and
values; every guess marked; what hmip cannot decide is commented out as REVIEW. The
drafted mapping for the messy example export ingests it once the REVIEW lines, and only
those, are edited."""

from __future__ import annotations

import re
import tomllib

import polars as pl
import pytest
from test_ingest_support import SECRETS, planted

from hmip_cli import schema, store, synth
from hmip_cli.ingest.draft import REVIEW, draft_mapping
from hmip_cli.ingest.mapping import parse_mapping


@pytest.fixture(scope="module")
def messy(tmp_path_factory, synth_cases):
    """The messy example export (`hmip synth --messy`) of 400 synthetic cases."""
    folder = tmp_path_factory.mktemp("messy")
    cases = synth_cases(400, 6)
    path = folder / "export.csv"
    path.write_text(synth.messy_csv_text(cases, 6), encoding="utf-8")
    return path, cases


def _truth_value(section: str, key: str) -> str:
    """What the hand-written mapping (`synth.messy_mapping_toml`) says for this line."""
    doc = tomllib.loads(synth.messy_mapping_toml())
    if section == "columns":
        return doc["columns"][key]
    column = section.split(".", 1)[1]
    return doc["values"][column][key]


def _edit_review_lines(text: str) -> tuple[str, int]:
    """Uncomment every REVIEW line with the right answer, as the analyst would."""
    section = None
    out, edited = [], 0
    for line in text.splitlines():
        m = re.match(r"\[(\S+)\]", line)
        if m:
            section = m.group(1)
        if line.startswith('# "') and REVIEW in line:
            key = tomllib.loads(line[2:].split("  #")[0])
            (theirs,) = key
            out.append(f'"{theirs}" = "{_truth_value(section, theirs)}"')
            edited += 1
        else:
            out.append(line)
    return "\n".join(out) + "\n", edited


def test_the_draft_for_the_messy_export_ingests_it_with_only_review_lines_edited(
    messy, tmp_path, cli
):
    path, cases = messy
    out = tmp_path / "draft.toml"
    r = cli("mapping", "draft", path, "-o", out)
    assert r.exit_code == 0, r.stderr
    text = out.read_text()
    assert "1 of them marked REVIEW" in r.stderr
    # As drafted, the mapping is valid TOML that ingest reads, but the undecided line
    # (the sentence type "Licence") stops the ingest there: nothing read wrongly.
    parse_mapping(text)
    r = cli("ingest", path, "--mapping", out, "--data", tmp_path / "first")
    assert r.exit_code == 1 and "got 'Licence'" in r.stderr
    assert not (tmp_path / "first").exists()
    edited_text, edited = _edit_review_lines(text)
    review_lines = [ln for ln in text.splitlines() if REVIEW in ln and ln.startswith('# "')]
    assert edited == len(review_lines) == 1  # the one ambiguous line: "Licence"
    out.write_text(edited_text)
    r = cli("ingest", path, "--mapping", out, "--data", tmp_path / "s")
    assert r.exit_code == 0, r.stderr
    # The same cases as the hand-written mapping gives (the synthetic truth itself).
    stored = store.load_cases(tmp_path / "s").select(list(schema.stored_schema()))
    assert stored.equals(cases)


def test_every_active_line_is_a_marked_guess_and_right(messy):
    path, _ = messy
    draft = draft_mapping(path)
    active = [ln for ln in draft.lines if ln.kind == "guess"]
    assert len(active) == 65  # 61 headers + M, F, "Community order", "Suspended sentence"
    for ln in active:
        assert ln.toml().split("  # ", 1)[1].startswith("guess: ")
        assert ln.value == _truth_value(ln.section, ln.key), ln
    # Headers that already are hmip's names need no line, and are listed.
    assert draft.native == [
        "Inspection date",
        "Provider",
        "Gender",
        "Ethnicity",
        "OGRS band",
        "RoSH",
    ]


def test_headers_matched_by_words_not_by_hmips_own_export_names(tmp_path):
    """Other spellings of the same columns (not the ones `synth --messy` writes)."""
    headers = {
        "Reference number": "case_id",
        "Inspection area": "inspection",
        "Probation provider": "provider",
        "Age (years)": "age",
        "Accommodation: was it a priority?": "accommodation_priority",
        "Education/training priority?": "ete_priority",
        "ETE - interventions available?": "ete_available",
        "Thinking & behaviour - interventions available": "thinking_available",
        "Drug misuse: sufficient interventions delivered": "drugs_delivered",
        "Alcohol - partners contributed sufficiently?": "alcohol_partner",
        "Partners: information used in reviewing?": "partner_info_review",
    }
    src = tmp_path / "x.csv"
    pl.DataFrame({h: ["1"] for h in headers}).write_csv(src)
    draft = draft_mapping(src)
    got = {ln.key: ln.value for ln in draft.lines if ln.kind == "guess"}
    assert got == headers
    src.write_text("ETE priority,Case ID\n1,2\n")  # hmip's own names, any case: no line
    draft = draft_mapping(src)
    assert draft.lines == [] and draft.native == ["ETE priority", "Case ID"]


def test_an_unmatched_header_is_left_for_review_not_dropped(tmp_path):
    src = tmp_path / "x.csv"
    pl.DataFrame({"Case ID": ["A1"], "Zebra count": ["3"]}).write_csv(src)
    draft = draft_mapping(src)
    (line,) = draft.lines
    assert line.kind == "review" and line.key == "Zebra count"
    assert line.toml().startswith('# "Zebra count" = ""  # REVIEW: no column matched')


def test_ids_and_notes_never_reach_the_draft(tmp_path, cli):
    """Planted ids and notes in the export, and one notes column under a coded header."""
    text = planted(12).with_columns(pl.col("notes").alias("gender_misfiled"))
    text = text.rename({"gender": "Sex"}).with_columns(
        Sex=pl.when(pl.int_range(pl.len()) < 3).then(pl.col("case_id")).otherwise(pl.lit("M"))
    )
    src = tmp_path / "x.csv"
    text.write_csv(src)
    r = cli("mapping", "draft", src)
    assert r.exit_code == 0, r.stderr
    for secret in SECRETS:
        assert secret not in r.stdout and secret not in r.stderr


def test_usage(tmp_path, cli):
    r = cli("mapping", "draft", tmp_path / "none.csv")
    assert r.exit_code == 2 and "none.csv" in r.stderr
    src = tmp_path / "x.csv"
    pl.DataFrame({"a": ["1"]}).write_csv(src)
    r = cli("mapping", "draft", src, "--framework", "nope")
    assert r.exit_code == 2 and "unknown framework 'nope'" in r.stderr
    out = tmp_path / "link.toml"
    out.symlink_to(tmp_path / "victim.toml")
    r = cli("mapping", "draft", src, "-o", out)
    assert r.exit_code == 2 and "symbolic link" in r.stderr


def test_other_frameworks_draft_their_own_columns(tmp_path):
    from hmip_cli.framework import load

    src = tmp_path / "x.csv"
    pl.DataFrame(
        {
            "Region name": ["North East", "Wales", "Londn"],
            "Case reference": ["A1", "A2", "A3"],
            "PDU": ["Durham", "Cardiff", "Camden"],
            "Assessment - desistance": ["Yes", "No", "Yes"],
        }
    ).write_csv(src)
    draft = draft_mapping(src, load("pdu-2023"))
    assert draft.framework == "pdu-2023" and "(framework pdu-2023)" in draft.text
    assert draft.native == ["PDU", "Assessment - desistance"]  # pdu-2023's own names
    cols = {ln.key: ln.value for ln in draft.lines if ln.section == "columns"}
    assert cols == {"Region name": "region", "Case reference": "case_id"}
    # Region labels read as they are (no line); a misspelling is matched to its label.
    (value,) = [ln for ln in draft.lines if ln.section == "values.region"]
    assert (value.key, value.value, value.kind) == ("Londn", "london", "guess")
