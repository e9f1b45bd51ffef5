"""Readers: every supported format in, one all-text frame out, with spreadsheet row numbers.

Whatever the format, a reader returns a `RawFile`: the header exactly as written and a
frame whose cells are all strings (or null), plus a row-number column (`ROW`) counting
the way a spreadsheet user counts: the header is row 1, the first case row 2. Typing is
left to validation so that every bad cell can be reported with its row and column,
instead of the first one stopping the reader.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from hmip_cli.errors import BadInput, BadRequest, Problem

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
        headers, frame, problems = _read_delimited(
            name, data, "\t" if fmt == "tsv" else ",", encoding
        )
    elif fmt == "excel":
        headers, frame, problems = _read_excel(name, data, sheet)
    elif fmt == "spss":
        headers, frame, problems = _read_spss(name, data)
    else:
        headers, frame, problems = _read_parquet(name, data)
    del data
    # Rows with nothing in them (blank lines, a spreadsheet's empty rows) are not cases.
    value_cols = [c for c in frame.columns if c != ROW]
    if value_cols:
        empty = frame.select(
            pl.all_horizontal([pl.col(c).is_null() for c in value_cols])
        ).to_series()
        if empty.any():  # filtering copies every column: only when there is something to drop
            frame = frame.filter(~empty)
    if frame.height == 0:
        raise BadInput(f"{name}: no cases (the file has a header row but no data rows)")
    return RawFile(name, source, digest, frame, headers, problems)


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
    if b"\x00" in data[:8192]:
        raise BadInput(f"{name}: this is a binary file, not CSV text")


def _decode(name: str, data: bytes, encoding: str | None) -> bytes:
    """UTF-8 bytes for Polars: checked when no encoding is given, converted when one is."""
    if encoding and encoding.lower().replace("-", "").replace("_", "") not in ("utf8", "utf8sig"):
        try:
            return data.decode(encoding).encode("utf-8")
        except LookupError:
            raise BadRequest(
                f"unknown encoding {encoding!r} (try utf-8, cp1252 or latin-1)"
            ) from None
        except UnicodeDecodeError as exc:
            row = data[: exc.start].count(b"\n") + 1
            raise BadInput(
                f"{name}, row {row}: not valid {encoding} text "
                f"(byte 0x{data[exc.start]:02x}); try another --encoding"
            ) from None
    return data


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


def _read_delimited(name: str, data: bytes, sep: str, encoding: str | None):
    data = _decode(name, data, encoding)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
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
        raise (
            _not_utf8(name, data) or BadInput(f"{name}: {_csv_trouble(data, sep, exc)}")
        ) from None
    header = [("" if h is None else h) for h in raw.row(0)]
    frame = raw.slice(1)
    frame.columns = [f"c{i}" for i in range(len(header))]
    frame = frame.with_row_index(ROW, offset=2)
    headers, frame, problems = _name_columns(name, header, frame)
    if len(headers) == 1 and (";" in headers[0] or "\t" in headers[0]) and sep == ",":
        problems.append(
            Problem(
                name,
                1,
                None,
                None,
                "the header has one column; is the file separated by ';' or tabs? "
                "hmip reads comma-separated .csv and tab-separated .tsv",
            )
        )
    return headers, frame, problems


def _csv_trouble(data: bytes, sep: str, exc: BaseException) -> str:
    """Find the row Polars choked on with the (slow, exact) csv module: error path only."""
    text = data.decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    width = None
    try:
        for i, record in enumerate(reader, start=1):
            if width is None:
                width = len(record)
            elif len(record) > width:
                return (
                    f"row {i} has {len(record)} cells but the header has {width} "
                    "(a stray comma, or an unquoted comma inside a value?)"
                )
    except csv.Error as err:
        return f"row {reader.line_num}: not readable as CSV ({err})"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "quote" in first.lower() or '"' in first:
        return 'not readable as CSV: an unclosed quote (") somewhere in the file'
    return f"not readable as CSV ({first})"


def _name_columns(name: str, header: list[str], frame: pl.DataFrame):
    """Give the frame the header's names; report blank and repeated header cells."""
    problems: list[Problem] = []
    names: list[str] = []
    seen: dict[str, int] = {}
    keep = []
    for i, h in enumerate(header):
        h = str(h).strip()
        col = f"c{i}"
        if h == "":
            if frame.get_column(col).drop_nulls().str.strip_chars().str.len_chars().sum() > 0:
                problems.append(
                    Problem(name, 1, f"#{i + 1}", None, "a column with values has no header")
                )
            continue
        if h == ROW:
            problems.append(
                Problem(name, 1, h, None, "this column name is reserved by hmip; rename it")
            )
            continue
        if h in seen:
            problems.append(
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
    return names, frame, problems


def _read_excel(name: str, data: bytes, sheet: str | None):
    import fastexcel

    try:
        reader = fastexcel.read_excel(data)
        sheets = reader.sheet_names
        if sheet is not None and sheet not in sheets:
            raise BadInput(
                f"{name}: no sheet named {sheet!r}; the workbook has: "
                + ", ".join(repr(s) for s in sheets)
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
        raise BadInput(f"{name}: the sheet {loaded.name!r} is empty")
    raw = raw.select(pl.all().cast(pl.String))
    header = [("" if h is None else _excel_header(h)) for h in raw.row(0)]
    frame = raw.slice(1)
    frame.columns = [f"c{i}" for i in range(len(header))]
    frame = frame.with_row_index(ROW, offset=2)
    return _name_columns(name, header, frame)


def _excel_header(h: str) -> str:
    # A numeric header cell comes back as "1.0"; keep what the user typed.
    return h[:-2] if h.endswith(".0") and h[:-2].isdigit() else h


def _read_spss(name: str, data: bytes):
    import tempfile

    import pyreadstat

    # pyreadstat reads paths only; the bytes are already in memory (and hashed), so a
    # private temporary copy guarantees we validate exactly what we hashed.
    with tempfile.NamedTemporaryFile(suffix=".sav") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            frame, _meta = pyreadstat.read_sav(
                tmp.name, output_format="polars", apply_value_formats=True
            )
        except _READ_ERRORS as exc:
            _reraise_fatal(exc)
            raise BadInput(f"{name}: not a readable SPSS file ({_first_line(exc)})") from None
    return _typed_to_text(name, frame)


def _read_parquet(name: str, data: bytes):
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except _READ_ERRORS as exc:
        _reraise_fatal(exc)
        raise BadInput(f"{name}: not a readable Parquet file ({_first_line(exc)})") from None
    return _typed_to_text(name, frame)


def _typed_to_text(name: str, frame: pl.DataFrame):
    """A typed frame (SPSS, Parquet) as text, so it is validated like a spreadsheet."""
    header = list(frame.columns)
    if ROW in header:
        raise BadInput(f"{name}: a column is named {ROW!r}, which hmip reserves")
    exprs = []
    for col, dtype in frame.schema.items():
        e = pl.col(col)
        if dtype == pl.Boolean:
            e = pl.when(e).then(pl.lit("yes")).when(~e).then(pl.lit("no"))
        elif isinstance(dtype, (pl.Datetime,)):
            e = e.dt.date()
        exprs.append(e.cast(pl.String).alias(col))
    frame = frame.select(exprs).with_row_index(ROW, offset=2)
    return header, frame, []


def _reraise_fatal(exc: BaseException) -> None:
    if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError, GeneratorExit)):
        raise exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
