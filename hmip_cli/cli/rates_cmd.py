"""`hmip sample`, `hmip rates`, `hmip protection`: the bulletin's profile, figures and tables."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from hmip_cli import rates as R
from hmip_cli import schema, tables
from hmip_cli.cli.common import (
    DataOpt,
    FormatOpt,
    OutputOpt,
    handle_errors,
    load_cases,
    load_framework,
    refuse_ignored,
)
from hmip_cli.render import Format, emit

# ---- options shared by the three commands (declared once) ------------------------------

_BREAKDOWN_KEYS = ", ".join(b.key for b in schema.BREAKDOWNS)

WhereOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        "-w",
        metavar="KEY=VALUE",
        help="Only cases with KEY=VALUE (repeatable; all must hold). Keys: breakdown keys "
        f"({_BREAKDOWN_KEYS}) or stored categorical columns; values by code or label, "
        "any case; several values separated by commas; 'not recorded' for unknown.",
    ),
]
MinNOpt = Annotated[
    int,
    typer.Option(
        "--min-n",
        min=1,
        metavar="N",
        show_default=True,
        help="Rates with fewer applicable cases than this are marked [u] (or, with "
        "--suppress, not shown). Default 30: below it the 95% interval around a 50% "
        "rate is wider than +/-17 points.",
    ),
]
SuppressOpt = Annotated[
    bool,
    typer.Option(
        "--suppress",
        help="Replace rates below --min-n by [c], and suppress a second group "
        "in the same breakdown so the first cannot be worked out.",
    ),
]


class Rows(str, Enum):
    auto = "auto"
    factors = "factors"
    groups = "groups"


def _where_text(cases, where, fw) -> str | None:
    if not where:
        return None
    return R.describe_where(R.parse_where(where, cases, fw))


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


def register(app: typer.Typer) -> None:
    @app.command("sample")
    @handle_errors
    def sample_cmd(
        by: Annotated[
            list[str] | None,
            typer.Option(
                "--by",
                "-b",
                metavar="KEY",
                help=f"Also give the profile for each group of this breakdown ({_BREAKDOWN_KEYS}).",
            ),
        ] = None,
        where: WhereOpt = None,
        data: DataOpt = None,
        fmt: FormatOpt = Format.table,
        output: OutputOpt = None,
    ) -> None:
        """The sample profile: cases, CRC and NPS, female, post-custody, high or very high
        RoSH, MAPPA-eligible, each with n and %.

        Percentages are of the cases where the attribute is recorded; cases where it is
        unknown are counted in not_recorded.

        \b
        Machine formats give one row per group and characteristic:
          breakdown, breakdown_label, group, group_label,
          characteristic, characteristic_label, n, base, percent, not_recorded

        \b
        Example:
          hmip sample
          hmip sample --by inspection --format csv
        """
        fw = load_framework(data)
        cases = load_cases(data)
        frame = R.sample_profile(cases, by=by, where=where, fw=fw)
        where_text = _where_text(cases, where, fw)
        emit(tables.sample_tables(frame, fmt, where_text=where_text, fw=fw), fmt, output)

    @app.command("rates", epilog=None)
    @handle_errors
    def rates_cmd(
        ctx: typer.Context,
        measure: Annotated[
            list[str] | None,
            typer.Option(
                "--measure",
                "-m",
                metavar="MEASURE",
                help="availability (Figure 1), delivery (2), contracted (3), partner (4). "
                "Repeatable; default all four, one table each.",
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
        by: Annotated[
            list[str] | None,
            typer.Option(
                "--by",
                "-b",
                metavar="KEY",
                help=f"Break down by this variable, groups side by side with their difference "
                f"(repeatable: one table per breakdown; many groups: see --rows). Keys: "
                f"{_BREAKDOWN_KEYS}.",
            ),
        ] = None,
        where: WhereOpt = None,
        min_n: MinNOpt = R.DEFAULT_MIN_N,
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
        fmt: FormatOpt = Format.table,
        output: OutputOpt = None,
    ) -> None:
        """Figures 1-4: per factor, cases where it was a priority and the % of applicable
        cases judged yes, with n and a 95% Wilson score interval.

        A judgement is applicable where it was recorded (yes or no); % yes is of
        applicable cases. Cases with an unknown breakdown value are shown as "Not
        recorded", never dropped.

        {columns}
        \b
        Example:
          hmip rates
          hmip rates --measure delivery --by provider
          hmip rates --by gender --where provider=NPS --suppress --format csv
          hmip rates --measure delivery --by provider --test
          hmip rates --measure delivery --by provider --by gender --cross --suppress
          hmip rates --measure delivery --chart
          hmip rates --measure delivery --by inspection --rows groups
        """
        if not by:
            refuse_ignored(ctx, ("cross",), "without two --by breakdowns")
            refuse_ignored(ctx, ("test",), "without --by (it compares the groups of a breakdown)")
            refuse_ignored(ctx, ("rows",), "without --by (there are no groups to lay out)")
        if chart:
            refuse_ignored(ctx, ("test",), "with --chart (text bars)", "leave out --chart")
            refuse_ignored(ctx, ("rows",), "with --chart (text bars)", "leave out --chart")
        if chart and fmt is not Format.table:
            refuse_ignored(
                ctx, ("fmt",), "with --chart (text bars)", "leave out --chart for a table"
            )
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
        where_text = _where_text(cases, where, fw)
        emit(
            tables.rates_tables(
                frame, fmt, min_n=min_n, where_text=where_text, rows=rows.value, fw=fw
            ),
            fmt,
            output,
        )

    rates_cmd.__doc__ = rates_cmd.__doc__.replace(
        "{columns}", COLUMNS_RATES.replace("\n", "\n        ").rstrip() + "\n"
    )

    @app.command("protection")
    @handle_errors
    def protection_cmd(
        by: Annotated[
            list[str] | None,
            typer.Option(
                "--by",
                "-b",
                metavar="KEY",
                help="Breakdowns to show (repeatable). Default: the bulletin's "
                + ", ".join(schema.DEFAULT_BREAKDOWNS)
                + f". Keys: {_BREAKDOWN_KEYS}.",
            ),
        ] = None,
        where: WhereOpt = None,
        min_n: MinNOpt = R.DEFAULT_MIN_N,
        suppress: SuppressOpt = False,
        data: DataOpt = None,
        fmt: FormatOpt = Format.table,
        output: OutputOpt = None,
    ) -> None:
        """Tables 1 and 2: for contracted providers and for partners, was delivery
        sufficiently focused on risk of harm, and was sufficient information used for
        reviewing; n and % yes for all cases and each group of each breakdown.

        \b
        Machine formats give one row per question and group:
          table (1 contracted providers, 2 partners), who, topic (harm_focus,
          info_review), question, question_label, breakdown, breakdown_label,
          group, group_label, n, n_yes, percent_yes, ci_lower, ci_upper,
          low_reliability, suppressed, marker  (as in `hmip rates --help`)

        \b
        Example:
          hmip protection
          hmip protection --by provider --by mappa --format json
        """
        fw = load_framework(data)
        cases = load_cases(data)
        frame = R.protection(
            cases, by=by or R.DEFAULT_BY, where=where, min_n=min_n, suppress=suppress, fw=fw
        )
        emit(
            tables.protection_tables(
                frame, fmt, min_n=min_n, where_text=_where_text(cases, where, fw), fw=fw
            ),
            fmt,
            output,
        )
