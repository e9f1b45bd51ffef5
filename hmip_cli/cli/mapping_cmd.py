"""`hmip mapping draft`: propose a mapping file for an export, to review and edit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hmip_cli.cli.common import handle_errors, say
from hmip_cli.cli.options import FrameworkNameOpt, OutputOpt

HELP = """Mapping files: how hmip reads an export whose headers and codes are not its own.

A mapping (TOML, docs/mapping.md) renames the export's columns and recodes its answers;
`hmip ingest FILE --mapping MAP.toml` uses it. `hmip mapping draft` proposes one.

\b
Example (from a clone of the repository):
  hmip mapping draft examples/export/cases_export.csv -o draft.toml
"""

app = typer.Typer(name="mapping", help=HELP, no_args_is_help=True, rich_markup_mode=None)


@app.command("draft")
@handle_errors
def draft_command(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            help="The export: .csv, .tsv, .xlsx, .sav or .parquet, as `hmip ingest` reads them.",
            show_default=False,
        ),
    ],
    framework: FrameworkNameOpt = None,
    output: OutputOpt = None,
    sheet: Annotated[
        str | None, typer.Option(metavar="NAME", help="Excel sheet to read (default: the first).")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(metavar="ENC", help="Text encoding of a CSV file when not UTF-8."),
    ] = None,
) -> None:
    """Propose a mapping TOML for an export, from its headers and values.

    Each header is matched to a column of the framework by its words (the areas'
    abbreviations and initials included), and the values of yes/no and
    category columns to their codes ("M" -> male). Headers and values hmip reads as they
    are need no line. Every line written is a guess with a comment saying why; a line hmip
    could not decide is commented out and marked REVIEW, so ingest stops there until you
    edit it. Values that are case ids or notes are never written into the mapping.

    \b
    Example (from a clone of the repository):
      hmip mapping draft examples/export/cases_export.csv -o draft.toml
      hmip mapping draft examples/export/cases_export.csv --framework pdu-2023
    """
    from hmip_cli.fileio import atomic_write_bytes, check_writable
    from hmip_cli.framework import registry
    from hmip_cli.ingest.draft import draft_mapping
    from hmip_cli.ingest.readers import check_path
    from hmip_cli.render import write_text

    check_path(file)
    if output is not None:
        check_writable(Path(output))
    fw = registry.load(framework or registry.DEFAULT)
    draft = draft_mapping(file, fw, sheet=sheet, encoding=encoding)
    if output is None:
        write_text(draft.text)
    else:
        atomic_write_bytes(Path(output), draft.text.encode("utf-8"))
    n_cols = sum(1 for ln in draft.lines if ln.section == "columns")
    n_vals = len(draft.lines) - n_cols
    say(
        f"Drafted a mapping for {draft.source}: {len(draft.native)} header(s) read as they are, "
        f"{n_cols} header line(s) and {n_vals} value line(s), {len(draft.to_review)} of them "
        "marked REVIEW (commented out: edit them). Check every guess before use"
        + (f"; written to {output}." if output is not None else ".")
    )
