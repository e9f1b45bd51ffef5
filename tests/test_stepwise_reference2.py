"""Reference checks on data the engine was not tuned on: MASS::Pima.tr, datasets::infert
(LR and Wald removal, a 3-level factor) and datasets::mtcars (near-separated: a converged
fit with a case at |eta| = 26 that the old 1e-9 rule called separation).

Every number below was printed by `Rscript tests/data/stepwise/reference.R` (R 4.2.2,
glm.control(epsilon = 1e-14, maxit = 100), sprintf("%.12g")), blocks "Pima.tr", "infert",
"infert, Wald removal" and "mtcars": the R function `fstep()` runs SPSS's FSTEP sequence by
hand with add1(test = "Rao") for entry and drop1(test = "LRT") or b' V^-1 b (Wald, the
term's block of vcov(); z^2 for one df) for removal. Per step: coef = (B, S.E.) of the model
after the step, loglik, removal = (statistic, p) of every term in that model, scores =
(score, df, p) of every term outside it. R's coefficient names are mapped to ours in
`R_NAMES`. Tolerance: 1e-6 relative.
"""

from pathlib import Path

import polars as pl
import pytest

from hmip_cli.stepwise import stepwise

DATA = Path(__file__).parent / "data" / "stepwise"
REL = 1e-6
R_NAMES = {
    "(Intercept)": "Constant",
    "education1": "education(0-5yrs)",
    "education2": "education(12+ yrs)",
    "cyl1": "cyl(4)",
    "cyl2": "cyl(6)",
}

PIMA = [
    {
        "action": "start",
        "term": None,
        "coef": {"(Intercept)": (-0.66329421741, 0.149270358507)},
        "scores": {
            "npreg": (14.6975262686, 1, 0.000126211960937),
            "glu": (45.9226112176, 1, 1.23017841472e-11),
            "bp": (8.70394485639, 1, 0.00317522153675),
            "skin": (11.4726784455, 1, 0.000706268176573),
            "bmi": (15.8557769626, 1, 6.83575373255e-05),
            "ped": (8.47568892887, 1, 0.00359924048598),
            "age": (26.7762541906, 1, 2.28427058692e-07),
        },
        "removal": {},
        "loglik": -128.207095576,
    },
    {
        "action": "enter",
        "term": "glu",
        "coef": {
            "(Intercept)": (-5.50363573818, 0.836079651069),
            "glu": (0.0377837183162, 0.00627753427692),
        },
        "scores": {
            "npreg": (8.45441318125, 1, 0.00364158725121),
            "bp": (1.45471358928, 1, 0.227773120594),
            "skin": (4.91560801917, 1, 0.0266150938893),
            "bmi": (8.69615951815, 1, 0.00318881201193),
            "ped": (8.09759629811, 1, 0.00443240005812),
            "age": (10.3525958967, 1, 0.0012929273846),
        },
        "removal": {"glu": (49.0414521665, 2.50609966439e-12)},
        "loglik": -103.686369493,
    },
    {
        "action": "enter",
        "term": "age",
        "coef": {
            "(Intercept)": (-6.59059676825, 0.95028791848),
            "glu": (0.0328603852029, 0.00637480282446),
            "age": (0.0522946498411, 0.0167960918028),
        },
        "scores": {
            "npreg": (1.57172232679, 1, 0.209957066323),
            "bp": (0.00869837359653, 1, 0.925692979858),
            "skin": (3.57627690917, 1, 0.0586103719769),
            "bmi": (8.5341876556, 1, 0.0034853685315),
            "ped": (9.91549646675, 1, 0.00163892921247),
        },
        "removal": {
            "glu": (32.8298027476, 1.00590776392e-08),
            "age": (10.2670291547, 0.00135428702637),
        },
        "loglik": -98.5528549156,
    },
    {
        "action": "enter",
        "term": "ped",
        "coef": {
            "(Intercept)": (-7.70600082935, 1.08230555744),
            "glu": (0.0329034654218, 0.00661714280948),
            "age": (0.0590025624938, 0.0175059296072),
            "ped": (1.86911733052, 0.626145639486),
        },
        "scores": {
            "npreg": (2.37495028445, 1, 0.123295523123),
            "bp": (0.0331762088789, 1, 0.855470210088),
            "skin": (2.43580457167, 1, 0.118593032607),
            "bmi": (5.93560642723, 1, 0.0148379621458),
        },
        "removal": {
            "glu": (30.8133305344, 2.84079676818e-08),
            "age": (12.1626167242, 0.000487569255574),
            "ped": (10.0080690207, 0.00155855849163),
        },
        "loglik": -93.5488204053,
    },
    {
        "action": "enter",
        "term": "bmi",
        "coef": {
            "(Intercept)": (-9.97138818349, 1.52758698998),
            "glu": (0.0312550793826, 0.00662703858456),
            "age": (0.0586029672756, 0.01757376577),
            "ped": (1.71979415232, 0.656087818162),
            "bmi": (0.0770302701977, 0.032251501997),
        },
        "scores": {
            "npreg": (2.61252477786, 1, 0.106022842957),
            "bp": (0.0804724098583, 1, 0.77665823362),
            "skin": (0.0194118211512, 1, 0.889192298867),
        },
        "removal": {
            "glu": (26.9256399501, 2.11435262977e-07),
            "age": (11.7847292271, 0.000597185779781),
            "ped": (7.31135217936, 0.00685203479917),
            "bmi": (6.01607121472, 0.0141761707173),
        },
        "loglik": -90.5407847979,
    },
]

INFERT_LR = [
    {
        "action": "start",
        "term": None,
        "coef": {"(Intercept)": (-0.687104866104, 0.134568937098)},
        "scores": {
            "education": (0.00228961824308, 2, 0.998855845922),
            "age": (0.00309109357622, 1, 0.955662373245),
            "parity": (0.0196916176617, 1, 0.88840177116),
            "induced": (0.0726195143186, 1, 0.787560268139),
            "spontaneous": (32.8585804762, 1, 9.91126360029e-09),
        },
        "removal": {},
        "loglik": -158.085555408,
    },
    {
        "action": "enter",
        "term": "spontaneous",
        "coef": {
            "(Intercept)": (-1.37392618724, 0.197963024125),
            "spontaneous": (1.06385292581, 0.19638396035),
        },
        "scores": {
            "education": (0.169627499876, 2, 0.918683373303),
            "age": (0.293083386463, 1, 0.588251365432),
            "parity": (3.5298072647, 1, 0.0602747943429),
            "induced": (4.21279693386, 1, 0.0401201328752),
        },
        "removal": {"spontaneous": (32.4094803883, 1.2487576864e-08)},
        "loglik": -141.880815214,
    },
    {
        "action": "enter",
        "term": "induced",
        "coef": {
            "(Intercept)": (-1.70786007136, 0.267709483688),
            "spontaneous": (1.19720503529, 0.211643284627),
            "induced": (0.418129395048, 0.205627456497),
        },
        "scores": {
            "education": (0.203535868795, 2, 0.903239138084),
            "age": (0.57582218827, 1, 0.447954564905),
            "parity": (14.436972522, 1, 0.000144928871686),
        },
        "removal": {
            "spontaneous": (36.4867534522, 1.53707299408e-09),
            "induced": (4.14965159431, 0.0416430914373),
        },
        "loglik": -139.805989417,
    },
    {
        "action": "enter",
        "term": "parity",
        "coef": {
            "(Intercept)": (-1.18874105052, 0.311208852722),
            "spontaneous": (1.80978095631, 0.287373204481),
            "induced": (1.07766912067, 0.282005682044),
            "parity": (-0.637216201746, 0.175143958173),
        },
        "scores": {
            "education": (4.94649019465, 2, 0.0843108177877),
            "age": (3.15879423672, 1, 0.0755189423922),
        },
        "removal": {
            "spontaneous": (51.9937810405, 5.56766937095e-13),
            "induced": (15.9667374476, 6.4465258706e-05),
            "parity": (15.507523037, 8.21775466979e-05),
        },
        "loglik": -132.052227898,
    },
    {
        "action": "enter",
        "term": "age",
        "coef": {
            "(Intercept)": (-2.85239036765, 1.00428291365),
            "spontaneous": (1.92533823778, 0.298630702353),
            "induced": (1.18965621069, 0.289875248325),
            "parity": (-0.70883006287, 0.180913932118),
            "age": (0.0531809874821, 0.0301415025465),
        },
        "scores": {"education": (3.28067006895, 2, 0.193915063175)},
        "removal": {
            "spontaneous": (55.1483353877, 1.11768283733e-13),
            "induced": (18.4628564913, 1.73248105271e-05),
            "parity": (18.0934350322, 2.10325351363e-05),
            "age": (3.1610883097, 0.0754128937028),
        },
        "loglik": -130.471683744,
    },
    {
        "action": "enter",
        "term": "education",
        "coef": {
            "(Intercept)": (-2.19348011932, 1.09875342121),
            "spontaneous": (2.04590502168, 0.31016332466),
            "induced": (1.28875738094, 0.301466186956),
            "parity": (-0.828277382293, 0.196493894123),
            "age": (0.0395820016977, 0.0312028090607),
            "education1": (1.04424358373, 0.792559069707),
            "education2": (-0.358961505749, 0.334181210964),
        },
        "scores": {},
        "removal": {
            "spontaneous": (58.2835443118, 2.269343714e-14),
            "induced": (20.4664214118, 6.06866254633e-06),
            "parity": (21.141561916, 4.26575362582e-06),
            "age": (1.62814146848, 0.201960302391),
            "education": (3.14567728159, 0.207455454224),
        },
        "loglik": -128.898845103,
    },
]

INFERT_WALD = [
    {
        "action": "start",
        "term": None,
        "coef": {"(Intercept)": (-0.687104866104, 0.134568937098)},
        "scores": {
            "education": (0.00228961824308, 2, 0.998855845922),
            "age": (0.00309109357622, 1, 0.955662373245),
            "parity": (0.0196916176617, 1, 0.88840177116),
            "induced": (0.0726195143186, 1, 0.787560268139),
            "spontaneous": (32.8585804762, 1, 9.91126360029e-09),
        },
        "removal": {},
        "loglik": -158.085555408,
    },
    {
        "action": "enter",
        "term": "spontaneous",
        "coef": {
            "(Intercept)": (-1.37392618724, 0.197963024125),
            "spontaneous": (1.06385292581, 0.19638396035),
        },
        "scores": {
            "education": (0.169627499876, 2, 0.918683373303),
            "age": (0.293083386463, 1, 0.588251365432),
            "parity": (3.5298072647, 1, 0.0602747943429),
            "induced": (4.21279693386, 1, 0.0401201328752),
        },
        "removal": {"spontaneous": (29.3461516035, 6.05366176475e-08)},
        "loglik": -141.880815214,
    },
    {
        "action": "enter",
        "term": "induced",
        "coef": {
            "(Intercept)": (-1.70786007136, 0.267709483688),
            "spontaneous": (1.19720503529, 0.211643284627),
            "induced": (0.418129395048, 0.205627456497),
        },
        "scores": {
            "education": (0.203535868795, 2, 0.903239138084),
            "age": (0.57582218827, 1, 0.447954564905),
            "parity": (14.436972522, 1, 0.000144928871686),
        },
        "removal": {
            "spontaneous": (31.9983867713, 1.54300664494e-08),
            "induced": (4.13484460942, 0.0420089241545),
        },
        "loglik": -139.805989417,
    },
    {
        "action": "enter",
        "term": "parity",
        "coef": {
            "(Intercept)": (-1.18874105052, 0.311208852722),
            "spontaneous": (1.80978095631, 0.287373204481),
            "induced": (1.07766912067, 0.282005682044),
            "parity": (-0.637216201746, 0.175143958173),
        },
        "scores": {
            "education": (4.94649019465, 2, 0.0843108177877),
            "age": (3.15879423672, 1, 0.0755189423922),
        },
        "removal": {
            "spontaneous": (39.6606188367, 3.02157332028e-10),
            "induced": (14.6034396398, 0.000132672163315),
            "parity": (13.2368088837, 0.000274504839771),
        },
        "loglik": -132.052227898,
    },
    {
        "action": "enter",
        "term": "age",
        "coef": {
            "(Intercept)": (-2.85239036765, 1.00428291365),
            "spontaneous": (1.92533823778, 0.298630702353),
            "induced": (1.18965621069, 0.289875248325),
            "parity": (-0.70883006287, 0.180913932118),
            "age": (0.0531809874821, 0.0301415025465),
        },
        "scores": {"education": (3.28067006895, 2, 0.193915063175)},
        "removal": {
            "spontaneous": (41.5666630412, 1.13919358817e-10),
            "induced": (16.8430479501, 4.06017836448e-05),
            "parity": (15.3511258139, 8.92677192616e-05),
            "age": (3.11302779543, 0.0776684516946),
        },
        "loglik": -130.471683744,
    },
    {
        "action": "enter",
        "term": "education",
        "coef": {
            "(Intercept)": (-2.19348011932, 1.09875342121),
            "spontaneous": (2.04590502168, 0.31016332466),
            "induced": (1.28875738094, 0.301466186956),
            "parity": (-0.828277382293, 0.196493894123),
            "age": (0.0395820016977, 0.0312028090607),
            "education1": (1.04424358373, 0.792559069707),
            "education2": (-0.358961505749, 0.334181210964),
        },
        "scores": {},
        "removal": {
            "spontaneous": (43.5100968637, 4.21777537927e-11),
            "induced": (18.2753252696, 1.91167371956e-05),
            "parity": (17.7686112331, 2.49465102242e-05),
            "age": (1.60919294224, 0.204605286656),
            "education": (3.14654750354, 0.207365207714),
        },
        "loglik": -128.898845103,
    },
]

MTCARS = [
    {
        "action": "start",
        "term": None,
        "coef": {"(Intercept)": (-0.379489621705, 0.359937015304)},
        "scores": {
            "hp": (1.89274595575, 1, 0.16889252994),
            "wt": (15.3455899773, 1, 8.95296635658e-05),
            "cyl": (8.74073301093, 2, 0.0126466046688),
        },
        "removal": {},
        "loglik": -21.6148666384,
    },
    {
        "action": "enter",
        "term": "wt",
        "coef": {
            "(Intercept)": (12.0403697287, 4.51006621013),
            "wt": (-4.02396996217, 1.43652774369),
        },
        "scores": {
            "hp": (9.54980846307, 1, 0.00199970282876),
            "cyl": (3.69603773478, 2, 0.157548982764),
        },
        "removal": {"wt": (24.0536484694, 9.36885737486e-07)},
        "loglik": -9.58804240372,
    },
    {
        "action": "enter",
        "term": "hp",
        "coef": {
            "(Intercept)": (18.8662987172, 7.44355806021),
            "wt": (-8.08347518244, 3.06867511305),
            "hp": (0.0362555960822, 0.0177341536508),
        },
        "scores": {"cyl": (2.16894444515, 2, 0.338080169898)},
        "removal": {
            "wt": (31.1684551533, 2.36579428061e-08),
            "hp": (9.11697433518, 0.00253248481199),
        },
        "loglik": -5.02955523613,
    },
]

MTCARS_PIN5 = [
    {
        "action": "start",
        "term": None,
        "coef": {"(Intercept)": (-0.379489621705, 0.359937015304)},
        "scores": {
            "hp": (1.89274595575, 1, 0.16889252994),
            "wt": (15.3455899773, 1, 8.95296635658e-05),
            "cyl": (8.74073301093, 2, 0.0126466046688),
        },
        "removal": {},
        "loglik": -21.6148666384,
    },
    {
        "action": "enter",
        "term": "wt",
        "coef": {
            "(Intercept)": (12.0403697287, 4.51006621013),
            "wt": (-4.02396996217, 1.43652774369),
        },
        "scores": {
            "hp": (9.54980846307, 1, 0.00199970282876),
            "cyl": (3.69603773478, 2, 0.157548982764),
        },
        "removal": {"wt": (24.0536484694, 9.36885737486e-07)},
        "loglik": -9.58804240372,
    },
    {
        "action": "enter",
        "term": "hp",
        "coef": {
            "(Intercept)": (18.8662987172, 7.44355806021),
            "wt": (-8.08347518244, 3.06867511305),
            "hp": (0.0362555960822, 0.0177341536508),
        },
        "scores": {"cyl": (2.16894444515, 2, 0.338080169898)},
        "removal": {
            "wt": (31.1684551533, 2.36579428061e-08),
            "hp": (9.11697433518, 0.00253248481199),
        },
        "loglik": -5.02955523613,
    },
    {
        "action": "enter",
        "term": "cyl",
        "coef": {
            "(Intercept)": (9.70486305824, 17.2840681623),
            "wt": (-10.6759803873, 5.44200008783),
            "hp": (0.103209048415, 0.0960655269754),
            "cyl1": (8.38896243906, 13.1674595642),
            "cyl2": (11.1547171193, 13.2232591198),
        },
        "scores": {},
        "removal": {
            "wt": (19.9483188845, 7.95638813236e-06),
            "hp": (7.40568820907, 0.00650179661652),
            "cyl": (2.80373922771, 0.246136353557),
        },
        "loglik": -3.62768562228,
    },
]


def max_rel_diff(result, ref, removal="lr"):
    """Compare every R number of every step; return the largest relative difference."""
    assert [(s.action, s.term) for s in result.steps] == [(r["action"], r["term"]) for r in ref], [
        (s.action, s.term) for s in result.steps
    ]
    worst = 0.0

    def cmp(got, want):
        nonlocal worst
        assert got == pytest.approx(want, rel=REL, abs=1e-300), (got, want)
        worst = max(worst, abs(got - want) / abs(want) if want else abs(got))

    for step, r in zip(result.steps, ref):
        coefs = {c.parameter: c for c in step.in_equation}
        for name, (b, se) in r["coef"].items():
            c = coefs[R_NAMES.get(name, name)]
            cmp(c.b, b)
            cmp(c.se, se)
        cmp(step.log_likelihood, r["loglik"])
        rows = {x.term: x for x in step.if_removed}
        for term, (stat, p) in r["removal"].items():
            cmp(rows[term].removal_statistic, stat)
            cmp(rows[term].removal_p, p)
            if removal == "lr":
                cmp(rows[term].change_minus_2ll, stat)
        scores = {x.term: x for x in step.not_in_equation if x.kind == "term"}
        for term, (stat, df, p) in r["scores"].items():
            cmp(scores[term].score, stat)
            assert scores[term].df == df
            cmp(scores[term].p, p)
        if step.number > 0 and step.action == "enter":
            prev = ref[step.number - 1]["scores"][step.term]
            cmp(step.statistic, prev[0])
            cmp(step.p, prev[2])
    return worst


def test_pima_tr_spss_defaults():
    pima = pl.read_csv(DATA / "pima_tr.csv")
    r = stepwise(pima, "type", ["npreg", "glu", "bp", "skin", "bmi", "ped", "age"])
    assert r.event == "Yes" and r.n == 200
    assert r.final_terms == ("glu", "bmi", "ped", "age")
    assert max_rel_diff(r, PIMA) < REL
    assert "no candidate met the entry criterion" in r.stop_reason


@pytest.mark.parametrize("removal, ref", [("lr", INFERT_LR), ("wald", INFERT_WALD)])
def test_infert_factor_lr_and_wald(removal, ref):
    infert = pl.read_csv(DATA / "infert.csv")
    r = stepwise(
        infert,
        "case",
        ["education", "age", "parity", "induced", "spontaneous"],
        categorical=["education"],
        pin=0.2,
        pout=0.3,
        removal=removal,
    )
    coding = r.codings[0]
    assert coding["levels"] == ["0-5yrs", "12+ yrs", "6-11yrs"] and coding["reference"] == "6-11yrs"
    assert max_rel_diff(r, ref, removal) < REL
    # The 2-df joint Wald row of education in Variables in the Equation is the same b' V^-1 b.
    joint = next(c for c in r.final.in_equation if c.kind == "term" and c.term == "education")
    assert joint.df == 2
    assert joint.wald == pytest.approx(INFERT_WALD[-1]["removal"]["education"][0], rel=REL)
    # One-df Wald = (B / S.E.)^2 (R: summary(fit) z^2).
    age = next(c for c in r.final.in_equation if c.parameter == "age")
    assert age.wald == pytest.approx((0.0395820016977 / 0.0312028090607) ** 2, rel=REL)


def test_mtcars_near_separation_matches_r_and_is_not_flagged():
    mt = pl.read_csv(DATA / "mtcars.csv")
    r = stepwise(mt, "am", ["hp", "wt", "cyl"], categorical=["cyl"])
    assert max_rel_diff(r, MTCARS) < REL
    assert r.reliable and not r.problems
    # PIN .5 / POUT .6 lets cyl in: R converges (10 iterations) with max |eta| = 26.01, a
    # fitted probability of 5e-12. The old rule (p within 1e-9 of 0 or 1) called this
    # separation and stopped; the LP finds no separating direction.
    r5 = stepwise(mt, "am", ["hp", "wt", "cyl"], categorical=["cyl"], pin=0.5, pout=0.6)
    assert max_rel_diff(r5, MTCARS_PIN5) < REL
    assert r5.reliable and not [
        p for p in r5.problems if p.code in ("separation", "nonconvergence")
    ]
    assert max(abs(e) for e in _eta(r5, mt)) == pytest.approx(26.0117091535, rel=REL)
    assert all(c.exp_b is not None for c in r5.final.in_equation if c.kind != "term")


def _eta(result, frame):
    b = {c.parameter: c.b for c in result.final.in_equation if c.kind != "term"}
    return [
        b["Constant"] + b["hp"] * hp + b["wt"] * wt + b.get(f"cyl({cyl})", 0.0)
        for hp, wt, cyl in frame.select("hp", "wt", "cyl").iter_rows()
    ]
