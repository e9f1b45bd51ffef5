"""`hmip synth --framework NAME|FILE`: synthetic cases for any framework, from its synth plan.

qi-2016 stays the bulletin's exact model (byte for byte). pdu-2023 follows the shipped plan
(hmip_cli/data/pdu-2023.synth.toml, every number an assumption): the checks below are
against the plan's own numbers (exact counts: round(n x share), round(n applicable x
rate)), against the framework's applicability rules, and, for the planted effect, against
a logistic fit. A custom framework (an edited qi-2016 with other keys) goes through the
generic path with a plan beside its file. --years spreads inspections over years.
"""

from __future__ import annotations

import io
import math

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from typer.testing import CliRunner

from hmip_cli import framework, synth, synth_framework
from hmip_cli.cli.app import app
from hmip_cli.framework.derive import with_derived
from hmip_cli.framework.export import to_toml

r = synth_framework._round_half_up
runner = CliRunner()
N = 4000


@pytest.fixture(scope="module")
def pdu():
    fw = framework.load("pdu-2023")
    plan = synth_framework.plan_for(fw)
    return fw, plan, synth_framework.synthesize(fw, N, 3)


def test_qi_2016_is_the_bulletins_exact_model():
    fw = framework.load("qi-2016")
    assert synth_framework.is_bulletin_framework(fw)
    assert synth_framework.synthesize(fw, 300, 2).equals(synth.generate(300, 2))


def test_pdu_cases_are_in_the_frameworks_schema(pdu):
    fw, plan, d = pdu
    assert d.schema == fw.stored_schema()
    assert d.height == N and d.get_column("case_id").n_unique() == N
    assert plan.source == "pdu-2023.synth.toml" and plan.assumptions
    assert all(a.startswith("ASSUMPTION") for a in plan.assumptions)


def test_pdu_attributes_follow_the_plan_exactly(pdu):
    fw, plan, d = pdu
    for name in ("gender", "sentence_type", "rosh", "ethnicity"):
        spec = plan.columns[name]
        recorded = d.get_column(name).drop_nulls()
        assert d.get_column(name).null_count() == r(N * spec.missing), name
        counts = dict(recorded.cast(pl.String).value_counts().iter_rows())
        expected = synth_framework._apportion(recorded.len(), list(spec.shares.values()))
        assert [counts.get(lv, 0) for lv in spec.shares] == expected.tolist(), name
    # each inspection is one PDU in one region, as the plan lists them
    by = d.group_by("inspection").agg(pl.col("pdu").n_unique(), pl.col("region").n_unique())
    assert by.get_column("pdu").max() == 1 and by.get_column("region").max() == 1
    assert d.get_column("inspection").n_unique() == len(plan.inspections) == 12
    # the stored OGRS band is the framework's cut of the score
    derived = with_derived(fw, d)
    assert derived.get_column("ogrs_band").equals(d.get_column("ogrs_band"))
    scored = d.filter(pl.col("ogrs_score").is_not_null())
    assert (scored.filter(pl.col("ogrs_score") < 50).get_column("ogrs_band") == "low").all()


def test_pdu_judgements_hit_the_plans_rates_and_applicability(pdu):
    fw, plan, d = pdu
    for item in fw.items():
        s = d.get_column(fw.item_column(item))
        skip = plan.not_applicable.get(item, plan.not_applicable["*"])
        assert s.null_count() == r(N * skip), item  # blank = not applicable (the rule)
        assert s.drop_nulls().sum() == r(s.drop_nulls().len() * plan.rates[item]), item


def test_pdu_planted_effect_and_no_other(pdu):
    """Keeping people safe: licence +0.4 log odds (the plan's one effect); gender none."""
    fw, _, d = pdu
    for item, planted in (("assessment/safety", 0.4), ("assessment/desistance", 0.0)):
        col = fw.item_column(item)
        s = d.filter(pl.col(col).is_not_null())
        X = np.column_stack(
            [
                np.ones(s.height),
                (s.get_column("sentence_type") == "licence").to_numpy(),
                (s.get_column("gender") == "female").to_numpy(),
            ]
        ).astype(float)
        fit = sm.GLM(
            s.get_column(col).to_numpy().astype(float), X, family=sm.families.Binomial()
        ).fit()
        (b_lic, b_fem), (se_lic, se_fem) = fit.params[1:], fit.bse[1:]
        assert abs(b_lic - planted) <= 4 * se_lic, (item, b_lic)
        assert abs(b_fem) <= 4.5 * se_fem, (item, b_fem)
    assert fit.params[1] != 0  # the fit ran on both groups


def _custom_framework(tmp_path):
    """qi-2016 exported and edited: accommodation renamed housing (so it is not the
    bulletin's framework any more), with a plan beside it."""
    text = to_toml(framework.load("qi-2016"))
    text = text.replace('key = "accommodation"', 'key = "housing"').replace(
        'name = "qi-2016"', 'name = "my-qi"'
    )
    path = tmp_path / "my-qi.toml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "my-qi.synth.toml").write_text(
        '[gate]\n"*" = 0.3\nhousing = 0.5\n[involved]\ncontracted_providers = 0.25\n'
        '[rates]\n"housing/delivery" = 0.8\n"*" = 0.55\n',
        encoding="utf-8",
    )
    return path


def test_a_custom_framework_follows_its_rules(tmp_path):
    path = _custom_framework(tmp_path)
    fw = framework.load(path)
    assert not synth_framework.is_bulletin_framework(fw)
    d = synth_framework.synthesize(fw, 2000, 5)
    assert d.schema == fw.stored_schema() and "housing_priority" in d.columns
    gate = d.get_column("housing_priority")
    assert gate.sum() == 1000  # round(2000 * 0.5)
    # a judgement asked only where the gate is yes: null exactly where it is no
    delivered = d.get_column(fw.judgement_column("housing", "delivery"))
    assert delivered.is_null().equals(~gate)
    assert delivered.sum() == r(1000 * 0.8)
    # contracted providers' contribution: only where the gate is yes and they were involved
    contracted = d.get_column(fw.judgement_column("housing", "contracted"))
    assert (contracted.is_not_null() & ~gate).sum() == 0
    harm = d.get_column(fw.questions[0].column)  # asked where the party was involved
    party = fw.questions[0].applies.involved
    assert party is not None
    involved_n = r(2000 * (0.25 if party == "contracted_providers" else 0.5))
    assert harm.is_not_null().sum() == involved_n
    # at most five priorities per case (the framework's gate limit)
    gates = d.select(fw.gate_column(a) for a in fw.areas).sum_horizontal()
    assert gates.max() <= fw.gate.max_per_case


def test_cli_generates_for_a_framework_file(tmp_path):
    path = _custom_framework(tmp_path)
    result = runner.invoke(app, ["synth", "--framework", str(path), "-n", "40", "--seed", "2"])
    assert result.exit_code == 0, result.stderr
    frame = pl.read_csv(io.StringIO(result.stdout), infer_schema=False)
    assert frame.height == 40 and "housing_priority" in frame.columns


def test_years_spread_inspections_and_change_nothing_else():
    fw = framework.load("qi-2016")
    base = synth.generate(1066, 1)
    spread = synth_framework.synthesize(fw, 1066, 1, years=(2016, 2019))
    assert spread.drop("inspection_date").equals(base.drop("inspection_date"))
    years = spread.group_by("inspection").agg(pl.col("inspection_date").dt.year().unique())
    assert sorted(spread.get_column("inspection_date").dt.year().unique().to_list()) == [
        2016,
        2017,
        2018,
        2019,
    ]
    assert years.get_column("inspection_date").list.len().max() == 1  # one date each
    # the 14 inspections in date order: floor(k * 4 / 14) years on from 2016
    first = base.group_by("inspection").agg(pl.col("inspection_date").first())
    order = first.sort("inspection_date").get_column("inspection").to_list()
    got = dict(spread.group_by("inspection").agg(pl.col("inspection_date").first()).iter_rows())
    assert [got[name].year for name in order] == [2016 + math.floor(k * 4 / 14) for k in range(14)]


def test_cli_years_and_refusals():
    ok = runner.invoke(
        app, ["synth", "-n", "30", "--framework", "pdu-2023", "--years", "2030-2031"]
    )
    assert ok.exit_code == 0, ok.stderr
    years = pl.read_csv(io.StringIO(ok.stdout)).get_column("inspection_date").str.slice(0, 4)
    assert set(years.to_list()) <= {"2030", "2031"}
    for args, message in (
        (["--years", "2019-2016"], "--years must be FIRST-LAST"),
        (["--framework", "pdu-2023", "--messy"], "--messy writes the qi-2016 export only"),
        (["--framework", "no-such"], "unknown framework"),
    ):
        result = runner.invoke(app, ["synth", "-n", "5", *args])
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr and result.stdout == ""


def test_a_plan_naming_what_the_framework_lacks_is_refused(tmp_path):
    fw = framework.load("pdu-2023")
    path = tmp_path / "bad.synth.toml"
    path.write_text('[rates]\n"assessment/nonsense" = 0.5\n', encoding="utf-8")
    with pytest.raises(Exception, match="unknown judgement 'assessment/nonsense'"):
        synth_framework.check_plan(fw, synth_framework.load_plan(path))


def test_a_framework_without_a_plan_gets_the_stated_defaults(tmp_path):
    """No synth plan (the test's own framework, written with none beside it): the
    defaults, exact counts of them, said to be assumptions, the same for the same seed."""
    from test_framework_custom import CUSTOM

    path = tmp_path / "youth.toml"
    path.write_text(CUSTOM, encoding="utf-8")
    fw = framework.load(path)
    assert synth_framework.plan_for(fw).source == "defaults"
    d = synth_framework.synthesize(fw, 1000, 8)
    for area in fw.areas:
        gate = d.get_column(fw.gate_column(area))
        assert gate.sum() == r(1000 * synth_framework.DEFAULT_GATE)
        for m in fw.measures:
            col = d.get_column(fw.judgement_column(area, m))
            assert col.sum() == r(col.is_not_null().sum() * synth_framework.DEFAULT_RATE)
    team = d.get_column("team").value_counts().sort("team")
    assert team["count"].to_list() == [500, 500]  # equal shares of the two levels
    args = ["synth", "--framework", str(path), "-n", "300", "-s", "4"]
    first, again = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == 0 and first.stdout == again.stdout
    assert runner.invoke(app, [*args[:-1], "5"]).stdout != first.stdout
    assert "no synth plan for youth-2025, so every share and rate is a default assumption: 60%" in (
        first.stderr
    )
    assert "no synth plan" not in runner.invoke(app, ["synth", "-n", "50"]).stderr  # qi-2016
