"""Every `Example:` in every command's --help is run, as written, and must succeed.

The examples are written for a clone of the repository (`examples/...`). They run here in a
scratch directory holding smaller stand-ins for examples/cases.csv and the export (same
columns, fewer cases) so the whole file stays fast; `hmip demo` uses the real bundled example.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hmip_cli import synth
from hmip_cli.cli.app import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


def command_names() -> list[str]:
    """Every top-level command that is not a group (cli/app.py's table)."""
    from hmip_cli.cli.app import COMMANDS

    names = [e.name for e in COMMANDS if e.attribute != "app"]
    assert {"rates", "regress", "report", "demo"} <= set(names)  # never an empty set
    return names


def examples(command: str) -> list[str]:
    """The `hmip ...` lines of the command's Example section (continuation lines joined)."""
    text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
    section = text.split("Example", 1)[1]
    section = re.split(r"\n\s*(?:Options|Arguments):", section, maxsplit=1)[0]
    joined = re.sub(r"\\\n\s*", "", section)
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("hmip ")]


def test_every_command_has_runnable_looking_examples():
    for name in command_names():
        assert examples(name), f"`hmip {name} --help` has no `hmip ...` example lines"


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    (tmp_path / "examples" / "export").mkdir(parents=True)
    (tmp_path / "examples" / "cases.csv").write_text(
        synth.to_csv_text(synth.generate(300, 1)), encoding="utf-8"
    )
    small = synth.generate(80, 2, id_prefix="SYX")
    (tmp_path / "examples" / "export" / "cases_export.csv").write_text(
        synth.messy_csv_text(small, 2), encoding="utf-8"
    )
    shutil.copy(ROOT / "examples" / "export" / "mapping.toml", tmp_path / "examples" / "export")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HMIP_DATA", str(tmp_path / "store"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1548892800")
    return tmp_path


def run_line(line: str) -> None:
    for part in line.split("&&"):
        args = shlex.split(part)
        assert args[0] == "hmip", line
        target = None
        if ">" in args:
            i = args.index(">")
            target, args = args[i + 1], args[:i]
        result = runner.invoke(app, args[1:])
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            line,
            result.exception,
        )
        assert result.exit_code == 0, (line, result.stderr[-2000:])
        assert "Traceback" not in result.stderr
        if target:
            Path(target).write_text(result.stdout, encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("command", command_names())
def test_help_examples_work_as_written(scratch, command):
    from hmip_cli.ingest import ingest_files

    if command not in ("ingest", "demo", "synth"):
        ingest_files([scratch / "examples" / "cases.csv"], data=Path(os.environ["HMIP_DATA"]))
    for line in examples(command):
        run_line(line)
