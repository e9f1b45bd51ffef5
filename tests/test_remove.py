"""`hmip remove --source FILE` (issue 9, item 6): the cases of one ingested file out of the
store, atomically under the lock, recorded in provenance; clear refusals; crash safety in
the style of test_hardening_store."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from test_hardening_store import _says_disk_full, disk_full  # noqa: F401 - a fixture
from test_ingest_support import digest, make_cases, write_csv
from test_json_support import doc as json_doc

from hmip_cli import store
from hmip_cli.errors import BadInput, BadRequest
from hmip_cli.removal import remove_source


def _files(tmp: Path) -> list[Path]:
    """Three case files of different sizes and inspections."""
    return [
        write_csv(make_cases(n, seed=s, prefix=p, inspection=i), tmp / name)
        for n, s, p, i, name in (
            (7, 1, "A", "Durham", "a.csv"),
            (5, 2, "B", "Cumbria", "b.csv"),
            (9, 3, "C", "Bristol", "c.csv"),
        )
    ]


@pytest.fixture
def three(tmp_path, cli) -> tuple[Path, list[Path]]:
    data = tmp_path / "s"
    files = _files(tmp_path)
    for f in files:  # one file per ingest, as an analyst adds inspections
        assert cli("ingest", f, "--data", data).exit_code == 0
    return data, files


def _hash(data: Path) -> str:
    return store.store_info(data).content_hash


@pytest.mark.parametrize("which", [0, 1, 2])
def test_removing_a_file_leaves_exactly_the_other_files_cases(three, tmp_path, cli, which):
    data, files = three
    r = cli("remove", "--source", files[which].name, "--data", data)
    assert r.exit_code == 0, r.stderr
    rows = (7, 5, 9)[which]
    assert f"Removed {rows} cases of {files[which].name}" in r.stderr
    assert f"({21 - rows} cases left in the store)" in r.stderr
    # The same store content as ingesting only the other two files, in order.
    others = tmp_path / "others"
    assert cli("ingest", *[f for i, f in enumerate(files) if i != which], "--data", others)
    assert _hash(data) == _hash(others)
    info = store.store_info(data)
    assert [f["source"] for f in info.files] == [f.name for i, f in enumerate(files) if i != which]
    assert info.n_cases == 21 - rows


def test_info_shows_the_removal(three, cli):
    data, files = three
    assert cli("remove", "--source", "b.csv", "--data", data).exit_code == 0
    r = cli("info", "--data", data, "--format", "json")
    tables = json_doc(r.stdout)["tables"]
    assert [t["name"] for t in tables] == ["store", "counts", "files", "removed"]
    text = json.dumps(tables)
    assert '"removed_at"' in text and '"Cumbria"' not in text  # inspections not in the table
    removed = store.store_info(data).removed
    assert len(removed) == 1
    rec = removed[0]
    assert rec["source"] == "b.csv" and rec["rows"] == 5 and rec["inspections"] == ["Cumbria"]
    assert rec["sha256"] == store.store_info(data).removed[0]["sha256"]
    assert rec["removed_at"].endswith("Z") and rec["ingested_at"]
    human = cli("info", "--data", data).stdout
    assert "Files removed (hmip remove)" in human and "b.csv" in human
    assert "Cumbria" not in [c["inspection"] for c in store.store_info(data).counts]


def test_the_removal_record_survives_later_ingests_but_not_replace(three, tmp_path, cli):
    data, files = three
    assert cli("remove", "--source", "a.csv", "--data", data).exit_code == 0
    new = write_csv(make_cases(3, seed=9, prefix="N"), tmp_path / "n.csv")
    assert cli("ingest", new, "--data", data).exit_code == 0
    assert [r["source"] for r in store.store_info(data).removed] == ["a.csv"]
    assert cli("ingest", files[0], "--data", data).exit_code == 0  # may come back
    assert cli("ingest", files[0], "--data", data, "--replace").exit_code == 0
    assert store.store_info(data).removed == []


def test_the_file_itself_or_a_sha256_prefix_names_it(three, tmp_path, cli):
    data, files = three
    renamed = tmp_path / "elsewhere" / "renamed.csv"
    renamed.parent.mkdir()
    renamed.write_bytes(files[1].read_bytes())
    r = cli("remove", "--source", renamed, "--data", data)
    assert r.exit_code == 0 and "Removed 5 cases of b.csv" in r.stderr, r.stderr
    sha = store.store_info(data).files[1]["sha256"]
    assert cli("remove", "--source", sha[:8].upper(), "--data", data).exit_code == 0
    assert [f["source"] for f in store.store_info(data).files] == ["a.csv"]


def test_two_files_of_one_name_need_the_sha256(tmp_path, cli):
    data = tmp_path / "s"
    for k in (1, 2):
        folder = tmp_path / f"d{k}"
        folder.mkdir()
        f = write_csv(make_cases(3 + k, seed=k, prefix=f"D{k}-"), folder / "cases.csv")
        assert cli("ingest", f, "--data", data).exit_code == 0
    before = digest(data)
    r = cli("remove", "--source", "cases.csv", "--data", data)
    assert r.exit_code == 2 and "2 ingested files are called 'cases.csv'" in r.stderr
    assert "give the start of the sha256" in r.stderr and "Traceback" not in r.stderr
    assert digest(data) == before
    second = store.store_info(data).files[1]["sha256"]
    assert second[:12] in r.stderr
    assert cli("remove", "--source", second[:12], "--data", data).exit_code == 0
    assert store.store_info(data).n_cases == 4


def test_a_file_not_in_the_store_is_a_clear_refusal(three, tmp_path, cli):
    data, _ = three
    before = digest(data)
    r = cli("remove", "--source", "zzz.csv", "--data", data)
    assert r.exit_code == 2 and r.stderr.count("Error:") == 1
    assert "no ingested file 'zzz.csv'" in r.stderr and "'a.csv', 'b.csv', 'c.csv'" in r.stderr
    assert digest(data) == before
    assert cli("remove", "--source", "a.csv", "--data", data).exit_code == 0
    r = cli("remove", "--source", "a.csv", "--data", data)
    assert r.exit_code == 2 and "were already removed" in r.stderr
    r = cli("remove", "--source", "a.csv", "--data", tmp_path / "nowhere")
    assert r.exit_code == 2 and "no store at" in r.stderr
    assert not (tmp_path / "nowhere").exists()  # the lock's directory is tidied away
    r = cli("remove", "--data", data)
    assert r.exit_code == 2 and "--source" in r.stderr


def test_removing_every_file_leaves_an_empty_store_that_takes_files_again(three, cli):
    data, files = three
    for f in files:
        assert cli("remove", "--source", f.name, "--data", data).exit_code == 0
    info = store.store_info(data)
    assert info.n_cases == 0 and info.files == [] and len(info.removed) == 3
    assert cli("ingest", files[2], "--data", data).exit_code == 0
    assert store.store_info(data).n_cases == 9


def test_provenance_that_does_not_account_for_the_cases_is_refused(three):
    data, _ = three
    path = data / store.CASES_FILE
    frame = pl.read_parquet(path)
    meta = json.loads(pl.read_parquet_metadata(path)[store.META_KEY])
    meta["files"][0]["rows"] = 6  # 6 + 5 + 9 != 21: which rows are a.csv's?
    frame.write_parquet(path, metadata={store.META_KEY: json.dumps(meta)})
    before = digest(data)
    with pytest.raises(BadInput, match="records account for 20 cases but it holds 21"):
        remove_source("b.csv", data)
    assert digest(data) == before
    meta["files"][0]["rows"], meta["files"][1]["rows"] = 5, 7  # adds up, but shifted
    frame.write_parquet(path, metadata={store.META_KEY: json.dumps(meta)})
    before = digest(data)
    with pytest.raises(BadInput, match="from other inspections"):
        remove_source("b.csv", data)
    assert digest(data) == before


@pytest.mark.parametrize(
    "bad",
    [
        5,
        [5],
        [{"source": "a.csv"}],
        [{"source": "a", "sha256": "0", "rows": -1, "removed_at": "x", "inspections": []}],
    ],
)
def test_damaged_removal_records_are_refused_and_never_rewritten(three, bad):
    data, _ = three
    path = data / store.CASES_FILE
    frame = pl.read_parquet(path)
    meta = json.loads(pl.read_parquet_metadata(path)[store.META_KEY])
    meta["removed"] = bad
    frame.write_parquet(path, metadata={store.META_KEY: json.dumps(meta)})
    before = digest(data)
    with pytest.raises(BadInput, match="damaged or was not written by hmip"):
        remove_source("a.csv", data)
    assert digest(data) == before


def test_library_result(three):
    data, _ = three
    done = remove_source("c.csv", data)
    assert done.cases_removed == 9 and done.n_cases == 12
    assert done.to_dict()["removed"]["source"] == "c.csv"
    with pytest.raises(BadRequest):
        remove_source("c.csv", data)


# ---- crash safety --------------------------------------------------------------------------


def test_disk_full_during_remove_keeps_the_store(three, cli, disk_full):  # noqa: F811
    data, _ = three
    before = digest(data)
    disk_full()
    r = cli("remove", "--source", "b.csv", "--data", data)
    _says_disk_full(r, data / store.CASES_FILE)
    assert digest(data) == before
    assert sorted(p.name for p in data.iterdir()) == [".lock", store.CASES_FILE]


def test_a_remove_and_ingests_at_once_lose_nothing(three, tmp_path):
    """The lock serialises them: whatever the order, b.csv is gone and every new file is in."""
    from hmip_cli.ingest import ingest_files

    data, _ = three
    new = [
        write_csv(
            make_cases(4, seed=20 + k, prefix=f"X{k}-", inspection="Leeds"), tmp_path / f"x{k}.csv"
        )
        for k in range(4)
    ]
    gate = threading.Barrier(len(new) + 1)
    crashes: list[BaseException] = []

    def run(job) -> None:
        gate.wait()
        try:
            job()
        except BaseException as exc:  # noqa: BLE001 - reported below
            crashes.append(exc)

    jobs = [lambda: remove_source("b.csv", data)] + [
        (lambda p=p: ingest_files([p], data=data)) for p in new
    ]
    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert crashes == []
    info = store.store_info(data)
    assert sorted(f["source"] for f in info.files) == sorted(
        ["a.csv", "c.csv", *(p.name for p in new)]
    )
    assert info.n_cases == 7 + 9 + 16
    assert "Cumbria" not in {c["inspection"] for c in info.counts}


@pytest.mark.slow
def test_a_remove_killed_at_any_moment_leaves_the_old_store_or_the_new(tmp_path, cli):
    """SIGKILL an `hmip remove` process at random moments (before, during and after it
    writes): the store is always exactly the old one or exactly the new one, and readable."""
    big = write_csv(make_cases(1500, seed=7, prefix="K"), tmp_path / "big.csv")
    small = write_csv(make_cases(20, seed=8, prefix="S"), tmp_path / "small.csv")
    base = tmp_path / "base"
    assert cli("ingest", big, small, "--data", base).exit_code == 0
    old = digest(base)
    old_hash = store.store_info(base).content_hash
    # One remove run to the end: the new state, and how long a remove takes here.
    t0 = time.monotonic()
    done = _copy(base, tmp_path / "done")
    assert _remove_process(done).wait(timeout=120) == 0
    span = time.monotonic() - t0
    new_hash = store.store_info(done).content_hash
    assert new_hash != old_hash
    rng = random.Random(5)
    for k in range(3):  # kills late in the run, where it reads and writes the store
        data = _copy(base, tmp_path / f"round{k}")
        proc = _remove_process(data)
        time.sleep(rng.uniform(0.5, 1.0) * span)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        got = store.store_info(data).content_hash  # readable, not damaged
        assert got in (old_hash, new_hash), k
        if got == old_hash:
            assert digest(data) == old
        frame, meta = store.read_stored(data)
        assert frame.height == meta["n_cases"] == sum(f["rows"] for f in meta["files"])
        # The next writer tidies any temporary file the killed one left.
        assert cli("remove", "--source", "small.csv", "--data", data).exit_code == 0
        assert not list(data.glob(".*.tmp"))


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def _remove_process(data: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hmip_cli", "remove", "--source", "big.csv", "--data", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
