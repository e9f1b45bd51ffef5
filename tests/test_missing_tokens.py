"""Not-recorded spellings (issue 9, item 6): "Unknown", "Not known", "Not recorded",
"Don't know" (any case, spaces around) are missing, never "no", wherever a column may be
missing; they form the "Not recorded" group; `hmip ingest` and `hmip regress --input`
share one definition of missing (`hmip_cli.missing`), so `#N/A` reads alike in both."""

from __future__ import annotations

import io

import polars as pl
import pytest
from test_ingest_support import as_text, make_cases

from hmip_cli import missing, store
from hmip_cli.stepwise import read_table

SPELLINGS = (
    "Unknown",
    " not known ",
    "NOT RECORDED",
    "Don't know",
    "don\u2019t know",
    "#N/A",
    "n/a",
    ".",
    "NaN",
)


def _cases(n: int = 12) -> pl.DataFrame:
    """n valid cases as text: every attribute known, mappa yes/no, no priorities."""
    text = as_text(make_cases(n, seed=4, prefix="M"))
    return text.with_columns(
        gender=pl.lit("male"),
        ethnicity=pl.lit("white"),
        age=pl.lit("40"),
        rosh=pl.lit("low"),
        mappa=pl.lit("no"),
        ogrs_score=pl.lit("30"),
        ogrs_band=pl.lit("low"),
        inspection_date=pl.lit("2016-05-01"),
    )


def _set(frame: pl.DataFrame, column: str, values: list[str]) -> pl.DataFrame:
    """`values` in the first len(values) rows of `column`."""
    k = len(values)
    head = frame.head(k).with_columns(pl.Series(column, values, dtype=pl.String))
    return pl.concat([head, frame.slice(k)])


@pytest.mark.parametrize(
    "column", ["gender", "ethnicity", "age", "rosh", "mappa", "ogrs_score", "inspection_date"]
)
def test_not_recorded_spellings_are_missing_not_no(tmp_path, cli, column):
    frame = _set(_cases(), column, list(SPELLINGS))
    if column == "ogrs_score":
        frame = frame.with_columns(ogrs_band=pl.lit(None, pl.String))
    src = tmp_path / "c.csv"
    frame.write_csv(src)
    data = tmp_path / "s"
    r = cli("ingest", src, "--data", data)
    assert r.exit_code == 0, r.stderr
    got = store.load_cases(data).get_column(column)
    assert got.head(len(SPELLINGS)).is_null().all()  # missing: never False for mappa
    assert got.slice(len(SPELLINGS)).is_not_null().all()


def test_unknown_attributes_form_the_not_recorded_group(tmp_path, cli):
    frame = _set(_cases(12), "gender", ["Unknown", "not known", "Don't know"])
    frame = _set(frame, "ethnicity", ["NOT RECORDED", "#N/A"])
    src = tmp_path / "c.csv"
    frame.write_csv(src)
    data = tmp_path / "s"
    assert cli("ingest", src, "--data", data).exit_code == 0
    profile = pl.read_csv(io.StringIO(cli("sample", "--data", data, "-f", "csv").stdout))
    female = profile.filter(pl.col("characteristic") == "female").row(0, named=True)
    assert female["not_recorded"] == 3 and female["base"] == 9 and female["n"] == 0
    # Priority cases broken down by gender: the three unknowns are their own group.
    frame = frame.with_columns(accommodation_priority=pl.lit("yes"))
    frame = frame.with_columns(accommodation_available=pl.lit("yes"))
    frame.write_csv(src)
    assert cli("ingest", src, "--data", data, "--replace").exit_code == 0
    out = cli("rates", "--data", data, "--by", "gender", "--factor", "accommodation", "-f", "csv")
    rates = pl.read_csv(io.StringIO(out.stdout)).filter(
        (pl.col("measure") == "availability") & (pl.col("breakdown") == "gender")
    )
    groups = dict(zip(rates["group"], rates["n_priority"]))
    assert groups == {"male": 9, "female": 0, "not_recorded": 3}
    labels = set(rates["group_label"])
    assert "Not recorded" in labels
    human = cli("rates", "--data", data, "--by", "ethnicity", "--factor", "accommodation").stdout
    assert "Not recorded" in human


def test_a_judgement_not_recorded_is_a_warning_where_it_should_have_been_made(tmp_path, cli):
    frame = _cases(4).with_columns(
        accommodation_priority=pl.Series(["yes", "yes", "no", "no"]),
        accommodation_available=pl.Series(["Don't know", "yes", "Unknown", None]),
        accommodation_delivered=pl.Series(["yes", "no", None, None]),
    )
    src = tmp_path / "c.csv"
    frame.write_csv(src)
    data = tmp_path / "s"
    r = cli("ingest", src, "--data", data)
    assert r.exit_code == 0, r.stderr
    assert "row 2, column 'accommodation_available'" in r.stderr
    assert "is a priority but this judgement is blank (or unknown)" in r.stderr
    assert "row 4" not in r.stderr  # not a priority: "Unknown" is simply not applicable
    got = store.load_cases(data)["accommodation_available"].to_list()
    assert got == [None, True, None, None]
    r = cli("ingest", src, "--data", tmp_path / "t", "--strict")
    assert r.exit_code == 1


@pytest.mark.parametrize(
    "column, value", [("provider", "Unknown"), ("accommodation_priority", "Don't know")]
)
def test_a_required_column_must_be_recorded(tmp_path, cli, column, value):
    frame = _set(_cases(3), column, [value])
    src = tmp_path / "c.csv"
    frame.write_csv(src)
    r = cli("ingest", src, "--data", tmp_path / "s")
    assert r.exit_code == 1
    assert f"row 2, column '{column}': required: must not be blank, NA or unknown" in r.stderr
    assert not (tmp_path / "s").exists()


def test_a_levels_own_spelling_wins_over_the_missing_spellings():
    from hmip_cli.ingest.validate import _parse_table
    from hmip_cli.schema import Column

    col = Column("x", pl.Enum(["known", "unknown"]), "test", levels=("known", "unknown"))
    table = _parse_table(col, ("Unknown", "known", "Not known")).collect()
    got = dict(zip(table["raw"].to_list(), table["parsed"].cast(pl.String).to_list()))
    assert got["Unknown"] == "unknown" and got["known"] == "known"
    assert got["Not known"] is None and table["ok"].all()


# ---- one definition for both readers -------------------------------------------------------


def _variants() -> list[str]:
    out = []
    for token in missing.MISSING:
        out += [token, token.upper(), token.title(), f"  {token} "]
    return out


def test_ingest_and_regress_input_read_the_same_cells_as_missing(tmp_path, cli):
    """Every spelling of every token, in a number column: missing for both readers."""
    variants = _variants()
    frame = pl.concat([_cases(len(variants))]).with_columns(age=pl.Series(variants))
    src = tmp_path / "c.csv"
    frame.write_csv(src)
    r = cli("ingest", src, "--data", tmp_path / "s")
    assert r.exit_code == 0, r.stderr
    assert store.load_cases(tmp_path / "s")["age"].is_null().all()
    table, _ = read_table(src, columns=["age", "mappa"])
    assert table["age"].is_null().all()
    # ... and in a yes/no column (mappa): missing, not "no", in both.
    frame = frame.with_columns(age=pl.lit("40"), mappa=pl.Series(variants))
    frame.write_csv(src)
    r = cli("ingest", src, "--data", tmp_path / "t")
    assert r.exit_code == 0, r.stderr
    assert store.load_cases(tmp_path / "t")["mappa"].is_null().all()
    table, _ = read_table(src, columns=["age", "mappa"])
    assert table["mappa"].is_null().all() and table["age"].dtype == pl.Int64


def test_hash_na_was_a_bad_value_in_ingest_and_is_missing_in_both(tmp_path, cli):
    """The regression: `#N/A` (Excel's formula error) in a number or category column."""
    frame = _set(_cases(3), "age", ["#N/A"])
    frame = _set(frame, "rosh", ["#N/A", "Unknown"])
    src = tmp_path / "c.csv"
    frame.write_csv(src)
    assert cli("ingest", src, "--data", tmp_path / "s").exit_code == 0
    stored = store.load_cases(tmp_path / "s")
    assert stored["age"].to_list()[0] is None and stored["rosh"].head(2).is_null().all()
    table, _ = read_table(src, columns=["age", "rosh"])
    assert table["age"].to_list() == [None, 40, 40] and table["rosh"].head(2).is_null().all()


def test_regress_input_reads_not_recorded_outcomes_as_missing(tmp_path, cli):
    """A case with an outcome of "Unknown" is left out of the model, not counted as "no"."""
    rows = ["y,x"] + [f"{y},{x}" for y, x in [("1", "a"), ("0", "b")] * 20]
    rows += ["Unknown,a", "Don't know,b", "not recorded,a"]
    src = tmp_path / "r.csv"
    src.write_text("\n".join(rows) + "\n")
    table, _ = read_table(src)
    assert table["y"].dtype == pl.Int64 and table["y"].null_count() == 3
