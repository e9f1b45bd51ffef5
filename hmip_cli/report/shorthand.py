"""The official shorthand ("Releasing statistics in spreadsheets", Analysis Function) and
its legend: which codes a table uses and the lines that explain them above it.

One place for every writer: the workbook (XLSX/ODS) rows above each table, the HTML and
Markdown report (a legend above each table that uses a code) and the table commands' HTML
page. A code counts as used wherever it appears in a text cell or in a column header, so a
break in series marked in a header ("2021 [b]", trend tables) is explained like a
suppressed cell ([c]).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hmip_cli import rates as R
from hmip_cli.layout import LEGEND_INTRO

# The guidance's shorthand, in the order it lists it. `[u]` replaces hmip's old `[low]`
# (the guidance uses [low] for "rounds to zero").
SHORTHAND: dict[str, str] = {
    R.MARK_SUPPRESSED: "confidential: suppressed, because fewer than {min_n} applicable cases "
    "are behind it or to protect confidentiality (disclosure control)",
    R.MARK_LOW: "low reliability: based on fewer than {min_n} applicable cases",
    R.MARK_NOT_APPLICABLE: "not applicable: no applicable cases",
    "[x]": "not available: the value could not be computed",
    "[b]": "break in series",  # the guidance's words; a table may say more (trend_tables)
}
CODE = re.compile(r"(\[[cuzxb]\])")


def codes_in(texts: Iterable[object]) -> list[str]:
    """The shorthand codes appearing in `texts` (non-text values ignored), SHORTHAND order."""
    seen: set[str] = set()
    for v in texts:
        if isinstance(v, str) and "[" in v:
            seen.update(CODE.findall(v))
    return [code for code in SHORTHAND if code in seen]


def used_codes(columns, rows) -> list[str]:
    """The codes used in a table: its headers (`columns`' `header`) and its text cells."""
    cells = (row.get(c.key) for row in rows for c in columns)
    return codes_in([*(getattr(c, "header", c) for c in columns), *cells])


def definition(code: str, min_n: int = R.DEFAULT_MIN_N) -> str:
    return SHORTHAND[code].format(min_n=min_n)


def legend_lines(codes: list[str], min_n: int = R.DEFAULT_MIN_N) -> list[str]:
    """The lines above a table that explain its codes ("[c] = confidential: ...")."""
    if not codes:
        return []
    return [LEGEND_INTRO, *[f"{code} = {definition(code, min_n)}" for code in codes]]


def is_code_note(note: str) -> bool:
    """A table note that only explains a shorthand code (the legend above the table does)."""
    return bool(re.match(r"\[[cuzxb]\][ :]", note))
