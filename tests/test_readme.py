"""The README's quick-start commands are the product's front door: run them for real.

Both commands are what `.ci/run` executes, verbatim, each in a fresh virtual environment
(checked here, so the README and CI cannot drift apart).
"""

from __future__ import annotations

import re
from pathlib import Path

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


def test_ci_runs_the_readme_main_job_command_verbatim():
    # .ci/run runs the main job once in a fresh environment (a test that built a second
    # environment cost four minutes of every run): the two must not drift apart.
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert quick_start_commands()[0] in ci


def test_ci_runs_the_gates_before_the_tests():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    tests_at = ci.index("&& pytest")
    for gate in ("ruff check .", "ruff format --check .", "mypy"):
        assert gate in ci and ci.index(gate) < tests_at, gate
