"""`hmip framework list | show | export`: exit codes, stdout (data) and stderr (talk)."""

from __future__ import annotations

import re
import shlex

import pytest
from test_json_support import by_title

from hmip_cli import framework
from hmip_cli.framework.export import to_toml


def _json(result) -> dict[str, list[dict]]:
    return by_title(result.stdout)


def test_list(cli):
    r = cli("framework", "list", "--format", "json")
    assert r.exit_code == 0 and r.stderr == ""
    tables = _json(r)
    fws = {row["name"]: row for row in tables["Frameworks"]}
    assert list(fws) == ["qi-2016", "pdu-2023"]
    assert fws["qi-2016"]["default"] is True and fws["qi-2016"]["columns"] == 67
    assert (fws["pdu-2023"]["areas"], fws["pdu-2023"]["measures"]) == (4, 2)
    (cw,) = tables["Crosswalks"]
    assert (cw["from_framework"], cw["to_framework"], cw["approximate"]) == (
        "qi-2016",
        "pdu-2023",
        1,
    )
    table = cli("framework", "list")
    assert table.exit_code == 0 and "qi-2016" in table.stdout and "pdu-2023" in table.stdout


def test_show_json_has_every_section(cli):
    r = cli("framework", "show", "qi-2016", "-f", "json")
    assert r.exit_code == 0 and r.stderr == ""
    tables = _json(r)
    assert list(tables) == [
        "Framework qi-2016",
        "Case attributes",
        "Derived columns",
        "Judgements: factors x measures",
        "Case-level questions",
        "Breakdowns",
        "Publication wording",
        "Sources",
        "Assumptions",
    ]
    items = {row["item"]: row for row in tables["Judgements: factors x measures"]}
    assert len(items) == 40
    assert items["ete/partner"]["applies"] == (
        "ete_priority is yes and partners were involved (otherwise blank)"
    )
    rules = {row["name"]: row["rule"] for row in tables["Derived columns"]}
    assert rules["age_group"] == "age < 30: under_30; 30 <= age: 30_plus"
    assert rules["ogrs_band"].startswith("0 <= ogrs_score < 50: low; 50 <= ogrs_score < 75: medium")
    wording = {(row["where"], row["key"]): row["text"] for row in tables["Publication wording"]}
    assert wording[("table 1", "title")].startswith("Table 1: The focus upon risk of harm")


def test_show_pdu_table(cli):
    r = cli("framework", "show", "pdu-2023")
    assert r.exit_code == 0
    assert "Judgements: standards x measures" in r.stdout
    assert "implementation/safety" in r.stdout and "ASSUMPTION" in r.stdout


def test_show_unknown_name_is_a_usage_error(cli):
    r = cli("framework", "show", "qi-2017")
    assert r.exit_code == 2 and r.stdout == ""
    assert "unknown framework 'qi-2017'; choose from: qi-2016, pdu-2023" in r.stderr


def test_show_a_bad_file_names_file_key_and_line(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    text = to_toml(framework.load("pdu-2023")).replace('key = "planning"', 'key = "Planning"', 1)
    bad.write_text(text, encoding="utf-8")
    r = cli("framework", "show", str(bad))
    assert r.exit_code == 1 and r.stdout == ""
    line = next(i for i, s in enumerate(text.splitlines(), 1) if 'key = "Planning"' in s)
    assert f"{bad}, line {line}: areas[2] ('Planning').key: an area key is snake_case" in r.stderr
    assert "Traceback" not in r.stderr


def test_show_a_file_that_is_not_toml(cli, tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("[framework\nname = 1\n", encoding="utf-8")
    r = cli("framework", "show", str(bad))
    assert r.exit_code == 1
    assert f"{bad}, line 1: not valid TOML" in r.stderr


def test_export_writes_a_file_that_loads_identically(cli, tmp_path):
    out = tmp_path / "mine.toml"
    r = cli("framework", "export", "pdu-2023", str(out))
    assert r.exit_code == 0 and r.stdout == ""
    assert f"Wrote framework 'pdu-2023' to {out}." in r.stderr
    assert framework.load(out) == framework.load("pdu-2023")
    shown = cli("framework", "show", str(out), "-f", "json")
    assert shown.exit_code == 0 and _json(shown)["Framework pdu-2023"][0]["file"] == str(out)


def test_export_refuses_to_overwrite_without_force(cli, tmp_path):
    out = tmp_path / "mine.toml"
    out.write_text("keep me", encoding="utf-8")
    r = cli("framework", "export", "qi-2016", str(out))
    assert r.exit_code == 2 and "exists; give --force" in r.stderr
    assert out.read_text(encoding="utf-8") == "keep me"
    r = cli("framework", "export", "qi-2016", str(out), "--force")
    assert r.exit_code == 0
    assert framework.load(out) == framework.load("qi-2016")


def test_export_of_a_bad_framework_writes_nothing(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[framework]\nname = "x"\n', encoding="utf-8")
    out = tmp_path / "out.toml"
    r = cli("framework", "export", str(bad), str(out))
    assert r.exit_code == 1 and not out.exists()
    assert "problem(s) in the framework file" in r.stderr


def test_export_into_a_directory_is_a_usage_error(cli, tmp_path):
    r = cli("framework", "export", "qi-2016", str(tmp_path))
    assert r.exit_code == 2


def _examples(cli, *command: str) -> list[str]:
    text = cli(*command, "--help").stdout
    section = text.split("Example", 1)[1]
    section = re.split(r"\n\s*(?:Options|Arguments|Commands):", section, maxsplit=1)[0]
    return [line.strip() for line in section.splitlines() if line.strip().startswith("hmip ")]


@pytest.mark.parametrize("command", ["list", "show", "export"])
def test_help_examples_run(cli, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lines = _examples(cli, "framework", command)
    assert lines
    for line in lines:
        r = cli(*shlex.split(line)[1:])
        assert r.exit_code == 0, (line, r.stderr)


def test_group_help_examples_run(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lines = _examples(cli, "framework")
    assert len(lines) == 3
    for line in lines:
        assert cli(*shlex.split(line)[1:]).exit_code == 0, line
    assert (tmp_path / "my-framework.toml").exists()
