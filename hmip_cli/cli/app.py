"""The `hmip` Typer application. Each command group lives in its own module and
registers itself with `register(app)`."""

from __future__ import annotations

import os
from typing import Annotated

import typer

HELP = """Statistics for probation case-assessment data: ingest spreadsheets, compute the
bulletin's rates and tables, run SPSS-style forward stepwise logistic regression.

Exit codes: 0 success, 1 a problem in the data or the analysis, 2 a usage error.

Start with `hmip demo` to see the bulletin reproduced from the bundled example data.
"""

app = typer.Typer(
    name="hmip",
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold case data
    rich_markup_mode=None,
    add_completion=True,
)


def _version(value: bool) -> None:
    if value:
        from hmip_cli import __version__

        typer.echo(f"hmip {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show a traceback on errors.")] = False,
) -> None:
    if debug:
        os.environ["HMIP_DEBUG"] = "1"


def _register_commands() -> None:
    # One module per command group; the order here is the order in `hmip --help`.
    from hmip_cli.cli import (
        demo_cmd,
        export_cmd,
        framework_cmd,
        info_cmd,
        ingest_cmd,
        mapping_cmd,
        rates_cmd,
        regress_cmd,
        remove_cmd,
        report_cmd,
        schema_cmd,
        synth_cmd,
        trend_cmd,
    )

    for module in (
        demo_cmd,
        ingest_cmd,
        mapping_cmd,
        info_cmd,
        remove_cmd,
        export_cmd,
        schema_cmd,
        synth_cmd,
        rates_cmd,
        trend_cmd,
        regress_cmd,
        report_cmd,
        framework_cmd,
    ):
        module.register(app)
    from hmip_cli.cli.common import name_commands

    name_commands(app)


def _arguments_without_types() -> None:
    # Typer prints an argument's Python type after its metavar ("FILE <list[str]>"): a type
    # leaking into help. Where a metavar is given, it is all the help shows (as for options).
    from typer.core import TyperArgument

    shown = TyperArgument.display_type_rich

    def display_type_rich(self, ctx):
        return None if self.metavar is not None else shown(self, ctx)

    TyperArgument.display_type_rich = display_type_rich  # type: ignore[method-assign]


_arguments_without_types()
_register_commands()


def main() -> None:
    app()
