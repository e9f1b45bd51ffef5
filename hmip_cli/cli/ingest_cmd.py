"""`hmip ingest`: case files into the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hmip_cli.cli.common import handle_errors, refuse_ignored, say
from hmip_cli.cli.options import DataOpt, FrameworkOpt

BIG_FILE = 20 * 1024 * 1024  # show a progress bar only for inputs at least this large


@handle_errors
def ingest(
    ctx: typer.Context,
    files: Annotated[
        list[str],
        typer.Argument(
            help="Case files: .csv, .tsv, .xlsx, .sav or .parquet; '-' reads CSV from stdin.",
            metavar="FILE",
            show_default=False,
        ),
    ],
    data: DataOpt = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            "-m",
            help="A TOML mapping file: rename columns, recode answers (docs/mapping.md).",
            metavar="MAP.toml",
        ),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option(metavar="NAME", help="Excel sheet to read (default: the first).")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            metavar="ENC",
            help="Text encoding of CSV files when not UTF-8, e.g. cp1252 (Excel on Windows).",
        ),
    ] = None,
    inspection: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Inspection name for files without an inspection column (in a file with "
            "one, it fills only the blank cells, with a warning).",
        ),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Start the store afresh with these files.")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    framework: FrameworkOpt = None,
    crosswalk: Annotated[
        list[str] | None,
        typer.Option(
            "--crosswalk",
            metavar="CROSSWALK",
            help="With --framework of another framework than the store's: a crosswalk "
            "(.toml file, or a shipped name) linking it to the store's, so the store can "
            "hold both (the store records a file; repeatable).",
        ),
    ] = None,
) -> None:
    """Validate case files and add them to the store.

    Every file is read as text, mapped, and checked in full before anything is written:
    if there is any error, every problem is listed (file, row, column, value, what was
    expected) on stderr, nothing is written, and the exit code is 1. Warnings (e.g. a
    judgement not recorded where the factor is a priority) are shown and the data is
    written; --strict makes them errors. Ingesting the same file twice is an error.

    Excel: --sheet NAME picks the sheet. A file without an inspection column needs
    --inspection NAME. Other headers or codes (Y/N/N/A, M/F): --mapping (docs/mapping.md).
    --framework says which columns and rules the cases follow (default: the store's,
    qi-2016 for a new store); the store records it and later commands use it. Files of
    another framework join the store where a crosswalk links the two (shipped, or
    --crosswalk FILE): one store then holds both, `hmip trend` compares them, and other
    commands analyse one (--framework NAME; default the latest ingested).

    \b
    Example (from a clone of the repository):
      hmip ingest examples/cases.csv
      hmip ingest examples/export/cases_export.csv --mapping examples/export/mapping.toml
      hmip ingest examples/cases.csv --replace --strict
      hmip ingest examples/cases.csv --framework qi-2016 --data ./qi-store
      hmip synth --framework pdu-2023 -n 200 --id-prefix PDU -o pdu.csv && hmip ingest pdu.csv --framework pdu-2023 --data ./qi-store
    """
    from hmip_cli.ingest import ingest_files
    from hmip_cli.ingest.readers import FORMATS, STDIN

    kinds = {"csv" if f == STDIN else FORMATS.get(Path(f).suffix.lower()) for f in files}
    if "excel" not in kinds:
        refuse_ignored(ctx, ("sheet",), "to these files (it picks an Excel sheet)")
    if not kinds & {"csv", "tsv"}:
        refuse_ignored(ctx, ("encoding",), "to these files (it is for CSV/TSV text)")
    paths = [Path(f) if f != "-" else f for f in files]
    from hmip_cli.cli.progress import progress_bar

    with progress_bar(enabled=_big(files), unit="bytes") as progress:
        result = ingest_files(
            paths,
            data=data,
            mapping=mapping,
            sheet=sheet,
            encoding=encoding,
            inspection=inspection,
            replace_store=replace,
            strict=strict,
            progress=progress,
            framework_=framework,
            crosswalks=crosswalk or (),
        )
    for w in result.warnings:
        say(f"warning: {w}", style="yellow")
    files_text = ", ".join(f["source"] for f in result.files)
    say(
        f"Ingested {result.cases_added:,} cases from {files_text} into {result.store} "
        f"({result.n_cases:,} cases in the store"
        + (f"; {len(result.warnings)} warning(s)" if result.warnings else "")
        + ")."
    )
    if len(result.frameworks) > 1:
        say(
            f"The store now holds cases of {len(result.frameworks)} frameworks "
            f"({', '.join(f.name for f in result.frameworks)}): `hmip trend` compares them; "
            "other commands analyse one (--framework NAME; default the latest ingested)."
        )


def _big(files: list[str]) -> bool:
    """Whether the input is large enough for a progress bar (standard input counts as large)."""
    size = 0
    for f in files:
        try:
            size += Path(f).stat().st_size if f != "-" else BIG_FILE
        except OSError:
            pass
    return size >= BIG_FILE
