"""`hmip trend`: every judgement's % yes per year (or inspection), with n, across a change
of framework.

A command of its own rather than `hmip rates --trend year`: it trends the per-area
judgements of `rates` and the case-level questions of `protection` alike, and across
frameworks (whose measures differ, so neither `rates` nor `protection` tables apply), and
half of `rates`' options (--by, --cross, --test, --chart) mean nothing for it.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from hmip_cli.cli.common import handle_errors, load_segments
from hmip_cli.cli.options import (
    DataOpt,
    FactorOpt,
    FormatOpt,
    ItemOpt,
    MeasureOpt,
    MinNOpt,
    OutputOpt,
    PeriodOpt,
    SuppressOpt,
    WhereOpt,
    with_examples,
)
from hmip_cli.defaults import MIN_N
from hmip_cli.render import Format, emit


class Layout(str, Enum):
    long = "long"
    wide = "wide"


COLUMNS_TREND = """\b
csv, tsv and json give one row per series and period:
  series, series_label    item in the latest framework (AREA/MEASURE, or a
                          question key) and its row label
  group, group_label      the measure it is tabled under ("questions": case level)
  period, period_label    year or inspection ("not_recorded": undated cases)
  framework, item, match  framework of the period's cases, the item counted there,
                          the crosswalk match (exact / approximate; null: same)
  n, n_yes, percent_yes, ci_lower, ci_upper, low_reliability, suppressed, marker
                          as in `hmip rates --help`
  break_in_series         first period under another framework, where the
                          series continues only approximately ([b])
--layout wide gives the spreadsheet layout instead: per period <period>_n,
<period>_percent_yes, <period>_marker.
"""


CrosswalkOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--crosswalk",
        metavar="CROSSWALK",
        help="A crosswalk between the store's frameworks: a shipped name or a .toml file "
        "(default: the shipped one).",
    ),
]


@handle_errors
def trend_cmd(
    period: PeriodOpt = None,
    measure: MeasureOpt = None,
    factor: FactorOpt = None,
    item: ItemOpt = None,
    where: WhereOpt = None,
    min_n: MinNOpt = MIN_N,
    suppress: SuppressOpt = False,
    crosswalk: CrosswalkOpt = None,
    layout: Annotated[
        Layout,
        typer.Option(
            "--layout",
            metavar="LAYOUT",
            help="csv/tsv/json: long (a row per series and period) or wide (a column per "
            "period, as the tables for people and the spreadsheets).",
        ),
    ] = Layout.long,
    data: DataOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
) -> None:
    """Trends: per judgement, n and % yes in each year (or inspection), a column per period.

    Counts as in `hmip rates`: n is the applicable cases, % yes of them, small numbers
    marked [u] or, with --suppress, hidden [c] (and a second period where one would be
    worked out). When the store's cases were assessed under different frameworks, a
    crosswalk maps their judgements: a series continues where the match is exact or
    approximate, its first period after an approximate match is marked [b] (break in
    series), and judgements with no counterpart are not trended (a note lists them).

    {columns}
    \b
    Example:
      hmip trend
      hmip trend --measure {measure} --suppress
      hmip trend --item {question2} --period inspection --format csv
      hmip trend --measure {measure1} -o trend.xlsx
    """
    from hmip_cli import trend as TR
    from hmip_cli import trend_tables as TT

    segments, stored = load_segments(data)
    crosswalks = [_crosswalk(c) for c in crosswalk or ()] + stored
    result = TR.trend(
        segments,
        period=period.value if period else None,
        measures=measure,
        areas=factor,
        items=item,
        crosswalks=crosswalks,
        where=where,
        min_n=min_n,
        suppress=suppress,
    )
    emit(TT.trend_tables(result, fmt, min_n=min_n, layout=layout.value), fmt, output)


def _crosswalk(name_or_file: str):
    from hmip_cli import framework as F

    return F.load_crosswalk(Path(name_or_file) if name_or_file.endswith(".toml") else name_or_file)


trend_cmd.__doc__ = (trend_cmd.__doc__ or "").replace(
    "{columns}", COLUMNS_TREND.replace("\n", "\n    ").rstrip() + "\n"
)


trend_cmd.__doc__ = with_examples(trend_cmd.__doc__)
