"""`hmip schema`: the data dictionary, and empty templates with the canonical header."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hmip_cli.cli.common import handle_errors, load_framework, refuse_ignored, say
from hmip_cli.cli.options import DataOpt, FormatOpt, FrameworkOpt, OutputOpt
from hmip_cli.dictionary import dictionary, write_template
from hmip_cli.render import Format, Table, emit


@handle_errors
def schema_command(
    ctx: typer.Context,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    template: Annotated[
        Path | None,
        typer.Option(
            "--template",
            help="Write an empty case file with the canonical header (.csv or .xlsx) instead.",
            metavar="FILE",
            dir_okay=False,
        ),
    ] = None,
    framework: FrameworkOpt = None,
    data: DataOpt = None,
) -> None:
    """Print the data dictionary: every column hmip stores (name, type, allowed values, when it
    applies, description), then the columns hmip derives. Or write an empty template.
    The columns are those of the store's framework (qi-2016 without a store), or of
    --framework.

    \b
    Example:
      hmip schema
      hmip schema --format csv > dictionary.csv
      hmip schema --template cases.xlsx
      hmip schema --framework pdu-2023
    """
    from hmip_cli import framework as frameworks

    fw = frameworks.load(framework) if framework else load_framework(data)
    if template is not None:
        refuse_ignored(ctx, ("fmt", "output"), "with --template (it writes FILE)")
        write_template(template, fw)
        say(f"Wrote an empty template to {template}.")
        return
    emit(
        Table(
            dictionary(fw),
            "hmip data dictionary",
            name="dictionary",
            notes=[fw.wording.dictionary_note] if fw.wording.dictionary_note else [],
        ),
        fmt,
        output,
    )
