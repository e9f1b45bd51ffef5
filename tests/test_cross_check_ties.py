"""Classification table at the cut when a fitted probability IS the cut (found by the R
cross-check, tests/test_cross_check_example.py: accommodation/contracted, 10 of 20
community cases yes, p-hat = .5 exactly).

A covariate pattern with exactly half events has MLE p-hat = 0.5; computed, it lands a few
ulps either side of 0.5 depending on summation order, so `p > .5` used to decide "event" or
"nonevent" by floating-point noise: the collapsed and row-level paths disagreed on 35 of 300
such data sets below (and R's glm says "event" for the example case). SPSS's rule is
p-hat > cut, so p-hat = cut is a nonevent; hmip now treats |p-hat - cut| <= 1e-10 as on it.
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


def test_half_events_pattern_is_predicted_nonevent_on_both_paths():
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
        # group a (p-hat = .5) is predicted nonevent; group b is predicted event iff e2/n2 > .5
        b_event = 2 * e2 > n2
        assert c["nonevent_predicted_event"] + c["event_predicted_event"] == (
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
