"""The framework model: frozen dataclasses for everything a framework file declares, and the
queries the rest of hmip asks of it.

A framework says what one inspected case looks like and how it is published:
- case attributes (`ColumnSpec`): stored columns with their type, levels and labels;
- derived fields (`DerivedSpec`): computed from attributes by a cut, a grouping or a count;
- the judgement structure: areas (factors, standards) x measures (the judgements asked per
  area), an optional gate per area (qi-2016: "was the factor a priority?"), and case-level
  questions; each judgement has an `Applicability` rule;
- breakdowns and regression candidates;
- every piece of publication wording (titles, labels, notes, key-finding phrasing).

The model knows nothing about files (see `loader`) or Polars expressions (see `derive`),
except that a column can name its Polars dtype.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import polars as pl

from hmip_cli.errors import BadRequest

# Column types a framework file can declare, and the integer widths.
COLUMN_TYPES = ("text", "date", "yes_no", "category", "integer")
INTEGER_BITS = (8, 16, 32, 64)
YES_NO = ("yes", "no")
NOT_RECORDED_LABEL = "Not recorded"


def _integer_dtype(bits: int) -> pl.DataType:
    return {8: pl.Int8(), 16: pl.Int16(), 32: pl.Int32(), 64: pl.Int64()}[bits]


def polars_dtype(type_: str, levels: Sequence[str] = (), bits: int = 64) -> pl.DataType:
    """The Polars dtype hmip stores a column of this framework type as."""
    if type_ == "text":
        return pl.String()
    if type_ == "date":
        return pl.Date()
    if type_ == "yes_no":
        return pl.Boolean()
    if type_ == "category":
        return pl.Enum(list(levels))
    if type_ == "integer":
        return _integer_dtype(bits)
    raise ValueError(f"unknown column type {type_!r}")


# --------------------------------------------------------------------------------------
# Provenance of the framework itself
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A document the framework's content comes from."""

    title: str
    url: str = ""
    publisher: str = ""
    date: str = ""  # as the document gives it: "November 2023", "2019-01"
    used_for: str = ""  # what was taken from it


# --------------------------------------------------------------------------------------
# Case attributes and derived fields
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnSpec:
    """One stored case attribute as the framework declares it."""

    name: str
    type: str  # one of COLUMN_TYPES
    description: str
    required: bool = False  # present as a column and non-blank in every row
    identifying: bool = False  # never printed unless asked (case ids)
    free_text: bool = False  # free text: never printed or reported (implies identifying)
    levels: tuple[str, ...] = ()  # codes of a category (or yes/no) column, display order
    labels: tuple[str, ...] = ()  # display labels for `levels` (empty: the codes)
    minimum: float | None = None
    maximum: float | None = None
    bits: int = 64  # integer width
    applicable: str = "always"  # when the value is meaningful (data dictionary)
    aliases: tuple[str, ...] = ()  # other header spellings an export may use
    export_header: str = ""  # its header in spreadsheet exports (`hmip synth --messy`)

    @property
    def dtype(self) -> pl.DataType:
        return polars_dtype(self.type, self.levels, self.bits)


@dataclass(frozen=True)
class CutRule:
    """A numeric source cut into bands: level i where lower[i] <= value < lower[i + 1].

    A value below lower[0] (or null) gives null; lower[0] may be -inf (no lower bound).
    """

    source: str
    lower: tuple[float, ...]


@dataclass(frozen=True)
class GroupRule:
    """A categorical source grouped: each group code lists the source levels it holds.
    Source levels in no group, and nulls, give null."""

    source: str
    groups: tuple[tuple[str, tuple[str, ...]], ...]

    def group_of(self, level: str) -> str | None:
        return next((code for code, members in self.groups if level in members), None)


@dataclass(frozen=True)
class CountRule:
    """How many of the areas' gate columns are yes (qi-2016: the number of priorities)."""

    of: str = "gate"


@dataclass(frozen=True)
class YearRule:
    """The calendar year of a date column (the inspection year, for `--by year` and trends).
    A null date gives null."""

    source: str


Rule = CutRule | GroupRule | CountRule | YearRule


@dataclass(frozen=True)
class DerivedSpec:
    """A column hmip computes from the stored ones (never ingested).

    `replaces_stored`: the column is also stored (qi-2016's ogrs_band), and where the rule
    gives a value it replaces the stored one, so the two never disagree.
    """

    name: str
    type: str  # "category" for cut/group rules, "integer" for counts and years
    description: str
    rule: Rule
    levels: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    bits: int = 8
    replaces_stored: bool = False

    @property
    def dtype(self) -> pl.DataType:
        return polars_dtype(self.type, self.levels, self.bits)


# --------------------------------------------------------------------------------------
# The judgement structure
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """Someone whose involvement decides whether a question is asked (the
    framework file's [[parties]]). `label` reads inside a sentence ("partners were
    involved")."""

    key: str
    label: str


@dataclass(frozen=True)
class Gate:
    """A yes/no column per area that decides whether the area's measures are asked.

    qi-2016: `{area}_priority`, "was this factor a priority for the case?", at most five
    per case. Its column is f"{area.key}_{suffix}"; `kind` is its kind in the dictionary.
    """

    suffix: str
    description: str  # template: "{area}: a priority for this case"
    noun: str  # "priority"
    noun_plural: str  # "priorities"
    required: bool = True
    max_per_case: int | None = None
    kind: str = "gate"
    export_phrase: str = ""  # spreadsheet-export header after the area ("priority?")


BLANK_RULES = ("warn", "not_applicable")


@dataclass(frozen=True)
class Applicability:
    """When a judgement is asked. Not asked = not applicable = stored as null, never "no".

    gate:     only where the area's gate column is yes (a value where it is no is an error)
    involved: only where this party was involved (the data record that by leaving it blank)
    blank:    what a blank means where the rule says the judgement applies: "warn" (a
              judgement that should have been recorded: a warning at ingest) or
              "not_applicable" (the question may legitimately not apply)
    """

    gate: bool = False
    involved: str | None = None
    blank: str = "warn"

    @property
    def blank_expected(self) -> bool:
        """Whether a blank is ordinary where the gate holds (no warning at ingest)."""
        return self.involved is not None or self.blank == "not_applicable"


@dataclass(frozen=True)
class Area:
    """A factor or standard: a group of judgements asked together."""

    key: str
    label: str  # as printed
    aliases: tuple[str, ...] = ()
    phrase: str = ""  # inside a sentence; default: the label with a lower-case first letter
    export_short: str = ""  # short name in spreadsheet exports ("Accom", "T&B")

    @property
    def in_sentence(self) -> str:
        return self.phrase or (self.label[:1].lower() + self.label[1:])


KEY_FINDING_STYLES = ("threshold", "leaders", "range")


@dataclass(frozen=True)
class MeasureWording:
    """How one measure is published."""

    figure_title: str  # report and chart title: "Figure 1: Availability of interventions ..."
    finding_subject: str  # "Interventions were available"
    finding_noun: str  # "availability"
    finding_more_likely: str  # "interventions were more likely to be available"
    key_finding: str = "range"  # one of KEY_FINDING_STYLES
    export_phrase: str = ""  # spreadsheet-export header after the area ("interventions available?")


@dataclass(frozen=True)
class Measure:
    """A judgement asked per area. Column name: f"{area.key}_{suffix}".

    `question` may contain "{area}", replaced by the area in a sentence ("Does {area} focus
    sufficiently on ...?")
    """

    key: str
    suffix: str
    label: str
    question: str
    figure: int
    applies: Applicability
    wording: MeasureWording
    aliases: tuple[str, ...] = ()

    @property
    def requires_involvement(self) -> bool:
        return self.applies.involved is not None


@dataclass(frozen=True)
class Topic:
    """What a case-level question is about (qi-2016: harm focus, information for reviews)."""

    key: str
    heading: str  # terminal table heading: "Risk of harm"
    report_heading: str  # report table heading: "Sufficient focus on risk of harm"
    finding: str  # inside a key finding: "sufficient information was used in reviewing the work"
    note: str  # "Risk of harm: were the interventions sufficiently focused ...?"


@dataclass(frozen=True)
class QuestionTable:
    number: int
    title: str


@dataclass(frozen=True)
class Question:
    """A case-level judgement (qi-2016 Tables 1-2)."""

    key: str  # command-line key: "partner-info-review"
    column: str
    who: str  # Party key
    topic: str  # Topic key
    label: str
    table: int  # QuestionTable number
    applies: Applicability
    export_header: str = ""
    aliases: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------
# Breakdowns, the sample profile, wording
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakdownSpec:
    """A variable rates are broken down by (and, if `candidate`, a regression candidate).
    Levels and labels come from the column (stored or derived) that holds the groups."""

    key: str
    column: str
    label: str
    aliases: tuple[str, ...] = ()
    default: bool = False  # in the default set of breakdowns for question tables
    candidate: bool = False  # in the default regression candidates
    # how a group reads in a sentence: one template, or (first level, last level, any other)
    phrase: tuple[str, ...] = ()


@dataclass(frozen=True)
class Breakdown:
    """A breakdown with its levels and labels resolved (what rates and reports use)."""

    key: str
    column: str
    label: str
    aliases: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    phrase: tuple[str, ...] = ()  # BreakdownSpec.phrase

    def label_of(self, code: str | None) -> str:
        if code is None:
            return NOT_RECORDED_LABEL
        if code in self.levels:
            return self.labels[self.levels.index(code)]
        return str(code)


ProfileCode = str | bool


@dataclass(frozen=True)
class ProfileRow:
    """One row of the sample profile: cases with `code` in breakdown `breakdown`'s column
    (no breakdown: all cases)."""

    key: str
    label: str
    short: str = ""
    breakdown: str | None = None
    code: ProfileCode | None = None


@dataclass(frozen=True)
class Comparison:
    """A key finding comparing two measures area by area (the framework file's
    [[comparisons]]). Templates take {count} (areas where the first is lower/higher) and
    {n}."""

    first: str
    second: str
    lower: str
    higher: str
    same: str


@dataclass(frozen=True)
class Wording:
    """Publication wording that is not tied to one measure, topic or question table.

    Templates use {placeholders}; which ones each takes is in `loader.TEMPLATE_FIELDS`.
    """

    report_title: str
    area_noun: str  # "factor"
    area_noun_plural: str  # "factors"
    area_heading: str  # "Factor" (tables, chart axis)
    rates_title: str  # "Figure {figure}: {label}, where the factor was a priority"
    rates_machine_title: str  # "Rates (Figures 1-4)"
    questions_machine_title: str  # "Tables 1-2"
    gate_count_heading: str = ""  # "Priority cases"
    gate_count_note: str = ""  # "Priority cases: cases where the factor was a priority."
    gate_count_column: str = ""  # "Cases where the factor was a priority"
    gate_share_column: str = ""  # "Percentage of all cases where the factor was a priority"
    section_intro: str = ""  # "Cases where ... the percentage where: {question}? (yes)."
    axis_label: str = ""  # "Number of applicable cases (the factor was a priority)"
    axis_label_involved: str = ""  # "... (the factor was a priority and {party} were involved)"
    gate_finding: str = ""  # "The most frequently identified priority was {area}, ..."
    methods_scope: str = ""  # "For every factor and measure, and for each of the four ..."
    dictionary_note: str = ""  # `hmip schema` note
    lead_breakdown: str = ""  # breakdown whose differences key findings report first ("provider")
    figures_title: str = ""  # the figures' long frame in `hmip demo`: "Figures 1-4"
    sweep_title: str = ""  # `regress --all`: "Stepwise logistic regression: findings across ..."


# --------------------------------------------------------------------------------------
# The framework
# --------------------------------------------------------------------------------------


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def aliases(self) -> tuple[str, ...]: ...


K = TypeVar("K", bound=_Keyed)


def norm_key(key: str) -> str:
    """Command-line keys match case-insensitively, with '-' == '_'."""
    return key.strip().lower().replace("-", "_")


def _lookup(kind: str, key: str, items: Iterable[K]) -> K:
    items = list(items)
    wanted = norm_key(key)
    for item in items:
        if wanted in {norm_key(n) for n in (item.key, *item.aliases)}:
            return item
    choices = ", ".join(i.key for i in items)
    raise BadRequest(f"unknown {kind} {key!r}; choose from: {choices}")


@dataclass(frozen=True)
class DictionaryColumn:
    """One stored column of the case table, as `hmip schema` and ingest see it (the
    counterpart of schema.Column)."""

    name: str
    dtype: pl.DataType
    description: str
    required: bool = False
    levels: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    applicable: str = "always"
    identifying: bool = False
    kind: str = "attribute"  # attribute | <gate kind> | judgement | question

    def label_of(self, code: str | None) -> str:
        if code is None:
            return NOT_RECORDED_LABEL
        if self.labels and code in self.levels:
            return self.labels[self.levels.index(code)]
        return str(code)


@dataclass(frozen=True)
class Framework:
    """A loaded, validated framework. Build it with `hmip_cli.framework.load(...)`."""

    name: str
    title: str
    description: str
    columns: tuple[ColumnSpec, ...]
    derived: tuple[DerivedSpec, ...]
    areas: tuple[Area, ...]
    measures: tuple[Measure, ...]
    breakdowns: tuple[BreakdownSpec, ...]
    wording: Wording
    gate: Gate | None = None
    parties: tuple[Party, ...] = ()
    topics: tuple[Topic, ...] = ()
    question_tables: tuple[QuestionTable, ...] = ()
    questions: tuple[Question, ...] = ()
    profile: tuple[ProfileRow, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    sources: tuple[Source, ...] = ()
    assumptions: tuple[str, ...] = ()
    format_version: int = 1
    origin: str = field(default="", compare=False)  # file it was read from (not content)
    text: str = field(default="", compare=False, repr=False)  # the TOML it was parsed from
    content_hash: str = field(default="", compare=False)  # sha256 of `text` (UTF-8)

    # ---- look-ups by command-line key (aliases, case-insensitive, '-' == '_') ----------

    def area(self, key: str) -> Area:
        return _lookup(self.wording.area_noun, key, self.areas)

    def measure(self, key: str) -> Measure:
        return _lookup("measure", key, self.measures)

    def question(self, key: str) -> Question:
        return _lookup("question", key, self.questions)

    def breakdown(self, key: str) -> Breakdown:
        return self._resolve(_lookup("breakdown", key, self.breakdowns))

    def party(self, key: str) -> Party:
        return next(p for p in self.parties if p.key == key)

    def topic(self, key: str) -> Topic:
        return next(t for t in self.topics if t.key == key)

    def question_table(self, number: int) -> QuestionTable:
        return next(t for t in self.question_tables if t.number == number)

    def measure_of_figure(self, figure: int) -> Measure:
        return next(m for m in self.measures if m.figure == figure)

    # ---- columns -------------------------------------------------------------------

    def gate_column(self, area: Area | str) -> str:
        if self.gate is None:
            raise BadRequest(
                f"framework {self.name!r} has no gate column per {self.wording.area_noun}"
            )
        key = area.key if isinstance(area, Area) else area
        return f"{key}_{self.gate.suffix}"

    def judgement_column(self, area: Area | str, measure: Measure | str) -> str:
        akey = area.key if isinstance(area, Area) else area
        m = measure if isinstance(measure, Measure) else self.measure(measure)
        return f"{akey}_{m.suffix}"

    def judgement_question(self, area: Area, measure: Measure) -> str:
        """The inspector's question for one area and measure."""
        return measure.question.replace("{area}", area.in_sentence)

    def applicable_text(self, applies: Applicability, area: Area | None = None) -> str:
        """When a judgement applies, for the data dictionary ("<area>_<gate suffix> is yes
        and <party> were involved (otherwise blank)")."""
        parts: list[str] = []
        if applies.gate and area is not None:
            parts.append(f"{self.gate_column(area)} is yes")
        party = self.party(applies.involved).label if applies.involved else None
        if party and parts:
            return f"{parts[0]} and {party} were involved (otherwise blank)"
        if party:
            return f"{party} were involved in the case (otherwise blank)"
        if parts:
            return parts[0]
        if applies.blank == "not_applicable":
            return "where the question applies to the case (otherwise blank)"
        return "always"

    def attribute_columns(self) -> tuple[DictionaryColumn, ...]:
        return tuple(
            DictionaryColumn(
                c.name,
                c.dtype,
                c.description,
                required=c.required,
                levels=c.levels,
                labels=c.labels,
                minimum=c.minimum,
                maximum=c.maximum,
                applicable=c.applicable,
                identifying=c.identifying or c.free_text,
            )
            for c in self.columns
        )

    def area_columns(self) -> tuple[DictionaryColumn, ...]:
        """Per area: its gate column (if any), then one column per measure."""
        out: list[DictionaryColumn] = []
        for a in self.areas:
            if self.gate is not None:
                out.append(
                    DictionaryColumn(
                        self.gate_column(a),
                        pl.Boolean(),
                        self.gate.description.replace("{area}", a.label),
                        required=self.gate.required,
                        levels=YES_NO,
                        kind=self.gate.kind,
                    )
                )
            for m in self.measures:
                out.append(
                    DictionaryColumn(
                        self.judgement_column(a, m),
                        pl.Boolean(),
                        f"{a.label}: {self.judgement_question(a, m)}",
                        levels=YES_NO,
                        applicable=self.applicable_text(m.applies, a),
                        kind="judgement",
                    )
                )
        return tuple(out)

    def question_columns(self) -> tuple[DictionaryColumn, ...]:
        return tuple(
            DictionaryColumn(
                q.column,
                pl.Boolean(),
                q.label,
                levels=YES_NO,
                applicable=self.applicable_text(q.applies),
                kind="question",
            )
            for q in self.questions
        )

    def stored_columns(self) -> tuple[DictionaryColumn, ...]:
        """Every stored column in canonical order: attributes, areas, questions."""
        return self._stored_columns

    @functools.cached_property
    def _stored_columns(self) -> tuple[DictionaryColumn, ...]:
        # Built once per framework: every ingest, store read and hash asks for them.
        return self.attribute_columns() + self.area_columns() + self.question_columns()

    def column(self, name: str) -> DictionaryColumn:
        if name in self.column_by_name:
            return self.column_by_name[name]
        raise BadRequest(f"unknown column {name!r} in framework {self.name!r}")

    @functools.cached_property
    def column_by_name(self) -> dict[str, DictionaryColumn]:
        """Every stored column by name (computed once per framework)."""
        return {c.name: c for c in self.stored_columns()}

    @functools.cached_property
    def derived_by_name(self) -> dict[str, DictionaryColumn]:
        """The derived columns that are not also stored, by name."""
        return {c.name: c for c in self.derived_columns()}

    def stored_schema(self) -> pl.Schema:
        return pl.Schema(self._stored_schema, check_dtypes=False)  # a copy: callers may edit

    @functools.cached_property
    def _stored_schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.dtype for c in self.stored_columns()})

    def identifying_columns(self) -> tuple[str, ...]:
        """Columns never printed (case ids and free text)."""
        return tuple(c.name for c in self.columns if c.identifying or c.free_text)

    def free_text_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.free_text)

    def derived_columns(self) -> tuple[DictionaryColumn, ...]:
        """The derived columns that are not also stored, as dictionary columns."""
        return tuple(
            DictionaryColumn(d.name, d.dtype, d.description, levels=d.levels, labels=d.labels)
            for d in self.derived
            if not d.replaces_stored
        )

    def derived_spec(self, name: str) -> DerivedSpec | None:
        return next((d for d in self.derived if d.name == name), None)

    def levels_of(self, column: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(levels, labels) of a stored or derived column; labels default to the levels."""
        d = next((d for d in self.derived if d.name == column and not d.replaces_stored), None)
        if d is not None:
            return d.levels, d.labels or d.levels
        c = next((c for c in self.columns if c.name == column), None)
        if c is not None:
            return c.levels, c.labels or c.levels
        return (), ()

    # ---- breakdowns ------------------------------------------------------------------

    def _resolve(self, b: BreakdownSpec) -> Breakdown:
        d = next((d for d in self.derived if d.name == b.column and not d.replaces_stored), None)
        c = next((c for c in self.columns if c.name == b.column), None)
        levels, labels = (d.levels, d.labels) if d else (c.levels, c.labels) if c else ((), ())
        return Breakdown(b.key, b.column, b.label, b.aliases, levels, labels, b.phrase)

    def all_breakdowns(self) -> tuple[Breakdown, ...]:
        return tuple(self._resolve(b) for b in self.breakdowns)

    def default_breakdowns(self) -> tuple[str, ...]:
        return tuple(b.key for b in self.breakdowns if b.default)

    def candidates(self) -> tuple[str, ...]:
        """Default regression candidates (breakdown keys)."""
        return tuple(b.key for b in self.breakdowns if b.candidate)

    def breakdown_for_column(self, column: str | None) -> Breakdown | None:
        return next((b for b in self.all_breakdowns() if b.column == column), None)

    # ---- judgements as items (regression targets, crosswalk entries) --------------------

    def items(self) -> tuple[str, ...]:
        """Every judgement as an item key: "area/measure" for per-area judgements, the
        question key for case-level questions (the keys `regress --all` models)."""
        per_area = tuple(f"{a.key}/{m.key}" for a in self.areas for m in self.measures)
        return per_area + tuple(q.key for q in self.questions)

    def item_label(self, item: str) -> str:
        """ "<area label>: <measure label>", or the question's label."""
        if "/" in item:
            akey, mkey = item.split("/", 1)
            return f"{self.area(akey).label}: {self.measure(mkey).label}"
        return self.question(item).label

    def item_column(self, item: str) -> str:
        if "/" in item:
            akey, mkey = item.split("/", 1)
            return self.judgement_column(self.area(akey), self.measure(mkey))
        return self.question(item).column

    # ---- wording -----------------------------------------------------------------------

    def rates_title(self, measure: Measure) -> str:
        return self.wording.rates_title.format(figure=measure.figure, label=measure.label)

    def axis_label(self, measure: Measure) -> str:
        if measure.applies.involved is None:
            return self.wording.axis_label
        party = self.party(measure.applies.involved).label
        return self.wording.axis_label_involved.format(party=party)

    def section_intro(self, measure: Measure) -> str:
        q = measure.question
        return self.wording.section_intro.format(question=q[:-1].lower() if q else q)

    def topic_note(self) -> str:
        """The notes of every topic, in order (the Tables 1-2 note)."""
        return " ".join(t.note for t in self.topics)
