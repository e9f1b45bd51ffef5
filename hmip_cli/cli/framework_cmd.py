"""`hmip framework list | show | export`: the inspection frameworks hmip knows.

Commands are module-level functions; `register(app)` adds the `framework` group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hmip_cli.cli.common import handle_errors, say
from hmip_cli.cli.options import FormatOpt, OutputOpt
from hmip_cli.errors import BadRequest
from hmip_cli.render import Format, Table, emit

HELP = """Inspection frameworks: what a case looks like and how it is published.

A framework file (TOML) declares the case attributes, the judgement structure (areas such
as factors or standards x measures, each with when it applies), breakdowns, regression
candidates and every piece of publication wording. hmip ships qi-2016 (the bulletin's
2016-17 framework, the default) and pdu-2023 (HMIP's current PDU case assessment). See
docs/frameworks.md.

\b
Example:
  hmip framework list
  hmip framework show pdu-2023
  hmip framework export pdu-2023 my-framework.toml
"""

app = typer.Typer(name="framework", help=HELP, no_args_is_help=True, rich_markup_mode=None)

NameArg = Annotated[
    str,
    typer.Argument(
        metavar="NAME|FILE",
        help="A shipped framework's name (see `hmip framework list`) or a framework .toml file.",
    ),
]


@app.command("list")
@handle_errors
def list_command(fmt: FormatOpt = Format.table, output: OutputOpt = None) -> None:
    """List the shipped frameworks and crosswalks.

    Columns (frameworks): name, default, title, areas, measures, questions, columns, file.
    Columns (crosswalks): name, from_framework, to_framework, exact, approximate, none, file.

    \b
    Example:
      hmip framework list
      hmip framework list --format json
    """
    from hmip_cli.framework import describe

    emit([Table(frame, title) for title, frame in describe.shipped()], fmt, output)


@app.command("show")
@handle_errors
def show_command(name: NameArg, fmt: FormatOpt = Format.table, output: OutputOpt = None) -> None:
    """Show everything a framework declares: attributes, derived columns (with their cut
    points), judgements with when each applies, case-level questions, breakdowns, the
    publication wording, sources and assumptions. Given a file, it is checked first: a
    mistake in it is reported with its line (exit 1).

    \b
    Example:
      hmip framework show qi-2016
      hmip framework show pdu-2023 --format json
    """
    from hmip_cli import framework
    from hmip_cli.framework import describe

    fw = framework.load(name)
    tables = []
    for i, (title, frame) in enumerate(describe.framework_tables(fw)):
        tables.append(Table(frame, title, vertical=i == 0))
    emit(tables, fmt, output)


@app.command("export")
@handle_errors
def export_command(
    name: NameArg,
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="The .toml file to write.", dir_okay=False),
    ],
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
) -> None:
    """Write a framework as a commented TOML file to edit, then use with --framework FILE.

    The file is written atomically; an existing FILE is left alone unless --force.

    \b
    Example:
      hmip framework export pdu-2023 my-framework.toml
      hmip framework show my-framework.toml
    """
    from hmip_cli import framework
    from hmip_cli.fileio import atomic_write_bytes, check_writable
    from hmip_cli.framework.export import to_toml

    if file.exists() and not file.is_dir() and not force:
        raise BadRequest(f"{file} exists; give --force to overwrite it")
    check_writable(file)
    fw = framework.load(name)
    atomic_write_bytes(file, to_toml(fw).encode("utf-8"))
    say(f"Wrote framework {fw.name!r} to {file}.")
