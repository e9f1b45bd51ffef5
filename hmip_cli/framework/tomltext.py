"""TOML text helpers the standard library lacks: where a key is (for error messages) and
how a value is written (for `hmip framework export`).

`tomllib` parses but forgets positions, so `locate()` finds a key's line by scanning the
text for table headers and `key =` lines. It is best-effort: a key inside an inline table
is located at the line of the inline table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

PathPart = str | int
Path = tuple[PathPart, ...]

_HEADER = re.compile(r"^\s*(\[\[|\[)\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_\-]+))\s*[=.]""")


def _headers(lines: list[str]) -> list[tuple[int, str, bool]]:
    """(line number, dotted table name, is array-of-tables) for every header line."""
    out = []
    in_multiline = False
    for i, line in enumerate(lines, 1):
        # Skip the inside of multi-line strings, where a '[' line is text, not a header.
        if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
            in_multiline = not in_multiline
            continue
        if in_multiline:
            continue
        m = _HEADER.match(line)
        if m:
            name = ".".join(p.strip().strip('"') for p in m[2].split("."))
            out.append((i, name, m[1] == "[["))
    return out


def _key_line(lines: list[str], start: int, end: int, key: str) -> int | None:
    """The line in [start, end] (1-based, inclusive) where `key = ...` is set."""
    for i in range(start, end + 1):
        m = _KEY.match(lines[i - 1])
        if m and (m[1] or m[2] or m[3]) == key:
            return i
    return None


def locate(text: str, path: Path) -> int | None:
    """The line (1-based) where the value at `path` is set, e.g. ("columns", 3, "levels")
    for the `levels` key of the fourth `[[columns]]` table; None if it cannot be found."""
    lines = text.splitlines()
    headers = _headers(lines)
    prefix = ""
    start, end = 1, len(lines)
    # The table's own lines run from its header to the next header.
    own_end = headers[0][0] - 1 if headers else len(lines)
    best: int | None = None
    i = 0
    while i < len(path):
        part = path[i]
        if not isinstance(part, str):
            break
        name = f"{prefix}.{part}" if prefix else part
        nxt = path[i + 1] if i + 1 < len(path) else None
        key_at = _key_line(lines, start, own_end, part)
        if key_at is not None:
            return key_at  # a plain key, or an inline table / array holding the rest
        inside = [h for h in headers if start <= h[0] <= end and h[1] == name]
        if isinstance(nxt, int):
            arrays = [h for h in inside if h[2]]
            if nxt >= len(arrays):
                break
            header = arrays[nxt]
            i += 2
        else:
            tables = [h for h in inside if not h[2]]
            if not tables:
                break
            header = tables[0]
            i += 1
        best = header[0]
        later = [h for h in headers if h[0] > header[0] and h[0] <= end]
        own_end = later[0][0] - 1 if later else end
        outside = [h for h in later if not h[1].startswith(name + ".")]
        start, end = header[0], outside[0][0] - 1 if outside else end
        prefix = name
    return best


# --------------------------------------------------------------------------------------
# Writing values
# --------------------------------------------------------------------------------------

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_BARE = re.compile(r"^[A-Za-z0-9_\-]+$")

Value = str | int | float | bool | Sequence["Value"] | Mapping[str, "Value"]


def string(s: str) -> str:
    out = "".join(_ESCAPES.get(ch, ch) for ch in s)
    out = "".join(ch if ord(ch) >= 0x20 or ch == "\t" else f"\\u{ord(ch):04x}" for ch in out)
    return f'"{out}"'


def key(k: str) -> str:
    return k if _BARE.match(k) else string(k)


def value(v: Value) -> str:
    """One TOML value, inline (lists and tables on one line)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if math.isnan(v):
            return "nan"
        return repr(v)
    if isinstance(v, str):
        return string(v)
    if isinstance(v, Mapping):
        inner = ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items())
        return "{ " + inner + " }" if inner else "{}"
    return "[" + ", ".join(value(x) for x in v) + "]"


def assignment(k: str, v: Value, width: int = 100) -> str:
    """`key = value`, with a long list of strings spread over several lines."""
    line = f"{key(k)} = {value(v)}"
    if len(line) <= width or isinstance(v, (str, Mapping)) or not isinstance(v, Sequence):
        return line
    items = "".join(f"    {value(x)},\n" for x in v)
    return f"{key(k)} = [\n{items}]"
