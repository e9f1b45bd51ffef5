"""Case identifiers and free text never reach the terminal: not in tables, not in errors.

Case data concerns real people. Error messages locate a problem by file, row and column,
which is enough to find the cell, so they never quote a case id or a note.
"""

from __future__ import annotations

import polars as pl
from typer.testing import CliRunner

from hmip_cli import synth
from hmip_cli.cli.app import app

runner = CliRunner()
SECRET_ID = "ZQX-SECRET-ID"
SECRET_NOTE = "ZQX secret note about a person"


def _cases(n: int = 300) -> pl.DataFrame:
    cases = synth.generate(n, seed=11)
    ids = [f"{SECRET_ID}-{i:05d}" for i in range(n)]
    return cases.with_columns(case_id=pl.Series(ids), notes=pl.lit(SECRET_NOTE))


def _write(frame: pl.DataFrame, path):
    synth.write_csv(frame, path)
    return path


def _assert_clean(result) -> None:
    for stream in (result.stdout, result.stderr):
        assert SECRET_ID not in stream
        assert "ZQX secret" not in stream


def test_duplicate_ids_are_located_not_quoted(tmp_path):
    cases = _cases()
    dup = pl.concat([cases, cases.head(3)])
    data = tmp_path / "store"
    within = runner.invoke(
        app, ["ingest", str(_write(dup, tmp_path / "dup.csv")), "--data", str(data)]
    )
    assert within.exit_code == 1
    assert "row 302" in within.stderr and "duplicate case id" in within.stderr
    _assert_clean(within)

    ok = runner.invoke(app, ["ingest", str(_write(cases, tmp_path / "a.csv")), "--data", str(data)])
    assert ok.exit_code == 0, ok.stderr
    _assert_clean(ok)
    again = runner.invoke(
        app, ["ingest", str(_write(cases.head(5), tmp_path / "b.csv")), "--data", str(data)]
    )
    assert again.exit_code == 1 and "already in the store" in again.stderr
    _assert_clean(again)


def test_bad_values_in_a_row_do_not_echo_its_id_or_notes(tmp_path):
    text = _cases(20).with_columns(pl.all().cast(pl.String))
    text = text.with_columns(
        age=pl.when(pl.int_range(pl.len()) == 4)
        .then(pl.lit("two hundred"))
        .otherwise(pl.col("age"))
    )
    path = tmp_path / "bad.csv"
    text.write_csv(path)
    result = runner.invoke(app, ["ingest", str(path), "--data", str(tmp_path / "store")])
    assert result.exit_code == 1
    assert "row 6" in result.stderr and "'age'" in result.stderr
    _assert_clean(result)


def test_no_command_prints_ids_or_notes(tmp_path):
    data = tmp_path / "store"
    assert (
        runner.invoke(
            app, ["ingest", str(_write(_cases(), tmp_path / "c.csv")), "--data", str(data)]
        ).exit_code
        == 0
    )
    for args in (
        ["info"],
        ["info", "-f", "json"],
        ["schema"],
        ["sample"],
        ["rates", "-f", "csv"],
        ["rates", "--by", "inspection"],
        ["protection", "-f", "json"],
        ["regress", "--factor", "thinking", "--measure", "delivery", "-f", "json"],
        ["regress", "--all", "-f", "csv"],
    ):
        result = runner.invoke(app, [*args, "--data", str(data)] if args[0] != "schema" else args)
        assert result.exit_code == 0, (args, result.stderr)
        _assert_clean(result)
