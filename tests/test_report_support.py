"""Shared set-up for the report, chart and findings tests.

The fixed data set is `tests/snapshots/report_cases.parquet`: 800 synthetic cases
(`hmip_cli.synth.generate(800, 11)`, written once) kept as a file so that the snapshots do
not move when the generator is recalibrated. Case ids and notes are overwritten with
distinctive strings that must never appear in any output.

(Named test_*.py only so it sits among the files this part owns; it holds no tests.)
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import polars as pl

from hmip_cli import schema, store
from hmip_cli.report import ReportParams, build_report

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
FIXTURE = SNAPSHOTS / "report_cases.parquet"
UPDATE = os.environ.get("HMIP_UPDATE_SNAPSHOTS") == "1"

LEAK_ID = "CASEIDLEAKZQX"
LEAK_NOTE = "NOTESLEAKQJW"
DATE = "2019-01-31"


def fixture_cases() -> pl.DataFrame:
    """The fixed cases in the stored schema, with planted identifiers and notes."""
    frame = pl.read_parquet(FIXTURE)
    return frame.with_columns(
        case_id=pl.format(f"{LEAK_ID}-{{}}", pl.int_range(pl.len())),
        notes=pl.lit(f"{LEAK_NOTE} <script>alert(1)</script> =cmd|' /C calc'!A0"),
    )


def write_fixture_store(path: Path, frame: pl.DataFrame | None = None) -> Path:
    frame = fixture_cases() if frame is None else frame
    with store.locked(path):
        store.write_store(
            path, frame, [{"source": "report_cases.csv", "sha256": "0" * 64, "rows": frame.height}]
        )
    return path


def report_for(frame: pl.DataFrame | None = None, progress=None, **params):
    """A report on the fixed cases (or `frame`, stored schema), with a fixed date and version."""
    frame = fixture_cases() if frame is None else frame
    params = {"date": DATE, **params}
    rep = build_report(schema.with_derived(frame), params=ReportParams(**params), progress=progress)
    rep.provenance = dataclasses.replace(rep.provenance, hmip_version="0.0.test")
    return rep


def check_snapshot(name: str, text: str) -> None:
    """Compare `text` with tests/snapshots/<name>; HMIP_UPDATE_SNAPSHOTS=1 rewrites it."""
    path = SNAPSHOTS / name
    if UPDATE or not path.exists():
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            raise AssertionError(
                f"snapshot {name} did not exist and was written; run the tests again"
            )
        return
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (
        f"{name} differs from its snapshot; if the change is intended, rerun with "
        "HMIP_UPDATE_SNAPSHOTS=1 and review the diff"
    )


def shared_report(**params):
    """`report_for(**params)` built once per test process and parameter set, for tests that
    only read it (a report is seconds of sweep and disclosure control; several test files
    read the same few reports). Never change it: build your own with `report_for()` to
    modify one, or to check that two builds agree."""
    return _shared_report(tuple(sorted(params.items())))


@functools.cache
def _shared_report(params: tuple):
    return report_for(**dict(params))


@functools.cache
def counted_build():
    """`report_for()` built again (not the shared report) and written as HTML, Markdown and
    XLSX, with the calls of rates.bulletin() and of the sweep counted and the progress
    steps recorded meanwhile: (report, calls, steps). One build, once per test process,
    for three checks: the analyses run once (test_report), two builds agree byte for byte
    (test_report) and the progress steps count honestly (test_progress)."""
    import tempfile

    import pytest

    from hmip_cli import rates
    from hmip_cli.report.write import write_report
    from hmip_cli.stepwise import sweeps

    calls = {"bulletin": 0, "sweep": 0}
    steps: list[tuple[str, int, int]] = []
    real_bulletin, real_sweep = rates.bulletin, sweeps.run_sweep

    def bulletin(*a, **k):
        calls["bulletin"] += 1
        return real_bulletin(*a, **k)

    def sweep(*a, **k):
        calls["sweep"] += 1
        return real_sweep(*a, **k)

    with tempfile.TemporaryDirectory() as out, pytest.MonkeyPatch.context() as mp:
        mp.setattr(rates, "bulletin", bulletin)
        mp.setattr("hmip_cli.stepwise.run_sweep", sweep)
        rep = report_for(progress=lambda *a: steps.append(a))
        for name in ("r.html", "r.md", "r.xlsx"):
            write_report(rep, Path(out) / name)
    return rep, dict(calls), steps
