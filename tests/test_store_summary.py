"""The store's summary in its metadata (issue 13, item 4): the content hash and the counts
`hmip info` shows are computed when the store is written, so `store_info` and `hmip info`
read the Parquet footer only; stores written before that are summarised on demand."""

from __future__ import annotations

import dataclasses
import json

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hmip_cli import schema, store


def _stored(example_store) -> pl.DataFrame:
    return pl.read_parquet(example_store / store.CASES_FILE)


def _meta(data) -> dict:
    return json.loads(pl.read_parquet_metadata(data / store.CASES_FILE)[store.META_KEY])


def test_the_summary_is_written_with_the_store(example_store):
    frame = _stored(example_store)
    summary = _meta(example_store)["summary"]
    assert summary["content_hash"] == store.content_hash(frame)
    expected = (
        frame.group_by("inspection", "provider")
        .agg(pl.len().alias("n_cases"))
        .with_columns(pl.col("provider").cast(pl.String))
        .sort("inspection", "provider", nulls_last=True)
    )
    got = pl.DataFrame(summary["counts"]).select("inspection", "provider", "n_cases")
    assert got.to_dicts() == expected.to_dicts()
    assert sum(r["n_cases"] for r in summary["counts"]) == frame.height == 1066
    assert summary["first_date"] == str(frame["inspection_date"].min())


def test_store_info_reads_the_footer_only(example_store, monkeypatch):
    expected = store.store_info(example_store)

    def no_reading(*args, **kwargs):
        raise AssertionError("store_info read the case data")

    monkeypatch.setattr(store.pl, "read_parquet", no_reading)
    info = store.store_info(example_store)
    assert info == expected
    assert info.n_cases == 1066 and len(info.content_hash) == 64 and info.counts


def _without_summary(src, dst) -> None:
    """A store as hmip wrote it before the summary existed: the same cases and files."""
    frame = pl.read_parquet(src / store.CASES_FILE)
    meta = _meta(src)
    del meta["summary"]
    dst.mkdir()
    frame.write_parquet(dst / store.CASES_FILE, metadata={store.META_KEY: json.dumps(meta)})


def test_a_store_without_the_summary_is_summarised_on_demand(example_store, tmp_path, cli):
    old = tmp_path / "old"
    _without_summary(example_store, old)
    assert store.store_info(old) == dataclasses.replace(store.store_info(example_store), path=old)
    new_out = cli("info", "--data", str(example_store), "--format", "json")
    old_out = cli("info", "--data", str(old), "--format", "json")
    assert old_out.exit_code == 0
    assert old_out.stdout.replace(str(old), "X") == new_out.stdout.replace(str(example_store), "X")


@pytest.mark.parametrize(
    "bad",
    [
        {"content_hash": "not a hash"},
        {"counts": [{"inspection": "Durham", "provider": "NPS", "n_cases": 5}]},  # wrong total
        {"first_date": "yesterday"},
        {"inspections": "Durham"},
    ],
)
def test_a_malformed_summary_is_not_trusted(example_store, tmp_path, bad):
    data = tmp_path / "s"
    frame = pl.read_parquet(example_store / store.CASES_FILE)
    meta = _meta(example_store)
    meta["summary"] = {**meta["summary"], **bad}
    data.mkdir()
    frame.write_parquet(data / store.CASES_FILE, metadata={store.META_KEY: json.dumps(meta)})
    info = store.store_info(data)
    truth = store.store_info(example_store)
    assert (info.content_hash, info.counts, info.first_date, info.inspections) == (
        truth.content_hash,
        truth.counts,
        truth.first_date,
        truth.inspections,
    )


# ---- the content hash ---------------------------------------------------------------------


def test_the_hash_does_not_depend_on_batches(synth_cases):
    cases = synth_cases(3000, 5)
    whole = store.content_hash(cases)
    for sizes in ([1, 2, 3, 5, 8, 13, 2968], [1000, 1000, 1000], [7] * 428 + [4]):
        hasher, start = store.ContentHasher(), 0
        for size in sizes:
            hasher.update(cases.slice(start, size))
            start += size
        assert start == cases.height and hasher.hexdigest() == whole, sizes


def _one_change(cases: pl.DataFrame, column: str, row: int, value) -> pl.DataFrame:
    dtype = cases.schema[column]
    new = pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value, dtype=dtype))
    return cases.with_columns(new.otherwise(pl.col(column)).alias(column))


@settings(max_examples=40, deadline=None)
@given(row=st.integers(0, 199), col=st.integers(0, len(schema.stored_schema()) - 1))
def test_any_one_cell_changes_the_hash(synth_cases, row, col):
    cases = synth_cases(200, 3)
    name, dtype = list(schema.stored_schema().items())[col]
    current = cases[name][row]
    if current is None:
        value = {pl.Boolean: True, pl.Int16: 40, pl.Date: cases["inspection_date"][0]}.get(
            dtype.base_type(), None
        )
        value = value if value is not None else (dtype.categories[0] if dtype == pl.Enum else "x")
    else:
        value = None  # a value becomes missing
    assert store.content_hash(_one_change(cases, name, row, value)) != store.content_hash(cases)


def test_the_hash_sees_text_moved_between_rows_and_false_versus_missing(synth_cases):
    cases = synth_cases(20, 3)
    a = cases.with_columns(notes=pl.Series(["ab", "c", *[None] * 18]))
    b = cases.with_columns(notes=pl.Series(["a", "bc", *[None] * 18]))
    assert store.content_hash(a) != store.content_hash(b)
    j = schema.judgement_column(schema.FACTORS[0], schema.MEASURES[0])
    assert store.content_hash(_one_change(cases, j, 0, False)) != store.content_hash(
        _one_change(cases, j, 0, None)
    )


# ---- analyses read neither ids nor notes -------------------------------------------------


def test_analyses_load_the_store_without_ids_and_notes(example_store, monkeypatch):
    from hmip_cli.cli import common

    full = store.load_cases(example_store)
    lean = store.load_cases(example_store, identifying=False)
    assert lean.equals(full.drop(schema.IDENTIFYING_COLUMNS))
    seen: list = []
    real = store.pl.read_parquet
    monkeypatch.setattr(store.pl, "read_parquet", lambda p, **kw: seen.append(kw) or real(p, **kw))
    scan = common.load_cases(example_store)  # a lazy scan: commands read no row here
    assert not seen and not set(schema.IDENTIFYING_COLUMNS) & set(scan.collect_schema().names())
    assert scan.collect().equals(lean)
    cases, info = store.load_cases_and_info(example_store, identifying=False)
    assert len(seen) == 1
    for kw in seen:
        assert not set(schema.IDENTIFYING_COLUMNS) & set(kw["columns"])
    assert info == store.store_info(example_store) and cases.equals(lean)


def test_an_old_store_still_gets_its_hash_when_ids_are_not_read(example_store, tmp_path):
    old = tmp_path / "old"
    _without_summary(example_store, old)
    _, info = store.load_cases_and_info(old, identifying=False)
    assert info.content_hash == store.store_info(example_store).content_hash
