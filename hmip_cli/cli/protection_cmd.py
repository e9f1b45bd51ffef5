"""`hmip protection`: the bulletin's Tables 1 and 2 (case-level questions by breakdown)."""

from __future__ import annotations

from hmip_cli import rates as R
from hmip_cli import schema, tables
from hmip_cli.cli.common import (
    describe_where,
    handle_errors,
    load_cases,
    load_framework,
)
from hmip_cli.cli.options import (
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


@handle_errors
def protection_cmd(
    by: ByOpt = None,
    where: WhereOpt = None,
    min_n: MinNOpt = MIN_N,
    suppress: SuppressOpt = False,
    data: DataOpt = None,
    framework: StoreFrameworkOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
) -> None:
    """Tables 1 and 2: the case-level questions, with n and % yes for all cases and each
    group of each breakdown.

    {questions}. Default breakdowns (without --by): {default_by}.

    \b
    Machine formats give one row per question and group:
      table (one per party), who, topic, question, question_label, breakdown, breakdown_label,
      group, group_label, n, n_yes, percent_yes, ci_lower, ci_upper,
      low_reliability, suppressed, marker  (as in `hmip rates --help`)

    \b
    Example:
      hmip protection
      hmip protection --by {lead} --by {second} --format json
    """
    fw = load_framework(data)
    cases = load_cases(data)
    frame = R.protection(
        cases, by=by or R.DEFAULT_BY, where=where, min_n=min_n, suppress=suppress, fw=fw
    )
    emit(
        tables.protection_tables(
            frame, fmt, min_n=min_n, where_text=describe_where(cases, where, fw), fw=fw
        ),
        fmt,
        output,
    )


def _questions(fw) -> str:
    """The default framework's questions in words (qi-2016: per party, per topic)."""
    parties = " and ".join(p.label for p in fw.parties)
    topics = ", ".join(t.heading.lower() for t in fw.topics)
    return f"In {fw.name}: {topics}, for {parties}" if parties else f"In {fw.name}: {topics}"


protection_cmd.__doc__ = (
    with_examples(protection_cmd.__doc__)
    .replace("{default_by}", ", ".join(schema.DEFAULT_BREAKDOWNS))
    .replace("{questions}", _questions(schema.FRAMEWORK))
)
