"""Every `Example:` in every command's --help is run, as written, and must succeed.

The examples are written for a clone of the repository (`examples/...`). They run here in a
scratch directory holding smaller stand-ins for examples/cases.csv and the export (same
columns, fewer cases) so the whole file stays fast; `hmip demo` reads the same stand-in as
its bundled example (the demo on the real one, 1,066 cases, is tests/test_demo.py's and
test_report.py's test_demo_report).
"""

from __future__ import annotations

import functools
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


@functools.cache
def stand_ins() -> tuple[str, str]:
    """The stand-ins' text, made once: 300 cases for examples/cases.csv and 80 messy ones
    for the export."""
    small = synth.generate(80, 2, id_prefix="SYX")
    return synth.to_csv_text(synth.generate(300, 1)), synth.messy_csv_text(small, 2)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    """The stand-in examples/cases.csv ingested once; each test that wants a store gets a
    copy (some examples change their store)."""
    from hmip_cli.ingest import ingest_files

    root = tmp_path_factory.mktemp("help-examples")
    (root / "cases.csv").write_text(stand_ins()[0], encoding="utf-8")
    ingest_files([root / "cases.csv"], data=root / "store")
    return root / "store"


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    (tmp_path / "examples" / "export").mkdir(parents=True)
    cases, export = stand_ins()
    (tmp_path / "examples" / "cases.csv").write_text(cases, encoding="utf-8")
    (tmp_path / "examples" / "export" / "cases_export.csv").write_text(export, encoding="utf-8")
    shutil.copy(ROOT / "examples" / "export" / "mapping.toml", tmp_path / "examples" / "export")
    from hmip_cli import demo

    monkeypatch.setattr(demo, "example_path", lambda: tmp_path / "examples" / "cases.csv")
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
def test_help_examples_work_as_written(scratch, ingested, command):
    if command not in ("ingest", "demo", "synth"):
        shutil.copytree(ingested, os.environ["HMIP_DATA"])  # examples/cases.csv, ingested
    for line in examples(command):
        run_line(line)
