"""Benchmark: the bulletin's rates and tables on a 1,000,000-case store.

hmip: all four measures x ten factors x the six default breakdowns (Figures 1-4, with
Not recorded groups, Wilson intervals, small-number flags and differences) plus Tables
1-2 (`rates.bulletin`, one scan), and the same as two separate calls (`rates.rates` +
`rates.protection`, two scans).

Baseline: one bare Polars group_by over the same columns: grouped by provider, the count
of non-null values and the sum of every judgement and question column, and the sum of
every priority column. That is the least work that touches every number the tables need
for a single breakdown; hmip does all six breakdowns plus all cases, and formats the
results. Target: hmip <= 3x the baseline. Cases are loaded once (`store.load_cases`,
derived columns included) and both sides work on that in-memory frame.

Run: python bench/bench_rates.py [--cases N] [--repeat R]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from bench.common import peak_rss_mib, report, synthetic_store, timed  # noqa: E402
from hmip_cli import rates, schema, store  # noqa: E402


def baseline(cases: pl.DataFrame) -> pl.DataFrame:
    aggs = []
    for f in schema.FACTORS:
        aggs.append(pl.col(schema.priority_column(f)).sum())
        for m in schema.MEASURES:
            c = schema.judgement_column(f, m)
            aggs += [pl.col(c).count().alias(f"n_{c}"), pl.col(c).sum().alias(f"y_{c}")]
    for q in schema.QUESTIONS:
        aggs += [
            pl.col(q.column).count().alias(f"n_{q.column}"),
            pl.col(q.column).sum().alias(f"y_{q.column}"),
        ]
    return cases.group_by(schema.get_breakdown("provider").column).agg(aggs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()

    cases = store.load_cases(synthetic_store(args.cases))
    print(
        f"{cases.height:,} cases, {len(cases.columns)} columns; polars {pl.__version__}; "
        f"threads {pl.thread_pool_size()}",
        flush=True,
    )
    by = schema.DEFAULT_BREAKDOWNS

    def hmip_one_scan():
        return rates.bulletin(cases, by=by)

    def hmip_two_calls():
        return rates.rates(cases, by=by), rates.protection(cases, by=by)

    # Interleaved (baseline, hmip, hmip, baseline, ...) so that load from other processes
    # on a shared machine hits both sides alike; `timed` supplies the warm-up.
    fns = {"base": lambda: baseline(cases), "one": hmip_one_scan, "two": hmip_two_calls}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(args.repeat):
        for k, fn in fns.items():
            times[k] += timed(fn, repeat=1, warmup=0 if times[k] else 1)
    base, one, two = times["base"], times["one"], times["two"]
    report(
        f"rates+protection, 4 measures x 10 factors x {len(by)} breakdowns, one scan "
        f"({cases.height:,} cases)",
        one,
        "polars group_by(provider) over the same columns",
        base,
        target_ratio=3,
    )
    report(
        "rates() and protection() as two calls",
        two,
        "polars group_by(provider) over the same columns",
        base,
        target_ratio=3,
    )
    res = hmip_one_scan()
    print(
        f"rows: rates {res.rates.height}, protection {res.protection.height}; "
        f"peak RSS {peak_rss_mib():.0f} MiB",
        flush=True,
    )


if __name__ == "__main__":
    main()
