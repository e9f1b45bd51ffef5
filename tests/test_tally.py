"""One scan for the whole report (issue 13): counts summed over a tally of the cases (their
distinct patterns of a few columns, `hmip_cli.tally`) equal the counts over the cases, for
every kind of count the rates, profile and models take; the report's analyses give the
same frames from the tally as from the rows; the store scan equals the store load; and the
synthetic-data check reads the first rows first yet answers as the full check does."""

import json

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hmip_cli import rates as R
from hmip_cli import schema, store
from hmip_cli.report import content as C
from hmip_cli.report import provenance
from hmip_cli.report.write import _store_is_synthetic
from hmip_cli.stepwise import sweeps
from hmip_cli.tally import Tally, cases_agg, recorded_agg, sum_by, tally, yes_agg

KIND = pl.Enum(["a", "b", "c"])


@st.composite
def case_frames(draw):
    """Few distinct key values (so patterns repeat), nulls everywhere."""
    n = draw(st.integers(0, 60))
    opt = st.none() | st.booleans()
    return pl.DataFrame(
        {
            "k": draw(
                st.lists(st.none() | st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n)
            ),
            "flag": draw(st.lists(opt, min_size=n, max_size=n)),
            "g": draw(st.lists(st.sampled_from(["x", "y"]), min_size=n, max_size=n)),
            "u": draw(st.lists(opt, min_size=n, max_size=n)),
            "v": draw(st.lists(opt, min_size=n, max_size=n)),
        },
        schema={"k": KIND, "flag": pl.Boolean, "g": pl.String, "u": pl.Boolean, "v": pl.Boolean},
    )


AGGS = [
    cases_agg("cases"),
    recorded_agg("u_n", "u"),
    yes_agg("u_y", "u"),
    yes_agg("v_y", "v"),
    recorded_agg("k_n", "k"),  # a key column: cases where it is recorded
    yes_agg("flag_y", "flag"),  # a yes/no key column
    yes_agg("k_is_a", when=pl.col("k").cast(pl.String) == "a"),  # null k: not a hit
]


def _same(a: pl.DataFrame, b: pl.DataFrame, keys: list[str]) -> None:
    cast = [pl.col(c).cast(pl.Int64) for c in a.columns if c not in keys]
    a = a.with_columns(cast).sort(keys, nulls_last=True) if keys else a.with_columns(cast)
    b = b.with_columns(cast).sort(keys, nulls_last=True) if keys else b.with_columns(cast)
    assert a.equals(b), (a, b)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    frame=case_frames(), by=st.sampled_from([[], ["k"], ["g"], ["k", "flag"], ["g", "k", "flag"]])
)
def test_sums_over_a_tally_equal_sums_over_the_cases(frame, by):
    t = tally(frame, ["k", "flag", "g"], ["u", "v", "k"])  # k counted as a key only
    assert t.counted == ("u", "v") and t.n_cases == frame.height
    _same(sum_by(frame, by, AGGS), sum_by(t, by, AGGS), by)


def test_a_tally_refuses_what_it_cannot_answer():
    frame = pl.DataFrame({"k": ["a"], "u": [True], "w": [False]})
    t = tally(frame, ["k"], ["u"])
    with pytest.raises(KeyError, match="not by"):
        sum_by(t, ["w"], [cases_agg("n")])
    with pytest.raises(KeyError, match="does not count"):
        sum_by(t, ["k"], [yes_agg("w", "w")])


@pytest.fixture(scope="module")
def derived(example_cases) -> pl.DataFrame:
    return schema.with_derived(example_cases)


@pytest.mark.parametrize("cluster", ["inspection", None])
def test_the_reports_analyses_from_the_tally_equal_those_from_the_rows(derived, cluster):
    params = C.ReportParams(cluster=cluster, date="2019-01-31")
    t = C._tally(derived, params)
    assert isinstance(t, Tally) and t.frame.height < derived.height == t.n_cases
    fw = params.fw
    rows, from_tally = R.bulletin(derived, fw=fw), R.bulletin(t, fw=fw)
    assert from_tally.rates.equals(rows.rates) and from_tally.protection.equals(rows.protection)
    assert R.sample_profile(t, fw=fw).equals(R.sample_profile(derived, fw=fw))
    chosen = sweeps.targets(everything=True, fw=fw)
    keep = [
        *sweeps.candidate_columns(list(params.candidates or ()), fw),
        *([cluster] if cluster else []),
    ]
    assert sweeps._target_counts(t, chosen, keep).equals(
        sweeps._target_counts(derived, chosen, keep)
    )
    with pytest.raises(Exception, match="--where"):
        R.bulletin(t, where=["inspection=Durham"], fw=fw)


def test_a_tally_is_not_used_where_a_counted_column_is_not_yes_no(derived):
    params = C.ReportParams(date="2019-01-31")
    col = params.fw.judgement_column(params.fw.areas[0], params.fw.measures[0])
    assert C._tally(derived.with_columns(pl.col(col).cast(pl.Int8)), params) is None


def test_the_store_scan_equals_the_store_load(example_store):
    lf, info = store.scan_cases_and_info(example_store)
    cases, loaded = store.load_cases_and_info(example_store, identifying=False)
    assert isinstance(lf, pl.LazyFrame) and lf.collect().equals(cases) and info == loaded
    assert not {"case_id", "notes"} & set(lf.collect_schema().names())


def _full_check(frame: pl.DataFrame) -> bool:
    """The check as it was: every row of both columns."""
    if frame.height == 0:
        return False
    checks = []
    if "case_id" in frame.columns:
        checks.append(pl.col("case_id").str.contains(r"^(SYN|SYX)-[0-9]+$").all())
    if "notes" in frame.columns:
        note = pl.col("notes").str.starts_with(provenance.NOTE_MARKER).fill_null(False)
        checks.append(note.any())
    return bool(checks) and any(frame.select(checks).row(0))


SYN = [f"SYN-{i:06d}" for i in range(1, 9)]
MARK = f"{provenance.NOTE_MARKER}: x"
FRAMES = {
    "generator ids": {"case_id": SYN},
    "generator ids, one other late": {"case_id": [*SYN[:-1], "R-1"]},
    "other ids first, a marked note late": {
        "case_id": ["R-1", *SYN[1:]],
        "notes": [None] * 7 + [MARK],
    },
    "other ids, unmarked notes": {"case_id": ["R-1"] * 8, "notes": ["free text"] * 8},
    "a marked note first": {"case_id": ["R-1"] * 8, "notes": [MARK] + [None] * 7},
    "generator ids, null notes": {"case_id": SYN, "notes": [None] * 8},
    "notes only": {"notes": [None] * 6 + [MARK, None]},
    "neither column": {"x": [1] * 8},
    "no cases": {"case_id": []},
    "fewer cases than the first look": {"case_id": SYN[:2]},
}


@pytest.mark.parametrize("name", list(FRAMES))
def test_the_synthetic_check_reads_the_first_rows_first_and_answers_as_the_full_check(
    name, monkeypatch
):
    frame = pl.DataFrame(FRAMES[name], schema_overrides={"case_id": pl.String, "notes": pl.String})
    monkeypatch.setattr(provenance, "_PEEK", 3)
    assert provenance.is_synthetic(frame) is _full_check(frame)
    assert provenance.is_synthetic(frame.lazy()) is _full_check(frame)


def test_the_store_records_whether_its_cases_are_synthetic(example_store_copy, tmp_path):
    path = example_store_copy / store.CASES_FILE
    meta = json.loads(pl.read_parquet_metadata(path)[store.META_KEY])
    assert meta["synthetic"] is True and _store_is_synthetic(example_store_copy)
    # A store written before the flag: its ids and notes are scanned, with the same answer;
    # a store of other ids: no.
    for ids, expected in ((None, True), ("R-", False)):
        frame = pl.read_parquet(path)
        if ids:
            frame = frame.with_columns(
                case_id=pl.format("R-{}", pl.int_range(pl.len())), notes=pl.lit(None, pl.String)
            )
        old = {k: v for k, v in meta.items() if k != "synthetic"}
        frame.write_parquet(path, metadata={store.META_KEY: json.dumps(old)})
        assert _store_is_synthetic(example_store_copy) is expected
