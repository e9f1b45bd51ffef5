"""One titled table for people, whatever the format: the model every writer reads, and
how its numbers read.

A `Grid` is a title, `Column`s (key, header, kind -> unit and alignment, decimals), rows of
typed values (int, float, text; shorthand such as "[c]" as text; None for an empty cell),
notes, the legend lines that explain its shorthand, and optional anchors (`id`, row
`keys`) and a worksheet name (`sheet`). Commands build a `render.Table` (a frame: machine
formats need it) and `Table.layout()` gives its Grid; the report builds Grids
(`report.content.DocTable`) directly. The writers, one per format, read only Grids:
terminal and Markdown (`render`), HTML (`report.html.table_html`), XLSX and ODS
(`report.workbook`, written by `report.xlsx` / `report.ods`).

`cell_text(column, value, p_style)` is the one way a value reads as text; `p_text` the one
p-value formatter; `percent_text` / `round_1dp` / `half_up` the one rounding rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

# --------------------------------------------------------------------------------------
# Numbers for people
# --------------------------------------------------------------------------------------
# Percentages are shown to one decimal place, rounded half up (ties away from zero) on the
# exact value: 99/144 = 68.75% is shown as 68.8. (The bulletin printed 68.7 for that cell,
# i.e. it rounded half down or truncated; we follow the usual publication convention, so
# that cell differs from the bulletin by design.) Python's own f"{x:.1f}" rounds the
# binary float half-to-even, which would give 68.8 here but 0.2 for 0.25: not used.


def percent_text(n_yes: int, n: int) -> str:
    """100 * n_yes / n to one decimal place, rounded half up in exact integer arithmetic."""
    if n <= 0:
        raise ValueError("n must be positive")
    tenths = (2000 * n_yes + n) // (2 * n)
    return f"{tenths // 10}.{tenths % 10}"


def half_up(value: float, places: str) -> Decimal:
    """`value` rounded half up (ties away from zero) to `places` ("1", "0.1"), exactly.

    The float is first snapped to 9 decimal places, which recovers the exact decimal
    value of any ratio of counts that has a finite decimal expansion (such as 68.75), so
    ties are recognised despite binary rounding error.
    """
    d = Decimal(repr(float(value))).quantize(Decimal("1e-9"), rounding=ROUND_HALF_UP)
    return d.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def round_1dp(value: float, signed: bool = False) -> str:
    """A float (a percentage, a difference in points) to one decimal place, half up
    (`half_up`), with thousands separators and no "-0.0"."""
    d = half_up(value, "0.1")
    if d == 0:
        d = abs(d)  # no "-0.0"
    text = f"{d:,}"
    return f"+{text}" if signed and d > 0 else text


# p-values: one function, two styles. People read p to three decimal places, and below .001
# as "<0.001" (never "0.000", which would claim p is zero).
# - "publication" (the default): UK government statistics' house style, which the report's
#   other conventions (Analysis Function) go with: ONS Style Guide, Numbers, "Use a 0 where
#   there is no digit before the decimal point" (GOV.UK's style guide likewise): "0.042",
#   "<0.001", "1.000". The report (HTML, Markdown) and `rates --test` tables.
# - "spss": SPSS's Sig. column, which `hmip regress` reproduces table for table: no leading
#   zero, ".042", "<.001" (SPSS itself prints ".000"). Every table with SPSS's layout.
P_STYLES = ("publication", "spss")


def p_text(p: float, style: str = "publication") -> str:
    """A p-value as a person reads it, in `style` (P_STYLES; see above)."""
    if style not in P_STYLES:
        raise ValueError(f"p style must be one of {P_STYLES}, not {style!r}")
    text = "<0.001" if p < 0.001 else f"{p:.3f}"
    if style == "spss" and text.startswith(("0.", "<0.")):
        text = text.replace("0.", ".", 1)
    return text


# --------------------------------------------------------------------------------------
# The table model
# --------------------------------------------------------------------------------------

# What a column holds, which decides how a value reads, its unit and its alignment:
# text; count (whole numbers, "1,066"); percent (stored and shown to one decimal place);
# percent_exact (full precision stored, shown to one decimal place: machine tables in a
# spreadsheet); ratio (two decimals: odds ratios); decimal (`decimals` places: B, S.E.);
# p (`p_text`).
KINDS = ("text", "count", "percent", "percent_exact", "ratio", "decimal", "p")
UNITS = {"count": "number", "percent": "%", "percent_exact": "%"}


# The first line of a legend that explains shorthand codes, one code a line after it.
LEGEND_INTRO = "Some cells contain shorthand instead of a number:"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = "text"
    align: str = ""  # "left" / "right"; "" = by kind (text left, numbers right)
    decimals: int = 3  # for kind "decimal"

    @property
    def unit(self) -> str | None:
        """The unit a spreadsheet header names ("number", "%"); None for ratios, p, text."""
        return UNITS.get(self.kind)

    @property
    def right(self) -> bool:
        """Right-aligned: numbers, and text columns that hold numbers ("68.8 [u]")."""
        return self.align == "right" if self.align else self.kind != "text"


@dataclass
class Grid:
    """One titled table for people (see the module's docstring)."""

    title: str
    columns: list[Column]
    rows: list[dict]
    notes: list[str] = field(default_factory=list)
    # Lines above the table explaining its shorthand ("[b] break in series: ..."); where a
    # table brings none, the writers that explain every code they find (the report, HTML
    # pages, spreadsheets) write `report.shorthand.legend_lines` for the codes it uses.
    legend: list[str] = field(default_factory=list)
    id: str = ""  # anchor of the table (HTML id, key-finding reference)
    sheet: str = ""  # worksheet name (<= 31 characters, no spaces)
    keys: list[str] = field(default_factory=list)  # one per row: anchors of the rows
    p_style: str = "publication"  # how p columns read (`p_text`)
    vertical: bool = False  # one-row summaries: shown as "label  value" lines on a terminal

    def row(self, key: str) -> dict:
        return self.rows[self.keys.index(key)]

    def text(self, column: Column, value) -> str:
        return cell_text(column, value, self.p_style)

    def cells(self) -> list[list[str]]:
        """Every row's cells as text, in column order."""
        return [[self.text(c, row.get(c.key)) for c in self.columns] for row in self.rows]


def cell_text(column: Column, value, p_style: str = "publication") -> str:
    """How a value of `column` reads in a table for people (terminal, Markdown, HTML):
    text as it is, yes/no, counts with thousands separators, percentages to one decimal
    place (half up), ratios to two, p by `p_text`, other floats to `column.decimals`
    places (fixed, so a column lines up; never "-0.000"); nothing for None and NaN."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, (int, float)):
        if column.kind in ("percent", "percent_exact"):
            return round_1dp(value)
        if column.kind == "ratio":
            return f"{value:.2f}"
        if column.kind == "p":
            return p_text(value, p_style)
    if isinstance(value, float):
        text = f"{value:,.{column.decimals}f}"
        return text.lstrip("-") if set(text) <= set("-0.,") else text  # no "-0.000"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
