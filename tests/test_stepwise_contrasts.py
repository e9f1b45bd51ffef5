"""SPSS /CONTRAST codings (issue 11 item 2): B and S.E. against R's contr.* functions mapped
to SPSS's definitions (the mapping is at the top of tests/data/stepwise/contrasts.R and in
docs/stepwise.md, "Contrasts"); the step path does not depend on the contrast.

Reference: `Rscript tests/data/stepwise/contrasts.R` (glm to exact convergence, printed with
sprintf("%.12g")): MASS::birthwt low ~ lwt + race (3 levels) and datasets::esoph
case ~ agegp (6 levels, one row per person). Coefficients: constant first, as R prints them.
"""

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from hmip_cli.errors import BadRequest
from hmip_cli.stepwise import stepwise
from hmip_cli.stepwise.contrasts import coding

DATA = Path(__file__).parent / "data"
REL = 1e-8

REF = {
    ("birthwt", "deviation"): {
        "B": [1.32630995371, -0.0152231023728, -0.520556483268, 0.560509706845],
        "SE": [0.844275199689, 0.00643936054099, 0.228961811297, 0.310410999021],
    },
    ("birthwt", "difference"): {
        "B": [1.32630995371, -0.0152231023728, 1.08106619011, -0.0599298353649],
        "SE": [0.844275199689, 0.00643936054099, 0.488052190654, 0.365464950782],
    },
    ("birthwt", "helmert"): {
        "B": [1.32630995371, -0.0152231023728, -0.780834724903, 0.600462930421],
        "SE": [0.844275199689, 0.00643936054099, 0.343442716945, 0.508930821794],
    },
    ("birthwt", "indicator"): {
        "B": [1.28635673013, -0.0152231023728, -0.480603259692, 0.600462930421],
        "SE": [0.796573101525, 0.00643936054099, 0.3566737298, 0.508930821794],
    },
    ("birthwt", "indicator_first"): {
        "B": [0.805753470439, -0.0152231023728, 1.08106619011, 0.480603259692],
        "SE": [0.845166693333, 0.00643936054099, 0.488052190654, 0.3566737298],
    },
    ("birthwt", "polynomial"): {
        "B": [1.32630995371, -0.0152231023728, 0.339837823988, -0.686481388824],
        "SE": [0.844275199689, 0.00643936054099, 0.252206413013, 0.380174279075],
    },
    ("birthwt", "repeated"): {
        "B": [1.32630995371, -0.0152231023728, -1.08106619011, 0.600462930421],
        "SE": [0.844275199689, 0.00643936054099, 0.488052190654, 0.508930821794],
    },
    ("birthwt", "simple"): {
        "B": [1.32630995371, -0.0152231023728, -0.480603259692, 0.600462930421],
        "SE": [0.844275199689, 0.00643936054099, 0.3566737298, 0.508930821794],
    },
    ("esoph", "deviation"): {
        "B": [
            -1.89841370718,
            -2.84651842118,
            -1.15138578764,
            0.609061291254,
            1.11715925911,
            1.2423077983,
        ],
        "SE": [
            0.190669579565,
            0.841913687196,
            0.337546640593,
            0.234178688532,
            0.221681940295,
            0.234020103557,
        ],
    },
    ("esoph", "difference"): {
        "B": [
            -1.89841370718,
            1.69513263354,
            2.60801339567,
            2.24677356497,
            1.81022871292,
            1.23525103219,
        ],
        "SE": [
            0.190669579565,
            1.06069313243,
            0.555872858378,
            0.383758459287,
            0.317591675133,
            0.396440330093,
        ],
    },
    ("esoph", "helmert"): {
        "B": [
            -1.89841370718,
            -3.41582210542,
            -2.15086183985,
            -0.520553014603,
            -0.0186825701186,
            0.212931938144,
        ],
        "SE": [
            0.190669579565,
            1.01029642463,
            0.357569431325,
            0.212269038536,
            0.231043765537,
            0.36986067902,
        ],
    },
    ("esoph", "indicator"): {
        "B": [
            -0.869037847024,
            -3.87589428134,
            -2.1807616478,
            -0.420314568904,
            0.0877833989534,
            0.212931938144,
        ],
        "SE": [
            0.330425697305,
            1.05729692784,
            0.474926742188,
            0.370011210406,
            0.358278010156,
            0.36986067902,
        ],
    },
    ("esoph", "indicator_first"): {
        "B": [
            -4.74493212836,
            1.69513263354,
            3.45557971244,
            3.96367768029,
            4.08882621948,
            3.87589428134,
        ],
        "SE": [
            1.00433841516,
            1.06069313243,
            1.01804852859,
            1.01384300722,
            1.0179938274,
            1.05729692784,
        ],
    },
    ("esoph", "polynomial"): {
        "B": [
            -1.89841370718,
            3.23532250543,
            -1.75463735765,
            0.0440672674538,
            0.257494440621,
            -0.189712587953,
        ],
        "SE": [
            0.190669579565,
            0.646857672918,
            0.585961320619,
            0.445676630352,
            0.304808125871,
            0.193223928207,
        ],
    },
    ("esoph", "repeated"): {
        "B": [
            -1.89841370718,
            -1.69513263354,
            -1.7604470789,
            -0.508097967857,
            -0.125148539191,
            0.212931938144,
        ],
        "SE": [
            0.190669579565,
            1.06069313243,
            0.379606932751,
            0.216585192267,
            0.216327926002,
            0.36986067902,
        ],
    },
    ("esoph", "simple"): {
        "B": [
            -1.89841370718,
            -3.87589428134,
            -2.1807616478,
            -0.420314568904,
            0.0877833989534,
            0.212931938144,
        ],
        "SE": [
            0.190669579565,
            1.05729692784,
            0.474926742188,
            0.370011210406,
            0.358278010156,
            0.36986067902,
        ],
    },
}


def _run(data: str, kind: str):
    contrast = "indicator" if kind == "indicator_first" else kind
    reference = "first" if kind == "indicator_first" else "last"
    if data == "birthwt":
        frame = pl.read_csv(DATA / "stepwise" / "birthwt.csv")
        return stepwise(
            frame, "low", ["lwt", "race"], categorical=["race"], method="enter",
            contrast={"race": contrast}, reference=reference,
        )  # fmt: skip
    frame = pl.read_csv(DATA / "cross_check" / "esoph.csv")
    return stepwise(
        frame, "case", ["agegp"], method="enter", contrast={"agegp": contrast}, reference=reference
    )


@pytest.mark.parametrize("data, kind", sorted(REF))
def test_b_and_se_match_r_contrasts(data, kind):
    r = _run(data, kind)
    params = [c for c in r.final.in_equation if c.kind != "term"]
    params = params[-1:] + params[:-1]
    assert [c.b for c in params] == pytest.approx(REF[(data, kind)]["B"], rel=REL, abs=1e-12)
    assert [c.se for c in params] == pytest.approx(REF[(data, kind)]["SE"], rel=REL)


def test_codings_are_spss_tables():
    # SPSS's Categorical Variables Codings for 3 levels (reference = last where it applies)
    expect = {
        "simple": [[2 / 3, -1 / 3], [-1 / 3, 2 / 3], [-1 / 3, -1 / 3]],
        "deviation": [[1, 0], [0, 1], [-1, -1]],
        "helmert": [[2 / 3, 0], [-1 / 3, 0.5], [-1 / 3, -0.5]],
        "difference": [[-0.5, -1 / 3], [0.5, -1 / 3], [0, 2 / 3]],
        "repeated": [[2 / 3, 1 / 3], [-1 / 3, 1 / 3], [-1 / 3, -2 / 3]],
        "polynomial": [[-(0.5**0.5), 6**-0.5], [0, -2 * 6**-0.5], [0.5**0.5, 6**-0.5]],
        "indicator": [[1, 0], [0, 1], [0, 0]],
    }
    for kind, c in expect.items():
        assert coding(kind, 3, 2) == pytest.approx(np.array(c), abs=1e-12), kind


def test_step_path_does_not_depend_on_the_contrast():
    frame = pl.read_csv(DATA / "cross_check" / "esoph.csv")
    runs = [
        stepwise(frame, "case", ["agegp", "alcgp", "tobgp"], contrast={"agegp": k, "alcgp": k})
        for k in ("indicator", "deviation", "helmert", "polynomial")
    ]
    paths = {tuple((s.action, s.term, round(s.statistic, 8)) for s in r.steps[1:]) for r in runs}
    assert len(paths) == 1
    assert len({round(r.final.minus_2ll, 8) for r in runs}) == 1


def test_bad_contrast_is_refused():
    frame = pl.read_csv(DATA / "stepwise" / "birthwt.csv")
    with pytest.raises(BadRequest, match="unknown contrast"):
        stepwise(frame, "low", ["race"], categorical=["race"], contrast={"race": "sum"})
    with pytest.raises(BadRequest, match="non-categorical"):
        stepwise(frame, "low", ["lwt"], contrast={"lwt": "helmert"})


def test_cli_contrast_option(cli):
    from test_json_support import model

    r = cli(
        "regress", "--input", str(DATA / "stepwise" / "birthwt.csv"), "--outcome", "low",
        "--candidates", "lwt,race", "--categorical", "race", "--contrast", "race=repeated",
        "--method", "enter", "-f", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    d = model(r.stdout)
    assert d["codings"][0]["contrast"] == "repeated"
    b = [c["b"] for c in d["coefficients"] if c["kind"] != "term"]
    assert b[-1:] + b[:-1] == pytest.approx(REF[("birthwt", "repeated")]["B"], rel=REL)
    r = cli(
        "regress", "--input", str(DATA / "stepwise" / "birthwt.csv"), "--outcome", "low",
        "--candidates", "race", "--categorical", "race", "--contrast", "race",
    )  # fmt: skip
    assert r.exit_code == 2 and "--contrast: expected VAR=KIND" in r.output
