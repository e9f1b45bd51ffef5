"""--iterate spss (issue 11 item 4): SPSS's iteration rule reproduces SPSS's printed digits.

Published output: the three LOGISTIC REGRESSION examples GNU PSPP's test suite transcribes
(tests/language/stats/logistic.at in the PSPP repository), with their data in
tests/data/spss/: Howell's survival-rate example (66 cases, outcome ~ survrate), UCLA's
admissions example (400 cases, admit ~ gre gpa rank, rank categorical; "SPSS Data Analysis
Examples: Logit Regression") and UCLA's hsb2 example (200 cases, honcomp ~ read science
ses, ses a string categorical; "SPSS annotated output: logistic regression"). Every value
printed there (3 decimals, SPSS style: .081, -5.541) must agree in --iterate spss mode: the
iteration count, -2LL, both R squares, B, S.E., Wald, df, Sig., Exp(B) and the category
frequencies. The exact (default) fit differs in three printed Walds, each by .001: the
point of the mode.
"""

from pathlib import Path

import polars as pl
import pytest

from hmip_cli.stepwise import stepwise

DATA = Path(__file__).parent / "data" / "spss"


def spss(x: float) -> str:
    """SPSS's printed form with 3 decimals: .081, -5.541, 1.000, .000."""
    s = f"{x:.3f}"
    if s.startswith("0."):
        return s[1:]
    if s.startswith("-0."):
        return "-" + s[2:] if s != "-0.000" else ".000"
    return s


def _survrate():
    f = pl.read_csv(
        DATA / "survrate.txt", separator=" ", has_header=False, new_columns=["outcome", "survrate"]
    )
    return f, "outcome", ["survrate"], []


def _admissions():
    f = pl.read_csv(
        DATA / "admissions.txt",
        separator=" ",
        has_header=False,
        new_columns=["b1", "b2", "bcat", "y"],
    )
    return f, "y", ["b1", "b2", "bcat"], ["bcat"]


def _hsb2():
    f = pl.read_csv(
        DATA / "hsb2.txt", separator=" ", has_header=False,
        new_columns=["read", "honcomp", "wiz", "science"],
    )  # fmt: skip
    f = f.with_columns(ses=pl.col("wiz").replace_strict({7: "a", 8: "b", 9: "c"}))
    return f, "honcomp", ["read", "science", "ses"], []


# PSPP logistic.at, as printed: iterations; -2LL, Cox & Snell, Nagelkerke; per row of
# Variables in the Equation: B, S.E., Wald, df, Sig., Exp(B) ("" where SPSS leaves it
# empty); category frequencies.
PUBLISHED = {
    "survrate": (
        _survrate,
        6,
        ("37.323", ".455", ".659"),
        [
            ("survrate", "-.081", ".019", "17.756", 1, ".000", ".922"),
            ("Constant", "2.684", ".811", "10.941", 1, ".001", "14.639"),
        ],
        {},
    ),
    "admissions": (
        _admissions,
        4,
        ("458.517", ".098", ".138"),
        [
            ("b1", ".002", ".001", "4.284", 1, ".038", "1.002"),
            ("b2", ".804", ".332", "5.872", 1, ".015", "2.235"),
            ("bcat", "", "", "20.895", 3, ".000", ""),
            ("bcat(1)", "1.551", ".418", "13.788", 1, ".000", "4.718"),
            ("bcat(2)", ".876", ".367", "5.706", 1, ".017", "2.401"),
            ("bcat(3)", ".211", ".393", ".289", 1, ".591", "1.235"),
            ("Constant", "-5.541", "1.138", "23.709", 1, ".000", ".004"),
        ],
        {"bcat": [61, 151, 121, 67]},
    ),
    "hsb2": (
        _hsb2,
        5,
        ("165.701", ".280", ".408"),
        [
            ("read", ".098", ".025", "15.199", 1, ".000", "1.103"),
            ("science", ".066", ".027", "5.867", 1, ".015", "1.068"),
            ("ses", "", "", "6.690", 2, ".035", ""),
            ("ses(a)", ".058", ".532", ".012", 1, ".913", "1.060"),
            ("ses(b)", "-1.013", ".444", "5.212", 1, ".022", ".363"),
            ("Constant", "-9.561", "1.662", "33.113", 1, ".000", ".000"),
        ],
        {"ses": [47, 95, 58]},
    ),
}


def _printed(res):
    """(iterations, model summary, rows, frequencies) as SPSS prints them."""
    s = res.final
    summary = (spss(s.minus_2ll), spss(s.cox_snell_r2), spss(s.nagelkerke_r2))
    rows = [
        (
            c.parameter,
            "" if c.b is None else spss(c.b),
            "" if c.se is None else spss(c.se),
            spss(c.wald),
            c.df,
            spss(c.p),
            "" if c.kind == "term" else spss(c.exp_b),
        )
        for c in s.in_equation
    ]
    freqs = {c["term"]: [int(n) for n in c["level_n"]] for c in res.codings}
    return s.iterations, summary, rows, freqs


def _count_agreeing(printed, published) -> tuple[int, int]:
    it, summary, rows, freqs = printed
    _, p_it, p_summary, p_rows, p_freqs = published
    pairs = [(it, p_it), *zip(summary, p_summary)]
    for got, want in zip(rows, p_rows):
        pairs.extend(zip(got[1:], want[1:]))
    for k, v in p_freqs.items():
        pairs.extend(zip(freqs[k], v))
    return sum(a == b for a, b in pairs), len(pairs)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_iterate_spss_prints_what_spss_printed(name):
    build = PUBLISHED[name][0]
    frame, y, cands, cat = build()
    res = stepwise(frame, y, cands, categorical=cat, method="enter", iterate="spss")
    printed = _printed(res)
    assert [r[0] for r in printed[2]] == [
        r[0].replace("ses(1)", "ses(a)") for r in PUBLISHED[name][3]
    ]
    agree, total = _count_agreeing(printed, PUBLISHED[name])
    assert agree == total, (printed, PUBLISHED[name])


def test_count_of_agreeing_values_and_what_the_exact_fit_misses():
    counts = {"spss": [0, 0], "exact": [0, 0]}
    for build, *published in PUBLISHED.values():
        frame, y, cands, cat = build()
        for mode in counts:
            res = stepwise(frame, y, cands, categorical=cat, method="enter", iterate=mode)
            it, *rest = _printed(res)
            if mode == "exact":
                it = published[0]  # not compared: the exact fit runs to |dB| < 1e-11
            a, t = _count_agreeing((it, *rest), (build, *published))
            counts[mode][0] += a
            counts[mode][1] += t
    assert counts["spss"] == [109, 109]  # every printed value, 3 data sets
    # the exact fit: survrate's Wald 17.755, bcat(1)'s 13.787 and hsb2's constant 33.112
    assert counts["exact"] == [106, 109]


# PSPP logistic.at, "LOGISTIC REGRESSION confidence interval": data from G. Chang's SPSS lab
# (people.ysu.edu/~gchang/SPSSE/SPSS_lab2Regression.pdf; tests/data/spss/disease.txt: disease
# age sciostat sector savings), LOGISTIC REGRESSION disease WITH age sciostat sector savings
# /CATEGORICAL = sciostat sector /PRINT = CI(95). Rows: B, S.E., Wald, df, Sig., Exp(B), 95%
# CI lower, upper. (PSPP lists savings before the factors and adds a joint row for the
# two-level sector; SPSS and hmip do not, so that row, whose Wald is sector(1)'s, is left out.)
DISEASE_ROWS = [
    ("age", ".027", ".009", "8.647", 1, ".003", "1.027", "1.009", "1.045"),
    ("sciostat", "", "", ".440", 2, ".803", "", "", ""),
    ("sciostat(1)", "-.278", ".434", ".409", 1, ".522", ".757", ".323", "1.775"),
    ("sciostat(2)", "-.219", ".459", ".227", 1, ".634", ".803", ".327", "1.976"),
    ("sector(1)", "-1.235", ".357", "11.974", 1, ".001", ".291", ".145", ".586"),
    ("savings", ".061", ".386", ".025", 1, ".874", "1.063", ".499", "2.264"),
    ("Constant", "-.814", ".452", "3.246", 1, ".072", ".443", "", ""),
]
# Classification Tables as PSPP's logistic.at prints them (cut .5): observed non-event
# (predicted non-event, event, % correct), observed event (the same), overall %.
CLASSIFICATION = {
    "survrate": ((43, 5, "89.583"), (4, 14, "77.778"), "86.364"),
    "hsb2": ((132, 15, "89.796"), (26, 27, "50.943"), "79.500"),
    "disease": ((131, 8, "94.245"), (41, 16, "28.070"), "75.000"),
}


def _disease():
    f = pl.read_csv(
        DATA / "disease.txt", separator=" ", has_header=False,
        new_columns=["disease", "age", "sciostat", "sector", "savings"],
    )  # fmt: skip
    return f, "disease", ["age", "sciostat", "sector", "savings"], ["sciostat", "sector"]


def _classification(res):
    d = res.final.classification.to_dict()
    return (
        (int(d["nonevent_predicted_nonevent"]), int(d["nonevent_predicted_event"]),
         f"{d['percent_correct_nonevent']:.3f}"),
        (int(d["event_predicted_nonevent"]), int(d["event_predicted_event"]),
         f"{d['percent_correct_event']:.3f}"),
        f"{d['percent_correct']:.3f}",
    )  # fmt: skip


def test_ci_and_classification_as_printed():
    """79 more printed values: the CI example (65: iterations, model summary, every row with its
    95% CI for Exp(B), frequencies, classification) and two more classification tables (14)."""
    frame, y, cands, cat = _disease()
    res = stepwise(frame, y, cands, categorical=cat, method="enter", iterate="spss")
    s = res.final
    assert s.iterations == 4
    assert (spss(s.minus_2ll), spss(s.cox_snell_r2), spss(s.nagelkerke_r2)) == (
        "211.195", ".120", ".172",
    )  # fmt: skip
    got = {
        c.parameter: (
            c.parameter,
            *("" if v is None else spss(v) for v in (c.b, c.se, c.wald)),
            c.df,
            spss(c.p),
            *("" if v is None else spss(v) for v in (c.exp_b, c.ci_low, c.ci_high)),
        )
        for c in s.in_equation
    }
    assert sorted(got) == sorted(r[0] for r in DISEASE_ROWS)
    for row in DISEASE_ROWS:
        assert got[row[0]] == row
    assert [c["level_n"] for c in res.codings] == [[77, 49, 70], [117, 79]]
    assert _classification(res) == CLASSIFICATION["disease"]
    for name in ("survrate", "hsb2"):
        frame, y, cands, cat = PUBLISHED[name][0]()
        res = stepwise(frame, y, cands, categorical=cat, method="enter", iterate="spss")
        assert _classification(res) == CLASSIFICATION[name]


# UCLA OARC, "Applied Logistic Regression (Second Edition) by Hosmer and Lemeshow, Chapter 2:
# Multiple Logistic Regression" (SPSS version), page 36 Table 2.2:
# https://stats.oarc.ucla.edu/spss/examples/alr2/applied-logistic-regression-second-edition-by-hosmer-and-lemeshowchapter-2-multiple-logistic-regression
# SPSS: RECODE race (2=1)(ELSE=0) INTO race2 / (3=1)(ELSE=0) INTO race3;
# LOGISTIC REGRESSION VAR=low /METHOD=ENTER age lwt race2 race3 ftv /PRINT=SUMMARY, on the
# low birth weight study (lowbwt.sav; the same 189 cases as MASS::birthwt, tests/data/stepwise).
ALR_STEP0_CONSTANT = ("-.790", ".157", "25.327", 1, ".000", ".454")
ALR_NOT_IN_EQUATION = {  # Step 0 Variables not in the Equation: Score, df, Sig.
    "age": ("2.674", 1, ".102"),
    "lwt": ("5.438", 1, ".020"),
    "race2": ("1.727", 1, ".189"),
    "race3": ("1.797", 1, ".180"),
    "ftv": (".749", 1, ".387"),
}
ALR_OVERALL = ("11.388", 5, ".044")
ALR_OMNIBUS = ("12.099", 5, ".033")  # Step, Block and Model rows alike
ALR_SUMMARY = ("222.573", ".062", ".087")
ALR_STEP0_CLASSIFICATION = ((130, 0, "100.000"), (59, 0, ".000"), "68.783")  # printed 68.8


@pytest.mark.parametrize("iterate", ["spss", "exact"])
def test_alr2_step0_scores_overall_and_omnibus_as_printed(iterate):
    """43 printed values of SPSS output not covered by the PSPP transcriptions: Step 0's
    Variables in the Equation and Variables not in the Equation with its Overall Statistics,
    the Step 0 classification table, the Omnibus Tests' Step/Block/Model rows and the Model
    Summary (source above)."""
    bw = pl.read_csv(Path(__file__).parent / "data" / "stepwise" / "birthwt.csv")
    bw = bw.with_columns(
        race2=(pl.col("race") == 2).cast(pl.Int64), race3=(pl.col("race") == 3).cast(pl.Int64)
    )
    names = ["age", "lwt", "race2", "race3", "ftv"]
    res = stepwise(bw, "low", names, method="enter", iterate=iterate)
    s0, s1 = res.steps[0], res.final
    (c,) = s0.in_equation
    assert (spss(c.b), spss(c.se), spss(c.wald), c.df, spss(c.p), spss(c.exp_b)) == (
        ALR_STEP0_CONSTANT
    )
    rows = {r.parameter: (spss(r.score), r.df, spss(r.p)) for r in s0.not_in_equation}
    assert rows == ALR_NOT_IN_EQUATION
    r = s0.residual
    assert (spss(r.score), r.df, spss(r.p)) == ALR_OVERALL
    for chi in (s1.omnibus_step, s1.omnibus_block, s1.omnibus_model):
        assert (spss(chi.chi_square), chi.df, spss(chi.p)) == ALR_OMNIBUS
    assert (spss(s1.minus_2ll), spss(s1.cox_snell_r2), spss(s1.nagelkerke_r2)) == ALR_SUMMARY
    d = s0.classification.to_dict()
    got = (
        (d["nonevent_predicted_nonevent"], d["nonevent_predicted_event"],
         spss(d["percent_correct_nonevent"])),
        (d["event_predicted_nonevent"], d["event_predicted_event"],
         spss(d["percent_correct_event"])),
        spss(d["percent_correct"]),
    )  # fmt: skip
    assert got == ALR_STEP0_CLASSIFICATION


def test_codings_table_has_spss_parameter_coding_columns():
    """SPSS's Categorical Variables Codings, as PSPP's logistic.at transcribes it for UCLA's
    admissions example (rank 1-4, indicator coding, last level the reference): Frequency
    61, 151, 121, 67 and Parameter coding (1) (2) (3) rows 1 0 0 / 0 1 0 / 0 0 1 / 0 0 0."""
    from hmip_cli.stepwise.spss_tables import result_tables

    frame, y, cands, cat = _admissions()
    res = stepwise(frame, y, cands, categorical=cat, method="enter")
    (t,) = [t for t in result_tables(res) if t.title == "Categorical Variables Codings"]
    cols = ["coding_1", "coding_2", "coding_3"]
    assert [t.display[c] for c in cols] == [f"Parameter coding ({j})" for j in (1, 2, 3)]
    assert t.frame["n"].to_list() == [61, 151, 121, 67]
    assert t.frame.select(cols).rows() == [(1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0)]
