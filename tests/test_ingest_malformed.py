"""Malformed input files: each gets one specific message naming the file, row (or sheet)
and column with the fix; none of them ever prints a case id or a note; the store is left
byte-for-byte as it was (issue 8, items 2, 5, 8, 9, 10, 11, 13)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from test_ingest_support import (
    LONG_NOTE,
    SECRET_ID,
    SECRETS,
    SHORT_NOTE,
    as_text,
    digest,
    make_cases,
    planted,
)
from typer.testing import CliRunner

from hmip_cli import store
from hmip_cli.cli.app import app

runner = CliRunner()


def lines(frame: pl.DataFrame | None = None) -> list[str]:
    """The planted cases as CSV lines (header first); notes hold no comma, so a split on ','
    gives the cells."""
    return (frame if frame is not None else planted()).write_csv().splitlines()


def write(path: Path, rows: list[str] | bytes, end: str = "\n") -> Path:
    path.write_bytes(rows if isinstance(rows, bytes) else (end.join(rows) + end).encode())
    return path


def edit_cell(rows: list[str], row: int, column: str, value: str) -> list[str]:
    """Spreadsheet row `row` (header = 1) of `column` set to `value` (CSV text as is)."""
    header = rows[0].split(",")
    cells = rows[row - 1].split(",")
    cells[header.index(column)] = value
    return [*rows[: row - 1], ",".join(cells), *rows[row:]]


@pytest.fixture
def data(tmp_path) -> Path:
    """A store holding 10 cases (other ids), so 'unchanged' is checked byte for byte."""
    path = tmp_path / "store"
    old = tmp_path / "old.csv"
    as_text(make_cases(10, seed=99, prefix="OLD")).write_csv(old)
    assert runner.invoke(app, ["ingest", str(old), "--data", str(path)]).exit_code == 0
    return path


def rejected(result, data: Path, before: str, *needles: str, code: int = 1) -> str:
    """The run failed cleanly: exit code, no traceback, store unchanged, no secret shown,
    every needle in stderr. Returns stderr."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    for stream in (result.stdout, result.stderr):
        for secret in SECRETS:
            assert secret not in stream, (secret, stream)
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    assert digest(data) == before
    return result.stderr


def ingest(path: Path, data: Path, *args: str):
    return runner.invoke(app, ["ingest", str(path), "--data", str(data), *args])


# ---------------------------------------------------------------- item 2: ids and notes


def test_no_header_row_is_one_message_without_the_first_case(tmp_path, data):
    before = digest(data)
    path = write(tmp_path / "nohead.csv", lines()[1:])
    err = rejected(ingest(path, data), data, before, "nohead.csv, row 1", "header row missing")
    assert len(err.strip().splitlines()) == 2  # the one problem, then the summary


def test_notes_mapped_onto_a_coded_column_are_not_quoted(tmp_path, data):
    before = digest(data)
    path = write(tmp_path / "a.csv", lines())
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\n"notes" = "mappa"\n"mappa" = ""\n')
    err = rejected(
        ingest(path, data, "--mapping", str(mapping)),
        data,
        before,
        "a.csv, row 2, column 'notes (mappa)'",
        "a value of",
        "expected yes or no",
    )
    assert "a value of 7 characters" in err  # the short note, described, not quoted


@pytest.mark.parametrize(
    ("column", "value"),
    [("mappa", SHORT_NOTE), ("provider", f"{SECRET_ID}-3"), ("gender", LONG_NOTE)],
)
def test_an_id_or_note_in_a_coded_column_is_described(tmp_path, data, column, value):
    before = digest(data)
    path = write(tmp_path / "a.csv", edit_cell(lines(), 4, column, value))
    rejected(ingest(path, data), data, before, f"a.csv, row 4, column '{column}'", "a value of")


def test_a_typo_in_a_coded_column_is_still_quoted(tmp_path, data):
    before = digest(data)
    path = write(tmp_path / "a.csv", edit_cell(lines(), 3, "mappa", "maybe"))
    rejected(ingest(path, data), data, before, "a.csv, row 3, column 'mappa': got 'maybe'")


def test_free_text_in_a_yes_no_column_is_not_quoted(tmp_path, data):
    """Dozens of different unreadable values in a yes/no column: free text, not typos."""
    before = digest(data)
    frame = planted(30).with_columns(mappa=pl.format("w{}x", pl.int_range(pl.len())))
    path = write(tmp_path / "a.csv", lines(frame))
    err = rejected(ingest(path, data), data, before, "column 'mappa'", "a value of 3 characters")
    assert "'w1x'" not in err


# ------------------------------------------------------------- item 8: short rows


def test_a_row_with_missing_cells_is_an_error_naming_it(tmp_path, data):
    before = digest(data)
    rows = lines()
    rows[2] = ",".join(rows[2].split(",")[:-5])  # row 3 lost its last five cells
    path = write(tmp_path / "short.csv", rows)
    err = rejected(ingest(path, data), data, before, "short.csv, row 3", "but the header has")
    assert "row 2" not in err and "row 4" not in err


def test_a_missing_separator_shifting_notes_is_one_error(tmp_path, data):
    """Old code: the notes shifted into `mappa` were printed, and a dozen errors followed."""
    before = digest(data)
    rows = lines()
    header = rows[0].split(",")
    cells = rows[3].split(",")
    del cells[header.index("ethnicity")]  # a lost comma: everything after shifts left
    rows[3] = ",".join(cells)
    path = write(tmp_path / "shift.csv", rows)
    err = rejected(ingest(path, data), data, before, "shift.csv, row 4", "missing comma")
    assert len(err.strip().splitlines()) == 2


def test_a_file_cut_off_mid_row_is_an_error(tmp_path, data):
    before = digest(data)
    text = "\n".join(lines()) + "\n"
    path = write(tmp_path / "cut.csv", text[: len(text) - 60].encode())
    rejected(ingest(path, data), data, before, "cut.csv, row 9", "cut off")


def test_short_rows_are_found_when_a_note_spans_lines(tmp_path, data):
    """A quoted note with a line break takes the exact (csv module) path."""
    before = digest(data)
    frame = planted().with_columns(
        notes=pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("two\nlines")).otherwise("notes")
    )
    rows = frame.write_csv().split("\n")
    good = write(tmp_path / "multi.csv", rows, end="\n")
    last = len(rows) - 2  # the final case line (the split leaves a trailing "")
    rows[last] = ",".join(rows[last].split(",")[:-3])
    path = write(tmp_path / "multi_short.csv", rows, end="\n")
    rejected(ingest(path, data), data, before, "multi_short.csv, row 9", "but the header has")
    assert ingest(good, data).exit_code == 0


# --------------------------------------------------------- item 9: UTF-16/32 and NUL


@pytest.mark.parametrize(
    ("codec", "needle"),
    [("utf-16", "--encoding utf-16"), ("utf-32", "--encoding utf-32"), ("utf-16-le", "utf-16-le")],
)
def test_utf16_and_utf32_files_name_the_encoding(tmp_path, data, codec, needle):
    before = digest(data)
    path = write(tmp_path / "wide.csv", ("\n".join(lines()) + "\n").encode(codec))
    rejected(ingest(path, data), data, before, "wide.csv", needle)
    assert ingest(path, data, "--encoding", codec).exit_code == 0
    assert store.load_cases(data).height == 18


def test_wrong_encoding_given_for_a_utf16_file(tmp_path, data):
    before = digest(data)
    path = write(tmp_path / "w.csv", ("\n".join(lines()) + "\n").encode("utf-16"))
    rejected(ingest(path, data, "--encoding", "cp1252"), data, before, "UTF-16", "not cp1252")


def test_a_nul_byte_anywhere_is_located(tmp_path, data):
    """Old code looked for NUL in the first 8 KB only: one further on went into the store."""
    before = digest(data)
    rows = lines(planted(200))
    rows = edit_cell(rows, 150, "inspection", "Dur\x00ham")
    path = write(tmp_path / "nul.csv", rows)
    assert path.read_bytes().index(b"\x00") > 8192
    rejected(ingest(path, data), data, before, "nul.csv, row 150, column 'inspection'", "NUL")


def test_a_nul_in_a_note_is_located_not_shown(tmp_path, data):
    before = digest(data)
    path = write(tmp_path / "nul.csv", edit_cell(lines(), 5, "notes", "ZQXNOTE\x00 x"))
    rejected(ingest(path, data), data, before, "nul.csv, row 5, column 'notes'", "NUL")


# ------------------------------------------------------ item 10: specific messages


@pytest.mark.parametrize(
    ("name", "separator", "needles"),
    [
        ("semi.csv", ";", ["semi.csv, row 1", "semicolon-separated", "CSV UTF-8"]),
        ("tabs.csv", "\t", ["tabs.csv, row 1", "tab-separated", ".tsv"]),
        ("commas.tsv", ",", ["commas.tsv, row 1", "comma-separated", ".csv"]),
    ],
)
def test_wrong_separator_is_one_message(tmp_path, data, name, separator, needles):
    before = digest(data)
    path = write(tmp_path / name, [r.replace(",", separator) for r in lines()])
    if separator == ",":
        path = write(tmp_path / name, lines())
    err = rejected(ingest(path, data), data, before, *needles)
    assert len(err.strip().splitlines()) == 1


def test_stray_and_unclosed_quotes_name_the_row(tmp_path, data):
    before = digest(data)
    stray = write(tmp_path / "stray.csv", edit_cell(lines(), 4, "inspection", '"Dur"ham'))
    rejected(ingest(stray, data), data, before, "stray.csv, row 4", "stray double quote", '""')
    unclosed = write(tmp_path / "open.csv", edit_cell(lines(), 6, "inspection", '"Durham'))
    rejected(ingest(unclosed, data), data, before, "open.csv, row 6", "never closes")


def test_cr_only_line_endings(tmp_path, data):
    before = digest(data)
    path = write(tmp_path / "mac.csv", lines(), end="\r")
    rejected(ingest(path, data), data, before, "mac.csv", "carriage return", "line endings")


def _workbook(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for i, row in enumerate(rows):
            ws.write_row(i, 0, row)
    wb.close()
    return path


def _table() -> list[list[str]]:
    frame = planted()
    return [frame.columns, *[["" if v is None else v for v in r] for r in frame.iter_rows()]]


def test_a_cover_sheet_first_names_the_data_sheet(tmp_path, data):
    before = digest(data)
    cover = [["Durham inspection: case data"], [], ["Prepared for the bulletin"]]
    path = _workbook(tmp_path / "book.xlsx", {"Cover": cover, "Cases": _table()})
    err = rejected(ingest(path, data), data, before, "book.xlsx", "'Cover'", "--sheet 'Cases'")
    assert len(err.strip().splitlines()) == 2
    assert ingest(path, data, "--sheet", "Cases").exit_code == 0


def test_title_rows_above_the_header(tmp_path, data):
    before = digest(data)
    path = _workbook(tmp_path / "t.xlsx", {"Cases": [["Durham cases"], [], *_table()]})
    rejected(ingest(path, data), data, before, "t.xlsx, row 1", "seem to be on row 3")


def test_a_bom_inside_a_header_cell_is_read_and_said(tmp_path, data):
    rows = lines()
    rows[0] = rows[0].replace("provider", "\ufeffprovider")
    path = write(tmp_path / "bom.csv", rows)
    result = ingest(path, data)
    assert result.exit_code == 0, result.stderr
    assert "row 1, column 'provider'" in result.stderr and "\\ufeff" in result.stderr
    assert ingest(path, data, "--strict", "--replace").exit_code == 1


def test_a_mapping_with_a_bom_or_a_bad_encoding(tmp_path, data):
    path = write(tmp_path / "a.csv", [lines()[0].replace("case_id", "Case ref"), *lines()[1:]])
    with_bom = tmp_path / "bom.toml"
    with_bom.write_bytes(b'\xef\xbb\xbf[columns]\n"\xef\xbb\xbfCase ref" = "case_id"\n')
    assert ingest(path, data, "--mapping", str(with_bom)).exit_code == 0
    before = digest(data)
    bad = tmp_path / "enc.toml"
    bad.write_text('[file]\nencoding = "klingon"\n')
    again = write(tmp_path / "b.csv", lines(planted(seed=6)))
    rejected(
        ingest(again, data, "--mapping", str(bad)),
        data,
        before,
        "enc.toml",
        "[file] encoding",
        "'klingon'",
        "cp1252",
    )


def test_one_wrong_header_gives_one_hint_and_rows_are_sorted(tmp_path, data):
    before = digest(data)
    frame = planted(30)
    rows = lines(frame.rename({"age": "Age at strt", "rosh": "RoSH level", "gender": "sex"}))
    rows = edit_cell(rows, 20, "mappa", "perhaps")
    rows = edit_cell(rows, 3, "provider", "Trust")
    path = write(tmp_path / "a.csv", rows)
    err = rejected(ingest(path, data), data, before, "column 'Age at strt': unknown column")
    assert err.count("hmip schema") == 1
    located = [
        int(line.split(", row ")[1].split(",")[0]) for line in err.splitlines() if ", row " in line
    ]
    assert located == sorted(located) and located[0] == 3


# ------------------------------------------------------------- item 11: bounded output


def test_a_5mb_cell_is_not_printed(tmp_path, data):
    before = digest(data)
    path = write(tmp_path / "big.csv", edit_cell(lines(), 3, "mappa", "x" * 5_000_000))
    err = rejected(
        ingest(path, data), data, before, "row 3, column 'mappa'", "5,000,000 characters"
    )
    assert len(err) < 2_000


def test_a_5mb_header_cell_is_cut(tmp_path, data):
    before = digest(data)
    rows = lines()
    rows[0] += "," + "h" * 5_000_000
    rows[1:] = [r + ",x" for r in rows[1:]]
    err = rejected(ingest(write(tmp_path / "h.csv", rows), data), data, before, "unknown column")
    assert len(err) < 2_000


def test_20000_unknown_columns_are_summarised(tmp_path, data):
    before = digest(data)
    rows = lines()
    extra = ",".join(f"extra{i}" for i in range(20_000))
    rows = [rows[0] + "," + extra] + [r + "," * 20_000 for r in rows[1:]]
    err = rejected(ingest(write(tmp_path / "w.csv", rows), data), data, before, "19,980 more")
    assert len(err.splitlines()) <= 25
    assert "20,000 problem(s)" in err


# --------------------------------------------------------------- item 5: Parquet types


@pytest.mark.parametrize(
    ("column", "type_name"),
    [
        (pl.Series("x", [[1, 2]] * 8), "List(Int64)"),
        (pl.Series("x", [[1, 2]] * 8, dtype=pl.Array(pl.Int64, 2)), "Array(Int64"),
        (pl.Series("x", [{"a": 1}] * 8), "Struct("),
        (pl.Series("x", [dt.timedelta(days=1)] * 8), "Duration("),
        (pl.Series("x", [b"\xff\xfe"] * 8), "Binary"),
    ],
)
def test_parquet_columns_that_are_not_plain_values(tmp_path, data, column, type_name):
    before = digest(data)
    path = tmp_path / "n.parquet"
    planted().with_columns(column).write_parquet(path)
    rejected(ingest(path, data), data, before, "n.parquet", "column 'x' is", type_name)


def test_parquet_binary_text_is_read(tmp_path, data):
    path = tmp_path / "b.parquet"
    frame = planted().with_columns(pl.col("inspection").cast(pl.Binary))
    frame.write_parquet(path)
    assert ingest(path, data).exit_code == 0


# ------------------------------------------------- item 13: --inspection and a column


def test_inspection_option_fills_only_blanks_and_says_so(tmp_path, data):
    frame = planted().with_columns(
        inspection=pl.when(pl.int_range(pl.len()) < 3).then(None).otherwise(pl.lit("Durham"))
    )
    path = write(tmp_path / "a.csv", lines(frame))
    result = ingest(path, data, "--inspection", "Cumbria")
    assert result.exit_code == 0, result.stderr
    assert "--inspection fills only its 3 blank cell(s)" in result.stderr
    cases = store.load_cases(data).filter(pl.col("case_id").str.starts_with(SECRET_ID))
    assert sorted(cases.get_column("inspection").to_list()) == ["Cumbria"] * 3 + ["Durham"] * 5


def test_mapping_inspection_for_a_file_with_the_column_warns(tmp_path, data):
    before = digest(data)
    path = write(tmp_path / "a.csv", lines())
    mapping = tmp_path / "m.toml"
    mapping.write_text('[file]\ninspection = "Elsewhere"\n')
    strict = ingest(path, data, "--mapping", str(mapping), "--strict")
    rejected(strict, data, before, "mapping [file] inspection was not used")
    ok = ingest(path, data, "--mapping", str(mapping))
    assert ok.exit_code == 0 and "warning:" in ok.stderr
    assert "Elsewhere" not in store.store_info(data).inspections


def test_a_header_cell_that_is_a_case_id_is_named_by_position(tmp_path, data):
    """A row of data pasted over part of the header: the cell is not quoted."""
    before = digest(data)
    rows = lines()
    header = rows[0].split(",")
    at = header.index("rosh")
    header[at] = f"{SECRET_ID}-3"
    path = write(tmp_path / "a.csv", [",".join(header), *rows[1:]])
    rejected(ingest(path, data), data, before, f"a.csv, column '#{at + 1}': unknown column")


def test_ids_in_a_coded_column_are_not_quoted_even_without_an_id_column(tmp_path, data):
    """Found by the fuzz: the id column damaged (every cell 'Z') and the ids copied into
    a yes/no column: they match no id left in the file, but a different value in every
    row is an identifier, not a misspelt code."""
    before = digest(data)
    frame = planted().with_columns(mappa=pl.col("case_id"), case_id=pl.lit("Z"))
    path = write(tmp_path / "a.csv", lines(frame))
    rejected(ingest(path, data), data, before, "a.csv, row 2, column 'mappa': got a value of 7")
