"""SPSS's iteration history (/PRINT=ITER; issue 11 item 6): -2LL and every B after each
Newton-Raphson iteration of each step's model, Block 0 from B = 0, models with predictors
from SPSS's start (constant = logit(ȳ), the rest 0).

Reference: `Rscript tests/data/stepwise/iteration_history.R`, an independent Newton-Raphson
in R from the same starts, stopped by SPSS's BCON rule (every |ΔB| < .001), each iterate
checked in R against glm.fit from the same start stopped after k iterations
(glm(start =, control = glm.control(maxit = k))). Published SPSS output: the iteration
counts SPSS printed for the three examples GNU PSPP's logistic.at transcribes ("Estimation
terminated at iteration number 6 / 4 / 5", tests/test_stepwise_spss_iteration.py) are the
lengths of the Block 1 histories, and their last rows are SPSS's printed B.
"""

from pathlib import Path

import polars as pl
import pytest
from test_json_support import model
from test_stepwise_spss_iteration import PUBLISHED, spss

from hmip_cli.stepwise import stepwise

DATA = Path(__file__).parent / "data"

# Rscript tests/data/stepwise/iteration_history.R: (initial -2LL, [(iteration, -2LL, (B...))])
# admissions Block 0 (SPSS rule)
AD_BLOCK0 = (554.517744447956, [
    (1, 500.084891834134, (-0.73,)),
    (2, 499.976521747013, (-0.76506479280003,)),
    (3, 499.976517554915, (-0.765284699901891,)),
])  # fmt: skip
# admissions Block 1 ENTER gre gpa rank (SPSS rule); Constant, gre, gpa, rank(1..3)
AD_BLOCK1 = (499.976517554915, [
    (1, 459.328917148175, (-4.91601160345763, 0.00198239197419839, 0.71776424026037, 1.49070458002382, 0.741419705039316, 0.14977767381906)),
    (2, 458.519102628114, (-5.50891313051436, 0.00224978357643496, 0.799749211496458, 1.54313623867545, 0.867540047352707, 0.206066668910065)),
    (3, 458.517492488616, (-5.54135945572047, 0.00226439084000347, 0.804028179228215, 1.55143415380981, 0.875991629972665, 0.211236983184559)),
    (4, 458.517492475899, (-5.5414427496112, 0.0022644257859527, 0.804037549225818, 1.55146367660524, 0.87602074864448, 0.211259760168074)),
])  # fmt: skip
# admissions Block 1, 7 plain Newton iterations (rows 5-7)
AD_MORE = [
    (5, 458.517492475899, (-5.54144275024912, 0.00226442578617916, 0.804037549280226, 1.55146367691807, 0.876020748954509, 0.211259760450181)),
    (6, 458.517492475899, (-5.54144275024913, 0.00226442578617916, 0.804037549280228, 1.55146367691807, 0.876020748954509, 0.21125976045018)),
]  # fmt: skip
# birthwt: /METHOD=ENTER race /METHOD=FSTEP(LR) lwt smoke ptd ht ui, each step's model
BW = [
    (262.009634251659, [
        (1, 234.732986360939, (-0.751322751322751,)),
        (2, 234.671999180998, (-0.789725675099685,)),
        (3, 234.671996193218, (-0.789996992724957,)),
    ]),
    (234.671996193218, [
        (1, 229.685456809957, (-0.506068539368167, -0.621978499776221, 0.232594449276032)),
        (2, 229.661630848646, (-0.518773592955125, -0.636006176772075, 0.208713948884502)),
        (3, 229.661630183082, (-0.518793793363403, -0.636171422900198, 0.208638865757811)),
    ]),
    (234.671996193218, [
        (1, 217.227797409799, (-0.786695470389953, -0.569848149742659, 0.272170042112438, 1.56683369820496)),
        (2, 217.022686993989, (-0.800532129985965, -0.627924900690713, 0.264827193765425, 1.47501591390078)),
        (3, 217.022634706016, (-0.800649491367275, -0.629353780552947, 0.264959305486321, 1.47742902819135)),
        (4, 217.022634706006, (-0.800649493257206, -0.629354536978013, 0.264959366708818, 1.47742988470145)),
    ]),
    (234.671996193218, [
        (1, 211.362906073428, (-0.892272052119969, -0.86859847734451, 0.101454914694021, 0.804284574314816, 1.35201837188274)),
        (2, 210.903165966145, (-0.937780046442377, -1.02244525773739, 0.062714496773716, 0.92563493221446, 1.28124765675133)),
        (3, 210.902298098883, (-0.939848914006274, -1.03107736481215, 0.061009552086743, 0.932647267949309, 1.28454999034843)),
        (4, 210.902298092176, (-0.939853986976109, -1.03110225062432, 0.0610045013298623, 0.932667436359925, 1.28455831060984)),
    ]),
    (234.671996193218, [
        (1, 207.741712039809, (-0.963107482901471, -0.854635850312733, 0.0356667122017554, 0.791479547639633, 1.35091055287821, 1.22823200262931)),
        (2, 207.16623300051, (-1.01871623039185, -1.03196993748692, -0.0114947046936941, 0.929316871214189, 1.30188272760926, 1.22489230255998)),
        (3, 207.164621082912, (-1.02186348945371, -1.04382061384133, -0.0141619036807626, 0.938861000593032, 1.30588088447476, 1.22940877416472)),
        (4, 207.164621058271, (-1.02187485063202, -1.04386829966497, -0.0141726217905106, 0.938899457454967, 1.30589693824801, 1.22942618202573)),
    ]),
    (234.671996193218, [
        (1, 201.641263149554, (0.593292169817559, -0.670045344036166, 0.37529871703801, -0.0128831812886313, 0.708952524413206, 1.25598177323566, 1.5893204136635)),
        (2, 200.492428481792, (0.915733653723648, -0.845011903009589, 0.396257411212822, -0.016298055610866, 0.858581063052752, 1.2265682894338, 1.74544880790436)),
        (3, 200.482253782793, (0.958288263994117, -0.863974952290629, 0.399510358996612, -0.0167236856074203, 0.875921073697057, 1.23137549331128, 1.76719026167233)),
        (4, 200.482252564191, (0.958795749726007, -0.864176309922847, 0.399548073011952, -0.0167286728423568, 0.876106281256638, 1.23143672762032, 1.76744243915161)),
    ]),
]  # fmt: skip


def _admissions() -> pl.DataFrame:
    return pl.read_csv(
        DATA / "spss" / "admissions.txt",
        separator=" ",
        has_header=False,
        new_columns=["gre", "gpa", "rank", "admit"],
    )


def _same(h, want, rel=1e-9):
    initial, rows = want
    assert h.initial_minus_2ll == pytest.approx(initial, rel=1e-12)
    assert len(h.rows) == len(rows)
    for (i, m2, b), (wi, wm2, wb) in zip(h.rows, rows):
        assert i == wi
        assert m2 == pytest.approx(wm2, rel=1e-12)
        assert b == pytest.approx(wb, rel=rel, abs=1e-12)


def test_spss_mode_admissions_block0_and_block1_match_r():
    res = stepwise(
        _admissions(), "admit", ["gre", "gpa", "rank"], categorical=["rank"],
        method="enter", iterate="spss", history=True,
    )  # fmt: skip
    h0, h1 = (s.iteration_history for s in res.steps)
    assert h0.parameters == ("Constant",) and h0.start == (0.0,)
    _same(h0, AD_BLOCK0)
    assert h1.parameters == ("Constant", "gre", "gpa", "rank(1)", "rank(2)", "rank(3)")
    _same(h1, AD_BLOCK1)
    assert h1.note == (
        "Estimation terminated at iteration number 4 because parameter estimates changed by "
        "less than .001."
    )
    # the last row is the reported model (SPSS prints its estimates)
    b = [c.b for c in res.final.in_equation if c.kind != "term"]
    assert list(h1.rows[-1][2]) == pytest.approx([*b[-1:], *b[:-1]], rel=1e-14)


def test_spss_mode_every_step_of_a_blocked_stepwise_run_matches_r():
    bw = pl.read_csv(DATA / "stepwise" / "birthwt.csv")
    res = stepwise(
        bw, "low", ["race", "lwt", "smoke", "ptd", "ht", "ui"], categorical=["race"],
        enter=["race"], iterate="spss", history=True,
    )  # fmt: skip
    assert [s.terms for s in res.steps] == [
        (), ("race",), ("race", "ptd"), ("race", "smoke", "ptd"),
        ("race", "smoke", "ptd", "ht"), ("race", "lwt", "smoke", "ptd", "ht"),
    ]  # fmt: skip
    for s, want in zip(res.steps, BW):
        _same(s.iteration_history, want)
        assert s.iteration_history.rows[-1][1] == pytest.approx(s.minus_2ll, rel=1e-14)


def test_exact_mode_continues_the_same_iterations_to_the_exact_maximum():
    res = stepwise(
        _admissions(), "admit", ["gre", "gpa", "rank"], categorical=["rank"],
        method="enter", history=True,
    )  # fmt: skip
    h = res.steps[1].iteration_history
    rows = [*AD_BLOCK1[1], *AD_MORE]
    assert len(h.rows) == 6
    _same(h, (AD_BLOCK1[0], rows[: len(h.rows)]), rel=1e-9)
    assert "1e-11" in h.note and h.converged
    b = {c.parameter: c.b for c in res.final.in_equation if c.kind != "term"}
    assert list(h.rows[-1][2]) == pytest.approx([b[p] for p in h.parameters], rel=1e-12)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_history_length_and_last_row_are_what_spss_printed(name):
    """Published: SPSS's iteration count and printed B (PSPP logistic.at transcriptions)."""
    build, iterations, _, rows, _ = PUBLISHED[name]
    frame, y, cands, cat = build()
    res = stepwise(frame, y, cands, categorical=cat, method="enter", iterate="spss", history=True)
    h = res.steps[-1].iteration_history
    assert len(h.rows) == iterations
    published_b = {r[0].replace("ses(1)", "ses(a)"): r[1] for r in rows if r[1]}
    last = dict(zip(h.parameters, h.rows[-1][2]))
    assert {p: spss(b) for p, b in last.items()} == published_b


def test_without_history_nothing_is_recorded():
    res = stepwise(_admissions(), "admit", ["gre", "gpa"], method="enter")
    assert all(s.iteration_history is None for s in res.steps)
    assert "iteration_history" not in res.to_dict()["step_details"][1]


def test_cli_prints_iteration_history_tables_and_json(cli):
    args = [
        "regress", "--input", str(DATA / "stepwise" / "birthwt.csv"), "--outcome", "low",
        "--candidates", "race,lwt,smoke,ptd,ht,ui", "--categorical", "race", "--enter", "race",
        "--iterate", "spss", "--print-iterations",
    ]  # fmt: skip
    r = cli(*args)
    assert r.exit_code == 0, r.output
    assert r.stdout.count("Iteration History") == 6
    assert "Initial -2 Log Likelihood: 262.010 (every B = 0)." in r.stdout
    assert "Initial -2 Log Likelihood: 234.672 (constant = logit" in r.stdout
    r = cli(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    details = model(r.stdout)["step_details"]
    h = details[5]["iteration_history"]
    assert h["parameters"] == ["Constant", "race(1)", "race(2)", "lwt", "smoke", "ptd", "ht"]
    assert [it["minus_2ll"] for it in h["iterations"]] == pytest.approx(
        [row[1] for row in BW[5][1]], rel=1e-12
    )


def test_cli_refuses_print_iterations_with_all(cli):
    r = cli("regress", "--all", "--print-iterations")
    assert r.exit_code == 2 and "--print-iterations" in r.output
