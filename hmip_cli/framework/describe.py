"""A framework (and the shipped list) as frames, for `hmip framework list` and `show`.

Each function returns (title, frame) pairs with public snake_case columns; the CLI turns
them into tables. Nothing here prints.
"""

from __future__ import annotations

import polars as pl

from hmip_cli.framework import model as M
from hmip_cli.framework import registry

Titled = tuple[str, pl.DataFrame]


def _text(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(values)


def shipped() -> list[Titled]:
    """The shipped frameworks and crosswalks.

    Frameworks: name, default, title, areas, measures, questions, columns, file.
    Crosswalks: name, from_framework, to_framework, exact, approximate, none, file.
    """
    rows = []
    for name in registry.names():
        fw = registry.load(name)
        rows.append(
            {
                "name": name,
                "default": name == registry.DEFAULT,
                "title": fw.title,
                "areas": len(fw.areas),
                "measures": len(fw.measures),
                "questions": len(fw.questions),
                "columns": len(fw.stored_columns()),
                "file": registry.shipped_path(name).name,
            }
        )
    cw_rows = []
    for name in registry.crosswalk_names():
        cw = registry.load_crosswalk(name)
        count = {m: sum(x.match == m for x in cw.links) for m in ("exact", "approximate", "none")}
        cw_rows.append(
            {
                "name": name,
                "from_framework": cw.source,
                "to_framework": cw.target,
                **count,
                "file": f"{name}.crosswalk.toml",
            }
        )
    cw_schema = {
        "name": pl.String,
        "from_framework": pl.String,
        "to_framework": pl.String,
        "exact": pl.Int64,
        "approximate": pl.Int64,
        "none": pl.Int64,
        "file": pl.String,
    }
    return [
        ("Frameworks", pl.DataFrame(rows)),
        ("Crosswalks", pl.DataFrame(cw_rows, schema=cw_schema)),
    ]


def _allowed(c: M.ColumnSpec) -> str:
    if c.type == "yes_no":
        return "yes, no"
    if c.levels:
        labels = c.labels or c.levels
        return "; ".join(f"{v} ({lab})" if lab != v else v for v, lab in zip(c.levels, labels))
    if c.minimum is not None or c.maximum is not None:
        lo = "" if c.minimum is None else f"{c.minimum:g}"
        hi = "" if c.maximum is None else f"{c.maximum:g}"
        return f"{lo} to {hi}"
    return ""


def _rule_text(d: M.DerivedSpec) -> str:
    r = d.rule
    if isinstance(r, M.CutRule):
        bands = []
        for i, level in enumerate(d.levels):
            lo = r.lower[i]
            hi = r.lower[i + 1] if i + 1 < len(r.lower) else None
            left = "" if lo == float("-inf") else f"{lo:g} <= "
            right = "" if hi is None else f" < {hi:g}"
            bands.append(f"{left}{r.source}{right}: {level}")
        return "; ".join(bands)
    if isinstance(r, M.GroupRule):
        return "; ".join(f"{code}: {r.source} in ({', '.join(m)})" for code, m in r.groups)
    if isinstance(r, M.YearRule):
        return f"calendar year of {r.source}"
    return "number of gate columns that are yes"


def framework_tables(fw: M.Framework) -> list[Titled]:
    """Everything a framework declares, one frame per section (empty sections left out)."""
    out: list[Titled] = []
    out.append(
        (
            f"Framework {fw.name}",
            pl.DataFrame(
                [
                    {
                        "name": fw.name,
                        "title": fw.title,
                        "description": fw.description,
                        "file": fw.origin,
                        "areas": f"{len(fw.areas)} {fw.wording.area_noun_plural}",
                        "measures": len(fw.measures),
                        "questions": len(fw.questions),
                        "gate": fw.gate_column("{area}") if fw.gate else "",
                        "max_per_case": fw.gate.max_per_case if fw.gate else None,
                        "format": fw.format_version,
                    }
                ]
            ),
        )
    )
    out.append(
        (
            "Case attributes",
            pl.DataFrame(
                [
                    {
                        "name": c.name,
                        "type": c.type,
                        "required": c.required,
                        "allowed_values": _allowed(c),
                        "identifying": c.identifying or c.free_text,
                        "free_text": c.free_text,
                        "aliases": _text(c.aliases),
                        "description": c.description,
                    }
                    for c in fw.columns
                ]
            ),
        )
    )
    if fw.derived:
        out.append(
            (
                "Derived columns",
                pl.DataFrame(
                    [
                        {
                            "name": d.name,
                            "type": d.type,
                            "rule": _rule_text(d),
                            "levels": _text(d.levels),
                            "labels": _text(d.labels),
                            "replaces_stored": d.replaces_stored,
                            "description": d.description,
                        }
                        for d in fw.derived
                    ]
                ),
            )
        )
    noun = fw.wording.area_noun_plural
    out.append(
        (
            f"Judgements: {noun} x measures",
            pl.DataFrame(
                [
                    {
                        "item": f"{a.key}/{m.key}",
                        "column": fw.judgement_column(a, m),
                        "area": a.label,
                        "measure": m.label,
                        "question": fw.judgement_question(a, m),
                        "applies": fw.applicable_text(m.applies, a),
                        "figure": m.figure,
                    }
                    for a in fw.areas
                    for m in fw.measures
                ]
            ),
        )
    )
    if fw.questions:
        out.append(
            (
                "Case-level questions",
                pl.DataFrame(
                    [
                        {
                            "item": q.key,
                            "column": q.column,
                            "who": q.who,
                            "topic": q.topic,
                            "table": q.table,
                            "label": q.label,
                            "applies": fw.applicable_text(q.applies),
                        }
                        for q in fw.questions
                    ]
                ),
            )
        )
    out.append(
        (
            "Breakdowns",
            pl.DataFrame(
                [
                    {
                        "key": b.key,
                        "column": b.column,
                        "label": b.label,
                        "aliases": _text(b.aliases),
                        "levels": _text(b.levels),
                        "default": spec.default,
                        "candidate": spec.candidate,
                    }
                    for b, spec in zip(fw.all_breakdowns(), fw.breakdowns)
                ]
            ),
        )
    )
    out.append(("Publication wording", wording_frame(fw)))
    if fw.sources:
        out.append(
            (
                "Sources",
                pl.DataFrame(
                    [
                        {
                            "title": s.title,
                            "publisher": s.publisher,
                            "date": s.date,
                            "url": s.url,
                            "used_for": s.used_for,
                        }
                        for s in fw.sources
                    ]
                ),
            )
        )
    if fw.assumptions:
        out.append(("Assumptions", pl.DataFrame({"assumption": list(fw.assumptions)})))
    return out


def wording_frame(fw: M.Framework) -> pl.DataFrame:
    """Every piece of publication wording: where (section), key, text."""
    rows: list[dict[str, str]] = []
    w = fw.wording
    for k in w.__dataclass_fields__:
        v = getattr(w, k)
        if v:
            rows.append({"where": "wording", "key": k, "text": v})
    for m in fw.measures:
        for k in m.wording.__dataclass_fields__:
            v = getattr(m.wording, k)
            if v:
                rows.append({"where": f"measure {m.key}", "key": k, "text": v})
    for t in fw.topics:
        for k in ("heading", "report_heading", "finding", "note"):
            rows.append({"where": f"topic {t.key}", "key": k, "text": getattr(t, k)})
    for qt in fw.question_tables:
        rows.append({"where": f"table {qt.number}", "key": "title", "text": qt.title})
    for p in fw.profile:
        rows.append({"where": f"profile {p.key}", "key": "label", "text": p.label})
    for c in fw.comparisons:
        for k in ("lower", "higher", "same"):
            rows.append(
                {"where": f"comparison {c.first}/{c.second}", "key": k, "text": getattr(c, k)}
            )
    return pl.DataFrame(rows, schema={"where": pl.String, "key": pl.String, "text": pl.String})
