"""The case-data schema as hmip_cli/schema.py spelt it before frameworks existed (frozen
copy, for tests only).

tests/test_framework_qi2016.py proves that qi-2016.toml, and the schema facade computed
from it, say exactly what this file said: the guarantee that switching from the spelt-out
tables to the framework changed no output. Do not edit it to follow the framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import overload

import polars as pl

from hmip_cli.errors import BadRequest

# --------------------------------------------------------------------------------------
# Factors and measures
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    key: str  # short, stable, used on the command line and in column names
    label: str  # as printed in the bulletin
    aliases: tuple[str, ...] = ()  # other spellings accepted on the command line


# The bulletin's order (Figures 1-4).
FACTORS: tuple[Factor, ...] = (
    Factor("accommodation", "Accommodation"),
    Factor("ete", "Education, training and employment", ("education_training_employment",)),
    Factor("finance", "Financial management", ("financial_management",)),
    Factor("relationships", "Relationships"),
    Factor("lifestyle", "Lifestyle and associates", ("lifestyle_associates",)),
    Factor("drugs", "Drug misuse", ("drug_misuse",)),
    Factor("alcohol", "Alcohol misuse", ("alcohol_misuse",)),
    Factor("emotional", "Emotional wellbeing", ("emotional_wellbeing",)),
    Factor("thinking", "Thinking and behaviour", ("thinking_behaviour",)),
    Factor("attitudes", "Attitudes to offending", ("attitudes_to_offending",)),
)

MAX_PRIORITIES = 5


@dataclass(frozen=True)
class Measure:
    """A per-factor judgement. Column name: f"{factor.key}_{suffix}"."""

    key: str  # command-line key
    suffix: str  # column suffix
    label: str  # long label for display
    question: str  # the inspector's question
    figure: int  # bulletin figure number
    aliases: tuple[str, ...] = ()
    # Applicability: the judgement is meaningful only where the factor is a priority.
    # For the two contribution measures it is further only asked where that kind of
    # organisation was involved, which the data records by leaving it not applicable.
    requires_involvement: bool = False


MEASURES: tuple[Measure, ...] = (
    Measure(
        "availability",
        "available",
        "Interventions available",
        "Were interventions available?",
        1,
        ("available",),
    ),
    Measure(
        "delivery",
        "delivered",
        "Sufficient interventions delivered",
        "Were sufficient interventions delivered?",
        2,
        ("delivered",),
    ),
    Measure(
        "contracted",
        "contracted",
        "Contracted providers contributed sufficiently",
        "Did contracted providers contribute sufficiently?",
        3,
        ("contracted_provider_contribution", "contracted-provider"),
        True,
    ),
    Measure(
        "partner",
        "partner",
        "Partners contributed sufficiently",
        "Did partners contribute sufficiently?",
        4,
        ("partner_contribution",),
        True,
    ),
)


def priority_column(factor: Factor | str) -> str:
    key = factor.key if isinstance(factor, Factor) else factor
    return f"{key}_priority"


def judgement_column(factor: Factor | str, measure: Measure | str) -> str:
    fkey = factor.key if isinstance(factor, Factor) else factor
    suffix = measure.suffix if isinstance(measure, Measure) else get_measure(measure).suffix
    return f"{fkey}_{suffix}"


# --------------------------------------------------------------------------------------
# Case-level questions (Tables 1 and 2)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    key: str  # command-line key, e.g. "partner-info-review"
    column: str  # stored column
    who: str  # "contracted_providers" | "partners"
    topic: str  # "harm_focus" | "info_review"
    label: str
    table: int  # bulletin table number


QUESTIONS: tuple[Question, ...] = (
    Question(
        "contracted-harm-focus",
        "contracted_harm_focus",
        "contracted_providers",
        "harm_focus",
        "Contracted providers: sufficient focus on protecting those at risk of harm",
        1,
    ),
    Question(
        "contracted-info-review",
        "contracted_info_review",
        "contracted_providers",
        "info_review",
        "Contracted providers: sufficient information used in reviewing",
        1,
    ),
    Question(
        "partner-harm-focus",
        "partner_harm_focus",
        "partners",
        "harm_focus",
        "Partners: sufficient focus on protecting those at risk of harm",
        2,
    ),
    Question(
        "partner-info-review",
        "partner_info_review",
        "partners",
        "info_review",
        "Partners: sufficient information used in reviewing",
        2,
    ),
)

# --------------------------------------------------------------------------------------
# Case attributes
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One stored column of the case table."""

    name: str
    dtype: pl.DataType
    description: str
    required: bool = False  # must be present as a column and non-blank in every row
    levels: tuple[str, ...] = ()  # allowed codes for categorical columns, in display order
    labels: tuple[str, ...] = ()  # display labels for `levels`
    minimum: float | None = None
    maximum: float | None = None
    applicable: str = "always"  # when the value is meaningful (for the data dictionary)
    identifying: bool = False  # never printed unless asked
    kind: str = "attribute"  # attribute | priority | judgement | question

    def label_of(self, code: str | None) -> str:
        if code is None:
            return "Not recorded"
        if self.labels and code in self.levels:
            return self.labels[self.levels.index(code)]
        return str(code)


ATTRIBUTES: tuple[Column, ...] = (
    Column(
        "case_id",
        pl.String(),
        "Case identifier, unique within the store",
        required=True,
        identifying=True,
    ),
    Column(
        "inspection", pl.String(), "Inspection (police force area), e.g. 'Durham'", required=True
    ),
    Column("inspection_date", pl.Date(), "Date of the inspection (YYYY-MM-DD)"),
    Column(
        "provider",
        pl.Enum(["CRC", "NPS"]),
        "Probation provider",
        required=True,
        levels=("CRC", "NPS"),
        labels=("CRC", "NPS"),
    ),
    Column(
        "gender",
        pl.Enum(["male", "female"]),
        "Gender of the service user",
        levels=("male", "female"),
        labels=("Male", "Female"),
    ),
    Column("age", pl.Int16(), "Age in years at the start of the order", minimum=16, maximum=100),
    Column(
        "ethnicity",
        pl.Enum(["white", "mixed", "asian", "black", "other", "bame"]),
        "Ethnic group (ONS high-level categories; 'bame' where only the grouping is known)",
        levels=("white", "mixed", "asian", "black", "other", "bame"),
        labels=("White", "Mixed", "Asian", "Black", "Other", "BAME (not specified)"),
    ),
    Column(
        "supervision",
        pl.Enum(["community", "post_custody"]),
        "Type of supervision (licence and post-sentence supervision are post-custody)",
        levels=("community", "post_custody"),
        labels=("Community sentence", "Post-custody"),
    ),
    Column(
        "ogrs_score",
        pl.Int16(),
        "OGRS3 two-year reoffending probability, percent",
        minimum=0,
        maximum=99,
    ),
    Column(
        "ogrs_band",
        pl.Enum(["low", "medium", "high", "very_high"]),
        "OGRS band (derived from ogrs_score where given: 0-49 low, 50-74 medium, "
        "75-89 high, 90+ very high)",
        levels=("low", "medium", "high", "very_high"),
        labels=("Low", "Medium", "High", "Very high"),
    ),
    Column(
        "rosh",
        pl.Enum(["low", "medium", "high", "very_high"]),
        "Risk of serious harm level",
        levels=("low", "medium", "high", "very_high"),
        labels=("Low", "Medium", "High", "Very high"),
    ),
    Column("mappa", pl.Boolean(), "Eligible for MAPPA", levels=("yes", "no"), labels=("Yes", "No")),
    Column(
        "notes",
        pl.String(),
        "Inspector's free-text notes (never printed or reported)",
        identifying=True,
    ),
)

YES_NO = ("yes", "no")


def _factor_columns() -> tuple[Column, ...]:
    cols: list[Column] = []
    for f in FACTORS:
        cols.append(
            Column(
                priority_column(f),
                pl.Boolean(),
                f"{f.label}: a priority for this case",
                required=True,
                levels=YES_NO,
                kind="priority",
            )
        )
        for m in MEASURES:
            when = f"{f.key}_priority is yes"
            if m.requires_involvement:
                org = "contracted providers" if m.key == "contracted" else "partners"
                when += f" and {org} were involved (otherwise blank)"
            cols.append(
                Column(
                    judgement_column(f, m),
                    pl.Boolean(),
                    f"{f.label}: {m.question}",
                    levels=YES_NO,
                    applicable=when,
                    kind="judgement",
                )
            )
    return tuple(cols)


def _question_columns() -> tuple[Column, ...]:
    return tuple(
        Column(
            q.column,
            pl.Boolean(),
            q.label,
            levels=YES_NO,
            kind="question",
            applicable=f"{q.who.replace('_', ' ')} were involved in the case (otherwise blank)",
        )
        for q in QUESTIONS
    )


COLUMNS: tuple[Column, ...] = ATTRIBUTES + _factor_columns() + _question_columns()
COLUMN_BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
IDENTIFYING_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.identifying)


def stored_schema() -> pl.Schema:
    """The Polars schema of the stored case table (canonical columns, canonical order)."""
    return pl.Schema({c.name: c.dtype for c in COLUMNS})


# --------------------------------------------------------------------------------------
# Derived fields: computed here and nowhere else
# --------------------------------------------------------------------------------------

AGE_GROUPS = ("under_30", "30_plus")
TWO_BANDS = ("low_medium", "high_very_high")
ETHNIC_GROUPS = ("white", "bame")

DERIVED: tuple[Column, ...] = (
    Column(
        "age_group",
        pl.Enum(list(AGE_GROUPS)),
        "Age group from age",
        levels=AGE_GROUPS,
        labels=("Under 30", "30+"),
    ),
    Column(
        "ethnic_group",
        pl.Enum(list(ETHNIC_GROUPS)),
        "White or BAME, from ethnicity",
        levels=ETHNIC_GROUPS,
        labels=("White", "BAME"),
    ),
    Column(
        "ogrs_group",
        pl.Enum(list(TWO_BANDS)),
        "OGRS band grouped: Low/Medium vs High/Very high",
        levels=TWO_BANDS,
        labels=("Low/Medium", "High/Very high"),
    ),
    Column(
        "rosh_group",
        pl.Enum(list(TWO_BANDS)),
        "RoSH grouped: Low/Medium vs High/Very high",
        levels=TWO_BANDS,
        labels=("Low/Medium", "High/Very high"),
    ),
    Column("n_priorities", pl.Int8(), "Number of factors that were a priority"),
    # Added with issue 9 item 5 (trends): the framework derives it with a `year` rule.
    Column("inspection_year", pl.Int16(), "Year of the inspection, from inspection_date"),
)
DERIVED_BY_NAME = {c.name: c for c in DERIVED}


def ogrs_band_expr(score: pl.Expr) -> pl.Expr:
    """OGRS3 two-year score (percent) to band: 0-49 low, 50-74 medium, 75-89 high, 90+ very high."""
    band = (
        pl.when(score >= 90)
        .then(pl.lit("very_high"))
        .when(score >= 75)
        .then(pl.lit("high"))
        .when(score >= 50)
        .then(pl.lit("medium"))
        .when(score >= 0)
        .then(pl.lit("low"))
    )
    return band.cast(COLUMN_BY_NAME["ogrs_band"].dtype)


def _two_band(col: str) -> pl.Expr:
    c = pl.col(col)
    return (
        pl.when(c.is_in(["low", "medium"]))
        .then(pl.lit("low_medium"))
        .when(c.is_in(["high", "very_high"]))
        .then(pl.lit("high_very_high"))
        .cast(pl.Enum(list(TWO_BANDS)))
    )


@overload
def with_derived(cases: pl.DataFrame) -> pl.DataFrame: ...
@overload
def with_derived(cases: pl.LazyFrame) -> pl.LazyFrame: ...
def with_derived(cases: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    """Add the derived columns (age_group, ethnic_group, ogrs_group, rosh_group, n_priorities).

    Where ogrs_score is given, ogrs_band is (re)computed from it, so the two never disagree.
    """
    age = pl.col("age")
    return cases.with_columns(
        ogrs_band=pl.coalesce(ogrs_band_expr(pl.col("ogrs_score")), pl.col("ogrs_band")),
    ).with_columns(
        age_group=pl.when(age < 30)
        .then(pl.lit("under_30"))
        .when(age >= 30)
        .then(pl.lit("30_plus"))
        .cast(pl.Enum(list(AGE_GROUPS))),
        ethnic_group=pl.when(pl.col("ethnicity") == "white")
        .then(pl.lit("white"))
        .when(pl.col("ethnicity").is_not_null())
        .then(pl.lit("bame"))
        .cast(pl.Enum(list(ETHNIC_GROUPS))),
        ogrs_group=_two_band("ogrs_band"),
        rosh_group=_two_band("rosh"),
        n_priorities=pl.sum_horizontal(
            [pl.col(priority_column(f)).cast(pl.Int8) for f in FACTORS]
        ).cast(pl.Int8),
        inspection_year=(
            pl.col("inspection_date").dt.year()
            if "inspection_date" in cases.collect_schema().names()
            else pl.lit(None)
        ).cast(pl.Int16),
    )


# --------------------------------------------------------------------------------------
# Breakdowns: the variables rates are broken down by and regressions use as candidates
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Breakdown:
    key: str  # command-line key (`--by ogrs_band`)
    column: str  # column of the derived case frame that holds the groups
    label: str  # heading, as in the bulletin
    aliases: tuple[str, ...] = ()
    levels: tuple[str, ...] = field(default=())
    labels: tuple[str, ...] = field(default=())

    def label_of(self, code: str | None) -> str:
        if code is None:
            return "Not recorded"
        if code in self.levels:
            return self.labels[self.levels.index(code)]
        return str(code)


def _breakdown(key: str, column: str, label: str, aliases: tuple[str, ...] = ()) -> Breakdown:
    col = DERIVED_BY_NAME.get(column) or COLUMN_BY_NAME[column]
    return Breakdown(key, column, label, aliases, col.levels, col.labels)


BREAKDOWNS: tuple[Breakdown, ...] = (
    _breakdown("provider", "provider", "Provider"),
    _breakdown("gender", "gender", "Gender"),
    _breakdown("age_group", "age_group", "Age group", ("age",)),
    _breakdown("ethnicity", "ethnic_group", "Ethnic group", ("ethnic_group",)),
    _breakdown("supervision", "supervision", "Supervision type"),
    _breakdown("ogrs_band", "ogrs_group", "OGRS band", ("ogrs", "ogrs_group")),
    _breakdown("rosh", "rosh_group", "RoSH", ("rosh_group",)),
    _breakdown("mappa", "mappa", "MAPPA"),
    Breakdown("inspection", "inspection", "Inspection"),
    Breakdown("year", "inspection_year", "Year", ("inspection_year",)),
)
# The bulletin's breakdowns for Tables 1-2 and its regression candidates.
DEFAULT_BREAKDOWNS: tuple[str, ...] = (
    "provider",
    "gender",
    "age_group",
    "ethnicity",
    "supervision",
    "ogrs_band",
)


# --------------------------------------------------------------------------------------
# Look-ups by command-line key (with aliases, case-insensitive, '-' == '_')
# --------------------------------------------------------------------------------------


def _norm(key: str) -> str:
    return key.strip().lower().replace("-", "_")


def _lookup(kind: str, key: str, items, keyname=lambda x: x.key):
    wanted = _norm(key)
    for item in items:
        names = (keyname(item), *getattr(item, "aliases", ()))
        if wanted in {_norm(n) for n in names}:
            return item
    choices = ", ".join(keyname(i) for i in items)
    raise BadRequest(f"unknown {kind} {key!r}; choose from: {choices}")


def get_factor(key: str) -> Factor:
    return _lookup("factor", key, FACTORS)


def get_measure(key: str) -> Measure:
    return _lookup("measure", key, MEASURES)


def get_question(key: str) -> Question:
    return _lookup("question", key, QUESTIONS)


def get_breakdown(key: str) -> Breakdown:
    return _lookup("breakdown", key, BREAKDOWNS)


def breakdown_for_column(column: str | None) -> Breakdown | None:
    """The breakdown whose groups a case-frame column holds (e.g. a stepwise term), or None."""
    return next((b for b in BREAKDOWNS if b.column == column), None)


# --------------------------------------------------------------------------------------
# Wording the code spelt before frameworks (tables.py)
# --------------------------------------------------------------------------------------

TABLE_TITLES = {
    1: "Table 1: The focus upon risk of harm and information used for reviewing (contracted providers)",
    2: "Table 2: The focus upon risk of harm and information used for reviewing (partners)",
}
TOPIC_HEADERS = {"harm_focus": "Risk of harm", "info_review": "Reviewing"}
TOPIC_NOTE = (
    "Risk of harm: were the interventions sufficiently focused on protecting those at "
    "risk of harm? Reviewing: was sufficient information used in reviewing the work?"
)
SWEEP_TITLE = "Stepwise logistic regression: findings across factors, measures and questions"
# report/content.py
FIGURE_TITLES = {
    1: "Figure 1: Availability of interventions where factor was a priority",
    2: "Figure 2: Delivery of interventions where factor was a priority",
    3: "Figure 3: Contribution of contracted providers to achieving outcomes",
    4: "Figure 4: Contribution of partners to achieving desired outcomes",
}
REPORT_TOPICS = {
    "harm_focus": "Sufficient focus on risk of harm",
    "info_review": "Sufficient information used for reviewing",
}
# report/findings.py
TOPIC_WORDS = {
    "harm_focus": "interventions were sufficiently focused on protecting those at risk of harm",
    "info_review": "sufficient information was used in reviewing the work",
}
MEASURE_WORDS = {
    "availability": (
        "Interventions were available",
        "availability",
        "interventions were more likely to be available",
    ),
    "delivery": (
        "Sufficient interventions were delivered",
        "delivery",
        "sufficient interventions were more likely to have been delivered",
    ),
    "contracted": (
        "Contracted providers contributed sufficiently",
        "the contribution of contracted providers",
        "contracted providers were more likely to have contributed sufficiently",
    ),
    "partner": (
        "Partners contributed sufficiently",
        "the contribution of partners",
        "partners were more likely to have contributed sufficiently",
    ),
}
