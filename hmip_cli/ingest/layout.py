"""Whole-file layout: is row 1 of this file (or sheet) really its header?

A file whose first row names no hmip column is not a file with dozens of unknown columns:
its header row is missing, or sits below a title, or the workbook opens on a cover
sheet. One message says which, and its cells are never quoted (without a header, row 1
is a case: its id and notes).
"""

from __future__ import annotations

from hmip_cli.errors import Problem
from hmip_cli.framework.model import Framework
from hmip_cli.ingest.mapping import IGNORE, Mapping, resolve_header
from hmip_cli.ingest.readers import RawFile
from hmip_cli.privacy import quote_name

MIN_MATCHES = 2  # cells of a row naming hmip columns for that row to count as a header


def matches(cells: list[str], mapping: Mapping | None, fw: Framework | None = None) -> int:
    """How many of `cells` name a column of `fw` (directly or through the mapping)."""
    return sum(
        1 for c in cells if c.strip() and resolve_header(c, mapping, fw) not in (None, IGNORE)
    )


def header_row(
    rows: list[list[str]], mapping: Mapping | None, fw: Framework | None = None
) -> int | None:
    """The spreadsheet row number (1 = first) of the first row that looks like a header."""
    for i, cells in enumerate(rows):
        if matches(cells, mapping, fw) >= MIN_MATCHES:
            return i + 1
    return None


def not_a_header(
    raw: RawFile, n_known: int, mapping: Mapping | None, fw: Framework | None = None
) -> Problem | None:
    """The one problem for a file whose row 1 names no hmip column (or just one, among
    others: a case row whose cell happens to read as a column name), or None."""
    width = len(raw.head[0]) if raw.head else len(raw.headers)
    if n_known >= MIN_MATCHES or (n_known == 1 and width <= MIN_MATCHES):
        return None
    on = f" of the sheet {quote_name(raw.sheet)}" if raw.sheet is not None else ""
    below = header_row(raw.head[1:], mapping, fw)
    if below is not None:
        return Problem(
            raw.name,
            1,
            None,
            None,
            f"row 1{on} is not the header: the column names seem to be on row "
            f"{below + 1}; delete the rows above them so the header is row 1",
        )
    if raw.other_sheets is not None:
        for name, rows in raw.other_sheets().items():
            at = header_row(rows, mapping, fw)
            if at is not None:
                where = "" if at == 1 else f" (on its row {at})"
                return Problem(
                    raw.name,
                    None,
                    None,
                    None,
                    f"the first sheet, {quote_name(raw.sheet)}, has no hmip column names (a "
                    f"cover or notes sheet?); the sheet {quote_name(name)} has them{where}: "
                    f"re-run with --sheet {quote_name(name)} (or set sheet in the mapping's "
                    "[file])",
                )
    named = "none" if n_known == 0 else "only one"
    return Problem(
        raw.name,
        1,
        None,
        None,
        f"row 1{on} is not a header: {named} of its {width:,} cells names a column `hmip "
        "schema` lists. Is the header row missing? Row 1 must hold the column names "
        "(`hmip schema --template cases.xlsx` writes them); other names can be mapped with "
        "--mapping (docs/mapping.md)",
    )
