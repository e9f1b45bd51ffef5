"""Key findings: computed from the numbers, traceable to their tables, and they change
when the data change."""

from __future__ import annotations

import re

import polars as pl
import pytest
from test_report_support import fixture_cases, report_for, shared_report

from hmip_cli import rates as R
from hmip_cli import schema
from hmip_cli.report import content as C
from hmip_cli.report.findings import join_words, key_findings, number_word
from hmip_cli.stepwise.sweeps import FINDINGS_SCHEMA

# The bulletin's Figures 1-4 (% yes, whole numbers as printed; ../reference/figures.csv),
# in schema factor order; None = not shown (financial management in Figures 3 and 4).
BULLETIN = {
    1: [74, 83, 79, 84, 87, 86, 90, 82, 87, 86],
    2: [62, 59, 51, 47, 47, 47, 47, 49, 52, 47],
    3: [67, 70, None, 57, 50, 59, 61, 52, 59, 55],
    4: [73, 67, None, 65, 60, 61, 62, 69, 65, 52],
}


def fake_results(percents: dict[int, list]) -> R.BulletinResults:
    """A rates frame holding just the all-cases rows with the given percentages (n = 200)."""
    rows = []
    for fig, values in percents.items():
        m = C.measure_of_figure(fig)
        for f, v in zip(schema.FACTORS, values):
            shown = v is not None
            rows.append(
                {
                    "figure": fig,
                    "measure": m.key,
                    "factor": f.key,
                    "factor_label": f.label,
                    "breakdown": R.ALL,
                    "n_priority": 200,
                    "n": 200 if shown else 12,
                    "n_yes": 2 * v if shown else None,
                    "percent_yes": float(v) if shown else None,
                    "ci_lower": None,
                    "ci_upper": None,
                    "low_reliability": not shown,
                    "suppressed": None if shown else "primary",
                    "marker": None if shown else "[c]",
                }
            )
    protection = pl.DataFrame(
        schema={
            "table": pl.Int64,
            "topic": pl.String,
            "who": pl.String,
            "breakdown": pl.String,
            "question_label": pl.String,
            "n": pl.Int64,
            "percent_yes": pl.Float64,
            "marker": pl.String,
        }
    )
    return R.BulletinResults(rates=pl.DataFrame(rows), protection=protection)


def fake_findings(rows: list[dict]) -> pl.DataFrame:
    base = {
        "n": 500,
        "n_dropped": 0,
        "reliable": True,
        "p": 0.01,
        "p_wald": 0.01,
        "ci_low": 1.1,
        "ci_high": 2.5,
        "odds_ratio": 1.8,
    }
    return pl.DataFrame([{**base, **r} for r in rows], schema=FINDINGS_SCHEMA)


def texts(results, findings=None, **kw) -> list[str]:
    return [
        f.text
        for f in key_findings(
            results, findings if findings is not None else fake_findings([]), **kw
        )
    ]


# --------------------------------------------------------------------------------------
# The bulletin's own key findings, from the bulletin's own numbers
# --------------------------------------------------------------------------------------


def test_bulletin_sentences_from_bulletin_numbers():
    t = texts(fake_results(BULLETIN))
    # "Interventions were available in over 80% of applicable cases across eight of the ten
    # factors, peaking at 90% for alcohol misuse. ... accommodation ... (74%)" (bulletin 2.1)
    assert (
        "Interventions were available in over 80% of applicable cases across eight of the ten factors, "
        "peaking at 90% for alcohol misuse; the lowest was accommodation (74%)."
    ) in t
    # "sufficient interventions were judged to have been delivered most frequently for
    # accommodation (62% ...), followed by ETE (59%). Across six of the ten factors ... just
    # under half (47% to 49%)"
    assert (
        "Sufficient interventions were delivered most often for accommodation (62% of applicable cases), "
        "followed by education, training and employment (59%)."
    ) in t
    assert (
        "Sufficient interventions were delivered in under half of applicable cases for six of the ten factors (47% to 49%)."
        in t
    )
    # Figure 3: "most likely ... ETE ... (70%) and least likely ... lifestyle and associates (50%)"
    assert any(
        s.startswith(
            "Contracted providers contributed sufficiently most often for education, training "
            "and employment (70% of applicable cases) and least often for lifestyle and "
            "associates (50%)."
        )
        for s in t
    )
    assert any("Financial management is not shown" in s for s in t)
    # Figure 4: "accommodation ... (73%) ... least ... attitudes to offending (52%)"
    assert any(
        s.startswith(
            "Partners contributed sufficiently most often for accommodation (73% of applicable "
            "cases) and least often for attitudes to offending (52%)."
        )
        for s in t
    )
    # "Compared to partner organisations, the support provided by contracted providers was
    # less likely to be judged sufficient"
    assert any(
        s.startswith("Compared with partners, contracted providers' contribution was less likely")
        for s in t
    )


def test_only_significant_provider_difference_sentence():
    """'The only significant difference between NPS and CRC cases [for availability] was for
    relationships (NPS 89% vs CRC 81%)' (bulletin 2.1)."""
    rel = schema.get_factor("relationships")
    prov = schema.get_breakdown("provider")
    findings = fake_findings(
        [
            {
                "model": f"{rel.key}/availability",
                "label": "x",
                "entered": prov.column,
                "term": prov.column,
                "parameter": "provider(CRC)",
                "level": "CRC",
                "reference": "NPS",
                "direction": "CRC less likely than NPS",
                "odds_ratio": 0.55,
                "ci_low": 0.35,
                "ci_high": 0.86,
                "percent_level": 81.0,
                "n_level": 300,
                "percent_reference": 89.0,
                "n_reference": 150,
            },
            {
                "model": f"{schema.FACTORS[0].key}/delivery",
                "label": "x",
                "entered": "",
                "term": None,
                "note": "no variable met the entry criterion",
            },
        ]
    )
    t = texts(fake_results(BULLETIN), findings)
    assert (
        "The only significant difference between NPS and CRC cases for availability was for relationships "
        "(NPS 89% vs CRC 81%, of the 500 cases with every characteristic recorded)."
    ) in t
    # No provider difference for delivery among these findings: said so.
    assert (
        "After accounting for the other variables, there were no significant differences between NPS and "
        "CRC cases for delivery."
    ) in t


def test_other_variable_sentence_groups_factors():
    age = schema.get_breakdown("age_group")
    rows = []
    for key in ("relationships", "lifestyle", "alcohol"):
        rows.append(
            {
                "model": f"{key}/delivery",
                "label": "x",
                "entered": age.column,
                "term": age.column,
                "level": age.labels[0],
                "reference": age.labels[1],
                "odds_ratio": 0.6,
                "percent_level": 40.0,
                "n_level": 200,
                "percent_reference": 55.0,
                "n_reference": 300,
            }
        )
    t = texts(fake_results(BULLETIN), fake_findings(rows))
    expected = (
        f"After accounting for the other variables, sufficient interventions were more likely to have "
        f"been delivered for older service users ({age.labels[1].lower()}) than for younger service "
        f"users ({age.labels[0].lower()}), for three factors: relationships, lifestyle and "
        f"associates, and alcohol misuse."
    )
    assert expected in t


def test_group_wording_comes_from_the_labels():
    """'younger service users (under 30)' is built from the breakdown's level labels (the
    first level of an ordered breakdown is the lower one), not written per factor: other
    labels give other words, and a breakdown without wording still reads plainly."""
    import dataclasses

    from hmip_cli.report.findings import group_phrase

    age = schema.get_breakdown("age_group")
    assert group_phrase(age, age.labels[0]) == "younger service users (under 30)"
    assert group_phrase(age, age.labels[1]) == "older service users (30+)"
    relabelled = dataclasses.replace(age, labels=("Under 25", "25 and over"))
    assert group_phrase(relabelled, "Under 25") == "younger service users (under 25)"
    assert group_phrase(relabelled, "25 and over") == "older service users (25 and over)"
    assert group_phrase(schema.get_breakdown("provider"), "NPS") == "NPS cases"
    assert group_phrase(schema.get_breakdown("gender"), "Female") == "female service users"
    assert group_phrase(schema.get_breakdown("ethnicity"), "BAME") == "BAME service users"
    other = dataclasses.replace(age, key="new_breakdown", label="Housing status", phrase=())
    assert group_phrase(other, "Settled") == "cases where the housing status is Settled"


def test_no_sentence_uses_the_old_construction():
    for f in shared_report().key_findings:
        assert "rather than" not in f.text and "cases with age group" not in f.text, f.text


def test_about_six_headlines_first_then_the_detail():
    from hmip_cli.report.findings import HEADLINES

    kf = shared_report().key_findings
    flags = [f.headline for f in kf]
    k = sum(flags)
    assert 4 <= k <= HEADLINES == 6
    assert flags == [True] * k + [False] * (len(kf) - k)  # headlines first, then detail
    heads = [f.text for f in kf[:k]]
    assert heads[0].startswith("Interventions were available in over")
    assert any(h.startswith("Compared with partners") for h in heads)
    assert any(h.startswith("Inspectors judged that") for h in heads)
    assert len(kf) - k >= 10  # the detail is still there


# --------------------------------------------------------------------------------------
# Computed, not canned
# --------------------------------------------------------------------------------------


def test_sentences_follow_the_numbers():
    changed = {**BULLETIN, 1: [95, 96, 97, 98, 91, 92, 93, 94, 99, 90]}
    t = texts(fake_results(changed))
    assert (
        "Interventions were available in over 90% of applicable cases across nine of the ten factors, "
        "peaking at 99% for thinking and behaviour; the lowest was attitudes to offending (90%)."
    ) in t
    none_under = {**BULLETIN, 2: [62, 59, 51, 57, 57, 57, 57, 59, 52, 57]}
    t = texts(fake_results(none_under))
    assert any(
        s.startswith(
            "Sufficient interventions were delivered in at least half of applicable cases "
            "for every factor; the lowest was financial management (51%)"
        )
        for s in t
    )


def test_changing_the_cases_changes_the_sentence():
    """The same fixed cases, but accommodation interventions available in every applicable case."""
    rep = shared_report()
    acc = schema.FACTORS[0]
    col = schema.judgement_column(acc, "availability")
    frame = fixture_cases().with_columns(pl.when(pl.col(col).is_not_null()).then(True).alias(col))
    changed = report_for(
        frame, disclosure="none"
    )  # 100% would be a zero "no" count: [c] under threshold-10
    before = next(
        f.text for f in rep.key_findings if f.text.startswith("Interventions were available")
    )
    after = next(
        f.text for f in changed.key_findings if f.text.startswith("Interventions were available")
    )
    assert before != after
    assert f"peaking at 100% for {acc.label.lower()}" in after


# --------------------------------------------------------------------------------------
# Every sentence agrees with the table it summarises
# --------------------------------------------------------------------------------------


@pytest.fixture(
    scope="module",
    params=[{}, {"min_n": 60}, {"min_n": 60, "suppress": False}, {"fdr": True}],
    ids=["default", "min_n60", "low", "fdr"],
)
def rep(request):
    return shared_report(**request.param)  # min_n60 is test_report's too


def test_evidence_agrees_with_tables(rep):
    assert len(rep.key_findings) >= 10
    for f in rep.key_findings:
        table = rep.table(f.table)  # the table it summarises exists
        for also in f.also:
            rep.table(also)
        for row in f.rows:
            assert row in table.keys or any(row in rep.table(a).keys for a in f.also), (f.text, row)
        for e in f.evidence:
            assert e.shown in f.text, (e, f.text)
            value = rep.table(e.table).row(e.row)[e.column]
            assert not isinstance(value, str), f"quoted a marker cell: {f.text}"
            if e.shown.endswith("%"):
                assert C.whole(value) == int(e.shown[:-1]), (e, value)
            else:
                assert f"{value:,}" == e.shown, (e, value)


def test_every_percentage_in_a_sentence_is_evidenced(rep):
    for f in rep.key_findings:
        quoted = re.findall(r"\b\d+%", f.text)
        shown = [e.shown for e in f.evidence]
        thresholds = re.findall(r"over (\d+%)", f.text) + re.findall(r"at the (\d+%) level", f.text)
        for q in quoted:
            assert q in shown or q in thresholds, (q, f.text)


def test_counts_in_sentences_match_tables(rep):
    """'across eight of the ten factors' and 'for six of the ten factors' are counts of table rows."""
    fig1 = rep.table("figure-1")
    published = [r for r in fig1.rows if not isinstance(r["percent_yes"], str)]
    f = next(f for f in rep.key_findings if f.text.startswith("Interventions were available"))
    m = re.search(r"over (\d+)% of applicable cases across (\w+) of the (\w+) factors", f.text)
    if m:
        threshold = int(m.group(1))
        over = [r for r in published if r["percent_yes"] > threshold]
        assert m.group(2) in (number_word(len(over)), "all")
        assert m.group(3) == number_word(len(published))
        assert len(f.rows) >= len(over)
    fig2 = rep.table("figure-2")
    pub2 = [r for r in fig2.rows if not isinstance(r["percent_yes"], str)]
    g = next((f for f in rep.key_findings if "in under half of applicable cases" in f.text), None)
    if g:
        m = re.search(r"for (\w+) of the (\w+) factors", g.text)
        assert m.group(1) == number_word(sum(r["percent_yes"] < 50 for r in pub2))
        assert m.group(2) == number_word(len(pub2))


def test_suppressed_rates_never_quoted():
    rep = shared_report(min_n=60)
    for fig in (3, 4):
        t = rep.table(f"figure-{fig}")
        hidden = [
            schema.get_factor(k).label.lower()
            for k, r in zip(t.keys, t.rows)
            if r["marker"] == "[c]"
        ]
        for f in rep.key_findings:
            if f.table == t.id:
                for label in hidden:
                    assert not re.search(re.escape(label) + r" \(\d+%\)", f.text.lower()), f.text


def test_words():
    assert number_word(8) == "eight" and number_word(25) == "25"
    assert join_words(["a"]) == "a" and join_words(["a", "b"]) == "a and b"
    assert join_words(["a", "b and c", "d"]) == "a, b and c, and d"


# Numbers a sentence may state that are counts of rows or documented rules, not cells.
_COUNT_PHRASES = (
    r"\b[\w,]+ of the [\w,]+ significant differences",
    r"\ball [\w,]+ significant differences",
    r"the \d[\d,]* tests",
    r"at the \d+% level",
    r"at least \d+ cases and at least \d+ yes and \d+ no answers",
    r"only \d+ inspections",
    r"over \d+%",
    r"fewer than \d+ applicable cases",
    r"Figures? \d+( and \d+)?",
    r"Tables? \d+( and \d+)?",
)


def test_every_number_in_a_sentence_is_its_cited_cell(rep):
    """Issue 10 item 2: every number a key finding quotes is the number in the cell it cites
    (test_evidence_agrees_with_tables checks the cell), apart from documented counts/rules."""
    for f in rep.key_findings:
        text = f.text
        for pattern in _COUNT_PHRASES:
            text = re.sub(pattern, "", text)
        for b in schema.BREAKDOWNS:  # group names such as "Under 30" and "30+" are not numbers
            for label in sorted(b.labels, key=len, reverse=True):
                text = text.replace(label, "").replace(label.lower(), "")
        shown = {e.shown for e in f.evidence}
        for q in re.findall(r"(?<![\w.])\d[\d,]*%?", text):
            assert q in shown, (q, f.text)


def test_stepwise_percentages_say_which_cases(rep):
    """A difference's percentages are of the model's cases (listwise deletion), which differ
    from the all-cases rates of Tables 1-2 ('NPS 82% vs CRC 65%' beside Table 2's 64.2):
    the sentence says so and quotes the model's n from the differences table."""
    from hmip_cli.report.findings import CASES_IN_MODEL

    quoted = [
        f for f in rep.key_findings if f.table == "differences" and re.search(r"\d+%", f.text)
    ]
    quoted = [f for f in quoted if not f.text.startswith(("After adjusting", "Allowing for"))]
    assert quoted
    for f in quoted:
        assert CASES_IN_MODEL in f.text, f.text
        ns = [e for e in f.evidence if e.column == "n"]
        assert ns and all(f"of the {e.shown} {CASES_IN_MODEL}" in f.text for e in ns), f.text
