"""The one exception hierarchy of hmip, and what each error means as an exit code.

Exit codes (documented in the README and `hmip --help`):
    0  success
    1  a problem in the data or the analysis (bad input file, model failure)
    2  a usage error (bad option, unknown factor, missing store)
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2

MAX_LINES = 20  # problem lines of one kind (per column) before "... and N more"


class HmipError(Exception):
    """Base class: every error hmip raises on purpose. Its message is shown to the user."""

    exit_code = EXIT_DATA


class BadInput(HmipError):
    """The data given to hmip is wrong: unreadable, invalid values, duplicates."""

    exit_code = EXIT_DATA


class BadRequest(HmipError):
    """The user asked for something that cannot be done: unknown factor, bad option."""

    exit_code = EXIT_USAGE


class WriteFailed(HmipError):
    """A file could not be written (the disk is full); nothing was changed."""

    exit_code = EXIT_DATA


class ModelFailure(HmipError):
    """An analysis could not produce a trustworthy result (separation, non-convergence)."""

    exit_code = EXIT_DATA


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file, located like a spreadsheet user would look for it.

    `row` is the spreadsheet-style row number (the header is row 1, the first case row 2);
    None for problems about the whole file or a whole column. `value` is how the offending
    cell is shown, already made safe by `privacy.describe_value` (`'maybe'`, or `a value of
    412 characters`): never a case id or a note. `summary` marks a "... and N more" line,
    listed after the located ones; `more` is its N.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str
    severity: str = "error"  # "error" or "warning"
    summary: bool = False
    more: int = 0  # a summary line: how many problems it stands for

    def __str__(self) -> str:
        from hmip_cli.privacy import quote_name

        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {quote_name(self.column, limit=100)}"
        got = "" if self.value is None else f": got {self.value}"
        return f"{where}{got}: {self.expected}"


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """File by file (in the order first met), whole-file and whole-column problems first,
    then by row, then the "... and N more" lines; otherwise in the order they were found."""
    order: dict[str, int] = {}
    for p in problems:
        order.setdefault(p.file, len(order))

    def key(p: Problem) -> tuple[int, int, int]:
        rank = 2 if p.summary else (0 if p.row is None else 1)
        return (order[p.file], rank, p.row or 0)

    return sorted(problems, key=key)


def capped(problems: list[Problem], more: str, limit: int = MAX_LINES) -> list[Problem]:
    """The first `limit` problems of one kind, then one line counting the rest:
    "... and 19,980 more `more`"."""
    if len(problems) <= limit:
        return problems
    last = problems[limit]
    rest = len(problems) - limit
    return [
        *problems[:limit],
        Problem(
            last.file, None, None, None, f"... and {rest:,} more {more}", last.severity, True, rest
        ),
    ]


class ValidationFailed(BadInput):
    """Raised with every problem found, so the user sees them all at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        n = sum(p.more if p.summary else 1 for p in problems if p.severity == "error")
        super().__init__(f"{n:,} problem(s) found; nothing was written")
