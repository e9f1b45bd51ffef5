"""The stepwise engine against independent references: R (glm + add1 Rao + drop1 LRT, run
as SPSS's FSTEP sequence by hand), SAS's documented Remission example, and statsmodels.

Every R number below was printed by `Rscript tests/data/stepwise/reference.R` (R 4.2.2,
MASS 7.3-58.2, glm.control(epsilon = 1e-14, maxit = 100), sprintf("%.12g")); the R
function `fstep()` in that script is the code behind each block. Tolerance: 1e-6 relative.
"""

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from hmip_cli.stepwise import stepwise

DATA = Path(__file__).parent / "data" / "stepwise"
REL = 1e-6


def close(a, b, rel=REL):
    assert a == pytest.approx(b, rel=rel, abs=1e-12), (a, b)


def coef(result, name, step=None):
    s = result.steps[-1 if step is None else step]
    return next(c for c in s.in_equation if c.parameter == name)


def score(step, term):
    return next(r for r in step.not_in_equation if r.parameter == term and r.kind == "term")


@pytest.fixture(scope="module")
def remission():
    return pl.read_csv(DATA / "remission.csv")


@pytest.fixture(scope="module")
def birthwt():
    return pl.read_csv(DATA / "birthwt.csv")


@pytest.fixture(scope="module")
def biopsy():
    return pl.read_csv(DATA / "biopsy.csv")


# ---------------------------------------------------------------------------------------
# SAS documentation, PROC LOGISTIC Example "Stepwise Logistic Regression and Predicted
# Values" (data Remission, Lee 1974; SELECTION=STEPWISE SLENTRY=0.3 SLSTAY=0.35, event
# remiss=1): li, temp, cell enter in that order; final estimates intercept 67.6339,
# cell 9.6522, li 3.8671, temp -82.0738. SAS removes by Wald -> removal="wald".
# ---------------------------------------------------------------------------------------
REMISSION_CANDS = ["cell", "smear", "infil", "li", "blast", "temp"]


@pytest.fixture(scope="module")
def remission_fit(remission):
    return stepwise(remission, "remiss", REMISSION_CANDS, pin=0.3, pout=0.35, removal="wald")


def test_remission_path_and_sas_estimates(remission_fit):
    r = remission_fit
    assert [(s.action, s.term) for s in r.steps[1:]] == [
        ("enter", "li"),
        ("enter", "temp"),
        ("enter", "cell"),
    ]
    assert r.final_terms == ("cell", "li", "temp")
    # SAS's printed estimates (4 decimals)
    for name, sas in [("Constant", 67.6339), ("cell", 9.6522), ("li", 3.8671), ("temp", -82.0738)]:
        assert coef(r, name).b == pytest.approx(sas, abs=5e-5)
    # Entry score chi-squares to 4 decimals. The SAS example's step tables print the
    # entry scores; R's add1(test="Rao") values (test below) are the tested reference:
    # 7.93109621143, 1.25905986909, 1.47007609393.
    assert [round(s.statistic, 4) for s in r.steps[1:]] == [7.9311, 1.2591, 1.4701]


def test_remission_against_r(remission_fit):
    r = remission_fit
    s0, s1, s2, s3 = r.steps
    # R, step 0: add1(glm(remiss ~ 1), ~cell+smear+infil+li+blast+temp, test="Rao")
    r_step0 = {
        "cell": 1.88933755878,
        "smear": 1.07447985972,
        "infil": 1.88174858781,
        "li": 7.93109621143,
        "blast": 3.52580924286,
        "temp": 0.659090909091,
    }
    for t, v in r_step0.items():
        close(score(s0, t).score, v)
    close(score(s0, "li").p, 0.00485923489668)
    close(s0.log_likelihood, -17.185882544)  # logLik(glm(remiss ~ 1))
    # R, step 1 (li in): add1 Rao
    for t, v in {
        "cell": 1.11825772504,
        "smear": 0.136910784468,
        "infil": 0.571492437323,
        "blast": 0.093204377337,
        "temp": 1.25905986909,
    }.items():
        close(score(s1, t).score, v)
    close(coef(r, "li", 1).b, 2.89726385667)
    close(coef(r, "li", 1).se, 1.18682302158)
    close(s1.log_likelihood, -13.0364822525)
    # R, step 2 (li + temp): add1 Rao
    for t, v in {
        "cell": 1.47007609393,
        "smear": 0.172968457575,
        "infil": 0.827451204179,
        "blast": 1.10143187947,
    }.items():
        close(score(s2, t).score, v)
    close(s2.log_likelihood, -12.3239111343)
    # R, final glm(remiss ~ li + temp + cell): coefficients and SEs
    for name, b, se in [
        ("Constant", 67.6339061281, 56.8875473472),
        ("li", 3.86710032908, 1.77827772176),
        ("temp", -82.0737742795, 61.7123821323),
        ("cell", 9.65215222462, 7.751075862),
    ]:
        close(coef(r, name).b, b)
        close(coef(r, name).se, se)
    close(s3.log_likelihood, -10.9766840547)
    close(r.to_dict()["minus_2ll"], 2 * 10.9766840547)
    # R, Wald removal statistics b' V^-1 b of the final model
    wald = {row.term: row.removal_statistic for row in s3.if_removed}
    close(wald["li"], 4.72902602414)
    close(wald["temp"], 1.76874078231)
    close(wald["cell"], 1.55068772894)
    # R, step 3: add1 Rao for the last candidates (none reaches PIN .3)
    for t, v in {
        "smear": 0.0955972848043,
        "infil": 0.0844343573124,
        "blast": 0.0208484274288,
    }.items():
        close(score(s3, t).score, v)


def test_remission_conditional_statistic(remission):
    # R, same script: conditional estimates beta_r - C_ri C_ii^-1 beta_i from vcov(glm),
    # statistic -2 (L(conditional) - L(mle)) (SPSS Algorithms, "Conditional statistic").
    r = stepwise(remission, "remiss", REMISSION_CANDS, pin=0.3, pout=0.35, removal="conditional")
    assert r.final_terms == ("cell", "li", "temp")
    cond = {row.term: row.removal_statistic for row in r.final.if_removed}
    close(cond["li"], 13.1792116463)
    close(cond["temp"], 2.72585809043)
    close(cond["cell"], 2.99288102512)


def test_remission_summary_statistics(remission_fit):
    r = remission_fit
    s = r.final
    n = 27
    chi = 2 * (-10.9766840547 - -17.185882544)  # model chi-square from the R log-likelihoods
    close(s.omnibus_model.chi_square, chi)
    assert s.omnibus_model.df == 3
    close(s.cox_snell_r2, 1 - np.exp(-chi / n))
    close(s.nagelkerke_r2, (1 - np.exp(-chi / n)) / (1 - np.exp(2 * -17.185882544 / n)))
    # Step omnibus: improvement over the step before (li + temp)
    close(s.omnibus_step.chi_square, 2 * (-10.9766840547 - -12.3239111343))
    # Classification at .5 counted by hand from fitted(glm(remiss ~ li + temp + cell)) > .5
    c = s.classification
    assert (
        c.nonevent_predicted_nonevent,
        c.nonevent_predicted_event,
        c.event_predicted_nonevent,
        c.event_predicted_event,
    ) == (15, 3, 3, 6)
    # Hosmer-Lemeshow with the SAS grouping rule (M = floor(27/10 + .5) = 3): group sizes
    # checked by hand; 9 groups, 7 df (the 2-case tail stays a group: 2 > floor(0.05*27) = 1).
    # The chi-square is a regression value of our implementation of that rule.
    hl = s.hosmer_lemeshow
    assert [g["n"] for g in hl.groups] == [3, 3, 3, 3, 4, 3, 3, 3, 2]
    assert hl.df == 7
    assert hl.chi_square == pytest.approx(6.2983, abs=1e-4)


# ---------------------------------------------------------------------------------------
# MASS::birthwt: low ~ age, lwt, race (3-level factor, reference = last level 3),
# smoke, ptd (= ptl > 0), ht, ui. SPSS defaults FSTEP(LR), PIN .05, POUT .10.
# ---------------------------------------------------------------------------------------
BW_CANDS = ["age", "lwt", "race", "smoke", "ptd", "ht", "ui"]


def test_birthwt_mixed_against_r(birthwt):
    r = stepwise(birthwt, "low", BW_CANDS, categorical=["race"])
    assert not r.collapsed
    assert [(s.action, s.term) for s in r.steps[1:]] == [
        ("enter", "ptd"),
        ("enter", "ht"),
        ("enter", "lwt"),
    ]
    s0, s1, s2, s3 = r.steps
    # R step 0: add1(glm(low ~ 1), ~age+lwt+race+smoke+ptd+ht+ui, test="Rao")
    for t, v in {
        "age": 2.67369847387,
        "lwt": 5.43815343272,
        "race": 5.0048130109,
        "smoke": 4.92370543436,
        "ptd": 13.7590475019,
        "ht": 4.38795494221,
        "ui": 5.40076526274,
    }.items():
        close(score(s0, t).score, v)
    assert score(s0, "race").df == 2
    close(score(s0, "race").p, 0.0818876981247)
    close(s0.log_likelihood, -117.335998097)
    # R step 1 (ptd): add1 Rao; drop1 LRT
    for t, v in {
        "age": 4.37387904087,
        "lwt": 4.02043631712,
        "race": 4.88632951454,
        "smoke": 2.61298419836,
        "ht": 4.62997513619,
        "ui": 2.9053990317,
    }.items():
        close(score(s1, t).score, v)
    close(s1.if_removed[0].change_minus_2ll, 12.7742407103)
    # R step 2 (ptd + ht)
    for t, v in {
        "age": 4.32291900319,
        "lwt": 6.8055496447,
        "race": 4.43229540514,
        "smoke": 2.53681485121,
        "ui": 3.9146091037,
    }.items():
        close(score(s2, t).score, v)
    lr = {row.term: row.change_minus_2ll for row in s2.if_removed}
    close(lr["ptd"], 12.9879314186)
    close(lr["ht"], 4.23582424466)
    # R step 3 (ptd + ht + lwt): coefficients, logLik, drop1 LRT, add1 Rao
    for name, b, se in [
        ("Constant", 1.01736672098, 0.85333834473),
        ("ptd", 1.40676980821, 0.428501073664),
        ("ht", 1.89397147019, 0.72109063851),
        ("lwt", -0.0172802713279, 0.00678716643219),
    ]:
        close(coef(r, name).b, b)
        close(coef(r, name).se, se)
    close(s3.log_likelihood, -105.061689053)
    lr = {row.term: row.change_minus_2ll for row in s3.if_removed}
    for t, v in {"ptd": 11.018713551, "ht": 7.37339186244, "lwt": 7.53855313137}.items():
        close(lr[t], v)
    for t, v in {
        "age": 2.58768084476,
        "race": 4.85808295389,
        "smoke": 2.20331284696,
        "ui": 2.70993588446,
    }.items():
        close(score(s3, t).score, v)
    assert "no candidate met the entry criterion" in r.stop_reason


def test_birthwt_all_categorical_collapsed_against_r(birthwt):
    # R: smoke, ptd, ht, ui as factors with contr.treatment(2, base = 2) (reference = last
    # level, 1), race with base = 3; fstep(..., pin = 0.2, pout = 0.3).
    frame = birthwt.with_columns(
        pl.col(c).cast(pl.String) for c in ["race", "smoke", "ptd", "ht", "ui"]
    )
    r = stepwise(frame, "low", ["race", "smoke", "ptd", "ht", "ui"], pin=0.2, pout=0.3)
    assert r.collapsed and r.n == 189 and r.n_rows_fitted < 189
    assert [(s.action, s.term) for s in r.steps[1:]] == [
        ("enter", "ptd"),
        ("enter", "ht"),
        ("enter", "ui"),
        ("enter", "race"),
        ("enter", "smoke"),
    ]
    s4 = r.steps[4]
    close(score(s4, "smoke").score, 5.84007159444)  # R step 4: add1 Rao
    close(score(r.steps[3], "race").score, 4.32281088601)  # R step 3: add1 Rao (2 df)
    # R step 5 (final): coefficients
    for name, b, se in [
        ("Constant", 3.16340101591, 0.910642878975),
        ("ptd(0)", -1.19050464377, 0.441921104439),
        ("ht(0)", -1.37001172464, 0.64276681142),
        ("ui(0)", -0.839418706374, 0.454072113964),
        ("race(1)", -1.0241758955, 0.424066440926),
        ("race(2)", 0.0363800182906, 0.509555529914),
        ("smoke(0)", -0.930743282977, 0.391749123149),
    ]:
        close(coef(r, name).b, b)
        close(coef(r, name).se, se)
    close(r.final.log_likelihood, -101.907920833)
    lr = {row.term: row.change_minus_2ll for row in r.final.if_removed}
    for t, v in {
        "ptd": 7.35011696197,
        "ht": 4.58193210142,
        "ui": 3.34877939205,
        "race": 7.76663409548,
        "smoke": 5.82596316424,
    }.items():
        close(lr[t], v)
    race = next(c for c in r.final.in_equation if c.kind == "term" and c.term == "race")
    assert race.df == 2


# ---------------------------------------------------------------------------------------
# MASS::biopsy (na.omit, 683 cases), class malignant vs benign, candidates V1 V2 V3 V6 V8:
# V3 enters at step 2 and is removed at step 6 after V2 enters (LR p .110 > POUT .10).
# ---------------------------------------------------------------------------------------
def test_biopsy_removal_after_entry_against_r(biopsy):
    r = stepwise(biopsy, "class", ["V1", "V2", "V3", "V6", "V8"])
    assert r.event == "malignant"
    assert [(s.action, s.term) for s in r.steps[1:]] == [
        ("enter", "V6"),
        ("enter", "V3"),
        ("enter", "V1"),
        ("enter", "V8"),
        ("enter", "V2"),
        ("remove", "V3"),
    ]
    steps = r.steps
    # R: the score statistic of each entering term (add1 Rao at the step before)
    for s, v in zip(
        steps[1:6], [462.273865121, 180.416337187, 30.0240466257, 12.7514811518, 5.12882245559]
    ):
        close(s.statistic, v)
    close(steps[1].p, 1.53837271563e-102)  # tiny p-values are exact, not 0
    # R step 5: drop1 LRT for V3 = 2.54816235918, p 0.110422622114 -> removed
    close(steps[6].statistic, 2.54816235918)
    close(steps[6].p, 0.110422622114)
    # R step 6 (V6 V1 V8 V2): coefficients and logLik; V3's score 2.6417802019 < PIN fails
    for name, b, se in [
        ("Constant", -8.20977731573, 0.83434598151),
        ("V6", 0.509572766268, 0.0837937856012),
        ("V1", 0.574927167312, 0.126940692166),
        ("V8", 0.323533352273, 0.100007039912),
        ("V2", 0.589142767594, 0.139324850203),
    ]:
        close(coef(r, name).b, b)
        close(coef(r, name).se, se)
    close(r.final.log_likelihood, -61.9217920078)
    close(score(r.final, "V3").score, 2.6417802019)
    # The omnibus step chi-square of a removal step is negative, as SPSS prints it.
    assert steps[6].omnibus_step.chi_square == pytest.approx(-2.54816235918, rel=REL)


# ---------------------------------------------------------------------------------------
# statsmodels GLM Binomial: a second implementation for coefficients, SEs, log-likelihood
# ---------------------------------------------------------------------------------------
def test_final_models_match_statsmodels(birthwt, biopsy):
    import statsmodels.api as sm

    r = stepwise(biopsy, "class", ["V1", "V2", "V3", "V6", "V8"])
    X = sm.add_constant(biopsy.select(["V6", "V1", "V8", "V2"]).to_numpy().astype(float))
    yv = (biopsy.get_column("class") == "malignant").cast(pl.Float64).to_numpy()
    res = sm.GLM(yv, X, family=sm.families.Binomial()).fit(tol=1e-14, maxiter=100)
    names = ["Constant", "V6", "V1", "V8", "V2"]
    for i, name in enumerate(names):
        close(coef(r, name).b, res.params[i])
        close(coef(r, name).se, res.bse[i])
    close(r.final.log_likelihood, res.llf)
    # score test of V3 via statsmodels' own implementation
    stat, _pval = res.score_test(exog_extra=biopsy.select("V3").to_numpy().astype(float))
    close(score(r.final, "V3").score, float(np.squeeze(stat)))
