"""Quoting data values in messages without leaking identifiers or free text.

Case data concerns real people. A message may quote a value only when it is a short token
from a closed vocabulary (a header, a coded answer such as `Y` or `post_custody`); anything
else, and anything that is also an identifier or a note in the same data, is described by
its length instead. Both ingest and `regress --input` use this one rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from hmip_cli.framework import Framework

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


# ---- whole columns: which ones hold identifiers or free text ---------------------------
# A case file handed to `regress --input` is arbitrary: its id and notes columns may have
# any names. A text column is treated as sensitive when the schema says so (case_id, notes),
# when it has one distinct value per row (an identifier), when it has more distinct values
# than a coded answer could (`max_levels`), or when any value is too long to be a code.


def identifying_columns(fw: Framework | None = None) -> tuple[str, ...]:
    """The columns framework `fw` (default: the default framework) marks identifying or
    free text (the shipped ones: case_id, notes)."""
    from hmip_cli import framework

    return (framework.default() if fw is None else fw).identifying_columns()


def is_identifier(series: pl.Series) -> bool:
    """True when every non-missing value differs from every other one, among at least 3:
    a column that picks out single cases rather than groups of them."""
    present = series.drop_nulls()
    return present.len() >= 3 and present.n_unique() == present.len()


def sensitive_columns(
    frame: pl.DataFrame, max_levels: int = 50, fw: Framework | None = None
) -> list[str]:
    """Text columns of `frame` whose values must never be quoted (see the comment above;
    `fw` names the identifying columns, default: the default framework's)."""
    import polars as pl

    named = set(identifying_columns(fw))
    out = []
    for name, dtype in frame.schema.items():
        if not (dtype == pl.String or isinstance(dtype, pl.Categorical)):
            continue  # numbers, Booleans, dates and Enums (a declared vocabulary) are not text
        s = frame.get_column(name).cast(pl.String)
        if (
            name in named
            or is_identifier(s)
            or s.n_unique() > max_levels + 1  # + 1: null counts as a unique value
            or bool((s.str.len_chars() > MAX_QUOTED).any())
        ):
            out.append(name)
    return out


def frame_secrets(frame: pl.DataFrame, max_levels: int = 50) -> frozenset[str]:
    """`secret_set` of every value in the sensitive columns of `frame`."""
    return secret_set(
        v for c in sensitive_columns(frame, max_levels) for v in frame.get_column(c).to_list()
    )
