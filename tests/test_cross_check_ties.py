"""Classification table at the cut when a fitted probability IS the cut (found by the R
cross-check, tests/test_cross_check_example.py: accommodation/contracted, 10 of 20
community cases yes, p-hat = .5 exactly).

A covariate pattern with exactly half events has MLE p-hat = 0.5; computed, it lands a few
ulps either side of 0.5 depending on summation order, so `p > .5` used to decide "event" or
"nonevent" by floating-point noise: the collapsed and row-level paths disagreed on 35 of 300
such data sets below (and R's glm says "event" for the example case). hmip treats
|p-hat - cut| <= 1e-10 as on the cut, and a case on the cut is an event: IBM documents
SPSS's rule as "A case is assigned to a group when the predicted event probability is
greater than or equal to the cutoff value" (LOGISTIC REGRESSION, CRITERIA subcommand, CUT;
https://www.ibm.com/docs/en/spss-statistics/31.0.0?topic=regression-criteria-subcommand-logistic-command).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from hmip_cli.stepwise import stepwise


def _half_data(rng):
    n1 = int(rng.integers(2, 40)) * 2  # group a: exactly half events
    n2 = int(rng.integers(5, 60))
    e2 = int(rng.integers(1, n2))
    if 2 * e2 == n2:  # both groups at .5: the factor has score 0 and never enters
        e2 += 1
    y = [1] * (n1 // 2) + [0] * (n1 // 2) + [1] * e2 + [0] * (n2 - e2)
    return pl.DataFrame({"y": y, "g": ["a"] * n1 + ["b"] * n2}), n1, n2, e2


def test_half_events_pattern_is_predicted_event_on_both_paths():
    rng = np.random.default_rng(0)
    for _ in range(150):
        frame, n1, n2, e2 = _half_data(rng)
        tables = []
        for collapse in (True, False):
            r = stepwise(
                frame, "y", ["g"], categorical=["g"], pin=0.999998, pout=0.999999, collapse=collapse
            ).to_dict()
            assert r["final_terms"] == ["g"]
            tables.append(r["step_details"][-1]["classification"])
        assert tables[0] == tables[1]
        c = tables[0]
        # group a (p-hat = .5 = the cut) is predicted event (p-hat >= cut); group b is
        # predicted event iff e2/n2 > .5 (never equal: excluded above)
        b_event = 2 * e2 > n2
        assert c["nonevent_predicted_event"] + c["event_predicted_event"] == n1 + (
            n2 if b_event else 0
        ), (n1, n2, e2, c)


def test_cut_tolerance_does_not_move_clear_cases():
    # 11 of 20 (p-hat .55) is an event, 9 of 20 (.45) is not: the tolerance is only for ties
    frame = pl.DataFrame(
        {"y": [1] * 11 + [0] * 9 + [1] * 9 + [0] * 11, "g": ["a"] * 20 + ["b"] * 20}
    )
    r = stepwise(frame, "y", ["g"], categorical=["g"], pin=0.99, pout=0.995).to_dict()
    c = r["step_details"][-1]["classification"]
    assert (c["event_predicted_event"], c["nonevent_predicted_event"]) == (11, 9)
    assert (c["event_predicted_nonevent"], c["nonevent_predicted_nonevent"]) == (9, 11)


def test_cut_boundary_is_an_event_for_any_cut():
    # Group a: 11 of 20 (p-hat .55 exactly), group b: 9 of 20 (.45). With --cut .55, a is on
    # the cut and so an event (p-hat >= cut); b is not. With --cut .45 both are events. With
    # the old rule (p-hat > cut) a would have been a nonevent at .55 and b at .45.
    frame = pl.DataFrame(
        {"y": [1] * 11 + [0] * 9 + [1] * 9 + [0] * 11, "g": ["a"] * 20 + ["b"] * 20}
    )
    for cut, predicted_event in ((0.55, 20), (0.45, 40), (0.5500001, 0)):
        for collapse in (True, False):
            r = stepwise(
                frame,
                "y",
                ["g"],
                categorical=["g"],
                pin=0.99,
                pout=0.995,
                cut=cut,
                collapse=collapse,
            )
            c = r.final.classification
            assert c.cut == cut
            assert c.nonevent_predicted_event + c.event_predicted_event == predicted_event, cut


def test_cli_cut_option_and_title(tmp_path):
    from typer.testing import CliRunner

    from hmip_cli.cli.app import app

    frame = pl.DataFrame(
        {"y": [1] * 11 + [0] * 9 + [1] * 9 + [0] * 11, "g": ["a"] * 20 + ["b"] * 20}
    )
    path = tmp_path / "cut.csv"
    frame.write_csv(path)
    args = ["regress", "--input", str(path), "--outcome", "y", "--candidates", "g"]
    r = CliRunner().invoke(app, [*args, "--pin", "0.99", "--pout", "0.995", "--cut", "0.55"])
    assert r.exit_code == 0, r.stderr
    assert "Classification Table (cut value .550)" in r.stdout
    r = CliRunner().invoke(app, [*args, "--cut", "1.5"])
    assert r.exit_code == 2 and "cut" in r.stderr
