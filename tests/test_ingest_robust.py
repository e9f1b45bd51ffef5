"""Ingest under abuse: an ingest killed at any moment leaves the earlier store readable
and unchanged. (Corrupted input files: test_ingest_fuzz.py.)"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import polars as pl
import pytest
from test_ingest_support import as_text, make_cases, write_csv
from typer.testing import CliRunner

from hmip_cli import store
from hmip_cli.cli.app import app

runner = CliRunner()


def committed_digest(data) -> str:
    """sha256 of the store's committed files: a kill mid-write may leave a hidden temporary
    file beside them (cleared by the next ingest, checked below), which is not the store."""
    h = hashlib.sha256()
    for p in sorted(data.iterdir()):
        if p.is_file() and not p.name.startswith("."):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.mark.slow
def test_killed_ingest_leaves_earlier_store_intact(tmp_path):
    data = tmp_path / "store"
    old = write_csv(make_cases(30, seed=1), tmp_path / "old.csv")
    assert runner.invoke(app, ["ingest", str(old), "--data", str(data)]).exit_code == 0
    before = committed_digest(data)
    frame_before = store.load_cases(data)
    big = tmp_path / "big.csv"
    cases = make_cases(2_000, seed=2)
    # ~200k cases: big enough that reading, validating and writing each take a while.
    pl.concat(
        [as_text(cases).with_columns(pl.col("case_id") + f"-{k}") for k in range(100)]
    ).write_csv(big)
    env = {**os.environ, "HMIP_DATA": str(data)}
    for delay in (0.3, 0.9, 1.6, 2.4):
        proc = subprocess.Popen(
            [sys.executable, "-m", "hmip_cli", "ingest", str(big)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.returncode == 0:  # finished before the kill: the store is the new one, intact
            assert store.load_cases(data).height == 30 + 200_000
            break
        if committed_digest(data) != before:
            # Killed after the atomic replace but before the process exited (a loaded
            # machine): the commit point was passed, so the store must be the complete new one.
            assert store.load_cases(data).height == 30 + 200_000, (
                f"partial store after a kill at {delay}s"
            )
            break
        assert store.load_cases(data).equals(frame_before)
        # Leftover temporary files are hidden, and the next ingest clears them away.
        assert [p.name for p in data.iterdir() if not p.name.startswith(".")] == [store.CASES_FILE]
    again = write_csv(make_cases(3, seed=3), tmp_path / "more.csv")
    assert runner.invoke(app, ["ingest", str(again), "--data", str(data)]).exit_code == 0
    assert sorted(p.name for p in data.iterdir()) == [store.LOCK_FILE, store.CASES_FILE]
