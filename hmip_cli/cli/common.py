"""What every command shares: error handling, the store's cases and framework, talking to
the user. The options they share are declared in `cli/options.py`."""

from __future__ import annotations

import functools
import os
import sys
from contextvars import ContextVar
from pathlib import Path

import typer

from hmip_cli.errors import EXIT_DATA, HmipError, ValidationFailed
from hmip_cli.fileio import is_no_space, no_space_message
from hmip_cli.render import Format, request_directory, resolve_format

# Whether --format was given on the command line (set by its callback while the options are
# parsed, `options.note_format`; read by `handle_errors` before the command runs).
FORMAT_GIVEN: ContextVar[bool] = ContextVar("hmip_format_given", default=False)


# The --framework a command that analyses one framework was given (set by the option's
# callback while the options are parsed, `options.choose_framework`; cleared by
# `handle_errors` when the command ends), and whether the mixed-store note was said.
FRAMEWORK_CHOSEN: ContextVar[str | None] = ContextVar("hmip_store_framework", default=None)
_NOTED: ContextVar[bool] = ContextVar("hmip_mixed_noted", default=False)


def chosen_framework() -> str | None:
    """The --framework the running command was given (None: not given)."""
    return FRAMEWORK_CHOSEN.get()


def load_framework(data: Path | None, framework: str | None = None):
    """The store's framework (`store.load_framework`; qi-2016 for a store that records
    none). Commands call it by the name they import, like `load_cases`. A store holding
    several frameworks: the one `framework` names, else the latest ingested, and a note
    on stderr says so (once per command), so results are never silently of one of them."""
    from hmip_cli import store

    framework = framework or chosen_framework()
    meta = store.read_meta(data)
    fw = store.framework_of(meta, store.cases_path(data), framework)
    if framework is None and store.is_mixed(meta):
        _note_mixed(store.frameworks_of(meta), fw.name)
    return fw


def _note_mixed(held, chosen: str) -> None:
    if _NOTED.get():  # once per command (it may load the framework more than once)
        return
    _NOTED.set(True)
    say(
        f"Note: the store holds cases of {len(held)} frameworks "
        f"({', '.join(f.name for f in held)}); these results are for {chosen}, the latest "
        "ingested. Choose with --framework NAME; `hmip trend` compares them."
    )


def load_cases(data: Path | None, framework: str | None = None):
    """The stored cases with derived columns, as a lazy scan of the store
    (`store.scan_cases_and_info`): each analysis reads only the columns it needs and
    counts them in one group_by (issue 13). Commands call it by the name they import, so
    a test can replace it per command module (with a frame: analyses take either). A store
    of several frameworks: the cases of `framework` (default: the latest ingested)."""
    from hmip_cli import store
    from hmip_cli.envelope import note_provenance, store_provenance
    from hmip_cli.render import mark_synthetic
    from hmip_cli.report.provenance import is_synthetic

    framework = framework or chosen_framework()
    cases, _ = store.scan_cases_and_info(data, framework=framework)  # no ids or notes
    note_provenance("store", store_provenance(data))
    # (ids and notes are not scanned, so commands cannot tell synthetic data here; reports can)
    mark_synthetic(is_synthetic(cases))
    return cases


def load_segments(data: Path | None):
    """Every framework's cases of the store (`trend.segments_from_store`), for `hmip trend`
    and `hmip chart trend`: (segments, the crosswalks the store recorded)."""
    from hmip_cli import trend
    from hmip_cli.envelope import note_provenance, store_provenance

    got = trend.segments_from_store(data)
    note_provenance("store", store_provenance(data))
    return got


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
            _NOTED.set(False)
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
        except (typer.Exit, SystemExit, GeneratorExit):
            raise
        except OSError as exc:  # disk full, file vanished, ...: a message, not a traceback
            if os.environ.get("HMIP_DEBUG") == "1" or isinstance(exc, BrokenPipeError):
                raise
            if is_no_space(exc):
                say(f"Error: {_no_space(exc)}", style="bold red")
                raise typer.Exit(EXIT_DATA) from None
            where = f" ({exc.filename})" if exc.filename else ""
            say(f"Error: {exc.strerror or exc}{where}", style="bold red")
            raise typer.Exit(EXIT_DATA) from None
        except BaseException as exc:  # a Polars panic is a BaseException
            # A store is scanned lazily, so damaged data pages surface only when an analysis
            # reads them: a message if the store is indeed unreadable, else hmip's own fault.
            from hmip_cli.store import damaged_scan

            damaged = damaged_scan(exc)
            if damaged is None or os.environ.get("HMIP_DEBUG") == "1":
                raise
            report_error(damaged)
            raise typer.Exit(damaged.exit_code) from None
        finally:
            FRAMEWORK_CHOSEN.set(None)
            # one command per parse (tests invoke many in one process); library calls after
            # a command are not that command
            from hmip_cli.envelope import clear_invocation

            request_directory(None)
            clear_invocation()
            if "hmip_cli.store" in sys.modules:
                sys.modules["hmip_cli.store"].forget_scans()

    return wrapper


# Options that say where and how to write, not what: left out of the JSON's `parameters`.
_NOT_PARAMETERS = ("fmt", "output", "ctx")


def _note_invocation(command: str | None, kwargs: dict) -> None:
    """The command's name ("rates", "framework show") and parameters for the JSON document."""
    from hmip_cli.envelope import set_invocation

    params = {k: v for k, v in kwargs.items() if k not in _NOT_PARAMETERS}
    set_invocation(command, params)


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
    given = FORMAT_GIVEN.get()
    FORMAT_GIVEN.set(False)  # one command per parse (tests invoke many in one process)
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


def describe_where(cases, where: list[str] | None, fw) -> str | None:
    """The --where conditions in words, for a table's notes (None: no --where)."""
    if not where:
        return None
    from hmip_cli import rates as R

    return R.describe_where(R.parse_where(where, cases, fw))
