"""`hmip sample`: the bulletin's sample profile, with n and %."""

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
    OutputOpt,
    StoreFrameworkOpt,
    WhereOpt,
)
from hmip_cli.render import Format, emit


@handle_errors
def sample_cmd(
    by: ByOpt = None,
    where: WhereOpt = None,
    data: DataOpt = None,
    framework: StoreFrameworkOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
) -> None:
    """The sample profile: all cases and the framework's profile characteristics, each
    with n and %.

    In {framework}: {profile}.

    Percentages are of the cases where the attribute is recorded; cases where it is
    unknown are counted in not_recorded.
    With --by, the profile of each group of the breakdown too.

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
    where_text = describe_where(cases, where, fw)
    emit(tables.sample_tables(frame, fmt, where_text=where_text, fw=fw), fmt, output)


sample_cmd.__doc__ = (
    (sample_cmd.__doc__ or "")
    .replace("{framework}", schema.FRAMEWORK.name)
    .replace("{profile}", "; ".join(r.label for r in schema.FRAMEWORK.profile[1:]))
)
