"""`hmip sample / rates / protection` through the CLI: every format, stdout vs stderr,
CLI-vs-library parity, usage errors, --output, and a real `| head -1` pipe."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from test_json_support import rows
from test_rates_support import random_cases
from typer.testing import CliRunner

from hmip_cli import rates, store
from hmip_cli.cli.app import app
from hmip_cli.ingest import ingest_files

runner = CliRunner()
FORMATS = ["table", "csv", "tsv", "json", "markdown"]


@pytest.fixture(scope="module")
def _store_dir(tmp_path_factory) -> Path:
    cases = random_cases(800, seed=21, missing=0.05)
    path = tmp_path_factory.mktemp("rates-cli") / "cases.csv"
    cases.write_csv(path)
    data = path.parent / "store"
    ingest_files([path], data=data)
    return data


@pytest.fixture
def store_dir(_store_dir, monkeypatch) -> Path:
    """A real store (through the ingest library), built once for the module, as $HMIP_DATA."""
    monkeypatch.setenv("HMIP_DATA", str(_store_dir))
    return _store_dir


def invoke(*args):
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _parse(text: str, fmt: str) -> pl.DataFrame:
    if fmt == "json":
        return pl.DataFrame(rows(text), infer_schema_length=None)
    return pl.read_csv(
        io.StringIO(text), separator="," if fmt == "csv" else "\t", infer_schema_length=None
    )


def assert_same(parsed: pl.DataFrame, lib: pl.DataFrame):
    assert parsed.columns == lib.columns
    assert parsed.height == lib.height
    for c in lib.columns:
        got, want = parsed[c], lib[c]
        if want.dtype == pl.Float64:
            diff = (got.cast(pl.Float64) - want).abs().max()
            assert diff is None or diff < 1e-12, c
            assert got.is_null().to_list() == want.is_null().to_list(), c
        elif want.dtype == pl.String:
            # CSV cannot tell "" from null; JSON can
            assert got.cast(pl.String).fill_null("").to_list() == want.fill_null("").to_list(), c
        else:
            assert got.cast(want.dtype).to_list() == want.to_list(), c


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json"])
@pytest.mark.parametrize(
    "command,args,lib",
    [
        (
            "rates",
            ["--by", "provider", "--by", "ethnicity", "--suppress"],
            lambda c: rates.rates(c, by=["provider", "ethnicity"], suppress=True),
        ),
        (
            "rates",
            ["-m", "delivery", "--factor", "drugs", "--where", "gender=female"],
            lambda c: rates.rates(c, measures="delivery", factors="drugs", where=["gender=female"]),
        ),
        ("protection", [], lambda c: rates.protection(c)),
        (
            "protection",
            ["--by", "mappa", "--min-n", "50"],
            lambda c: rates.protection(c, by=["mappa"], min_n=50),
        ),
        ("sample", ["--by", "inspection"], lambda c: rates.sample_profile(c, by="inspection")),
    ],
)
def test_machine_formats_parse_back_to_the_library_numbers(store_dir, fmt, command, args, lib):
    result = invoke(command, *args, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert_same(_parse(result.stdout, fmt), lib(store.load_cases(store_dir)))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("command", ["sample", "rates", "protection"])
def test_every_format_writes_data_to_stdout_only(store_dir, fmt, command):
    result = invoke(command, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip()
    assert "\x1b[" not in result.stdout  # no colour codes (NO_COLOR, and never into a pipe)
    if fmt in ("table", "markdown"):
        assert "Percentages are rounded half up" in result.stdout


def test_table_shows_n_beside_every_percent_and_markers_survive_rich(store_dir):
    result = invoke("rates", "--by", "provider", "--min-n", "200", "--suppress")
    assert result.exit_code == 0
    out = result.stdout
    assert "Figure 1: Interventions available" in out and "Figure 4: Partners contributed" in out
    assert "CRC n" in out and "CRC % yes" in out and "NPS minus CRC (points)" in out
    assert "[c]" in out  # Rich markup would have eaten "[c]"
    assert "[c] suppressed" in out
    plain = invoke("rates", "--min-n", "100")
    assert "[u]" in plain.stdout and "95% CI" in plain.stdout


def test_one_table_per_measure_in_bulletin_order(store_dir):
    out = invoke("rates", "-m", "partner", "-m", "availability").stdout
    assert out.index("Figure 1:") < out.index("Figure 4:")
    assert "Figure 2:" not in out and "Figure 3:" not in out


def test_where_is_noted_under_the_table(store_dir):
    out = invoke(
        "rates", "-m", "delivery", "--where", "provider=nps", "--where", "gender=Female"
    ).stdout
    assert "Cases selected: provider = NPS and gender = Female." in out


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["rates", "--measure", "speed"],
            "unknown measure 'speed'; choose from: availability, delivery",
        ),
        (
            ["rates", "--factor", "gambling"],
            "unknown factor 'gambling'; choose from: accommodation",
        ),
        (["rates", "--by", "shoe"], "unknown breakdown 'shoe'; choose from: provider"),
        (["rates", "--where", "colour=red"], "unknown --where key 'colour'; choose from: provider"),
        (
            ["protection", "--where", "provider=XYZ"],
            "unknown value 'XYZ' for --where provider; choose from: CRC, NPS",
        ),
        (["sample", "--where", "provider"], "--where needs key=value"),
    ],
)
def test_usage_errors_exit_2_with_one_message_on_stderr(store_dir, args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_min_n_below_one_is_rejected_by_the_option(store_dir):
    result = invoke("rates", "--min-n", "0")
    assert result.exit_code == 2 and result.stdout == ""


def test_no_store_is_a_usage_error():
    result = invoke("rates")
    assert result.exit_code == 2
    assert "no store" in result.stderr and "hmip ingest" in result.stderr


def test_output_file(store_dir, tmp_path):
    target = tmp_path / "out" / "rates.csv"
    result = invoke("rates", "--format", "csv", "--output", str(target))
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
    assert_same(_parse(target.read_text(), "csv"), rates.rates(store.load_cases(store_dir)))


def test_help_documents_the_columns():
    out = invoke("rates", "--help").stdout
    for col in rates.RATE_COLUMNS:
        assert col in out, col
    out = invoke("protection", "--help").stdout
    for col in ("table", "who", "topic", "question_label", "percent_yes", "marker"):
        assert col in out
    out = invoke("sample", "--help").stdout
    for col in rates.SAMPLE_COLUMNS:
        assert col in out


def _hmip_cmd() -> list[str]:
    return [sys.executable, "-m", "hmip_cli"]


def test_piping_into_head_gives_no_traceback(store_dir):
    # Big enough (~300 kB) to overflow the pipe buffer, so the writer really meets a
    # closed pipe once the reader has gone.
    cmd = [
        *_hmip_cmd(),
        "rates",
        "--format",
        "csv",
        "--by",
        "inspection",
        "--by",
        "provider",
        "--by",
        "ethnicity",
        "--by",
        "ogrs_band",
    ]
    env = {**os.environ, "HMIP_DATA": str(store_dir)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=60)
    assert first.decode().startswith("figure,measure,measure_label,factor")
    assert "Traceback" not in err and "Error" not in err, err
    assert code == 0
    # and through a shell pipeline, as a user would type it
    shell = subprocess.run(
        " ".join(cmd) + " | head -1", shell=True, capture_output=True, env=env, timeout=60
    )
    assert shell.stdout.decode().count("\n") == 1
    assert shell.stderr.decode() == ""
