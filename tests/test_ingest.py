"""hmip ingest: every class of bad input gives a located message, the right exit code, and
leaves an existing store byte-for-byte unchanged; good input in any format gives the same
store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pyreadstat
import pytest
import xlsxwriter
from test_ingest_support import as_text, digest, make_cases, write_csv
from typer.testing import CliRunner

from hmip_cli import schema, store
from hmip_cli.cli.app import app
from hmip_cli.errors import BadRequest, ValidationFailed
from hmip_cli.ingest import ingest_files

runner = CliRunner()


def ingest(*args: str, input: bytes | None = None):
    return runner.invoke(app, ["ingest", *args], input=input)


@pytest.fixture
def data(tmp_path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def existing(tmp_path, data) -> str:
    """A store holding 20 cases; returns its digest (every byte of every file)."""
    src = write_csv(make_cases(20, seed=99, prefix="OLD"), tmp_path / "old.csv")
    result = ingest(str(src), "--data", str(data))
    assert result.exit_code == 0, result.stderr
    return digest(data)


def csv_file(tmp_path: Path, name: str, frame: pl.DataFrame | None = None, edit=None) -> Path:
    """A CSV of 6 valid cases, optionally edited as text: edit(frame_of_strings) -> frame."""
    text = as_text(frame if frame is not None else make_cases(6, seed=1))
    if edit is not None:
        text = edit(text)
    path = tmp_path / name
    text.write_csv(path)
    return path


def set_cell(row: int, column: str, value: str | None):
    """An edit setting spreadsheet row `row` (header = 1) of `column`."""

    def edit(frame: pl.DataFrame) -> pl.DataFrame:
        idx = pl.int_range(pl.len()) == row - 2
        return frame.with_columns(
            pl.when(idx).then(pl.lit(value, pl.String)).otherwise(pl.col(column)).alias(column)
        )

    return edit


def assert_rejected(result, data: Path, before: str | None, *needles: str, code: int = 1):
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert result.stdout == ""
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    assert "Traceback" not in result.stderr
    if before is not None:
        assert digest(data) == before
    else:
        assert not (data / store.CASES_FILE).exists()


# ----------------------------------------------------------------------------- good input


def test_ingest_csv_then_load_cases_round_trips(tmp_path, data):
    cases = make_cases(40, seed=3)
    result = ingest(str(write_csv(cases, tmp_path / "a.csv")), "--data", str(data))
    assert result.exception is None
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "Ingested 40 cases from a.csv" in result.stderr
    loaded = store.load_cases(data)
    assert loaded.select(list(schema.stored_schema())).equals(cases)
    assert {c.name for c in schema.DERIVED} <= set(loaded.columns)


def test_files_accumulate_and_provenance_is_recorded(tmp_path, data):
    a = write_csv(make_cases(5, seed=1), tmp_path / "a.csv")
    b = write_csv(make_cases(7, seed=2), tmp_path / "b.csv")
    assert ingest(str(a), "--data", str(data)).exit_code == 0
    assert ingest(str(b), "--data", str(data)).exit_code == 0
    info = store.store_info(data)
    assert info.n_cases == 12
    assert [f["source"] for f in info.files] == ["a.csv", "b.csv"]
    f = info.files[0]
    assert f["rows"] == 5 and len(f["sha256"]) == 64 and f["ingested_at"].endswith("Z")
    assert f["hmip_version"] and f["mapping"] is None
    assert len(info.content_hash) == 64
    # Order of ingestion is kept.
    ids = store.load_cases(data)["case_id"].to_list()
    assert ids[:5] == make_cases(5, seed=1)["case_id"].to_list()


def test_all_formats_give_identical_stores(tmp_path):
    cases = make_cases(25, seed=5)
    text = as_text(cases)
    # CSV
    csv = tmp_path / "cases.csv"
    text.write_csv(csv)
    # XLSX, written the way a person would: numbers as numbers, dates as dates.
    xlsx = tmp_path / "cases.xlsx"
    wb = xlsxwriter.Workbook(str(xlsx))
    ws = wb.add_worksheet("Cases")
    datefmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write_row(0, 0, text.columns)
    for r, row in enumerate(cases.iter_rows(named=True), start=1):
        for c, (name, value) in enumerate(row.items()):
            if isinstance(value, bool):
                ws.write_string(r, c, "Yes" if value else "No")
            elif isinstance(value, dt.date):
                ws.write_datetime(r, c, dt.datetime(value.year, value.month, value.day), datefmt)
            elif value is not None:
                ws.write(r, c, value)
    wb.close()
    # SPSS: numbers as floats, yes/no as 1/0 with value labels, categories labelled.
    sav = tmp_path / "cases.sav"
    spss = cases.with_columns(
        [
            pl.col(c).cast(pl.Float64)
            for c, t in cases.schema.items()
            if t == pl.Boolean or t.is_integer()
        ]
    ).with_columns(
        pl.col(c).cast(pl.String) for c, t in cases.schema.items() if isinstance(t, pl.Enum)
    )
    labels = {c: {1.0: "Yes", 0.0: "No"} for c, t in cases.schema.items() if t == pl.Boolean}
    pyreadstat.write_sav(spss, str(sav), variable_value_labels=labels)
    # Parquet (typed)
    parquet = tmp_path / "cases.parquet"
    cases.write_parquet(parquet)
    # A mapped export: their headers, their codes.
    mapped = tmp_path / "export.csv"
    theirs = text.rename({"case_id": "Case ref", "accommodation_priority": "Accom priority"})
    yes_no = [c.name for c in schema.COLUMNS if c.dtype == pl.Boolean]
    theirs = theirs.with_columns(
        *[
            pl.col(c if c in theirs.columns else "Accom priority").replace({"yes": "Y", "no": "N"})
            for c in yes_no
        ],
        pl.col("provider").replace({"CRC": "Community Rehabilitation Company"}),
    )
    theirs.write_csv(mapped)
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        '[columns]\n"Case ref" = "case_id"\n"Accom priority" = "accommodation_priority"\n'
        '[values]\n"*" = { "Y" = "yes", "N" = "no", "N/A" = "" }\n'
        'provider = { "Community Rehabilitation Company" = "CRC" }\n'
    )

    hashes, frames = {}, {}
    for name, path, extra in [
        ("csv", csv, []),
        ("xlsx", xlsx, ["--sheet", "Cases"]),
        ("sav", sav, []),
        ("parquet", parquet, []),
        ("mapped", mapped, ["--mapping", str(mapping)]),
    ]:
        d = tmp_path / f"store_{name}"
        result = ingest(str(path), "--data", str(d), *extra)
        assert result.exit_code == 0, (name, result.stderr)
        hashes[name] = store.store_info(d).content_hash
        frames[name] = store.load_cases(d)
    assert len(set(hashes.values())) == 1, hashes
    for name, frame in frames.items():
        assert frame.equals(frames["csv"]), name
    assert frames["csv"].select(list(schema.stored_schema())).equals(cases)


def test_stdin_dash_reads_csv(tmp_path, data):
    body = (write_csv(make_cases(4, seed=8), tmp_path / "x.csv")).read_bytes()
    result = ingest("-", "--data", str(data), input=body)
    assert result.exit_code == 0, result.stderr
    assert store.store_info(data).files[0]["source"] == "<stdin>"
    assert store.store_info(data).n_cases == 4


def test_ingesting_the_same_file_twice_is_detected(tmp_path, data, existing):
    again = ingest(str(tmp_path / "old.csv"), "--data", str(data))
    assert_rejected(again, data, existing, "old.csv", "already ingested", "--replace")


def test_same_file_twice_in_one_call_is_detected(tmp_path, data):
    a = write_csv(make_cases(4, seed=1), tmp_path / "a.csv")
    result = ingest(str(a), str(a), "--data", str(data))
    assert_rejected(result, data, None, "already ingested")


def test_replace_starts_afresh(tmp_path, data, existing):
    new = write_csv(make_cases(3, seed=4), tmp_path / "new.csv")
    result = ingest(str(new), "--data", str(data), "--replace")
    assert result.exit_code == 0, result.stderr
    info = store.store_info(data)
    assert info.n_cases == 3 and [f["source"] for f in info.files] == ["new.csv"]
    # And the old file can come back after a --replace.
    assert ingest(str(tmp_path / "old.csv"), "--data", str(data)).exit_code == 0


def test_spellings_labels_and_uk_dates_are_understood(tmp_path, data):
    def edit(t: pl.DataFrame) -> pl.DataFrame:
        return t.with_columns(
            supervision=pl.Series(
                [
                    "post custody",
                    "Post-custody",
                    "COMMUNITY",
                    "community sentence",
                    "post_custody",
                    " Community Sentence ",
                ]
            ),
            rosh=pl.Series(["Very high", "very_high", "LOW", "Medium", "high", None]),
            mappa=pl.Series(["Y", "n", "TRUE", "0", "N/A", "not applicable"]),
            inspection_date=pl.Series(
                ["15/08/2016", "2016-08-15", "1/9/2016", "2016-8-15", "2016-08-15 00:00:00", None]
            ),
            age=pl.Series(["34", "34.0", " 40 ", "16", "100", None]),
        )

    result = ingest(str(csv_file(tmp_path, "a.csv", edit=edit)), "--data", str(data))
    assert result.exit_code == 0, result.stderr
    got = store.load_cases(data)
    assert got["supervision"].to_list() == [
        "post_custody",
        "post_custody",
        "community",
        "community",
        "post_custody",
        "community",
    ]
    assert got["rosh"].to_list() == ["very_high", "very_high", "low", "medium", "high", None]
    assert got["mappa"].to_list() == [True, False, True, False, None, None]
    d = dt.date(2016, 8, 15)
    assert got["inspection_date"].to_list() == [d, d, dt.date(2016, 9, 1), d, d, None]
    assert got["age"].to_list() == [34, 34, 40, 16, 100, None]


def test_inspection_option_fills_a_missing_column(tmp_path, data):
    path = csv_file(tmp_path, "a.csv", edit=lambda t: t.drop("inspection"))
    result = ingest(str(path), "--data", str(data), "--inspection", "Durham")
    assert result.exit_code == 0, result.stderr
    assert store.store_info(data).inspections == ("Durham",)


def test_warnings_are_written_and_strict_makes_them_errors(tmp_path, data):
    cases = make_cases(6, seed=1)
    row, f = next(
        (r, f) for r in range(6) for f in schema.FACTORS if cases[schema.priority_column(f)][r]
    )
    jcol = schema.judgement_column(f, "delivery")
    path = csv_file(tmp_path, "w.csv", cases, edit=set_cell(row + 2, jcol, None))
    strict = ingest(str(path), "--data", str(data), "--strict")
    assert_rejected(strict, data, None, f"w.csv, row {row + 2}", jcol, "not recorded")
    ok = ingest(str(path), "--data", str(data))
    assert ok.exit_code == 0
    assert "warning: " in ok.stderr and f"row {row + 2}" in ok.stderr and jcol in ok.stderr
    assert store.store_info(data).n_cases == 6


def test_library_api(tmp_path, data):
    path = write_csv(make_cases(5, seed=1), tmp_path / "a.csv")
    with pytest.raises(BadRequest, match="no store at .*hmip ingest FILE"):
        store.load_cases(data)
    steps = []
    result = ingest_files(
        [path], data=data, progress=lambda what, done, total: steps.append((done, total))
    )
    assert result.cases_added == 5 and result.n_cases == 5 and result.store == data
    assert steps[-1][0] == steps[-1][1]
    assert result.to_dict()["files"][0]["source"] == "a.csv"
    info = store.store_info(data)
    assert info.to_dict()["n_cases"] == 5
    with pytest.raises(ValidationFailed) as err:
        ingest_files([path], data=data)
    assert err.value.problems[0].file == str(path)


# ------------------------------------------------------------------------------ bad input
# Each: the message names the file, the row and the column; exit code; store unchanged.

BAD_CELLS = [
    ("age", "thirty", "a whole number"),
    ("age", "34.5", "a whole number"),
    ("age", "12", "impossible value"),
    ("ogrs_score", "150", "impossible value"),
    ("provider", "Probation Trust", "one of CRC, NPS"),
    ("mappa", "maybe", "yes or no"),
    ("inspection_date", "31/02/2016", "a date"),
    ("inspection_date", "next week", "a date"),
    ("accommodation_priority", "", "required"),
    ("case_id", "", "required"),
]


@pytest.mark.parametrize(("column", "value", "expected"), BAD_CELLS)
def test_bad_cell_is_located(tmp_path, data, existing, column, value, expected):
    path = csv_file(tmp_path, "bad.csv", edit=set_cell(4, column, value))
    result = ingest(str(path), "--data", str(data))
    assert_rejected(
        result,
        data,
        existing,
        "bad.csv, row 4",
        f"column '{column}'",
        expected,
        "nothing was written",
    )


def test_every_problem_is_reported_at_once(tmp_path, data, existing):
    def edit(t):
        t = set_cell(2, "age", "old")(t)
        t = set_cell(5, "provider", "XYZ")(t)
        return set_cell(7, "mappa", "perhaps")(t)

    result = ingest(str(csv_file(tmp_path, "bad.csv", edit=edit)), "--data", str(data))
    assert_rejected(
        result,
        data,
        existing,
        "row 2, column 'age'",
        "row 5, column 'provider'",
        "row 7, column 'mappa'",
        "3 problem(s)",
    )


def test_an_impossible_number_is_reported_beside_an_unreadable_one(tmp_path, data, existing):
    # One unreadable age once hid every impossible age of its batch (here: the file).
    def edit(t):
        return set_cell(6, "age", "150")(set_cell(2, "age", "thirty")(t))

    result = ingest(str(csv_file(tmp_path, "bad.csv", edit=edit)), "--data", str(data))
    assert_rejected(
        result,
        data,
        existing,
        "row 2, column 'age'",
        "row 6, column 'age'",
        "impossible value",
        "2 problem(s)",
    )


def test_judgement_where_not_a_priority_is_an_error(tmp_path, data, existing):
    cases = make_cases(6, seed=1)
    f = next(f for f in schema.FACTORS if not cases[schema.priority_column(f)][1])
    jcol = schema.judgement_column(f, "availability")
    result = ingest(
        str(csv_file(tmp_path, "bad.csv", cases, edit=set_cell(3, jcol, "yes"))),
        "--data",
        str(data),
    )
    assert_rejected(result, data, existing, "bad.csv, row 3", f"column '{jcol}'", "not a priority")


def test_too_many_priorities(tmp_path, data, existing):
    def edit(t):
        return t.with_columns(
            [
                pl.when(pl.int_range(pl.len()) == 0)
                .then(pl.lit("yes"))
                .otherwise(pl.col(schema.priority_column(f)))
                .alias(schema.priority_column(f))
                for f in schema.FACTORS
            ]
        ).with_columns(
            [
                pl.when(pl.int_range(pl.len()) == 0)
                .then(None)
                .otherwise(pl.col(schema.judgement_column(f, m)))
                .alias(schema.judgement_column(f, m))
                for f in schema.FACTORS
                for m in schema.MEASURES
            ]
        )

    result = ingest(str(csv_file(tmp_path, "bad.csv", edit=edit)), "--data", str(data))
    assert_rejected(result, data, existing, "bad.csv, row 2", "more than 5")


def test_ogrs_disagreement_is_a_warning(tmp_path, data):
    def edit(t):
        return t.with_columns(ogrs_score=pl.lit("95"), ogrs_band=pl.lit("low"))

    path = csv_file(tmp_path, "o.csv", edit=edit)
    result = ingest(str(path), "--data", str(data), "--strict")
    assert_rejected(result, data, None, "o.csv, row 2", "ogrs_band", "disagree")


def test_duplicate_case_ids_within_file_across_files_and_store(tmp_path, data, existing):
    within = csv_file(tmp_path, "dup.csv", edit=set_cell(5, "case_id", "C1-00000"))
    result = ingest(str(within), "--data", str(data))
    assert_rejected(
        result,
        data,
        existing,
        "dup.csv, row 5, column 'case_id'",
        "duplicate case id",
        "first at row 2",
    )
    a = csv_file(tmp_path, "a.csv")
    b = csv_file(tmp_path, "b.csv", make_cases(3, seed=1).with_columns(inspection=pl.lit("Other")))
    result = ingest(str(a), str(b), "--data", str(data))
    assert_rejected(
        result, data, existing, "b.csv, row 2, column 'case_id'", "also in", "a.csv, row 2"
    )
    clash = csv_file(
        tmp_path,
        "clash.csv",
        make_cases(3, seed=99, prefix="OLD").with_columns(inspection=pl.lit("Elsewhere")),
    )
    result = ingest(str(clash), "--data", str(data))
    assert_rejected(
        result, data, existing, "clash.csv, row 2, column 'case_id'", "already in the store"
    )


def test_unknown_and_missing_columns(tmp_path, data, existing):
    path = csv_file(
        tmp_path, "cols.csv", edit=lambda t: t.rename({"age": "Age at start"}).drop("provider")
    )
    result = ingest(str(path), "--data", str(data))
    assert_rejected(
        result,
        data,
        existing,
        "cols.csv, column 'Age at start'",
        "unknown column",
        "cols.csv, column 'provider'",
        "required column is missing",
    )


def test_notes_are_never_echoed_and_case_ids_not_in_bulk(tmp_path, data):
    cases = make_cases(6, seed=1).with_columns(notes=pl.lit("SECRET-NOTE"))
    path = csv_file(tmp_path, "n.csv", cases, edit=set_cell(3, "age", "x"))
    result = ingest(str(path), "--data", str(data))
    assert result.exit_code == 1
    assert "SECRET-NOTE" not in result.stderr
    for cid in cases["case_id"]:
        assert cid not in result.stderr


def test_not_utf8_names_the_encoding_option(tmp_path, data, existing):
    path = csv_file(tmp_path, "win.csv", edit=set_cell(3, "inspection", "Café"))
    raw = path.read_bytes().decode("utf-8").encode("cp1252")
    path.write_bytes(raw)
    result = ingest(str(path), "--data", str(data))
    assert_rejected(result, data, existing, "win.csv, row 3", "not UTF-8", "--encoding cp1252")
    fixed = ingest(str(path), "--data", str(data), "--encoding", "cp1252")
    assert fixed.exit_code == 0, fixed.stderr
    assert "Café" in store.store_info(data).inspections


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (b"", ["empty"]),
        (b"   \n\n", ["empty"]),
        (b"case_id,inspection,provider\n", ["no cases", "header"]),
        (b"\x00\x01\x02\xff\xfe binary \x00 junk" * 50, ["binary"]),
        (b"PK\x03\x04 pretend zip", ["Excel", "extension"]),
        (b'case_id,inspection\n1,"unclosed\n2,x\n', ["bad.csv"]),
        (b"case_id,inspection\n1,Durham,extra,cells\n", ["row 2", "cells"]),
    ],
)
def test_unreadable_files(tmp_path, data, existing, content, needles):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = ingest(str(path), "--data", str(data))
    assert_rejected(result, data, existing, "bad.csv", *needles)


def test_wrong_and_fake_extensions(tmp_path, data, existing):
    json_file = tmp_path / "cases.json"
    json_file.write_text("{}")
    assert_rejected(
        ingest(str(json_file), "--data", str(data)), data, existing, "cases.json", "extension"
    )
    fake = tmp_path / "cases.xlsx"
    fake.write_text("case_id,inspection\n1,Durham\n")
    assert_rejected(
        ingest(str(fake), "--data", str(data)), data, existing, "cases.xlsx", "not a valid Excel"
    )
    fake_sav = tmp_path / "cases.sav"
    fake_sav.write_bytes(b"$FL2" + b"\x00" * 100)
    assert_rejected(ingest(str(fake_sav), "--data", str(data)), data, existing, "cases.sav", "SPSS")


def test_usage_errors_exit_2(tmp_path, data, existing):
    assert_rejected(
        ingest(str(tmp_path / "missing.csv"), "--data", str(data)),
        data,
        existing,
        "missing.csv",
        "no such file",
        code=2,
    )
    assert_rejected(
        ingest(str(tmp_path), "--data", str(data)), data, existing, "is a directory", code=2
    )
    result = ingest("--no-such-option", "x.csv")
    assert result.exit_code == 2
    assert_rejected(
        ingest(
            str(tmp_path / "old.csv"),
            "--data",
            str(data),
            "--mapping",
            str(tmp_path / "nomap.toml"),
        ),
        data,
        existing,
        "nomap.toml",
        code=2,
    )
    assert_rejected(
        ingest(str(csv_file(tmp_path, "a.csv")), "--data", str(data), "--encoding", "klingon"),
        data,
        existing,
        "unknown encoding",
        code=2,
    )


def test_missing_store_is_a_usage_error_for_info(tmp_path):
    result = runner.invoke(app, ["info", "--data", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no store at" in result.stderr and "hmip ingest FILE" in result.stderr


def test_a_failed_first_ingest_leaves_no_store_directory(tmp_path, data):
    path = csv_file(tmp_path, "bad.csv", edit=set_cell(2, "age", "x"))
    assert ingest(str(path), "--data", str(data)).exit_code == 1
    assert not data.exists()


def test_excel_sheet_choice_and_row_numbers_with_blank_rows(tmp_path, data, existing):
    cases = make_cases(4, seed=1)
    text = as_text(cases)
    path = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("Notes").write(0, 0, "read me")
    ws = wb.add_worksheet("Cases")
    ws.write_row(0, 0, text.columns)
    rows = list(text.iter_rows())
    ws.write_row(1, 0, rows[0])
    # row 3 left blank (a spreadsheet gap)
    ws.write_row(3, 0, rows[1])
    bad = list(rows[2])
    bad[text.columns.index("age")] = "ninety"
    ws.write_row(4, 0, bad)
    wb.close()
    nosheet = ingest(str(path), "--data", str(data), "--sheet", "Nope")
    assert_rejected(nosheet, data, existing, "no sheet named 'Nope'", "'Cases'")
    result = ingest(str(path), "--data", str(data), "--sheet", "Cases")
    assert_rejected(result, data, existing, "book.xlsx, row 5, column 'age'", "'ninety'")


def test_synth_messy_export_with_its_mapping_gives_the_clean_store(tmp_path):
    synth = pytest.importorskip("hmip_cli.synth")
    clean, messy, mapping = tmp_path / "clean.csv", tmp_path / "messy.csv", tmp_path / "m.toml"
    for args in (
        ["--output", str(clean)],
        ["--messy", "--output", str(messy), "--mapping-output", str(mapping)],
    ):
        made = runner.invoke(app, ["synth", "--cases", "150", "--seed", "4", *args])
        if made.exit_code != 0:
            pytest.skip(f"hmip synth not available: {made.stderr[:200]}")
    a, b = tmp_path / "a", tmp_path / "b"
    assert ingest(str(clean), "--data", str(a)).exit_code == 0
    result = ingest(str(messy), "--data", str(b), "--mapping", str(mapping))
    assert result.exit_code == 0, result.stderr
    assert store.store_info(a).content_hash == store.store_info(b).content_hash
    assert store.load_cases(a).select(list(schema.stored_schema())).equals(synth.generate(150, 4))
