"""The one place that turns a result frame into text: table, csv, tsv, json, markdown.

Commands build a Polars frame (public, snake_case columns) and call `emit()`. Human
tables go through Rich; machine formats are produced from the frame itself so they are
never truncated or styled.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import polars as pl

from hmip_cli.errors import BadRequest


class Format(str, Enum):
    table = "table"
    csv = "csv"
    tsv = "tsv"
    json = "json"
    markdown = "markdown"


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
    right_aligned: tuple[str, ...] = ()  # text columns holding numbers ("68.8 [low]")


# --------------------------------------------------------------------------------------
# Numbers for people
# --------------------------------------------------------------------------------------
# Percentages are shown to one decimal place, rounded half up (ties away from zero) on the
# exact value: 99/144 = 68.75% is shown as 68.8. (The bulletin printed 68.7 for that cell,
# i.e. it rounded half down or truncated; we follow the usual publication convention, so
# that cell differs from the bulletin by design.) Python's own f"{x:.1f}" rounds the
# binary float half-to-even, which would give 68.8 here but 0.2 for 0.25: not used.


def percent_text(n_yes: int, n: int) -> str:
    """100 * n_yes / n to one decimal place, rounded half up in exact integer arithmetic."""
    if n <= 0:
        raise ValueError("n must be positive")
    tenths = (2000 * n_yes + n) // (2 * n)
    return f"{tenths // 10}.{tenths % 10}"


def round_1dp(value: float, signed: bool = False) -> str:
    """A float (a percentage, a difference in points) to one decimal place, half up.

    The float is first snapped to 9 decimal places, which recovers the exact decimal
    value of any ratio of counts that has a finite decimal expansion (such as 68.75), so
    ties are recognised despite binary rounding error; ties then round away from zero.
    """
    from decimal import ROUND_HALF_UP, Decimal

    d = Decimal(repr(float(value))).quantize(Decimal("1e-9"), rounding=ROUND_HALF_UP)
    d = d.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if d == 0:
        d = abs(d)  # no "-0.0"
    text = f"{d:,}"
    return f"+{text}" if signed and d > 0 else text


def _fmt_cell(value, is_percent: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if is_percent:
            return round_1dp(value)
        return f"{value:.4g}" if abs(value) < 1e-3 else f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def to_text(tables: list[Table], fmt: Format) -> str:
    """Render one or more tables in a machine or human format and return the text."""
    if fmt is Format.table:
        return _rich_text(tables)
    if fmt is Format.json:
        if len(tables) == 1:
            payload = _json_rows(tables[0].frame)
        else:
            payload = [{"title": t.title, "rows": _json_rows(t.frame)} for t in tables]
        return json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n"
    if fmt in (Format.csv, Format.tsv):
        sep = "," if fmt is Format.csv else "\t"
        frames = [t.frame for t in tables]
        if len(frames) > 1:
            # Several tables in one CSV: stack them with a `table` column (the title) so it
            # stays one CSV; `table_title` if a frame already has a column named `table`.
            key = "table_title" if any("table" in f.columns for f in frames) else "table"
            frames = [f.select(pl.lit(t.title).alias(key), pl.all()) for f, t in zip(frames, tables)]
            frame = pl.concat(frames, how="diagonal_relaxed")
        else:
            frame = frames[0]
        buf = io.BytesIO()
        frame.write_csv(buf, separator=sep)
        return buf.getvalue().decode("utf-8")
    if fmt is Format.markdown:
        return "\n".join(_markdown(t) for t in tables)
    raise BadRequest(f"unknown format {fmt!r}")


def _json_rows(frame: pl.DataFrame) -> list[dict]:
    rows = frame.to_dicts()
    for row in rows:
        for k, v in row.items():
            if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
                row[k] = None
    return rows


def _header(t: Table, col: str) -> str:
    return t.display.get(col, col)


def _visible(t: Table) -> list[str]:
    return [c for c in t.frame.columns if c not in t.hidden]


def markdown_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _markdown(t: Table) -> str:
    cols = _visible(t)
    lines = []
    if t.title:
        lines += [f"### {t.title}", ""]
    lines.append("| " + " | ".join(markdown_escape(_header(t, c)) for c in cols) + " |")
    lines.append("|" + "|".join("---:" if t.frame.schema[c].is_numeric() or c in t.right_aligned else "---"
                                for c in cols) + "|")
    for row in t.frame.select(cols).iter_rows():
        cells = [markdown_escape(_fmt_cell(v, c in t.percent_columns)) for v, c in zip(row, cols)]
        lines.append("| " + " | ".join(cells) + " |")
    for note in t.notes:
        lines += ["", f"_{markdown_escape(note)}_"]
    return "\n".join(lines) + "\n"


def _rich_text(tables: list[Table]) -> str:
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    out = io.StringIO()
    width = int(os.environ.get("COLUMNS", "0") or 0) or None
    if width is None:
        import shutil

        width = max(shutil.get_terminal_size((120, 24)).columns, 80)
    # Rendered into a buffer without a terminal, so no colour codes are ever produced;
    # NO_COLOR is honoured as well for clarity.
    console = Console(file=out, width=width, no_color=True if "NO_COLOR" in os.environ else None,
                      force_terminal=False, highlight=False, markup=False, emoji=False)
    for t in tables:
        cols = _visible(t)
        rt = RichTable(title=Text(t.title) if t.title else None, title_justify="left")
        for c in cols:
            right = t.frame.schema[c].is_numeric() or c in t.right_aligned
            rt.add_column(Text(_header(t, c)), justify="right" if right else "left", overflow="fold")
        for row in t.frame.select(cols).iter_rows():
            rt.add_row(*[Text(_fmt_cell(v, c in t.percent_columns)) for v, c in zip(row, cols)])
        console.print(rt)
        for note in t.notes:
            console.print(Text(note), style="dim")
        console.print()
    return out.getvalue()


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


def emit(tables: Table | list[Table], fmt: Format = Format.table, output: Path | None = None) -> None:
    if isinstance(tables, Table):
        tables = [tables]
    write_text(to_text(tables, fmt), output)
