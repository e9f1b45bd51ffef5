"""Readers: every supported format in, one all-text frame out, with spreadsheet row numbers.

Whatever the format, a reader returns a `RawFile`: the header exactly as written and a
frame whose cells are all strings (or null), plus a row-number column (`ROW`) counting
the way a spreadsheet user counts: the header is row 1, the first case row 2. Typing is
left to validation so that every bad cell can be reported with its row and column,
instead of the first one stopping the reader.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from hmip_cli.errors import MAX_LINES, BadInput, BadRequest, Problem, capped
from hmip_cli.privacy import clip_name, quote_name

ROW = "__hmip_row"  # the spreadsheet row number column, carried through mapping and validation

FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
    ".ods": "excel",
    ".sav": "spss",
    ".zsav": "spss",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_MAGIC = (  # what a file's first bytes say it is, for "wrong extension" messages
    (b"PK\x03\x04", "excel", "an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0", "excel", "an old Excel workbook (.xls)"),
    (b"$FL2", "spss", "an SPSS data file (.sav)"),
    (b"$FL3", "spss", "an SPSS data file (.zsav)"),
    (b"PAR1", "parquet", "a Parquet file (.parquet)"),
)
# Rust readers can panic on hostile bytes; pyo3's PanicException is a BaseException.
_READ_ERRORS = (Exception, BaseException)
STDIN = "-"
STDIN_NAME = "<stdin>"


@dataclass
class RawFile:
    """One input file read as text: what mapping and validation work on."""

    name: str  # what messages call it: the path as given (stdin: "<stdin>")
    source: str  # basename only, for provenance
    sha256: str  # of the file's bytes
    frame: pl.DataFrame  # all-String columns named by the header (deduplicated), plus ROW
    headers: list[str]  # the header cells as written, in order
    problems: list[Problem] = field(default_factory=list)
    n_bytes: int = 0
    # For diagnosing a file whose first row is not its header (layout.py): the first rows
    # as read (row 1 first), the sheet read, and the first rows of the workbook's other sheets.
    head: list[list[str]] = field(default_factory=list)
    sheet: str | None = None
    other_sheets: Callable[[], dict[str, list[list[str]]]] | None = None


def describe_format(path: str) -> str:
    """The reader a path will use: csv, tsv, excel, spss or parquet (BadInput otherwise)."""
    if path == STDIN:
        return "csv"
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        what = f"extension {ext!r}" if ext else "no extension"
        raise BadInput(f"{path}: {what} is not a format hmip reads; use one of {known}")
    return FORMATS[ext]


def check_path(path: str | Path) -> None:
    """Usage errors about a path, before any reading: missing, a directory, unreadable."""
    if path == STDIN:
        return
    p = Path(path)
    if not p.exists():
        raise BadRequest(f"{path}: no such file")
    if p.is_dir():
        raise BadRequest(f"{path}: is a directory, not a file")
    if not os.access(p, os.R_OK):
        raise BadRequest(f"{path}: permission denied")


def read_file(
    path: str,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    stdin: io.BufferedReader | None = None,
) -> RawFile:
    """Read one file (or stdin for "-") as text. Raises BadInput for unreadable files."""
    check_path(path)
    fmt = describe_format(path)
    if path == STDIN:
        data = (stdin or sys.stdin.buffer).read()
        name, source = STDIN_NAME, STDIN_NAME
    else:
        data = Path(path).read_bytes()
        name, source = path, Path(path).name
    digest = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise BadInput(f"{name}: the file is empty")
    _check_magic(name, data, fmt)
    if fmt in ("csv", "tsv"):
        raw = _read_delimited(name, data, "\t" if fmt == "tsv" else ",", encoding)
    elif fmt == "excel":
        raw = _read_excel(name, data, sheet)
    elif fmt == "spss":
        raw = _read_spss(name, data)
    else:
        raw = _read_parquet(name, data)
    del data
    # Rows with nothing in them (blank lines, a spreadsheet's empty rows) are not cases.
    frame = raw.frame
    value_cols = [c for c in frame.columns if c != ROW]
    if value_cols:
        empty = frame.select(
            pl.concat_str(value_cols, ignore_nulls=True).fill_null("").str.strip_chars() == ""
        ).to_series()
        if empty.any():  # filtering copies every column: only when there is something to drop
            frame = frame.filter(~empty)
    if frame.height == 0 and not any(p.severity == "error" for p in raw.problems):
        raise BadInput(f"{name}: no cases (the file has a header row but no data rows)")
    raw.frame = frame
    raw.name, raw.source, raw.sha256 = name, source, digest
    return raw


def _check_magic(name: str, data: bytes, fmt: str) -> None:
    for magic, kind, what in _MAGIC:
        if data.startswith(magic):
            if kind == fmt or (fmt == "excel" and kind == "excel"):
                return
            raise BadInput(
                f"{name}: this looks like {what}, not {fmt.upper()}; "
                "give the file its proper extension"
            )
    if fmt in ("excel", "spss", "parquet"):
        raise BadInput(
            f"{name}: not a valid {fmt.upper() if fmt != 'excel' else 'Excel'} file "
            "(its contents do not match its extension)"
        )


# Byte-order marks, longest first (a UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ENCODING_FIX = 're-run with --encoding {enc} (or set encoding = "{enc}" in the mapping\'s [file])'


def codec_name(encoding: str) -> str:
    """Python's name for a text encoding; BadRequest for an unknown or non-text codec."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise BadRequest(
            f"unknown encoding {clip_name(encoding)!r} (try utf-8, cp1252, latin-1 or utf-16)"
        )
    return info.name


def _to_utf8(name: str, data: bytes, encoding: str | None) -> bytes:
    """The file's text as UTF-8 bytes without a byte-order mark, for Polars.

    UTF-8 input is passed through unchanged (Polars checks it, fast); other encodings are
    decoded here. A UTF-16/32 file is recognised by its byte-order mark (or, without one,
    by its zero bytes) and the message names the --encoding to pass.
    """
    bom = next((enc for mark, enc in _BOMS if data.startswith(mark)), None)
    try:
        wanted = codec_name(encoding) if encoding else None
    except BadRequest as exc:
        raise BadRequest(f"{name}: {exc} (--encoding)") from None
    is_utf8 = wanted in (None, "utf-8", "utf-8-sig")
    if bom is not None and bom != "utf-8" and not (wanted or "").startswith(bom):
        given = f", not {encoding}" if encoding else ""
        raise BadInput(
            f"{name}: the file is {bom.upper()} text (it starts with a {bom.upper()} "
            f"byte-order mark){given}; " + _ENCODING_FIX.format(enc=bom)
        )
    if bom == "utf-8" and not is_utf8:
        raise BadInput(
            f"{name}: the file starts with a UTF-8 byte-order mark, so it is UTF-8 text, not "
            f"{encoding}; re-run without --encoding (or with --encoding utf-8)"
        )
    if is_utf8:
        if encoding is None:
            _check_utf16_without_bom(name, data)
        return data[3:] if bom == "utf-8" else data
    try:
        text = data.decode(wanted or "utf-8")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].decode(wanted or "utf-8", errors="replace").count("\n") + 1
        raise BadInput(
            f"{name}, row {row}: not valid {encoding} text "
            f"(byte 0x{data[exc.start]:02x}); try another --encoding"
        ) from None
    return text.removeprefix("\ufeff").encode("utf-8")


def _check_utf16_without_bom(name: str, data: bytes) -> None:
    sample = data[:4096]
    if len(sample) < 8 or 0 not in sample:
        return
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    for zeros, others, enc in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros > 0.4 * half and others < 0.05 * half:
            raise BadInput(
                f"{name}: this looks like UTF-16 text without a byte-order mark (every other "
                "byte is zero); " + _ENCODING_FIX.format(enc=enc)
            )


def _looks_binary(data: bytes) -> bool:
    """Control characters (other than tab, line ends, form feed) in more than 5% of the
    first 8 KB: not text. A file with a stray NUL here and there is text with a bad cell."""
    sample = data[:8192]
    controls = sum(sample.count(bytes([b])) for b in _CONTROL_BYTES)
    return controls > 0.05 * len(sample)


_CONTROL_BYTES = [b for b in range(32) if b not in (9, 10, 12, 13)]


def _not_utf8(name: str, data: bytes) -> BadInput | None:
    """The message for a file that is not UTF-8 (None if it is): names --encoding."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        return BadInput(
            f"{name}, row {row}: the file is not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "if it was saved by Excel on Windows, re-run with --encoding cp1252 "
            "(or the encoding it was saved in), or set `encoding` in the mapping file"
        )
    return None


_SEPARATORS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "vertical bar"}


def _check_separator(name: str, data: bytes, sep: str) -> None:
    """A file separated by something else than the extension says: one message, not a
    one-column header followed by every required column missing."""
    first = data[: data.find(b"\n")] if b"\n" in data else data
    if sep.encode() in first:
        return
    for other, what in _SEPARATORS.items():
        if other != sep and other.encode() in first:
            if other == "\t":
                fix = "give the file the extension .tsv (hmip reads .tsv as tab-separated)"
            elif other == ",":
                fix = "give the file the extension .csv (hmip reads .csv as comma-separated)"
            else:
                fix = (
                    "re-save it as comma-separated CSV (Excel: Save As 'CSV UTF-8 (Comma "
                    "delimited)'), or as tab-separated text with the extension .tsv"
                )
            raise BadInput(
                f"{name}, row 1: the header has no {_SEPARATORS[sep]}s but has {what}s: the "
                f"file is {what}-separated, not {_SEPARATORS[sep]}-separated; {fix}"
            )


def _read_delimited(name: str, data: bytes, sep: str, encoding: str | None) -> RawFile:
    data = _to_utf8(name, data, encoding)
    if not data.strip():
        raise BadInput(f"{name}: the file is empty")
    has_nul = b"\x00" in data
    if has_nul and _looks_binary(data):
        raise BadInput(f"{name}: this is a binary file, not CSV text")
    if b"\r" in data and b"\n" not in data:
        raise BadInput(
            f"{name}: the lines end with a carriage return only (classic Mac line endings), "
            "so the whole file reads as one row; re-save it with Windows or Unix line endings "
            "(Excel: Save As 'CSV UTF-8')"
        )
    _check_separator(name, data, sep)
    try:
        # has_header=False: the header is read as a row, so duplicate or blank header
        # cells are seen as written (Polars would rename them).
        raw = pl.read_csv(
            io.BytesIO(data), has_header=False, infer_schema=False, separator=sep, quote_char='"'
        )
    except pl.exceptions.NoDataError:
        raise BadInput(f"{name}: the file is empty") from None
    except _READ_ERRORS as exc:
        _reraise_fatal(exc)
        # Polars checks UTF-8 itself (fast); the slow exact diagnosis runs only on failure.
        # Polars' own message quotes the cell it choked on, so it is never shown.
        raise (_not_utf8(name, data) or BadInput(f"{name}{_csv_trouble(data, sep)}")) from None
    header = [("" if h is None else h) for h in raw.row(0)]
    head = [["" if v is None else v for v in r] for r in raw.head(10).iter_rows()]
    frame = raw.slice(1)
    frame.columns = [f"c{i}" for i in range(len(header))]
    frame = frame.with_row_index(ROW, offset=2)
    problems = _short_rows(name, data, sep, frame, len(header), raw.height)
    if problems:  # misaligned cells: nothing in a short row is checked (or quoted) further
        short = pl.Series([p.row for p in problems if p.row is not None], dtype=pl.UInt32)
        frame = frame.filter(~pl.col(ROW).is_in(short.implode()))
        problems = capped(problems, "rows with fewer cells than the header")
    if has_nul:
        problems += _nul_cells(name, header, frame)
    headers, frame, more = _name_columns(name, header, frame)
    return RawFile(name, name, "", frame, headers, problems + more, head=head)


def _cells_per_row(data: bytes, sep: str, n_rows: int) -> pl.Series | None:
    """How many cells each record has (header first; null for blank lines), or None when
    that cannot be told. Fast path: each line's separators outside "..." counted in Polars;
    a file with a value spanning lines (or an odd quote) goes to the exact csv module."""
    unused = next((b for b in (b"\x1f", b"\x1e", b"\x1d", b"\x01") if b not in data), None)
    if unused is not None:
        lines = pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            infer_schema=False,
            separator=unused.decode(),
            quote_char=None,
            new_columns=["line"],
        ).get_column("line")
        quotes = lines.str.count_matches('"', literal=True)
        if lines.len() == n_rows and not (quotes % 2 != 0).any():
            bare = pl.select(
                pl.when(quotes > 0).then(lines.str.replace_all(r'"[^"]*"', "")).otherwise(lines)
            ).to_series()
            blank = lines.is_null() | (lines.str.strip_chars() == "")
            counts = bare.str.count_matches(sep, literal=True) + 1
            return pl.select(pl.when(~blank).then(counts)).to_series()
    counts_list: list[int | None] = []
    text = data.decode("utf-8", errors="replace")
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, len(text) + 1))
    try:
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=sep):
            counts_list.append(len(record) if any(c.strip() for c in record) else None)
    except csv.Error:
        return None
    finally:
        csv.field_size_limit(old)
    if len(counts_list) != n_rows:
        return None
    return pl.Series(counts_list, dtype=pl.UInt32)


def _short_rows(
    name: str, data: bytes, sep: str, frame: pl.DataFrame, width: int, n_rows: int
) -> list[Problem]:
    """A row with fewer cells than the header (a lost separator, a file cut off mid-row)
    is an error: Polars would fill the missing cells with blanks, i.e. "not applicable"."""
    counts = _cells_per_row(data, sep, n_rows)
    if counts is None or counts[0] != width:
        return []
    short = (
        pl.DataFrame({"cells": counts.slice(1)})
        .with_row_index(ROW, offset=2)
        .filter(pl.col("cells") < width)
    )
    if short.height == 0:
        return []
    last_row = frame.get_column(ROW).max()
    cut = not data.rstrip(b" ").endswith((b"\n", b"\r"))
    out = []
    for row, cells in short.iter_rows():
        why = f"a missing {_SEPARATORS[sep]}, or a cell moved?"
        if cut and row == last_row:
            why = "the file ends part-way through this row: was it cut off?"
        out.append(
            Problem(
                name,
                row,
                None,
                None,
                f"this row has {cells} cell(s) but the header has {width} ({why}); "
                "its cells were not checked further",
            )
        )
    return out


def _nul_cells(name: str, header: list[str], frame: pl.DataFrame) -> list[Problem]:
    """Every cell holding a NUL byte (a damaged file, or binary pasted into text)."""
    what = "a NUL byte (\\x00) in this cell: the file is damaged or not plain text; remove it"
    problems = [
        Problem(name, 1, f"#{i + 1}", None, what) for i, h in enumerate(header) if "\x00" in h
    ]
    cols = [c for c in frame.columns if c != ROW]
    has = frame.select(
        [pl.col(c).str.contains("\x00", literal=True).any().alias(c) for c in cols]
    ).row(0)
    cells = []
    for i, (col, hit) in enumerate(zip(cols, has)):
        if not hit:
            continue
        label = header[i] if "\x00" not in header[i] and header[i].strip() else f"#{i + 1}"
        rows = frame.filter(pl.col(col).str.contains("\x00", literal=True)).get_column(ROW)
        cells += [Problem(name, int(r), label, None, what) for r in rows.head(MAX_LINES + 1)]
    return problems + capped(sorted(cells, key=lambda p: p.row or 0), "cells with a NUL byte")


def _csv_trouble(data: bytes, sep: str) -> str:
    """Find the row Polars choked on with the (slow, exact) csv module: error path only.
    Returns the message after the file name: ", row 4: ..." (or ": ..." without a row)."""
    text = data.decode("utf-8", errors="replace")
    what = _SEPARATORS[sep]
    width = None
    row = 0
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, len(text) + 1))
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
        for row, record in enumerate(reader, start=1):
            if width is None:
                width = len(record)
            elif len(record) > width:
                return (
                    f", row {row}: this row has {len(record)} cells but the header has {width} "
                    f"(a stray {what}, or an unquoted {what} inside a value? "
                    'a value holding one must be in double quotes: "a, b")'
                )
    except csv.Error as err:
        row += 1
        if "unexpected end of data" in str(err):
            return (
                f', row {row}: a double quote (") opens a value that never closes, so the rest '
                "of the file reads as one cell; close or remove that quote"
            )
        return (
            f', row {row}: a stray double quote ("): a value in quotes must end at its closing '
            'quote, and a quote inside a value is written twice (""); fix that cell, or '
            "re-save the file from the spreadsheet"
        )
    finally:
        csv.field_size_limit(old)
    return ': not readable as CSV: an unclosed or stray double quote (") somewhere in the file'


def clean_header(h: str) -> str:
    """A header cell as matched: trimmed, without byte-order marks or zero-width spaces."""
    return h.strip().replace("\ufeff", "").replace("\u200b", "").strip()


def _name_columns(name: str, header: list[str], frame: pl.DataFrame):
    """Give the frame the header's names; report blank and repeated header cells."""
    problems: list[Problem] = []
    blank: list[Problem] = []
    twice: list[Problem] = []
    names: list[str] = []
    seen: dict[str, int] = {}
    keep = []
    blank_cols = [f"c{i}" for i, h in enumerate(header) if clean_header(str(h)) == ""]
    filled = (  # which headerless columns hold something: one pass, not one per column
        dict(
            zip(
                blank_cols,
                frame.select(
                    (pl.col(c).str.strip_chars().str.len_chars().fill_null(0).sum() > 0)
                    for c in blank_cols
                ).row(0),
            )
        )
        if blank_cols
        else {}
    )
    for i, h in enumerate(header):
        written = str(h)
        h = clean_header(written)
        col = f"c{i}"
        if h != written.strip():  # a byte-order mark or zero-width space inside the cell
            problems.append(
                Problem(
                    name,
                    1,
                    h,
                    None,
                    f"the header cell holds an invisible character ({quote_name(written)}); "
                    f"it was read as {quote_name(h)}: retype the cell to be rid of it",
                    "warning",
                )
            )
        if h == "":
            if filled[col]:
                blank.append(
                    Problem(name, 1, f"#{i + 1}", None, "a column with values has no header")
                )
            continue
        if h == ROW:
            problems.append(
                Problem(name, 1, h, None, "this column name is reserved by hmip; rename it")
            )
            continue
        if h in seen:
            twice.append(
                Problem(
                    name,
                    1,
                    h,
                    None,
                    f"the header names this column twice (columns {seen[h] + 1} and {i + 1})",
                )
            )
            continue
        seen[h] = i
        names.append(h)
        keep.append((col, h))
    frame = frame.select(pl.col(ROW), *[pl.col(c).alias(h) for c, h in keep])
    problems += capped(blank, "columns with values but no header")
    problems += capped(twice, "repeated header cells")
    return names, frame, problems


def _read_excel(name: str, data: bytes, sheet: str | None) -> RawFile:
    import fastexcel

    try:
        reader = fastexcel.read_excel(data)
        sheets = reader.sheet_names
        if sheet is not None and sheet not in sheets:
            raise BadInput(
                f"{name}: no sheet named {quote_name(sheet)}; the workbook has: "
                + ", ".join(quote_name(s) for s in sheets[:MAX_LINES])
                + (f" and {len(sheets) - MAX_LINES:,} more" if len(sheets) > MAX_LINES else "")
            )
        # fastexcel directly rather than pl.read_excel: Polars drops blank rows, which
        # would shift every row number after them. header_row=None + skip_rows=0 keeps
        # them; everything is read as text (no type guessing from the first rows).
        loaded = reader.load_sheet(
            sheet if sheet is not None else 0, header_row=None, skip_rows=0, dtypes="string"
        )
        raw = loaded.to_polars()
    except BadInput:
        raise
    except (
        _READ_ERRORS
    ) as exc:  # fastexcel raises its own hierarchy; none of it is the user's to see
        _reraise_fatal(exc)
        raise BadInput(f"{name}: not a readable Excel workbook ({_first_line(exc)})") from None
    if raw.height == 0:
        raise BadInput(
            f"{name}: the sheet {quote_name(loaded.name)} is empty"
            + (
                f" (the workbook has {len(sheets)} sheets: pick one with --sheet)"
                if len(sheets) > 1
                else ""
            )
        )
    raw = raw.select(pl.all().cast(pl.String))
    header = [("" if h is None else _excel_header(h)) for h in raw.row(0)]
    head = [["" if v is None else v for v in r] for r in raw.head(10).iter_rows()]
    frame = raw.slice(1)
    frame.columns = [f"c{i}" for i in range(len(header))]
    frame = frame.with_row_index(ROW, offset=2)
    headers, frame, problems = _name_columns(name, header, frame)

    def other_sheets() -> dict[str, list[list[str]]]:
        """The first rows of the other sheets, for "the cases seem to be on sheet X"."""
        out = {}
        for s in sheets[:MAX_LINES]:
            if s == loaded.name:
                continue
            try:
                top = reader.load_sheet(
                    s, header_row=None, skip_rows=0, n_rows=10, dtypes="string"
                ).to_polars()
            except _READ_ERRORS as exc:  # a damaged other sheet: just not a candidate
                _reraise_fatal(exc)
                continue
            out[s] = [
                ["" if v is None else str(v) for v in r]
                for r in top.select(pl.all().cast(pl.String)).iter_rows()
            ]
        return out

    return RawFile(
        name,
        name,
        "",
        frame,
        headers,
        problems,
        head=head,
        sheet=loaded.name,
        other_sheets=other_sheets if sheet is None and len(sheets) > 1 else None,
    )


def _excel_header(h: str) -> str:
    # A numeric header cell comes back as "1.0"; keep what the user typed.
    return h[:-2] if h.endswith(".0") and h[:-2].isdigit() else h


def _read_spss(name: str, data: bytes) -> RawFile:
    import tempfile

    import pyreadstat

    # pyreadstat reads paths only; the bytes are already in memory (and hashed), so a
    # private temporary copy guarantees we validate exactly what we hashed.
    with tempfile.NamedTemporaryFile(suffix=".sav") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            with warnings.catch_warnings():  # pyreadstat warns on stderr about label types
                warnings.simplefilter("ignore")
                frame, _meta = pyreadstat.read_sav(
                    tmp.name, output_format="polars", apply_value_formats=True
                )
        except _READ_ERRORS as exc:
            _reraise_fatal(exc)
            raise BadInput(f"{name}: not a readable SPSS file ({_first_line(exc)})") from None
    return _typed_to_text(name, frame)


def _read_parquet(name: str, data: bytes) -> RawFile:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except _READ_ERRORS as exc:
        _reraise_fatal(exc)
        raise BadInput(f"{name}: not a readable Parquet file ({_first_line(exc)})") from None
    return _typed_to_text(name, frame)


_NESTED = (pl.List, pl.Array, pl.Struct, pl.Duration, pl.Object)


def _typed_to_text(name: str, frame: pl.DataFrame) -> RawFile:
    """A typed frame (SPSS, Parquet) as text, so it is validated like a spreadsheet.

    A cell must hold one plain value: list, array, struct, duration and object columns,
    and binary columns that are not UTF-8 text, are refused with their names and types.
    """
    header = list(frame.columns)
    if ROW in header:
        raise BadInput(f"{name}: a column is named {ROW!r}, which hmip reserves")
    exprs = []
    refused: list[str] = []
    for col, dtype in frame.schema.items():
        e = pl.col(col)
        if isinstance(dtype, _NESTED):
            refused.append(f"{quote_name(col)} is {clip_name(dtype, 40)}")
            continue
        if dtype == pl.Binary:
            try:
                frame.select(e.cast(pl.String))
            except _READ_ERRORS as exc:
                _reraise_fatal(exc)
                refused.append(f"{quote_name(col)} is Binary (bytes that are not UTF-8 text)")
                continue
        if dtype == pl.Boolean:
            e = pl.when(e).then(pl.lit("yes")).when(~e).then(pl.lit("no"))
        elif isinstance(dtype, (pl.Datetime,)):
            e = e.dt.date()
        exprs.append(e.cast(pl.String).alias(col))
    if refused:
        more = f"; and {len(refused) - MAX_LINES:,} more" if len(refused) > MAX_LINES else ""
        raise BadInput(
            f"{name}: column " + ", column ".join(refused[:MAX_LINES]) + more + ": hmip "
            "reads one plain value per cell (text, a number, yes/no or a date); convert "
            "these columns, or leave them out of the file"
        )
    text = frame.select(exprs).with_row_index(ROW, offset=2)
    return RawFile(name, name, "", text, header, [])


def _reraise_fatal(exc: BaseException) -> None:
    if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError, GeneratorExit)):
        raise exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return clip_name(text.splitlines()[0], 120) if text else type(exc).__name__
