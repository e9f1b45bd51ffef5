"""Progress bars for the long commands (ingest, report, regress --all): what is being
done, how much of how much, the percentage and the time left (issue 14, item 5).

Shown on stderr only when stderr is a terminal, so pipes, files and CI logs never get
one, and never with a machine format (the caller says so: `enabled=False`). The core
reports through a callback `(what, done, total)`; this module only draws it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from hmip_cli.cli.common import stderr_is_terminal
from hmip_cli.render import strip_controls

Callback = Callable[[str, int, int], None]


@contextlib.contextmanager
def progress_bar(*, enabled: bool = True, unit: str = "items") -> Iterator[Callback | None]:
    """A transient Rich bar on stderr fed by `(what, done, total)` calls; yields None (no
    bar) unless `enabled` and stderr is a terminal. `unit`: "items" shows "12/44", "bytes"
    shows "12.3/45.6 MB" (ingest counts the input read, as rows are not known in advance)."""
    if not (enabled and stderr_is_terminal()):
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    amount = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    bar = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TaskProgressColumn(),
        amount,
        TimeRemainingColumn(),
        TextColumn("left"),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        tasks: list = []  # the task is made at the first report: no "0/?" frame before it

        def update(what: str, done: int, total: int) -> None:
            # file and model names come from the user: no escape sequences on the terminal
            what = strip_controls(what)
            if not tasks:
                tasks.append(bar.add_task(what, total=total, completed=done))
            bar.update(tasks[0], description=what, completed=done, total=total)

        yield update


def labelled(callback: Callback | None, prefix: str) -> Callback | None:
    """`callback` with `prefix` before each description ("model " + "AREA/MEASURE")."""
    if callback is None:
        return None
    cb = callback
    return lambda what, done, total: cb(f"{prefix}{what}", done, total)
