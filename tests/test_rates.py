"""rates.rates: known answers on small constructed data, --where, small numbers,
suppression (primary and secondary), differences, Not recorded, Wilson intervals."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from statsmodels.stats.proportion import proportion_confint
from test_rates_support import exact_cases, random_cases

from hmip_cli import rates, schema
from hmip_cli.errors import BadInput, BadRequest

ACC = schema.get_factor("accommodation")
AVAIL = schema.get_measure("availability")
PRIO = schema.priority_column(ACC)
JUDGE = schema.judgement_column(ACC, AVAIL)


def acc_cases(groups: dict[str, tuple[int, int]], column="provider", extra=None) -> pl.DataFrame:
    """Cases where accommodation was a priority: {group code: (n applicable, n yes)}."""
    recs = []
    for code, (n, y) in groups.items():
        for i in range(n):
            rec = {PRIO: True, JUDGE: i < y, column: code}
            rec.update(extra or {})
            recs.append(rec)
    return exact_cases(recs)


def row(frame, **where):
    out = frame
    for k, v in where.items():
        out = out.filter(pl.col(k) == v)
    assert out.height == 1, where
    return out.row(0, named=True)


def test_known_rates_and_columns():
    cases = acc_cases({"CRC": (40, 30), "NPS": (50, 20)})
    # Plus 10 cases where accommodation was a priority but availability was not recorded,
    # and 5 cases where it was not a priority at all.
    cases = pl.concat([cases, exact_cases([{PRIO: True}] * 10 + [{}] * 5)])
    out = rates.rates(cases, measures="availability", factors="accommodation", by="provider")
    assert out.columns == list(rates.RATE_COLUMNS)
    a = row(out, breakdown="all")
    assert (a["n_priority"], a["n"], a["n_yes"]) == (100, 90, 50)
    assert a["percent_yes"] == pytest.approx(100 * 50 / 90, abs=1e-12)
    crc, nps = row(out, group="CRC"), row(out, group="NPS")
    # exact_cases puts cases in CRC unless told otherwise: the 10 unrecorded are CRC
    assert (crc["n_priority"], crc["n"], crc["n_yes"], crc["percent_yes"]) == (50, 40, 30, 75.0)
    assert (nps["n"], nps["n_yes"], nps["percent_yes"]) == (50, 20, 40.0)
    assert (
        crc["difference_pp"] == pytest.approx(-35.0) and crc["difference_basis"] == "NPS minus CRC"
    )
    assert crc["marker"] is None and not crc["low_reliability"]
    assert a["difference_pp"] is None


def test_bulletin_factor_and_measure_order_and_selection():
    cases = random_cases(300, seed=5)
    out = rates.rates(
        cases, measures=["partner", "availability"], factors=["attitudes", "ete", "accommodation"]
    )
    assert out["measure"].unique(maintain_order=True).to_list() == ["availability", "partner"]
    assert out["factor"].unique(maintain_order=True).to_list() == [
        "accommodation",
        "ete",
        "attitudes",
    ]
    assert out["figure"].unique(maintain_order=True).to_list() == [1, 4]
    # aliases from the schema work
    alias = rates.rates(
        cases, measures="partner_contribution", factors="education_training_employment"
    )
    assert alias["factor"].to_list() == ["ete"] and alias["measure"].to_list() == ["partner"]


def test_unknown_measure_factor_breakdown_are_usage_errors():
    cases = random_cases(50)
    for kwargs, word in (
        ({"measures": "speed"}, "measure"),
        ({"factors": "gambling"}, "factor"),
        ({"by": "shoe_size"}, "breakdown"),
    ):
        with pytest.raises(BadRequest, match=f"unknown {word}.*choose from"):
            rates.rates(cases, **kwargs)


def test_not_recorded_is_an_explicit_group_and_all_levels_are_listed():
    cases = acc_cases({"female": (35, 10)}, column="gender")
    cases = pl.concat([cases, acc_cases({None: (4, 4)}, column="gender")])
    out = rates.rates(cases, measures="availability", factors="accommodation", by="gender")
    groups = out.filter(pl.col("breakdown") == "gender")
    assert groups["group"].to_list() == ["male", "female", "not_recorded"]
    assert groups["group_label"].to_list() == ["Male", "Female", "Not recorded"]
    assert groups["n"].to_list() == [0, 35, 4]
    assert groups["marker"].to_list() == ["[z]", None, "[u]"]
    male = row(groups, group="male")
    assert male["percent_yes"] is None and male["ci_lower"] is None
    # only one group with cases: no difference
    assert row(groups, group="female")["difference_pp"] is None


def test_no_not_recorded_row_when_every_value_is_known():
    out = rates.rates(
        acc_cases({"CRC": (40, 30), "NPS": (50, 20)}),
        factors="accommodation",
        measures="availability",
        by="provider",
    )
    assert "not_recorded" not in out["group"].to_list()


def test_more_than_two_groups_show_the_range():
    cases = acc_cases({"white": (40, 20), "black": (40, 30), "asian": (40, 10)}, column="ethnicity")
    out = rates.rates(cases, measures="availability", factors="accommodation", by="inspection")
    assert row(out, breakdown="inspection", group="Testshire")["difference_pp"] is None  # one group
    cases = pl.concat(
        [
            acc_cases({"CRC": (40, 20)}, extra={"inspection": "A"}),
            acc_cases({"CRC": (40, 30)}, extra={"inspection": "B"}),
            acc_cases({"CRC": (40, 10)}, extra={"inspection": "C"}),
        ]
    )
    cases = cases.with_columns(pl.Series("inspection", ["A"] * 40 + ["B"] * 40 + ["C"] * 40))
    out = rates.rates(cases, measures="availability", factors="accommodation", by="inspection")
    r = row(out, breakdown="inspection", group="A")
    assert r["difference_pp"] == pytest.approx(50.0)
    assert r["difference_basis"] == "range: highest (B) minus lowest (C)"


# ---- small numbers -------------------------------------------------------------------


def test_low_reliability_flag_without_suppression():
    cases = acc_cases({"CRC": (29, 10), "NPS": (30, 10)})
    out = rates.rates(cases, measures="availability", factors="accommodation", by="provider")
    crc, nps = row(out, group="CRC"), row(out, group="NPS")
    assert crc["low_reliability"] and crc["marker"] == "[u]" and crc["n_yes"] == 10
    assert not nps["low_reliability"] and nps["marker"] is None
    out = rates.rates(
        cases, measures="availability", factors="accommodation", by="provider", min_n=10
    )
    assert row(out, group="CRC")["marker"] is None


def test_suppression_hides_the_small_cell_and_the_next_smallest():
    # CRC 12 is below 30 (primary); NPS 80 and "Not recorded" 40 are not; the next
    # smallest, Not recorded, is suppressed too, so CRC cannot be worked out as
    # all-cases minus the others.
    cases = pl.concat(
        [
            acc_cases({"CRC": (12, 5), "NPS": (80, 40)}),
            acc_cases({"NPS": (40, 20)}, extra={"gender": None}),
        ]
    )
    cases = cases.with_columns(
        gender=pl.when(pl.int_range(pl.len()) < 92)
        .then(pl.lit("male"))
        .cast(cases.schema["gender"])
    )
    out = rates.rates(
        cases,
        measures="availability",
        factors="accommodation",
        by=["provider", "gender"],
        suppress=True,
    )
    crc = row(out, breakdown="provider", group="CRC")
    assert (
        crc["suppressed"],
        crc["marker"],
        crc["n_yes"],
        crc["percent_yes"],
        crc["ci_lower"],
    ) == ("primary", "[c]", None, None, None)
    assert crc["n"] == 12  # the base is still shown
    nps = row(out, breakdown="provider", group="NPS")
    assert nps["suppressed"] == "secondary" and nps["marker"] == "[c]" and nps["n_yes"] is None
    assert crc["difference_pp"] is None and "suppressed" in crc["difference_basis"]
    # gender: male 92, female 0 ([z]), not recorded 40: nothing small, nothing suppressed
    g = out.filter(pl.col("breakdown") == "gender")
    assert g["suppressed"].null_count() == g.height
    assert g["marker"].to_list() == [None, "[z]", None]
    # the all-cases row is fine
    assert row(out, breakdown="all")["marker"] is None


def test_secondary_suppression_picks_the_next_smallest_and_skips_empty_groups():
    # Three inspections: A 10 (primary), B 50, C 35, D 0 cases: C is the next smallest.
    parts = [
        acc_cases({"CRC": (n, n // 2)}, extra={"inspection": name})
        for name, n in (("A", 10), ("B", 50), ("C", 35))
    ]
    cases = pl.concat(parts).with_columns(
        pl.Series("inspection", ["A"] * 10 + ["B"] * 50 + ["C"] * 35)
    )
    out = rates.rates(
        cases, measures="availability", factors="accommodation", by="inspection", suppress=True
    )
    s = dict(out.filter(pl.col("breakdown") == "inspection").select("group", "suppressed").rows())
    assert s == {"A": "primary", "B": None, "C": "secondary"}


def test_two_primary_cells_need_no_secondary():
    cases = acc_cases({"CRC": (10, 5), "NPS": (12, 6)})
    out = rates.rates(
        cases, measures="availability", factors="accommodation", by="provider", suppress=True
    )
    assert out.filter(pl.col("breakdown") == "provider")["suppressed"].to_list() == [
        "primary",
        "primary",
    ]
    assert row(out, breakdown="all")["suppressed"] == "primary"  # 22 < 30 as well


def test_min_n_must_be_positive():
    with pytest.raises(BadRequest, match="min-n"):
        rates.rates(acc_cases({"CRC": (5, 1)}), min_n=0)


# ---- --where -------------------------------------------------------------------------


def test_where_by_code_label_any_case_and_several_values():
    cases = random_cases(600, seed=11)
    full = rates.rates(cases, measures="availability", factors="thinking", by="provider")
    nps = rates.rates(cases, measures="availability", factors="thinking", where=["Provider=nps"])
    assert row(nps, breakdown="all")["n"] == row(full, group="NPS")["n"]
    both = rates.rates(
        cases, measures="availability", factors="thinking", where={"provider": ["CRC", "NPS"]}
    )
    assert row(both, breakdown="all")["n"] == row(full, breakdown="all")["n"]
    # labels: "Post-custody", "High/Very high"; combined conditions
    lf, conds = rates.filter_cases(
        cases, ["supervision=post-custody", "ogrs=High/Very high", "gender=Female"]
    )
    got = lf.collect()
    assert got.height > 0
    assert set(got["supervision"].to_list()) == {"post_custody"}
    assert set(got["ogrs_group"].to_list()) == {"high_very_high"}
    assert set(got["gender"].to_list()) == {"female"}
    assert (
        rates.describe_where(conds)
        == "supervision = Post-custody and ogrs_band = High/Very high and gender = Female"
    )


def test_where_not_recorded_booleans_inspection_and_raw_columns():
    cases = random_cases(800, seed=12, missing=0.1)
    lf, _ = rates.filter_cases(cases, ["gender=not recorded"])
    assert lf.collect()["gender"].null_count() == lf.collect().height > 0
    lf, _ = rates.filter_cases(cases, ["mappa=yes"])
    assert lf.collect()["mappa"].to_list() == [True] * lf.collect().height
    lf, _ = rates.filter_cases(cases, ["inspection=durham"])
    assert set(lf.collect()["inspection"].to_list()) == {"Durham"}
    # "ethnicity" is the White/BAME breakdown, but a finer stored category also works
    lf, _ = rates.filter_cases(cases, ["ethnicity=black"])
    assert set(lf.collect()["ethnicity"].to_list()) == {"black"}
    lf, _ = rates.filter_cases(cases, ["ethnicity=BAME"])
    assert set(lf.collect()["ethnic_group"].to_list()) == {"bame"}
    lf, _ = rates.filter_cases(cases, [f"{schema.priority_column('drugs')}=yes"])
    assert lf.collect()[schema.priority_column("drugs")].all()


def test_where_errors_list_the_choices():
    cases = random_cases(100)
    with pytest.raises(
        BadRequest, match=r"unknown --where key 'colour'; choose from: provider, gender"
    ):
        rates.rates(cases, where=["colour=red"])
    with pytest.raises(
        BadRequest, match=r"unknown value 'XYZ' for --where provider; choose from: CRC, NPS"
    ):
        rates.rates(cases, where=["provider=XYZ"])
    with pytest.raises(BadRequest, match="choose from: Cumbria, Durham"):
        rates.rates(cases, where=["inspection=Atlantis"])
    with pytest.raises(BadRequest, match="key=value"):
        rates.rates(cases, where=["provider"])
    with pytest.raises(
        BadRequest, match="unknown --where key 'case_id'"
    ):  # identifying: not offered
        rates.rates(cases, where=["case_id=C0000001"])


def test_frames_without_derived_columns_are_accepted_and_missing_columns_reported():
    cases = random_cases(200, seed=2)
    a = rates.rates(cases, by="age_group")
    b = rates.rates(schema.with_derived(cases), by="age_group")
    assert a.equals(b)
    with pytest.raises(BadInput, match="lacks"):
        rates.rates(cases.drop("gender"))


def test_lazy_input_gives_the_same_answer():
    cases = random_cases(300, seed=8)
    assert rates.rates(cases.lazy(), by="provider").equals(rates.rates(cases, by="provider"))


def test_bulletin_results_equal_the_separate_calls():
    cases = random_cases(700, seed=9)
    both = rates.bulletin(cases)
    assert both.rates.equals(rates.rates(cases, by=schema.DEFAULT_BREAKDOWNS))
    assert both.protection.equals(rates.protection(cases))


# ---- Wilson --------------------------------------------------------------------------


def test_wilson_matches_statsmodels_on_a_grid():
    n = np.repeat(np.arange(1, 120), 120)
    k = np.concatenate([np.arange(120) for _ in range(1, 120)])
    keep = k <= n
    n, k = n[keep], k[keep]
    lo, hi = rates.wilson_interval(k, n)
    slo, shi = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert np.max(np.abs(lo - slo)) < 1e-12 and np.max(np.abs(hi - shi)) < 1e-12


def test_wilson_known_value_and_edges():
    # R 4.x: print(prop.test(x = 99, n = 144, correct = FALSE)$conf.int[1:2], digits = 15)
    #   [1] 0.607753788316178 0.757502347755183
    lo, hi = rates.wilson_interval(99, 144)
    assert abs(float(lo) - 0.607753788316178) < 1e-14 and abs(float(hi) - 0.757502347755183) < 1e-14
    elo, ehi = rates.wilson_interval([0, 5, 3], [5, 5, 0])
    assert elo[0] == 0.0 and ehi[1] == 1.0 and np.isnan(elo[2]) and np.isnan(ehi[2])
    lo90, hi90 = rates.wilson_interval(99, 144, confidence=0.90)
    assert lo90 > lo and hi90 < hi
