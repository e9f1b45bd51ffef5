"""`hmip demo`: the bulletin reproduced from the bundled example data, on a fresh install.

Ingests the example cases (examples/cases.csv in a clone; the identical copy shipped as
package data hmip_cli/data/cases.csv when installed) into a temporary store through the
ingest library, then prints the sample profile, Figures 1-4 and Tables 1-2.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from hmip_cli import rates as R
from hmip_cli import schema, tables
from hmip_cli.cli.common import FormatOpt, OutputOpt, handle_errors, say
from hmip_cli.cli.rates_cmd import MinNOpt, SuppressOpt
from hmip_cli.envelope import note_provenance, store_provenance
from hmip_cli.errors import BadRequest
from hmip_cli.render import Format, Table, emit, is_directory

EXAMPLE_NAME = "cases.csv"


def repo_example() -> Path:
    """examples/cases.csv beside the package in a clone (may not exist when installed)."""
    return Path(__file__).resolve().parents[2] / "examples" / EXAMPLE_NAME


def packaged_example() -> Path:
    return Path(str(resources.files("hmip_cli") / "data" / EXAMPLE_NAME))


def example_path() -> Path:
    """The bundled example: the clone's examples/ copy if present, else the package's."""
    repo = repo_example()
    return repo if repo.is_file() else packaged_example()


@dataclass(frozen=True)
class DemoResults:
    """What the demo shows, as frames (a future `--report FILE` renders these too)."""

    source: Path
    store: Path
    n_cases: int
    sample: pl.DataFrame
    rates: pl.DataFrame  # all measures x factors, all cases and the default breakdowns
    protection: pl.DataFrame


def run_demo(
    store_dir: Path, *, min_n: int = R.DEFAULT_MIN_N, suppress: bool = False
) -> DemoResults:
    """Ingest the example into `store_dir` (replacing nothing: it must hold no store) and
    compute the bulletin's outputs from the store."""
    from hmip_cli import store
    from hmip_cli.ingest import ingest_files

    if store.read_meta(store_dir) is not None:
        raise BadRequest(
            f"{store_dir} already holds a store; give --keep an empty or new directory"
        )
    source = example_path()
    if not source.is_file():
        raise BadRequest(f"the bundled example {source} is missing; reinstall hmip")
    ingest_files([source], data=store_dir)
    cases = store.load_cases(store_dir)
    both = R.bulletin(cases, by=schema.DEFAULT_BREAKDOWNS, min_n=min_n, suppress=suppress)
    return DemoResults(
        source=source,
        store=store_dir,
        n_cases=cases.height,
        sample=R.sample_profile(cases),
        rates=both.rates,
        protection=both.protection,
    )


def demo_tables(res: DemoResults, fmt: Format, *, min_n: int) -> list[Table]:
    """Sample profile, Figures 1-4 (all cases), Tables 1-2; long frames for machine formats."""
    if tables.is_human(fmt):
        figures = res.rates.filter(pl.col("breakdown") == R.ALL)
        return (
            tables.sample_tables(res.sample, fmt)
            + tables.rates_tables(figures, fmt, min_n=min_n)
            + tables.protection_tables(res.protection, fmt, min_n=min_n)
        )
    return [
        Table(res.sample, title="Sample profile", name="sample"),
        Table(res.rates, title="Figures 1-4", name="rates"),
        Table(res.protection, title="Tables 1-2", name="protection"),
    ]


def register(app: typer.Typer) -> None:
    @app.command("demo")
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
        min_n: MinNOpt = R.DEFAULT_MIN_N,
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
        factor) and Tables 1-2 (risk of harm and reviewing, by breakdown).

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
                store_dir = Path(
                    stack.enter_context(tempfile.TemporaryDirectory(prefix="hmip-demo-"))
                )
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
