"""Ingest reads and validates a file in batches (`readers.BATCH_BYTES` of CSV text,
`readers.BATCH_ROWS` rows of other formats), so memory stays flat in the file size. With
small batches (about 85 rows each) every message, row number and stored case must be
what reading the file whole gives: rows are numbered in the whole file, problems are
capped over the whole file, and a value is quoted only if it is not an id or a note
anywhere in the file."""

from __future__ import annotations

import importlib
import io

import polars as pl
import pytest
from test_ingest_support import as_text, make_cases

from hmip_cli import store
from hmip_cli.errors import ValidationFailed
from hmip_cli.ingest import ingest_files, readers

N = 1_500  # cases: with 16 KiB batches (TINY), about 18 batches of some 85 rows
TINY = 16 * 1024


@pytest.fixture(scope="module")
def text() -> pl.DataFrame:
    return as_text(make_cases(N, seed=3))


def set_cells(frame: pl.DataFrame, cells: dict[tuple[int, str], str | None]) -> pl.DataFrame:
    """Set spreadsheet row (header = 1) `row` of `column` for each ((row, column), value)."""
    idx = pl.int_range(pl.len()) + 2
    for (row, column), value in cells.items():
        frame = frame.with_columns(
            pl.when(idx == row)
            .then(pl.lit(value, pl.String))
            .otherwise(pl.col(column))
            .alias(column)
        )
    return frame


def outcome(path, data, batch_bytes: int, batch_rows: int = readers.BATCH_ROWS, **kw):
    """(every problem as printed, the store's content hash or None) for one ingest."""
    old = readers.BATCH_BYTES, readers.BATCH_ROWS
    readers.BATCH_BYTES, readers.BATCH_ROWS = batch_bytes, batch_rows
    try:
        result = ingest_files([path], data=data, replace_store=True, **kw)
        return [str(w) for w in result.warnings], store.store_info(data).content_hash
    except ValidationFailed as exc:
        return [str(p) for p in exc.problems], None
    finally:
        readers.BATCH_BYTES, readers.BATCH_ROWS = old


def test_tiny_batches_store_the_same_cases(tmp_path, text):
    # Notes with commas, quotes and line breaks inside quoted values sit across the cuts.
    notes = pl.Series(['line one\nline two, "quoted"', None, "plain", 'a ""b""'] * (N // 4))
    path = tmp_path / "cases.csv"
    text.with_columns(notes=notes).write_csv(path)
    whole = outcome(path, tmp_path / "a", 1 << 30)
    batched = outcome(path, tmp_path / "b", TINY)
    assert whole[1] is not None and batched == whole
    assert store.load_cases(tmp_path / "b")["notes"].to_list()[:4] == notes.to_list()[:4]


def test_a_bad_row_far_into_a_many_batch_file_keeps_its_row_number(tmp_path, text):
    bad = set_cells(
        text,
        {
            (1_476, "age"): "thirty",  # far into the file: row 1,476 of 1,501
            (1_490, "case_id"): text["case_id"][8],  # the id of row 10
            (1_495, "gender"): "",  # fine: gender may be blank
            (1_497, "provider"): None,  # required
        },
    )
    path = tmp_path / "bad.csv"
    bad.write_csv(path)
    got, digest = outcome(path, tmp_path / "s", TINY)
    assert digest is None
    assert any(g.startswith(f"{path}, row 1476, column 'age': got 'thirty'") for g in got)
    assert any("row 1490, column 'case_id'" in g and "first at row 10)" in g for g in got)
    assert any("row 1497, column 'provider'" in g and "must not be blank" in g for g in got)
    assert got == outcome(path, tmp_path / "w", 1 << 30)[0]  # exactly as read whole


def test_problems_are_capped_over_the_whole_file_not_per_batch(tmp_path, text):
    # A bad code in every 10th row: 150 rows over ~75 batches -> 20 lines and one count.
    rows = range(2, N + 2, 10)
    path = tmp_path / "many.csv"
    set_cells(text, {(r, "rosh"): "sky high" for r in rows}).write_csv(path)
    got, _ = outcome(path, tmp_path / "s", TINY)
    located = [g for g in got if ", column 'rosh':" in g and ", row " in g]
    assert len(located) == 20 and "row 2," in located[0] and "row 192," in located[-1]
    summary = [g for g in got if "more rows" in g]
    assert summary == [
        f"{path}, column 'rosh': ... and 130 more rows (between rows 2 and {rows[-1]:,}) with the "
        "same problem: expected one of low, medium, high, very_high (or their labels: Low, "
        "Medium, High, Very high)"
    ]
    assert got == outcome(path, tmp_path / "w", 1 << 30)[0]


def test_ids_and_free_text_are_recognised_across_batches(tmp_path, text):
    # A different unreadable word in 5 far-apart rows: free text over the file, so never
    # quoted (each batch alone holds one, which would look like a misspelt code) ...
    words = ["alpha", "bravo", "charlie", "delta", "echo"]
    cells: dict[tuple[int, str], str | None] = {
        (2 + 300 * i, "gender"): w for i, w in enumerate(words)
    }
    # ... and a value that is a note 1,400 rows later is not quoted either.
    cells[(3, "ethnicity")] = "Withheld"
    cells[(1_403, "notes")] = "Withheld"
    path = tmp_path / "secret.csv"
    set_cells(text, cells).write_csv(path)
    got, _ = outcome(path, tmp_path / "s", TINY)
    joined = "\n".join(got)
    assert "row 302, column 'gender': got a value of 5 characters" in joined
    assert not any(w in joined for w in [*words, "Withheld"])
    assert "row 3, column 'ethnicity': got a value of 8 characters" in joined
    assert got == outcome(path, tmp_path / "w", 1 << 30)[0]


def test_reader_problems_far_in_are_located(tmp_path, text):
    lines = text.write_csv().splitlines(keepends=True)
    # Row 1,300 loses a separator (fewer cells); row 1,450 is not UTF-8.
    lines[1_299] = lines[1_299].replace(",", "", 1)
    data = "".join(lines).encode()
    cut = data.index(lines[1_449].encode())
    path = tmp_path / "short.csv"
    path.write_bytes(data)
    got, _ = outcome(path, tmp_path / "s", TINY)
    assert any(", row 1300: this row has" in g and "cell(s) but the header has" in g for g in got)
    assert got == outcome(path, tmp_path / "w", 1 << 30)[0]
    latin = tmp_path / "latin.csv"
    latin.write_bytes(data[:cut] + b"\xe9" + data[cut:])
    with pytest.raises(Exception, match=r"latin.csv, row 1450: the file is not UTF-8 text"):
        outcome(latin, tmp_path / "l", TINY)


def test_an_unclosed_quote_far_in_is_located(tmp_path, text):
    lines = text.write_csv().splitlines(keepends=True)
    lines[1_399] = '"' + lines[1_399]  # row 1,400 opens a quote that never closes
    path = tmp_path / "quote.csv"
    path.write_bytes("".join(lines).encode())
    with pytest.raises(Exception, match=r"quote.csv, row 1400: a (stray )?double quote"):
        outcome(path, tmp_path / "s", TINY)
    extra = text.write_csv().splitlines(keepends=True)
    extra[1_199] = extra[1_199].rstrip("\n") + ",surplus\n"  # row 1,200 has a cell too many
    path2 = tmp_path / "wide.csv"
    path2.write_bytes("".join(extra).encode())
    with pytest.raises(Exception, match=r"wide.csv, row 1200: this row has \d+ cells"):
        outcome(path2, tmp_path / "w", TINY)


def test_spreadsheet_rows_are_validated_in_batches_too(tmp_path, text):
    path = tmp_path / "cases.parquet"
    set_cells(text, {(1_234, "age"): "old"}).write_parquet(path)
    got, _ = outcome(path, tmp_path / "s", TINY, batch_rows=100)
    assert any("row 1234, column 'age': got 'old'" in g for g in got)
    assert got == outcome(path, tmp_path / "w", 1 << 30, batch_rows=1 << 30)[0]


def test_record_ends_outside_quotes():
    assert readers._last_record_end(b'a,b\n"x\ny",z\n"open\n') == len(b'a,b\n"x\ny",z\n')
    assert readers._last_record_end(b'"a\nb') is None
    assert readers._first_record_end(b'"h\n1",h2\nrow\n') == len(b'"h\n1",h2\n')
    pieces = list(readers._record_chunks(b"", io.BytesIO(b'a\n"b\n\nc"\nd\n').read, 4))
    assert pieces == [b"a\n", b'"b\n\nc"\n', b"d\n"]


@pytest.mark.slow
def test_spellings_first_met_far_in_read_as_if_met_first(tmp_path, text, monkeypatch):
    # Other spellings of codes, missing spellings and numbers written otherwise, each first
    # met far into the file: the validator learns them batch by batch (validate._CodeBook).
    # Whole, tiny batches, and tiny batches with no column learnt (each batch's values read
    # on their own, as for a column of free text) must give the same store and messages;
    # tiny batches are read both cell by cell (validate.SMALL_ROWS) and by column
    # expressions, as bigger batches are.
    validate = importlib.import_module("hmip_cli.ingest.validate")  # (the package has a
    # function of that name)
    good = {
        (1_300, "mappa"): "Y",
        (1_310, "mappa"): " No ",
        (1_320, "mappa"): "Not known",
        (1_330, "mappa"): "TRUE",
        (1_340, "rosh"): "Very High",
        (1_350, "gender"): "N/A",
        (1_400, "age"): "41.0",
        (1_410, "inspection_date"): "01/02/2017",
    }
    path = tmp_path / "spellings.csv"
    set_cells(text, good).write_csv(path)
    whole = outcome(path, tmp_path / "w", 1 << 30)
    assert whole[1] is not None
    assert outcome(path, tmp_path / "b", TINY) == whole
    monkeypatch.setattr(validate, "SMALL_ROWS", 0)
    assert outcome(path, tmp_path / "c", TINY) == whole
    monkeypatch.undo()
    cases = store.load_cases(tmp_path / "b")
    at = {row: cases.row(row - 2, named=True) for row, _ in good}
    assert [at[r]["mappa"] for r in (1_300, 1_310, 1_320, 1_330)] == [True, False, None, True]
    assert at[1_340]["rosh"] == "very_high" and at[1_400]["age"] == 41
    assert str(at[1_410]["inspection_date"]) == "2017-02-01"
    monkeypatch.setattr(validate, "LEARN_MAX", 0)
    assert outcome(path, tmp_path / "n", TINY) == whole
    monkeypatch.undo()
    # And unreadable values first met late are reported alike in every way of reading.
    bad = {**good, (1_450, "rosh"): "sky high", (1_460, "mappa"): "perhaps"}
    path2 = tmp_path / "bad.csv"
    set_cells(text, bad).write_csv(path2)
    got = outcome(path2, tmp_path / "s", TINY)
    assert got[1] is None
    assert any("row 1450, column 'rosh': got 'sky high'" in g for g in got[0])
    assert any("row 1460, column 'mappa': got 'perhaps'" in g for g in got[0])
    assert got == outcome(path2, tmp_path / "t", 1 << 30)
    monkeypatch.setattr(validate, "SMALL_ROWS", 0)
    assert got == outcome(path2, tmp_path / "v", TINY)
    monkeypatch.undo()
    monkeypatch.setattr(validate, "LEARN_MAX", 0)
    assert got == outcome(path2, tmp_path / "u", TINY)


def test_cells_per_row_counts_separators_outside_quotes():
    data = b'a,b,c\n1,"x,y",3\n\n  \n4,5\n"q""",,\r\n7\n'
    assert readers._cells_per_row(data, ",", 7).to_list() == [3, 3, None, None, 2, 3, 1]
    assert not readers._every_line_full(data, ",", 7, 3)
    assert readers._every_line_full(b'a,b,c\n1,"x,y",3\n"q""",,\r\n', ",", 3, 3)
    assert not readers._every_line_full(b"a,b,c\n1,2,3\n4,5\n", ",", 3, 3)
    # A value over two lines: not one record per line, so the exact csv module counts.
    assert not readers._every_line_full(b'a,b\n"x\ny",z\n', ",", 2, 2)
    assert readers._cells_per_row(b'a,b\n"x\ny",z\n4\n', ",", 3).to_list() == [2, 2, 1]
