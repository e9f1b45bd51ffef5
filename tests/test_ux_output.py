"""UX of the human tables: readable headers, SPSS-style numbers, narrow terminals, one
warning per problem, and clear errors for outputs that cannot be written.

stdout and stderr are checked separately; ANSI codes are stripped before any assertion.
"""

from __future__ import annotations

import io
import re

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_json_support import models, tables
from typer.testing import CliRunner

from hmip_cli import schema, synth
from hmip_cli.cli import protection_cmd, rates_cmd, regress_cmd, sample_cmd
from hmip_cli.cli.app import app
from hmip_cli.render import Format, Table, p_text, to_text

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def clean(text: str) -> str:
    return ANSI.sub("", text)


def invoke(*args, **kwargs):
    result = runner.invoke(app, list(args), **kwargs)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture(scope="module")
def cases(synth_cases):
    # seed 1 has a model (finance/partner) with one problem note on two terms' rows
    return schema.with_derived(synth_cases(1066, 1))


@pytest.fixture
def store(monkeypatch, cases):
    monkeypatch.setattr(regress_cmd, "load_cases", lambda data: cases)
    for module in (rates_cmd, sample_cmd, protection_cmd):
        monkeypatch.setattr(module, "load_cases", lambda data: cases)
    return cases


@pytest.fixture(scope="module")
def _real_store_dir(tmp_path_factory):
    from hmip_cli.ingest import ingest_files

    root = tmp_path_factory.mktemp("ux-store")
    path = root / "cases.csv"
    path.write_text(synth.to_csv_text(synth.generate(300, 5)), encoding="utf-8")
    ingest_files([path], data=root / "store")
    return root / "store"


@pytest.fixture
def real_store(_real_store_dir, monkeypatch):
    """300 ingested cases as $HMIP_DATA, ingested once for the module (read-only)."""
    monkeypatch.setenv("HMIP_DATA", str(_real_store_dir))
    return _real_store_dir


# ---- hmip info: display labels for people, snake_case for machines -----------------------


def test_info_table_uses_display_labels_and_machine_formats_keep_snake_case(real_store):
    r = invoke("info")
    assert r.exit_code == 0, r.stderr
    out = clean(r.stdout)
    for label in (
        "Cases",
        "Inspections",
        "First inspection",
        "Last inspection",
        "Content hash",
        "Inspection",
        "Provider",
        "First date",
        "File",
        "Rows",
        "SHA-256",
        "hmip version",
    ):
        assert label in out, label
    for snake in (
        "n_cases",
        "first_inspection_date",
        "last_inspection_date",
        "n_inspections",
        "content_hash",
        "ingested_at",
        "hmip_version",
    ):
        assert snake not in out, snake
    csv = invoke("info", "--format", "csv").stdout.splitlines()[0].split(",")
    assert {"n_cases", "first_inspection_date", "content_hash", "ingested_at", "sha256"} <= set(csv)
    rows = tables(invoke("info", "--format", "json").stdout)
    assert rows["store"][0]["n_cases"] == 300


def test_info_store_summary_is_shown_as_label_value_lines(real_store):
    out = clean(invoke("info").stdout)
    assert re.search(r"^Cases +300$", out, flags=re.M), out
    assert re.search(r"^Content hash +[0-9a-f]{12}$", out, flags=re.M), out


# ---- numbers for people: SPSS-style in the table, full precision for machines ------------


def test_p_text_one_function_two_styles():
    # SPSS's Sig. column (regress's SPSS tables): no leading zero, never ".000"
    spss = [p_text(p, "spss") for p in (0.0001184, 8.537e-06, 0.0744, 0.001, 1.0)]
    assert spss == ["<.001", "<.001", ".074", ".001", "1.000"]
    # publication (the report, rates --test): ONS / Analysis Function style, a 0 before the point
    publication = [p_text(p) for p in (0.0001184, 0.0744, 0.001, 0.0499, 1.0)]
    assert publication == ["<0.001", "0.074", "0.001", "0.050", "1.000"]
    assert p_text(0.0423, "publication") == "0.042"
    with pytest.raises(ValueError, match="p style"):
        p_text(0.5, "apa")


def test_regress_table_has_three_decimals_and_sig_without_exponents(store):
    r = invoke("regress", "--factor", "accommodation", "--measure", "delivery")
    assert r.exit_code == 0, r.stderr
    out = clean(r.stdout)
    assert "e-0" not in out and "e+0" not in out
    eq = out.split("Step 1 (Provider entered): Variables in the Equation", 1)[1].split("\n\n", 1)[0]
    row = next(line for line in eq.splitlines() if "Provider (CRC)" in line)
    cells = re.findall(r"-?[\d.,<]+", row.split("Provider (CRC)", 1)[1])
    b, se, wald, df, sig, exp_b = cells[:6]
    for value in (b, se, wald, exp_b):
        assert re.fullmatch(r"-?\d+\.\d{3}", value), row
    assert df == "1" and re.fullmatch(r"<\.001|\.\d{3}|1\.000", sig), row
    for header in ("Variable", "Chi-square", "Step", "Observed", "Percentage Correct", "Frequency"):
        assert header in out, header
    for snake in ("chi_square", "percent_correct", "predicted_true", "minus_2ll"):
        assert snake not in out, snake


def test_regress_machine_formats_keep_full_precision(store):
    csv = invoke(
        "regress", "--factor", "accommodation", "--measure", "delivery", "--format", "csv"
    ).stdout
    assert "<.001" not in csv
    frame = pl.read_csv(io.StringIO(csv), infer_schema_length=None)
    assert frame.schema["p"] == pl.Float64 and frame.schema["b"] == pl.Float64
    assert frame["p"].drop_nulls().min() < 1e-3  # shown as <.001 to people, exact here
    assert any(len(str(v)) > 8 for v in frame["b"].drop_nulls())  # not rounded to 3 decimals


def test_regress_all_human_view_and_one_warning_per_model_and_problem(store):
    r = invoke("regress", "--all", "--fdr")  # the old spelling of --adjust bh
    assert r.exit_code == 0, r.stderr
    warnings = [line for line in clean(r.stderr).splitlines() if line.startswith("warning:")]
    assert warnings and len(warnings) == len(set(warnings)), warnings
    assert sum(w.startswith("warning: finance/contracted:") for w in warnings) == 1
    out = clean(r.stdout)
    for header in ("Model", "Variable", "Odds", "ratio", "95% CI", "Sig.", "(BH)"):
        assert header in out, header
    assert "n_dropped" not in out and "p_wald" not in out and "e-0" not in out
    frame = pl.read_csv(io.StringIO(invoke("regress", "--all", "--fdr", "--format", "csv").stdout))
    assert {
        "model",
        "n_dropped",
        "odds_ratio",
        "ci_low",
        "ci_high",
        "p",
        "p_wald",
        "p_adjusted",
        "note",
    } <= set(frame.columns)


# ---- narrow terminals: numbers are never cut, lines never run past the width ------------


@pytest.mark.parametrize("columns", [60, 80, 120])
@pytest.mark.parametrize(
    "args",
    [
        ["rates", "--measure", "delivery", "--by", "provider"],
        ["rates", "--measure", "availability", "--by", "ethnicity", "--suppress"],
        ["protection", "--by", "provider"],
        ["sample", "--by", "provider"],
        ["regress", "--factor", "accommodation", "--measure", "delivery"],
    ],
)
def test_narrow_terminals_keep_every_number_whole(store, monkeypatch, columns, args):
    monkeypatch.setenv("COLUMNS", str(columns))
    out = clean(invoke(*args).stdout)
    assert max(len(line) for line in out.splitlines()) <= columns
    monkeypatch.setenv("COLUMNS", "400")
    wide = clean(invoke(*args).stdout)
    # every number in the wide table appears whole in the narrow one
    numbers = set(
        re.findall(r"(?<![\w.])[-+<]?\d[\d,]*(?:\.\d+)?(?:\u2013\d[\d,]*\.\d+)?(?![\w.])", wide)
    )
    narrow_numbers = set(
        re.findall(r"(?<![\w.])[-+<]?\d[\d,]*(?:\.\d+)?(?:\u2013\d[\d,]*\.\d+)?(?![\w.])", out)
    )
    assert numbers <= narrow_numbers, sorted(numbers - narrow_numbers)[:10]


words = st.text(alphabet="abcdefghij ", min_size=0, max_size=30)


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(30, 140), n_rows=st.integers(1, 6), n_num=st.integers(1, 7), data=st.data()
)
def test_any_table_at_any_width_keeps_numbers_whole(width, n_rows, n_num, data):
    import os

    frame = {"label": [data.draw(words) for _ in range(n_rows)]}
    for j in range(n_num):
        frame[f"value_{j}"] = [data.draw(st.integers(-(10**7), 10**7)) for _ in range(n_rows)]
    frame["ratio"] = [data.draw(st.floats(-1e4, 1e4, allow_nan=False)) for _ in range(n_rows)]
    t = Table(
        pl.DataFrame(frame), title="T", display={"value_0": "A rather long header for a number"}
    )
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        text = to_text([t], Format.table)
    finally:
        os.environ["COLUMNS"] = old or "200"
    tokens = set(text.split())
    for row in t.frame.iter_rows(named=True):
        for k, v in row.items():
            if k.startswith("value_"):
                assert f"{v:,}" in tokens, (v, text)
            elif k == "ratio":
                shown = f"{v:,.3f}"
                assert shown.lstrip("-") in {x.lstrip("-") for x in tokens}, (v, text)


def test_titles_are_not_squeezed_to_the_table_width(store, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    out = clean(invoke("regress", "--factor", "accommodation", "--measure", "delivery").stdout)
    assert "accommodation/delivery: Case Processing Summary\n" in out
    assert not any(line != line.rstrip() for line in out.splitlines())  # no trailing spaces


# ---- outputs that cannot be written ----------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["rates"],
        ["info"],
        ["schema"],
        ["synth", "--cases", "5"],
        ["chart", "figure1"],
    ],
)
def test_output_under_a_file_is_one_clear_usage_error(real_store, tmp_path, args):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    target = blocker / "out.csv" if args[0] != "chart" else blocker / "out.svg"
    r = invoke(*args, "--output", str(target))
    assert r.exit_code == 2, (r.stdout, r.stderr)
    err = clean(r.stderr)
    assert "Traceback" not in err and err.count("Error") == 1, err
    assert "cannot write" in err and "is a file, not a folder" in err
    assert r.stdout == ""


def test_report_checks_the_output_before_computing(real_store, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    r = invoke("report", "--output", str(blocker / "r.html"))
    assert r.exit_code == 2
    assert "Computing" not in r.stderr and "cannot write" in r.stderr


def test_output_onto_a_directory_is_one_csv_per_table_else_a_usage_error(real_store, tmp_path):
    # A directory takes one CSV (or TSV) per table (`-o DIR/`, docs/output.md) ...
    folder = tmp_path / "out"
    folder.mkdir()
    r = invoke("rates", "--output", str(folder))
    assert r.exit_code == 0 and r.stdout == "", r.stderr
    assert [p.name for p in folder.iterdir()] == ["rates.csv"]
    # ... and nothing else: one JSON or Markdown file is not a folder of files.
    r = invoke("rates", "--output", str(folder), "--format", "json")
    assert r.exit_code == 2 and r.stdout == "" and "give a file name" in clean(r.stderr)
    assert "Traceback" not in r.stderr


# ---- regress --where: the same option as rates/sample/protection --------------------------


def test_regress_where_filters_notes_and_drops_the_fixed_candidate(store):
    r = invoke(
        "regress", "--factor", "accommodation", "--measure", "delivery", "--where", "provider=NPS"
    )
    assert r.exit_code == 0, r.stderr
    n_nps = int((store["provider"].cast(pl.String) == "NPS").sum())
    assert f"Cases selected: provider = NPS ({n_nps:,} cases)." in clean(r.stdout)
    assert "only one level" not in r.stderr  # provider is constant by construction: not a candidate
    got = models(
        invoke(
            "regress",
            "--factor",
            "accommodation",
            "--measure",
            "delivery",
            "--where",
            "provider=NPS",
            "--format",
            "json",
        ).stdout
    )
    assert got[0]["where"].startswith("Cases selected: provider = NPS")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--factor", "ete", "--where", "provider=XYZ"], "unknown value 'XYZ'"),
        (["--factor", "ete", "--where", "provider"], "key=value"),
        (
            ["--input", "x.csv", "--outcome", "y", "--candidates", "a", "--where", "provider=NPS"],
            "--where filters the store",
        ),
    ],
)
def test_regress_where_errors(store, args, message):
    r = invoke("regress", *args)
    assert r.exit_code == 2 and r.stdout == ""
    assert message in clean(r.stderr) and "Traceback" not in r.stderr


# ---- text bars fit the terminal ---------------------------------------------------------


@pytest.mark.parametrize("columns", [60, 80])
def test_rates_chart_bars_fit_the_terminal(store, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    out = invoke("rates", "--measure", "delivery", "--by", "provider", "--chart").stdout
    bar_lines = [line for line in out.splitlines() if "n=" in line and "[c]" not in line]
    assert bar_lines and max(len(line) for line in bar_lines) <= columns
    assert max(len(line) for line in out.splitlines()) <= 80


# ---- | head -1 for every data-producing command and format --------------------------------


@pytest.mark.slow
def test_head_one_is_quiet_for_every_command_and_format(real_store, tmp_path):
    import os
    import subprocess
    import sys

    hmip = f"{sys.executable} -m hmip_cli"
    commands = [
        "info",
        "schema",
        "sample --by provider",
        "rates --by provider",
        "protection",
        "regress --factor accommodation --measure delivery",
    ]
    formats = [
        "table",
        "csv",
        "tsv",
        "json",
        "markdown",
        "table",
    ]  # every format, spread over the commands
    lines = [f"{hmip} {c} --format {f} | head -1" for c, f in zip(commands, formats)]
    lines += [
        f"{hmip} rates --chart | head -1",
        f"{hmip} chart figure1 | head -1",
        f"{hmip} synth --cases 3000 | head -1",
        f"{hmip} demo --format csv | head -1",
    ]
    # one shell, one python start-up per command; each line reports its exit code and stderr
    script = (
        "\n".join(
            f'( {line} >/dev/null 2>{tmp_path}/err{i}; echo "{i} ${{PIPESTATUS[0]}}" ) &'
            for i, line in enumerate(lines)
        )
        + "\nwait"
    )
    env = {**os.environ, "HMIP_DATA": str(real_store), "COLUMNS": "80"}
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=600
    )
    for row in done.stdout.split("\n"):
        if not row.strip():
            continue
        i, code = row.split()
        err = (tmp_path / f"err{i}").read_text()
        assert code == "0" and "Traceback" not in err and "Error" not in err, (
            lines[int(i)],
            code,
            err,
        )
