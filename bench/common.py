"""Shared benchmark helpers: synthetic data cached on disk, medians, ratios.

Every benchmark compares hmip against a named baseline *in the same run* and reports
medians and the ratio hmip/baseline (lower is better), so figures are comparable across
machines. Run all: `python bench/run.py`; one: `python bench/bench_<name>.py`.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"  # git-ignored cache of generated data


def timed(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of `fn()` over `repeat` runs after `warmup` unmeasured ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def report(
    name: str,
    hmip_times: list[float],
    baseline_name: str,
    baseline_times: list[float],
    target_ratio: float | None = None,
) -> dict:
    """Print one benchmark line: medians and the ratio; return them as a dict."""
    h, b = statistics.median(hmip_times), statistics.median(baseline_times)
    ratio = h / b if b > 0 else float("inf")
    verdict = "" if target_ratio is None else ("  OK" if ratio <= target_ratio else "  OVER TARGET")
    target = "" if target_ratio is None else f" (target <= {target_ratio:g})"
    print(
        f"{name}: hmip median {h:.3f}s over {len(hmip_times)} runs; "
        f"{baseline_name} median {b:.3f}s over {len(baseline_times)} runs; "
        f"ratio {ratio:.2f}{target}{verdict}",
        flush=True,
    )
    return {
        "name": name,
        "hmip_median_s": h,
        "baseline": baseline_name,
        "baseline_median_s": b,
        "ratio": ratio,
    }


def synthetic_csv(n_cases: int, seed: int = 1) -> Path:
    """A synthetic case file of n_cases from `hmip synth`, generated once and cached."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"cases_{n_cases}_{seed}.csv"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "hmip_cli",
                "synth",
                "--cases",
                str(n_cases),
                "--seed",
                str(seed),
                "--output",
                str(tmp),
            ],
            check=True,
        )
        os.replace(tmp, path)
    return path


def synthetic_store(n_cases: int, seed: int = 1) -> Path:
    """A store directory holding n_cases synthetic cases, ingested once and cached."""
    store = OUT / f"store_{n_cases}_{seed}"
    if not (store / "cases.parquet").exists():
        csv = synthetic_csv(n_cases, seed)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "hmip_cli",
                "ingest",
                str(csv),
                "--data",
                str(store),
                "--replace",
            ],
            check=True,
        )
    return store


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux ru_maxrss is KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
