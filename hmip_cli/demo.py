"""The demo pipeline (`hmip demo`): the bundled example cases (examples/cases.csv in a
clone; the identical copy shipped as package data hmip_cli/data/cases.csv when installed)
ingested into a store through the ingest library, and the bulletin's outputs computed
from that store: the sample profile, Figures 1-4 and Tables 1-2."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import polars as pl

from hmip_cli import defaults, framework, tables
from hmip_cli import rates as R
from hmip_cli.errors import BadRequest
from hmip_cli.framework import Framework
from hmip_cli.render import Format, Table

EXAMPLE_NAME = "cases.csv"


def repo_example() -> Path:
    """examples/cases.csv beside the package in a clone (may not exist when installed)."""
    return Path(__file__).resolve().parents[1] / "examples" / EXAMPLE_NAME


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
    fw: Framework | None = None  # the store's framework (None: the default)


def run_demo(
    store_dir: Path, *, min_n: int = defaults.MIN_N, suppress: bool = False
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
    fw = store.load_framework(store_dir)
    both = R.bulletin(cases, by=fw.default_breakdowns(), min_n=min_n, suppress=suppress, fw=fw)
    return DemoResults(
        source=source,
        store=store_dir,
        n_cases=cases.height,
        sample=R.sample_profile(cases, fw=fw),
        rates=both.rates,
        protection=both.protection,
        fw=fw,
    )


def demo_tables(res: DemoResults, fmt: Format, *, min_n: int) -> list[Table]:
    """Sample profile, the figures (all cases), the case-level questions' tables; long
    frames for machine formats, titled in the framework's words."""
    fw = framework.default() if res.fw is None else res.fw
    if tables.is_human(fmt):
        figures = res.rates.filter(pl.col("breakdown") == R.ALL)
        return (
            tables.sample_tables(res.sample, fmt, fw=fw)
            + tables.rates_tables(figures, fmt, min_n=min_n, fw=fw)
            + tables.protection_tables(res.protection, fmt, min_n=min_n, fw=fw)
        )
    return [
        Table(res.sample, title="Sample profile", name="sample"),
        Table(res.rates, title=fw.wording.figures_title, name="rates"),
        Table(res.protection, title=fw.wording.questions_machine_title, name="protection"),
    ]
