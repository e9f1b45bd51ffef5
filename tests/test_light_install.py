"""A lighter install (issue 14, item 6): statsmodels and pandas are test-only dependencies,
so no runtime path may import them. `hmip demo` (with a report), `hmip regress` on a file
and on the store, and `hmip report` run here with both made unimportable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

BLOCKER = """
import sys
# None in sys.modules: `import pandas` raises ImportError and find_spec says absent,
# exactly as when the package is not installed.
sys.modules["pandas"] = None
sys.modules["statsmodels"] = None
from hmip_cli.cli.app import app
for args in {commands!r}:
    try:
        app(args, prog_name="hmip")
    except SystemExit as exc:
        if exc.code:
            raise
"""


def test_runtime_dependencies_exclude_statsmodels_and_pandas():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"]).lower()
    assert "statsmodels" not in runtime and "pandas" not in runtime
    assert any("statsmodels" in d for d in project["optional-dependencies"]["test"])


@pytest.mark.slow
def test_commands_run_without_statsmodels_or_pandas(tmp_path):
    store = tmp_path / "store"
    example = ROOT / "examples" / "cases.csv"
    commands = [
        ["demo", "--keep", str(store), "--report", str(tmp_path / "r.html")],
        ["regress", "--input", str(example), "--outcome", "accommodation_delivered",
         "--candidates", "provider,gender,age", "--categorical", "provider,gender"],
        ["regress", "--factor", "accommodation", "--measure", "delivery", "--data", str(store)],
        ["rates", "--by", "provider", "--test", "--data", str(store)],
        # Two candidates: the same code paths as the full sweep (which the demo's report
        # above runs) at a fraction of the cost.
        ["report", "--output", str(tmp_path / "r.xlsx"), "--data", str(store),
         "--candidates", "provider,gender"],
    ]  # fmt: skip
    r = subprocess.run(
        [sys.executable, "-c", BLOCKER.format(commands=commands)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "r.html").stat().st_size > 0 and (tmp_path / "r.xlsx").stat().st_size > 0
