"""The store and every written file under attack: concurrent first ingests, foreign or
damaged store metadata, outputs aimed at symlinks/FIFOs/devices/the store, disk full, and
odd --data paths (issue 8, items 1, 3, 4, 7 and part of 13)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from test_ingest_support import as_text, digest, make_cases, write_csv
from typer.testing import CliRunner

from hmip_cli import store
from hmip_cli.cli.app import app
from hmip_cli.errors import BadInput

runner = CliRunner()


# ---- 1. concurrent first ingests into a new store ------------------------------------------
# flock(2) locks belong to an open file description, so threads that each open the lock file
# exclude each other exactly as processes do: the threaded rounds test the same lock as
# concurrent `hmip ingest` processes, without paying an interpreter start per ingest. One
# round of real processes checks the CLI end to end.


def _round_files(tmp: Path, seed: int, n: int, rows: int) -> list[tuple[Path, bool]]:
    """`n` distinct case files; the even-numbered ones (so the first) fail validation late
    (an unknown gender code in the last row)."""
    files = []
    for k in range(n):
        text = as_text(make_cases(rows, seed=1000 * seed + k, prefix=f"P{k}-"))
        bad = k % 2 == 0
        if bad:
            last = pl.int_range(pl.len()) == pl.len() - 1
            text = text.with_columns(
                gender=pl.when(last).then(pl.lit("martian")).otherwise(pl.col("gender"))
            )
        files.append((write_csv(text, tmp / f"r{seed}-f{k:02d}.csv"), bad))
    return files


def _check_round(data: Path, ok: set[str], failed: set[str], rows: int) -> None:
    info = store.store_info(data)
    stored = {f["source"] for f in info.files}
    assert stored == ok, f"lost: {sorted(ok - stored)}; failed but stored: {stored & failed}"
    assert info.n_cases == rows * len(ok)
    assert sorted(p.name for p in data.iterdir()) == [".lock", store.CASES_FILE]


def _threaded_round(tmp: Path, seed: int, n: int = 20, rows: int = 40) -> None:
    from hmip_cli.errors import ValidationFailed
    from hmip_cli.ingest import ingest_files

    rng = random.Random(seed)
    data = tmp / f"store{seed}"
    files = _round_files(tmp, seed, n, rows)
    delays = [0.0] + [rng.uniform(0, 0.4) for _ in files[1:]]  # arrivals span the ingests
    ok: set[str] = set()
    failed: set[str] = set()
    crashes: list[BaseException] = []
    gate = threading.Barrier(n)

    def one(path: Path, delay: float) -> None:
        gate.wait()
        time.sleep(delay)
        try:
            ingest_files([path], data=data)
            ok.add(path.name)
        except ValidationFailed:
            failed.add(path.name)
        except BaseException as exc:  # noqa: BLE001 - reported below
            crashes.append(exc)

    threads = [threading.Thread(target=one, args=(p, d)) for (p, _), d in zip(files, delays)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not crashes, crashes
    assert failed == {p.name for p, bad in files if bad}
    assert ok == {p.name for p, bad in files if not bad}
    _check_round(data, ok, failed, rows)


@pytest.mark.slow
def test_concurrent_first_ingests_lose_nothing(tmp_path):
    for seed in range(3):
        _threaded_round(tmp_path, seed)


@pytest.mark.slow
def test_concurrent_hmip_ingest_processes_lose_nothing(tmp_path):
    n, rows = 6, 40
    data = tmp_path / "store"
    files = _round_files(tmp_path, 99, n, rows)
    procs = [
        (
            path,
            bad,
            subprocess.Popen(
                [sys.executable, "-m", "hmip_cli", "ingest", str(path), "--data", str(data)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            ),
        )
        for path, bad in files
    ]
    ok: set[str] = set()
    failed: set[str] = set()
    for path, bad, proc in procs:
        _, err = proc.communicate(timeout=300)
        assert b"Traceback" not in err, err.decode()
        assert proc.returncode == (1 if bad else 0), (path.name, err.decode())
        (ok if proc.returncode == 0 else failed).add(path.name)
    _check_round(data, ok, failed, rows)


# ---- 7. foreign, damaged or newer store metadata -------------------------------------------


@pytest.fixture
def small_store(tmp_path) -> Path:
    data = tmp_path / "s"
    src = write_csv(as_text(make_cases(6, seed=3)), tmp_path / "a.csv")
    assert runner.invoke(app, ["ingest", str(src), "--data", str(data)]).exit_code == 0
    return data


def _set_meta(data: Path, text: str | None) -> None:
    """Rewrite the store file with the same cases and `text` as its hmip metadata (None:
    no hmip metadata at all)."""
    path = data / store.CASES_FILE
    frame = pl.read_parquet(path)
    frame.write_parquet(path, metadata=None if text is None else {store.META_KEY: text})


def _meta(**changes) -> str:
    meta = {
        "format": 1,
        "n_cases": 6,
        "files": [{"source": "a.csv", "sha256": "0" * 64, "rows": 6}],
    }
    meta.update(changes)
    return json.dumps(meta)


BAD_META = {
    "no hmip metadata": None,
    "not JSON": "{oops",
    "a JSON list": "[]",
    "a JSON number": "5",
    "null": "null",
    "no format": json.dumps({"n_cases": 6, "files": []}),
    "format as text": _meta(format="1"),
    "format zero": _meta(format=0),
    "format true": _meta(format=True),
    "no case count": json.dumps({"format": 1, "files": []}),
    "wrong case count": _meta(n_cases=7),
    "files not a list": _meta(files=5),
    "file record not an object": _meta(files=["a.csv"]),
    "file record without sha256": _meta(files=[{"source": "a.csv", "rows": 6}]),
    "file record with text rows": _meta(files=[{"source": "a.csv", "sha256": "0", "rows": "6"}]),
    "file record with a bad mapping": _meta(
        files=[{"source": "a.csv", "sha256": "0", "rows": 6, "mapping": {"name": 5}}]
    ),
    "file record with bad inspections": _meta(
        files=[{"source": "a.csv", "sha256": "0", "rows": 6, "inspections": "Durham"}]
    ),
}


@pytest.mark.parametrize("case", list(BAD_META))
def test_foreign_or_damaged_metadata_is_refused_and_never_rewritten(small_store, tmp_path, case):
    _set_meta(small_store, BAD_META[case])
    before = digest(small_store)
    new = write_csv(as_text(make_cases(4, seed=4, prefix="N")), tmp_path / "new.csv")
    for args in (
        ["info"],
        ["rates"],
        ["ingest", str(new)],
        ["ingest", str(new), "--replace"],
    ):
        r = runner.invoke(app, [*args, "--data", str(small_store)])
        assert r.exit_code == 1, (args, r.stdout, r.stderr, r.exception)
        assert "damaged or was not written by hmip" in r.stderr, (args, r.stderr)
        assert r.stderr.count("Error:") == 1 and "Traceback" not in r.stderr
        assert digest(small_store) == before, args
    with pytest.raises(BadInput, match="will neither read nor overwrite it"):
        store.load_cases(small_store)


def test_a_store_from_a_newer_hmip_is_refused_and_never_rewritten(small_store, tmp_path):
    _set_meta(small_store, _meta(format=store.STORE_FORMAT + 1))
    before = digest(small_store)
    new = write_csv(as_text(make_cases(4, seed=4, prefix="N")), tmp_path / "new.csv")
    for args in (["info"], ["ingest", str(new)], ["ingest", str(new), "--replace"]):
        r = runner.invoke(app, [*args, "--data", str(small_store)])
        assert r.exit_code == 1, (args, r.stdout, r.stderr)
        assert "written by a newer version of hmip" in r.stderr, r.stderr
        assert "upgrade hmip" in r.stderr and "Traceback" not in r.stderr
        assert digest(small_store) == before, args
    # demo --keep into it refuses as well
    r = runner.invoke(app, ["demo", "--keep", str(small_store), "--format", "json"])
    assert r.exit_code == 1 and digest(small_store) == before


def test_store_with_other_columns_is_never_rewritten(small_store, tmp_path):
    path = small_store / store.CASES_FILE
    meta = pl.read_parquet_metadata(path)
    pl.read_parquet(path).drop("notes").write_parquet(path, metadata=meta)
    before = digest(small_store)
    new = write_csv(as_text(make_cases(4, seed=4, prefix="N")), tmp_path / "new.csv")
    r = runner.invoke(app, ["ingest", str(new), "--replace", "--data", str(small_store)])
    assert r.exit_code == 1 and "different version of hmip" in r.stderr
    assert digest(small_store) == before


def test_store_file_that_is_not_a_regular_file_is_refused(tmp_path):
    data = tmp_path / "s"
    (data / store.CASES_FILE).mkdir(parents=True)
    r = runner.invoke(app, ["info", "--data", str(data)])
    assert r.exit_code == 1 and "not a regular file" in r.stderr


def test_old_provenance_records_without_optional_keys_still_read(small_store):
    # the oldest records carried only source, sha256 and rows: info must not KeyError
    _set_meta(small_store, _meta())
    r = runner.invoke(app, ["info", "--data", str(small_store), "--format", "json"])
    assert r.exit_code == 0, (r.stderr, r.exception)
    files = {t["title"]: t["rows"] for t in json.loads(r.stdout)}["Files ingested (provenance)"]
    assert files[0]["source"] == "a.csv" and files[0]["ingested_at"] is None


# ---- 13 (part). --data that is a dangling or looping symbolic link ---------------------------


@pytest.mark.parametrize("kind", ["dangling", "looping", "dangling parent"])
def test_data_symlink_that_points_nowhere_is_named_as_such(tmp_path, kind):
    link = tmp_path / "link"
    if kind == "looping":
        link.symlink_to(tmp_path / "link2")
        (tmp_path / "link2").symlink_to(link)
        expect = "is a symbolic link that loops"
    else:
        link.symlink_to(tmp_path / "gone")
        expect = "which does not exist"
    data = link / "store" if kind == "dangling parent" else link
    src = write_csv(as_text(make_cases(3, seed=1)), tmp_path / "a.csv")
    for args in (["info"], ["rates"], ["ingest", str(src)]):
        r = runner.invoke(app, [*args, "--data", str(data)])
        assert r.exit_code == 2, (args, r.stdout, r.stderr)
        assert expect in r.stderr and f"{link} is a symbolic link" in r.stderr, r.stderr
        assert "is a file" not in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "gone").exists()
