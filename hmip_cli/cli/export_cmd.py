"""`hmip export`: the store's cleaned, validated cases as CSV, TSV, Parquet or XLSX."""

from __future__ import annotations

from typing import Annotated

import typer

from hmip_cli.cli.common import handle_errors, load_framework, say
from hmip_cli.cli.options import DataOpt, FileOutputOpt, StoreFrameworkOpt, WhereOpt
from hmip_cli.export import ExportFormat


@handle_errors
def export(
    output: FileOutputOpt = None,
    fmt: Annotated[
        ExportFormat | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="csv, tsv, parquet or xlsx. Default: from the --output extension, else csv.",
        ),
    ] = None,
    data: DataOpt = None,
    framework: StoreFrameworkOpt = None,
    where: WhereOpt = None,
    include_identifiers: Annotated[
        bool,
        typer.Option(
            "--include-identifiers",
            help="Also write case_id and the free-text notes (left out by default: "
            "case data is sensitive personal data).",
        ),
    ] = False,
) -> None:
    """Write the store's cleaned, validated cases for use in other tools.

    One row per case, hmip's stored columns in their order: yes/no judgements (blank =
    not applicable or not recorded), category codes, dates YYYY-MM-DD. Parquet keeps the
    types; XLSX has one sheet of cases from A1. Case ids and the free-text notes are left
    out unless --include-identifiers is given. `hmip ingest` reads an export back with no
    mapping (one with identifiers gives the same store content hash).

    \b
    Example:
      hmip export -o cases.parquet
      hmip export --where inspection=Durham -o durham.xlsx
      hmip export --include-identifiers -o backup.csv
    """
    from hmip_cli import export as E
    from hmip_cli.fileio import atomic_write_bytes, check_writable

    chosen = E.export_format(fmt, output)
    if output is not None:
        check_writable(output)
    fw = load_framework(data)  # a store of several frameworks: the chosen one, with a note
    got = E.export_cases(
        data, include_identifiers=include_identifiers, where=where, framework=fw.name
    )
    payload = E.export_bytes(got.frame, chosen, got.metadata())
    if output is None:
        from hmip_cli.render import write_text

        write_text(payload.decode("utf-8"))
    else:
        atomic_write_bytes(output, payload)
    kept = "with case ids and notes" if include_identifiers else "case ids and notes left out"
    where_text = f" where {got.where}" if got.where else ""
    say(
        f"Exported {got.n_cases:,} cases{where_text} ({got.frame.width} columns; {kept})"
        + (f" to {output}." if output is not None else ".")
    )
