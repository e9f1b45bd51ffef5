"""The `hmip` Typer application.

Commands are loaded lazily: `COMMANDS` names each one, the module that defines it and its
one-line help, so `hmip --help`, completing a command name (`hmip re<TAB>`) and the start
of every command import neither Polars nor any command module; `hmip rates` imports
`cli/rates_cmd.py` alone. A command module defines its command as a module-level function
(a command group: a `typer.Typer`), and tests/test_cli_registry.py checks this table
against the modules.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Annotated, Any, NamedTuple

import typer
from typer.core import TyperGroup

HELP = """Statistics for probation case-assessment data: ingest spreadsheets, compute the
bulletin's rates and tables, run SPSS-style forward stepwise logistic regression.

Exit codes: 0 success, 1 a problem in the data or the analysis, 2 a usage error.

Start with `hmip demo` to see the bulletin reproduced from the bundled example data.
"""


class Entry(NamedTuple):
    name: str  # as typed: `hmip NAME`
    module: str  # under hmip_cli.cli
    attribute: str  # the command function, or the group's typer.Typer
    summary: str  # the first sentence of its help: `hmip --help` shows it without importing


# The order here is the order in `hmip --help`.
COMMANDS: tuple[Entry, ...] = (
    Entry(
        "demo",
        "demo_cmd",
        "demo_cmd",
        "Reproduce the bulletin from the bundled example: ingest 1,066 example cases into "
        "a temporary store, then print the sample profile, Figures 1-4 (rates per factor) "
        "and Tables 1-2 (the case-level questions, by breakdown).",
    ),
    Entry("ingest", "ingest_cmd", "ingest", "Validate case files and add them to the store."),
    Entry(
        "info",
        "info_cmd",
        "info",
        "Show what is in the store: cases per inspection and lead group, the date range, "
        "and every file ingested (name, sha256, rows, time, hmip version, mapping).",
    ),
    Entry(
        "remove", "remove_cmd", "remove", "Remove the cases of one ingested file from the store."
    ),
    Entry(
        "export",
        "export_cmd",
        "export",
        "Write the store's cleaned, validated cases for use in other tools.",
    ),
    Entry(
        "schema",
        "schema_cmd",
        "schema_command",
        "Print the data dictionary: every column hmip stores (name, type, allowed values, "
        "when it applies, description), then the columns hmip derives.",
    ),
    Entry(
        "synth",
        "synth_cmd",
        "synth_command",
        "Generate synthetic case data calibrated to the interventions bulletin.",
    ),
    Entry(
        "sample",
        "sample_cmd",
        "sample_cmd",
        "The sample profile: all cases and the framework's profile characteristics, each "
        "with n and %.",
    ),
    Entry(
        "rates",
        "rates_cmd",
        "rates_cmd",
        "Figures 1-4: per factor, cases where it was a priority and the % of applicable "
        "cases judged yes, with n and a 95% Wilson score interval.",
    ),
    Entry(
        "protection",
        "protection_cmd",
        "protection_cmd",
        "Tables 1 and 2: the case-level questions, with n and % yes for all cases and each "
        "group of each breakdown.",
    ),
    Entry(
        "trend",
        "trend_cmd",
        "trend_cmd",
        "Trends: per judgement, n and % yes in each year (or inspection), a column per period.",
    ),
    Entry(
        "regress",
        "regress_cmd",
        "regress",
        "Forward stepwise logistic regression, as SPSS LOGISTIC REGRESSION /METHOD=FSTEP.",
    ),
    Entry(
        "report",
        "report_cmd",
        "report_cmd",
        "The bulletin as one file: key findings in plain English, the sample profile, "
        "Figures 1-4 each with its data table, Tables 1 and 2, the significant subgroup "
        "differences from forward stepwise logistic regression (with a methods note and "
        "the cases in each model), small-number markers and suppression, and provenance "
        "(store content hash, cases, inspections, hmip version, parameters, date).",
    ),
    Entry(
        "chart",
        "chart_cmd",
        "chart_cmd",
        "One of the bulletin's Figures 1-4 as a chart: per factor, the applicable cases "
        "(full bar) and the cases judged yes (filled segment), labelled with % yes and n.",
    ),
    Entry(
        "mapping",
        "mapping_cmd",
        "app",
        "Mapping files: how hmip reads an export whose headers and codes are not its own.",
    ),
    Entry(
        "framework",
        "framework_cmd",
        "app",
        "Inspection frameworks: what a case looks like and how it is published.",
    ),
)
_BY_NAME = {e.name: e for e in COMMANDS}
_LOADED: dict[str, Any] = {}  # name -> its Click command, built once per process


def load_command(name: str) -> Any:
    """The Click command `name`, importing its module on first use."""
    if name not in _LOADED:
        entry = _BY_NAME[name]
        module = importlib.import_module(f"hmip_cli.cli.{entry.module}")
        obj = getattr(module, entry.attribute)
        if isinstance(obj, typer.Typer):
            _name_commands(obj, (name,))
            _LOADED[name] = typer.main.get_group(obj)
        else:
            obj.hmip_command = name  # for the JSON document's `command` (handle_errors)
            info = typer.models.CommandInfo(name=name, callback=obj)
            _LOADED[name] = typer.main.get_command_from_info(
                info, pretty_exceptions_short=True, rich_markup_mode=None
            )
    return _LOADED[name]


def _name_commands(group: typer.Typer, prefix: tuple[str, ...]) -> None:
    """Tell each command of a group its name as typed ("framework show")."""
    for info in group.registered_commands:
        if info.callback is not None:
            name = info.name or info.callback.__name__.replace("_", "-")
            info.callback.hmip_command = " ".join((*prefix, name))  # type: ignore[attr-defined]
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _name_commands(sub.typer_instance, (*prefix, sub.name or ""))


class _LazyCommands(MutableMapping[str, Any]):
    """The root group's commands: the names of `COMMANDS` (iterating imports nothing), each
    loaded when looked up; anything added later (tests) is kept as given."""

    def __init__(self, added: Mapping[str, Any]) -> None:
        self._added = dict(added)

    def __getitem__(self, name: str) -> Any:
        if name in self._added:
            return self._added[name]
        if name in _BY_NAME:
            return load_command(name)
        raise KeyError(name)

    def __setitem__(self, name: str, command: Any) -> None:
        self._added[name] = command

    def __delitem__(self, name: str) -> None:
        del self._added[name]

    def __iter__(self) -> Iterator[str]:
        yield from _BY_NAME
        yield from (n for n in self._added if n not in _BY_NAME)

    def __len__(self) -> int:
        return len(set(_BY_NAME) | set(self._added))


class LazyGroup(TyperGroup):
    """A Typer group whose commands are imported when run or asked for their own help;
    the root help lists them from `COMMANDS`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = _LazyCommands(self.commands)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # (TyperGroup's would load every command)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # As TyperGroup does, from the summaries: no command module is imported.
        from typer._click.utils import make_default_short_help

        limit = formatter.width - 6 - max(len(e.name) for e in COMMANDS)
        rows = [(e.name, make_default_short_help(e.summary, limit)) for e in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        # As TyperGroup does, but a command's name and summary come from `COMMANDS`, so
        # completing `hmip <TAB>` imports no command module (TyperGroup's loads them all).
        from typer._click.shell_completion import CompletionItem
        from typer._click.utils import make_default_short_help

        results = [
            CompletionItem(e.name, help=make_default_short_help(e.summary))
            for e in COMMANDS
            if e.name.startswith(incomplete)
        ]
        added = [n for n in self.commands if n not in _BY_NAME and n.startswith(incomplete)]
        results += [CompletionItem(n, help=self.commands[n].get_short_help_str()) for n in added]
        return results + super(TyperGroup, self).shell_complete(ctx, incomplete)


app = typer.Typer(
    name="hmip",
    cls=LazyGroup,
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


def _arguments_without_types() -> None:
    # Typer prints an argument's Python type after its metavar ("FILE <list[str]>"): a type
    # leaking into help. Where a metavar is given, it is all the help shows (as for options).
    from typer.core import TyperArgument

    shown = TyperArgument.display_type_rich

    def display_type_rich(self, ctx):
        return None if self.metavar is not None else shown(self, ctx)

    TyperArgument.display_type_rich = display_type_rich  # type: ignore[method-assign]


_arguments_without_types()


def main() -> None:
    app()
