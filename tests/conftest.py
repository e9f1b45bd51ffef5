"""Shared test set-up: a fixed terminal, no colour, no store outside tmp dirs, and the
expensive data built once per test run.

Fixtures for modules to share instead of making their own:
- `cli`: a `typer.testing.CliRunner` invoker that fails the test on an unexpected exception.
- `synth_cases(n, seed)`: `synth.generate(n, seed)`, cached for the whole run (Polars frames
  are immutable, so sharing them is safe).
- `example_cases`: the bundled `examples/cases.csv` as a stored-schema frame, read once.
- `example_store`: a store ingested from `examples/cases.csv` once per run; a test gets it
  as $HMIP_DATA. Read-only: a test that writes to a store makes its own.
- `trend_store` / `trend_cases`: a store of several inspection rounds over four years (two
  `hmip synth` files, the second's dates moved on three years, one inspection undated),
  for `--by year`, `--by inspection` and `hmip trend`. Read-only.
- `example_sweep_csv`: `hmip regress --all --format csv` on the example store, run once.
- `framework_store(name_or_file, years)`: `hmip synth --framework` then `hmip ingest
  --framework` into a store of its own, once per run per framework: the end-to-end tests
  (tests/test_framework_e2e.py). Read-only.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

os.environ["COLUMNS"] = "200"
os.environ["NO_COLOR"] = "1"
for var in ("FORCE_COLOR", "PY_COLORS", "GITHUB_ACTIONS", "HMIP_DEBUG"):
    os.environ.pop(var, None)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CSV = ROOT / "examples" / "cases.csv"


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """Every test gets its own empty store location, so no test touches a real one."""
    monkeypatch.setenv("HMIP_DATA", str(tmp_path / "store"))
    monkeypatch.delenv("HMIP_DEBUG", raising=False)
    yield


@functools.cache
def _generate(n: int, seed: int) -> pl.DataFrame:
    from hmip_cli import synth

    return synth.generate(n, seed)


@pytest.fixture(scope="session")
def synth_cases() -> Callable[[int, int], pl.DataFrame]:
    """`synth_cases(n, seed)`: synthetic cases in the stored schema, generated once per run."""
    return _generate


@pytest.fixture(scope="session")
def _example_store_dir(tmp_path_factory) -> Path:
    from hmip_cli.ingest import ingest_files

    data = tmp_path_factory.mktemp("example") / "store"
    ingest_files([EXAMPLE_CSV], data=data)
    return data


# The rounds of the trend store: (file, seed, cases, years to move the dates on, the
# inspection whose dates are blanked). Synth dates fall in 2016-17; the second round is
# moved to 2019-20, so the store has four years and a gap.
TREND_ROUNDS = (("round1.csv", 91, 700, 0, None), ("round2.csv", 92, 500, 3, "Cumbria"))


@pytest.fixture(scope="session")
def _trend_store_dir(tmp_path_factory) -> Path:
    from hmip_cli import synth
    from hmip_cli.ingest import ingest_files

    root = tmp_path_factory.mktemp("trend")
    paths = []
    for name, seed, n, years, undated in TREND_ROUNDS:
        cases = synth.generate(n, seed, id_prefix=f"R{seed}").with_columns(
            inspection_date=pl.when(pl.col("inspection") != (undated or ""))
            .then(pl.col("inspection_date").dt.offset_by(f"{years}y"))
            .otherwise(None)
        )
        synth.write_csv(cases, root / name)
        paths.append(root / name)
    data = root / "store"
    ingest_files(paths, data=data)
    return data


@pytest.fixture
def trend_store(_trend_store_dir, monkeypatch) -> Path:
    """The multi-year store (see the module docstring) as this test's $HMIP_DATA (read-only)."""
    monkeypatch.setenv("HMIP_DATA", str(_trend_store_dir))
    return _trend_store_dir


@pytest.fixture(scope="session")
def trend_cases(_trend_store_dir) -> pl.DataFrame:
    """The multi-year store's cases, as `store.load_cases` gives them (derived columns too)."""
    from hmip_cli import store

    return store.load_cases(_trend_store_dir)


@pytest.fixture(scope="session")
def pdu_cases() -> pl.DataFrame:
    """600 random cases in pdu-2023's stored schema, inspected in 2023 and 2024 (no synth
    for pdu-2023 yet): for trends across the change of framework."""
    import datetime as dt

    import numpy as np

    from hmip_cli import framework

    fw = framework.load("pdu-2023")
    rng = np.random.default_rng(2023)
    n = 600
    out: dict[str, pl.Series] = {}
    for name, dtype in fw.stored_schema().items():
        if name == "case_id":
            values: list = [f"P{i:04d}" for i in range(n)]
        elif name == "inspection":
            values = list(rng.choice(["Leeds", "Cardiff", "Stockton and Hartlepool"], n))
        elif name == "inspection_date":
            values = [
                dt.date(2023 + int(rng.integers(2)), int(rng.integers(1, 13)), 15) for _ in range(n)
            ]
        elif isinstance(dtype, pl.Enum):
            values = list(rng.choice(dtype.categories.to_list(), n))
        elif dtype == pl.Boolean:
            values = [None if u < 0.05 else bool(u < 0.65) for u in rng.random(n)]
        elif dtype.is_integer():
            values = list(rng.integers(18, 90, n))
        else:
            values = [None] * n
        out[name] = pl.Series(name, values, dtype=dtype)
    return pl.DataFrame(out)


@pytest.fixture
def example_store(_example_store_dir, monkeypatch) -> Path:
    """The bundled example ingested once per run, as this test's $HMIP_DATA (read-only)."""
    monkeypatch.setenv("HMIP_DATA", str(_example_store_dir))
    return _example_store_dir


@pytest.fixture
def example_store_copy(_example_store_dir, tmp_path, monkeypatch) -> Path:
    """A private copy of the example store, for tests that change a store."""
    data = tmp_path / "example-store"
    shutil.copytree(_example_store_dir, data)
    monkeypatch.setenv("HMIP_DATA", str(data))
    return data


@pytest.fixture(scope="session")
def example_cases(_example_store_dir) -> pl.DataFrame:
    """The bundled example's cases as stored (stored schema, no derived columns)."""
    from hmip_cli import schema, store

    return store.load_cases(_example_store_dir).select(list(schema.stored_schema()))


@pytest.fixture(scope="session")
def example_sweep_csv(_example_store_dir):
    """`hmip regress --all --format csv` on the example store, run once per run (a sweep
    of every model is seconds): the CliRunner result, for tests that only read it."""
    from typer.testing import CliRunner

    from hmip_cli.cli.app import app

    return CliRunner().invoke(
        app, ["regress", "--all", "--format", "csv", "--data", str(_example_store_dir)]
    )


@pytest.fixture(scope="session")
def cli():
    """`cli(*args)`: run `hmip ARGS` in-process; an exception other than exit fails the test."""
    from typer.testing import CliRunner

    from hmip_cli.cli.app import app

    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None):
        result = runner.invoke(app, [str(a) for a in args], input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


@pytest.fixture(scope="session")
def strong_million():
    """1,000,000 cases, six categorical candidates (integer codes) with strong effects: score
    statistics in the thousands to tens of thousands, p far below what a float holds (issue 15).

    Built from 1,080 covariate patterns with fixed counts and events = round(n * p) (no random
    outcome), so it is identical everywhere and cheap: the effect of `sex` was chosen so that at
    step 0 its score (19,500 on 1 df) is *smaller* than that of `risk` (19,513 on 5 df) but its
    p is smaller: ranking by the statistic and ranking by p disagree. Returns (frame, names)."""
    import itertools

    import numpy as np
    import polars as pl

    effects = {
        "weak": [0, 0.02, 0.04],
        "region": [0, 0.3, 0.1, 0.25, 0.05],
        "flag": [0, 0.5],
        "risk": [0, 0.2, 0.4, 0.6, 0.8, 1.0],
        "band": [0, 0.45, 0.2],
        "sex": [0, 0.683056640625],
    }
    names = list(effects)
    grid = np.array(list(itertools.product(*[range(len(v)) for v in effects.values()])))
    rng = np.random.default_rng(15)
    n = rng.integers(600, 1250, len(grid))
    n = (n * (1_000_000 / n.sum())).astype(np.int64)
    n[0] += 1_000_000 - n.sum()
    eta = -0.3 + sum(np.asarray(effects[c])[grid[:, i]] for i, c in enumerate(names))
    events = np.round(n / (1 + np.exp(-eta))).astype(np.int64)
    pattern = np.repeat(np.arange(len(grid)), n)
    within = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    frame = pl.DataFrame(
        {"y": within < np.repeat(events, n), **{c: grid[pattern, i] for i, c in enumerate(names)}}
    )
    return frame, names


@pytest.fixture(scope="session")
def framework_store(tmp_path_factory):
    """`framework_store(spec, years=None, n=240)`: (store dir, the synthetic CSV) for the
    framework `spec` (a shipped name or a framework file), made by the CLI as a user
    would: `hmip synth --framework SPEC` then `hmip ingest --framework SPEC`. Cached."""
    from typer.testing import CliRunner

    from hmip_cli.cli.app import app

    made: dict[tuple, tuple[Path, Path]] = {}

    def build(spec: str, years: str | None = None, n: int = 240) -> tuple[Path, Path]:
        key = (spec, years, n)
        if key not in made:
            root = tmp_path_factory.mktemp("framework-store")
            csv = root / "cases.csv"
            args = ["synth", "--framework", spec, "-n", str(n), "-s", "11", "-o", str(csv)]
            r = CliRunner().invoke(app, args + (["--years", years] if years else []))
            assert r.exit_code == 0, r.stderr
            data = root / "store"
            r = CliRunner().invoke(
                app, ["ingest", str(csv), "--framework", spec, "--data", str(data)]
            )
            assert r.exit_code == 0, r.stderr
            made[key] = (data, csv)
        return made[key]

    return build


# CPU seconds per test (this process and the child processes it waited for), written to
# $HMIP_TEST_CPU as tab-separated lines: wall times on a shared machine say little about
# the suite's cost on CI, CPU seconds do. Off unless the variable is set.
_CPU_LOG = os.environ.get("HMIP_TEST_CPU")


def _cpu_now() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


if _CPU_LOG:

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        start = _cpu_now()
        yield
        with open(_CPU_LOG, "a", encoding="utf-8") as log:
            log.write(f"{_cpu_now() - start:.3f}\t{item.nodeid}\n")
