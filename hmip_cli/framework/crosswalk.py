"""Crosswalks: which judgements (and breakdowns) of one framework correspond to which of
another, so a trend can run across a change of framework.

A link is `exact` (the same question asked of the same cases: the series continues),
`approximate` (a comparable question: the series continues, marked as a break [b]) or
`none` (no counterpart: not trended). An item a crosswalk does not list has no
counterpart. Each item appears at most once on each side, so a trend series is never
ambiguous. The file format is in docs/frameworks.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hmip_cli.errors import BadRequest
from hmip_cli.framework.loader import FrameworkInvalid, Reader, parse_toml, read_text
from hmip_cli.framework.model import Framework, Source
from hmip_cli.framework.tomltext import Path as KeyPath

MATCHES = ("exact", "approximate", "none")
CONTINUES = ("exact", "approximate")  # matches a trend continues across


@dataclass(frozen=True)
class Link:
    """One correspondence. `source` is an item of the `from` framework, `target` of the `to`
    framework (item keys as `Framework.items()`: "area/measure" or a question key); either
    is None for a `none` link listed to explain why an item has no counterpart."""

    source: str | None
    target: str | None
    match: str
    note: str = ""


@dataclass(frozen=True)
class BreakdownLink:
    """A breakdown of one framework and its counterpart, with level codes mapped."""

    source: str
    target: str | None
    match: str
    levels: tuple[tuple[str, str], ...] = ()  # (source level, target level)
    note: str = ""


@dataclass(frozen=True)
class Crosswalk:
    name: str
    title: str
    source: str  # the `from` framework's name
    target: str  # the `to` framework's name
    links: tuple[Link, ...]
    breakdowns: tuple[BreakdownLink, ...] = ()
    sources: tuple[Source, ...] = ()
    assumptions: tuple[str, ...] = ()
    origin: str = field(default="", compare=False)

    def counterpart(self, item: str, framework: str) -> tuple[str | None, str]:
        """(the corresponding item in the other framework, the match) for an item of
        `framework` (either side); (None, "none") when the crosswalk has no link for it."""
        if framework == self.source:
            link = next((x for x in self.links if x.source == item), None)
            return (link.target, link.match) if link else (None, "none")
        if framework == self.target:
            link = next((x for x in self.links if x.target == item), None)
            return (link.source, link.match) if link else (None, "none")
        raise BadRequest(
            f"crosswalk {self.name!r} maps {self.source} and {self.target}, not {framework!r}"
        )

    def continues(self, item: str, framework: str) -> bool:
        """Whether a trend of `item` continues across the framework change."""
        other, match = self.counterpart(item, framework)
        return other is not None and match in CONTINUES

    def breakdown_counterpart(self, key: str) -> BreakdownLink | None:
        return next((b for b in self.breakdowns if b.source == key), None)


CROSSWALK_KEYS = ("crosswalk", "link", "breakdown")
HEAD_KEYS = ("format", "name", "title", "from", "to", "assumptions", "sources")
LINK_KEYS = ("from", "to", "match", "note")
BREAKDOWN_LINK_KEYS = ("from", "to", "match", "levels", "note")

Resolver = Callable[[str], Framework]


def parse_crosswalk(text: str, resolve: Resolver, where: str = "crosswalk") -> Crosswalk:
    """A crosswalk from TOML text; `resolve` loads a framework by the name the file gives."""
    doc = parse_toml(text, where, "crosswalk")
    r = Reader(text, where)
    r.known(doc, CROSSWALK_KEYS, ())
    hp: KeyPath = ("crosswalk",)
    head = r.table(doc, "crosswalk", (), required=True)
    r.known(head, HEAD_KEYS, hp)
    version = r.integer(head, "format", hp, default=1)
    if version != 1:
        r.problem((*hp, "format"), f"format {version} is not supported (this hmip reads format 1)")
    name = r.text_(head, "name", hp, required=True)
    src_name = r.text_(head, "from", hp, required=True)
    dst_name = r.text_(head, "to", hp, required=True)
    frameworks: dict[str, Framework | None] = {}
    for key, fname in (("from", src_name), ("to", dst_name)):
        if not fname:
            frameworks[key] = None
            continue
        try:
            frameworks[key] = resolve(fname)
        except (BadRequest, FrameworkInvalid) as exc:
            r.problem((*hp, key), f"cannot load framework {fname!r}: {str(exc).splitlines()[0]}")
            frameworks[key] = None
    src, dst = frameworks["from"], frameworks["to"]
    sources = []
    for i, s in enumerate(r.tables(head, "sources", hp)):
        sp: KeyPath = (*hp, "sources", i)
        r.known(s, ("title", "url", "publisher", "date", "used_for"), sp)
        sources.append(
            Source(
                r.text_(s, "title", sp, required=True),
                r.text_(s, "url", sp),
                r.text_(s, "publisher", sp),
                r.text_(s, "date", sp),
                r.text_(s, "used_for", sp),
            )
        )
    links = _read_links(r, doc, src, dst)
    blinks = _read_breakdown_links(r, doc, src, dst)
    if r.problems:
        raise FrameworkInvalid(r.problems, "crosswalk")
    return Crosswalk(
        name=name,
        title=r.text_(head, "title", hp),
        source=src.name if src is not None else src_name,  # a file's: its framework's name
        target=dst.name if dst is not None else dst_name,
        links=links,
        breakdowns=blinks,
        sources=tuple(sources),
        assumptions=r.texts(head, "assumptions", hp),
        origin=where,
    )


def _side(r: Reader, t: dict[str, Any], p: KeyPath, k: str, items: set[str] | None) -> str | None:
    v = r.text_(t, k, p) or None
    if v is not None and items is not None and v not in items:
        near = sorted(items)[:6]
        r.problem(
            (*p, k),
            f"no judgement {v!r} in that framework (items look like: {', '.join(near)}, ...)",
        )
    return v


def _read_links(
    r: Reader, doc: dict[str, Any], src: Framework | None, dst: Framework | None
) -> tuple[Link, ...]:
    src_items = set(src.items()) if src else None
    dst_items = set(dst.items()) if dst else None
    out: list[Link] = []
    seen: dict[tuple[str, str], KeyPath] = {}
    for i, t in enumerate(r.tables(doc, "link", ())):
        p: KeyPath = ("link", i)
        r.name_entry(p, str(t.get("from") or t.get("to") or ""))
        r.known(t, LINK_KEYS, p)
        a = _side(r, t, p, "from", src_items)
        b = _side(r, t, p, "to", dst_items)
        match = r.choice(t, "match", p, MATCHES, "none")
        if "match" not in t:
            r.problem((*p, "match"), f"required (one of {', '.join(MATCHES)})")
        valid = t.get("match") in MATCHES  # no follow-on complaints about a bad match
        if valid and match in CONTINUES and (a is None or b is None):
            r.problem(p, f"an {match} link needs both 'from' and 'to'")
        if valid and match == "none" and a is not None and b is not None:
            r.problem(
                (*p, "to"), "a 'none' link names one side only (the item without a counterpart)"
            )
        if a is None and b is None:
            r.problem(p, "give 'from', 'to' or both")
        for side, v in (("from", a), ("to", b)):
            if v is None:
                continue
            if (side, v) in seen:
                r.problem((*p, side), f"{v!r} is already linked by {r.show(seen[(side, v)])}")
            else:
                seen[(side, v)] = p
        out.append(Link(a, b, match, r.text_(t, "note", p)))
    return tuple(out)


def _read_breakdown_links(
    r: Reader, doc: dict[str, Any], src: Framework | None, dst: Framework | None
) -> tuple[BreakdownLink, ...]:
    out: list[BreakdownLink] = []
    seen: set[str] = set()
    for i, t in enumerate(r.tables(doc, "breakdown", ())):
        p: KeyPath = ("breakdown", i)
        r.name_entry(p, str(t.get("from") or ""))
        r.known(t, BREAKDOWN_LINK_KEYS, p)
        a = r.text_(t, "from", p, required=True)
        b = r.text_(t, "to", p) or None
        match = r.choice(t, "match", p, MATCHES, "none")
        if "match" not in t:
            r.problem((*p, "match"), f"required (one of {', '.join(MATCHES)})")
        a_levels: tuple[str, ...] = ()
        b_levels: tuple[str, ...] = ()
        if src and a:
            try:
                a_levels = src.breakdown(a).levels
            except BadRequest as exc:
                r.problem((*p, "from"), str(exc))
        if dst and b:
            try:
                b_levels = dst.breakdown(b).levels
            except BadRequest as exc:
                r.problem((*p, "to"), str(exc))
        if match in CONTINUES and b is None:
            r.problem(p, f"an {match} link needs 'to'")
        if a in seen:
            r.problem((*p, "from"), f"breakdown {a!r} is linked twice")
        seen.add(a)
        levels_t = r.table(t, "levels", p)
        pairs: list[tuple[str, str]] = []
        for code, other in levels_t.items():
            lp: KeyPath = (*p, "levels", code)
            if not isinstance(other, str):
                r.problem(lp, "expected the other framework's level in quotes")
                continue
            if a_levels and code not in a_levels:
                r.problem(lp, f"{code!r} is not a level of {a!r} ({', '.join(a_levels)})")
            if b_levels and other not in b_levels:
                r.problem(lp, f"{other!r} is not a level of {b!r} ({', '.join(b_levels)})")
            pairs.append((code, other))
        out.append(BreakdownLink(a, b, match, tuple(pairs), r.text_(t, "note", p)))
    return tuple(out)


def load_crosswalk_file(path: str | Path, resolve: Resolver) -> Crosswalk:
    p = Path(path)
    return parse_crosswalk(read_text(p, "crosswalk"), resolve, where=str(path))
