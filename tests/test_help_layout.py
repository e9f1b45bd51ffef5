"""Help reads well at 80 columns (issue 14, item 4): every option's metavar is a word (no
Python type such as `<list[str]>` leaking), and no word of an option's help or default is
broken across lines (the `--candidates` default used to wrap as "p rovider ... supervisi on")."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from hmip_cli.cli.app import app

runner = CliRunner()
COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
METAVAR = re.compile(r"^[A-Za-z][A-Za-z0-9_.,:=\-]*(\.\.\.)?$")  # FILE, KEY=VALUE, A,B,...


def _help(name: str) -> str:
    r = runner.invoke(app, [name, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert r.exit_code == 0, r.stderr
    return r.stdout


def _tokens(text: str) -> set[str]:
    """Words of rendered help, with words split at a hyphen at a line end put back together
    ("partner-info-" + "review"): breaking at a hyphen is how text is meant to wrap."""
    words = text.split()
    out: set[str] = set()
    i = 0
    while i < len(words):
        w = words[i]
        while w.endswith("-") and i + 1 < len(words):
            i += 1
            w += words[i]
        out.add(w)
        out.add(words[i])
        i += 1
    return out


def test_every_command_is_checked():
    assert {"ingest", "rates", "regress", "report", "schema", "sample"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_metavars_are_words(name):
    text = _help(name)
    assert "<" not in text.split("Options:")[-1].replace("<title>", "").replace("<desc>", "")
    assert "list[" not in text and "<str>" not in text
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    ctx = command.make_context(name, ["--help"], resilient_parsing=True)
    for param in command.params:
        record = param.get_help_record(ctx)
        if record is None:
            continue
        spelled = record[0].split(" / ")[0].split("; ")[0]
        parts = spelled.replace(", ", ",").split(" ")
        if len(parts) > 1:  # "-f,--format FORMAT" or "FILE"
            assert METAVAR.match(parts[-1]), (name, spelled)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_and_defaults_wrap_between_words(name):
    text = _help(name)
    words = _tokens(text)
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    for param in command.params:
        for word in (getattr(param, "help", None) or "").split():
            assert word in words, (name, param.name, word)
    # Every default is printed whole: each word of it is a word of the help as rendered.
    ctx = command.make_context(name, ["--help"], resilient_parsing=True)
    for param in command.params:
        record = param.get_help_record(ctx)
        shown = re.search(r"\[default: ([^\]]*)", " ".join(record[1].split())) if record else None
        if shown:
            for word in shown.group(1).replace(";", " ").split():
                assert word in words or f"{word};" in words or f"{word}]" in words, (name, word)


def test_candidates_default_reads_whole():
    from hmip_cli import schema

    for name in ("regress", "report"):
        words = _tokens(_help(name))
        for key in schema.DEFAULT_BREAKDOWNS:
            assert key in words or f"{key})." in words or f"{key}," in words, (name, key)
