"""Cluster-robust (CR1) standard errors for the final model (issue 10, item 4).

References: R sandwich::vcovCL(fit, cluster = ~g, type = "HC1") (tests/data/robust/reference.R,
numbers pasted below) and statsmodels GLM(...).fit(cov_type="cluster") (computed here on
the case-level data), both to 1e-8 relative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from test_json_support import model
from typer.testing import CliRunner

from hmip_cli import store
from hmip_cli.cli.app import app
from hmip_cli.stepwise import stepwise
from hmip_cli.stepwise.robust import cluster_robust
from hmip_cli.stepwise.sweeps import candidate_columns, targets

DATA = Path(__file__).parent / "data" / "robust"
runner = CliRunner()


def close(a, b, rel=1e-8):
    assert a == pytest.approx(b, rel=rel), (a, b)


@pytest.fixture(scope="module")
def thinking(_example_store_dir):
    cases = store.load_cases(_example_store_dir)
    t = next(t for t in targets(everything=True) if t.model == "thinking/delivery")
    cols = candidate_columns()
    app_ = cases.filter(pl.col(t.column).is_not_null())
    return app_, stepwise(app_, t.column, cols, categorical=cols), t, cols


def test_thinking_delivery_against_r_vcovcl(thinking):
    frame, res, t, cols = thinking
    # the data R read are these cases (written from the store for reference.R)
    ref = pl.read_csv(DATA / "thinking_delivery.csv")
    got = frame.select([t.column, *cols, "inspection"]).drop_nulls([t.column, *cols])
    assert got.height == ref.height == res.n
    assert got.with_columns(pl.col(t.column).cast(pl.Int64)).rows() == ref.rows()
    cr = cluster_robust(frame, res, "inspection")
    assert res.final_terms == ("age_group", "ogrs_group")
    assert cr.n_clusters == 14 and cr.n == res.n
    se = {r.parameter: r.se_robust for r in cr.rows}
    b = {r.parameter: r.b for r in cr.rows}
    # R: sqrt(diag(vcovCL(fit, cluster = ~inspection, type = "HC1")))
    close(se["Constant"], 0.168639515181296)
    close(se["age_group(under_30)"], 0.124701408214247)
    close(se["ogrs_group(low_medium)"], 0.231516988955915)
    close(b["age_group(under_30)"], -0.751191153909771)
    close(b["ogrs_group(low_medium)"], 0.656931013133854)
    # fewer than 20 clusters: said
    assert "only 14 clusters" in cr.warning and "too small" in cr.warning


def test_thinking_delivery_against_statsmodels(thinking):
    frame, res, t, cols = thinking
    d = frame.drop_nulls([t.column, *cols])
    X = np.column_stack(
        [
            np.ones(d.height),
            (d["age_group"] == "under_30").cast(pl.Float64).to_numpy(),
            (d["ogrs_group"] == "low_medium").cast(pl.Float64).to_numpy(),
        ]
    )
    yv = d[t.column].cast(pl.Float64).to_numpy()
    groups = np.unique(d["inspection"].to_numpy(), return_inverse=True)[1]
    sm_fit = sm.GLM(yv, X, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": groups}, tol=1e-14
    )
    cr = cluster_robust(frame, res, "inspection")
    rows = {r.parameter: r for r in cr.rows}
    order = ["Constant", "age_group(under_30)", "ogrs_group(low_medium)"]
    for i, name in enumerate(order):
        close(rows[name].se_robust, sm_fit.bse[i])
        close(rows[name].p, sm_fit.pvalues[i], rel=1e-7)
        if name != "Constant":
            lo, hi = np.exp(sm_fit.conf_int()[i])
            close(rows[name].ci_low, lo)
            close(rows[name].ci_high, hi)


def test_infert_three_level_term_against_r():
    inf = pl.read_csv(DATA / "infert.csv")
    cands = ["education", "spontaneous", "induced", "age", "parity"]
    res = stepwise(inf, "case", cands, categorical=["education"], pin=0.5, pout=0.6)
    assert set(res.final_terms) == set(cands)
    cr = cluster_robust(inf, res, "stratum")
    assert cr.n_clusters == 83 and cr.warning is None
    se = {r.parameter: r.se_robust for r in cr.rows}
    # R: sqrt(diag(vcovCL(fit2, cluster = ~stratum, type = "HC1"))), education base "6-11yrs"
    close(se["Constant"], 0.6452511922572887)
    close(se["education(0-5yrs)"], 0.5421857496007686)
    close(se["education(12+ yrs)"], 0.1823305798043664)
    close(se["spontaneous"], 0.3508021231090792)
    close(se["induced"], 0.3186649255167193)
    close(se["age"], 0.0166790336093126)
    close(se["parity"], 0.1936287321107658)
    # joint robust Wald test of education's two indicators (R: t(b) %*% solve(v2[2:3, 2:3]) %*% b)
    chi, df, p = cr.terms["education"]
    assert df == 2
    close(chi, 6.9866643881153294)
    close(p, 0.0303994064917675)


def test_cli_cluster_json_and_table(tmp_path):
    args = ["regress", "--input", str(DATA / "infert.csv"), "--outcome", "case"]
    args += ["--candidates", "education,spontaneous,induced", "--categorical", "education"]
    args += ["--method", "enter"]  # all three in the model (SPSS ENTER)
    r = runner.invoke(app, [*args, "--cluster", "stratum", "--format", "json"])
    assert r.exit_code == 0, r.stderr
    got = model(r.stdout)["cluster_robust"]
    assert got["n_clusters"] == 83 and got["estimator"] == "CR1"
    assert {t["term"] for t in got["terms"]} == {"education", "spontaneous", "induced"}
    r = runner.invoke(app, [*args, "--cluster", "stratum"])
    assert r.exit_code == 0 and "cluster-robust standard errors" in r.stdout
    r = runner.invoke(app, [*args, "--cluster", "nope"])
    assert r.exit_code == 2 and "cluster column 'nope' not found" in r.stderr
    bad = inf_with_missing_cluster(tmp_path)
    r = runner.invoke(
        app,
        [
            "regress",
            "--input",
            str(bad),
            "--outcome",
            "case",
            "--candidates",
            "spontaneous",
            "--cluster",
            "stratum",
        ],
    )
    assert r.exit_code == 1 and "missing for 1 of the" in r.stderr


def inf_with_missing_cluster(tmp_path) -> Path:
    inf = pl.read_csv(DATA / "infert.csv")
    inf = inf.with_columns(
        stratum=pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("stratum"))
    )
    path = tmp_path / "inf.csv"
    inf.write_csv(path)
    return path
