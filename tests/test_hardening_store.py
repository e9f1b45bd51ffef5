"""The store and every written file under attack: concurrent first ingests, foreign or
damaged store metadata, outputs aimed at symlinks/FIFOs/devices/the store, disk full, and
odd --data paths (issue 8, items 1, 3, 4, 7 and part of 13)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from test_ingest_support import as_text, digest, make_cases, write_csv
from test_json_support import tables
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
    files = tables(r.stdout)["files"]
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


# ---- 3. outputs never replace symlinks, FIFOs, devices, or anything in a store ---------------

# Every command option that writes a file; {T} is the target (its name decides the format).
WRITERS = {
    "rates --output": (["rates", "-f", "csv", "--output", "{T}"], "out.csv"),
    "sample --output": (["sample", "-f", "csv", "--output", "{T}"], "out.csv"),
    "info --output": (["info", "-f", "csv", "--output", "{T}"], "out.csv"),
    "schema --output": (["schema", "-f", "csv", "--output", "{T}"], "out.csv"),
    "schema --template xlsx": (["schema", "--template", "{T}"], "template.xlsx"),
    "synth --output": (["synth", "--cases", "5", "--output", "{T}"], "synth.csv"),
    "synth --mapping-output": (
        ["synth", "--cases", "5", "--messy", "--output", "{OK}", "--mapping-output", "{T}"],
        "map.toml",
    ),
    "chart --output": (["chart", "figure1", "--output", "{T}"], "fig.svg"),
    "report html": (["report", "--output", "{T}"], "report.html"),
    "report markdown": (["report", "--output", "{T}"], "report.md"),
    "report xlsx": (["report", "--output", "{T}"], "report.xlsx"),
    "demo --output": (["demo", "-f", "csv", "--output", "{T}"], "demo.csv"),
    "demo --report": (["demo", "-f", "json", "--report", "{T}"], "demo.html"),
}


def _args(case: str, target: Path, ok: Path) -> list[str]:
    args, _ = WRITERS[case]
    return [a.replace("{T}", str(target)).replace("{OK}", str(ok)) for a in args]


def _refused(r, store_dir: Path, before: str) -> str:
    assert r.exit_code == 2, (r.stdout, r.stderr, r.exception)
    assert r.stderr.count("Error:") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "cannot write" in r.stderr, r.stderr
    assert digest(store_dir) == before
    return r.stderr


@pytest.mark.parametrize("case", list(WRITERS))
@pytest.mark.parametrize("kind", ["symlink", "fifo", "inside store"])
def test_outputs_never_replace_what_is_not_a_regular_file(example_store_copy, tmp_path, case, kind):
    name = WRITERS[case][1]
    before = digest(example_store_copy)
    ok = tmp_path / "ok.csv"
    if kind == "symlink":  # to a file of the user's: neither the link nor the file changes
        victim = tmp_path / f"victim-{name}"
        victim.write_bytes(b"precious")
        target = tmp_path / name
        target.symlink_to(victim)
        expect = "is a symbolic link"
    elif kind == "fifo":  # opening it for writing would block, replacing it breaks a pipe
        target = tmp_path / name
        os.mkfifo(target)
        expect = "named pipe (FIFO), not a regular file"
    else:
        target = example_store_copy / name
        expect = f"inside the store directory {example_store_copy}"
    err = _refused(runner.invoke(app, _args(case, target, ok)), example_store_copy, before)
    assert expect in err, err
    if kind == "symlink":
        assert target.is_symlink() and victim.read_bytes() == b"precious"
    elif kind == "fifo":
        assert target.is_fifo()
    else:
        assert not target.exists()
    assert not ok.exists()  # synth's export is not written without its mapping
    assert not list(tmp_path.glob(".*.tmp")) and not list(example_store_copy.glob(".*.tmp"))


def test_outputs_cannot_replace_the_store_file_itself(example_store_copy):
    before = digest(example_store_copy)
    target = example_store_copy / store.CASES_FILE
    for args in (
        ["rates", "-f", "csv", "--output", str(target)],
        ["synth", "--cases", "5", "--output", str(target)],
        ["chart", "figure1", "-f", "svg", "--output", str(target)],
    ):
        _refused(runner.invoke(app, args), example_store_copy, before)
    # nor through a folder that is a symbolic link to the store
    link = example_store_copy.parent / "via-link"
    link.symlink_to(example_store_copy)
    err = _refused(
        runner.invoke(app, ["rates", "-f", "csv", "--output", str(link / "x.csv")]),
        example_store_copy,
        before,
    )
    assert "inside the store directory" in err


def test_other_special_targets_are_refused(example_store_copy, tmp_path):
    import socket

    before = digest(example_store_copy)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "nowhere.csv")
    sock_path = tmp_path / "s.csv"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(sock_path))
        for target, expect in ((dangling, "symbolic link"), (sock_path, "a socket")):
            r = runner.invoke(app, ["rates", "-f", "csv", "--output", str(target)])
            assert expect in _refused(r, example_store_copy, before)
    finally:
        sock.close()
    assert not (tmp_path / "nowhere.csv").exists()


def test_devices_are_refused_before_anything_is_written():
    # Checked at the library level only: a CLI test that ran on the old code as root would
    # replace /dev/null.
    from hmip_cli.errors import BadRequest
    from hmip_cli.fileio import atomic_write_bytes, check_target

    for dev in ("/dev/null", "/dev/full"):
        with pytest.raises(BadRequest, match="is a device, not a regular file"):
            check_target(Path(dev))
        with pytest.raises(BadRequest, match="is a device"):
            atomic_write_bytes(Path(dev), b"x")
    assert Path("/dev/null").is_char_device()


def test_a_cases_parquet_of_ones_own_is_not_a_store(example_store, tmp_path):
    # a folder with somebody's own cases.parquet (no hmip metadata, no lock) takes outputs
    pl.DataFrame({"a": [1]}).write_parquet(tmp_path / store.CASES_FILE)
    target = tmp_path / "r.csv"
    r = runner.invoke(app, ["rates", "-f", "csv", "--output", str(target)])
    assert r.exit_code == 0, r.stderr
    assert target.read_text().splitlines()[0].startswith("figure,measure,")
    assert pl.read_parquet(tmp_path / store.CASES_FILE)["a"].to_list() == [1]


# ---- 4. disk full ----------------------------------------------------------------------------


@pytest.fixture
def disk_full(monkeypatch):
    """`disk_full(ok=0)`: after `ok` temporary files, every temporary file hmip writes
    (`fileio` makes them with `tempfile.mkstemp(..., suffix=".tmp")`) is a symbolic link to
    /dev/full, so the real writers (Polars, xlsxwriter, Python) meet the real ENOSPC a full
    disk gives."""
    import tempfile

    if not Path("/dev/full").is_char_device():
        pytest.skip("needs /dev/full")
    real = tempfile.mkstemp

    def arm(ok: int = 0) -> None:
        made = [0]

        def full_after_ok(*args, **kwargs):
            fd, name = real(*args, **kwargs)
            if kwargs.get("suffix") == ".tmp":
                made[0] += 1
                if made[0] > ok:
                    os.unlink(name)
                    os.symlink("/dev/full", name)
            return fd, name

        monkeypatch.setattr(tempfile, "mkstemp", full_after_ok)

    return arm


def _says_disk_full(r, path: Path) -> None:
    assert r.exit_code == 1, (r.stdout, r.stderr, r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.stderr.count("Error:") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "Exception ignored" not in r.stderr
    assert "no space left on " in r.stderr and f"while writing {path}" in r.stderr, r.stderr
    assert "mounted at" in r.stderr  # the device is named


def _no_temporaries(*folders: Path) -> None:
    for folder in folders:
        assert not [p.name for p in folder.rglob(".*.tmp")], folder


def test_disk_full_during_ingest_keeps_the_old_store(small_store, tmp_path, disk_full):
    before = digest(small_store)
    new = write_csv(as_text(make_cases(4, seed=4, prefix="N")), tmp_path / "new.csv")
    disk_full()
    r = runner.invoke(app, ["ingest", str(new), "--data", str(small_store)])
    _says_disk_full(r, small_store / store.CASES_FILE)
    assert digest(small_store) == before
    assert sorted(p.name for p in small_store.iterdir()) == [".lock", store.CASES_FILE]


def test_disk_full_during_a_first_ingest_leaves_nothing(tmp_path, disk_full):
    new = write_csv(as_text(make_cases(4, seed=4, prefix="N")), tmp_path / "new.csv")
    disk_full()
    r = runner.invoke(app, ["ingest", str(new), "--data", str(tmp_path / "fresh")])
    _says_disk_full(r, tmp_path / "fresh" / store.CASES_FILE)
    assert not (tmp_path / "fresh").exists()
    empty = tmp_path / "empty"  # a folder the user made: kept, and left empty
    empty.mkdir()
    r = runner.invoke(app, ["ingest", str(new), "--data", str(empty)])
    assert r.exit_code == 1 and list(empty.iterdir()) == []


def test_disk_full_during_demo_keep_leaves_no_store(tmp_path, disk_full):
    disk_full()
    keep = tmp_path / "demo-store"
    r = runner.invoke(app, ["demo", "--keep", str(keep), "-f", "json"])
    _says_disk_full(r, keep / store.CASES_FILE)
    assert not keep.exists() and r.stdout == ""


@pytest.mark.parametrize("name", ["template.xlsx", "template.csv"])
def test_disk_full_writing_a_template(tmp_path, disk_full, name):
    target = tmp_path / "sub" / name  # the folder made for it is removed again
    disk_full()
    r = runner.invoke(app, ["schema", "--template", str(target)])
    _says_disk_full(r, target)
    assert not (tmp_path / "sub").exists()
    _no_temporaries(tmp_path)


def test_disk_full_writing_a_markdown_report_leaves_no_figures(example_store, tmp_path, disk_full):
    target = tmp_path / "report.md"
    disk_full(ok=2)  # two figures written to temporary files, then the disk is full
    r = runner.invoke(app, ["report", "--output", str(target)])
    _says_disk_full(r, tmp_path / "report_figures" / "figure3.svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no report, no figures folder
    # an earlier report and its figures stay exactly as they were
    folder = tmp_path / "report_figures"
    folder.mkdir()
    (folder / "figure1.svg").write_text("old figure")
    target.write_text("old report")
    disk_full(ok=4)  # every figure written, then the Markdown itself fails
    r = runner.invoke(app, ["report", "--output", str(target)])
    _says_disk_full(r, target)
    assert target.read_text() == "old report"
    assert [p.name for p in folder.iterdir()] == ["figure1.svg"]
    assert (folder / "figure1.svg").read_text() == "old figure"
    _no_temporaries(tmp_path)


@pytest.mark.parametrize(
    "args, name",
    [
        (["rates", "-f", "csv"], "rates.csv"),
        (["chart", "figure2"], "fig.png"),
        (["report"], "report.xlsx"),
    ],
)
def test_disk_full_keeps_an_earlier_output(example_store, tmp_path, disk_full, args, name):
    target = tmp_path / name
    target.write_bytes(b"earlier")
    disk_full()
    r = runner.invoke(app, [*args, "--output", str(target)])
    _says_disk_full(r, target)
    assert target.read_bytes() == b"earlier"
    _no_temporaries(tmp_path)


def test_disk_full_synth_writes_neither_the_export_nor_its_mapping(tmp_path, disk_full):
    export, mapping = tmp_path / "export.csv", tmp_path / "map.toml"
    disk_full(ok=1)
    args = ["synth", "--cases", "5", "--messy", "--output", export, "--mapping-output", mapping]
    r = runner.invoke(app, [str(a) for a in args])
    _says_disk_full(r, export)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_standard_output_on_a_full_disk_is_one_message(tmp_path):
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "hmip_cli", "schema", "-f", "csv"],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "no space left on " in err and "while writing standard output" in err, err
    assert "Traceback" not in err and "Exception ignored" not in err and err.count("Error") == 1


def test_synth_refuses_an_unwritable_output_before_generating(tmp_path, monkeypatch):
    """The output is checked first: a symbolic link is refused without seconds of
    calibration (which `synth` ran before the check, then threw away)."""
    from hmip_cli import synth_framework

    def no_generation(*_a, **_k):
        raise AssertionError("generated before checking the output")

    monkeypatch.setattr(synth_framework, "synthesize", no_generation)
    (tmp_path / "victim").write_bytes(b"precious")
    (tmp_path / "link.csv").symlink_to(tmp_path / "victim")
    for args in (
        ["--output", str(tmp_path / "link.csv")],
        [
            "--messy",
            "--output",
            str(tmp_path / "ok.csv"),
            "--mapping-output",
            str(tmp_path / "link.csv"),
        ],
    ):
        res = CliRunner().invoke(app, ["synth", *args])
        assert res.exit_code == 2 and "symbolic link" in res.stderr, res.stderr
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert (tmp_path / "victim").read_bytes() == b"precious"
