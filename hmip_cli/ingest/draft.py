"""Drafting a mapping file from an export (`hmip mapping draft`).

An export's headers are matched to the framework's stored columns by their words
(difflib similarity, prefixes such as "Emp" for employment, initials of a label's words
such as "RSH" or "S&H" for "risk of serious harm", and a few spreadsheet abbreviations: "ref",
"%", "OK"), and each column's few
distinct values to the column's codes and labels. The result is a TOML mapping in the
format `ingest --mapping` reads (docs/mapping.md), in which:

- headers and values ingest reads as they are get no line (they are listed in a comment);
- a confident match is an active line with a comment marking it a guess, for review;
- a header or value hmip cannot decide (no match, or two about as good) is a commented-out
  line marked REVIEW, with the candidates: left as it is, ingest stops at that column or
  value with its usual message, so nothing is read into the wrong place unnoticed.

Values are examined only in yes/no and category columns with at most `MAX_VALUES`
distinct values, and a value that is a case id or a note of the file, or looks like one,
is never written into the mapping.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from hmip_cli.framework.model import DictionaryColumn, Framework
from hmip_cli.ingest.mapping import normalise_header
from hmip_cli.ingest.readers import clean_header, read_file
from hmip_cli.ingest.validate import Secrets, _id_shaped, _parse_table
from hmip_cli.missing import is_missing

MAX_VALUES = 30  # more distinct values than this: free text or identifiers, not codes
SURE = 0.5  # a header match scoring less than this is not offered as a guess
MARGIN = 0.12  # ... nor one scoring within this of the next best column
REVIEW = "REVIEW"

_STOP = frozenset(
    "a an and are at by did do for from in is it of on or the their there this to was "
    "were where which who with".split()
)
# Spreadsheet abbreviations -> words a column's description uses.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "ref": ("identifier", "reference", "id"),
    "reference": ("identifier", "id"),
    "no": ("number",),
    "ok": ("sufficient", "sufficiently"),
    "%": ("percent",),
    "pct": ("percent",),
    "yr": ("year",),
    "dob": ("birth",),
    "info": ("information",),
}


# --------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """Lower-case words of `text` ("inspector's" -> "inspector"; "%" is a word)."""
    text = re.sub(r"'s\b", "", text.replace("\u2019", "'"))
    return [w for w in re.findall(r"[a-z0-9]+|%", text.lower()) if w not in _STOP]


def _initials(text: str) -> set[str]:
    """Initials of every run of two or more consecutive words ("Housing and benefits" -> "hb";
    "Sentence plan review" -> "spr", "sp", "pr")."""
    words = [w for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOP]
    out = set()
    for i in range(len(words)):
        for j in range(i + 2, len(words) + 1):
            out.add("".join(w[0] for w in words[i:j]))
    return out


def _acronyms(header: str) -> list[str]:
    """Candidate acronyms in a header: capitals joined by & or not ("R&H", "RSH", "CP")."""
    found = re.findall(r"\b[A-Z](?:&?[A-Z]){1,4}\b", header)
    return [a.replace("&", "").lower() for a in found]


def _similar(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if len(a) >= 3 and len(b) >= 3 and (a.startswith(b) or b.startswith(a)):
        return 0.9
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    return ratio if ratio >= 0.75 else 0.0


# --------------------------------------------------------------------------------------
# Targets: what a header may mean
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    column: DictionaryColumn
    words: frozenset[str]
    initials: frozenset[str]
    why: str  # shown in the guess's comment


def _targets(fw: Framework) -> list[_Target]:
    """Every stored column with the words that describe it. A spreadsheet header of hmip's
    own synthetic export (`export_header`) is deliberately not used: an analyst's export has
    its own, and matching on ours would only find ours."""
    out: list[_Target] = []

    def add(col: DictionaryColumn, texts: list[str], why: str) -> None:
        joined = " ".join(t for t in texts if t)
        words = set(_words(joined.replace("_", " ")))
        initials = set().union(*(_initials(t) for t in texts if t))
        out.append(_Target(col, frozenset(words), frozenset(initials), why))

    specs = {c.name: c for c in fw.columns}
    for col in fw.attribute_columns():
        spec = specs[col.name]
        add(col, [col.name, col.description, *spec.aliases], col.description)
    by_name = {c.name: c for c in fw.area_columns()}
    for area in fw.areas:
        area_texts = [area.key, area.label, *area.aliases]
        if fw.gate is not None:
            gate = by_name[fw.gate_column(area)]
            add(gate, [*area_texts, fw.gate.noun, fw.gate.suffix], f"{area.label}: {fw.gate.noun}")
        for m in fw.measures:
            col = by_name[fw.judgement_column(area, m)]
            texts = [*area_texts, m.key, m.label, fw.judgement_question(area, m), *m.aliases]
            add(col, texts, f"{area.label}: {m.label}")
    questions = {q.column: q for q in fw.questions}
    for col in fw.question_columns():
        q = questions[col.name]
        texts = [col.name, q.label, q.key, fw.party(q.who).label]
        add(col, texts, q.label)
    return out


def _score(header: str, target: _Target) -> float:
    """The share of the header's words the column's words account for (0 to 1)."""
    acronyms = set(_acronyms(header))
    words = _words(re.sub(r"\b([A-Z])&([A-Z])\b", r"\1\2", header))  # "T&B": one word
    if not words:
        return 0.0
    total = 0.0
    for w in words:
        if w in acronyms and w in target.initials:
            total += 0.9
            continue
        options = (w, *_SYNONYMS.get(w, ()))
        total += max(_similar(o, t) for o in options for t in target.words)
    return total / len(words)


# --------------------------------------------------------------------------------------
# The draft
# --------------------------------------------------------------------------------------


@dataclass
class Line:
    """One line of the draft: `kind` is "guess" (active, for review) or "review"
    (commented out: hmip could not decide)."""

    section: str  # "columns" or "values.<column>"
    key: str
    value: str
    kind: str
    comment: str

    def toml(self) -> str:
        text = f"{_toml(self.key)} = {_toml(self.value)}  # {self.comment}"
        return f"# {text}" if self.kind == "review" else text


@dataclass
class Draft:
    """A drafted mapping: `text` (TOML) and its lines; `native` are the headers ingest
    reads as they are."""

    source: str
    framework: str
    lines: list[Line] = field(default_factory=list)
    native: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def to_review(self) -> list[Line]:
        return [ln for ln in self.lines if ln.kind == "review"]

    @property
    def guesses(self) -> list[Line]:
        return [ln for ln in self.lines if ln.kind == "guess"]

    @property
    def text(self) -> str:
        out = [
            f"# Mapping drafted by `hmip mapping draft` from {self.source} "
            f"(framework {self.framework}).",
            "# Every line is a guess: check each against your export. Lines marked REVIEW",
            "# are commented out because hmip could not decide: edit and uncomment them (or",
            '# leave a column out with ""). Then: hmip ingest FILE --mapping THIS_FILE',
        ]
        if self.native:
            out.append("#")
            out.append("# Headers read as they are (no line needed): " + ", ".join(self.native))
        out += [f"# {n}" for n in self.notes]
        out += ["", "[columns]  # their header = our column (`hmip schema` lists ours)"]
        out += [ln.toml() for ln in self.lines if ln.section == "columns"]
        sections = dict.fromkeys(ln.section for ln in self.lines if ln.section != "columns")
        for section in sections:
            out += ["", f"[{section}]  # their value = our code"]
            out += [ln.toml() for ln in self.lines if ln.section == section]
        return "\n".join(out) + "\n"


def draft_mapping(
    path: str | Path,
    framework: Framework | None = None,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
) -> Draft:
    """Draft a mapping for the export at `path` (see the module docstring). Unreadable
    file: BadInput / BadRequest as for `hmip ingest`."""
    if framework is None:
        from hmip_cli.framework import registry

        framework = registry.load(registry.DEFAULT)
    raw = read_file(str(path), sheet=sheet, encoding=encoding)
    draft = Draft(Path(str(path)).name, framework.name)
    targets = _targets(framework)
    names = {t.column.name for t in targets}
    derived = {c.name for c in framework.derived_columns()}
    private = set(framework.identifying_columns())
    secrets = Secrets(
        [
            raw.frame.get_column(h)
            for h in raw.headers
            if h in raw.frame.columns
            and normalise_header(clean_header(h)) in private | {"notes", "case_id"}
        ]
    )
    hidden = secrets.among(list(raw.headers))
    assigned: dict[str, str] = {}  # their header -> our column
    open_headers: list[str] = []
    for h in raw.headers:
        n = normalise_header(clean_header(h))
        if n in names or n in derived:
            draft.native.append(clean_header(h))
            assigned[h] = n
        elif h in hidden or not clean_header(h):
            draft.notes.append("a header cell that is not a header (a case id or a note?) left out")
        else:
            open_headers.append(h)
    taken = set(assigned.values())
    _match_headers(open_headers, targets, taken, assigned, draft)
    by_name = {t.column.name: t.column for t in targets}
    for h, ours in assigned.items():
        if ours in by_name:
            _match_values(raw.frame.get_column(h), by_name[ours], secrets, draft)
    return draft


def _match_headers(
    headers: list[str],
    targets: list[_Target],
    taken: set[str],
    assigned: dict[str, str],
    draft: Draft,
) -> None:
    """Greedy one-to-one: the best-scoring (header, column) pairs first; a header whose
    best free column is weak, or hardly better than its next, is left for review."""
    scores = {
        h: sorted(((_score(h, t), t) for t in targets), key=lambda st: -st[0]) for h in headers
    }
    pending = list(headers)
    decided: dict[str, Line] = {}
    while pending:
        best = None
        for h in pending:
            free = [(s, t) for s, t in scores[h] if t.column.name not in taken]
            if not free:
                continue
            s = free[0][0]
            if best is None or s > best[0]:
                best = (s, h, free)
        if best is None:
            break
        s, h, free = best
        pending.remove(h)
        top = free[0][1]
        runner = free[1] if len(free) > 1 else (0.0, None)
        key = clean_header(h)
        if s >= SURE and s - runner[0] >= MARGIN:
            taken.add(top.column.name)
            assigned[h] = top.column.name
            decided[h] = Line("columns", key, top.column.name, "guess", f"guess: {top.why}")
        elif s >= SURE:
            others = ", ".join(t.column.name for _, t in free[:3])
            decided[h] = Line(
                "columns", key, top.column.name, "review", f"{REVIEW}: which one? {others}"
            )
        else:
            decided[h] = Line(
                "columns",
                key,
                "",
                "review",
                f'{REVIEW}: no column matched; map it (`hmip schema`), or "" to leave it out',
            )
    for h in pending:  # every column already taken
        decided[h] = Line(
            "columns", clean_header(h), "", "review", f"{REVIEW}: no column left to match"
        )
    draft.lines += [decided[h] for h in headers if h in decided]


def _match_values(series: pl.Series, col: DictionaryColumn, secrets: Secrets, draft: Draft) -> None:
    """Recodes for the values of one yes/no or category column that ingest would not read."""
    if not (col.dtype == pl.Boolean or isinstance(col.dtype, pl.Enum)) or col.identifying:
        return
    values = series.drop_nulls().str.strip_chars().unique().sort()
    values = values.filter(values != "")
    if values.len() == 0 or values.len() > MAX_VALUES:
        return
    table = _parse_table(col, tuple(values.to_list())).collect()
    bad = [r for r, ok in zip(table["raw"].to_list(), table["ok"].to_list()) if r and not ok]
    secret = secrets.among(bad)
    levels = list(col.levels)
    labels = list(col.labels or col.levels)
    if col.dtype == pl.Boolean:
        levels, labels = ["yes", "no"], ["yes", "no"]
    for v in bad:
        if v in secret or _id_shaped(v) or len(v) > 40:
            continue
        code, why, sure = _value_guess(v, levels, labels)
        section = f"values.{col.name}"
        if sure:
            draft.lines.append(Line(section, v, code, "guess", f"guess: {why}"))
        else:
            draft.lines.append(
                Line(section, v, code, "review", f"{REVIEW}: {why}; one of {', '.join(levels)}")
            )


def _value_guess(value: str, levels: list[str], labels: list[str]) -> tuple[str, str, bool]:
    """(code, why, confident) for one value against a column's codes and labels."""
    low = value.strip().lower()
    if is_missing(low):
        return "", "missing", True
    names = [(code, text) for code, label in zip(levels, labels) for text in {code, label}]
    starts = {code for code, text in names if text.lower().replace("_", " ").startswith(low)}
    if len(starts) == 1:
        code = starts.pop()
        return code, f"the start of {code!r}", True
    words = set(_words(value))
    scored = []
    for code, label in zip(levels, labels):
        theirs = set(_words(f"{code.replace('_', ' ')} {label}"))
        hit = sum(max((_similar(w, t) for t in theirs), default=0.0) for w in words)
        scored.append((hit / max(len(words), 1), code, label))
    scored.sort(key=lambda x: -x[0])
    top = scored[0]
    second = scored[1][0] if len(scored) > 1 else 0.0
    if top[0] > 0 and top[0] - second >= MARGIN:
        return top[1], f"shares words with {top[2]!r}", True
    return "", "no code matched" if top[0] == 0 else "several codes match", False


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
