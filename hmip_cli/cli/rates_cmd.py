"""`hmip rates`: the bulletin's Figures 1-4, per factor, for all cases or by breakdown."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from hmip_cli import rates as R
from hmip_cli import schema, tables
from hmip_cli.cli.common import (
    describe_where,
    handle_errors,
    load_cases,
    load_framework,
    refuse_ignored,
)
from hmip_cli.cli.options import (
    EXAMPLE,
    ByOpt,
    DataOpt,
    FormatOpt,
    MinNOpt,
    OutputOpt,
    StoreFrameworkOpt,
    SuppressOpt,
    WhereOpt,
    with_examples,
)
from hmip_cli.defaults import MIN_N
from hmip_cli.render import Format, emit


class Rows(str, Enum):
    auto = "auto"
    factors = "factors"
    groups = "groups"


COLUMNS_RATES = """\b
Machine formats (csv, tsv, json) give one row per measure, factor and group:
  figure, measure, measure_label, factor, factor_label,
  breakdown, breakdown_label   ("all" for all cases)
  group, group_label           ("not_recorded" = unknown value)
  n_priority                   cases where the factor was a priority
  n, n_yes, percent_yes        applicable cases, yes, 100*n_yes/n (full precision)
  ci_lower, ci_upper           95% Wilson score interval, percent
  low_reliability              n below --min-n
  suppressed                   primary / secondary (with --suppress)
  marker                       [u], [c] suppressed, [z] no applicable cases
  difference_pp                between groups, percentage points:
                               two groups: second minus first (e.g. NPS minus CRC);
                               more: highest minus lowest (difference_basis says which)
  difference_basis
With --test:
  difference_ci_lower, difference_ci_upper   two groups: Newcombe 95% CI, points
  test_method                  chi-square, or Fisher's exact (an expected count < 5)
  chi_square, test_df, p_value unadjusted (see hmip regress for adjusted)
"""


@handle_errors
def rates_cmd(
    ctx: typer.Context,
    measure: Annotated[
        list[str] | None,
        typer.Option(
            "--measure",
            "-m",
            metavar="MEASURE",
            help=f"{EXAMPLE['figures']}. Repeatable; default every measure, one table each.",
        ),
    ] = None,
    factor: Annotated[
        list[str] | None,
        typer.Option(
            "--factor",
            metavar="FACTOR",
            help="Factor key (repeatable; default all ten in the bulletin's order): "
            + ", ".join(f.key for f in schema.FACTORS)
            + ".",
        ),
    ] = None,
    by: ByOpt = None,
    where: WhereOpt = None,
    min_n: MinNOpt = MIN_N,
    suppress: SuppressOpt = False,
    chart: Annotated[
        bool,
        typer.Option(
            "--chart",
            help="Draw text bars instead of a table: per factor (and group), % yes with n; "
            "readable without colour.",
        ),
    ] = False,
    cross: Annotated[
        bool,
        typer.Option(
            "--cross",
            help="With two --by: one crossed table (e.g. provider x gender, a group per "
            "combination), suppression applied to its cells, rows and columns.",
        ),
    ] = False,
    test: Annotated[
        bool,
        typer.Option(
            "--test",
            help="With --by: an unadjusted test of difference between the groups, per "
            "factor: two groups, the 95% CI of the difference (Newcombe) and a p "
            "(chi-square, or Fisher's exact for small counts); more, a chi-square p.",
        ),
    ] = False,
    rows: Annotated[
        Rows,
        typer.Option(
            "--rows",
            metavar="LAYOUT",
            help="With --by, for people: factors (one row per factor, the groups side by "
            "side), groups (one table per factor, one row per group, the measures side by "
            f"side), or auto: groups for a breakdown of more than "
            f"{tables.GROUPS_AS_ROWS_ABOVE} groups (--by inspection).",
        ),
    ] = Rows.auto,
    data: DataOpt = None,
    framework: StoreFrameworkOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
) -> None:
    """Figures 1-4: per factor, cases where it was a priority and the % of applicable
    cases judged yes, with n and a 95% Wilson score interval.

    A judgement is applicable where it was recorded (yes or no); % yes is of
    applicable cases. Cases with an unknown breakdown value are shown as "Not
    recorded", never dropped.
    With --by, a breakdown's groups are side by side with their difference (many
    groups: see --rows).

    {columns}
    \b
    Example:
      hmip rates
      hmip rates --measure {measure} --by {lead}
      hmip rates --by {second} --where {lead}={lead_level} --suppress --format csv
      hmip rates --measure {measure} --by {lead} --test
      hmip rates --measure {measure} --by {lead} --by {second} --cross --suppress
      hmip rates --measure {measure} --chart
      hmip rates --measure {measure} --by inspection --rows groups
    """
    if not by:
        refuse_ignored(ctx, ("cross",), "without two --by breakdowns")
        refuse_ignored(ctx, ("test",), "without --by (it compares the groups of a breakdown)")
        refuse_ignored(ctx, ("rows",), "without --by (there are no groups to lay out)")
    if chart:
        refuse_ignored(ctx, ("test",), "with --chart (text bars)", "leave out --chart")
        refuse_ignored(ctx, ("rows",), "with --chart (text bars)", "leave out --chart")
    if chart and fmt is not Format.table:
        refuse_ignored(ctx, ("fmt",), "with --chart (text bars)", "leave out --chart for a table")
    if not tables.is_human(fmt):
        refuse_ignored(
            ctx, ("rows",), f"with --format {fmt.value} (machine formats are one row per group)"
        )
    fw = load_framework(data)
    cases = load_cases(data)
    frame = R.rates(
        cases,
        fw=fw,
        measures=measure,
        factors=factor,
        by=by,
        where=where,
        min_n=min_n,
        suppress=suppress,
        test=test,
        cross=cross,
    )
    if chart:
        from hmip_cli.render import strip_controls, write_text
        from hmip_cli.report.terminal import text_chart_for

        chart_text = text_chart_for(frame, min_n=min_n, to_file=output is not None, fw=fw)
        write_text(strip_controls(chart_text), output)
        return
    where_text = describe_where(cases, where, fw)
    emit(
        tables.rates_tables(frame, fmt, min_n=min_n, where_text=where_text, rows=rows.value, fw=fw),
        fmt,
        output,
    )


rates_cmd.__doc__ = with_examples(rates_cmd.__doc__).replace(
    "{columns}", COLUMNS_RATES.replace("\n", "\n        ").rstrip() + "\n"
)
