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


class HmipError(Exception):
    """Base class: every error hmip raises on purpose. Its message is shown to the user."""

    exit_code = EXIT_DATA


class BadInput(HmipError):
    """The data given to hmip is wrong: unreadable, invalid values, duplicates."""

    exit_code = EXIT_DATA


class BadRequest(HmipError):
    """The user asked for something that cannot be done: unknown factor, bad option."""

    exit_code = EXIT_USAGE


class ModelFailure(HmipError):
    """An analysis could not produce a trustworthy result (separation, non-convergence)."""

    exit_code = EXIT_DATA


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file, located like a spreadsheet user would look for it.

    `row` is the spreadsheet-style row number (the header is row 1, the first case row 2);
    None for problems about the whole file or a whole column.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        got = "" if self.value is None else f": got {self.value!r}"
        return f"{where}{got}: {self.expected}"


class ValidationFailed(BadInput):
    """Raised with every problem found, so the user sees them all at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(f"{len(errors)} problem(s) found; nothing was written")
