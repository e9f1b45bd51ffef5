"""The README's quick-start commands are the product's front door: run them for real.

The install-and-test command is what `.ci/run` executes (checked here, so the two cannot
drift). The install-and-run command is executed in a copy of the repository with a new
virtual environment, exactly as a new user would type it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)


def test_quick_start_has_two_commands_install_run_and_install_test():
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    main_job, tests = commands
    assert "pip install" in main_job and "hmip demo" in main_job
    assert "pip install" in tests and "pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = quick_start_commands()[1]
    # The venv creation is done by .ci/run itself (it must be fresh); the rest is verbatim.
    install_and_test = test_command.split("&& . .venv/bin/activate && ", 1)[1]
    assert install_and_test in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _copy_repo(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        rel = Path(raw.decode())
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


@pytest.mark.slow
def test_readme_main_job_command_works_in_a_fresh_environment(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the repository's files")
    repo = tmp_path / "repo"
    _copy_repo(repo)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "HMIP_"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p
    )
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    command = (
        quick_start_commands()[0].replace("python3 ", f"{sys.executable} ", 1)
        if shutil.which("python3") is None
        else quick_start_commands()[0]
    )
    result = subprocess.run(
        ["bash", "-c", command], cwd=repo, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for heading in (
        "Sample profile",
        "Figure 1",
        "Figure 2",
        "Figure 3",
        "Figure 4",
        "Table 1",
        "Table 2",
    ):
        assert heading in out, f"`hmip demo` output lacks {heading!r}"
    assert "Traceback" not in result.stderr
