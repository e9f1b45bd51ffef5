"""What every command shares: option aliases declared once, and error handling."""

from __future__ import annotations

import functools
import os
import sys
from contextvars import ContextVar
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from hmip_cli import schema
from hmip_cli.errors import EXIT_DATA, HmipError, ValidationFailed
from hmip_cli.fileio import is_no_space, no_space_message
from hmip_cli.render import Format, request_directory, resolve_format

# Whether --format was given on the command line (set by its callback while the options are
# parsed, read by `handle_errors` before the command runs): `-o x.csv` alone means CSV.
_FORMAT_GIVEN: ContextVar[bool] = ContextVar("hmip_format_given", default=False)


def _note_format(ctx: typer.Context, param: typer.CallbackParam, value):
    source = ctx.get_parameter_source(param.name) if param.name else None
    _FORMAT_GIVEN.set(source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"))
    return value


FormatOpt = Annotated[
    Format,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        callback=_note_format,
        help="Output format: table (for people), csv, tsv, json, markdown, xlsx, ods, html. "
        "Default: from the --output extension, else table.",
    ),
]


def _output_path(value: str) -> Path:
    # `-o DIR/` asks for one CSV per table; Path("out/") forgets the slash, so say it here.
    path = Path(value)
    request_directory(path if value.endswith(("/", os.sep)) else None)
    return path


OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        parser=_output_path,
        help="Write to this file instead of stdout (written atomically). "
        "DIR/ writes one CSV per table.",
    ),
]
# For commands that write one file of cases (export, synth): no directory form.
FileOutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Write to this file instead of stdout (written atomically).",
        dir_okay=False,
    ),
]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        metavar="DIR",
        help="The store directory. Default: $HMIP_DATA, else ~/.local/share/hmip.",
        envvar="HMIP_DATA",
        show_envvar=True,
        file_okay=False,
    ),
]


# Stepwise selection options, shared by `hmip regress` and `hmip report`.
class Removal(str, Enum):
    lr = "lr"
    wald = "wald"
    conditional = "conditional"


PinOpt = Annotated[
    float,
    typer.Option(
        "--pin", metavar="P", show_default=True, help="Entry: score-test p must be below this."
    ),
]
PoutOpt = Annotated[
    float,
    typer.Option(
        "--pout", metavar="P", show_default=True, help="Removal: p above this removes a term."
    ),
]
RemovalOpt = Annotated[
    Removal,
    typer.Option(
        "--removal",
        metavar="STATISTIC",
        help="Removal statistic: lr (SPSS FSTEP(LR)), wald, or conditional.",
    ),
]
# For help text: with spaces, so a help formatter wraps between keys, never inside one.
DEFAULT_CANDIDATES = ", ".join(schema.DEFAULT_BREAKDOWNS)


class Adjust(str, Enum):
    bh = "bh"
    holm = "holm"
    none = "none"


AdjustOpt = Annotated[
    Adjust | None,
    typer.Option(
        "--adjust",
        metavar="METHOD",
        help="Multiple-testing adjustment over every model x every candidate: bh "
        "(Benjamini-Hochberg), holm, or none (default). --fdr is --adjust bh.",
    ),
]


FrameworkOpt = Annotated[
    str | None,
    typer.Option(
        "--framework",
        metavar="FRAMEWORK",
        help="The inspection framework the cases follow: a shipped name (qi-2016, the "
        "default; pdu-2023) or a framework .toml file (docs/frameworks.md). The store "
        "records it; later commands use it. Default: the store's framework.",
        show_default=False,
    ),
]


def load_framework(data: Path | None):
    """The store's framework (`store.load_framework`; qi-2016 for a store that records
    none). Commands call it by the name they import, like `load_cases`."""
    from hmip_cli import store

    return store.load_framework(data)


def load_cases(data: Path | None):
    """The stored cases with derived columns (`store.load_cases`). Commands call it by the
    name they import, so a test can replace it per command module."""
    from hmip_cli import store
    from hmip_cli.envelope import note_provenance, store_provenance
    from hmip_cli.render import mark_synthetic
    from hmip_cli.report.provenance import is_synthetic

    cases = store.load_cases(data, identifying=False)  # analyses never read ids or notes
    note_provenance("store", store_provenance(data))
    # (ids and notes are not loaded, so commands cannot tell synthetic data here; reports can)
    mark_synthetic(is_synthetic(cases))
    return cases


def stderr_console():
    # Created lazily so test runners can capture stderr (see ECOSYSTEM.md).
    from rich.console import Console

    return Console(
        stderr=True, highlight=False, no_color=True if "NO_COLOR" in os.environ else None
    )


def say(message: str, style: str | None = None) -> None:
    """Talk to the user on stderr. Markup is off: messages may contain [c]-style codes;
    escape sequences and control characters from the data are dropped."""
    from hmip_cli.render import strip_controls

    stderr_console().print(strip_controls(message), style=style, markup=False, soft_wrap=True)


def report_error(exc: HmipError) -> None:
    console = stderr_console()  # one console for every line: building one costs a few ms
    if isinstance(exc, ValidationFailed):
        for problem in exc.problems:
            tag = "error" if problem.severity == "error" else "warning"
            console.print(
                f"{tag}: {problem}",
                style="red" if tag == "error" else "yellow",
                markup=False,
                soft_wrap=True,
            )
    console.print(f"Error: {exc}", style="bold red", markup=False, soft_wrap=True)


def handle_errors(func):
    """Turn hmip's own exceptions into one clear message on stderr and an exit code.

    A traceback is shown only when HMIP_DEBUG=1 (or `hmip --debug`).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            _format_from_output(kwargs)
            _note_invocation(getattr(wrapper, "hmip_command", None), kwargs)
            return func(*args, **kwargs)
        except HmipError as exc:
            if os.environ.get("HMIP_DEBUG") == "1":
                raise
            report_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            say("Interrupted; nothing was changed.")
            raise typer.Exit(130) from None
        except MemoryError:
            say("Error: out of memory")
            raise typer.Exit(EXIT_DATA) from None
        except OSError as exc:  # disk full, file vanished, ...: a message, not a traceback
            if os.environ.get("HMIP_DEBUG") == "1" or isinstance(exc, BrokenPipeError):
                raise
            if is_no_space(exc):
                say(f"Error: {_no_space(exc)}", style="bold red")
                raise typer.Exit(EXIT_DATA) from None
            where = f" ({exc.filename})" if exc.filename else ""
            say(f"Error: {exc.strerror or exc}{where}", style="bold red")
            raise typer.Exit(EXIT_DATA) from None
        finally:
            # one command per parse (tests invoke many in one process); library calls after
            # a command are not that command
            from hmip_cli.envelope import clear_invocation

            request_directory(None)
            clear_invocation()

    return wrapper


# Options that say where and how to write, not what: left out of the JSON's `parameters`.
_NOT_PARAMETERS = ("fmt", "output", "ctx")


def _note_invocation(command: str | None, kwargs: dict) -> None:
    """The command's name ("rates", "framework show") and parameters for the JSON document."""
    from hmip_cli.envelope import set_invocation

    params = {k: v for k, v in kwargs.items() if k not in _NOT_PARAMETERS}
    set_invocation(command, params)


def name_commands(app: typer.Typer, prefix: tuple[str, ...] = ()) -> None:
    """Tell each registered command's `handle_errors` wrapper its name as typed
    ("framework show"), for the JSON document's `command` (Typer's own Click, which knows
    it, is private)."""
    for info in app.registered_commands:
        if info.callback is not None:
            name = info.name or info.callback.__name__.replace("_", "-")
            info.callback.hmip_command = " ".join((*prefix, name))  # type: ignore[attr-defined]
    for group in app.registered_groups:
        if group.typer_instance is not None:
            name_commands(group.typer_instance, (*prefix, group.name or ""))


def _no_space(exc: OSError) -> str:
    """The disk-full message for an OSError that escaped `fileio` (standard output on a
    full disk: its unwritten buffer is dropped, so exiting does not fail a second time)."""
    if exc.filename:
        return no_space_message(exc.filename)
    try:
        device = os.fstat(sys.stdout.fileno()).st_dev
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor
        return no_space_message(None)
    return no_space_message(None, device)


def _format_from_output(kwargs: dict) -> None:
    """`-o rates.csv` writes CSV: a command's `fmt` comes from its --output extension unless
    --format was given, and an extension contradicting --format is a usage error."""
    fmt = kwargs.get("fmt")
    if not isinstance(fmt, Format) or "output" not in kwargs:
        return
    given = _FORMAT_GIVEN.get()
    _FORMAT_GIVEN.set(False)  # one command per parse (tests invoke many in one process)
    kwargs["fmt"] = resolve_format(fmt, kwargs["output"], given=given)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def typed(ctx: typer.Context, *names: str) -> list[str]:
    """The options among the parameters `names` that the user gave on the command line, as
    they are spelled there ("--format"); defaults and environment variables do not count."""
    out = []
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name == "COMMANDLINE":
            param = next(p for p in ctx.command.params if p.name == name)
            out.append(max(param.opts, key=len))
    return out


def refuse_ignored(
    ctx: typer.Context, names: tuple[str, ...], context: str, hint: str = ""
) -> None:
    """A usage error (exit 2) when any of the options `names` was given where it would be
    silently ignored: `context` says where ("with --chart"), `hint` what to do instead."""
    flags = typed(ctx, *names)
    if flags:
        from hmip_cli.errors import BadRequest

        verb = "does" if len(flags) == 1 else "do"
        raise BadRequest(
            f"{' and '.join(flags)} {verb} not apply {context}" + (f"; {hint}" if hint else "")
        )
