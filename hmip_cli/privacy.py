"""Quoting data values in messages without leaking identifiers or free text.

Case data concerns real people. A message may quote a value only when it is a short token
from a closed vocabulary (a header, a coded answer such as `Y` or `post_custody`); anything
else, and anything that is also an identifier or a note in the same data, is described by
its length instead. Both ingest and `regress --input` use this one rule.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_QUOTED = 30  # longer values are never quoted: codes are short, free text is not


def is_quotable(value: object, secrets: frozenset[str] | set[str] = frozenset()) -> bool:
    """True when `value` may appear verbatim in a message."""
    text = str(value)
    return (
        len(text) <= MAX_QUOTED
        and text.isprintable()
        and text not in secrets
        and text.strip() not in secrets
    )


def describe_value(value: object, secrets: frozenset[str] | set[str] = frozenset()) -> str:
    """`'Y'` for a quotable value, else `a value of N characters` (never the value itself)."""
    text = str(value)
    if is_quotable(text, secrets):
        return repr(text)
    return f"a value of {len(text):,} characters"


def secret_set(values: Iterable[object]) -> frozenset[str]:
    """The identifiers and notes of a data set, as the strings a message might contain."""
    out: set[str] = set()
    for v in values:
        if v is None:
            continue
        text = str(v)
        out.add(text)
        out.add(text.strip())
    out.discard("")
    return frozenset(out)


MAX_NAME = 60  # headers, sheet names: longer ones are cut (a 5 MB header cell is not printed)


def clip_name(name: object, limit: int = MAX_NAME) -> str:
    """A header or sheet name as a message shows it, without quotes: invisible and control
    characters made visible (`\\ufeff`, `\\n`), cut to `limit` characters with `…`."""
    text = str(name)
    cut = len(text) > limit
    if cut:
        text = text[:limit]
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return text + "…" if cut else text


def quote_name(name: object, limit: int = MAX_NAME) -> str:
    """`'case_id'`: a header (a closed vocabulary, so quotable) clipped as `clip_name` does."""
    return f"'{clip_name(name, limit)}'"
