"""METHOD blocks (issue 11 item 1): --enter, several blocks, BSTEP and ENTER, with SPSS's
Block N omnibus tests, against an independent R implementation.

Reference: `Rscript tests/data/stepwise/blocks.R` (glm to exact convergence; entry score
U'S^-1U computed at the final fit, not add1's lagging weights; LR or Wald removal), its
printed numbers (sprintf("%.12g")) pasted below. Each step: (block, action, term(s),
statistic, df, omnibus step, block, model chi-square); then the final terms, -2LL and
B / S.E. (constant first, then the terms in candidate order). Agreement to 1e-8 relative.
"""

from pathlib import Path

import polars as pl
import pytest

from hmip_cli.errors import BadRequest
from hmip_cli.stepwise import stepwise

DATA = Path(__file__).parent / "data" / "stepwise"
REL = 1e-8

REF = {
    "birthwt": {
        "steps": [
            (1, "enter", "age, lwt", 6.96439605012, 2, 7.54860775611, 7.54860775611, 7.54860775611),
            (2, "enter", "ptd", 13.5813080157, 1, 12.8082212263, 12.8082212263, 20.3568289825),
            (2, "enter", "ht", 7.51561864202, 1, 6.88173848567, 19.689959712, 27.2385674681),
        ],
        "final": ("age", "lwt", "ptd", "ht"),
        "m2ll": 207.433428725,
        "B": [2.04618951397, -0.0564782898144, -0.0153601273128, 1.5289945066, 1.82544395985],
        "SE": [1.07364329276, 0.0353553345163, 0.0068513159487, 0.441278530269, 0.720308410333],
    },
    "pima_bstep": {
        "steps": [
            (
                1,
                "enter",
                "npreg, glu, bp, skin, bmi, ped, age",
                68.691065203,
                7,
                78.0235246864,
                78.0235246864,
                78.0235246864,
            ),
            (
                1,
                "remove",
                "skin",
                0.00722756851764,
                1,
                -0.00722756851764,
                78.0162971179,
                78.0162971179,
            ),
            (1, "remove", "bp", 0.0726247421724, 1, -0.0726247421724, 77.9436723757, 77.9436723757),
            (1, "remove", "npreg", 2.61105081906, 1, -2.61105081906, 75.3326215566, 75.3326215566),
        ],
        "final": ("glu", "bmi", "ped", "age"),
        "m2ll": 181.081569596,
        "B": [-9.97138818349, 0.0312550793826, 0.0770302701977, 1.71979415232, 0.0586029672756],
        "SE": [1.52758698998, 0.00662703858456, 0.032251501997, 0.656087818162, 0.01757376577],
    },
    "infert_wald": {
        "steps": [
            (
                1,
                "enter",
                "age",
                0.0030910935762,
                1,
                0.00309053874622,
                0.00309053874622,
                0.00309053874622,
            ),
            (
                2,
                "enter",
                "education, parity, induced, spontaneous",
                54.0223035878,
                5,
                58.3703300721,
                58.3703300721,
                58.3734206109,
            ),
            (
                2,
                "remove",
                "education",
                3.14654750119,
                2,
                -3.14567728159,
                55.2246527905,
                55.2277433293,
            ),
        ],
        "final": ("age", "parity", "induced", "spontaneous"),
        "m2ll": 260.943367487,
        "B": [-2.85239036765, 0.0531809874821, -0.70883006287, 1.18965621069, 1.92533823778],
        "SE": [1.0042829138, 0.0301415025508, 0.18091393219, 0.289875248412, 0.298630702461],
    },
    "infert_enter": {
        "steps": [
            (
                1,
                "enter",
                "education, age, parity, induced, spontaneous",
                54.0379542948,
                6,
                58.3734206109,
                58.3734206109,
                58.3734206109,
            )
        ],
        "final": ("education", "age", "parity", "induced", "spontaneous"),
        "m2ll": 257.797690206,
        "B": [
            -2.55244162507,
            1.40320508948,
            0.358961505749,
            0.0395820016977,
            -0.828277382293,
            1.28875738094,
            2.04590502168,
        ],
        "SE": [
            1.01721142269,
            0.834166208078,
            0.334181211069,
            0.0312028090693,
            0.196493894263,
            0.301466187146,
            0.310163324875,
        ],
    },
    "pima_3blocks": {
        "steps": [
            (1, "enter", "glu", 45.9226112176, 1, 49.0414521665, 49.0414521665, 49.0414521665),
            (2, "enter", "skin", 4.91560801915, 1, 5.10945963676, 5.10945963676, 54.1509118032),
            (3, "enter", "age", 8.96112785247, 1, 8.77719143262, 8.77719143262, 62.9281032358),
            (3, "enter", "ped", 8.67006064849, 1, 8.84682201374, 17.6240134464, 71.7749252496),
        ],
        "final": ("glu", "skin", "ped", "age"),
        "m2ll": 184.639265903,
        "B": [-8.26415652907, 0.0319792835797, 0.0267790099953, 1.79491286392, 0.0561980141862],
        "SE": [1.17297287108, 0.00657282260818, 0.0172481856583, 0.634392343285, 0.0175277729754],
    },
}


def _runs():
    bw = pl.read_csv(DATA / "birthwt.csv")
    pima = pl.read_csv(DATA / "pima_tr.csv")
    infert = pl.read_csv(DATA / "infert.csv")
    edu = {"education": "12+ yrs"}  # R: contr.treatment(3, base = 3) on 0-5, 6-11, 12+
    yield (
        "birthwt",
        lambda: stepwise(
            bw,
            "low",
            ["age", "lwt", "race", "smoke", "ptd", "ht", "ui"],
            categorical=["race"],
            enter=["age", "lwt"],
        ),
    )
    pima_all = ["npreg", "glu", "bp", "skin", "bmi", "ped", "age"]
    yield "pima_bstep", lambda: stepwise(pima, "type", pima_all, method="bstep")
    inf_c = ["age", "education", "parity", "induced", "spontaneous"]
    yield (
        "infert_wald",
        lambda: stepwise(
            infert,
            "case",
            inf_c,
            categorical=["education"],
            reference=edu,
            removal="wald",
            blocks=[("enter", ["age"]), ("bstep", inf_c[1:])],
        ),
    )
    yield (
        "infert_enter",
        lambda: stepwise(
            infert,
            "case",
            ["education", "age", "parity", "induced", "spontaneous"],
            categorical=["education"],
            reference=edu,
            method="enter",
        ),
    )
    yield (
        "pima_3blocks",
        lambda: stepwise(
            pima,
            "type",
            ["glu", "bp", "skin", "npreg", "bmi", "ped", "age"],
            blocks=[
                ("fstep", ["glu", "bp"]),
                ("enter", ["skin"]),
                ("fstep", [*pima_all[4:], "npreg"]),
            ],
        ),
    )


RUNS = dict(_runs())


@pytest.mark.parametrize("label", sorted(RUNS))
def test_blocks_match_r(label):
    res = RUNS[label]()
    ref = REF[label]
    steps = res.steps[1:]
    assert len(steps) == len(ref["steps"])
    for s, (block, action, term, stat, df, om_step, om_block, om_model) in zip(steps, ref["steps"]):
        assert (s.block, s.action, s.term, s.df) == (block, action, term, df)
        assert s.statistic == pytest.approx(stat, rel=REL)
        assert s.omnibus_step.chi_square == pytest.approx(om_step, rel=REL)
        assert s.omnibus_block.chi_square == pytest.approx(om_block, rel=REL)
        assert s.omnibus_model.chi_square == pytest.approx(om_model, rel=REL)
    assert res.final_terms == ref["final"]
    assert res.final.minus_2ll == pytest.approx(ref["m2ll"], rel=REL)
    params = [c for c in res.final.in_equation if c.kind != "term"]
    params = params[-1:] + params[:-1]  # R prints the constant first
    assert [c.b for c in params] == pytest.approx(ref["B"], rel=REL)
    assert [c.se for c in params] == pytest.approx(ref["SE"], rel=REL)


def test_forced_terms_stay_and_block_omnibus_restarts():
    # birthwt: age is far from significant (p ~ .2) but forced in block 1: never removed.
    res = RUNS["birthwt"]()
    assert res.method == "ENTER; FSTEP(LR)"
    assert [b["terms"] for b in res.blocks] == [
        ["age", "lwt"],
        ["race", "smoke", "ptd", "ht", "ui"],
    ]
    age = next(r for r in res.final.if_removed if r.term == "age")
    assert age.p > 0.10 and "age" in res.final_terms
    # step 0 belongs to block 0; block chi-square of block 2 is measured from step 1's model
    assert res.steps[0].block == 0 and res.steps[0].omnibus_block is None
    s3 = res.steps[3]
    assert s3.omnibus_block.chi_square == pytest.approx(
        res.steps[1].minus_2ll - s3.minus_2ll, rel=1e-12
    )
    assert s3.omnibus_block.df == 2


def test_default_single_fstep_block_is_unchanged():
    pima = pl.read_csv(DATA / "pima_tr.csv")
    cands = ["npreg", "glu", "bp", "skin", "bmi", "ped", "age"]
    a = stepwise(pima, "type", cands)
    b = stepwise(pima, "type", cands, blocks=[("fstep", cands)])
    assert a.to_dict() == b.to_dict()
    assert a.method == "FSTEP(LR)" and all(s.block == 1 for s in a.steps[1:])
    # one block: block chi-square = model chi-square, as before
    assert all(s.omnibus_block == s.omnibus_model for s in a.steps[1:])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"blocks": [("fstep", ["glu"]), ("enter", ["glu", "bp"])]}, "in two METHOD blocks"),
        ({"blocks": [("forward", ["glu", "bp"])]}, "method must be one of"),
        ({"blocks": [("enter", ["glu"])]}, "candidates in no METHOD block: bp"),
        ({"enter": ["nope"]}, "not among the candidates"),
        ({"blocks": [("enter", ["glu", "bp"])], "enter": ["glu"]}, "not both"),
    ],
)
def test_bad_blocks_are_refused(kwargs, message):
    pima = pl.read_csv(DATA / "pima_tr.csv")
    with pytest.raises(BadRequest, match=message):
        stepwise(pima, "type", ["glu", "bp"], **kwargs)


def test_cli_block_and_enter_options(cli, tmp_path):
    from test_json_support import model

    args = ["regress", "--input", str(DATA / "pima_tr.csv"), "--outcome", "type", "-f", "json"]
    r = cli(
        *args,
        "--block",
        "fstep:glu,bp",
        "--block",
        "enter:skin",
        "--block",
        "fstep:bmi,ped,age,npreg",
    )
    assert r.exit_code == 0, r.output
    d = model(r.stdout)
    ref = REF["pima_3blocks"]
    assert [(s["block"], s["term"]) for s in d["steps"]] == [(b, t) for b, _, t, *_ in ref["steps"]]
    assert d["method"] == "FSTEP(LR); ENTER; FSTEP(LR)"
    r = cli(*args, "--candidates", "glu,bp,skin", "--enter", "skin", "--method", "bstep")
    assert r.exit_code == 0, r.output
    d = model(r.stdout)
    assert d["blocks"][0] == {"block": 1, "method": "ENTER", "terms": ["skin"]}
    assert d["blocks"][1]["method"] == "BSTEP(LR)" and "skin" in d["final_terms"]
    r = cli(*args, "--block", "sideways:glu")
    assert r.exit_code == 2 and "--block: expected METHOD:VAR" in r.output
    r = cli(*args, "--candidates", "glu", "--method", "lasso")
    assert r.exit_code == 2 and "--method must be" in r.output
