"""Terminal width: an unusable $COLUMNS is ignored (issue 8, item 6), and without COLUMNS the
real size of the terminal is used, narrow or wide (issue 14, item 3)."""

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

from hmip_cli import render, synth
from hmip_cli.cli.app import app

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
HMIP = str(Path(sys.executable).with_name("hmip"))


@pytest.fixture(scope="module")
def store_and_file(tmp_path_factory):
    from hmip_cli.ingest import ingest_files

    d = tmp_path_factory.mktemp("terminal")
    path = d / "cases.csv"
    path.write_text(synth.to_csv_text(synth.generate(300, 5)), encoding="utf-8")
    ingest_files([path], data=d / "store")
    return d / "store", path


TABLE_COMMANDS = [
    ["schema"],
    ["info"],
    ["sample"],
    ["rates", "--measure", "delivery", "--by", "provider"],
    ["rates", "--measure", "delivery", "--chart"],
    ["protection", "--by", "provider"],
    ["regress", "--factor", "accommodation", "--measure", "delivery"],
]


@pytest.mark.parametrize("value", ["abc", "1e3", "-5", "0", "", " 80x", "99999999999", "٣"])
def test_unusable_columns_value(monkeypatch, value):
    monkeypatch.setenv("COLUMNS", value)
    assert render.columns_env() is None
    assert render.terminal_width() == render.DEFAULT_WIDTH  # not a terminal under pytest


@pytest.mark.parametrize("value", ["abc", "1e3"])
def test_unusable_columns_is_ignored_by_every_table_command(store_and_file, monkeypatch, value):
    data, path = store_and_file
    monkeypatch.setenv("COLUMNS", value)
    monkeypatch.setenv("HMIP_DATA", str(data))
    commands = [
        *TABLE_COMMANDS,
        [
            "regress",
            "--input",
            str(path),
            "--outcome",
            "accommodation_delivered",
            "--candidates",
            "provider,gender",
        ],
    ]
    for args in commands:
        r = runner.invoke(app, args)
        assert r.exception is None or isinstance(r.exception, SystemExit), (args, r.exception)
        assert r.exit_code == 0, (args, r.stderr)
        assert r.stdout.strip()


def test_usable_columns_wins(monkeypatch):
    monkeypatch.setenv("COLUMNS", "73")
    assert render.terminal_width() == 73
    monkeypatch.setenv("COLUMNS", "5")  # usable, but nothing reads at 5: the floor applies
    assert render.terminal_width() == render.MIN_WIDTH


def _run_in_pty(args: list[str], columns: int, env: dict[str, str]) -> str:
    """Run hmip with stdout and stderr on a pseudo-terminal `columns` wide; its output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(
        [HMIP, *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env
    )
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
    proc.wait(timeout=120)
    os.close(master)
    assert proc.returncode == 0, b"".join(chunks)[-2000:]
    return ANSI.sub("", b"".join(chunks).decode("utf-8").replace("\r\n", "\n"))


@pytest.mark.slow
@pytest.mark.parametrize("columns", [60, 200])
def test_tables_fit_the_real_terminal(store_and_file, columns):
    data, _ = store_and_file
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # shells do not export it
    env["HMIP_DATA"] = str(data)
    env["NO_COLOR"] = "1"
    out = _run_in_pty(
        ["regress", "--factor", "accommodation", "--measure", "delivery"], columns, env
    )
    widths = [len(line) for line in out.splitlines()]
    assert max(widths) <= columns
    if columns == 60:
        # The old floor of 80 columns wrapped every line of a 60-column terminal; headers
        # now wrap between words only.
        assert "Exp\n(B)" not in out and "Exp(B)" in out
    else:
        # Wide terminals are used: the coefficient table fits on one line per row.
        assert max(widths) > 100
