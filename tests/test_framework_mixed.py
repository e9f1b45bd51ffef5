"""One store holding cases of several frameworks (issue 9 item 5): ingest of a second
framework where a crosswalk links it to the store's, per-file and per-case framework
records, `hmip trend` through the crosswalk, and the commands that analyse one framework
choosing it (`--framework NAME`, default the latest ingested, with a note).

The mixed store is qi-2016 cases (2016-17) then pdu-2023 cases (2023-24), both from
`hmip synth`; the same files ingested into stores of their own (`framework_store`) are
the reference: a framework's cases read back from the mixed store must equal them.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import polars as pl
import pytest
from test_framework_custom import CUSTOM
from test_json_support import rows as json_rows
from test_json_support import tables as json_tables

from hmip_cli import store

N = 240


@pytest.fixture(scope="module")
def parts(framework_store, tmp_path_factory):
    """{framework: (its own store, its CSV)}; the pdu-2023 CSV's case ids are made
    distinct from qi-2016's (both are SYN-000001 ... as synthesised)."""
    qi_data, qi_csv = framework_store("qi-2016", "2016-2017", N)
    pdu_data, pdu_csv = framework_store("pdu-2023", "2023-2024", N)
    renamed = tmp_path_factory.mktemp("pdu-ids") / "pdu.csv"
    frame = pl.read_csv(pdu_csv, infer_schema=False)
    frame.with_columns(pl.col("case_id").str.replace("SYN", "PDU")).write_csv(renamed)
    return {"qi-2016": (qi_data, qi_csv), "pdu-2023": (pdu_data, pdu_csv, renamed)}


@pytest.fixture(scope="module")
def mixed(parts, tmp_path_factory):
    from typer.testing import CliRunner

    from hmip_cli.cli.app import app

    data = tmp_path_factory.mktemp("mixed") / "store"
    shutil.copytree(parts["qi-2016"][0], data)
    r = CliRunner().invoke(
        app, ["ingest", str(parts["pdu-2023"][2]), "--framework", "pdu-2023", "--data", str(data)]
    )
    assert r.exit_code == 0, r.stderr
    assert "now holds cases of 2 frameworks (qi-2016, pdu-2023)" in r.stderr
    return data


def _csv(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def _same_cases(got: pl.DataFrame, want: pl.DataFrame) -> None:
    """Equal up to case ids (the pdu-2023 ids were renamed for the mixed store)."""
    cols = [c for c in want.columns if c != "case_id"]
    assert got.schema == want.schema
    assert got.select(cols).equals(want.select(cols))


def test_the_store_records_the_framework_per_file_and_per_case(mixed, parts):
    meta = store.read_meta(mixed)
    assert meta is not None and meta["format"] == 2 == store.STORE_FORMAT
    assert [r["name"] for r in meta["frameworks"]] == ["qi-2016", "pdu-2023"]
    assert meta["framework"]["name"] == "pdu-2023"  # the latest ingested: the default
    assert [f["framework"] for f in meta["files"]] == ["qi-2016", "pdu-2023"]
    raw = pl.read_parquet(store.cases_path(mixed))
    per_case = raw.group_by(store.FRAMEWORK_COLUMN, maintain_order=True).len()
    assert per_case.rows() == [("qi-2016", N), ("pdu-2023", N)]  # in ingest order
    # Each framework's cases read back exactly as its own store holds them.
    segs = {fw.name: f for fw, f in store.read_segments(mixed)}
    for name in ("qi-2016", "pdu-2023"):
        own = store.read_stored(parts[name][0])
        assert own is not None
        _same_cases(segs[name], own[0])
        _same_cases(store.read_stored(mixed, framework=name)[0], own[0])
    # `hmip trend` scans them lazily: the same cases, in the same schema, without ids/notes
    lean = store.read_segments(mixed, identifying=False)
    scanned = store.scan_segments(mixed)
    assert [fw.name for fw, _ in scanned] == [fw.name for fw, _ in lean] == list(segs)
    for (_, lazy), (_, frame) in zip(scanned, lean):
        assert isinstance(lazy, pl.LazyFrame) and lazy.collect().equals(frame)
        assert "notes" not in frame.columns


def test_info_counts_per_inspection_and_framework(mixed, parts, cli):
    r = cli("info", "--data", mixed, "-f", "json")
    assert r.exit_code == 0, r.stderr
    t = json_tables(r.stdout)
    (summary,) = t["store"]
    assert summary["n_cases"] == 2 * N
    assert (summary["framework"], summary["frameworks"]) == ("pdu-2023", "qi-2016, pdu-2023")
    got = {(x["framework"], x["inspection"]): x["n_cases"] for x in t["counts"]}
    want = {}
    for name, csv in (("qi-2016", parts["qi-2016"][1]), ("pdu-2023", parts["pdu-2023"][2])):
        for insp, n in _csv(csv).group_by("inspection").len().iter_rows():
            want[(name, insp)] = n
    assert got == want
    assert [f["framework"] for f in t["files"]] == ["qi-2016", "pdu-2023"]
    human = cli("info", "--data", mixed).stdout
    assert "Frameworks held" in human and "Cases per inspection and framework" in human


def test_one_framework_commands_default_to_the_latest_and_say_so(mixed, parts, cli):
    for name, args in (("pdu-2023", []), ("qi-2016", ["--framework", "qi-2016"])):
        r = cli("rates", "--data", mixed, "-f", "json", *args)
        assert r.exit_code == 0, r.stderr
        own = cli("rates", "--data", parts[name][0], "-f", "json")
        assert json_rows(r.stdout) == json_rows(own.stdout)
        noted = "these results are for pdu-2023, the latest ingested" in r.stderr
        assert noted == (not args)  # the note when the default was taken, only then
    r = cli("protection", "--data", mixed, "--framework", "qi-2016", "-f", "csv")
    assert (
        r.exit_code == 0
        and r.stdout == cli("protection", "--data", parts["qi-2016"][0], "-f", "csv").stdout
    )
    r = cli("rates", "--data", mixed, "--framework", "youth-2025")
    assert r.exit_code == 2
    assert "holds no cases of the framework 'youth-2025'; it holds: qi-2016, pdu-2023" in (r.stderr)
    r = cli("export", "--data", mixed, "--framework", "qi-2016", "-f", "csv")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == N + 1


def test_trend_runs_through_the_crosswalk(mixed, parts, cli):
    r = cli("trend", "--data", mixed, "-f", "json")
    assert r.exit_code == 0, r.stderr
    rows = json_rows(r.stdout)
    assert {x["series"] for x in rows} == {"implementation/safety"}
    got = {(x["framework"], x["period"]): (x["n"], x["n_yes"], x["break_in_series"]) for x in rows}
    want = {}
    for name, csv, column in (
        ("qi-2016", parts["qi-2016"][1], "partner_harm_focus"),
        ("pdu-2023", parts["pdu-2023"][2], "implementation_safety"),
    ):
        direct = (
            _csv(csv)
            .group_by(pl.col("inspection_date").str.slice(0, 4).alias("p"))
            .agg(n=pl.col(column).is_not_null().sum(), y=(pl.col(column) == "yes").sum())
        )
        for p, n, y in direct.iter_rows():
            want[(name, p)] = (n, y, (name, p) == ("pdu-2023", "2023"))
    assert got == want
    human = cli("trend", "--data", mixed).stdout
    assert "[b] break in series" in human
    assert "Not trended: 43 qi-2016 judgement(s)" in human
    assert "Not trended: 7 pdu-2023 judgement(s)" in human


def test_a_framework_no_crosswalk_links_is_refused(parts, cli, custom_files):
    data = custom_files["root"] / "refused"
    shutil.copytree(parts["qi-2016"][0], data)
    before = store.cases_path(data).read_bytes()
    r = cli(
        "ingest",
        custom_files["cases"],
        "--framework",
        custom_files["framework"],
        "--data",
        data,
    )
    assert r.exit_code == 2
    assert (
        "holds cases of the framework 'qi-2016'; --framework gives 'youth-2025', and no "
        "crosswalk links it to qi-2016" in r.stderr
    )
    assert "--crosswalk FILE" in r.stderr and "Traceback" not in r.stderr
    assert store.cases_path(data).read_bytes() == before


CROSSWALK = textwrap.dedent(
    """
    [crosswalk]
    format = 1
    name = "qi-2016--youth-2025"
    title = "Test crosswalk"
    from = "qi-2016"
    to = "{framework}"

    [[link]]
    from = "partner-harm-focus"
    to = "voice-heard"
    match = "approximate"
    note = "A test link."
    """
)


@pytest.fixture(scope="module")
def custom_files(tmp_path_factory, cli):
    """The custom framework's file and synthetic cases (ids distinct from qi-2016's)."""
    root = tmp_path_factory.mktemp("mixed-custom")
    fw_file = root / "youth.toml"
    fw_file.write_text(CUSTOM, encoding="utf-8")
    cases = root / "youth.csv"
    r = cli(
        "synth", "--framework", fw_file, "-n", "120", "-s", "3", "--id-prefix", "YOT", "-o", cases
    )
    assert r.exit_code == 0, r.stderr
    return {"root": root, "framework": fw_file, "cases": cases}


def test_a_given_crosswalk_is_recorded_and_trend_uses_it(parts, cli, custom_files):
    root = custom_files["root"]
    data = root / "linked"
    shutil.copytree(parts["qi-2016"][0], data)
    cw_file = root / "qi-youth.crosswalk.toml"
    fw_copy = root / "youth-copy.toml"  # files that will be gone when trend runs
    shutil.copy(custom_files["framework"], fw_copy)
    cw_file.write_text(CROSSWALK.format(framework=fw_copy), encoding="utf-8")
    r = cli(
        "ingest",
        custom_files["cases"],
        "--framework",
        fw_copy,
        "--crosswalk",
        cw_file,
        "--data",
        data,
    )
    assert r.exit_code == 0, r.stderr
    (rec,) = store.read_meta(data)["crosswalks"]
    assert (rec["name"], rec["from"], rec["to"]) == ("qi-2016--youth-2025", "qi-2016", "youth-2025")
    cw_file.unlink()
    fw_copy.unlink()
    r = cli("trend", "--data", data, "-f", "json")
    assert r.exit_code == 0, r.stderr
    rows = json_rows(r.stdout)
    assert {x["series"] for x in rows} == {"voice-heard"}
    # the custom framework has no dates: by inspection; qi-2016's partner question counted
    qi = _csv(parts["qi-2016"][1])
    qi_n = qi.get_column("partner_harm_focus").is_not_null().sum()
    assert sum(x["n"] for x in rows if x["framework"] == "qi-2016") == qi_n
    youth = _csv(custom_files["cases"]).get_column("voice_heard")
    assert sum(x["n"] for x in rows if x["framework"] == "youth-2025") == youth.is_not_null().sum()
    assert sum(x["n_yes"] for x in rows if x["framework"] == "youth-2025") == (youth == "yes").sum()


def test_removing_a_framework_s_last_file_leaves_a_store_of_one(mixed, parts, cli, tmp_path):
    data = tmp_path / "store"
    shutil.copytree(mixed, data)
    r = cli("remove", "--source", "pdu.csv", "--data", data)
    assert r.exit_code == 0, r.stderr
    meta = store.read_meta(data)
    assert meta["format"] == 1 and "frameworks" not in meta
    assert meta["framework"]["name"] == "qi-2016"
    own = store.store_info(parts["qi-2016"][0])
    assert store.store_info(data).content_hash == own.content_hash
    assert (
        pl.read_parquet(store.cases_path(data)).schema == store.load_framework(data).stored_schema()
    )
