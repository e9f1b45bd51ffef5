"""Shared test set-up: a fixed terminal, no colour, and no store outside tmp dirs."""

import os

import pytest

os.environ["COLUMNS"] = "200"
os.environ["NO_COLOR"] = "1"
for var in ("FORCE_COLOR", "PY_COLORS", "GITHUB_ACTIONS", "HMIP_DEBUG"):
    os.environ.pop(var, None)


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """Every test gets its own empty store location, so no test touches a real one."""
    monkeypatch.setenv("HMIP_DATA", str(tmp_path / "store"))
    monkeypatch.delenv("HMIP_DEBUG", raising=False)
    yield
