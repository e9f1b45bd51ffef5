"""The one place that turns a result frame into text: table, csv, tsv, json, markdown.

Commands build a Polars frame (public, snake_case columns) and call `emit()`. Human
tables go through Rich; machine formats are produced from the frame itself so they are
never truncated or styled.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import sys
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import polars as pl

from hmip_cli.errors import BadRequest
from hmip_cli.layout import (  # noqa: F401  (re-exported: render.percent_text, ... as before)
    P_STYLES,
    Column,
    Grid,
    half_up,
    p_text,
    percent_text,
    round_1dp,
)


class Format(str, Enum):
    table = "table"
    csv = "csv"
    tsv = "tsv"
    json = "json"
    markdown = "markdown"
    xlsx = "xlsx"
    ods = "ods"
    html = "html"


# `-o FILE` picks the format from the extension when --format is not given.
EXTENSIONS: dict[str, Format] = {
    ".txt": Format.table,
    ".csv": Format.csv,
    ".tsv": Format.tsv,
    ".json": Format.json,
    ".md": Format.markdown,
    ".markdown": Format.markdown,
    ".xlsx": Format.xlsx,
    ".ods": Format.ods,
    ".html": Format.html,
    ".htm": Format.html,
}
BINARY_FORMATS = (Format.xlsx, Format.ods)
MACHINE_FORMATS = (Format.csv, Format.tsv, Format.json)  # for programs: no progress bars
# Extensions only `hmip chart` writes: a table command asked for one is told where to go.
CHART_EXTENSIONS = (".svg", ".png")


# Whether the data behind this output are synthetic (`hmip synth` output): the CLI sets it
# when it loads the store, and every title says so. A ContextVar, not a global, so library
# callers in threads do not see each other's data.
_SYNTHETIC: ContextVar[bool] = ContextVar("hmip_synthetic", default=False)
SYNTHETIC_SUFFIX = " (synthetic data)"


def mark_synthetic(flag: bool) -> None:
    _SYNTHETIC.set(bool(flag))


def data_synthetic() -> bool:
    return _SYNTHETIC.get()


def shown_title(title: str) -> str:
    """A table title as people see it: marked when the data are synthetic."""
    return title + SYNTHETIC_SUFFIX if title and data_synthetic() else title


def resolve_format(fmt: Format | None, output: Path | None, *, given: bool = True) -> Format:
    """The output format: from `output`'s extension unless --format was `given`; an
    extension that contradicts a given --format is a usage error (`--format csv -o x.xlsx`)."""
    if output is not None and is_directory(output):
        return fmt if given and fmt is not None else Format.csv  # -o DIR/: one CSV per table
    suffix = Path(output).suffix.lower() if output is not None else ""
    if suffix in CHART_EXTENSIONS:
        raise BadRequest(
            f"{Path(output).name!r}: this command writes tables, not figures; use a .csv, .tsv, "  # type: ignore[arg-type]
            ".json, .md, .xlsx, .ods or .html name (figures: hmip chart ... -o FILE.svg)"
        )
    implied = EXTENSIONS.get(suffix)
    if given and fmt is not None:
        if implied is not None and implied is not fmt:
            raise BadRequest(
                f"--format {fmt.value} contradicts the file name {Path(output).name!r} "  # type: ignore[arg-type]
                f"(which means {implied.value}): drop --format or change the extension"
            )
        return fmt
    return implied or fmt or Format.table


@dataclass
class Table:
    """A frame plus what a person needs to read it: a title, notes, and display hints.

    `display` optionally maps column -> header for the human table; columns missing from
    it are shown under their own names. `hidden` columns are left out of the human table
    but kept in machine formats.
    """

    frame: pl.DataFrame
    title: str = ""
    notes: list[str] = field(default_factory=list)
    display: dict[str, str] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    percent_columns: tuple[str, ...] = ()  # shown to one decimal place in tables
    right_aligned: tuple[str, ...] = ()  # text columns holding numbers ("68.8 [u]")
    p_columns: tuple[str, ...] = ()  # p-values, shown by `p_text` in `p_style`
    # SPSS's Sig. style by default: the tables with p columns are regress's, laid out as SPSS's
    p_style: str = "spss"
    decimals: dict[str, int] = field(default_factory=dict)  # other than 3 for floats in tables
    vertical: bool = False  # human table as "label  value" lines (for one-row summaries)
    # Shorthand explained above the table ("[b] break in series: ..."), as the guidance
    # asks; spreadsheets explain every code above their tables anyway (report/workbook.py).
    legend: list[str] = field(default_factory=list)
    name: str = ""  # snake_case key in JSON and the file name of `-o DIR/`; default: from title
    # The --min-n behind its [u] / [c] markers, for the legend a spreadsheet or HTML page
    # writes above it when the table brings none of its own (None: the default, 30).
    min_n: int | None = None

    def layout(self) -> Grid:
        """The table as people see it (`layout.Grid`, what every human-format writer reads):
        the visible columns under their headers, each with its kind (so its unit, alignment
        and how its numbers read), the frame's values, notes and legend."""
        columns = [self._column(c) for c in self.frame.columns if c not in self.hidden]
        rows = self.frame.select([c.key for c in columns]).to_dicts()
        return Grid(
            self.title,
            columns,
            rows,
            notes=list(self.notes),
            legend=list(self.legend),
            p_style=self.p_style,
            vertical=self.vertical,
        )

    def _column(self, name: str) -> Column:
        dtype = self.frame.schema[name]
        if name in self.percent_columns:
            kind = "percent_exact"  # the frame keeps full precision; shown to one place
        elif name in self.p_columns:
            kind = "p"
        elif dtype.is_integer():
            kind = "count"
        elif dtype.is_numeric():
            kind = "decimal"
        else:
            kind = "text"
        right = name in self.right_aligned or dtype.is_temporal()
        return Column(
            name,
            strip_controls(self.display.get(name, name), keep_newlines=False),
            kind,
            align="right" if right else "",
            decimals=self.decimals.get(name, 3),
        )


def to_text(tables: list[Table], fmt: Format, extra: dict | None = None) -> str:
    """Render one or more tables in a machine or human format and return the text.

    JSON is the one document of `envelope.document` (`extra` adds keys such as regress's
    `models`). CSV/TSV of several tables in one stream (standard output) are stacked with a
    `table` column holding each table's name (`table_name` if a frame already has a
    `table` column); `emit` writes them one file per table to `-o DIR/` instead."""
    if fmt is Format.table:
        return _rich_text(tables)
    if fmt is Format.json:
        from hmip_cli.envelope import document

        payload = document(tables, extra)
        # allow_nan=False: the document is cleaned (NaN/inf -> null); never write invalid JSON
        text = json.dumps(payload, indent=2, ensure_ascii=False, default=str, allow_nan=False)
        return text + "\n"
    if fmt in (Format.csv, Format.tsv):
        if len(tables) == 1:
            return _delimited(tables[0].frame, fmt)
        from hmip_cli.envelope import table_names

        frames = [t.frame for t in tables]
        key = "table_name" if any("table" in f.columns for f in frames) else "table"
        stacked = pl.concat(
            [f.select(pl.lit(n).alias(key), pl.all()) for f, n in zip(frames, table_names(tables))],
            how="diagonal_relaxed",
        )
        return _delimited(stacked, fmt)
    if fmt is Format.markdown:
        return "\n".join(_markdown(t) for t in tables)
    raise BadRequest(f"unknown format {fmt!r}")


def _delimited(frame: pl.DataFrame, fmt: Format) -> str:
    buf = io.BytesIO()
    csv_safe(frame).write_csv(buf, separator="," if fmt is Format.csv else "\t")
    return buf.getvalue().decode("utf-8")


# Backslash-escaped in Markdown: the backslash itself, the cell separator, emphasis and code
# marks, and the brackets of links and images (so a shorthand code is written \[c\] and
# reads [c] wherever it is rendered).
_MARKDOWN_SPECIAL = ("\\", "|", "*", "_", "`", "~", "[", "]")


def markdown_escape(text: str) -> str:
    """Text for Markdown (a table cell, title, note or paragraph): the one escaper of every
    Markdown output. Data cannot add HTML, links, images, emphasis, rows or cells: control
    characters go (`strip_controls`), line breaks become spaces, HTML's special characters
    become entities and Markdown's are backslash-escaped (CommonMark: any ASCII punctuation
    may be escaped, and the backslash is not shown)."""
    text = strip_controls(text, keep_newlines=False)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in _MARKDOWN_SPECIAL:
        text = text.replace(ch, "\\" + ch)
    return text


def markdown_table(g: Grid, *, caption: bool = False) -> list[str]:
    """The one Markdown table writer: its lines (joined with newlines). The title is a
    heading ("### Title"), or with `caption` (a table inside a document: the report) an
    anchor (`g.id`) and a bold caption; then the legend (its first line a paragraph, the
    rest a list), the table (numbers right-aligned) and each note in italics."""
    esc = markdown_escape
    lines: list[str] = []
    if caption:
        lines += [f'<a id="{g.id}"></a>', "", f"**{esc(g.title)}**", ""]
    elif g.title:
        lines += [f"### {esc(g.title)}", ""]
    if g.legend:
        lines += [esc(g.legend[0]), ""]
        if g.legend[1:]:
            lines += [f"- {esc(x)}" for x in g.legend[1:]] + [""]
    lines.append("| " + " | ".join(esc(c.header) for c in g.columns) + " |")
    lines.append("|" + "|".join("---:" if c.right else "---" for c in g.columns) + "|")
    lines += ["| " + " | ".join(esc(x) for x in row) + " |" for row in g.cells()]
    for note in g.notes:
        lines += ["", f"_{esc(note)}_"]
    return lines


def _markdown(t: Table) -> str:
    g = t.layout()
    g.title = shown_title(g.title)
    return "\n".join(markdown_table(g)) + "\n"


DEFAULT_WIDTH = 120  # tables written to a file or a pipe, with no COLUMNS to go by
MIN_WIDTH = 20  # narrower than this, even one record per line cannot be read


def columns_env() -> int | None:
    """$COLUMNS when it is a usable width (a whole number from 1 to 10,000), else None:
    `COLUMNS=abc`, `1e3`, `-5` or `0` are ignored rather than crashing a command."""
    text = os.environ.get("COLUMNS", "").strip()
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 1 <= value <= 10_000 else None


def terminal_width() -> int:
    """Width for human tables: $COLUMNS if usable; else the real width of the terminal
    stdout is on (shells do not export COLUMNS, so this is the usual case, however narrow
    or wide the terminal is); else DEFAULT_WIDTH for a file or pipe."""
    width = columns_env()
    if width is None:
        try:
            if sys.stdout.isatty():
                width = os.get_terminal_size(sys.stdout.fileno()).columns or None
        except (OSError, ValueError, AttributeError):  # no descriptor, or not a terminal
            width = None
    return max(width or DEFAULT_WIDTH, MIN_WIDTH)


def _longest_word(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(w) for w in text.split()), default=0)


def _rich_text(tables: list[Table]) -> str:
    """Rich tables sized for the terminal. Numbers are never wrapped or cut: a column of
    numbers is as wide as its widest cell; headers and text wrap between words. When the
    columns cannot fit side by side even so, the table is shown one record at a time
    ("label  value" lines, like psql's expanded display) rather than cutting cells."""
    from rich.console import Console
    from rich.text import Text

    out = io.StringIO()
    width = terminal_width()
    # Rendered into a buffer without a terminal, so no colour codes are ever produced;
    # NO_COLOR is honoured as well for clarity.
    console = Console(
        file=out,
        width=width,
        no_color=True if "NO_COLOR" in os.environ else None,
        force_terminal=False,
        highlight=False,
        markup=False,
        emoji=False,
    )
    shown: set[str] = set()
    for g in (t.layout() for t in tables):
        if g.title:
            console.print(Text(strip_controls(shown_title(g.title))))
        for line in g.legend:
            console.print(Text(strip_controls(line)))
        cells = [[strip_controls(x, keep_newlines=False) for x in row] for row in g.cells()]
        rt = None if g.vertical else _grid(g, cells, width)
        console.print(rt if rt is not None else _records(g, cells))
        # A note already printed under an earlier table of this output (the rounding rule,
        # what n means) is not repeated under every table.
        for note in g.notes:
            if note not in shown:
                shown.add(note)
                console.print(Text(strip_controls(note)), style="dim")
        console.print()
    # Rich pads cells and titles with spaces; trailing spaces only get in the way of copying.
    return "\n".join(line.rstrip() for line in out.getvalue().split("\n"))


def _grid(g: Grid, cells: list[list[str]], width: int):
    """The usual side-by-side table, or None when it cannot fit without cutting cells."""
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table as RichTable
    from rich.text import Text

    cols = g.columns
    headers = [c.header for c in cols]
    fixed = [c.right for c in cols]
    natural, minimum = [], []
    for i in range(len(cols)):
        column = [row[i] for row in cells]
        widest = max((cell_len(x) for x in column), default=0)
        natural.append(max(widest, cell_len(headers[i])))
        if fixed[i]:
            minimum.append(max(widest, _longest_word(headers[i]), 1))
        else:
            minimum.append(
                max(
                    max((_longest_word(x) for x in column), default=0), _longest_word(headers[i]), 1
                )
            )
    # Boxed ("│ x │": 3 characters per column + 1) when everything fits unwrapped; else compact
    # (no box, two spaces between columns, a rule under the header, text wrapped between
    # words); else one record at a time.
    boxed = 3 * len(cols) + 1
    compact = 2 * (len(cols) - 1)
    if sum(natural) + boxed <= width:
        overhead = boxed
        rt = RichTable(box=box.HEAVY_HEAD)
    elif sum(minimum) + compact <= width:
        overhead = compact
        rt = RichTable(
            box=box.Box("    \n    \n ── \n    \n    \n    \n    \n    \n", ascii=False),
            show_edge=False,
            pad_edge=False,
            padding=(0, 1, 0, 0),
            collapse_padding=True,
        )
    else:
        return None
    widths = list(natural)
    if sum(natural) + overhead > width:
        # Start from the minimum; share the spare width first among the text columns (so fewer
        # lines wrap), then among the headers of numbers, each up to its natural width.
        widths = list(minimum)
        spare = width - overhead - sum(minimum)
        for group in ([not f for f in fixed], fixed):
            want = [n - w if g else 0 for n, w, g in zip(natural, widths, group)]
            total = sum(want)
            if total and spare > 0:
                share = [min(w, w * spare // total) for w in want]
                widths = [w + x for w, x in zip(widths, share)]
                spare -= sum(share)
    for i in range(len(cols)):
        # An explicit width for every column: cells of numbers fit it exactly, so they are never
        # wrapped; headers wrap between words.
        rt.add_column(
            Text(headers[i]),
            justify="right" if fixed[i] else "left",
            overflow="fold",
            width=widths[i],
        )
    if overhead == compact and any(
        w < max(len(x) for x in [row[i] for row in cells] or [""]) for i, w in enumerate(widths)
    ):
        rt.show_lines = True  # without borders, a wrapped cell would read as a row of its own
    for row in cells:
        rt.add_row(*[Text(x) for x in row])
    return rt


def _records(g: Grid, cells: list[list[str]]):
    """One record at a time: each column's header beside its value, records separated by a rule."""
    from rich import box
    from rich.table import Table as RichTable
    from rich.text import Text

    rt = RichTable(
        box=box.SIMPLE_HEAD if len(cells) > 1 else None,
        show_header=False,
        show_edge=False,
        pad_edge=False,
    )
    rt.add_column(overflow="fold", ratio=None, max_width=32)
    rt.add_column(overflow="fold")
    for r, row in enumerate(cells):
        shown = [(c.header, x) for c, x in zip(g.columns, row)]
        for j, (label, value) in enumerate(shown):
            rt.add_row(
                Text(label), Text(value), end_section=(j == len(shown) - 1 and r < len(cells) - 1)
            )
    return rt


# --------------------------------------------------------------------------------------
# Data cannot take over a spreadsheet or a terminal
# --------------------------------------------------------------------------------------
# Inspection names, source file names and any other text from the data go into outputs.
# A CSV cell starting with = + - @ (or tab/CR) is a formula to Excel and LibreOffice
# (OWASP "CSV injection"), so it gets a leading apostrophe, as the XLSX writer does; text
# shown on a terminal loses control characters and ANSI/OSC escape sequences, which could
# otherwise retitle the window, hide lines or plant a link.

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"[+-]?(\d[\d,]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?"  # "-3.5", "+1,200"
_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(\x07|\x1b\\)?"  # OSC ... BEL or ST (window title, hyperlinks)
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI (colours, cursor movement, erase)
    r"|\x1b[PX^_][^\x1b]*(\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[@-Z\\-_]?"  # any other escape
)
# C0 and C1 controls and DEL, plus the Unicode bidirectional overrides that reorder text
# (the first without the line feed, for text whose lines are kept).
_CONTROLS_BUT_LF = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def spreadsheet_safe(text: str) -> str:
    """`text`, with a leading apostrophe if a spreadsheet would read it as a formula. A
    plain number written as text ("-3.5", "+2") is left alone: it is not a formula."""
    if text.startswith(FORMULA_START) and not re.fullmatch(_PLAIN_NUMBER, text):
        return "'" + text
    return text


def csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with `spreadsheet_safe` applied to its text columns; numeric columns are
    untouched, so a negative difference stays a number."""
    text = [
        c for c, dt in frame.schema.items() if dt == pl.String or isinstance(dt, pl.Categorical)
    ]
    if not text:
        return frame
    starts = "^[" + re.escape("".join(FORMULA_START)) + "]"
    return frame.with_columns(
        pl.when(cell.str.contains(starts) & ~cell.str.contains(f"^{_PLAIN_NUMBER}$"))
        .then(pl.lit("'") + cell)
        .otherwise(cell)
        .alias(c)
        for c, cell in ((c, pl.col(c).cast(pl.String)) for c in text)
    )


def strip_controls(text: str, keep_newlines: bool = True) -> str:
    """`text` without escape sequences or control characters (a tab becomes a space; line
    breaks are kept, or become spaces with keep_newlines=False)."""
    text = _ESCAPES.sub("", text)
    if not keep_newlines:
        text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    text = text.replace("\t", " ")
    return (_CONTROLS_BUT_LF if keep_newlines else _CONTROLS).sub("", text)


def write_text(text: str, output: Path | None = None) -> None:
    """Write to --output (atomically) or to stdout, surviving a closed pipe (`| head`)."""
    if output is not None:
        from hmip_cli.fileio import atomic_write_bytes

        atomic_write_bytes(output, text.encode("utf-8"))
        return
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()
    except OSError as exc:  # Polars/pyarrow report EPIPE with errno None on some paths
        if exc.errno in (errno.EPIPE, None) and "pipe" in str(exc).lower():
            _quiet_broken_pipe()
        raise


def _quiet_broken_pipe() -> None:
    # Python docs, "Note on SIGPIPE": point stdout at devnull so the interpreter's final
    # flush does not raise again, then exit quietly.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor
        pass
    raise SystemExit(0)


def emit(
    tables: Table | list[Table],
    fmt: Format = Format.table,
    output: Path | None = None,
    extra: dict | None = None,
) -> None:
    """Write `tables` to `output` (else stdout) in `fmt`. XLSX and ODS (the publication
    workbook of `report.workbook`) need a file; HTML is one self-contained page. `extra`:
    keys added to the JSON document (`envelope.document`).

    CSV/TSV to a directory (`-o DIR/`, or an existing directory) write one file per table,
    DIR/NAME.csv; several tables to one CSV file are refused (they would not be one CSV)."""
    if isinstance(tables, Table):
        tables = [tables]
    if output is not None and is_directory(output):
        _emit_directory(tables, fmt, Path(output))
        return
    if fmt in BINARY_FORMATS:
        if output is None:
            raise BadRequest(f"{fmt.value} output needs --output FILE.{fmt.value}")
        from hmip_cli.fileio import atomic_write_bytes
        from hmip_cli.report.workbook import tables_bytes

        atomic_write_bytes(Path(output), tables_bytes(tables, fmt.value))
        return
    if fmt is Format.html:
        from hmip_cli.report.html import tables_page

        write_text(tables_page(tables), output)
        return
    if output is not None and fmt in (Format.csv, Format.tsv) and len(tables) > 1:
        from hmip_cli.envelope import table_names
        from hmip_cli.fileio import check_writable

        check_writable(Path(output))  # a target that cannot be written is the first thing to say

        folder = Path(output).with_suffix("")
        raise BadRequest(
            f"this output has {len(tables)} tables ({', '.join(table_names(tables))}), and one "
            f"{fmt.value} file holds one table: write one file per table with "
            f"-o {folder}/ (or use --format json for one file)"
        )
    write_text(to_text(tables, fmt, extra), output)


# `-o DIR/`: the trailing slash is lost when the option becomes a Path, so the CLI's parser
# says here which output was given as a directory.
_DIRECTORY: ContextVar[Path | None] = ContextVar("hmip_output_directory", default=None)


def request_directory(path: Path | None) -> None:
    _DIRECTORY.set(path)


def is_directory(output: Path | str) -> bool:
    """Whether `output` names a directory: one that exists, or `-o DIR/` (made if needed)."""
    path = Path(output)
    return path.is_dir() or _DIRECTORY.get() == path


_EXT = {Format.table: "txt", Format.markdown: "md"}


def _emit_directory(tables: list[Table], fmt: Format, folder: Path) -> None:
    if fmt not in (Format.csv, Format.tsv):
        raise BadRequest(
            f"-o {folder}/ writes one csv or tsv file per table; for {fmt.value} give a file "
            f"name (-o {folder / 'out'}.{_EXT.get(fmt, fmt.value)})"
        )
    from hmip_cli.envelope import table_names
    from hmip_cli.fileio import atomic_write_files

    atomic_write_files(
        [
            (folder / f"{name}.{fmt.value}", _delimited(t.frame, fmt).encode("utf-8"))
            for t, name in zip(tables, table_names(tables))
        ]
    )
