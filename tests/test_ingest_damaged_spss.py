"""A damaged `.sav` that makes pyreadstat segfault (even `metadataonly=True`) is refused with
a message naming it, exit 1, the store untouched: `hmip ingest` and `hmip regress --input`
used to die with exit 139 and no message. The file is a fuzz input (tests/test_ingest_fuzz.py,
HMIP_FUZZ_SEED=20261207, input 56), 12 KB. Real processes: the crash was the process dying."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer.testing
from test_ingest_support import as_text, digest, make_cases

from hmip_cli.cli.app import app
from hmip_cli.statfiles import ReaderCrashed, read_stat

DATA = Path(__file__).parent / "data"
SEGV = DATA / "damaged" / "segv.sav"
GOOD = DATA / "sav" / "birthwt_labelled.sav"
CRASHED = "the SPSS reader crashed on this file (signal 11, SIGSEGV)"


def hmip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hmip_cli", *args], capture_output=True, text=True, timeout=120
    )


def refused(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert str(SEGV) in result.stderr and CRASHED in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.slow
def test_a_sav_that_crashes_the_reader_is_refused_and_the_store_untouched(tmp_path):
    old = tmp_path / "old.csv"
    as_text(make_cases(10, seed=3)).write_csv(old)
    store = tmp_path / "store"
    assert (
        typer.testing.CliRunner().invoke(app, ["ingest", str(old), "--data", str(store)]).exit_code
        == 0
    )
    before = digest(store)
    refused(hmip("ingest", str(SEGV), "--data", str(store)))
    assert digest(store) == before


@pytest.mark.slow
def test_regress_input_refuses_a_sav_that_crashes_the_reader():
    refused(hmip("regress", "--input", str(SEGV), "--outcome", "low", "--candidates", "age"))


def test_the_reader_reads_again_after_a_crash():
    with pytest.raises(ReaderCrashed, match="signal 11"):
        read_stat("sav", str(SEGV), metadataonly=True)
    frame, meta = read_stat("sav", str(GOOD))
    assert frame.height == 189 and "low" in meta.column_names
