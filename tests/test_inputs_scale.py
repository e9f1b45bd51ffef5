"""`regress --input` at scale (issue 13, item 1): only the outcome and candidate columns are
read, and text is normalised once per distinct value. Checked against the row-by-row
normalisation it replaced (kept here as the reference) and on what the command reads."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from test_json_support import doc

from hmip_cli.stepwise import MISSING_TOKENS, normalise_frame, read_table
from hmip_cli.stepwise.design import WEIGHT
from hmip_cli.stepwise.inputs import read_cases

_BOOL_TEXT = {"true": True, "false": False}


def row_by_row(frame: pl.DataFrame) -> pl.DataFrame:
    """The former `normalise_frame`, verbatim in substance: every row examined."""
    out = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype in (pl.Float32, pl.Float64):
            out.append(col.fill_nan(None))
            continue
        if dtype != pl.String:
            out.append(col)
            continue
        s = frame.get_column(name).str.strip_chars()
        missing = s.str.to_lowercase().is_in(list(MISSING_TOKENS)).fill_null(False)
        s = s.set(missing, None) if s.len() else s
        present = s.drop_nulls()
        if present.len() == 0:
            out.append(pl.lit(s))
            continue
        as_int = s.cast(pl.Int64, strict=False)
        if as_int.null_count() == s.null_count():
            out.append(pl.lit(as_int).alias(name))
            continue
        as_float = s.cast(pl.Float64, strict=False)
        if as_float.null_count() == s.null_count() and as_float.drop_nulls().is_finite().all():
            out.append(pl.lit(as_float).alias(name))
            continue
        if present.str.to_lowercase().is_in(list(_BOOL_TEXT)).all():
            out.append(
                pl.lit(
                    s.str.to_lowercase().replace_strict(
                        _BOOL_TEXT, default=None, return_dtype=pl.Boolean
                    )
                ).alias(name)
            )
            continue
        out.append(pl.lit(s).alias(name))
    return frame.select(out)


# Cells drawn from the spellings that decide a column's type: numbers, true/false in any
# case, missing tokens, padding, and codes.
CELL = st.one_of(
    st.none(),
    st.sampled_from(MISSING_TOKENS),
    st.sampled_from(["1", " 2", "3 ", "-4", "1.5", "2e3", "inf", "nan", "NaN", "1e400"]),
    st.sampled_from(["true", "FALSE", " True ", "false", "yes", "no"]),
    st.sampled_from(["a", " a", "b ", "NPS", "CRC", ""]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(CELL, min_size=4, max_size=4), min_size=0, max_size=30))
def test_distinct_value_normalisation_equals_the_row_path(rows):
    cols = {f"c{j}": [r[j] for r in rows] for j in range(4)}
    frame = pl.DataFrame(cols, schema=dict.fromkeys(cols, pl.String))
    frame = frame.with_columns(f=pl.Series([float("nan")] * len(rows), dtype=pl.Float64))
    got, want = normalise_frame(frame), row_by_row(frame)
    assert got.schema == want.schema
    assert got.equals(want, null_equal=True)


def test_only_the_named_columns_are_read(tmp_path, monkeypatch):
    wide = pl.DataFrame({"y": [True, False, True], "a": ["x", "y", "x"], "junk": ["1", "2", "3"]})
    for path in (tmp_path / "w.parquet", tmp_path / "w.csv"):
        if path.suffix == ".csv":
            wide.write_csv(path)
        else:
            wide.write_parquet(path)
        frame, _ = read_table(path, columns=["y", "a", "y"])
        assert frame.columns == ["y", "a"], path
        # A name the file lacks: everything is read, so the caller can list the columns.
        assert read_table(path, columns=["y", "nope"])[0].columns == ["y", "a", "junk"]
    tall = pl.concat([wide] * 10)  # 30 cases, 2 distinct rows of (a, y): collapsed
    for path in (tmp_path / "t.parquet", tmp_path / "t.csv"):
        tall.write_csv(path) if path.suffix == ".csv" else tall.write_parquet(path)
        # The lazy scan's plan reads only those columns (Polars' projection pushdown).
        plans = _plans(monkeypatch)
        got = read_cases(path, columns=["a", "y"])
        assert got.frame.columns == ["a", "y", WEIGHT] and got.n_cases == 30
        assert sorted(got.frame[WEIGHT].to_list()) == [10, 20]
        assert len(plans) == 1 and "PROJECT 2/3 COLUMNS" in plans[0], plans


def _plans(monkeypatch) -> list[str]:
    """The query plans `read_cases` collapses (design.collapse_cases, spied on)."""
    from hmip_cli.stepwise import design

    plans: list[str] = []
    real = design.collapse_cases

    def spy(cases, columns):
        if isinstance(cases, pl.LazyFrame):
            plans.append(cases.group_by(columns).agg(pl.len()).explain())
        return real(cases, columns)

    monkeypatch.setattr(design, "collapse_cases", spy)
    return plans


def test_regress_input_reads_only_the_model_columns(tmp_path, cli, monkeypatch, synth_cases):
    from hmip_cli import schema

    cases = schema.with_derived(synth_cases(2000, 4))
    path = tmp_path / "wide.parquet"
    cases.write_parquet(path)
    plans = _plans(monkeypatch)
    argv = ["regress", "--input", str(path), "--outcome", "thinking_delivered"]
    argv += ["--candidates", "provider,gender,age", "--format", "json"]
    narrow = cli(*argv)
    assert narrow.exit_code == 0, narrow.stderr
    assert len(plans) == 1 and f"PROJECT 4/{cases.width} COLUMNS" in plans[0], plans
    # The same model as from a file holding only those columns.
    small = tmp_path / "small.parquet"
    cases.select("thinking_delivered", "provider", "gender", "age").write_parquet(small)
    argv[2] = str(small)
    again, first = doc(cli(*argv).stdout), doc(narrow.stdout)
    assert again["models"] == first["models"] and again["tables"] == first["tables"]
