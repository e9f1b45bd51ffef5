"""Options are never silently ignored (issue 8, item 13): an option that does not apply in
some combination is a usage error (exit 2) naming it, and an empty selection is an error
rather than tables of nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "cases.csv"


@pytest.mark.parametrize(
    "where",
    [
        ["provider=,"],
        ["provider= , "],
        ["provider=NPS", "provider=CRC"],  # each value exists; together they select nobody
    ],
)
@pytest.mark.parametrize(
    "command",
    [
        ["sample"],
        ["rates", "--measure", "delivery"],
        ["protection"],
        ["regress", "--factor", "accommodation", "--measure", "delivery"],
    ],
)
def test_empty_selection_is_an_error(cli, example_store, command, where):
    args = [*command]
    for w in where:
        args += ["--where", w]
    r = cli(*args)
    assert r.exit_code == 2, (args, r.stdout[:300])
    assert r.stdout == ""
    assert "--where" in r.stderr or "no cases where" in r.stderr


IGNORED = [
    # (command, the option that would be ignored)
    (["rates", "--chart", "--format", "json"], "--format"),
    (["rates", "--chart", "--format", "csv"], "--format"),
    (["rates", "--chart", "-f", "markdown"], "--format"),
    (["schema", "--template", "{tmp}/t.csv", "--format", "json"], "--format"),
    (["schema", "--template", "{tmp}/t.csv", "--output", "{tmp}/o.txt"], "--output"),
    (["regress", "--factor", "accommodation", "--outcome", "x"], "--outcome"),
    (["regress", "--all", "--categorical", "provider"], "--categorical"),
    (["regress", "--question", "partner-info-review", "--max-levels", "10"], "--max-levels"),
    (
        [
            "regress",
            "--input",
            str(EXAMPLE),
            "--outcome",
            "accommodation_delivered",
            "--candidates",
            "provider",
            "--data",
            "{tmp}/store",
        ],
        "--data",
    ),
    (["ingest", str(EXAMPLE), "--sheet", "Cases"], "--sheet"),
]


@pytest.mark.parametrize("args, option", IGNORED, ids=lambda x: x if isinstance(x, str) else None)
def test_ignored_option_is_a_usage_error(cli, example_store, tmp_path, args, option):
    r = cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.exit_code == 2, (args, r.stdout[:300], r.stderr)
    assert f"{option} does not apply" in r.stderr
    assert r.stdout == ""
    assert not (tmp_path / "t.csv").exists()  # nothing was written


def test_ingest_encoding_without_a_text_file(cli, tmp_path):
    import polars as pl

    path = tmp_path / "cases.parquet"
    pl.read_csv(EXAMPLE, infer_schema=False).write_parquet(path)
    r = cli("ingest", path, "--encoding", "cp1252")
    assert r.exit_code == 2 and "--encoding does not apply" in r.stderr


def test_combinations_that_apply_still_work(cli, example_store, tmp_path):
    assert cli("rates", "--measure", "delivery", "--chart").exit_code == 0
    assert cli("rates", "--measure", "delivery", "--chart", "--format", "table").exit_code == 0
    assert cli("schema", "--template", tmp_path / "t.csv").exit_code == 0
    r = cli("rates", "--measure", "delivery", "--where", "provider=NPS,CRC", "--format", "csv")
    assert r.exit_code == 0 and r.stdout
