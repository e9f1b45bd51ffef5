"""The store: location, load_cases/store_info, hmip info, and content-hash stability."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from test_ingest_support import make_cases, write_csv
from test_json_support import by_title
from typer.testing import CliRunner

from hmip_cli import schema, store
from hmip_cli.cli.app import app
from hmip_cli.errors import BadInput, BadRequest

runner = CliRunner()


def test_resolve_store_order(monkeypatch, tmp_path):
    monkeypatch.delenv("HMIP_DATA", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert store.resolve_store() == tmp_path / ".local" / "share" / "hmip"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert store.resolve_store() == tmp_path / "xdg" / "hmip"
    monkeypatch.setenv("HMIP_DATA", str(tmp_path / "env"))
    assert store.resolve_store() == tmp_path / "env"
    assert store.resolve_store(tmp_path / "opt") == tmp_path / "opt"


def test_env_var_store_is_used_by_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("HMIP_DATA", str(tmp_path / "envstore"))
    src = write_csv(make_cases(3, seed=1), tmp_path / "a.csv")
    assert runner.invoke(app, ["ingest", str(src)]).exit_code == 0
    assert (tmp_path / "envstore" / store.CASES_FILE).exists()


def test_store_file_layout_and_metadata(tmp_path):
    data = tmp_path / "s"
    src = write_csv(make_cases(10, seed=1), tmp_path / "a.csv")
    assert runner.invoke(app, ["ingest", str(src), "--data", str(data)]).exit_code == 0
    raw = pl.read_parquet(data / store.CASES_FILE)
    assert raw.schema == schema.stored_schema()
    meta = json.loads(pl.read_parquet_metadata(data / store.CASES_FILE)[store.META_KEY])
    assert meta["n_cases"] == 10 and meta["files"][0]["source"] == "a.csv"


def test_content_hash_depends_on_cases_only(tmp_path):
    cases = make_cases(12, seed=2)
    a, b = tmp_path / "a", tmp_path / "b"
    write_csv(cases, tmp_path / "one.csv")
    write_csv(cases, tmp_path / "two.csv")
    runner.invoke(app, ["ingest", str(tmp_path / "one.csv"), "--data", str(a)])
    runner.invoke(app, ["ingest", str(tmp_path / "two.csv"), "--data", str(b)])
    ia, ib = store.store_info(a), store.store_info(b)
    assert ia.content_hash == ib.content_hash == store.content_hash(cases)
    assert ia.files[0]["source"] != ib.files[0]["source"]
    assert store.content_hash(cases.head(11)) != ia.content_hash


def test_damaged_store_is_a_clear_error(tmp_path):
    data = tmp_path / "s"
    data.mkdir()
    (data / store.CASES_FILE).write_bytes(b"not parquet")
    with pytest.raises(BadInput, match="damaged"):
        store.load_cases(data)
    result = runner.invoke(app, ["info", "--data", str(data)])
    assert result.exit_code == 1 and "damaged" in result.stderr


def test_missing_store(tmp_path):
    with pytest.raises(BadRequest, match="no store at"):
        store.store_info(tmp_path / "none")


def test_info_shows_counts_and_provenance_without_case_ids(tmp_path):
    data = tmp_path / "s"
    one = make_cases(6, seed=1, inspection="Durham").with_columns(notes=pl.lit("PRIVATE"))
    two = make_cases(4, seed=2, inspection="Leeds")
    write_csv(one, tmp_path / "durham.csv")
    write_csv(two, tmp_path / "leeds.csv")
    assert (
        runner.invoke(
            app,
            [
                "ingest",
                str(tmp_path / "durham.csv"),
                str(tmp_path / "leeds.csv"),
                "--data",
                str(data),
            ],
        ).exit_code
        == 0
    )
    result = runner.invoke(app, ["info", "--data", str(data), "--format", "json"])
    assert result.exit_code == 0 and result.stderr == ""
    tables = by_title(result.stdout)
    summary = tables["Store"][0]
    assert summary["n_cases"] == 10 and summary["n_files"] == 2
    assert summary["content_hash"] == store.store_info(data).content_hash
    counts = tables["Cases per inspection and provider"]
    assert sum(r["n_cases"] for r in counts) == 10
    assert {r["inspection"] for r in counts} == {"Durham", "Leeds"}
    files = tables["Files ingested (provenance)"]
    assert [f["source"] for f in files] == ["durham.csv", "leeds.csv"]
    table = runner.invoke(app, ["info", "--data", str(data)])
    assert table.exit_code == 0 and "durham.csv" in table.stdout
    for out in (result.stdout, table.stdout):
        assert "PRIVATE" not in out
        for cid in [*one["case_id"], *two["case_id"]]:
            assert cid not in out


def test_info_library_parity(tmp_path):
    data = tmp_path / "s"
    write_csv(make_cases(5, seed=1), tmp_path / "a.csv")
    runner.invoke(app, ["ingest", str(tmp_path / "a.csv"), "--data", str(data)])
    d = store.store_info(data).to_dict()
    assert d["n_cases"] == 5 and d["path"] == str(data) and isinstance(d["inspections"], list)
    assert json.dumps(d)  # serialisable
    assert Path(d["path"]).exists()


def test_damaged_data_pages_found_by_a_lazy_scan_are_a_clear_error(example_store_copy, cli):
    # The footer is intact, so the store opens; its data pages are read only when an
    # analysis collects the scan, where Polars panicked with a traceback (before: the
    # eager load reported the damage up front).
    path = example_store_copy / store.CASES_FILE
    raw = bytearray(path.read_bytes())
    start = len(raw) // 3
    raw[start : start + 2000] = b"\x55" * 2000
    path.write_bytes(bytes(raw))
    with pytest.raises(BaseException):  # noqa: B017 - a Polars panic: what the test is about
        pl.read_parquet(path)
    for args in (["rates"], ["trend"], ["regress", "--all"]):
        result = cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert f"the store file {path} is damaged" in result.stderr, args
        assert "Traceback" not in result.output


def test_a_polars_error_on_a_sound_store_is_not_called_damage(example_store, monkeypatch):
    # Only an unreadable store turns a Polars error into the damage message: on a sound one
    # the error is hmip's own fault, and must show as such.
    from hmip_cli import rates

    def broken(*args, **kwargs):
        raise pl.exceptions.ComputeError("a fault in hmip")

    monkeypatch.setattr(rates, "rates", broken)
    result = CliRunner().invoke(app, ["rates"])
    assert isinstance(result.exception, pl.exceptions.ComputeError)
