"""Multiple-testing adjustment over the whole family of a sweep (issue 10, item 1).

The family is every model x every candidate: the LR removal test in the final model for a
term in it, the score test in the final step for one not in it. Reference for the
adjusted values: statsmodels.stats.multitest.multipletests (fdr_bh, holm) on the same p
vector (R's p.adjust(p, "BH" / "holm") gives the same numbers; checked on the vector below).
"""

from __future__ import annotations

import io

import numpy as np
import polars as pl
import pytest
from statsmodels.stats.multitest import multipletests
from typer.testing import CliRunner

from hmip_cli import store
from hmip_cli.cli.app import app
from hmip_cli.report.findings import number_word
from hmip_cli.stepwise import run_sweep, sweep
from hmip_cli.stepwise.adjust import adjust, adjust_family

runner = CliRunner()


@pytest.fixture(scope="module")
def cases(_example_store_dir):
    """examples/cases.csv as ingested (conftest), with the derived columns."""
    return store.load_cases(_example_store_dir)


@pytest.fixture(scope="module")
def example_sweep(cases):
    return run_sweep(cases)


def test_adjust_matches_statsmodels_on_random_p():
    rng = np.random.default_rng(3)
    for m in (1, 2, 7, 50, 300):
        p = rng.uniform(size=m) ** 3
        p[: m // 5] = p[0]  # ties
        for method, sm in (("bh", "fdr_bh"), ("holm", "holm")):
            want = multipletests(p, method=sm)[1]
            np.testing.assert_allclose(adjust(p, method), want, rtol=1e-13, atol=0)
        np.testing.assert_array_equal(adjust(p, "none"), p)


def test_adjust_by_hand_and_r():
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.5), "BH")   -> 0.04 0.05333333 0.05333333 0.5
    #    p.adjust(c(0.01, 0.04, 0.03, 0.5), "holm") -> 0.04 0.09 0.09 0.5
    p = np.array([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(adjust(p, "bh"), [0.04, 0.16 / 3, 0.16 / 3, 0.5], rtol=1e-14)
    np.testing.assert_allclose(adjust(p, "holm"), [0.04, 0.09, 0.09, 0.5], rtol=1e-14)
    # NaN (no test) is not counted in m and stays NaN
    q = adjust(np.array([0.01, np.nan, 0.04, 0.03, 0.5]), "holm")
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2, 3, 4]], [0.04, 0.09, 0.09, 0.5], rtol=1e-14)


def test_family_is_every_model_times_every_candidate(example_sweep):
    fam = example_sweep.family
    models = {r[0].model for r in example_sweep.results}
    cands = example_sweep.results[0][2].candidates
    assert fam.height == len(models) * len(cands)
    assert set(fam.get_column("model")) == models
    for t, _, res in example_sweep.results:
        part = {r["term"]: r for r in fam.filter(pl.col("model") == t.model).iter_rows(named=True)}
        lr = {r.term: r.p for r in res.final.if_removed}
        score = {s.term: s.p for s in res.final.not_in_equation if s.kind == "term"}
        for term in cands:
            row = part[term]
            if term in res.final_terms:
                assert row["test"] == "lr" and row["p"] == lr[term]
            elif score.get(term) is not None:
                assert row["test"] == "score" and row["p"] == score[term]
            else:
                assert row["test"] == "none" and row["p"] is None
    # the whole family is larger than the selected terms: that is what makes adjusting bite
    assert example_sweep.n_tests > 5 * fam.filter(pl.col("in_model")).height


@pytest.mark.parametrize("method, sm", [("bh", "fdr_bh"), ("holm", "holm")])
def test_example_family_against_statsmodels_and_strictly_fewer(example_sweep, method, sm):
    fam = adjust_family(example_sweep.family, method)
    tested = fam.filter(pl.col("p").is_not_null())
    want = multipletests(tested.get_column("p").to_numpy(), method=sm)[1]
    np.testing.assert_allclose(tested.get_column("p_adjusted").to_numpy(), want, rtol=1e-13)
    sig = fam.filter(pl.col("in_model") & (pl.col("p") < 0.05))
    kept = sig.filter(pl.col("p_adjusted") < 0.05)
    # About ten of the example's significant terms are chance findings by construction: the
    # adjusted sweep keeps strictly fewer (the old BH over selected terms kept all of them).
    assert 0 < kept.height < sig.height


def test_sweep_p_adjusted_beside_p_and_fdr_alias(cases, example_sweep):
    bh = sweep(cases, adjust="bh")
    assert bh.equals(sweep(cases, fdr=True))
    assert bh.columns.index("p_adjusted") > bh.columns.index("p")
    fam = adjust_family(example_sweep.family, "bh").filter(pl.col("in_model"))
    want = {(r["model"], r["term"]): r["p_adjusted"] for r in fam.iter_rows(named=True)}
    rows = bh.filter(pl.col("term").is_not_null())
    for r in rows.iter_rows(named=True):
        assert r["p_adjusted"] == want[(r["model"], r["term"])]
        assert r["p_adjusted"] >= r["p"]
    # Regression for the old no-op: BH over the selected terms only left every p < .05 below
    # .05. Over the family some do not survive.
    assert rows.filter((pl.col("p") < 0.05) & (pl.col("p_adjusted") >= 0.05)).height > 0
    with pytest.raises(Exception, match="--fdr means --adjust bh"):
        sweep(cases, fdr=True, adjust="holm")


def test_cli_adjust_reports_fewer_and_says_how_many(example_store, example_sweep_csv):
    plain = example_sweep_csv  # `regress --all --format csv` on the example store
    holm = runner.invoke(app, ["regress", "--all", "--adjust", "holm", "--format", "csv"])
    assert plain.exit_code == 0 and holm.exit_code == 0, holm.stderr
    a = pl.read_csv(io.StringIO(plain.stdout))
    b = pl.read_csv(io.StringIO(holm.stdout))
    assert "p_adjusted" not in a.columns and "p_adjusted" in b.columns
    n_raw = a.filter(pl.col("p") < 0.05).unique(["model", "term"]).height
    n_adj = b.filter(pl.col("p_adjusted") < 0.05).unique(["model", "term"]).height
    assert n_adj < n_raw
    assert f"{n_adj} of the {n_raw} terms with p < 0.05 have adjusted p < 0.05" in holm.stderr
    human = runner.invoke(app, ["regress", "--all", "--adjust", "bh"])
    assert human.exit_code == 0 and "(BH)" in human.stdout
    assert "Benjamini-Hochberg over the family" in human.stdout
    bad = runner.invoke(app, ["regress", "--all", "--fdr", "--adjust", "holm"])
    assert bad.exit_code == 2 and "--fdr means --adjust bh" in bad.stderr
    bad = runner.invoke(app, ["regress", "--factor", "ete", "--adjust", "bh"])
    assert bad.exit_code == 2 and "--adjust goes with --all" in bad.stderr


def test_report_says_how_many_survive(cases, example_sweep):
    from hmip_cli.report import ReportParams, build_report

    rep = build_report(cases, params=ReportParams(adjust="holm", date="2019-01-31"))
    diffs = rep.table("differences")
    assert [c.header for c in diffs.columns if c.key == "p_adjusted"] == ["p (Holm)"]
    assert any("family-wise error rate" in n for n in diffs.notes)
    fam = adjust_family(example_sweep.family, "holm")
    shown = {k.rsplit("|", 1)[0] for k in diffs.keys}
    sig = fam.filter(pl.col("in_model") & (pl.col("p") < 0.05))
    sig = sig.filter(
        pl.struct("model", "term").map_elements(
            lambda r: f"{r['model']}|{r['term']}" in shown, return_dtype=pl.Boolean
        )
    )
    kept = sig.filter(pl.col("p_adjusted") < 0.05).height
    text = [f.text for f in rep.key_findings if f.text.startswith("After adjusting")]
    assert text == [
        f"After adjusting for the {example_sweep.n_tests:,} tests across every model and variable "
        f"(Holm, controlling the family-wise error rate), {kept} of the {sig.height} significant "
        "differences remain significant at the 5% level.".replace(
            f"{kept} of", f"{number_word(kept)} of"
        ).replace(f"of the {sig.height}", f"of the {number_word(sig.height)}")
    ]
    assert kept < sig.height
    assert rep.provenance.parameters["adjust"] == "holm"
