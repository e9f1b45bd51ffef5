"""`hmip demo`: the README's main job, through CliRunner and the installed console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_json_support import doc, rows
from typer.testing import CliRunner

from hmip_cli import demo
from hmip_cli.cli.app import app

runner = CliRunner()
SECTIONS = [
    "Sample profile",
    "Figure 1: Interventions available",
    "Figure 2: Sufficient interventions delivered",
    "Figure 3: Contracted providers",
    "Figure 4: Partners",
    "Table 1: The focus upon risk of harm",
    "Table 2: The focus upon risk of harm",
]


def test_the_packaged_example_is_the_examples_copy():
    repo, packaged = demo.repo_example(), demo.packaged_example()
    assert repo.is_file(), repo
    assert packaged.is_file(), packaged
    assert repo.read_bytes() == packaged.read_bytes(), (
        "hmip_cli/data/cases.csv differs from examples/cases.csv: copy it again"
    )


def test_demo_prints_the_bulletin_and_leaves_the_users_store_alone():
    result = runner.invoke(app, ["demo"])
    assert result.exception is None, result.exception
    assert result.exit_code == 0, result.stderr
    for section in SECTIONS:
        assert section in result.stdout, section
    assert "│ All cases                              │ 1,066 │ 100.0 │" in result.stdout
    assert "Demo: 1,066 example cases" in result.stderr
    assert "Demo:" not in result.stdout
    assert not Path(os.environ["HMIP_DATA"]).exists()


def test_demo_uses_the_package_copy_when_there_is_no_clone(monkeypatch, tmp_path):
    monkeypatch.setattr(demo, "repo_example", lambda: tmp_path / "nowhere" / "cases.csv")
    assert demo.example_path() == demo.packaged_example()
    result = runner.invoke(app, ["demo", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    payload = doc(result.stdout)
    assert payload["command"] == "demo" and payload["provenance"]["store"]["n_cases"] == 1066
    assert [t["title"] for t in payload["tables"]] == [
        "Sample profile",
        "Figures 1-4",
        "Tables 1-2",
    ]
    assert [t["name"] for t in payload["tables"]] == ["sample", "rates", "protection"]
    assert payload["tables"][0]["rows"][0]["n"] == 1066
    assert {r["breakdown"] for r in payload["tables"][1]["rows"]} == {
        "all",
        "provider",
        "gender",
        "age_group",
        "ethnicity",
        "supervision",
        "ogrs_band",
    }


def test_keep_leaves_a_store_to_explore_and_is_never_overwritten(tmp_path):
    keep = tmp_path / "demo-store"
    first = runner.invoke(app, ["demo", "--keep", str(keep), "--format", "csv"])
    assert first.exit_code == 0, first.stderr
    assert "(kept)" in first.stderr
    assert first.stdout.splitlines()[0].startswith("table_name,breakdown,")
    rates = runner.invoke(app, ["rates", "--data", str(keep), "--by", "provider"])
    assert rates.exit_code == 0 and "NPS minus CRC" in rates.stdout
    again = runner.invoke(app, ["demo", "--keep", str(keep)])
    assert again.exit_code == 2
    assert "already holds a store" in again.stderr


def test_demo_suppression_hides_the_small_financial_management_cells():
    # The bulletin left financial management out of Figures 3 and 4 for small numbers.
    result = runner.invoke(app, ["demo", "--suppress", "--format", "json"])
    fin = [
        r
        for r in rows(result.stdout, "rates")
        if r["factor"] == "finance"
        and r["measure"] in ("contracted", "partner")
        and r["breakdown"] == "all"
    ]
    assert len(fin) == 2 and all(r["marker"] == "[c]" and r["percent_yes"] is None for r in fin)


def _console_script() -> Path:
    return Path(sys.executable).parent / "hmip"


@pytest.mark.slow
def test_demo_through_the_installed_console_script(tmp_path):
    script = _console_script()
    if not script.exists():
        pytest.skip("hmip console script not installed beside this Python")
    env = {**os.environ, "HMIP_DATA": str(tmp_path / "user-store"), "NO_COLOR": "1"}
    proc = subprocess.run(
        [str(script), "demo"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    for section in SECTIONS:
        assert section in proc.stdout, section
    assert "Traceback" not in proc.stderr
    assert "\x1b[" not in proc.stdout
    assert not (tmp_path / "user-store").exists()
