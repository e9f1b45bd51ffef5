"""Hosmer-Lemeshow blocks are covariate patterns, not equal fitted probabilities (issue 10,
item 6), and a test that cannot be computed says why.

SAS PROC LOGISTIC ("The Hosmer-Lemeshow Goodness-of-Fit Test"): observations with the same
covariate values are never split across groups. Two *different* patterns that happen to
have the same p-hat are two blocks. Below, a + b on a symmetric 2 x 2 design gives patterns
(1,0) and (0,1) the same p-hat; keyed on rounded p-hat (the old code) they were one block of
50 cases (3 groups, df 1); keyed on the pattern they are two (4 groups of 30, 25, 25, 20,
df 2). With every pattern its own group, HL equals the Pearson chi-square of the fit:

    d <- data.frame(a = c(0, 1, 0, 1), b = c(0, 0, 1, 1), n = c(30, 25, 25, 20),
                    e = c(6, 12, 12, 15))
    fit <- glm(cbind(e, n - e) ~ a + b, family = binomial, data = d,
               control = glm.control(epsilon = 1e-14, maxit = 100))
    fitted(fit)   # 0.205339425944746 0.473592688866305 0.473592688866305 0.758009138917119
    x2 <- sum(residuals(fit, type = "pearson")^2)          # 0.0204692457527115
    pchisq(x2, 2, lower.tail = FALSE)                      # 0.989817572657386
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from hmip_cli.stepwise import stepwise
from hmip_cli.stepwise.diagnostics import hosmer_lemeshow


def _symmetric() -> pl.DataFrame:
    rows = []
    for a, b, n, e in ((0, 0, 30, 6), (1, 0, 25, 12), (0, 1, 25, 12), (1, 1, 20, 15)):
        rows += [{"a": a, "b": b, "y": int(i < e)} for i in range(n)]
    return pl.DataFrame(rows)


@pytest.mark.parametrize("collapse", [True, False])
def test_equal_phat_distinct_patterns_are_separate_blocks(collapse):
    r = stepwise(
        _symmetric(),
        "y",
        ["a", "b"],
        categorical=["a", "b"],
        pin=0.99,
        pout=0.995,
        collapse=collapse,
    )
    assert r.final_terms == ("a", "b")
    hl = r.final.hosmer_lemeshow
    assert sorted(g["n"] for g in hl.groups) == [20, 25, 25, 30]
    assert hl.df == 2
    assert hl.chi_square == pytest.approx(0.0204692457527115, rel=1e-8)
    assert hl.p == pytest.approx(0.989817572657386, rel=1e-8)
    assert hl.note is None


def test_without_patterns_equal_phat_merges_as_before():
    # The old keying (p-hat only), kept for callers without patterns: one block of 50.
    p = np.array([0.205339425944746, 0.473592688866305, 0.473592688866305, 0.758009138917119])
    w = np.array([30.0, 25, 25, 20])
    y = np.array([6.0, 12, 12, 15])
    old = hosmer_lemeshow(w, y, p)
    assert [g["n"] for g in old.groups] == [30, 50, 20] and old.df == 1
    pats = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    new = hosmer_lemeshow(w, y, p, patterns=pats)
    assert [g["n"] for g in new.groups] == [30, 25, 25, 20] and new.df == 2


def test_df_zero_says_why():
    frame = pl.DataFrame(
        {"y": [1] * 4 + [0] * 16 + [1] * 14 + [0] * 6, "g": ["a"] * 20 + ["b"] * 20}
    )
    r = stepwise(frame, "y", ["g"], categorical=["g"])
    hl = r.final.hosmer_lemeshow
    assert r.final_terms == ("g",)
    assert hl.chi_square is None and hl.p is None and hl.df == 0
    assert hl.note == (
        "not computed: the cases form only 2 groups (2 covariate patterns in the model), and the "
        "test needs at least 3 (df = groups - 2)"
    )
    d = r.to_dict()["step_details"][-1]["hosmer_lemeshow"]
    assert d["note"] == hl.note
