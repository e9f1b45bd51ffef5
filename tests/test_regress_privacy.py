"""`hmip regress --input` never prints a case id or a note, whatever option names them, and
refuses identifiers and candidates with too many levels before fitting (issue 8, items 2, 14)."""

from __future__ import annotations

import time

import polars as pl
import pytest
from typer.testing import CliRunner

from hmip_cli import synth
from hmip_cli.cli.app import app
from hmip_cli.errors import BadRequest
from hmip_cli.stepwise import stepwise

runner = CliRunner()
SECRET = "ZQX"  # every planted id and note contains it; nothing else in the data does
N = 300


def _frame(id_col: str = "case_id", notes_col: str = "notes") -> pl.DataFrame:
    cases = synth.generate(N, seed=11)
    ids = [f"ZQX-ID-{i:05d}" for i in range(N)]
    # Short notes, some repeated: not identifiers, but free text all the same.
    notes = [f"ZQX note {i % 120}" if i % 3 else "ZQX said no" for i in range(N)]
    return cases.with_columns(pl.Series(id_col, ids), pl.Series(notes_col, notes))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("privacy")
    schema_named = d / "cases.csv"
    synth.write_csv(_frame(), schema_named)
    renamed = d / "renamed.csv"  # a file whose id and notes columns have other names
    _frame().rename({"case_id": "ref_no", "notes": "remarks"}).write_csv(renamed)
    return {"case_id": (schema_named, "case_id", "notes"), "ref_no": (renamed, "ref_no", "remarks")}


def _options(ident: str, notes: str) -> list[list[str]]:
    y, ok = "accommodation_delivered", "provider"
    out: list[list[str]] = []
    for col in (ident, notes):
        out += [
            ["--outcome", col, "--candidates", ok],
            ["--outcome", y, "--candidates", col],
            ["--outcome", y, "--candidates", f"{ok},{col}", "--categorical", col],
            ["--outcome", y, "--candidates", ok, "--reference", f"{col}=x"],
            ["--outcome", y, "--candidates", f"{ok},{col}", "--reference", f"{col}=x"],
            ["--outcome", col, "--candidates", ok, "--event", "x"],
        ]
    out += [
        ["--outcome", ident, "--candidates", notes],
        # Raising the level limit does not let an identifier through.
        ["--outcome", y, "--candidates", ident, "--max-levels", "100000"],
        ["--outcome", y, "--candidates", ok, "--reference", "provider=ZQX-ID-00001"],
        ["--outcome", y, "--candidates", ok, "--event", "ZQX-ID-00001"],
        ["--outcome", y, "--candidates", "ZQX-ID-00001"],
        ["--outcome", "ZQX note 7", "--candidates", ok],
    ]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("which", ["case_id", "ref_no"])
def test_no_option_naming_ids_or_notes_prints_them(files, which):
    path, ident, notes = files[which]
    for i, opts in enumerate(_options(ident, notes)):
        fmt = ("table", "json")[i % 2]  # every message goes to stderr whatever the format
        r = runner.invoke(app, ["regress", "--input", str(path), *opts, "--format", fmt])
        assert r.exception is None or isinstance(r.exception, SystemExit), opts
        assert r.exit_code in (1, 2), (opts, r.stdout[:300])
        for stream in (r.stdout, r.stderr):
            assert SECRET not in stream, (opts, stream[:500])


def test_identifier_refused_with_a_message_saying_so(files):
    path, ident, notes = files["ref_no"]
    r = runner.invoke(
        app,
        [
            "regress",
            "--input",
            str(path),
            "--outcome",
            "accommodation_delivered",
            "--candidates",
            f"provider,{ident}",
        ],
    )
    assert r.exit_code == 2
    assert f"candidate '{ident}'" in r.stderr and "identifier" in r.stderr
    r = runner.invoke(
        app, ["regress", "--input", str(path), "--outcome", ident, "--candidates", "provider"]
    )
    assert r.exit_code == 1 and "identifier" in r.stderr
    # The schema's notes column is refused by name, whatever the level limit.
    path, ident, notes = files["case_id"]
    r = runner.invoke(
        app,
        [
            "regress",
            "--input",
            str(path),
            "--outcome",
            "accommodation_delivered",
            "--candidates",
            notes,
            "--max-levels",
            "100000",
        ],
    )
    assert r.exit_code == 2 and "free text" in r.stderr


def test_too_many_levels_refused_before_fitting():
    # 400 levels used to take 46 s to fit; the limit answers at once.
    rng = range(4000)
    frame = pl.DataFrame(
        {
            "y": [i % 2 == 0 for i in rng],
            "site": [f"s{(i * 7) % 400}" for i in rng],
            "g": [("a", "b")[i % 3 == 0] for i in rng],
        }
    )
    start = time.perf_counter()
    with pytest.raises(BadRequest, match=r"'site' has 400 levels.*limit of 50.*--max-levels"):
        stepwise(frame, "y", ["g", "site"])
    assert time.perf_counter() - start < 2
    # Raising the limit lets a modest candidate through.
    small = frame.with_columns(site=pl.col("site").str.slice(0, 2))  # s0..s9: 10 levels
    assert stepwise(small, "y", ["g", "site"], max_levels=10).n == 4000
    with pytest.raises(BadRequest, match="limit of 9"):
        stepwise(small, "y", ["g", "site"], max_levels=9)


def test_max_levels_option(tmp_path):
    path = tmp_path / "sites.csv"
    pl.DataFrame(
        {
            "y": [i % 2 for i in range(600)],
            "site": [f"s{(i * 7) % 60}" for i in range(600)],
        }
    ).write_csv(path)
    base = ["regress", "--input", str(path), "--outcome", "y", "--candidates", "site"]
    r = runner.invoke(app, base)
    assert r.exit_code == 2 and "60 levels" in r.stderr and "--max-levels" in r.stderr
    r = runner.invoke(app, [*base, "--max-levels", "60", "--format", "json"])
    assert r.exit_code == 0, r.stderr


def test_cli_default_is_the_library_limit():
    import inspect

    from hmip_cli.cli import regress_cmd  # noqa: F401 - the option's default is read from help
    from hmip_cli.stepwise.design import MAX_LEVELS

    r = runner.invoke(app, ["regress", "--help"], env={"COLUMNS": "200"})
    assert f"[default: {MAX_LEVELS};" in r.stdout
    assert "max_levels" in inspect.signature(stepwise).parameters
