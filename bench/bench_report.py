"""Benchmark: the full report on 1,000,000 synthetic cases.

hmip: `report.build_report` (rates.bulletin once, the sample profile, the stepwise sweep
over every factor x measure and the four questions, key findings, the store's content
hash for provenance) plus writing all three formats (HTML with inline SVG, Markdown with
SVG files, XLSX): everything `hmip report` does, three times over the writers.
Baseline, same frame, same run: the bare `rates.bulletin()` call.
Target: the full report under 30 s (median); the ratio is reported too.

Run: .venv/bin/python bench/bench_report.py [--cases N] [--repeat K]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import report, synthetic_store, timed

from hmip_cli import rates, store
from hmip_cli.report import ReportParams, build_report
from hmip_cli.report.write import write_report

TARGET_S = 30.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    data = synthetic_store(args.cases)
    out = Path(tempfile.mkdtemp(prefix="hmip-bench-report-"))
    cases = store.load_cases(data)
    steps: dict[str, list[float]] = {"load+info": [], "build": [], "write": []}

    def full_report():
        t0 = time.perf_counter()
        c = store.load_cases(data)
        info = store.store_info(data)
        t1 = time.perf_counter()
        rep = build_report(c, info=info, params=ReportParams(date="2019-01-31"))
        t2 = time.perf_counter()
        for name in ("report.html", "report.md", "report.xlsx"):
            write_report(rep, out / name)
        t3 = time.perf_counter()
        steps["load+info"].append(t1 - t0)
        steps["build"].append(t2 - t1)
        steps["write"].append(t3 - t2)

    base = timed(lambda: rates.bulletin(cases), repeat=args.repeat)
    hmip = timed(full_report, repeat=args.repeat, warmup=1)
    res = report(f"report ({args.cases:,} cases; html+md+xlsx)", hmip, "rates.bulletin()", base)
    parts = ", ".join(f"{k} {statistics.median(v[-args.repeat :]):.2f}s" for k, v in steps.items())
    verdict = "OK" if res["hmip_median_s"] < TARGET_S else "OVER TARGET"
    print(f"  median steps: {parts}; target < {TARGET_S:g}s: {verdict}", flush=True)


if __name__ == "__main__":
    main()
