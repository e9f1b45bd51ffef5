"""Readers: every supported format in, one all-text frame out, with spreadsheet row numbers.

Whatever the format, a reader returns a `RawFile`: the header exactly as written and a
frame whose cells are all strings (or null), plus a row-number column (`ROW`) counting
the way a spreadsheet user counts: the header is row 1, the first case row 2. Typing is
left to validation so that every bad cell can be reported with its row and column,
instead of the first one stopping the reader.

Files are read in batches (`open_file(...).batches()`): a CSV is cut into pieces of about
`BATCH_BYTES` at record ends, each parsed and checked on its own with its rows numbered as
in the whole file, so memory stays flat in the file size; the problems that concern the
whole file (capped lists, headerless columns) are gathered in `Source.problems`.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import sys
from collections.abc import Callable, Iterator
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


BATCH_BYTES = 16 * 2**20  # CSV text parsed and validated at a time (memory flat in file size)
BATCH_ROWS = 250_000  # rows of a workbook, SPSS or Parquet file validated at a time
_BLOCK = 1 << 20  # the first bytes read: format, encoding and emptiness checks


@dataclass
class Source:
    """One input file, read in batches of rows.

    `batches()` yields RawFiles of consecutive rows, numbered as in the whole file; the
    first carries the header, `head`, `sheet` and `other_sheets`. Once the last batch has
    been read, `sha256` is the hash of the file's bytes and `problems` holds what the
    reader found (capped over the whole file, not per batch).
    """

    name: str
    source: str
    fmt: str
    _batches: Callable[[Source], Iterator[RawFile]]
    sha256: str = ""
    problems: list[Problem] = field(default_factory=list)
    n_rows: int = 0

    def batches(self) -> Iterator[RawFile]:
        for raw in self._batches(self):
            raw.frame = _drop_empty_rows(raw.frame)
            raw.name, raw.source = self.name, self.source
            self.n_rows += raw.frame.height
            yield raw
        if self.n_rows == 0 and not any(p.severity == "error" for p in self.problems):
            raise BadInput(f"{self.name}: no cases (the file has a header row but no data rows)")


def open_file(
    path: str,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    stdin: io.BufferedReader | None = None,
    batch_bytes: int | None = None,
    batch_rows: int | None = None,
) -> Source:
    """Open one file (or stdin for "-") to be read in batches; BadInput for a file that is
    empty, or whose contents do not match its extension. Reading happens in `batches()`."""
    check_path(path)
    fmt = describe_format(path)
    size = batch_bytes or BATCH_BYTES
    data: bytes | None = None
    if path == STDIN:
        data = (stdin or sys.stdin.buffer).read()
        name, source = STDIN_NAME, STDIN_NAME
        first = data[:_BLOCK]
        blank = not data or data.isspace()
    else:
        name, source = path, Path(path).name
        first, blank = _first_block(Path(path))
    if blank:
        raise BadInput(f"{name}: the file is empty")
    _check_magic(name, first, fmt)
    if fmt in ("csv", "tsv"):
        sep = "\t" if fmt == "tsv" else ","

        def delimited(src: Source) -> Iterator[RawFile]:
            if data is not None:
                src.sha256 = hashlib.sha256(data).hexdigest()
                yield from _delimited_batches(src, io.BytesIO(data).read, sep, encoding, size)
                return
            with open(path, "rb") as fh:
                hashing = _Hashing(fh)
                yield from _delimited_batches(src, hashing.read, sep, encoding, size)
                src.sha256 = hashing.hexdigest()

        return Source(name, source, fmt, delimited)
    # Workbooks, SPSS and Parquet files are decoded whole by their libraries; their rows
    # are then checked in batches like a CSV's.
    whole = data if data is not None else Path(path).read_bytes()
    rows = batch_rows or BATCH_ROWS

    def sliced(src: Source) -> Iterator[RawFile]:
        src.sha256 = hashlib.sha256(whole).hexdigest()
        if fmt == "excel":
            raw = _read_excel(name, whole, sheet)
        elif fmt == "spss":
            raw = _read_spss(name, whole)
        else:
            raw = _read_parquet(name, whole)
        src.problems = raw.problems
        frame, raw.problems = raw.frame, []
        for start in range(0, max(frame.height, 1), rows):
            part = frame.slice(start, rows)
            n_bytes = len(whole) * part.height // max(frame.height, 1)
            if start == 0:
                raw.frame, raw.n_bytes = part, n_bytes
                yield raw
            else:
                yield RawFile(name, source, "", part, raw.headers, n_bytes=n_bytes)

    return Source(name, source, fmt, sliced)


def read_file(
    path: str,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    stdin: io.BufferedReader | None = None,
) -> RawFile:
    """Read one whole file (or stdin for "-") as text: every batch of `open_file` in one
    frame. Raises BadInput for unreadable files."""
    src = open_file(path, sheet=sheet, encoding=encoding, stdin=stdin)
    parts = list(src.batches())
    first = parts[0]
    first.frame = pl.concat([p.frame for p in parts]) if len(parts) > 1 else first.frame
    first.sha256, first.problems = src.sha256, src.problems
    return first


def _first_block(path: Path) -> tuple[bytes, bool]:
    """The file's first bytes, and whether the whole file is blank (read on only while it is)."""
    with open(path, "rb") as fh:
        first = fh.read(_BLOCK)
        block = first
        while block and block.isspace():
            block = fh.read(_BLOCK)
        return first, not first or (first.isspace() and not block)


class _Hashing:
    """A binary file's `read`, hashing every byte as it goes by."""

    def __init__(self, fh: io.BufferedReader):
        self.fh = fh
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        block = self.fh.read(n)
        self.sha.update(block)
        return block

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


def _drop_empty_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows with nothing in them (blank lines, a spreadsheet's empty rows) are not cases."""
    value_cols = [c for c in frame.columns if c != ROW]
    if not value_cols or frame.height == 0:
        return frame
    # A cell is empty when null (Polars reads an empty field so) or only spaces. Columns
    # are looked at one by one until every row has shown something (a case's id, in the
    # first): a typical file costs one column's test, not a joined string per row.
    first = pl.col(value_cols[0])
    if frame.select((first.is_not_null() & ~first.str.contains(r"^\s*$")).all()).item():
        return frame  # the usual case, in one Polars call: no row is empty in column 1
    empty = pl.Series([True] * frame.height)
    for c in value_cols:
        cells = frame.get_column(c)
        empty = empty & (cells.is_null() | cells.str.contains(r"^\s*$")).fill_null(True)
        if not empty.any():
            return frame
    if empty.any():  # filtering copies every column: only when there is something to drop
        frame = frame.filter(~empty)
    return frame


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


def _not_utf8(name: str, data: bytes, lines_before: int = 0) -> BadInput | None:
    """The message for a file that is not UTF-8 (None if it is): names --encoding.
    `lines_before`: newlines in the file before `data` (a later piece of it)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1 + lines_before
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


def _delimited_batches(
    src: Source, read: Callable[[int], bytes], sep: str, encoding: str | None, size: int
) -> Iterator[RawFile]:
    """A CSV/TSV in pieces of about `size` bytes cut at record ends (`_record_chunks`),
    each parsed on its own; rows are numbered as in the whole file. UTF-8 is read as it
    comes; a file in another encoding is decoded whole first (as before)."""
    name = src.name
    first = read(_BLOCK)
    bom = next((enc for mark, enc in _BOMS if first.startswith(mark)), None)
    try:
        wanted = codec_name(encoding) if encoding else None
    except BadRequest as exc:
        raise BadRequest(f"{name}: {exc} (--encoding)") from None
    if bom not in (None, "utf-8") or wanted not in (None, "utf-8", "utf-8-sig"):
        text = _to_utf8(name, first + read(-1), encoding)  # decoded whole
        first, read = text[:_BLOCK], io.BytesIO(text[_BLOCK:]).read
    else:
        first = _to_utf8(name, first, encoding)  # its checks; drops a UTF-8 byte-order mark
    if not first.strip():  # only blank so far (rare): the file is empty unless more follows
        first += read(-1)
        if not first.strip():
            raise BadInput(f"{name}: the file is empty")
    reading = _DelimitedState(name, sep)
    for chunk in _record_chunks(first, read, size):
        raw = reading.parse(chunk)
        if raw is not None:
            yield raw
    src.problems = reading.problems()


def _record_chunks(first: bytes, read: Callable[[int], bytes], size: int) -> Iterator[bytes]:
    """The text in pieces of about `size` bytes, each ending at the end of a record (a
    newline outside double quotes), so each piece parses on its own. A piece grows while
    no record ends in it (a value spanning many lines, an unclosed quote, no newlines)."""
    buf = bytearray(first)
    target = size
    eof = False
    while True:
        while not eof and len(buf) < target:
            block = read(target - len(buf))
            if block:
                buf += block
            else:
                eof = True
        # (The first block read may be longer than a piece: it is cut too.)
        cut = len(buf) if eof and len(buf) <= target else _last_record_end(buf, target)
        if cut is None:
            target *= 2
            continue
        if cut:
            yield bytes(buf[:cut])
            del buf[:cut]
        target = size
        if eof and not buf:
            return


def _last_record_end(buf: bytearray | bytes, limit: int | None = None) -> int | None:
    """Just after the last newline (in the first `limit` bytes) with an even number of
    double quotes before it (outside any quoted value: a quote inside one is doubled), or
    None."""
    pos = buf.rfind(b"\n", 0, limit)
    if pos < 0:
        return None
    quotes = buf.count(b'"', 0, pos)
    while quotes % 2:
        prev = buf.rfind(b"\n", 0, pos)
        if prev < 0:
            return None
        quotes -= buf.count(b'"', prev, pos)
        pos = prev
    return pos + 1


def _first_record_end(buf: bytes) -> int:
    """Just after the first newline outside double quotes (the header's end), or the end."""
    pos = buf.find(b"\n")
    while pos >= 0 and buf.count(b'"', 0, pos) % 2:
        pos = buf.find(b"\n", pos + 1)
    return len(buf) if pos < 0 else pos + 1


class _DelimitedState:
    """What reading a delimited file piece by piece carries from one piece to the next:
    the header, the rows and lines read so far, and the problems to cap over the file."""

    def __init__(self, name: str, sep: str):
        self.name, self.sep = name, sep
        self.header: list[str] | None = None
        self.header_bytes = b""
        self.binary_start = False
        self.records = 0  # records read so far (the header included)
        self.lines = 0  # newlines read so far
        self.columns: _HeaderColumns | None = None
        self.short: list[Problem] = []
        self.n_short = 0
        self.nul: list[Problem] = []
        self.nul_header: list[Problem] = []
        self.filled: set[str] = set()  # headerless columns seen holding something

    def parse(self, chunk: bytes) -> RawFile | None:
        name, sep = self.name, self.sep
        first = self.header is None
        if first:
            if b"\x00" in chunk and _looks_binary(chunk):
                raise BadInput(f"{name}: this is a binary file, not CSV text")
            self.binary_start = _looks_binary(chunk)
            if b"\r" in chunk and b"\n" not in chunk:
                raise BadInput(
                    f"{name}: the lines end with a carriage return only (classic Mac line "
                    "endings), so the whole file reads as one row; re-save it with Windows or "
                    "Unix line endings (Excel: Save As 'CSV UTF-8')"
                )
            _check_separator(name, chunk, sep)
        has_nul = b"\x00" in chunk
        if has_nul and self.binary_start:
            raise BadInput(f"{name}: this is a binary file, not CSV text")
        # The header's bytes go in front of a later piece for the checks that need a whole
        # file's shape (cells per row, the exact CSV diagnosis); rows are then shifted.
        whole = chunk if first else self.header_bytes + chunk
        offset = 0 if first else self.records - 1
        try:
            # has_header=False: the header is read as a row, so duplicate or blank header
            # cells are seen as written (Polars would rename them).
            if first:
                raw = pl.read_csv(
                    io.BytesIO(chunk),
                    has_header=False,
                    infer_schema=False,
                    separator=sep,
                    quote_char='"',
                )
            else:
                assert self.header is not None
                raw = pl.read_csv(
                    io.BytesIO(chunk),
                    has_header=False,
                    separator=sep,
                    quote_char='"',
                    schema={f"c{i}": pl.String for i in range(len(self.header))},
                    missing_columns="insert",
                )
        except pl.exceptions.NoDataError:
            if first:
                raise BadInput(f"{name}: the file is empty") from None
            return None
        except _READ_ERRORS as exc:
            _reraise_fatal(exc)
            # Polars checks UTF-8 itself (fast); the slow exact diagnosis runs only on
            # failure. Polars' own message quotes the cell it choked on: never shown.
            raise (
                _not_utf8(name, chunk, self.lines)
                or BadInput(f"{name}{_csv_trouble(whole, sep, offset)}")
            ) from None
        if first:
            self.header = [("" if h is None else h) for h in raw.row(0)]
            self.header_bytes = chunk[: _first_record_end(chunk)]
            head = [["" if v is None else v for v in r] for r in raw.head(10).iter_rows()]
            frame = raw.slice(1)
            frame.columns = [f"c{i}" for i in range(len(self.header))]
            self.columns = _header_columns(name, self.header)
        else:
            head = []
            frame = raw
        assert self.header is not None and self.columns is not None
        frame = frame.with_row_index(ROW, offset=self.records + (1 if not first else 2))
        n_rows = raw.height if first else raw.height + 1
        short = _short_rows(name, whole, sep, frame, len(self.header), n_rows, offset)
        self.records += raw.height
        self.lines += chunk.count(b"\n")
        if short:  # misaligned cells: nothing in a short row is checked (or quoted) further
            rows = pl.Series([p.row for p in short if p.row is not None], dtype=pl.UInt32)
            frame = frame.filter(~pl.col(ROW).is_in(rows.implode()))
            self.n_short += len(short)
            self.short += short[: MAX_LINES + 1 - len(self.short)]
        if has_nul:
            if first:
                self.nul_header = _nul_header(name, self.header)
            self.nul += _nul_cells(name, self.header, frame)
        frame = self.columns.apply(frame, self.filled)
        return RawFile(name, name, "", frame, self.columns.names, [], n_bytes=len(chunk), head=head)

    def problems(self) -> list[Problem]:
        """The reader's problems about the whole file, each kind capped once."""
        short = self.short
        if self.n_short > MAX_LINES:
            last = short[MAX_LINES]
            rest = self.n_short - MAX_LINES
            summary = Problem(
                last.file,
                None,
                None,
                None,
                f"... and {rest:,} more rows with fewer cells than the header",
                last.severity,
                True,
                rest,
            )
            short = [*short[:MAX_LINES], summary]
        out = list(short)
        if self.nul_header or self.nul:
            cells = sorted(self.nul, key=lambda p: p.row or 0)
            out += self.nul_header + capped(cells, "cells with a NUL byte")
        if self.columns is not None:
            out += self.columns.problems(self.filled)
        return out


def _cells_per_row(data: bytes, sep: str, n_rows: int) -> pl.Series | None:
    """How many cells each record has (header first; null for blank lines), or None when
    that cannot be told. Fast path: the separators outside "..." between line ends counted
    over the bytes at once (NumPy; quote parity by a running count); a file with a value
    spanning lines (or an odd quote) goes to the exact csv module."""
    counts = _cells_per_line(data, sep, n_rows)
    if counts is not None:
        return counts
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


_FEW_QUOTED = 10_000  # quoted values in a piece checked one by one by `_every_line_full`


def _every_line_full(data: bytes, sep: str, n_rows: int, width: int) -> bool:
    """Whether every record is one line of `width` cells, told from counts over the
    whole piece (a few NumPy passes): as many lines as records, and (width - 1) separators
    outside "..." per line. Polars refuses a row with more cells than the header, so the
    total can only come out right when no line is short (or blank). False: look closer."""
    import numpy as np

    b = np.frombuffer(data, dtype=np.uint8)
    if int(np.count_nonzero(b == ord("\n"))) + (not data.endswith(b"\n")) != n_rows:
        return False
    sep_b = sep.encode()
    seps = int(np.count_nonzero(b == ord(sep)))
    n_quotes = int(np.count_nonzero(b == ord('"')))
    if n_quotes % 2 or n_quotes > 2 * _FEW_QUOTED:
        return False
    at = -1
    for _ in range(n_quotes // 2):  # each quoted value: its separators are inside it
        start = data.find(b'"', at + 1)
        at = data.find(b'"', start + 1)
        if data.find(b"\n", start, at) >= 0:
            return False  # a value spanning lines
        seps -= data.count(sep_b, start, at)
    return seps == n_rows * (width - 1)


def _cells_per_line(data: bytes, sep: str, n_rows: int) -> pl.Series | None:
    """`_cells_per_row` when every record is one line (else None), over the bytes at once
    (NumPy): separators per line, less those inside "..." (found from the quotes'
    positions: a quote inside a value is doubled, so they pair up)."""
    import numpy as np

    b = np.frombuffer(data, dtype=np.uint8)
    if b.size == 0:
        return None
    end_at = np.flatnonzero(b == ord("\n"))
    if end_at.size == 0 or end_at[-1] != b.size - 1:
        end_at = np.append(end_at, b.size)  # the last line has no line end
    if end_at.size != n_rows:
        return None  # a value spanning lines: not one record per line
    starts = np.concatenate(([0], end_at[:-1] + 1))
    sep_at = np.flatnonzero(b == ord(sep))
    cells = np.diff(np.searchsorted(sep_at, end_at), prepend=0) + 1
    quotes = np.flatnonzero(b == ord('"'))
    if quotes.size:
        if quotes.size % 2:
            return None  # a quote never closed
        opens, closes = quotes[0::2], quotes[1::2]
        line = np.searchsorted(end_at, opens)
        if (line != np.searchsorted(end_at, closes)).any():
            return None  # a value spanning lines
        quoted = np.searchsorted(sep_at, closes) - np.searchsorted(sep_at, opens)
        cells -= np.bincount(line, weights=quoted, minlength=cells.size).astype(np.int64)
    out = pl.Series("cells", cells.astype(np.uint32))
    one = np.flatnonzero(cells == 1)
    if one.size:  # a line of one cell may be blank (spaces only): no cells at all
        text = pl.Series([data[starts[i] : end_at[i]].decode("utf-8", "replace") for i in one])
        blank = one[(text.str.strip_chars() == "").to_numpy()]
        if blank.size:
            out = out.scatter(blank, None)
    return out


def _short_rows(
    name: str, data: bytes, sep: str, frame: pl.DataFrame, width: int, n_rows: int, offset: int
) -> list[Problem]:
    """A row with fewer cells than the header (a lost separator, a file cut off mid-row)
    is an error: Polars would fill the missing cells with blanks, i.e. "not applicable".
    `data` is the header's line and a piece of the file whose rows come `offset` rows later."""
    if _every_line_full(data, sep, n_rows, width):
        return []
    counts = _cells_per_row(data, sep, n_rows)
    if counts is None or counts[0] != width:
        return []
    short = (
        pl.DataFrame({"cells": counts.slice(1)})
        .with_row_index(ROW, offset=2 + offset)
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


_NUL = "a NUL byte (\\x00) in this cell: the file is damaged or not plain text; remove it"


def _nul_header(name: str, header: list[str]) -> list[Problem]:
    return [Problem(name, 1, f"#{i + 1}", None, _NUL) for i, h in enumerate(header) if "\x00" in h]


def _nul_cells(name: str, header: list[str], frame: pl.DataFrame) -> list[Problem]:
    """Cells holding a NUL byte (a damaged file, or binary pasted into text), at most
    MAX_LINES + 1 per column (the caller caps them over the whole file)."""
    what = _NUL
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
    return cells


def _csv_trouble(data: bytes, sep: str, offset: int = 0) -> str:
    """Find the row Polars choked on with the (slow, exact) csv module: error path only.
    Returns the message after the file name: ", row 4: ..." (or ": ..." without a row).
    `data` may be the header's line and a piece of the file `offset` rows further on."""
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
                    f", row {row + offset}: this row has {len(record)} cells but the header has {width} "
                    f"(a stray {what}, or an unquoted {what} inside a value? "
                    'a value holding one must be in double quotes: "a, b")'
                )
    except csv.Error as err:
        row += 1 + (offset if row > 0 else 0)
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


@dataclass
class _HeaderColumns:
    """What the header says about the columns: their names, which of the reader's columns
    (c0, c1, ...) they are, and the header's problems; headerless columns are reported only
    if some piece of the file has values in them."""

    file: str
    names: list[str]
    keep: list[tuple[str, str]]  # (reader's column, name)
    blank: list[tuple[str, int]]  # (reader's column, position) of blank header cells
    cell_problems: list[Problem]  # invisible characters, reserved names
    twice: list[Problem]

    def apply(self, frame: pl.DataFrame, filled: set[str]) -> pl.DataFrame:
        """The frame with the header's names; headerless columns with values go in `filled`."""
        todo = [c for c, _ in self.blank if c not in filled]
        if todo:  # which headerless columns hold something: one pass, not one per column
            hits = frame.select(
                (pl.col(c).str.strip_chars().str.len_chars().fill_null(0).sum() > 0) for c in todo
            ).row(0)
            filled.update(c for c, hit in zip(todo, hits) if hit)
        return frame.select(pl.col(ROW), *[pl.col(c).alias(h) for c, h in self.keep])

    def problems(self, filled: set[str]) -> list[Problem]:
        blank = [
            Problem(self.file, 1, f"#{i + 1}", None, "a column with values has no header")
            for c, i in self.blank
            if c in filled
        ]
        return (
            self.cell_problems
            + capped(blank, "columns with values but no header")
            + capped(self.twice, "repeated header cells")
        )


def _header_columns(name: str, header: list[str]) -> _HeaderColumns:
    """Name the columns from the header; note blank and repeated header cells."""
    problems: list[Problem] = []
    twice: list[Problem] = []
    names: list[str] = []
    seen: dict[str, int] = {}
    keep = []
    blank = []
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
            blank.append((col, i))
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
    return _HeaderColumns(name, names, keep, blank, problems, twice)


def _name_columns(name: str, header: list[str], frame: pl.DataFrame):
    """Give a whole frame the header's names; report blank and repeated header cells."""
    columns = _header_columns(name, header)
    filled: set[str] = set()
    frame = columns.apply(frame, filled)
    return columns.names, frame, columns.problems(filled)


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

    from hmip_cli.statfiles import ReaderCrashed, read_stat

    # pyreadstat reads paths only; the bytes are already in memory (and hashed), so a
    # private temporary copy guarantees we validate exactly what we hashed. It reads in a
    # child process: a damaged file can crash it (statfiles.py).
    with tempfile.NamedTemporaryFile(suffix=".sav") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            frame, meta = read_stat("sav", tmp.name)
        except ReaderCrashed as exc:
            raise BadInput(f"{name}: {exc}") from None
        except _READ_ERRORS as exc:
            _reraise_fatal(exc)
            raise BadInput(f"{name}: not a readable SPSS file ({_first_line(exc)})") from None
    frame, mixed = _value_labels(frame, meta)
    return _typed_to_text(name, frame, mixed)


def _value_labels(frame: pl.DataFrame, meta) -> tuple[pl.DataFrame, set[str]]:
    """The SPSS value labels applied, as pyreadstat's `apply_value_formats=True` does, in
    one select (pyreadstat's makes several Polars calls per column, most of the cost of
    reading a small file). A labelled column also holding values without a label is
    returned unchanged and named in the set: pyreadstat makes it an Object column of
    labels and numbers, which `_typed_to_text` refuses."""
    mixed: set[str] = set()
    if not (meta.value_labels and meta.variable_to_label):
        return frame, mixed
    labelled = {
        column: labels
        for column, label_set in meta.variable_to_label.items()
        if (labels := meta.value_labels.get(label_set)) and column in frame.columns
    }
    if not labelled:
        return frame, mixed
    distinct = frame.select(pl.col(c).unique().implode() for c in labelled).row(0)
    exprs = []
    for (column, labels), values in zip(labelled.items(), distinct):
        if all(v is None for v in values):  # nothing to label
            continue
        table = dict(labels)
        for v in values:
            if v not in table:
                table[v] = v  # a value without a label stays as it is
        kind = type(next(iter(table.values())))
        if not all(type(v) is kind for v in table.values() if v is not None):
            mixed.add(column)
            continue
        exprs.append(pl.col(column).replace_strict(table))
    return (frame.with_columns(exprs) if exprs else frame), mixed


def _read_parquet(name: str, data: bytes) -> RawFile:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except _READ_ERRORS as exc:
        _reraise_fatal(exc)
        raise BadInput(f"{name}: not a readable Parquet file ({_first_line(exc)})") from None
    return _typed_to_text(name, frame)


_NESTED = (pl.List, pl.Array, pl.Struct, pl.Duration, pl.Object)


def _typed_to_text(name: str, frame: pl.DataFrame, mixed: set[str] | None = None) -> RawFile:
    """A typed frame (SPSS, Parquet) as text, so it is validated like a spreadsheet.

    A cell must hold one plain value: list, array, struct, duration and object columns,
    and binary columns that are not UTF-8 text, are refused with their names and types.
    `mixed`: columns of labels and unlabelled values (`_value_labels`), Object columns.
    """
    header = list(frame.columns)
    if ROW in header:
        raise BadInput(f"{name}: a column is named {ROW!r}, which hmip reserves")
    exprs = []
    refused: list[str] = []
    for col, dtype in frame.schema.items():
        e = pl.col(col)
        if mixed and col in mixed:
            dtype = pl.Object()
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
