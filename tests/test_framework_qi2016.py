"""qi-2016.toml says exactly what the code spelt before frameworks (schema.py, kept as
tests/data/legacy_schema.py; tables.py, report/content.py, report/findings.py,
report/charts.py, rates.py, synth.py, the CLI).

This is the contract the rewiring relies on: when a module switches from its constants to
the framework, its output cannot change, because every name, type, level, label, rule and
piece of wording below is proved equal here. If you change a constant in the code (or the
file), this test tells you to change the other too.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hmip_cli import framework
from hmip_cli import schema as facade
from hmip_cli.framework.derive import with_derived

# What schema.py spelt before it was computed from the framework (a frozen copy).
_spec = importlib.util.spec_from_file_location(
    "legacy_schema", Path(__file__).parent / "data" / "legacy_schema.py"
)
assert _spec is not None and _spec.loader is not None
schema = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("legacy_schema", schema)  # dataclasses look their module up
_spec.loader.exec_module(schema)


@pytest.fixture(scope="module")
def fw():
    return framework.load("qi-2016")


# --------------------------------------------------------------------------------------
# Columns
# --------------------------------------------------------------------------------------

COLUMN_FIELDS = (
    "name",
    "dtype",
    "description",
    "required",
    "levels",
    "labels",
    "minimum",
    "maximum",
    "applicable",
    "identifying",
    "kind",
)


def _fields(col) -> dict:
    return {f: getattr(col, f) for f in COLUMN_FIELDS}


def test_every_stored_column_matches_schema_field_by_field(fw):
    ours = fw.stored_columns()
    assert [c.name for c in ours] == [c.name for c in schema.COLUMNS]
    for mine, theirs in zip(ours, schema.COLUMNS):
        assert _fields(mine) == _fields(theirs), mine.name


def test_stored_schema_identifying_and_free_text(fw):
    assert fw.stored_schema() == schema.stored_schema()
    assert fw.identifying_columns() == schema.IDENTIFYING_COLUMNS
    assert fw.free_text_columns() == ("notes",)


def test_derived_columns_match_schema(fw):
    ours = fw.derived_columns()
    assert [c.name for c in ours] == [c.name for c in schema.DERIVED]
    for mine, theirs in zip(ours, schema.DERIVED):
        for f in ("name", "dtype", "description", "levels", "labels"):
            assert getattr(mine, f) == getattr(theirs, f), (mine.name, f)
    assert schema.AGE_GROUPS == fw.derived_spec("age_group").levels
    assert schema.ETHNIC_GROUPS == fw.derived_spec("ethnic_group").levels
    assert schema.TWO_BANDS == fw.derived_spec("ogrs_group").levels
    assert schema.TWO_BANDS == fw.derived_spec("rosh_group").levels


def test_schema_facade_is_the_legacy_schema():
    """schema.py, now computed from qi-2016.toml, gives every old name its old value."""
    for name in ("FACTORS", "MEASURES", "QUESTIONS", "BREAKDOWNS"):
        old, new = getattr(schema, name), getattr(facade, name)
        assert len(old) == len(new), name
        for x, y in zip(old, new):
            assert vars(x) == {k: getattr(y, k) for k in vars(x)}, (name, x)
    for name in ("COLUMNS", "ATTRIBUTES", "DERIVED"):
        old, new = getattr(schema, name), getattr(facade, name)
        assert [_fields(x) for x in old] == [_fields(y) for y in new], name
    for name in ("MAX_PRIORITIES", "DEFAULT_BREAKDOWNS", "IDENTIFYING_COLUMNS", "YES_NO"):
        assert getattr(schema, name) == getattr(facade, name), name
    assert list(facade.COLUMN_BY_NAME) == list(schema.COLUMN_BY_NAME)
    assert list(facade.DERIVED_BY_NAME) == list(schema.DERIVED_BY_NAME)
    assert facade.stored_schema() == schema.stored_schema()
    for f in schema.FACTORS:
        assert facade.priority_column(f.key) == schema.priority_column(f)
        for m in schema.MEASURES:
            assert facade.judgement_column(f.key, m.key) == schema.judgement_column(f, m)
    assert facade.get_factor("Drug-Misuse").key == schema.get_factor("Drug-Misuse").key
    assert facade.get_question("PARTNER_INFO_REVIEW").column == "partner_info_review"
    assert facade.get_measure("available").key == schema.get_measure("available").key
    assert facade.get_breakdown("ogrs").column == schema.get_breakdown("ogrs").column
    assert facade.breakdown_for_column("ethnic_group").key == "ethnicity"
    cases = _edge_cases()
    assert_frame_equal(facade.with_derived(cases), schema.with_derived(cases))
    scores = pl.DataFrame({"s": [None, -1, 0, 49, 50, 74, 75, 89, 90, 99]}, schema={"s": pl.Int16})
    assert_frame_equal(
        scores.select(facade.ogrs_band_expr(pl.col("s"))),
        scores.select(schema.ogrs_band_expr(pl.col("s"))),
    )


# --------------------------------------------------------------------------------------
# Factors, measures, questions, breakdowns
# --------------------------------------------------------------------------------------


def test_factors(fw):
    assert [(a.key, a.label, a.aliases) for a in fw.areas] == [
        (f.key, f.label, f.aliases) for f in schema.FACTORS
    ]
    assert fw.gate is not None and fw.gate.max_per_case == schema.MAX_PRIORITIES
    for f in schema.FACTORS:
        assert fw.gate_column(f.key) == schema.priority_column(f)
        for alias in (f.key, *f.aliases, f.key.upper().replace("_", "-")):
            assert fw.area(alias).key == schema.get_factor(alias).key


def test_measures(fw):
    for mine, theirs in zip(fw.measures, schema.MEASURES, strict=True):
        assert (mine.key, mine.suffix, mine.label, mine.question, mine.figure, mine.aliases) == (
            theirs.key,
            theirs.suffix,
            theirs.label,
            theirs.question,
            theirs.figure,
            theirs.aliases,
        )
        assert mine.requires_involvement == theirs.requires_involvement
        assert mine.applies.gate  # every qi-2016 measure is asked only where a priority
        for f in schema.FACTORS:
            assert fw.judgement_column(f.key, mine) == schema.judgement_column(f, theirs)
        for alias in (theirs.key, *theirs.aliases):
            assert fw.measure(alias).key == schema.get_measure(alias).key


def test_questions(fw):
    for mine, theirs in zip(fw.questions, schema.QUESTIONS, strict=True):
        assert (mine.key, mine.column, mine.who, mine.topic, mine.label, mine.table) == (
            theirs.key,
            theirs.column,
            theirs.who,
            theirs.topic,
            theirs.label,
            theirs.table,
        )
        assert mine.applies.involved == theirs.who
        assert fw.question(theirs.key.upper()).key == theirs.key


def test_breakdowns_defaults_and_candidates(fw):
    fields = ("key", "column", "label", "aliases", "levels", "labels")
    for mine, theirs in zip(fw.all_breakdowns(), schema.BREAKDOWNS, strict=True):
        assert [getattr(mine, f) for f in fields] == [getattr(theirs, f) for f in fields]
        assert [mine.label_of(c) for c in (*theirs.levels, None, "x")] == [
            theirs.label_of(c) for c in (*theirs.levels, None, "x")
        ]
        assert fw.breakdown_for_column(theirs.column).key == theirs.key
    for b in schema.BREAKDOWNS:
        for alias in (b.key, *b.aliases):
            assert fw.breakdown(alias).key == schema.get_breakdown(alias).key
    assert fw.default_breakdowns() == schema.DEFAULT_BREAKDOWNS
    assert fw.candidates() == schema.DEFAULT_BREAKDOWNS  # the bulletin's regression candidates


def test_items_are_the_regression_targets(fw):
    from hmip_cli.stepwise import sweeps

    targets = sweeps.targets(everything=True)
    assert fw.items() == tuple(t.model for t in targets)
    for t in targets:
        assert fw.item_label(t.model) == t.label
        assert fw.item_column(t.model) == t.column


def test_unknown_keys_give_the_same_message(fw):
    from hmip_cli.errors import BadRequest

    for mine, theirs in (
        (fw.area, schema.get_factor),
        (fw.measure, schema.get_measure),
        (fw.question, schema.get_question),
        (fw.breakdown, schema.get_breakdown),
    ):
        with pytest.raises(BadRequest) as a:
            mine("nonsense")
        with pytest.raises(BadRequest) as b:
            theirs("nonsense")
        assert str(a.value) == str(b.value)


# --------------------------------------------------------------------------------------
# Derived fields: cut points and groupings give the same values as schema.with_derived
# --------------------------------------------------------------------------------------


def _edge_cases() -> pl.DataFrame:
    """Stored-schema rows at every cut point (age 29/30, OGRS 49/50, 74/75, 89/90, 0, 99),
    nulls, a band that disagrees with its score, and every ethnicity and RoSH level."""
    ages = [16, 29, 30, 31, None, 100, 29, 30, 45, 60, 18, None]
    scores = [0, 49, 50, 74, 75, 89, 90, 99, None, None, 49, 90]
    bands = ["high", None, "low", None, "very_high", None, None, "low", "medium", None, "low", None]
    eth = [
        "white",
        "mixed",
        "asian",
        "black",
        "other",
        "bame",
        None,
        "white",
        "bame",
        "black",
        None,
        "mixed",
    ]
    rosh = [
        "low",
        "medium",
        "high",
        "very_high",
        None,
        "low",
        "high",
        "medium",
        None,
        "very_high",
        "low",
        "low",
    ]
    n = len(ages)
    cols = {}
    for c in schema.COLUMNS:
        if c.name == "age":
            cols[c.name] = pl.Series(ages, dtype=c.dtype)
        elif c.name == "ogrs_score":
            cols[c.name] = pl.Series(scores, dtype=c.dtype)
        elif c.name == "ogrs_band":
            cols[c.name] = pl.Series(bands, dtype=c.dtype)
        elif c.name == "ethnicity":
            cols[c.name] = pl.Series(eth, dtype=c.dtype)
        elif c.name == "rosh":
            cols[c.name] = pl.Series(rosh, dtype=c.dtype)
        elif c.kind == "priority":
            cols[c.name] = pl.Series(
                [(i + len(c.name)) % 3 == 0 for i in range(n)], dtype=pl.Boolean
            )
        else:
            cols[c.name] = pl.Series([None] * n, dtype=c.dtype)
    return pl.DataFrame(cols)


def test_derived_values_at_every_cut_point(fw):
    cases = _edge_cases()
    expected = schema.with_derived(cases)
    got = with_derived(fw, cases)
    assert_frame_equal(got, expected)
    # ... and the cut points are the ones the bulletin states (not only equal to the code)
    assert got["age_group"].to_list()[:4] == ["under_30", "under_30", "30_plus", "30_plus"]
    assert got["ogrs_band"].to_list()[:8] == [
        "low", "low", "medium", "medium", "high", "high", "very_high", "very_high"
    ]  # fmt: skip
    assert got["ogrs_band"][8] == "medium"  # no score: the stored band stays


def test_derived_values_on_synthetic_cases_and_lazy(fw, synth_cases):
    cases = synth_cases(600, 3)
    assert_frame_equal(with_derived(fw, cases), schema.with_derived(cases))
    assert_frame_equal(
        with_derived(fw, cases.lazy()).collect(), schema.with_derived(cases.lazy()).collect()
    )


# --------------------------------------------------------------------------------------
# Publication wording
# --------------------------------------------------------------------------------------


def test_table_and_figure_titles(fw):
    from hmip_cli.report import content as C

    assert {t.number: t.title for t in fw.question_tables} == schema.TABLE_TITLES
    assert {m.figure: m.wording.figure_title for m in fw.measures} == schema.FIGURE_TITLES
    for m in fw.measures:
        assert m.wording.figure_title == C.figure_title(m.figure)
    assert fw.wording.report_title == C.DEFAULT_TITLE


def test_topic_wording(fw):

    assert {t.key: t.heading for t in fw.topics} == schema.TOPIC_HEADERS
    assert {t.key: t.report_heading for t in fw.topics} == schema.REPORT_TOPICS
    assert {t.key: t.finding for t in fw.topics} == schema.TOPIC_WORDS
    assert fw.topic_note() == schema.TOPIC_NOTE


def test_measure_key_finding_wording(fw):

    assert {
        m.key: (m.wording.finding_subject, m.wording.finding_noun, m.wording.finding_more_likely)
        for m in fw.measures
    } == schema.MEASURE_WORDS
    # findings.key_findings chooses the sentence shape by measure key; the file says it.
    assert {m.key: m.wording.key_finding for m in fw.measures} == {
        "availability": "threshold",
        "delivery": "leaders",
        "contracted": "range",
        "partner": "range",
    }


def test_sample_profile_rows(fw):
    from hmip_cli import rates

    got = [(p.key, p.label, p.breakdown, p.code, p.short) for p in fw.profile]
    want = [(c.key, c.label, c.breakdown, c.code, c.short) for c in rates.characteristics()]
    assert got == want


def test_spreadsheet_export_headers(fw):
    """synth's messy export headers: attribute headers, factor short names x measure
    phrases, question headers."""
    from hmip_cli import synth

    headers: dict[str, str] = {c.name: c.export_header for c in fw.columns}
    for a in fw.areas:
        headers[fw.gate_column(a)] = f"{a.export_short} - {fw.gate.export_phrase}"
        for m in fw.measures:
            headers[fw.judgement_column(a, m)] = f"{a.export_short} - {m.wording.export_phrase}"
    headers |= {q.column: q.export_header for q in fw.questions}
    assert headers == synth.messy_headers()


def test_methods_and_cli_titles(fw):
    from hmip_cli.report import content as C

    assert "{scope}" in C.METHODS_NOTE and fw.wording.methods_scope == (
        "For every factor and measure, and for each of the four case-level questions"
    )
    assert fw.wording.sweep_title == schema.SWEEP_TITLE


def test_demo_titles(fw):
    """`hmip demo`'s machine-format titles: the sample profile, the figures, the tables."""
    from hmip_cli import demo
    from hmip_cli.render import Format

    one = pl.DataFrame({"x": [1]})
    res = demo.DemoResults(Path("x.csv"), Path("store"), 1, one, one, one)
    titles = [t.title for t in demo.demo_tables(res, Format.csv, min_n=10)]
    assert titles[1:] == [fw.wording.figures_title, fw.wording.questions_machine_title]


def test_data_dictionary_wording(fw, cli):
    """`hmip schema`'s rows and note, as the framework states them."""

    r = cli("schema", "-f", "json")
    from test_json_support import rows as json_rows

    rows = json_rows(r.stdout)
    stored = [
        (c.name, c.required, c.applicable, c.kind, c.description) for c in fw.stored_columns()
    ]
    derived = [
        (c.name, False, "computed by hmip; not ingested", "derived", c.description)
        for c in fw.derived_columns()
    ]
    assert [
        (x["name"], x["required"], x["applicable"], x["kind"], x["description"]) for x in rows
    ] == stored + derived
    md = cli("schema", "-f", "markdown").stdout
    assert f"_{fw.wording.dictionary_note}_" in md


def test_chart_wording(fw):
    from hmip_cli.report import charts

    for m in fw.measures:
        assert fw.axis_label(m) == charts.axis_label(m.figure)


@pytest.fixture(scope="module")
def bulletin(synth_cases):
    from hmip_cli import rates

    cases = schema.with_derived(synth_cases(600, 3))
    return cases, rates.bulletin(cases, by=schema.DEFAULT_BREAKDOWNS, suppress=True)


def test_rates_tables_titles_headers_and_notes(fw, bulletin):
    from hmip_cli import rates, tables

    _, res = bulletin
    plain = rates.rates(bulletin[0])
    human = tables.rates_human(plain)
    assert [t.title for t in human] == [fw.rates_title(m) for m in fw.measures]
    for t in human:
        assert t.display["factor"] == fw.wording.area_heading
        assert t.display["n_priority"] == fw.wording.gate_count_heading
        assert any(n.startswith(fw.wording.gate_count_note) for n in t.notes)
    assert tables.rates_machine(plain).title == fw.wording.rates_machine_title
    from hmip_cli.render import Format

    machine = tables.protection_tables(res.protection, Format.csv)
    assert machine[0].title == fw.wording.questions_machine_title
    by = tables.rates_human(rates.rates(bulletin[0], by="gender"))
    assert by[0].title == fw.rates_title(fw.measures[0]) + ", by gender"


def test_report_layout_wording(fw, bulletin):
    from hmip_cli import rates
    from hmip_cli.report import content as C

    cases, res = bulletin
    profile = rates.sample_profile(cases)
    figures = {m.figure: C.figure_data(res.rates, m.figure) for m in schema.MEASURES}
    for n, data in figures.items():
        t = C._figure_table(n, data, 10, cases.height)
        headers = {c.key: c.header for c in t.columns}
        assert headers["factor"] == fw.wording.area_heading
        assert headers["n_priority"] == fw.wording.gate_count_column
        assert headers["priority_percent"] == fw.wording.gate_share_column
    pt = C._protection_table(1, res.protection, 10)
    assert pt.notes[0].startswith(fw.topic_note())
    assert profile.height  # the profile the report lays out exists for these cases


def test_report_section_intro(fw):
    """content.sections writes the figure intro from the measure's question."""
    for m in fw.measures:
        expected = (
            "Cases where the factor was a priority and the judgement applied, and the "
            f"percentage where: {m.question[:-1].lower()}? (yes)."
        )
        assert fw.section_intro(m) == expected


def test_comparison_finding(fw, bulletin):
    from hmip_cli.report import content as C
    from hmip_cli.report import findings as F

    _, res = bulletin
    figs = {m.figure: C.figure_data(res.rates, m.figure) for m in schema.MEASURES}
    finding = F._compare_contributions(figs)
    (cmp,) = fw.comparisons
    first = next(m for m in fw.measures if m.key == cmp.first)
    second = next(m for m in fw.measures if m.key == cmp.second)
    a = {r["factor"]: r["percent_yes"] for r in F._published(figs[first.figure])}
    b = {r["factor"]: r["percent_yes"] for r in F._published(figs[second.figure])}
    both = [k for k in a if k in b]
    lower = sum(a[k] < b[k] for k in both)
    higher = sum(a[k] > b[k] for k in both)
    template = cmp.lower if lower > higher else cmp.higher if higher > lower else cmp.same
    count = lower if lower >= higher else higher
    assert finding.text == template.format(count=F.number_word(count), n=F.number_word(len(both)))


def test_gate_finding(fw, bulletin):
    from hmip_cli.report import content as C
    from hmip_cli.report import findings as F

    cases, res = bulletin
    finding = F._priority_finding(C.figure_data(res.rates, 1), cases.height)
    top = fw.area(finding.rows[0])
    start = fw.wording.gate_finding.format(area=top.in_sentence, pct=finding.evidence[0].shown)
    assert finding.text.startswith(start)
