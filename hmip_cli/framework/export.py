"""A framework written back as a commented TOML file the analyst can edit.

`to_toml(fw)` writes every value the loader reads (defaults left out), with a comment
before each section saying what its keys mean, so `parse(to_toml(fw)) == fw` (a test
checks it for every shipped framework). Comments from the original file are not kept:
the sources and assumptions are data, so they survive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from hmip_cli.framework import model as M
from hmip_cli.framework.tomltext import Value, assignment

_RULE = "# " + "-" * 86

SECTION_HELP: dict[str, tuple[str, ...]] = {
    "framework": (
        "What this framework is. name: used with --framework (lower-case, digits, '-').",
        "assumptions: what the sources did not settle; sources: documents used, with what for.",
    ),
    "columns": (
        "Case attributes, in the stored order. type: text | date | yes_no | category | integer",
        "(bits = 8/16/32/64). levels: category codes in display order; labels: how they print.",
        "required: present and non-blank in every row. identifying: never printed (case ids).",
        "free_text: never printed or reported. minimum/maximum: allowed range of an integer.",
        "aliases: other header spellings; export_header: the header in spreadsheet exports.",
    ),
    "derived": (
        "Columns hmip computes (never ingested), in order. One rule each:",
        "  cut = { source = COLUMN, lower = [...] }: level i where lower[i] <= value < lower[i+1]",
        "  group = { source = COLUMN, groups = { CODE = [levels...] } }: levels grouped",
        '  count = "gate": how many gate columns are yes.',
        "  year = { source = DATE_COLUMN }: the calendar year of a date (an integer column).",
        "replaces_stored = true: a stored column recomputed where the rule gives a value.",
    ),
    "parties": ("Whose involvement decides whether a question is asked (applies.involved).",),
    "gate": (
        'A yes/no column per area (f"{area}_{suffix}") deciding whether its measures are asked.',
        "max_per_case: at most this many areas may be yes in one case.",
    ),
    "areas": (
        "Factors or standards, in display order. key: used in column names and on the command",
        "line; aliases: other keys accepted; phrase: how it reads in a sentence.",
    ),
    "measures": (
        'Judgements asked per area: column f"{area}_{suffix}", yes/no, blank = not applicable.',
        "question may use {area}. applies: gate = true (only where the gate is yes),",
        "involved = PARTY (only where that party was involved; blank otherwise),",
        'blank = "warn" | "not_applicable" (what a blank means where it applies).',
        "[measures.wording]: figure title and key-finding phrasing (key_finding: threshold |",
        "leaders | range).",
    ),
    "topics": ("What case-level questions are about, and how each topic is headed and phrased.",),
    "question_tables": ("The tables case-level questions are published in.",),
    "questions": ("Case-level judgements: one yes/no column each, blank = not applicable.",),
    "breakdowns": (
        "Variables rates are broken down by. column: a stored or derived column.",
        "default: a default breakdown of question tables; candidate: a default regression candidate.",
        "phrase: a group in a sentence ({label}; {lower}: in lower case), or three: first level,",
        "last level, any other.",
    ),
    "profile": ("Sample profile rows: cases where breakdown's column has level `code`.",),
    "comparisons": ("Key findings comparing two measures area by area ({count}, {n}).",),
    "wording": ("Publication wording not tied to one measure. Templates use {placeholders}.",),
}


def _num(x: float) -> Value:
    """Whole numbers as integers (16, not 16.0), so the file reads as it was written."""
    if math.isfinite(x) and x.is_integer():
        return int(x)
    return x


def _table(lines: list[str], header: str, items: Mapping[str, Value | None]) -> None:
    lines.append(header)
    for k, v in items.items():
        if v is None or v == "" or v == () or v == []:
            continue
        lines.append(assignment(k, v))
    lines.append("")


def _section(lines: list[str], name: str) -> None:
    lines += [_RULE, *(f"# {h}" for h in SECTION_HELP[name]), _RULE, ""]


def _applies(a: M.Applicability) -> dict[str, Value] | None:
    out: dict[str, Value] = {}
    if a.gate:
        out["gate"] = True
    if a.involved:
        out["involved"] = a.involved
    if a.blank != "warn":
        out["blank"] = a.blank
    return out or None


def _rule(d: M.DerivedSpec) -> tuple[str, Value]:
    r = d.rule
    if isinstance(r, M.CutRule):
        return "cut", {"source": r.source, "lower": [_num(x) for x in r.lower]}
    if isinstance(r, M.GroupRule):
        return "group", {"source": r.source, "groups": {c: list(m) for c, m in r.groups}}
    if isinstance(r, M.YearRule):
        return "year", {"source": r.source}
    return "count", r.of


def to_toml(fw: M.Framework) -> str:
    """The framework as a commented TOML file that `loader.parse` reads back unchanged."""
    lines = [
        f"# Framework {fw.name!r}, written by `hmip framework export`. Edit it, then use it",
        "# with --framework FILE. Every key is described in docs/frameworks.md.",
        "",
    ]
    _section(lines, "framework")
    _table(
        lines,
        "[framework]",
        {
            "format": fw.format_version,
            "name": fw.name,
            "title": fw.title,
            "description": fw.description,
            "assumptions": list(fw.assumptions),
        },
    )
    for s in fw.sources:
        _table(
            lines,
            "[[framework.sources]]",
            {
                "title": s.title,
                "url": s.url,
                "publisher": s.publisher,
                "date": s.date,
                "used_for": s.used_for,
            },
        )

    _section(lines, "columns")
    for c in fw.columns:
        _table(
            lines,
            "[[columns]]",
            {
                "name": c.name,
                "type": c.type,
                "bits": c.bits if c.type == "integer" else None,
                "description": c.description,
                "required": True if c.required else None,
                "identifying": True if c.identifying and not c.free_text else None,
                "free_text": True if c.free_text else None,
                "levels": list(c.levels) if c.type == "category" else None,
                "labels": list(c.labels),
                "minimum": None if c.minimum is None else _num(c.minimum),
                "maximum": None if c.maximum is None else _num(c.maximum),
                "applicable": c.applicable if c.applicable != "always" else None,
                "aliases": list(c.aliases),
                "export_header": c.export_header,
            },
        )

    if fw.derived:
        _section(lines, "derived")
    for d in fw.derived:
        rule_key, rule_value = _rule(d)
        _table(
            lines,
            "[[derived]]",
            {
                "name": d.name,
                "type": d.type,
                "bits": d.bits if d.type == "integer" else None,
                "description": d.description,
                "levels": list(d.levels),
                "labels": list(d.labels),
                "replaces_stored": True if d.replaces_stored else None,
                rule_key: rule_value,
            },
        )

    if fw.parties:
        _section(lines, "parties")
    for p in fw.parties:
        _table(lines, "[[parties]]", {"key": p.key, "label": p.label})

    if fw.gate is not None:
        g = fw.gate
        _section(lines, "gate")
        _table(
            lines,
            "[gate]",
            {
                "suffix": g.suffix,
                "kind": g.kind,
                "description": g.description,
                "noun": g.noun,
                "noun_plural": g.noun_plural,
                "required": g.required,
                "max_per_case": g.max_per_case,
                "export_phrase": g.export_phrase,
            },
        )

    _section(lines, "areas")
    for a in fw.areas:
        _table(
            lines,
            "[[areas]]",
            {
                "key": a.key,
                "label": a.label,
                "aliases": list(a.aliases),
                "phrase": a.phrase,
                "export_short": a.export_short,
            },
        )

    _section(lines, "measures")
    for m in fw.measures:
        _table(
            lines,
            "[[measures]]",
            {
                "key": m.key,
                "suffix": m.suffix,
                "label": m.label,
                "question": m.question,
                "figure": m.figure,
                "aliases": list(m.aliases),
                "applies": _applies(m.applies),
            },
        )
        w = m.wording
        _table(
            lines,
            "[measures.wording]",
            {
                "figure_title": w.figure_title,
                "finding_subject": w.finding_subject,
                "finding_noun": w.finding_noun,
                "finding_more_likely": w.finding_more_likely,
                "key_finding": w.key_finding,
                "export_phrase": w.export_phrase,
            },
        )

    if fw.topics:
        _section(lines, "topics")
    for t in fw.topics:
        _table(
            lines,
            "[[topics]]",
            {
                "key": t.key,
                "heading": t.heading,
                "report_heading": t.report_heading,
                "finding": t.finding,
                "note": t.note,
            },
        )
    if fw.question_tables:
        _section(lines, "question_tables")
    for qt in fw.question_tables:
        _table(lines, "[[question_tables]]", {"number": qt.number, "title": qt.title})
    if fw.questions:
        _section(lines, "questions")
    for q in fw.questions:
        _table(
            lines,
            "[[questions]]",
            {
                "key": q.key,
                "column": q.column,
                "who": q.who,
                "topic": q.topic,
                "label": q.label,
                "table": q.table,
                "aliases": list(q.aliases),
                "applies": _applies(q.applies),
                "export_header": q.export_header,
            },
        )

    _section(lines, "breakdowns")
    for b in fw.breakdowns:
        _table(
            lines,
            "[[breakdowns]]",
            {
                "key": b.key,
                "column": b.column,
                "label": b.label,
                "aliases": list(b.aliases),
                "default": True if b.default else None,
                "candidate": True if b.candidate else None,
                "phrase": b.phrase[0] if len(b.phrase) == 1 else list(b.phrase),
            },
        )

    if fw.profile:
        _section(lines, "profile")
    for row in fw.profile:
        _table(
            lines,
            "[[profile]]",
            {
                "key": row.key,
                "label": row.label,
                "short": row.short,
                "breakdown": row.breakdown,
                "code": row.code,
            },
        )

    if fw.comparisons:
        _section(lines, "comparisons")
    for cmp in fw.comparisons:
        _table(
            lines,
            "[[comparisons]]",
            {
                "first": cmp.first,
                "second": cmp.second,
                "lower": cmp.lower,
                "higher": cmp.higher,
                "same": cmp.same,
            },
        )

    _section(lines, "wording")
    w2 = fw.wording
    _table(lines, "[wording]", {k: getattr(w2, k) for k in w2.__dataclass_fields__})
    return "\n".join(lines).rstrip("\n") + "\n"
