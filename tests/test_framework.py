"""Framework files: loading, every class of mistake in one, the shipped pdu-2023, export
round-trips, and crosswalks.

The qi-2016 <-> schema.py equivalence is in test_framework_qi2016.py.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from hmip_cli import framework
from hmip_cli.errors import EXIT_DATA, EXIT_USAGE, BadInput, BadRequest
from hmip_cli.framework import FrameworkInvalid
from hmip_cli.framework.crosswalk import parse_crosswalk
from hmip_cli.framework.export import to_toml
from hmip_cli.framework.tomltext import locate

QI = framework.shipped_path("qi-2016").read_text(encoding="utf-8")


def _line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based line of the nth line containing `needle`."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[nth]


def _problems(text: str) -> list:
    with pytest.raises(FrameworkInvalid) as exc:
        framework.parse(text, "my.toml")
    assert exc.value.exit_code == EXIT_DATA
    return exc.value.problems


def _one(text: str):
    (p,) = _problems(text)
    return p


# --------------------------------------------------------------------------------------
# Finding and opening files
# --------------------------------------------------------------------------------------


def test_shipped_names_default_first():
    assert framework.names() == ("qi-2016", "pdu-2023")
    assert framework.DEFAULT == "qi-2016"


def test_unknown_name_is_a_usage_error_listing_the_choices():
    with pytest.raises(BadRequest) as exc:
        framework.load("qi-2017")
    assert exc.value.exit_code == EXIT_USAGE
    assert "unknown framework 'qi-2017'; choose from: qi-2016, pdu-2023" in str(exc.value)


def test_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(BadRequest, match=r"nope\.toml: no such framework file"):
        framework.load(str(tmp_path / "nope.toml"))
    with pytest.raises(BadRequest, match="is a directory"):
        framework.load(tmp_path)


def test_not_utf8_is_bad_input(tmp_path):
    f = tmp_path / "latin1.toml"
    f.write_bytes('[framework]\nname = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(BadInput, match="not UTF-8"):
        framework.load(f)


def test_a_file_loads_like_the_shipped_framework(tmp_path):
    f = tmp_path / "copy.toml"
    f.write_text(QI, encoding="utf-8")
    assert framework.load(str(f)) == framework.load("qi-2016")
    assert framework.load(f).origin == str(f)


# --------------------------------------------------------------------------------------
# Every class of mistake: a clear message naming the file, the key path and the line
# --------------------------------------------------------------------------------------


def test_not_toml_names_the_line():
    bad = QI.replace('label = "Relationships"', 'label = "Relationships', 1)
    p = _one(bad)
    assert p.line == _line_of(QI, 'label = "Relationships"')
    assert "not valid TOML" in p.message
    assert str(p).startswith(f"my.toml, line {p.line}: not valid TOML")


def test_missing_required_key():
    bad = QI.replace('label = "Drug misuse"\n', "", 1)
    p = _one(bad)
    assert p.path == "areas[6] ('drugs').label"
    assert p.message.startswith("required")
    assert p.line == _line_of(bad, 'key = "drugs"') - 1  # the [[areas]] header


def test_misspelt_key_suggests_the_right_one():
    bad = QI.replace('labels = ["Male", "Female"]', 'lables = ["Male", "Female"]', 1)
    p = _one(bad)
    assert p.path == "columns[5] ('gender').lables"
    assert "did you mean 'labels'?" in p.message
    assert p.line == _line_of(bad, "lables =")


def test_wrong_type():
    bad = QI.replace("max_per_case = 5", 'max_per_case = "five"', 1)
    p = _one(bad)
    assert (p.path, p.message) == ("gate.max_per_case", "expected a whole number, got text")
    assert p.line == _line_of(bad, "max_per_case")


def test_levels_and_labels_disagree():
    bad = QI.replace('labels = ["Community sentence", "Post-custody"]', 'labels = ["Community"]', 1)
    p = _one(bad)
    assert p.path == "columns[8] ('supervision').labels"
    assert "1 labels for 2 levels" in p.message
    assert p.line == _line_of(bad, 'labels = ["Community"]')


def test_duplicate_area_key():
    bad = QI.replace('key = "drugs"', 'key = "alcohol"', 1)
    messages = [p.message for p in _problems(bad)]
    assert any("area key or alias 'alcohol' is already used" in m for m in messages)


def test_generated_column_names_collide():
    # An attribute named like a judgement column: the clash is named, not silently shadowed.
    bad = QI.replace('name = "notes"', 'name = "ete_delivered"', 1)
    p = _one(bad)
    assert "column name 'ete_delivered' is already used by columns[13]" in p.message
    assert p.path == "areas[2] ('ete').key"


def test_unresolved_references():
    bad = QI.replace('involved = "partners" }', 'involved = "partner" }', 1)
    p = _one(bad)
    assert p.path == "measures[4] ('partner').applies.involved"
    assert "no party 'partner' in [[parties]]" in p.message
    assert p.line == _line_of(bad, 'involved = "partner" }')

    bad = QI.replace('column = "ethnic_group"', 'column = "ethnic_grp"', 1)
    assert "no stored or derived column 'ethnic_grp'" in _one(bad).message

    bad = QI.replace('topic = "info_review"', 'topic = "info"', 1)
    assert "no topic 'info' in [[topics]]" in _one(bad).message

    bad = QI.replace('code = "female"', 'code = "woman"', 1)
    p = _one(bad)
    assert "'woman' is not a level of 'gender' (male, female)" in p.message


def test_a_breakdown_on_an_identifying_column_is_refused():
    bad = QI.replace('column = "inspection"', 'column = "notes"', 1)
    assert "identifying or free text" in _one(bad).message


def test_cut_points_must_increase_and_match_the_levels():
    bad = QI.replace("lower = [0, 50, 75, 90]", "lower = [0, 75, 50, 90]", 1)
    p = _one(bad)
    assert (p.path, p.message) == (
        "derived[1] ('ogrs_band').cut.lower",
        "the lower bounds must increase",
    )
    assert p.line == _line_of(bad, "lower = [0, 75, 50, 90]")
    bad = QI.replace("lower = [-inf, 30]", "lower = [30]", 1)
    assert "1 lower bounds for 2 levels" in _one(bad).message
    bad = QI.replace('cut = { source = "age"', 'cut = { source = "gender"', 1)
    assert "'gender' is category; a cut needs an integer column" in _one(bad).message


def test_group_members_must_be_levels_of_the_source():
    bad = QI.replace('bame = ["mixed", "asian"', 'bame = ["mixed", "asain"', 1)
    p = _one(bad)
    assert "'asain' is not a level of 'ethnicity'" in p.message
    assert p.path == "derived[3] ('ethnic_group').group.groups.bame"


def test_template_placeholders_are_checked():
    bad = QI.replace("Figure {figure}: {label}, where", "Figure {number}: {label}, where", 1)
    p = _one(bad)
    assert p.path == "wording.rates_title"
    assert "unknown placeholder {number}; this text can use: {figure}, {label}" in p.message


def test_breakdown_phrase_is_one_template_or_three():
    qi = framework.load("qi-2016")
    assert qi.breakdown("provider").phrase == ("{label} cases",)
    assert qi.breakdown("age_group").phrase[0] == "younger service users ({lower})"
    assert len(qi.breakdown("age_group").phrase) == 3
    assert qi.breakdown("inspection").phrase == ()
    p = _one(QI.replace('phrase = "{label} cases"', 'phrase = ["{label} cases", "x"]', 1))
    assert p.path == "breakdowns[1] ('provider').phrase"
    assert "a list of three" in p.message
    p = _one(QI.replace('phrase = "{label} cases"', 'phrase = "{group} cases"', 1))
    assert "unknown placeholder {group}; this text can use: {label}, {lower}" in p.message


def test_unsupported_format_version():
    bad = QI.replace("format = 1", "format = 2", 1)
    assert "format 2 is not supported" in _one(bad).message


def test_a_gate_rule_without_a_gate():
    start, end = QI.index("[gate]"), QI.index("# The bulletin's order")
    bad = QI[:start] + QI[end:]
    messages = [p.message for p in _problems(bad)]
    assert any("the framework has no [gate]" in m for m in messages)
    assert len(messages) == 5  # four measures and the n_priorities count


def test_every_problem_is_reported_at_once():
    bad = QI.replace('type = "text"', 'type = "string"', 1).replace("figure = 2", "figure = 1", 1)
    problems = _problems(bad)
    text = str(FrameworkInvalid(problems))
    assert text.startswith("my.toml: 2 problem(s) in the framework file")
    assert "'string' is not one of: text, date, yes_no, category, integer" in text
    assert "figure '1' is already used by measures[1]" in text


def test_minimal_framework_without_gate_or_questions():
    text = textwrap.dedent(
        """
        [framework]
        name = "tiny"
        title = "Tiny"
        [[columns]]
        name = "case_id"
        type = "text"
        description = "id"
        identifying = true
        [[columns]]
        name = "inspection"
        type = "text"
        description = "Inspection"
        required = true
        [[columns]]
        name = "team"
        type = "category"
        description = "Team"
        levels = ["a", "b"]
        [[areas]]
        key = "housing"
        label = "Housing"
        [[measures]]
        key = "helped"
        suffix = "helped"
        label = "Helped"
        question = "Was {area} work helpful?"
        figure = 1
        [measures.wording]
        figure_title = "Figure 1: Helped"
        finding_subject = "People were helped"
        finding_noun = "help"
        finding_more_likely = "people were more likely to be helped"
        [[breakdowns]]
        key = "team"
        column = "team"
        label = "Team"
        candidate = true
        [wording]
        report_title = "Tiny"
        area_noun = "area"
        area_noun_plural = "areas"
        area_heading = "Area"
        rates_title = "Figure {figure}: {label}"
        rates_machine_title = "Rates"
        questions_machine_title = "Questions"
        """
    )
    fw = framework.parse(text, "tiny.toml")
    assert [c.name for c in fw.stored_columns()] == [
        "case_id",
        "inspection",
        "team",
        "housing_helped",
    ]
    assert fw.judgement_question(fw.areas[0], fw.measures[0]) == "Was housing work helpful?"
    assert fw.breakdown("TEAM").levels == ("a", "b")
    assert fw.candidates() == ("team",) and fw.default_breakdowns() == ()
    assert fw.column("housing_helped").applicable == "always"
    assert framework.parse(to_toml(fw), "again") == fw


def test_locate_finds_nested_tables_and_arrays():
    text = QI
    assert locate(text, ("measures", 1, "wording", "finding_noun")) == _line_of(
        text, 'finding_noun = "delivery"'
    )
    assert locate(text, ("framework", "sources", 0, "date")) == _line_of(
        text, 'date = "January 2019"'
    )
    assert locate(text, ("wording", "area_heading")) == _line_of(text, 'area_heading = "Factor"')
    assert locate(text, ("areas", 99, "key")) is None


# --------------------------------------------------------------------------------------
# pdu-2023
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pdu():
    return framework.load("pdu-2023")


def test_pdu_has_the_four_standards_and_two_key_questions(pdu):
    assert [a.label for a in pdu.areas] == [
        "Assessment",
        "Planning",
        "Implementation and delivery",
        "Reviewing",
    ]
    assert [m.key for m in pdu.measures] == ["desistance", "safety"]
    assert pdu.gate is None and pdu.questions == ()
    assert len(pdu.items()) == 8
    assert pdu.area("2.3").key == "implementation"
    assert pdu.judgement_question(pdu.area("reviewing"), pdu.measure("safety")) == (
        "Does reviewing focus sufficiently on keeping other people safe?"
    )
    for c in pdu.area_columns():
        assert c.kind == "judgement" and c.dtype.is_(__import__("polars").Boolean())


def test_pdu_attributes_and_no_provider(pdu):
    names = {c.name for c in pdu.columns}
    assert {
        "region",
        "pdu",
        "sentence_type",
        "gender",
        "age",
        "ethnicity",
        "rosh",
        "ogrs_score",
    } <= names
    assert "provider" not in names and "provider" not in {b.key for b in pdu.breakdowns}
    assert len(pdu.breakdown("region").levels) == 12
    assert pdu.identifying_columns() == ("case_id", "notes")


def test_pdu_is_internally_consistent(pdu):
    """Every reference resolves and every wording template renders."""
    for b in pdu.all_breakdowns():
        assert pdu.breakdown_for_column(b.column) == b
    for key in pdu.candidates() + pdu.default_breakdowns():
        assert pdu.breakdown(key).levels  # categorical, so usable as a candidate
    for p in pdu.profile:
        if p.breakdown:
            assert p.code in pdu.breakdown(p.breakdown).levels
    for m in pdu.measures:
        assert pdu.rates_title(m).startswith(f"Figure {m.figure}: ")
        assert m.wording.figure_title.startswith(f"Figure {m.figure}: ")
        assert "{" not in pdu.axis_label(m) + pdu.section_intro(m)
    assert {c.first for c in pdu.comparisons} | {c.second for c in pdu.comparisons} <= {
        m.key for m in pdu.measures
    }
    assert not set(pdu.stored_schema()) & {c.name for c in pdu.derived_columns()}


def test_pdu_cites_hmip_and_marks_assumptions(pdu):
    assert len(pdu.sources) >= 5
    assert all(s.publisher == "HM Inspectorate of Probation" for s in pdu.sources)
    assert all(
        s.url.startswith("https://") and "justiceinspectorates.gov.uk" in s.url for s in pdu.sources
    )
    assert all(a.startswith("ASSUMPTION:") for a in pdu.assumptions)
    raw = framework.shipped_path("pdu-2023").read_text(encoding="utf-8")
    assert "November 2023" in raw  # the case assessment rules and guidance it follows


def test_pdu_derives_like_qi_for_shared_cuts(pdu):
    import polars as pl

    from hmip_cli.framework.derive import with_derived

    cases = pl.DataFrame(
        {"age": [18, 29, 30], "ogrs_score": [49, 50, 95], "ogrs_band": [None, "low", None],
         "ethnicity": ["white", "minority", None], "rosh": ["high", "low", None]},
        schema={"age": pl.Int16, "ogrs_score": pl.Int16,
                "ogrs_band": pdu.column("ogrs_band").dtype, "ethnicity": pdu.column("ethnicity").dtype,
                "rosh": pdu.column("rosh").dtype},
    )  # fmt: skip
    out = with_derived(pdu, cases)
    assert out["age_group"].to_list() == ["under_30", "under_30", "30_plus"]
    assert out["ogrs_band"].to_list() == ["low", "medium", "very_high"]
    assert out["ethnic_group"].to_list() == ["white", "ethnic_minority", None]
    assert out["rosh_group"].to_list() == ["high_very_high", "low_medium", None]


# --------------------------------------------------------------------------------------
# Export round-trip
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["qi-2016", "pdu-2023"])
def test_export_then_load_is_identical(name):
    fw = framework.load(name)
    text = to_toml(fw)
    again = framework.parse(text, "exported.toml")
    assert again == fw
    assert to_toml(again) == text  # stable: exporting the export changes nothing
    assert text.count("\n# ") > 10  # commented for the analyst


def test_export_keeps_awkward_text():
    text = to_toml(framework.load("qi-2016")).replace(
        'report_title = "The availability and delivery of interventions"',
        'report_title = "Quotes \\" and \\\\ back\\tslash, é, {braces}"',
    )
    fw = framework.parse(text, "x")
    assert fw.wording.report_title == 'Quotes " and \\ back\tslash, é, {braces}'
    assert framework.parse(to_toml(fw), "y") == fw


def test_renaming_a_factor_in_an_export_renames_its_columns(tmp_path):
    text = to_toml(framework.load("qi-2016"))
    text = text.replace('key = "ete"', 'key = "employment"', 1)
    fw = framework.parse(text, "renamed.toml")
    assert "employment_priority" in fw.stored_schema()
    assert "ete_priority" not in fw.stored_schema()
    assert fw.item_column("employment/delivery") == "employment_delivered"


# --------------------------------------------------------------------------------------
# Crosswalks
# --------------------------------------------------------------------------------------

CW = (
    Path(framework.shipped_path("qi-2016")).parent / "qi-2016--pdu-2023.crosswalk.toml"
).read_text(encoding="utf-8")


def test_shipped_crosswalk():
    assert framework.crosswalk_names() == ("qi-2016--pdu-2023",)
    cw = framework.load_crosswalk("qi-2016--pdu-2023")
    assert (cw.source, cw.target) == ("qi-2016", "pdu-2023")
    assert cw.counterpart("partner-harm-focus", "qi-2016") == (
        "implementation/safety",
        "approximate",
    )
    assert cw.counterpart("implementation/safety", "pdu-2023") == (
        "partner-harm-focus",
        "approximate",
    )
    assert cw.continues("partner-harm-focus", "qi-2016")
    assert not cw.continues("contracted-harm-focus", "qi-2016")  # listed as none
    assert not cw.continues("ete/delivery", "qi-2016")  # not listed: no counterpart
    assert cw.counterpart("ete/delivery", "qi-2016") == (None, "none")
    eth = cw.breakdown_counterpart("ethnicity")
    assert eth is not None and dict(eth.levels) == {"white": "white", "bame": "ethnic_minority"}
    assert cw.breakdown_counterpart("provider").match == "none"
    assert all(s.title for s in cw.sources) and cw.assumptions
    assert framework.crosswalk_between("pdu-2023", "qi-2016") == cw
    with pytest.raises(BadRequest, match="not 'other'"):
        cw.counterpart("x", "other")


def _cw_problems(text: str) -> list[str]:
    with pytest.raises(FrameworkInvalid) as exc:
        parse_crosswalk(text, framework.load, "cw.toml")
    assert exc.value.exit_code == EXIT_DATA
    assert str(exc.value).startswith("cw.toml: ")
    return [str(p) for p in exc.value.problems]


def test_crosswalk_validation():
    # an item that does not exist in its framework
    (msg,) = _cw_problems(
        CW.replace('to = "implementation/safety"', 'to = "implementation/safe"', 1)
    )
    assert "link[1] ('partner-harm-focus').to: no judgement 'implementation/safe'" in msg
    assert re.search(r"cw\.toml, line \d+: ", msg)
    # an unknown framework
    (msg,) = _cw_problems(CW.replace('to = "pdu-2023"', 'to = "pdu-2099"', 1))
    assert "crosswalk.to: cannot load framework 'pdu-2099'" in msg
    # a bad match
    (msg,) = _cw_problems(
        CW.replace('safety"\nmatch = "approximate"', 'safety"\nmatch = "close"', 1)
    )
    assert "'close' is not one of: exact, approximate, none" in msg
    # an exact link with one side only
    (msg,) = _cw_problems(
        CW.replace(
            'from = "contracted-harm-focus"\nmatch = "none"',
            'from = "contracted-harm-focus"\nmatch = "exact"',
            1,
        )
    )
    assert "an exact link needs both 'from' and 'to'" in msg
    # an item linked twice
    (msg,) = _cw_problems(
        CW.replace('from = "contracted-info-review"', 'from = "partner-harm-focus"', 1)
    )
    assert "'partner-harm-focus' is already linked by link[1]" in msg
    # breakdown levels checked against both frameworks
    (msg,) = _cw_problems(CW.replace('bame = "ethnic_minority"', 'bame = "minority_group"', 1))
    assert "'minority_group' is not a level of 'ethnicity'" in msg


def test_crosswalk_file_names_its_frameworks_by_file(tmp_path):
    fw_file = tmp_path / "mine.toml"
    fw_file.write_text(to_toml(framework.load("pdu-2023")), encoding="utf-8")
    cw_file = tmp_path / "mine.crosswalk.toml"
    cw_file.write_text(CW.replace('to = "pdu-2023"', f'to = "{fw_file}"', 1), encoding="utf-8")
    cw = framework.load_crosswalk(str(cw_file))
    # its side is the framework in that file, by the framework's name (a copy of pdu-2023)
    assert cw.target == "pdu-2023" and cw.links
    with pytest.raises(BadRequest, match="unknown crosswalk"):
        framework.load_crosswalk("nope")


def test_docs_describe_every_key():
    """docs/frameworks.md names every key the loaders accept (docs that cannot rot)."""
    from hmip_cli.framework import crosswalk, loader

    docs = (Path(__file__).resolve().parent.parent / "docs" / "frameworks.md").read_text(
        encoding="utf-8"
    )
    groups = {
        "top": loader.TOP_KEYS,
        "framework": loader.FRAMEWORK_KEYS,
        "source": loader.SOURCE_KEYS,
        "column": loader.COLUMN_KEYS,
        "derived": loader.DERIVED_KEYS,
        "gate": loader.GATE_KEYS,
        "area": loader.AREA_KEYS,
        "applies": loader.APPLIES_KEYS,
        "measure": loader.MEASURE_KEYS,
        "measure wording": loader.MEASURE_WORDING_KEYS,
        "topic": loader.TOPIC_KEYS,
        "question table": loader.QTABLE_KEYS,
        "question": loader.QUESTION_KEYS,
        "breakdown": loader.BREAKDOWN_KEYS,
        "profile": loader.PROFILE_KEYS,
        "comparison": loader.COMPARISON_KEYS,
        "wording": loader.WORDING_KEYS,
        "crosswalk": crosswalk.HEAD_KEYS + crosswalk.LINK_KEYS + crosswalk.BREAKDOWN_LINK_KEYS,
    }
    missing = [
        f"{group}.{k}"
        for group, keys in groups.items()
        for k in keys
        if not any(
            form in docs for form in (f"`{k}`", f"`{k} ", f"{k} =", f"[{k}]", f"[[{k}]]", f".{k}]]")
        )
    ]
    assert not missing, missing


def test_a_framework_needs_case_id_and_inspection_columns():
    """The store refuses duplicate case ids and records inspections: every framework has
    both (and an inspection_date, if any, is a date)."""
    text = framework.shipped_path("qi-2016").read_text(encoding="utf-8")
    broken = text.replace(
        'name = "inspection"\ntype = "text"', 'name = "inspection"\ntype = "date"'
    )
    broken = broken.replace(
        'name = "case_id"\ntype = "text"\n', 'name = "case_ref"\ntype = "text"\n'
    )
    with pytest.raises(framework.FrameworkInvalid) as exc:
        framework.parse(broken, "x.toml")
    msg = str(exc.value)
    assert "needs a 'case_id' column" in msg and "needs an 'inspection' column" in msg
