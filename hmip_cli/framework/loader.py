"""Reading a framework file: TOML in, a validated `Framework` out, or every problem at once.

Problems name the file, the key path (`measures[2] ('<key>').applies.involved`) and,
where the text allows, the line. A file that is not TOML, or breaks a rule below, raises
`FrameworkInvalid` (a `BadInput`: exit 1). The rules:
- every table and key is known (a misspelt key is an error, with the nearest known key);
- every value has the right type; keys of columns, areas and measures are snake_case;
- names are unique across stored columns (attributes, gate and judgement columns,
  question columns) and derived columns;
- every reference resolves: breakdown columns, derived-rule sources, parties, topics,
  question tables, profile breakdowns and codes, comparison measures;
- cut points increase; group members are levels of their source; templates use only
  their own placeholders.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import math
import re
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hmip_cli.errors import BadInput, BadRequest
from hmip_cli.framework import model as M
from hmip_cli.framework.tomltext import Path as KeyPath
from hmip_cli.framework.tomltext import PathPart, locate

FORMAT_VERSION = 1

_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_KEYLIKE = re.compile(r"^[a-z][a-z0-9_\-]*$")

# Which placeholders each template may use (anything else is a mistake in the file).
TEMPLATE_FIELDS: dict[str, frozenset[str]] = {
    "wording.rates_title": frozenset({"figure", "label"}),
    "wording.section_intro": frozenset({"question"}),
    "wording.axis_label_involved": frozenset({"party"}),
    "wording.gate_finding": frozenset({"area", "pct"}),
    "gate.description": frozenset({"area"}),
    "measures.question": frozenset({"area"}),
    "comparisons.lower": frozenset({"count", "n"}),
    "comparisons.higher": frozenset({"count", "n"}),
    "comparisons.same": frozenset({"count", "n"}),
    "breakdowns.phrase": frozenset({"label", "lower"}),
}


@dataclass(frozen=True)
class FrameworkProblem:
    file: str
    path: str  # "columns[4] ('age').minimum"; "" for the whole file
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file + (f", line {self.line}" if self.line else "")
        return f"{where}: {self.path + ': ' if self.path else ''}{self.message}"


class FrameworkInvalid(BadInput):
    """A framework (or crosswalk) file that cannot be used; `problems` lists every one."""

    def __init__(self, problems: list[FrameworkProblem], what: str = "framework"):
        self.problems = problems
        first = problems[0].file if problems else what
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{first}: {len(problems)} problem(s) in the {what} file\n{lines}")


def read_text(path: Path, what: str = "framework") -> str:
    """The file's text. Missing: BadRequest (exit 2); not UTF-8: BadInput (exit 1)."""
    if not path.exists():
        raise BadRequest(f"{path}: no such {what} file")
    if path.is_dir():
        raise BadRequest(f"{path}: is a directory, not a {what} file")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{path}: the {what} file is not UTF-8 text") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the {what} file ({exc.strerror})") from None


def parse_toml(text: str, where: str, what: str = "framework") -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(m[1]) if m else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise FrameworkInvalid(
            [FrameworkProblem(where, "", f"not valid TOML: {message}", line)], what
        ) from None


# --------------------------------------------------------------------------------------
# A reader that checks types and collects problems
# --------------------------------------------------------------------------------------

T = TypeVar("T")


class Reader:
    """Typed access to a parsed TOML document; every mistake becomes a FrameworkProblem."""

    def __init__(self, text: str, where: str):
        self.text = text
        self.where = where
        self.problems: list[FrameworkProblem] = []
        self._labels: dict[tuple[PathPart, ...], str] = {}

    # -- paths ------------------------------------------------------------------------

    def name_entry(self, path: tuple[PathPart, ...], label: str) -> None:
        """Show an array entry as `columns[4] ('age')` in messages."""
        self._labels[path] = label

    def show(self, path: tuple[PathPart, ...]) -> str:
        out = ""
        for i, part in enumerate(path):
            if isinstance(part, int):
                out += f"[{part + 1}]"
                label = self._labels.get(path[: i + 1])
                if label:
                    out += f" ({label!r})"
            else:
                out += ("." if out else "") + part
        return out

    def problem(self, path: tuple[PathPart, ...], message: str) -> None:
        self.problems.append(
            FrameworkProblem(self.where, self.show(path), message, locate(self.text, path))
        )

    # -- shapes -----------------------------------------------------------------------

    def known(self, table: Mapping[str, Any], allowed: Iterable[str], path: KeyPath) -> None:
        allowed = list(allowed)
        for k in table:
            if k not in allowed:
                near = difflib.get_close_matches(k, allowed, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                self.problem((*path, k), f"unknown key{hint}; known keys: {', '.join(allowed)}")

    def table(
        self, parent: Mapping[str, Any], k: str, path: KeyPath, required: bool = False
    ) -> dict[str, Any]:
        v = parent.get(k)
        if v is None:
            if required:
                self.problem(
                    path, f"the table [{'.'.join(str(p) for p in (*path, k))}] is required"
                )
            return {}
        if not isinstance(v, dict):
            self.problem((*path, k), f"expected a table, got {_kind(v)}")
            return {}
        return v

    def tables(self, parent: Mapping[str, Any], k: str, path: KeyPath) -> list[dict[str, Any]]:
        v = parent.get(k, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            self.problem((*path, k), f"expected an array of tables ([[{k}]]), got {_kind(v)}")
            return []
        return v

    def _get(
        self,
        table: Mapping[str, Any],
        k: str,
        path: KeyPath,
        check: Callable[[Any], bool],
        expected: str,
        default: Any,
        required: bool,
    ) -> Any:
        if k not in table:
            if required:
                self.problem((*path, k), f"required ({expected})")
            return default
        v = table[k]
        if not check(v):
            self.problem((*path, k), f"expected {expected}, got {_kind(v)}")
            return default
        return v

    def text_(
        self,
        table: Mapping[str, Any],
        k: str,
        path: KeyPath,
        required: bool = False,
        default: str = "",
    ) -> str:
        v = self._get(
            table, k, path, lambda x: isinstance(x, str), "text in quotes", default, required
        )
        if required and isinstance(v, str) and k in table and not v.strip():
            self.problem((*path, k), "must not be empty")
        return str(v)

    def texts(self, table: Mapping[str, Any], k: str, path: KeyPath) -> tuple[str, ...]:
        v = self._get(
            table,
            k,
            path,
            lambda x: isinstance(x, list) and all(isinstance(s, str) for s in x),
            "a list of texts in quotes",
            [],
            False,
        )
        return tuple(v)

    def flag(self, table: Mapping[str, Any], k: str, path: KeyPath, default: bool = False) -> bool:
        return bool(
            self._get(
                table, k, path, lambda x: isinstance(x, bool), "true or false", default, False
            )
        )

    def integer(
        self,
        table: Mapping[str, Any],
        k: str,
        path: KeyPath,
        required: bool = False,
        default: int | None = None,
    ) -> int | None:
        v = self._get(
            table,
            k,
            path,
            lambda x: isinstance(x, int) and not isinstance(x, bool),
            "a whole number",
            default,
            required,
        )
        return v if v is None else int(v)

    def number(self, table: Mapping[str, Any], k: str, path: KeyPath) -> float | None:
        v = self._get(
            table,
            k,
            path,
            lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
            "a number",
            None,
            False,
        )
        return None if v is None else float(v)

    def choice(
        self, table: Mapping[str, Any], k: str, path: KeyPath, choices: Iterable[str], default: str
    ) -> str:
        choices = tuple(choices)
        v = self.text_(table, k, path, default=default)
        if v not in choices:
            self.problem((*path, k), f"{v!r} is not one of: {', '.join(choices)}")
            return default
        return v

    def template(self, text: str, path: KeyPath, kind: str) -> None:
        """Check a template's placeholders against TEMPLATE_FIELDS[kind]."""
        allowed = TEMPLATE_FIELDS[kind]
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as exc:
            self.problem(path, f"bad template ({exc}); write a literal brace as {{{{ or }}}}")
            return
        unknown = sorted(n for n in names if n not in allowed)
        if unknown:
            have = ", ".join(f"{{{a}}}" for a in sorted(allowed)) or "none"
            self.problem(
                path,
                f"unknown placeholder {', '.join(f'{{{u}}}' for u in unknown)}; this text can use: {have}",
            )


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, int):
        return "a whole number"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return "text"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a table"
    return type(v).__name__


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------

TOP_KEYS = (
    "framework",
    "columns",
    "derived",
    "parties",
    "gate",
    "areas",
    "measures",
    "topics",
    "question_tables",
    "questions",
    "breakdowns",
    "profile",
    "comparisons",
    "wording",
)
FRAMEWORK_KEYS = ("format", "name", "title", "description", "assumptions", "sources")
SOURCE_KEYS = ("title", "url", "publisher", "date", "used_for")
COLUMN_KEYS = (
    "name",
    "type",
    "description",
    "required",
    "identifying",
    "free_text",
    "levels",
    "labels",
    "minimum",
    "maximum",
    "bits",
    "applicable",
    "aliases",
    "export_header",
)
DERIVED_KEYS = (
    "name",
    "type",
    "description",
    "levels",
    "labels",
    "bits",
    "replaces_stored",
    "cut",
    "group",
    "count",
    "year",
)
GATE_KEYS = (
    "suffix",
    "kind",
    "description",
    "noun",
    "noun_plural",
    "required",
    "max_per_case",
    "export_phrase",
)
AREA_KEYS = ("key", "label", "aliases", "phrase", "export_short")
APPLIES_KEYS = ("gate", "involved", "blank")
MEASURE_KEYS = ("key", "suffix", "label", "question", "figure", "aliases", "applies", "wording")
MEASURE_WORDING_KEYS = (
    "figure_title",
    "finding_subject",
    "finding_noun",
    "finding_more_likely",
    "key_finding",
    "export_phrase",
)
TOPIC_KEYS = ("key", "heading", "report_heading", "finding", "note")
QTABLE_KEYS = ("number", "title")
QUESTION_KEYS = (
    "key",
    "column",
    "who",
    "topic",
    "label",
    "table",
    "applies",
    "export_header",
    "aliases",
)
BREAKDOWN_KEYS = ("key", "column", "label", "aliases", "default", "candidate", "phrase")
PROFILE_KEYS = ("key", "label", "short", "breakdown", "code")
COMPARISON_KEYS = ("first", "second", "lower", "higher", "same")
WORDING_KEYS = (
    "report_title",
    "area_noun",
    "area_noun_plural",
    "area_heading",
    "rates_title",
    "rates_machine_title",
    "questions_machine_title",
    "gate_count_heading",
    "gate_count_note",
    "gate_count_column",
    "gate_share_column",
    "section_intro",
    "axis_label",
    "axis_label_involved",
    "gate_finding",
    "methods_scope",
    "dictionary_note",
    "lead_breakdown",
    "figures_title",
    "sweep_title",
)
_REQUIRED_WORDING = (
    "report_title",
    "area_noun",
    "area_noun_plural",
    "area_heading",
    "rates_title",
    "rates_machine_title",
    "questions_machine_title",
)


def _unique(r: Reader, items: Sequence[tuple[str, KeyPath]], what: str) -> None:
    seen: dict[str, KeyPath] = {}
    for name, path in items:
        if not name:
            continue
        if name in seen:
            r.problem(path, f"{what} {name!r} is already used by {r.show(seen[name])}")
        else:
            seen[name] = path


def _read_framework(r: Reader, doc: dict[str, Any]) -> tuple[dict[str, Any], tuple[M.Source, ...]]:
    p: KeyPath = ("framework",)
    fw = r.table(doc, "framework", (), required=True)
    r.known(fw, FRAMEWORK_KEYS, p)
    version = r.integer(fw, "format", p, default=FORMAT_VERSION)
    if version != FORMAT_VERSION:
        r.problem(
            (*p, "format"),
            f"format {version} is not supported (this hmip reads format {FORMAT_VERSION})",
        )
    name = r.text_(fw, "name", p, required=True)
    if name and not _KEYLIKE.match(name):
        r.problem((*p, "name"), "use lower-case letters, digits, '-' and '_' (e.g. 'pdu-2023')")
    sources = []
    for i, s in enumerate(r.tables(fw, "sources", p)):
        sp = (*p, "sources", i)
        r.known(s, SOURCE_KEYS, sp)
        sources.append(
            M.Source(
                r.text_(s, "title", sp, required=True),
                r.text_(s, "url", sp),
                r.text_(s, "publisher", sp),
                r.text_(s, "date", sp),
                r.text_(s, "used_for", sp),
            )
        )
    head = {
        "name": name,
        "title": r.text_(fw, "title", p, required=True),
        "description": r.text_(fw, "description", p),
        "assumptions": r.texts(fw, "assumptions", p),
        "format_version": version or FORMAT_VERSION,
    }
    return head, tuple(sources)


def _levels_labels(
    r: Reader, t: dict[str, Any], path: KeyPath, default: tuple[str, ...] = ()
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    levels = r.texts(t, "levels", path) or default
    labels = r.texts(t, "labels", path)
    if labels and len(labels) != len(levels):
        r.problem(
            (*path, "labels"),
            f"{len(labels)} labels for {len(levels)} levels; give one label per level",
        )
        labels = ()
    if len(set(levels)) != len(levels):
        r.problem((*path, "levels"), "a level is listed twice")
    return levels, labels


def _read_columns(r: Reader, doc: dict[str, Any]) -> tuple[M.ColumnSpec, ...]:
    out = []
    for i, t in enumerate(r.tables(doc, "columns", ())):
        p: KeyPath = ("columns", i)
        name = r.text_(t, "name", p, required=True)
        r.name_entry(p, name)
        r.known(t, COLUMN_KEYS, p)
        if name and not _SNAKE.match(name):
            r.problem(
                (*p, "name"), "a column name is snake_case: lower-case letters, digits and '_'"
            )
        type_ = r.choice(t, "type", p, M.COLUMN_TYPES, "text")
        if "type" not in t:
            r.problem((*p, "type"), f"required (one of {', '.join(M.COLUMN_TYPES)})")
        levels, labels = _levels_labels(r, t, p, M.YES_NO if type_ == "yes_no" else ())
        if type_ == "category" and not levels:
            r.problem((*p, "levels"), "a category column needs its levels (the codes)")
        if type_ == "yes_no":
            if levels and levels != M.YES_NO:
                r.problem((*p, "levels"), 'the levels of a yes_no column are ["yes", "no"]')
            levels = M.YES_NO
        elif type_ != "category" and levels:
            r.problem(
                (*p, "levels"), f"only category and yes_no columns have levels (this is {type_})"
            )
        bits = r.integer(t, "bits", p, default=64) or 64
        if bits not in M.INTEGER_BITS:
            r.problem((*p, "bits"), f"an integer is 8, 16, 32 or 64 bits, not {bits}")
            bits = 64
        lo, hi = r.number(t, "minimum", p), r.number(t, "maximum", p)
        if (lo is not None or hi is not None) and type_ != "integer":
            r.problem(p, "minimum and maximum are for integer columns")
        if lo is not None and hi is not None and lo > hi:
            r.problem((*p, "maximum"), f"maximum {hi:g} is below minimum {lo:g}")
        free = r.flag(t, "free_text", p)
        out.append(
            M.ColumnSpec(
                name=name,
                type=type_,
                description=r.text_(t, "description", p, required=True),
                required=r.flag(t, "required", p),
                identifying=r.flag(t, "identifying", p) or free,
                free_text=free,
                levels=levels,
                labels=labels,
                minimum=lo,
                maximum=hi,
                bits=bits,
                applicable=r.text_(t, "applicable", p, default="always"),
                aliases=r.texts(t, "aliases", p),
                export_header=r.text_(t, "export_header", p),
            )
        )
    if not out:
        r.problem(("columns",), "a framework needs at least one [[columns]] table")
    return tuple(out)


def _read_derived(
    r: Reader, doc: dict[str, Any], columns: tuple[M.ColumnSpec, ...], has_gate: bool
) -> tuple[M.DerivedSpec, ...]:
    by_name = {c.name: c for c in columns}
    out: list[M.DerivedSpec] = []
    for i, t in enumerate(r.tables(doc, "derived", ())):
        p: KeyPath = ("derived", i)
        name = r.text_(t, "name", p, required=True)
        r.name_entry(p, name)
        r.known(t, DERIVED_KEYS, p)
        if name and not _SNAKE.match(name):
            r.problem(
                (*p, "name"), "a column name is snake_case: lower-case letters, digits and '_'"
            )
        levels, labels = _levels_labels(r, t, p)
        rules = [k for k in ("cut", "group", "count", "year") if k in t]
        if len(rules) != 1:
            r.problem(
                p,
                'give exactly one rule: cut = {...}, group = {...}, count = "gate" or year = {...}',
            )
            continue
        # Sources: stored columns, or derived columns defined above this one.
        known: dict[str, tuple[str, tuple[str, ...]]] = {
            c.name: (c.type, c.levels) for c in columns
        }
        known.update({d.name: (d.type, d.levels) for d in out})
        rule: M.Rule
        type_ = "category"
        if rules[0] == "cut":
            rule_t = r.table(t, "cut", p)
            rp = (*p, "cut")
            r.known(rule_t, ("source", "lower"), rp)
            src = r.text_(rule_t, "source", rp, required=True)
            raw = rule_t.get("lower", [])
            if not isinstance(raw, list) or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in raw
            ):
                r.problem(
                    (*rp, "lower"),
                    "expected a list of numbers (the lower bound of each level; -inf for none)",
                )
                raw = []
            lower = tuple(float(x) for x in raw)
            if src and src not in known:
                r.problem(
                    (*rp, "source"), f"no column {src!r} (a cut needs a stored integer column)"
                )
            elif src and known[src][0] != "integer":
                r.problem(
                    (*rp, "source"), f"{src!r} is {known[src][0]}; a cut needs an integer column"
                )
            if len(lower) != len(levels):
                r.problem(
                    (*rp, "lower"),
                    f"{len(lower)} lower bounds for {len(levels)} levels; give one per level",
                )
            if any(math.isnan(x) for x in lower) or any(
                b <= a for a, b in itertools.pairwise(lower)
            ):
                r.problem((*rp, "lower"), "the lower bounds must increase")
            rule = M.CutRule(src, lower)
        elif rules[0] == "group":
            rule_t = r.table(t, "group", p)
            rp = (*p, "group")
            r.known(rule_t, ("source", "groups"), rp)
            src = r.text_(rule_t, "source", rp, required=True)
            groups_t = r.table(rule_t, "groups", rp, required=True)
            src_levels = known.get(src, ("", ()))[1]
            if src and src not in known:
                r.problem((*rp, "source"), f"no column {src!r}")
            elif src and not src_levels:
                r.problem((*rp, "source"), f"{src!r} has no levels to group")
            groups: list[tuple[str, tuple[str, ...]]] = []
            placed: dict[str, str] = {}
            for code, members in groups_t.items():
                gp = (*rp, "groups", code)
                if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
                    r.problem(gp, "expected a list of the source's levels in quotes")
                    continue
                for m in members:
                    if src_levels and m not in src_levels:
                        r.problem(gp, f"{m!r} is not a level of {src!r} ({', '.join(src_levels)})")
                    if m in placed:
                        r.problem(gp, f"{m!r} is already in group {placed[m]!r}")
                    placed[m] = code
                groups.append((code, tuple(members)))
            if [g for g, _ in groups] != list(levels):
                r.problem((*p, "levels"), "the levels must be the group codes, in the same order")
            rule = M.GroupRule(src, tuple(groups))
        elif rules[0] == "year":
            rule_t = r.table(t, "year", p)
            rp = (*p, "year")
            r.known(rule_t, ("source",), rp)
            src = r.text_(rule_t, "source", rp, required=True)
            if src and src not in known:
                r.problem((*rp, "source"), f"no column {src!r} (a year needs a date column)")
            elif src and known[src][0] != "date":
                r.problem(
                    (*rp, "source"), f"{src!r} is {known[src][0]}; a year needs a date column"
                )
            rule = M.YearRule(src)
            type_ = "integer"
            if levels:
                r.problem((*p, "levels"), "a year has no levels (they are the years in the data)")
        else:
            of = r.text_(t, "count", p)
            if of != "gate":
                r.problem((*p, "count"), 'the only count is "gate" (how many gate columns are yes)')
            if not has_gate:
                r.problem((*p, "count"), "counts the gate columns, but the framework has no [gate]")
            rule = M.CountRule(of)
            type_ = "integer"
            if levels:
                r.problem((*p, "levels"), "a count has no levels")
        declared = r.choice(t, "type", p, ("category", "integer"), type_)
        if declared != type_:
            r.problem((*p, "type"), f"a {rules[0]} rule makes a {type_} column")
        default_bits = 16 if rules[0] == "year" else 8
        bits = r.integer(t, "bits", p, default=default_bits) or default_bits
        if rules[0] == "year" and bits < 16:
            r.problem((*p, "bits"), "a year needs at least 16 bits")
        if bits not in M.INTEGER_BITS:
            r.problem((*p, "bits"), f"an integer is 8, 16, 32 or 64 bits, not {bits}")
            bits = 8
        replaces = r.flag(t, "replaces_stored", p)
        if replaces:
            stored = by_name.get(name)
            if stored is None:
                r.problem((*p, "replaces_stored"), f"there is no stored column {name!r} to replace")
            elif stored.levels != levels or (labels and stored.labels != labels):
                r.problem((*p, "levels"), f"must be the stored column {name!r}'s levels and labels")
        elif name in by_name:
            r.problem(
                (*p, "name"),
                f"{name!r} is a stored column; set replaces_stored = true to recompute it",
            )
        out.append(
            M.DerivedSpec(
                name=name,
                type=type_,
                description=r.text_(t, "description", p, required=True),
                rule=rule,
                levels=levels,
                labels=labels,
                bits=bits,
                replaces_stored=replaces,
            )
        )
    return tuple(out)


def _read_parties(r: Reader, doc: dict[str, Any]) -> tuple[M.Party, ...]:
    out = []
    for i, t in enumerate(r.tables(doc, "parties", ())):
        p: KeyPath = ("parties", i)
        k = r.text_(t, "key", p, required=True)
        r.name_entry(p, k)
        r.known(t, ("key", "label"), p)
        out.append(M.Party(k, r.text_(t, "label", p, required=True)))
    _unique(r, [(x.key, ("parties", i, "key")) for i, x in enumerate(out)], "party")
    return tuple(out)


def _read_gate(r: Reader, doc: dict[str, Any]) -> M.Gate | None:
    if "gate" not in doc:
        return None
    p: KeyPath = ("gate",)
    t = r.table(doc, "gate", ())
    r.known(t, GATE_KEYS, p)
    suffix = r.text_(t, "suffix", p, required=True)
    if suffix and not _SNAKE.match(suffix):
        r.problem((*p, "suffix"), "a column suffix is snake_case")
    desc = r.text_(t, "description", p, required=True)
    r.template(desc, (*p, "description"), "gate.description")
    most = r.integer(t, "max_per_case", p)
    if most is not None and most < 1:
        r.problem((*p, "max_per_case"), "must be at least 1")
    gate = M.Gate(
        suffix=suffix,
        description=desc,
        noun=r.text_(t, "noun", p, required=True),
        noun_plural=r.text_(t, "noun_plural", p, required=True),
        required=r.flag(t, "required", p, default=True),
        max_per_case=most,
        kind=r.text_(t, "kind", p, default="gate"),
        export_phrase=r.text_(t, "export_phrase", p),
    )
    return gate


def _read_applies(
    r: Reader, t: dict[str, Any], path: KeyPath, parties: tuple[M.Party, ...], gate: M.Gate | None
) -> M.Applicability:
    a = r.table(t, "applies", path)
    ap = (*path, "applies")
    r.known(a, APPLIES_KEYS, ap)
    uses_gate = r.flag(a, "gate", ap)
    if uses_gate and gate is None:
        r.problem(
            (*ap, "gate"), "applies only where the gate is yes, but the framework has no [gate]"
        )
    involved = r.text_(a, "involved", ap) or None
    if involved and involved not in {x.key for x in parties}:
        known = ", ".join(x.key for x in parties) or "none defined"
        r.problem((*ap, "involved"), f"no party {involved!r} in [[parties]] ({known})")
    blank = r.choice(a, "blank", ap, M.BLANK_RULES, "warn")
    return M.Applicability(uses_gate, involved, blank)


def _read_areas(r: Reader, doc: dict[str, Any]) -> tuple[M.Area, ...]:
    out = []
    for i, t in enumerate(r.tables(doc, "areas", ())):
        p: KeyPath = ("areas", i)
        k = r.text_(t, "key", p, required=True)
        r.name_entry(p, k)
        r.known(t, AREA_KEYS, p)
        if k and not _SNAKE.match(k):
            r.problem((*p, "key"), "an area key is snake_case: it becomes part of column names")
        out.append(
            M.Area(
                k,
                r.text_(t, "label", p, required=True),
                r.texts(t, "aliases", p),
                r.text_(t, "phrase", p),
                r.text_(t, "export_short", p),
            )
        )
    if not out:
        r.problem(("areas",), "a framework needs at least one [[areas]] table")
    return tuple(out)


def _read_measures(
    r: Reader, doc: dict[str, Any], parties: tuple[M.Party, ...], gate: M.Gate | None
) -> tuple[M.Measure, ...]:
    out = []
    for i, t in enumerate(r.tables(doc, "measures", ())):
        p: KeyPath = ("measures", i)
        k = r.text_(t, "key", p, required=True)
        r.name_entry(p, k)
        r.known(t, MEASURE_KEYS, p)
        if k and not _SNAKE.match(k):
            r.problem((*p, "key"), "a measure key is snake_case")
        suffix = r.text_(t, "suffix", p, required=True)
        if suffix and not _SNAKE.match(suffix):
            r.problem((*p, "suffix"), "a column suffix is snake_case")
        question = r.text_(t, "question", p, required=True)
        r.template(question, (*p, "question"), "measures.question")
        w = r.table(t, "wording", p, required=True)
        wp = (*p, "wording")
        r.known(w, MEASURE_WORDING_KEYS, wp)
        wording = M.MeasureWording(
            figure_title=r.text_(w, "figure_title", wp, required=True),
            finding_subject=r.text_(w, "finding_subject", wp, required=True),
            finding_noun=r.text_(w, "finding_noun", wp, required=True),
            finding_more_likely=r.text_(w, "finding_more_likely", wp, required=True),
            key_finding=r.choice(w, "key_finding", wp, M.KEY_FINDING_STYLES, "range"),
            export_phrase=r.text_(w, "export_phrase", wp),
        )
        out.append(
            M.Measure(
                key=k,
                suffix=suffix,
                label=r.text_(t, "label", p, required=True),
                question=question,
                figure=r.integer(t, "figure", p, required=True) or 0,
                applies=_read_applies(r, t, p, parties, gate),
                wording=wording,
                aliases=r.texts(t, "aliases", p),
            )
        )
    if not out:
        r.problem(("measures",), "a framework needs at least one [[measures]] table")
    _unique(r, [(str(m.figure), ("measures", i, "figure")) for i, m in enumerate(out)], "figure")
    return tuple(out)


def _read_topics(r: Reader, doc: dict[str, Any]) -> tuple[M.Topic, ...]:
    out = []
    for i, t in enumerate(r.tables(doc, "topics", ())):
        p: KeyPath = ("topics", i)
        k = r.text_(t, "key", p, required=True)
        r.name_entry(p, k)
        r.known(t, TOPIC_KEYS, p)
        out.append(
            M.Topic(
                k,
                r.text_(t, "heading", p, required=True),
                r.text_(t, "report_heading", p, required=True),
                r.text_(t, "finding", p, required=True),
                r.text_(t, "note", p, required=True),
            )
        )
    _unique(r, [(x.key, ("topics", i, "key")) for i, x in enumerate(out)], "topic")
    return tuple(out)


def _read_question_tables(r: Reader, doc: dict[str, Any]) -> tuple[M.QuestionTable, ...]:
    out = []
    for i, t in enumerate(r.tables(doc, "question_tables", ())):
        p: KeyPath = ("question_tables", i)
        r.known(t, QTABLE_KEYS, p)
        out.append(
            M.QuestionTable(
                r.integer(t, "number", p, required=True) or 0, r.text_(t, "title", p, required=True)
            )
        )
    _unique(
        r,
        [(str(x.number), ("question_tables", i, "number")) for i, x in enumerate(out)],
        "table number",
    )
    return tuple(out)


def _read_questions(
    r: Reader,
    doc: dict[str, Any],
    parties: tuple[M.Party, ...],
    topics: tuple[M.Topic, ...],
    qtables: tuple[M.QuestionTable, ...],
    gate: M.Gate | None,
) -> tuple[M.Question, ...]:
    out = []
    for i, t in enumerate(r.tables(doc, "questions", ())):
        p: KeyPath = ("questions", i)
        k = r.text_(t, "key", p, required=True)
        r.name_entry(p, k)
        r.known(t, QUESTION_KEYS, p)
        if k and not _KEYLIKE.match(k):
            r.problem((*p, "key"), "a question key uses lower-case letters, digits, '-' and '_'")
        column = r.text_(t, "column", p, required=True)
        if column and not _SNAKE.match(column):
            r.problem((*p, "column"), "a column name is snake_case")
        who = r.text_(t, "who", p, required=True)
        if who and who not in {x.key for x in parties}:
            r.problem((*p, "who"), f"no party {who!r} in [[parties]]")
        topic = r.text_(t, "topic", p, required=True)
        if topic and topic not in {x.key for x in topics}:
            r.problem((*p, "topic"), f"no topic {topic!r} in [[topics]]")
        table = r.integer(t, "table", p, required=True) or 0
        if table and table not in {x.number for x in qtables}:
            r.problem((*p, "table"), f"no table {table} in [[question_tables]]")
        applies = _read_applies(r, t, p, parties, gate)
        if applies.gate:
            r.problem((*p, "applies", "gate"), "a case-level question has no area, so no gate")
        out.append(
            M.Question(
                k,
                column,
                who,
                topic,
                r.text_(t, "label", p, required=True),
                table,
                applies,
                r.text_(t, "export_header", p),
                r.texts(t, "aliases", p),
            )
        )
    _unique(r, [(x.key, ("questions", i, "key")) for i, x in enumerate(out)], "question key")
    return tuple(out)


def _read_breakdowns(
    r: Reader,
    doc: dict[str, Any],
    columns: tuple[M.ColumnSpec, ...],
    derived: tuple[M.DerivedSpec, ...],
) -> tuple[M.BreakdownSpec, ...]:
    usable = {c.name for c in columns if not (c.identifying or c.free_text)} | {
        d.name for d in derived
    }
    hidden = {c.name for c in columns if c.identifying or c.free_text}
    out = []
    for i, t in enumerate(r.tables(doc, "breakdowns", ())):
        p: KeyPath = ("breakdowns", i)
        k = r.text_(t, "key", p, required=True)
        r.name_entry(p, k)
        r.known(t, BREAKDOWN_KEYS, p)
        column = r.text_(t, "column", p, required=True)
        if column in hidden:
            r.problem(
                (*p, "column"), f"{column!r} is identifying or free text: it cannot be a breakdown"
            )
        elif column and column not in usable:
            r.problem((*p, "column"), f"no stored or derived column {column!r}")
        out.append(
            M.BreakdownSpec(
                k,
                column,
                r.text_(t, "label", p, required=True),
                r.texts(t, "aliases", p),
                r.flag(t, "default", p),
                r.flag(t, "candidate", p),
                _read_phrase(r, t, p),
            )
        )
    names = [(n, ("breakdowns", i, "key")) for i, b in enumerate(out) for n in (b.key, *b.aliases)]
    _unique(r, names, "breakdown key or alias")
    return tuple(out)


def _read_phrase(r: Reader, t: Mapping[str, Any], p: KeyPath) -> tuple[str, ...]:
    """A breakdown's `phrase`: one template, or three (first level, last level, any other)."""
    v = t.get("phrase")
    if v is None:
        return ()
    phrases = (v,) if isinstance(v, str) else r.texts(t, "phrase", p)
    if len(phrases) not in (1, 3) or not all(s.strip() for s in phrases):
        r.problem(
            (*p, "phrase"),
            "expected a text, or a list of three (first level, last level, any other level)",
        )
        return ()
    for s in phrases:
        r.template(s, (*p, "phrase"), "breakdowns.phrase")
    return phrases


def _read_profile(
    r: Reader,
    doc: dict[str, Any],
    fw_breakdowns: tuple[M.BreakdownSpec, ...],
    levels_of: Callable[[str], tuple[str, ...] | None],
) -> tuple[M.ProfileRow, ...]:
    by_key = {b.key: b for b in fw_breakdowns}
    out = []
    for i, t in enumerate(r.tables(doc, "profile", ())):
        p: KeyPath = ("profile", i)
        k = r.text_(t, "key", p, required=True)
        r.name_entry(p, k)
        r.known(t, PROFILE_KEYS, p)
        bkey = r.text_(t, "breakdown", p) or None
        code = t.get("code")
        if code is not None and not isinstance(code, (str, bool)):
            r.problem((*p, "code"), f"expected a level in quotes or true/false, got {_kind(code)}")
            code = None
        if bkey is not None:
            b = by_key.get(bkey)
            if b is None:
                r.problem((*p, "breakdown"), f"no breakdown {bkey!r} in [[breakdowns]]")
            elif code is None:
                r.problem((*p, "code"), "required with a breakdown: the level counted")
            else:
                levels = levels_of(b.column)
                if isinstance(code, bool):
                    if levels != M.YES_NO:
                        r.problem(
                            (*p, "code"),
                            f"true/false counts a yes_no column; {b.column!r} is not one",
                        )
                elif levels is not None and code not in levels:
                    r.problem(
                        (*p, "code"),
                        f"{code!r} is not a level of {b.column!r} ({', '.join(levels)})",
                    )
        elif code is not None:
            r.problem((*p, "code"), "a code needs a breakdown")
        out.append(
            M.ProfileRow(
                k, r.text_(t, "label", p, required=True), r.text_(t, "short", p), bkey, code
            )
        )
    _unique(r, [(x.key, ("profile", i, "key")) for i, x in enumerate(out)], "profile key")
    return tuple(out)


def _read_comparisons(
    r: Reader, doc: dict[str, Any], measures: tuple[M.Measure, ...]
) -> tuple[M.Comparison, ...]:
    keys = {m.key for m in measures}
    out = []
    for i, t in enumerate(r.tables(doc, "comparisons", ())):
        p: KeyPath = ("comparisons", i)
        r.known(t, COMPARISON_KEYS, p)
        first, second = (
            r.text_(t, "first", p, required=True),
            r.text_(t, "second", p, required=True),
        )
        for k, v in (("first", first), ("second", second)):
            if v and v not in keys:
                r.problem((*p, k), f"no measure {v!r}")
        texts = {}
        for k in ("lower", "higher", "same"):
            texts[k] = r.text_(t, k, p, required=True)
            r.template(texts[k], (*p, k), f"comparisons.{k}")
        out.append(M.Comparison(first, second, texts["lower"], texts["higher"], texts["same"]))
    return tuple(out)


def _read_wording(r: Reader, doc: dict[str, Any], breakdown_keys: set[str]) -> M.Wording:
    p: KeyPath = ("wording",)
    w = r.table(doc, "wording", (), required=True)
    r.known(w, WORDING_KEYS, p)
    values = {k: r.text_(w, k, p, required=k in _REQUIRED_WORDING) for k in WORDING_KEYS}
    for k in ("rates_title", "section_intro", "axis_label_involved", "gate_finding"):
        r.template(values[k], (*p, k), f"wording.{k}")
    lead = values.pop("lead_breakdown")
    if lead and lead not in breakdown_keys:
        r.problem((*p, "lead_breakdown"), f"no breakdown {lead!r} in [[breakdowns]]")
    return M.Wording(**values, lead_breakdown=lead)


# --------------------------------------------------------------------------------------
# Whole-framework checks
# --------------------------------------------------------------------------------------


def _check_names(r: Reader, fw: M.Framework) -> None:
    """Every stored and derived column name once; the generated ones named by their origin."""
    names: list[tuple[str, KeyPath]] = [
        (c.name, ("columns", i, "name")) for i, c in enumerate(fw.columns)
    ]
    for ai, a in enumerate(fw.areas):
        if fw.gate is not None:
            names.append((fw.gate_column(a), ("areas", ai, "key")))
        for m in fw.measures:
            names.append((fw.judgement_column(a, m), ("areas", ai, "key")))
    names += [(q.column, ("questions", i, "column")) for i, q in enumerate(fw.questions)]
    names += [
        (d.name, ("derived", i, "name")) for i, d in enumerate(fw.derived) if not d.replaces_stored
    ]
    _unique(r, names, "column name")
    _unique(
        r,
        [(a, ("areas", i, "key")) for i, x in enumerate(fw.areas) for a in (x.key, *x.aliases)],
        "area key or alias",
    )
    _unique(
        r,
        [
            (a, ("measures", i, "key"))
            for i, x in enumerate(fw.measures)
            for a in (x.key, *x.aliases)
        ],
        "measure key or alias",
    )
    _unique(
        r,
        [(x.suffix, ("measures", i, "suffix")) for i, x in enumerate(fw.measures)],
        "measure suffix",
    )
    if fw.gate is not None and fw.gate.suffix in {m.suffix for m in fw.measures}:
        r.problem(("gate", "suffix"), f"{fw.gate.suffix!r} is also a measure's suffix")
    if (
        fw.gate is not None
        and fw.gate.max_per_case is not None
        and fw.gate.max_per_case > len(fw.areas)
    ):
        r.problem(
            ("gate", "max_per_case"),
            f"{fw.gate.max_per_case} is more than the {len(fw.areas)} areas",
        )
    needs_axis = [m for m in fw.measures if m.applies.involved]
    if needs_axis and not fw.wording.axis_label_involved:
        r.problem(
            ("wording", "axis_label_involved"),
            f"required: measure {needs_axis[0].key!r} applies only where a party was involved",
        )


# Columns every framework has, because the store and ingest rely on them: the case id
# (duplicates are refused), the inspection (provenance, `--inspection`, trends).
STRUCTURAL = {"case_id": "identifying text", "inspection": "required text"}


def _check_structure(r: Reader, fw: M.Framework) -> None:
    cols = {c.name: c for c in fw.columns}
    case_id, inspection = cols.get("case_id"), cols.get("inspection")
    if case_id is None or case_id.type != "text" or not case_id.identifying:
        r.problem(
            ("columns",),
            "a framework needs a 'case_id' column: type = \"text\", identifying = true",
        )
    if inspection is None or inspection.type != "text" or not inspection.required:
        r.problem(
            ("columns",),
            "a framework needs an 'inspection' column: type = \"text\", required = true",
        )
    date = cols.get("inspection_date")
    if date is not None and date.type != "date":
        r.problem(("columns",), "'inspection_date' must have type = \"date\"")


def parse(text: str, where: str = "framework") -> M.Framework:
    """A framework from TOML text; `where` names the file in messages."""
    doc = parse_toml(text, where)
    r = Reader(text, where)
    r.known(doc, TOP_KEYS, ())
    head, sources = _read_framework(r, doc)
    columns = _read_columns(r, doc)
    gate = _read_gate(r, doc)
    derived = _read_derived(r, doc, columns, gate is not None)
    parties = _read_parties(r, doc)
    areas = _read_areas(r, doc)
    measures = _read_measures(r, doc, parties, gate)
    topics = _read_topics(r, doc)
    qtables = _read_question_tables(r, doc)
    questions = _read_questions(r, doc, parties, topics, qtables, gate)
    breakdowns = _read_breakdowns(r, doc, columns, derived)
    col_levels = {c.name: c.levels for c in columns} | {
        d.name: d.levels for d in derived if not d.replaces_stored
    }
    profile = _read_profile(r, doc, breakdowns, col_levels.get)
    comparisons = _read_comparisons(r, doc, measures)
    wording = _read_wording(r, doc, {b.key for b in breakdowns})
    if r.problems:
        raise FrameworkInvalid(r.problems)
    fw = M.Framework(
        name=head["name"],
        title=head["title"],
        description=head["description"],
        columns=columns,
        derived=derived,
        areas=areas,
        measures=measures,
        breakdowns=breakdowns,
        wording=wording,
        gate=gate,
        parties=parties,
        topics=topics,
        question_tables=qtables,
        questions=questions,
        profile=profile,
        comparisons=comparisons,
        sources=sources,
        assumptions=head["assumptions"],
        format_version=head["format_version"],
        origin=where,
        text=text,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )
    _check_names(r, fw)
    _check_structure(r, fw)
    if r.problems:
        raise FrameworkInvalid(r.problems)
    return fw


def load_file(path: str | Path) -> M.Framework:
    p = Path(path)
    return parse(read_text(p), where=str(path))
