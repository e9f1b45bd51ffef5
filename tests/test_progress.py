"""Honest progress (issue 14, item 5): ingest, report and `regress --all` show what they
are doing, done / total, the percentage and the time left, on a terminal only: never in a
pipe or a file, never with a machine format. Before, the bar showed the stage alone (and
`hmip report` printed "Computing ..." lines even into a pipe)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hmip_cli import synth
from hmip_cli.cli.app import app
from hmip_cli.stepwise.sweeps import targets

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
HMIP = str(Path(sys.executable).with_name("hmip"))
BAR = "\u2501"  # Rich's bar character
N_MODELS = len(targets(everything=True))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from hmip_cli.ingest import ingest_files

    d = tmp_path_factory.mktemp("progress")
    path = d / "cases.csv"
    path.write_text(synth.to_csv_text(synth.generate(300, 7)), encoding="utf-8")
    ingest_files([path], data=d / "store")
    return d / "store", path


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update(HMIP_DATA=str(data), NO_COLOR="1", TERM="xterm")
    return env


def _pty(argv: list[str], env: dict[str, str]) -> str:
    """Run `argv` with stdout and stderr on a 120-column pseudo-terminal; what it showed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=300)
    os.close(master)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    assert proc.returncode == 0, text[-2000:]
    return text.replace("\r", "\n")


def _bar_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if BAR in line and "left" in line]


@pytest.mark.slow
def test_the_sweep_shows_models_done_of_total_on_a_terminal(small):
    data, _ = small
    shown = _bar_lines(_pty([HMIP, "regress", "--all"], _env(data)))
    assert shown, "no progress bar on a terminal"
    counts = [
        tuple(map(int, m.groups())) for x in shown for m in [re.search(r"(\d+)/(\d+)", x)] if m
    ]
    assert counts and all(total == N_MODELS for _, total in counts)
    assert [d for d, _ in counts] == sorted(d for d, _ in counts)  # never goes back
    assert any(re.search(r"\d+%", x) for x in shown) and all("model " in x for x in shown)
    # with a machine format, even on a terminal: no bar (the output is for a program)
    quiet = _pty([HMIP, "regress", "--all", "--format", "csv"], _env(data))
    assert BAR not in quiet and not re.search(rf"\d+/{N_MODELS}\b", quiet)


@pytest.mark.slow
def test_ingest_shows_bytes_read_of_total_on_a_terminal(small, tmp_path):
    _, path = small
    # A large file would take long: lower the size from which the bar is shown.
    code = (
        "import sys; import hmip_cli.cli.ingest_cmd as m; m.BIG_FILE = 0; "
        "from hmip_cli.cli.app import app; app(sys.argv[1:], prog_name='hmip')"
    )
    env = _env(tmp_path / "store")
    out = _pty([sys.executable, "-c", code, "ingest", str(path)], env)
    shown = _bar_lines(out)
    assert shown and any(re.search(r"\d+%", x) for x in shown)
    size = path.stat().st_size
    assert any(re.search(r"/\s*[\d.]+\s*(kB|MB|bytes)", x) for x in shown), shown
    assert "Ingested 300 cases" in out and size > 0


@pytest.mark.slow
def test_report_shows_its_steps_on_a_terminal(small, tmp_path):
    data, _ = small
    out = _pty([HMIP, "report", "-o", str(tmp_path / "r.md")], _env(data))
    shown = _bar_lines(out)
    steps = N_MODELS + 2  # rates, each model, disclosure control
    assert shown and all(re.search(rf"\d+/{steps}\b", x) for x in shown), shown[:3]
    assert any("stepwise model" in x for x in shown) and "Wrote " in out


def test_a_pipe_gets_no_bar_and_no_stage_lines(small, tmp_path, monkeypatch):
    import hmip_cli.cli.ingest_cmd as ingest_cmd

    _, path = small
    monkeypatch.setattr(ingest_cmd, "BIG_FILE", 0)
    r = CliRunner().invoke(app, ["ingest", str(path), "--data", str(tmp_path / "s")])
    assert r.exit_code == 0, r.stderr
    assert BAR not in r.stderr and "%" not in r.stderr
    assert r.stderr.strip().startswith("Ingested 300 cases")


def test_the_sweep_and_the_report_count_honestly(small):
    """The callbacks the bars are drawn from: every model counted once, in order, ending
    at total; the report's steps run from 0 to total - 1 and disclosure control is last.
    (The report's steps are those recorded while the report tests' fixed cases were built,
    test_report_support.counted_build: one build serves three checks.)"""
    from test_report_support import counted_build

    from hmip_cli import store
    from hmip_cli.report.content import report_steps
    from hmip_cli.stepwise import run_sweep

    data, _ = small
    cases = store.load_cases(data)
    calls: list[tuple[str, int, int]] = []
    few = targets(everything=True)[:3]
    run_sweep(cases, targets_=few, progress=lambda *a: calls.append(a))
    assert [(d, t) for _, d, t in calls] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert [m for m, _, _ in calls] == [t.model for t in few] + [few[-1].model]
    _, _, steps = counted_build()
    total = report_steps()
    assert total == N_MODELS + 2 and all(t == total for _, _, t in steps)
    assert [d for _, d, _ in steps] == list(range(total))
    assert steps[0][0] == "rates" and steps[-1][0] == "disclosure control"
