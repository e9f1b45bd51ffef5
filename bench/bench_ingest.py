"""Ingest benchmark: `hmip ingest` of a 1,000,000-case CSV against plain Polars
(`pl.read_csv(path).write_parquet(out)`) of the same file.

Each run happens in a fresh subprocess that times only the work (not interpreter start)
and reports its own peak RSS, so memory figures are per run and not polluted by earlier
runs. Targets: ratio hmip/baseline <= 2, peak memory < 3 GiB.

    python bench/bench_ingest.py [--cases N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, report, synthetic_csv

TARGET_RATIO = 2.0
TARGET_PEAK_GIB = 3.0

HMIP_RUN = """
import json, resource, sys, time
from hmip_cli.ingest import ingest_files
t0 = time.perf_counter()
r = ingest_files([sys.argv[1]], data=sys.argv[2], replace_store=True)
t = time.perf_counter() - t0
print(json.dumps({"seconds": t, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "cases": r.n_cases}))
"""

BASELINE_RUN = """
import json, resource, sys, time
import polars as pl
t0 = time.perf_counter()
pl.read_csv(sys.argv[1]).write_parquet(sys.argv[2])
t = time.perf_counter() - t0
print(json.dumps({"seconds": t, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def case_file(n: int) -> Path:
    """The synthetic CSV: `hmip synth` via bench.common when it exists, else a fallback."""
    try:
        return synthetic_csv(n, 1)
    except (subprocess.CalledProcessError, OSError):
        pass
    OUT.mkdir(exist_ok=True)
    path = OUT / f"cases_{n}_fallback.csv"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        _fallback_frame(n).write_csv(tmp)
        os.replace(tmp, path)
    return path


def _fallback_frame(n: int):
    """Schema-valid random cases, vectorised (numpy), for when `hmip synth` is not there."""
    try:
        from hmip_cli.synth import generate

        return generate(n, 1)
    except ImportError:
        pass
    import numpy as np
    import polars as pl

    from hmip_cli import schema

    rng = np.random.default_rng(1)
    cols = {
        "case_id": [f"B{i:07d}" for i in range(n)],
        "inspection": rng.choice(["Durham", "Cumbria", "Bristol", "Leeds"], n),
        "inspection_date": (np.datetime64("2016-03-01") + rng.integers(0, 600, n)).astype(str),
        "provider": rng.choice(["CRC", "NPS"], n),
        "gender": rng.choice(["male", "female"], n),
        "age": rng.integers(18, 80, n),
        "ethnicity": rng.choice(["white", "black", "asian", "mixed", "other"], n),
        "supervision": rng.choice(["community", "post_custody"], n),
        "ogrs_score": rng.integers(0, 100, n),
        "rosh": rng.choice(["low", "medium", "high", "very_high"], n),
        "mappa": rng.choice(["yes", "no"], n),
    }
    npri = rng.integers(0, schema.MAX_PRIORITIES + 1, n)
    order = np.argsort(rng.random((n, len(schema.FACTORS))), axis=1)
    for k, f in enumerate(schema.FACTORS):
        is_p = order[:, k] < npri
        cols[schema.priority_column(f)] = np.where(is_p, "yes", "no")
        for m in schema.MEASURES:
            ans = np.where(rng.random(n) < 0.6, "yes", "no")
            cols[schema.judgement_column(f, m)] = np.where(is_p, ans, "")
    for q in schema.QUESTIONS:
        cols[q.column] = rng.choice(["yes", "no", ""], n)
    return pl.DataFrame(cols)


def run(script: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", script, *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    path = case_file(args.cases)
    size_mib = path.stat().st_size / 2**20
    print(f"input: {path.name}, {args.cases:,} cases, {size_mib:,.0f} MiB", flush=True)
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        hmip, base = [], []
        run(BASELINE_RUN, str(path), f"{tmp}/warm.parquet")  # warm the page cache
        for _ in range(args.repeat):  # interleaved, so drift hits both sides alike
            hmip.append(run(HMIP_RUN, str(path), f"{tmp}/store"))
            base.append(run(BASELINE_RUN, str(path), f"{tmp}/plain.parquet"))
    result = report(
        "ingest 1M-case CSV" if args.cases == 1_000_000 else f"ingest {args.cases:,}-case CSV",
        [r["seconds"] for r in hmip],
        "polars read_csv+write_parquet",
        [r["seconds"] for r in base],
        TARGET_RATIO,
    )
    peak = max(r["peak_kib"] for r in hmip) / 2**20
    peak_base = max(r["peak_kib"] for r in base) / 2**20
    verdict = "OK" if peak < TARGET_PEAK_GIB else "OVER TARGET"
    print(
        f"peak memory: hmip {peak:.2f} GiB (target < {TARGET_PEAK_GIB:g} GiB) {verdict}; "
        f"baseline {peak_base:.2f} GiB",
        flush=True,
    )
    result.update(
        peak_gib=peak,
        baseline_peak_gib=peak_base,
        hmip_runs_s=[r["seconds"] for r in hmip],
        baseline_runs_s=[r["seconds"] for r in base],
        hmip_median_s=statistics.median(r["seconds"] for r in hmip),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
