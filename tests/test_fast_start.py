"""Start-up cost: commands that do not need SciPy, statsmodels, matplotlib (or NumPy, for
the table commands) must not import them (issue 13, item 5: `hmip rates` on a small store
under 1 s, `hmip --help` under 0.4 s). Asserted on sys.modules in a fresh interpreter,
not on timings, so a loaded machine cannot make the test flaky."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = {"scipy", "statsmodels", "matplotlib", "pyreadstat", "xlsxwriter", "numpy"}

# Runs several commands in one interpreter (one start-up for the lot) and reports, after
# each, the top-level modules it added to sys.modules.
PROBE = """
import json, sys
from hmip_cli.cli.app import app
report = []
for args in json.loads(sys.argv[1]):
    before = {m.split(".")[0] for m in sys.modules}
    try:
        app(args, prog_name="hmip")
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    after = {m.split(".")[0] for m in sys.modules}
    report.append({"args": args, "code": code, "added": sorted(after - before)})
print(json.dumps(report), file=sys.stderr)
"""


def heavy_imports(*commands: list[str]) -> dict[str, set[str]]:
    """{command: heavy modules it imported} for `hmip` commands run in a fresh interpreter;
    the first command also counts what importing the app itself pulled in."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(commands)],
        capture_output=True,
        text=True,
        check=False,
    )
    runs = json.loads(out.stderr.strip().splitlines()[-1])
    assert all(r["code"] == 0 for r in runs), out.stderr[-3000:]
    seen: dict[str, set[str]] = {}
    for r in runs:
        seen[" ".join(r["args"])] = set(r["added"]) & HEAVY
    return seen


def test_help_and_version_import_no_heavy_library():
    got = heavy_imports(
        ["--help"], ["--version"], ["rates", "--help"], ["regress", "--help"], ["report", "--help"]
    )
    assert not any(got.values()), got
    # The app module itself: nothing heavy at import (checked in the same process).
    mods = subprocess.run(
        [sys.executable, "-c", "import sys, hmip_cli.cli.app; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert not {m.split(".")[0] for m in mods} & HEAVY


def _table_commands(data: list[str]) -> list[list[str]]:
    return [
        ["rates", *data],
        ["rates", "--format", "json", *data],
        ["protection", *data],
        ["sample", *data],
        ["info", *data],
    ]


def _more_table_commands(data: list[str], out: Path) -> list[list[str]]:
    return [
        ["trend", *data],
        ["chart", "figure2", *data],
        ["schema", *data],
        ["framework", "list"],
        ["framework", "show", "qi-2016"],
        ["export", *data, "-o", str(out / "cases.csv")],
    ]


def _model_commands(data: list[str], out: Path) -> list[list[str]]:
    cases = out / "model.csv"
    cases.write_text(
        "y,a,x\n" + "".join(f"{i % 3 == 0},{'pq'[i % 2]},{i % 7}\n" for i in range(60))
    )
    return [
        ["regress", "--factor", "thinking", "--measure", "delivery", *data],
        ["regress", "--input", str(cases), "--outcome", "y", "--candidates", "a,x"],
    ]


@pytest.fixture(scope="module")
def store_commands(_example_store_dir, tmp_path_factory):
    """The commands of the three tests below run in ONE fresh interpreter, in order: the
    table commands, which must add nothing heavy, then one model of the store and one of a
    file (NumPy, then nothing more). A table command's heavy import shows at it (or at an
    earlier table command, which then fails the same check), so one start-up serves all:
    {" ".join(args): heavy modules the command added}."""
    data = ["--data", str(_example_store_dir)]
    out = tmp_path_factory.mktemp("fast-start")
    commands = _table_commands(data) + _more_table_commands(data, out) + _model_commands(data, out)
    return heavy_imports(*commands), data, out


def _of(store_commands, commands: list[list[str]]) -> dict[str, set[str]]:
    got = store_commands[0]
    return {" ".join(c): got[" ".join(c)] for c in commands}


def test_table_commands_import_neither_scipy_nor_numpy(store_commands):
    # NumPy too: these are Polars-only paths (the Wilson interval is a Polars expression).
    got = _of(store_commands, _table_commands(store_commands[1]))
    assert not any(got.values()), got


def test_the_probe_sees_an_import_when_there_is_one(example_store):
    # Profile-likelihood CIs need SciPy (Brent's root finder) and NumPy: the probe must
    # report them, or the tests above prove nothing.
    got = heavy_imports(
        ["regress", "--factor", "thinking", "--measure", "delivery", "--ci", "profile"]
    )
    assert {"scipy", "numpy"} <= next(iter(got.values()))


def test_one_model_imports_no_scipy(store_commands):
    # Issue 13: a model needs NumPy, not SciPy (its import cost each start about 2 s):
    # p-values, the normal quantile and the Cholesky solve are computed without it.
    # (run after the table commands, which load no NumPy: test_table_commands...)
    _, data, out = store_commands
    got = _of(store_commands, _model_commands(data, out))
    # (the second command finds NumPy loaded by the first)
    assert list(got.values()) == [{"numpy"}, set()], got


# `hmip --help` lists the commands from cli/app.py's table: it imports neither Polars nor
# any command module (nor the options they share), so it starts about as fast as Typer.
ROOT_PROBE = """
import sys
from hmip_cli.cli.app import app
for args in (["--help"], ["--version"], []):
    try:
        app(args, prog_name="hmip")
    except SystemExit:
        pass
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


def test_root_help_imports_neither_polars_nor_a_command_module():
    out = subprocess.run(
        [sys.executable, "-c", ROOT_PROBE], capture_output=True, text=True, check=True
    )
    mods = set(out.stderr.split())
    assert "typer" in mods  # the probe saw the modules it imported
    assert not {m.split(".")[0] for m in mods} & (HEAVY | {"polars", "rich", "pydantic"})
    commands = {m for m in mods if m.startswith("hmip_cli.cli.") and m != "hmip_cli.cli.app"}
    assert not commands, commands
    assert not {m for m in mods if m.startswith("hmip_cli.") and not m.startswith("hmip_cli.cli")}


def test_a_command_imports_its_own_module_only():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom hmip_cli.cli.app import app\ntry:\n    app(['rates', '--help'], "
            "prog_name='hmip')\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    mods = set(out.stderr.split())
    loaded = {m for m in mods if m.startswith("hmip_cli.cli.") and m.endswith("_cmd")}
    assert loaded == {"hmip_cli.cli.rates_cmd"}, loaded


def test_more_table_commands_import_no_heavy_library(store_commands):
    # Counting, describing and exporting need Polars only: no SciPy, NumPy, matplotlib.
    _, data, out = store_commands
    got = _of(store_commands, _more_table_commands(data, out))
    assert not any(got.values()), got


def test_rates_imports_no_report_or_stepwise_module(example_store):
    # Every store command notes whether the data are synthetic (report.provenance): that
    # must not load the report's content and findings (hmip_cli/report/__init__ is lazy).
    code = (
        "import sys\nfrom hmip_cli.cli.app import app\ntry:\n    app(['rates', '--data', "
        f"{str(example_store)!r}], prog_name='hmip')\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    mods = set(out.stderr.split())
    assert "hmip_cli.report.provenance" in mods  # the probe saw the path it checks
    assert not {m for m in mods if m.startswith(("hmip_cli.report.", "hmip_cli.stepwise"))} - {
        "hmip_cli.report.provenance",
        "hmip_cli.report.shorthand",
    }


def test_completing_a_command_name_imports_no_command_module():
    # Completing `hmip re<TAB>` lists names and summaries from the command table: before,
    # Typer's group loaded every command module (and Polars) to ask each for its help.
    import os

    env = {**os.environ, "_TYPER_COMPLETE_ARGS": "hmip re", "_HMIP_COMPLETE": "complete_zsh"}
    probe = (
        "import sys\nfrom hmip_cli.cli.app import app\ntry:\n    app(prog_name='hmip')\n"
        "except SystemExit:\n    pass\n"
        "print(' '.join(sorted(m for m in sys.modules if m.endswith('_cmd') or "
        "m.split('.')[0] == 'polars')), file=sys.stderr)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert '"regress":"Forward stepwise logistic regression' in out.stdout
    assert '"report":' in out.stdout and '"remove":' in out.stdout
    assert '"rates"' not in out.stdout  # only names starting "re"
    assert out.stderr.strip() == "", out.stderr[:300]
