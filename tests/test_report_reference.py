"""hmip report --reference VAR=LEVEL (issue 11 item 6): odds ratios read in the analyst's
direction. Changing a binary breakdown's reference group inverts its odds ratio (OR' = 1/OR),
swaps and inverts its CI limits, and leaves its p unchanged (the same model, reparametrised);
checked against direct fits of each model (stepwise() with each reference, profile CIs by
profile.final_model_cis), and through the report's differences table, key findings and the
methods note."""

from __future__ import annotations

import polars as pl
import pytest
from test_report_support import report_for

from hmip_cli import schema
from hmip_cli.errors import BadRequest
from hmip_cli.report import ReportParams
from hmip_cli.stepwise import stepwise, sweeps
from hmip_cli.stepwise.profile import final_model_cis

pytestmark = pytest.mark.slow  # one report (the sweep with profile CIs), ~10 s


@pytest.fixture(scope="module")
def flipped():
    return report_for(reference=(("provider", "crc"),), cluster=None)


def _direct(rep, model: str, reference):
    """The model fitted directly, as the sweep fits it, and its provider parameter."""
    t = {x.model: x for x in sweeps.targets(everything=True)}[model]
    cases = rep.sweep.results[[r[0].model for r in rep.sweep.results].index(model)][1]
    cols = sweeps.candidate_columns(list(schema.DEFAULT_BREAKDOWNS))
    # The sweep keeps each model's covariate patterns with their counts (one scan for every
    # model): fit them with the same frequency weights.
    weights = sweeps.WEIGHT if sweeps.WEIGHT in cases.columns else None
    res = stepwise(cases, t.column, cols, categorical=cols, reference=reference, weights=weights)
    (c,) = [c for c in res.final.in_equation if c.term == "provider" and c.kind == "parameter"]
    lo, hi = final_model_cis(cases, res).get(c.parameter, (None, None))  # none if unreliable
    (row,) = [r for r in res.final.if_removed if r.term == "provider"]
    return c, lo, hi, row.p


def test_provider_odds_ratios_flip_against_direct_fits(flipped):
    rows = flipped.findings.filter(pl.col("term") == "provider").to_dicts()
    shown = 0
    for r in rows:
        assert (r["level"], r["reference"]) == ("NPS", "CRC")
        c0, lo0, hi0, p0 = _direct(flipped, r["model"], "last")  # SPSS default: NPS is last
        assert (c0.level, c0.reference) == ("CRC", "NPS")
        assert r["p"] == pytest.approx(p0, rel=1e-9)
        if r["odds_ratio"] is None:  # not shown (separation / beyond 1e6) in either direction
            assert c0.exp_b is None or lo0 is None
            continue
        shown += 1
        assert r["odds_ratio"] == pytest.approx(1.0 / c0.exp_b, rel=1e-9)
        assert r["ci_low"] == pytest.approx(1.0 / hi0, rel=1e-7)
        assert r["ci_high"] == pytest.approx(1.0 / lo0, rel=1e-7)
        c1, lo1, hi1, p1 = _direct(flipped, r["model"], {"provider": "CRC"})
        assert (r["odds_ratio"], r["ci_low"], r["ci_high"]) == pytest.approx(
            (c1.exp_b, lo1, hi1), rel=1e-12
        )
    assert shown >= 3  # provider is in several final models of the fixture cases


def test_differences_table_findings_and_note_use_the_reference(flipped):
    t = flipped.table("differences")
    provider = [row for row, key in zip(t.rows, t.keys) if key.split("|")[1] == "provider"]
    assert provider and all(row["reference"] == "CRC" for row in provider)
    assert any("reference groups chosen: Provider: CRC" in n for n in t.notes)
    text = " ".join(str(f) for f in flipped.key_findings)
    assert "NPS" in text
    assert flipped.params.to_dict()["reference"] == {"provider": "CRC"}


def test_reference_is_checked_before_any_work():
    with pytest.raises(BadRequest, match="not one of its levels"):
        ReportParams(reference=(("provider", "nope"),))
    with pytest.raises(BadRequest, match="not among the candidates"):
        ReportParams(reference=(("provider", "CRC"),), candidates=("gender",))
    with pytest.raises(BadRequest, match="two references"):
        ReportParams(reference=(("provider", "CRC"), ("provider", "NPS")))
    # labels, codes and aliases are all accepted, and normalised to (key, code)
    p = ReportParams(reference=(("ethnic_group", "White"), ("age", "Under 30")))
    assert p.reference == (("ethnicity", "white"), ("age_group", "under_30"))
    assert p.reference_columns == {"ethnic_group": "white", "age_group": "under_30"}
    assert "reference" not in ReportParams().to_dict()


def test_cli_report_reference_usage_errors(cli, tmp_path):
    r = cli("report", "--output", str(tmp_path / "r.html"), "--reference", "provider")
    assert r.exit_code == 2 and "VAR=LEVEL" in r.output
