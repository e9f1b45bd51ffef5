"""Issue 13's workloads as whole processes, each against its named baseline in the same run.

    python bench/run.py             # 10,000,000 cases (the issue's table)
    python bench/run.py --quick     # 1,000,000 cases, while developing
    python bench/run.py --only info,ingest --repeat 5 --cache /work/bench-cache
    python bench/run.py --cases 2000 --only rates,help,help-bare --repeat 7   # fast start
    python bench/run.py --scripts   # the older bench/bench_*.py micro-benchmarks

Every measurement is a fresh process, timed from spawn to exit (interpreter start, imports
and reading the data included: what an analyst waits for), with its own peak RSS
(`os.wait4`'s rusage of that child alone). hmip and its baseline alternate run by run,
so load from other processes on a shared machine hits both alike; medians are printed
with the ratio hmip/baseline and the issue's target. The synthetic data (`hmip_cli.synth`,
seed 1) is generated once into the cache directory (default bench/out/, git-ignored):
the stored frame, its CSV, a store built from it, and a regress input file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
HMIP = [PY, "-m", "hmip_cli"]
GIB = 2**30

OUTCOME = "thinking_delivered"  # schema.judgement_column("thinking", "delivery")
CATEGORICAL = ["provider", "gender", "age_group", "ethnic_group", "supervision", "ogrs_group"]
NUMERIC_CANDIDATES = ["age", "ogrs_score", "provider", "gender", "supervision"]


# ---- running processes ------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    peak_bytes: int
    cpu_seconds: float  # user + system: less disturbed by other load than wall time


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured process: as installed, bytecode is cached (with
    PYTHONDONTWRITEBYTECODE set, as in some shells, every start compiled hmip's modules
    afresh: 0.2-0.8 s of each hmip measurement that no installed hmip pays)."""
    out = dict(env if env is not None else os.environ)
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    return out


def run_process(argv: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """Spawn `argv`, wait for it; wall seconds spawn-to-exit and that child's peak RSS."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=child_env(env),
        cwd=HERE.parent,
    )
    assert proc.stderr is not None
    err = proc.stderr.read()  # small: hmip's notes on stderr
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}\n{err.decode()[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, usage.ru_maxrss * 1024, cpu)  # Linux: ru_maxrss in KiB


@dataclass
class Workload:
    name: str
    hmip: Callable[[], Sequence[str]]  # argv of the hmip process (built lazily, per run)
    baseline_name: str
    baseline: Callable[[], Sequence[str]]
    target: str  # the "done when", for the printout
    check: Callable[[float, float, int], bool] | None = None  # (hmip_s, base_s, peak) -> ok
    env: dict[str, str] | None = None
    before_each: Callable[[], None] | None = None  # e.g. remove the store ingest writes
    results: dict = field(default_factory=dict)


def measure(w: Workload, repeat: int, warmup: int = 1) -> dict:
    """`repeat` runs of each side, alternating, after `warmup` unmeasured ones of each."""
    hmip_runs: list[Run] = []
    base_runs: list[Run] = []
    for i in range(repeat + warmup):
        if w.before_each:
            w.before_each()
        h = run_process(w.hmip(), w.env)
        b = run_process(w.baseline(), w.env)
        if i >= warmup:  # the first pair warms the page cache and the bytecode cache
            hmip_runs.append(h)
            base_runs.append(b)
    hs = statistics.median(r.seconds for r in hmip_runs)
    bs = statistics.median(r.seconds for r in base_runs)
    hc = statistics.median(r.cpu_seconds for r in hmip_runs)
    bc = statistics.median(r.cpu_seconds for r in base_runs)
    peak = max(r.peak_bytes for r in hmip_runs)
    base_peak = max(r.peak_bytes for r in base_runs)
    ok = None if w.check is None else w.check(hs, bs, peak)
    res = {
        "workload": w.name,
        "hmip_median_s": round(hs, 3),
        "hmip_runs_s": [round(r.seconds, 3) for r in hmip_runs],
        "baseline": w.baseline_name,
        "baseline_median_s": round(bs, 3),
        "baseline_runs_s": [round(r.seconds, 3) for r in base_runs],
        "ratio": round(hs / bs, 2),
        "hmip_cpu_median_s": round(hc, 3),
        "baseline_cpu_median_s": round(bc, 3),
        "hmip_peak_gib": round(peak / GIB, 2),
        "baseline_peak_gib": round(base_peak / GIB, 2),
        "target": w.target,
        "meets_target": ok,
    }
    verdict = {None: "", True: "  OK", False: "  NOT MET"}[ok]
    print(
        f"{w.name}: hmip {hs:.2f}s (peak {peak / GIB:.2f} GiB) | {w.baseline_name} {bs:.2f}s "
        f"(peak {base_peak / GIB:.2f} GiB) | ratio {hs / bs:.2f} | CPU s {hc:.2f} vs {bc:.2f} | "
        f"target: {w.target}{verdict}",
        flush=True,
    )
    return res


# ---- data, generated once ---------------------------------------------------------------


def _py(code: str, *args: str) -> list[str]:
    return [PY, "-c", code, *map(str, args)]


PREPARE = r"""
import os, sys, json, datetime
from pathlib import Path
import polars as pl
from hmip_cli import schema, synth, store
n, cache = int(sys.argv[1]), Path(sys.argv[2])
stored = cache / f"cases_{n}_1.stored.parquet"
if not stored.exists():
    synth.generate(n, 1).write_parquet(stored.with_suffix(".tmp"))
    os.replace(stored.with_suffix(".tmp"), stored)
csv = cache / f"cases_{n}_1.csv"
if not csv.exists():
    synth._as_text(pl.read_parquet(stored)).write_csv(csv.with_suffix(".tmp"), line_terminator="\n")
    os.replace(csv.with_suffix(".tmp"), csv)
st = cache / f"store_{n}_1"
if not (st / store.CASES_FILE).exists():
    # Built from the frame directly (ingesting 10M cases is one of the workloads measured).
    frame = pl.read_parquet(stored)
    rec = {"source": csv.name, "sha256": "0" * 64, "rows": frame.height,
           "ingested_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "hmip_version": "bench", "mapping": None,
           "inspections": sorted(frame["inspection"].unique().to_list())}
    with store.locked(st):
        store.write_store(st, frame, [rec])
inp = cache / f"regress_input_{n}_1.parquet"
if not inp.exists():
    # Every column of the derived case frame: `regress --input` must pick the ones it needs.
    schema.with_derived(pl.scan_parquet(stored)).sink_parquet(inp.with_suffix(".tmp"))
    os.replace(inp.with_suffix(".tmp"), inp)
"""

EXAMPLE_STORE = r"""
import sys
from importlib import resources
from hmip_cli.ingest import ingest_files
src = resources.files("hmip_cli") / "data" / "cases.csv"
with resources.as_file(src) as p:
    ingest_files([p], data=sys.argv[1], replace_store=True)
"""


def _has_summary(directory: Path) -> bool:
    """Whether the store holds the summary `info` reads (stores older than it are rebuilt)."""
    cases = directory / "cases.parquet"
    if not cases.exists():
        return False
    import polars as pl

    return '"summary"' in pl.read_parquet_metadata(cases).get("hmip", "")


def prepare(n: int, cache: Path) -> dict[str, Path]:
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    subprocess.run(_py(PREPARE, str(n), str(cache)), check=True)
    example = cache / "example_store"
    if not _has_summary(example):  # (re)built: a store from before the summary is slow
        subprocess.run(_py(EXAMPLE_STORE, str(example)), check=True)
    paths = {
        "csv": cache / f"cases_{n}_1.csv",
        "store": cache / f"store_{n}_1",
        "input": cache / f"regress_input_{n}_1.parquet",
        "example": example,
    }
    if n != 1_000_000:  # the numeric-candidates workload is at 1M rows in either mode
        subprocess.run(_py(PREPARE, "1000000", str(cache)), check=True)
    paths["input_1m"] = cache / "regress_input_1000000_1.parquet"
    print(f"data ready in {cache} ({time.perf_counter() - t0:.0f}s)", flush=True)
    return paths


# ---- baselines: the least a process must do for each workload ---------------------------

# One lazy scan and one group_by of the outcome and candidates, with the counts.
SCAN_GROUP_BY = r"""
import sys, polars as pl
keys = sys.argv[2].split(",")
pl.scan_parquet(sys.argv[1]).group_by(keys).agg(pl.len()).collect()
"""

# The streaming engine's CSV -> Parquet copy: no validation at all.
SINK = r"""
import sys, polars as pl
pl.scan_csv(sys.argv[1]).sink_parquet(sys.argv[2])
"""

# What `info` shows: case count, dates, inspections (footer + three columns).
INFO_BASE = r"""
import sys, polars as pl
pl.scan_parquet(sys.argv[1]).group_by("inspection", "provider").agg(
    pl.len(), pl.col("inspection_date").min().alias("first"),
    pl.col("inspection_date").max().alias("last")).collect()
"""

# Every count any rate, table or sweep target needs, in one group_by over the stored
# columns the default breakdowns come from: per cell, the non-null count and the sum of every
# priority, judgement and question column.
ALL_COUNTS = r"""
import sys, polars as pl
from hmip_cli import schema
keys = ["provider", "gender", "age", "ethnicity", "supervision", "ogrs_score"]
lf = pl.scan_parquet(sys.argv[1])
cols = [c for c in lf.collect_schema().names()
        if c not in keys and lf.collect_schema()[c] == pl.Boolean]
aggs = [pl.len()]
for c in cols:
    aggs += [pl.col(c).count().alias(f"n_{c}"), pl.col(c).sum().alias(f"y_{c}")]
lf.group_by(keys).agg(aggs).collect()
"""

# The naive way: a statsmodels formula GLM refitted for every model; score tests for entry
# (as SPSS FSTEP), likelihood-ratio tests for removal. Prints its path and estimates as JSON.
NAIVE_STEPWISE = r"""
import sys
sys.path.insert(0, sys.argv[1])
from run import naive_stepwise
naive_stepwise(sys.argv[2], sys.argv[3], sys.argv[4].split(","))
"""


def naive_stepwise(path: str, outcome: str, cands: list[str], pin=0.05, pout=0.10) -> None:
    """Forward stepwise, the straightforward way, on every row (see NAIVE_STEPWISE)."""
    import numpy as np
    import polars as pl
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from scipy import stats

    frame = pl.read_parquet(path, columns=[outcome, *cands]).drop_nulls()
    cats = {c: list(frame.schema[c].categories) for c in cands if frame.schema[c] == pl.Enum}
    levels = {c: [v for v in cats[c] if v in set(frame[c].unique().to_list())] for c in cats}
    df = frame.with_columns(pl.col(outcome).cast(pl.Int8)).with_columns(
        pl.col(c).cast(pl.String) for c in cats
    )
    df = df.to_pandas()

    def term(c: str) -> str:  # SPSS's default: the last category is the reference
        return f"C({c}, Treatment(reference='{levels[c][-1]}'))" if c in cats else c

    def fit(terms: list[str]):
        rhs = " + ".join(term(t) for t in terms) or "1"
        return smf.glm(f"{outcome} ~ {rhs}", df, family=sm.families.Binomial()).fit()

    def score_p(base, terms: list[str], c: str) -> float:
        import patsy

        extra = np.asarray(patsy.dmatrix(term(c), df))[:, 1:]  # without its intercept
        res = base.score_test(exog_extra=extra, return_object=True)
        stat, k = float(res.statistic[0]), int(res.k_constraint)
        logp = float(stats.chi2.logsf(stat, k))
        if logp == -np.inf:  # scipy underflows past a score of ~1,420: 50 digits instead
            import mpmath

            mpmath.mp.dps = 50
            q = mpmath.gammainc(
                mpmath.mpf(k) / 2, mpmath.mpf(stat) / 2, mpmath.inf, regularized=True
            )
            logp = float(mpmath.log(q))
        return logp

    current: list[str] = []
    steps: list[tuple[str, str]] = []
    visited = {frozenset()}
    base = fit(current)
    while True:
        scored = [(score_p(base, current, c), c) for c in cands if c not in current]
        if not scored:
            break
        best_logp, best = min(scored)
        if best_logp >= np.log(pin) or frozenset([*current, best]) in visited:
            break
        current.append(best)
        steps.append(("enter", best))
        visited.add(frozenset(current))
        base = fit(current)
        while current:
            worst, worst_p = None, 0.0
            for c in current:
                m = fit([t for t in current if t != c])
                p = stats.chi2.sf(2 * (base.llf - m.llf), base.df_model - m.df_model)
                if p > worst_p:
                    worst, worst_p = c, p
            if worst is None or worst_p <= pout:
                break
            current.remove(worst)
            steps.append(("remove", worst))
            base = fit(current)
    out = {"steps": steps, "final_terms": current, "params": base.params.to_dict()}
    print(json.dumps({**out, "bse": base.bse.to_dict()}))


def workloads(n: int, p: dict[str, Path], scratch: Path) -> list[Workload]:
    size = f"{n // 1_000_000}M"
    store_env = {**os.environ, "HMIP_DATA": str(p["store"])}
    stored = p["store"] / "cases.parquet"
    fresh = scratch / "ingested"

    def clear_ingest() -> None:
        shutil.rmtree(fresh, ignore_errors=True)

    regress_keys = ",".join([OUTCOME, *CATEGORICAL])
    return [
        Workload(
            f"regress --input, {size} rows, 6 categorical candidates",
            lambda: [
                *HMIP,
                "regress",
                "--input",
                str(p["input"]),
                "--outcome",
                OUTCOME,
                "--candidates",
                ",".join(CATEGORICAL),
                "--format",
                "json",
            ],
            "scan_parquet().group_by().agg() process",
            lambda: _py(SCAN_GROUP_BY, str(p["input"]), regress_keys),
            "ratio <= 2",
            lambda h, b, _: h <= 2 * b,
        ),
        Workload(
            f"ingest {size}-case CSV",
            lambda: [*HMIP, "ingest", str(p["csv"]), "--data", str(fresh), "--replace"],
            "scan_csv().sink_parquet() process",
            lambda: _py(SINK, str(p["csv"]), str(scratch / "sink.parquet")),
            "ratio <= 1.5 and peak <= 4 GiB",
            lambda h, b, peak: h <= 1.5 * b and peak <= 4 * GIB,
            before_each=clear_ingest,
        ),
        Workload(
            f"info on a {size} store",
            lambda: [*HMIP, "info", "--format", "json"],
            "scan_parquet(inspection, provider, date) group_by process",
            lambda: _py(INFO_BASE, str(stored)),
            "hmip <= 1 s",
            lambda h, b, _: h <= 1.0,
            env=store_env,
        ),
        Workload(
            f"report (html) on a {size} store",
            # Disclosure control is left out: the baseline (the rates' counts) does no such
            # check (at 10M its linked check takes minutes: docs/performance.md).
            lambda: [
                *HMIP,
                "report",
                "--disclosure",
                "none",
                "--output",
                str(scratch / "report.html"),
            ],
            "all rate counts in one group_by process",
            lambda: _py(ALL_COUNTS, str(stored)),
            "ratio <= 2",
            lambda h, b, _: h <= 2 * b,
            env=store_env,
        ),
        Workload(
            f"regress --all on a {size} store",
            lambda: [*HMIP, "regress", "--all", "--format", "json"],
            "all target counts in one group_by process",
            lambda: _py(ALL_COUNTS, str(stored)),
            "(no target; issue table 2.5x)",
            env=store_env,
        ),
        Workload(
            "regress, numeric candidates (age, ogrs_score) + 3 categorical, 1M rows",
            lambda: [
                *HMIP,
                "regress",
                "--input",
                str(p["input_1m"]),
                "--outcome",
                OUTCOME,
                "--candidates",
                ",".join(NUMERIC_CANDIDATES),
                "--format",
                "json",
            ],
            "naive statsmodels stepwise process",
            lambda: _py(
                NAIVE_STEPWISE, str(HERE), str(p["input_1m"]), OUTCOME, ",".join(NUMERIC_CANDIDATES)
            ),
            "hmip >= 10x faster (ratio <= 0.1)",
            lambda h, b, _: h <= 0.1 * b,
        ),
        Workload(
            "rates on the example store (1,066 cases)",
            lambda: [*HMIP, "rates", "--data", str(p["example"])],
            "python -c 'import polars' process",
            lambda: _py("import polars"),
            "hmip rates < 1.0 s",
            lambda h, b, _: h < 1.0,
        ),
        # Fast start (issue 13 item 5): the root help imports Typer and cli/app.py only.
        Workload(
            "hmip --help",
            lambda: [*HMIP, "--help"],
            "python -c 'import typer' process",
            lambda: _py("import typer"),
            "--help < 0.4 s",
            lambda h, b, _: h < 0.4,
        ),
        Workload(
            "hmip --help (against a bare interpreter)",
            lambda: [*HMIP, "--help"],
            "python -c pass process",
            lambda: _py("pass"),
            "--help < 0.4 s",
            lambda h, b, _: h < 0.4,
        ),
        # Store analyses other than the report (issue 13 item 1): each reads only the
        # columns it needs, lazily, and counts from one group_by; the baseline is the same
        # one group_by of every count as for the report.
        *(
            Workload(
                f"{command} on a {size} store",
                lambda command=command: [*HMIP, command, "--format", "csv"],
                "all rate counts in one group_by process",
                lambda: _py(ALL_COUNTS, str(stored)),
                "(no target; report's 2x)",
                env=store_env,
            )
            for command in ("rates", "protection", "trend")
        ),
    ]


def compare_numeric(p: dict[str, Path]) -> dict:
    """hmip's path and estimates against the naive stepwise's, on the numeric workload."""
    argv = [*HMIP, "regress", "--input", str(p["input_1m"]), "--outcome", OUTCOME]
    argv += ["--candidates", ",".join(NUMERIC_CANDIDATES), "--format", "json"]
    out = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)
    hmip = out["models"][0] if "models" in out else out  # the JSON envelope: one model
    naive_argv = _py(NAIVE_STEPWISE, str(HERE), str(p["input_1m"]), OUTCOME)
    naive_argv.append(",".join(NUMERIC_CANDIDATES))
    out = subprocess.run(naive_argv, check=True, capture_output=True, text=True).stdout
    naive = json.loads(out.strip().splitlines()[-1])
    ours = {c["parameter"]: c["b"] for c in hmip["coefficients"]}
    ours_se = {c["parameter"]: c["se"] for c in hmip["coefficients"]}
    theirs, theirs_se = _naive_names(naive["params"]), _naive_names(naive["bse"])
    same_path = [(s["action"], s["term"]) for s in hmip["steps"]] == [
        tuple(s) for s in naive["steps"]
    ]
    worst = max(abs(ours[k] - theirs[k]) / max(abs(theirs[k]), 1e-300) for k in theirs)
    worst_se = max(abs(ours_se[k] - v) / v for k, v in theirs_se.items())
    same = same_path and set(ours) == set(theirs)
    print(
        f"  path: hmip {[s['term'] for s in hmip['steps']]} (collapsed={hmip['collapsed']}, "
        f"{hmip['n_rows_fitted']:,} rows fitted); naive {[s[1] for s in naive['steps']]}; "
        f"same path and parameters: {same}; largest relative difference in B {worst:.1e}, "
        f"in S.E. {worst_se:.1e}",
        flush=True,
    )
    return {
        "same_path": same,
        "max_rel_diff_b": worst,
        "max_rel_diff_se": worst_se,
        "n_rows_fitted": hmip["n_rows_fitted"],
    }


def _naive_names(values: dict[str, float]) -> dict[str, float]:
    """statsmodels' parameter names (Intercept, C(x, Treatment(...))[T.level]) as hmip's."""
    out = {}
    for name, v in values.items():
        if name == "Intercept":
            out["Constant"] = v
        elif name.startswith("C("):
            var = name[2 : name.index(",")]
            out[f"{var}({name[name.index('[T.') + 3 : -1]})"] = v
        else:
            out[name] = v
    return out


KEYS = (
    "regress-input",
    "ingest",
    "info",
    "report",
    "regress-all",
    "regress-numeric",
    "rates",
    "help",
    "help-bare",
    "rates-store",
    "protection-store",
    "trend-store",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,000,000 cases instead of 10,000,000")
    ap.add_argument("--cases", type=int, default=None, help="override the number of cases")
    ap.add_argument("--repeat", type=int, default=3, help="measured runs per side (median)")
    ap.add_argument("--warmup", type=int, default=1, help="unmeasured runs per side first")
    ap.add_argument("--cache", type=Path, default=HERE / "out", help="where data is cached")
    ap.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(KEYS)}")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--scripts", action="store_true", help="run bench/bench_*.py instead")
    args = ap.parse_args()
    if args.scripts:
        for script in sorted(HERE.glob("bench_*.py")):
            print(f"== {script.name}", flush=True)
            subprocess.run([PY, str(script)], check=False)
        return
    n = args.cases or (1_000_000 if args.quick else 10_000_000)
    only = [k.strip() for k in args.only.split(",") if k.strip()]
    bad = [k for k in only if k not in KEYS]
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {', '.join(KEYS)}")
    paths = prepare(n, args.cache.resolve())
    load = os.getloadavg()
    print(
        f"{n:,} cases; {os.cpu_count()} CPUs; load average {load[0]:.1f} at start "
        f"(other work on the machine slows both sides alike); {args.repeat} runs per side",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory(dir=args.cache) as tmp:
        for key, w in zip(KEYS, workloads(n, paths, Path(tmp))):
            if not only or key in only:
                results.append(measure(w, args.repeat, args.warmup))
                if key == "regress-numeric":
                    results[-1]["agreement"] = compare_numeric(paths)
    print(f"load average {os.getloadavg()[0]:.1f} at the end", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"cases": n, "results": results}, indent=2))


if __name__ == "__main__":
    main()
