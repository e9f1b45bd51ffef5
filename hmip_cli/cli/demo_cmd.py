"""`hmip demo`: the bulletin reproduced from the bundled example data, on a fresh install
(the pipeline is `hmip_cli.demo`)."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from hmip_cli import defaults
from hmip_cli.cli.common import handle_errors, say
from hmip_cli.cli.options import FormatOpt, MinNOpt, OutputOpt, SuppressOpt
from hmip_cli.demo import demo_tables, run_demo
from hmip_cli.envelope import note_provenance, store_provenance
from hmip_cli.render import Format, emit, is_directory


@handle_errors
def demo_cmd(
    keep: Annotated[
        Path | None,
        typer.Option(
            "--keep",
            metavar="DIR",
            file_okay=False,
            help="Keep the demo store in DIR (new or empty) to explore with other commands "
            "(--data DIR). Default: a temporary store, removed afterwards.",
        ),
    ] = None,
    min_n: MinNOpt = defaults.MIN_N,
    suppress: SuppressOpt = False,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            metavar="FILE",
            dir_okay=False,
            help="Also write the full report (key findings, figures, tables, stepwise differences) "
            "to FILE: .html, .md or .xlsx, with the same --min-n and --suppress.",
        ),
    ] = None,
) -> None:
    """Reproduce the bulletin from the bundled example: ingest 1,066 example cases
    into a temporary store, then print the sample profile, Figures 1-4 (rates per
    factor) and Tables 1-2 (the case-level questions, by breakdown).

    The example cases are synthetic (generated to match the bulletin's published
    figures), not real case data. Your own store is not touched.

    With --format csv/tsv on standard output the three results are stacked into one CSV
    whose first column, table_name, says which (sample, rates, protection); -o DIR/
    writes one CSV per table; json is one document (docs/output.md). Columns are described in
    `hmip sample --help`, `hmip rates --help` and `hmip protection --help`.

    \b
    Example:
      hmip demo
      hmip demo --keep ./demo-store && hmip rates --data ./demo-store --by provider
      hmip demo --report demo.html
    """
    if report is not None:
        from hmip_cli.fileio import check_writable
        from hmip_cli.report.write import infer_format

        infer_format(report)  # an unknown extension is a usage error before any work
        check_writable(report, store=keep)
    if output is not None and not is_directory(output):
        from hmip_cli.fileio import check_writable

        check_writable(output, store=keep)  # not into the store --keep is about to make
    with contextlib.ExitStack() as stack:
        if keep is None:
            store_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hmip-demo-")))
        else:
            store_dir = keep
        res = run_demo(store_dir, min_n=min_n, suppress=suppress)
        note_provenance("store", store_provenance(store_dir))
        say(
            f"Demo: {res.n_cases:,} example cases from {res.source.name} ingested into "
            + (
                f"{store_dir} (kept)."
                if keep is not None
                else "a temporary store (removed afterwards)."
            )
        )
        emit(demo_tables(res, fmt, min_n=min_n), fmt, output)
        if report is not None:
            from hmip_cli.report.content import ReportParams
            from hmip_cli.report.write import report_from_store

            report_from_store(store_dir, report, ReportParams(min_n=min_n, suppress=suppress))
            say(f"Wrote {report}.")
