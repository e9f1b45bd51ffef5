"""Benchmark: forward stepwise logistic regression on 1,000,000 synthetic cases.

hmip: `hmip_cli.stepwise.stepwise` with SPSS defaults (FSTEP(LR), PIN .05, POUT .10), six
categorical candidates (the bulletin's breakdowns), outcome = one judgement (cases where it
does not apply are dropped by listwise deletion, as in SPSS).

Baselines, same frame, same run:
  (a) a straightforward statsmodels stepwise: a formula `Logit` refitted for every candidate
      at every step, likelihood-ratio tests for entry and removal (run once or twice: slow);
  (b) one bare Polars `group_by` over the outcome and the six candidates (the scan hmip's
      collapsing has to do anyway).
Targets: hmip at least 100x faster than (a); at most 3x (b).

Whole processes (issue 15, item 3: timing `stepwise()` on a frame in memory hid a command
7-12x its baseline). Each is a fresh `python` process, timed wall-clock from spawn to exit,
against (c) a bare process that imports Polars, scans the same file and runs the same
`group_by` (the least any command on that file must do):
  `hmip regress --input cases.parquet --outcome ... --candidates ...` vs (c) on that file;
  `hmip regress --factor thinking --measure delivery` (the store) vs (c) on the store file;
  `hmip info` (the store) vs (c) with info's group_by (inspection, provider).

Run: .venv/bin/python bench/bench_stepwise.py [--cases N] [--baseline-a-runs K] [--processes-only]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import polars as pl
from common import OUT, report, synthetic_store, timed
from scipy import stats

from hmip_cli import schema, synth
from hmip_cli.stepwise import stepwise

FACTOR, MEASURE = "thinking", "delivery"


def cases(n: int, seed: int = 1) -> pl.DataFrame:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"stepwise_cases_{n}_{seed}.parquet"
    if not path.exists():
        synth.generate(n, seed).write_parquet(path)
    return schema.with_derived(pl.read_parquet(path))


def statsmodels_stepwise(frame: pl.DataFrame, outcome: str, cands: list[str], pin=0.05, pout=0.10):
    """The straightforward way: refit a formula Logit per candidate; LR tests throughout."""
    import statsmodels.formula.api as smf

    df = frame.select([outcome, *cands]).drop_nulls().with_columns(pl.col(outcome).cast(pl.Int8))
    df = df.with_columns(pl.col(c).cast(pl.String) for c in cands).to_pandas()
    levels = {c: sorted(df[c].unique()) for c in cands}

    def term(c):  # SPSS's default: the last category is the reference
        return f"C({c}, Treatment(reference='{levels[c][-1]}'))"

    def fit(terms):
        rhs = " + ".join(term(t) for t in terms) or "1"
        return smf.logit(f"{outcome} ~ {rhs}", df).fit(disp=0, maxiter=100)

    current: list[str] = []
    visited = {frozenset()}
    base = fit(current)
    while True:
        best, best_p = None, 1.0
        for c in cands:
            if c in current:
                continue
            m = fit([*current, c])
            p = stats.chi2.sf(2 * (m.llf - base.llf), m.df_model - base.df_model)
            if p < best_p:
                best, best_p = c, p
        if best is None or best_p >= pin or frozenset([*current, best]) in visited:
            break
        current.append(best)
        visited.add(frozenset(current))
        base = fit(current)
        while len(current) > 0:
            worst, worst_p = None, 0.0
            for c in current:
                m = fit([t for t in current if t != c])
                p = stats.chi2.sf(2 * (base.llf - m.llf), base.df_model - m.df_model)
                if p > worst_p:
                    worst, worst_p = c, p
            if worst_p <= pout or frozenset(t for t in current if t != worst) in visited:
                break
            current.remove(worst)
            visited.add(frozenset(current))
            base = fit(current)
    return current


def _process_times(argv: list[str], repeat: int, env: dict[str, str] | None = None) -> list[float]:
    """Wall-clock seconds of a whole process (spawn to exit), after one unmeasured run."""

    def run() -> None:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)

    return timed(run, repeat=repeat)


def _bare_scan(path: Path, keys: list[str]) -> list[str]:
    """argv of the baseline process: import Polars, scan `path`, group_by `keys`, count."""
    code = (
        "import sys, polars as pl; keys = sys.argv[2:]; "
        "pl.scan_parquet(sys.argv[1]).group_by(keys).agg(pl.len()).collect()"
    )
    return [sys.executable, "-c", code, str(path), *keys]


def bench_processes(n: int, repeat: int) -> None:
    """The commands an analyst runs, as whole processes, against the bare scan (c)."""
    hmip = [sys.executable, "-m", "hmip_cli"]
    outcome = schema.judgement_column(FACTOR, MEASURE)
    cands = [schema.get_breakdown(k).column for k in schema.DEFAULT_BREAKDOWNS]
    table = OUT / f"stepwise_input_{n}.parquet"
    if not table.exists():
        cases(n).select(outcome, *cands).write_parquet(table)
    argv = [*hmip, "regress", "--input", str(table), "--outcome", outcome]
    argv += ["--candidates", ",".join(cands), "--format", "json"]
    report(
        "process: hmip regress --input (parquet)",
        _process_times(argv, repeat),
        "(c) bare polars scan+group_by process",
        _process_times(_bare_scan(table, [outcome, *cands]), repeat),
    )
    store = synthetic_store(n)
    env = {**os.environ, "HMIP_DATA": str(store)}
    argv = [*hmip, "regress", "--factor", FACTOR, "--measure", MEASURE, "--format", "json"]
    stored = store / "cases.parquet"
    raw_cols = pl.read_parquet_schema(stored)
    keys = [c for c in [outcome, *cands] if c in raw_cols]  # derived columns are computed
    report(
        "process: hmip regress --factor (store)",
        _process_times(argv, repeat, env),
        "(c) bare polars scan+group_by process",
        _process_times(_bare_scan(stored, keys), repeat),
    )
    report(
        "process: hmip info (store)",
        _process_times([*hmip, "info", "--format", "json"], repeat, env),
        "(c) bare polars scan+group_by process",
        _process_times(_bare_scan(stored, ["inspection", "provider"]), repeat),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--baseline-a-runs", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--processes-only", action="store_true")
    args = ap.parse_args()

    bench_processes(args.cases, args.repeat)
    if args.processes_only:
        return
    frame = cases(args.cases)
    outcome = schema.judgement_column(FACTOR, MEASURE)
    cands = [schema.get_breakdown(k).column for k in schema.DEFAULT_BREAKDOWNS]

    result = stepwise(frame, outcome, cands)
    print(
        f"{args.cases:,} cases; outcome {outcome}: {result.n:,} used, {result.n_dropped:,} dropped; "
        f"{result.n_rows_fitted} covariate patterns; {result.models_fitted} models fitted; "
        f"steps: {[(s.action, s.term) for s in result.steps[1:]]}",
        flush=True,
    )

    hmip_times = timed(lambda: stepwise(frame, outcome, cands), repeat=args.repeat)
    scan_times = timed(lambda: frame.group_by([outcome, *cands]).agg(pl.len()), repeat=args.repeat)
    report(
        "stepwise vs (b) one Polars group_by",
        hmip_times,
        "polars group_by",
        scan_times,
        target_ratio=3,
    )

    a_times = []
    chosen = None
    for _ in range(args.baseline_a_runs):
        t0 = time.perf_counter()
        chosen = statsmodels_stepwise(frame, outcome, cands)
        a_times.append(time.perf_counter() - t0)
    r = report(
        "stepwise vs (a) statsmodels formula Logit stepwise",
        hmip_times,
        "statsmodels",
        a_times,
        target_ratio=0.01,
    )
    print(
        f"speed-up over (a): {1 / r['ratio']:.0f}x (target >= 100x); statsmodels chose {chosen}, "
        f"hmip chose {list(result.final_terms)} (same set: {set(chosen) == set(result.final_terms)})"
    )
    print(f"hmip median {statistics.median(hmip_times) * 1000:.1f} ms", flush=True)


if __name__ == "__main__":
    main()
