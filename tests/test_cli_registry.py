"""cli/app.py's table of commands (the lazy root group) agrees with the command modules:
every command module is listed, each entry names a module-level command function (or a
group's typer.Typer), and the one-line help `hmip --help` prints from the table is the
one the command's own help gives."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
import typer
from typer._click.utils import make_default_short_help
from typer.testing import CliRunner

from hmip_cli.cli import app as A

CLI = Path(A.__file__).parent
runner = CliRunner()


def test_every_command_module_is_in_the_table():
    modules = {p.stem for p in CLI.glob("*_cmd.py")}
    assert modules == {e.module for e in A.COMMANDS}
    assert len({e.name for e in A.COMMANDS}) == len(A.COMMANDS)


@pytest.mark.parametrize("entry", A.COMMANDS, ids=lambda e: e.name)
def test_entry_names_a_module_level_command_and_its_summary(entry):
    module = importlib.import_module(f"hmip_cli.cli.{entry.module}")
    obj = getattr(module, entry.attribute)
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    top = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "register" not in top  # commands are not closures registered by a function
    if not isinstance(obj, typer.Typer):
        assert entry.attribute in top
    command = A.load_command(entry.name)
    for limit in range(20, 200, 7):  # the listing is cut to the terminal's width
        assert make_default_short_help(command.help or "", limit) == make_default_short_help(
            entry.summary, limit
        ), (entry.name, limit)


def test_root_help_lists_every_command_in_order_and_suggests_on_a_typo():
    r = runner.invoke(A.app, ["--help"], env={"COLUMNS": "100"}, terminal_width=100)
    assert r.exit_code == 0
    listed = [line.split()[0] for line in r.stdout.split("Commands:")[1].splitlines() if line]
    assert listed == [e.name for e in A.COMMANDS]
    r = runner.invoke(A.app, ["ratse"])
    assert r.exit_code == 2 and "Did you mean 'rates'?" in r.stderr


def test_commands_report_their_name_in_the_json_document(example_store):
    import json

    r = runner.invoke(A.app, ["framework", "list", "--format", "json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["command"] == "framework list"
    r = runner.invoke(A.app, ["info", "--data", str(example_store), "--format", "json"])
    assert json.loads(r.stdout)["command"] == "info"
