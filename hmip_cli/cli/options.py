"""Every option more than one command takes, declared once (Typer `Annotated` aliases).

A command writes `where: WhereOpt = None`, `min_n: MinNOpt = defaults.MIN_N`; the default
values come from `hmip_cli.defaults` (the library's own defaults). Keys and labels in help
come from the default framework (qi-2016), never spelt here.
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from hmip_cli import defaults, schema
from hmip_cli.render import Format, request_directory

# For help text: with spaces, so a help formatter wraps between keys, never inside one.
BREAKDOWN_KEYS = ", ".join(b.key for b in schema.BREAKDOWNS)
DEFAULT_CANDIDATES = ", ".join(schema.DEFAULT_BREAKDOWNS)
# A real breakdown and its groups for examples in help (qi-2016: the first default one).
LEAD = schema.FRAMEWORK.breakdown(schema.DEFAULT_BREAKDOWNS[0])


def _examples() -> dict[str, str]:
    """Real keys of the default framework for help texts and their examples, so that no
    command spells a framework's keys (and every example runs on a qi-2016 store)."""
    fw = schema.FRAMEWORK
    measures = sorted(fw.measures, key=lambda m: m.figure)
    areas = [a.key for a in fw.areas]
    questions = [q.key for q in fw.questions]
    measure = measures[min(1, len(measures) - 1)]  # qi-2016: Figure 2's
    return {
        "factor": areas[0],
        "factor2": areas[1 % len(areas)],
        "factor3": areas[2 % len(areas)],
        "measure": measure.key,
        "measure1": measures[0].key,
        "measures": ", ".join(m.key for m in measures),
        "figures": ", ".join(
            f"{m.key} ({'Figure ' if i == 0 else ''}{m.figure})" for i, m in enumerate(measures)
        ),
        "question": questions[-1],
        "question2": questions[len(questions) // 2],
        "item": f"{areas[0]}/{measure.key}",
        "outcome": fw.judgement_column(fw.areas[0], measure),
        "lead": LEAD.key,
        "lead_level": LEAD.labels[-1],
        "second": schema.DEFAULT_BREAKDOWNS[1 % len(schema.DEFAULT_BREAKDOWNS)],
    }


EXAMPLE = _examples()


def with_examples(text: str | None) -> str:
    """`text` with each {name} of EXAMPLE replaced by its key (other braces kept)."""
    out = text or ""
    for name, value in EXAMPLE.items():
        out = out.replace("{" + name + "}", value)
    return out


# ---- where and how to write -------------------------------------------------------------


def note_format(ctx: typer.Context, param: typer.CallbackParam, value):
    # Whether --format was given on the command line (read by `common.handle_errors`):
    # `-o x.csv` alone means CSV.
    from hmip_cli.cli.common import FORMAT_GIVEN

    source = ctx.get_parameter_source(param.name) if param.name else None
    FORMAT_GIVEN.set(source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"))
    return value


FormatOpt = Annotated[
    Format,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        callback=note_format,
        help="Output format: table (for people), csv, tsv, json, markdown, xlsx, ods, html. "
        "Default: from the --output extension, else table.",
    ),
]


def _output_path(value: str) -> Path:
    # `-o DIR/` asks for one CSV per table; Path("out/") forgets the slash, so say it here.
    path = Path(value)
    request_directory(path if value.endswith(("/", os.sep)) else None)
    return path


OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        parser=_output_path,
        help="Write to this file instead of stdout (written atomically). "
        "DIR/ writes one CSV per table.",
    ),
]
# For commands that write one file of cases (export, synth): no directory form.
FileOutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Write to this file instead of stdout (written atomically).",
        dir_okay=False,
    ),
]


# ---- which store, framework and cases ---------------------------------------------------

DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        metavar="DIR",
        help="The store directory. Default: $HMIP_DATA, else ~/.local/share/hmip.",
        envvar="HMIP_DATA",
        show_envvar=True,
        file_okay=False,
    ),
]
FrameworkOpt = Annotated[
    str | None,
    typer.Option(
        "--framework",
        metavar="FRAMEWORK",
        help="The inspection framework the cases follow: a shipped name (qi-2016, the "
        "default; pdu-2023) or a framework .toml file (docs/frameworks.md). The store "
        "records it; later commands use it. Default: the store's framework.",
        show_default=False,
    ),
]
# Commands with no store to read one from (synth, mapping draft): qi-2016 unless given.
FrameworkNameOpt = Annotated[
    str | None,
    typer.Option(
        "--framework",
        metavar="FRAMEWORK",
        help="The inspection framework: a shipped name (qi-2016, the default; pdu-2023) or "
        "a framework .toml file (docs/frameworks.md).",
        show_default=False,
    ),
]


def choose_framework(value: str | None) -> str | None:
    # The framework of a store of several to analyse (read by `common.load_framework` and
    # `common.load_cases`, so command bodies need not pass it on).
    from hmip_cli.cli.common import FRAMEWORK_CHOSEN

    FRAMEWORK_CHOSEN.set(value)
    return value


# Declared by each command that analyses one framework's cases.
StoreFrameworkOpt = Annotated[
    str | None,
    typer.Option(
        "--framework",
        metavar="FRAMEWORK",
        help="A store holding cases of several frameworks (docs/frameworks.md): analyse "
        "this framework's cases. Default: the latest ingested (a note says which).",
        show_default=False,
        callback=choose_framework,
    ),
]
WhereOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        "-w",
        metavar="KEY=VALUE",
        help="Only cases with KEY=VALUE (repeatable; all must hold). Keys: breakdown keys "
        f"({BREAKDOWN_KEYS}) or stored categorical columns; values by code or label, "
        "any case; several values separated by commas; 'not recorded' for unknown.",
    ),
]
# One breakdown per --by, repeatable (rates, sample, protection); chart takes one.
ByOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--by",
        "-b",
        metavar="KEY",
        help=f"Break down by this variable (repeatable: one table per breakdown). Keys: "
        f"{BREAKDOWN_KEYS}.",
    ),
]


# ---- small numbers ----------------------------------------------------------------------

MinNOpt = Annotated[
    int,
    typer.Option(
        "--min-n",
        min=1,
        metavar="N",
        show_default=True,
        help="Rates with fewer applicable cases than this are marked [u] (or, with "
        "--suppress, not shown). Default 30: below it the 95% interval around a 50% "
        "rate is wider than +/-17 points.",
    ),
]
SuppressOpt = Annotated[
    bool,
    typer.Option(
        "--suppress",
        help="Replace rates below --min-n by [c], and suppress a second group "
        "in the same breakdown so the first cannot be worked out.",
    ),
]
# Publications (report, chart) suppress by default.
PublishMinNOpt = Annotated[
    int,
    typer.Option(
        "--min-n",
        min=1,
        metavar="N",
        show_default=True,
        help="Rates with fewer applicable cases than this are suppressed [c] (or, with "
        "--no-suppress, marked [u]).",
    ),
]
PublishSuppressOpt = Annotated[
    bool,
    typer.Option(
        "--suppress/--no-suppress",
        show_default=True,
        help="Suppress rates below --min-n ([c], with a second group where needed) rather than "
        "only marking them [u]. A report is a publication, so the default is to suppress.",
    ),
]


# ---- judgements: which area, measure or item --------------------------------------------


class Period(str, Enum):
    year = "year"
    inspection = "inspection"


ItemOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--item",
        metavar="ITEM",
        help=f"Only this judgement: AREA/MEASURE ({EXAMPLE['item']}) or a case-level question "
        f"({EXAMPLE['question2']}). Repeatable.",
    ),
]
MeasureOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--measure",
        "-m",
        metavar="MEASURE",
        help=f"Only this measure's judgements (repeatable): {EXAMPLE['measures']} for qi-2016. "
        "Default: every measure and the case-level questions.",
    ),
]
FactorOpt = Annotated[
    list[str] | None,
    typer.Option("--factor", metavar="FACTOR", help="Only this factor (area); repeatable."),
]
PeriodOpt = Annotated[
    Period | None,
    typer.Option(
        "--period",
        "-p",
        metavar="PERIOD",
        help="year (calendar year of the inspection date) or inspection (an area in a year, "
        "in date order). Undated cases form a 'Not recorded' period. Default: year, or "
        "inspection for a framework with no inspection dates.",
    ),
]


# ---- stepwise selection: regress and report ---------------------------------------------


class Removal(str, Enum):
    lr = "lr"
    wald = "wald"
    conditional = "conditional"


class Adjust(str, Enum):
    bh = "bh"
    holm = "holm"
    none = "none"


PinOpt = Annotated[
    float,
    typer.Option(
        "--pin", metavar="P", show_default=True, help="Entry: score-test p must be below this."
    ),
]
PoutOpt = Annotated[
    float,
    typer.Option(
        "--pout", metavar="P", show_default=True, help="Removal: p above this removes a term."
    ),
]
RemovalOpt = Annotated[
    Removal,
    typer.Option(
        "--removal",
        metavar="STATISTIC",
        help="Removal statistic: lr (SPSS FSTEP(LR)), wald, or conditional.",
    ),
]
REMOVAL = Removal(defaults.REMOVAL)
AdjustOpt = Annotated[
    Adjust | None,
    typer.Option(
        "--adjust",
        metavar="METHOD",
        help="Multiple-testing adjustment over every model x every candidate: bh "
        "(Benjamini-Hochberg), holm, or none (default). --fdr is --adjust bh.",
    ),
]
FdrOpt = Annotated[
    bool,
    typer.Option(
        "--fdr",
        help="The same as --adjust bh: Benjamini-Hochberg adjusted p-values beside p "
        "(regress: with --all).",
    ),
]
CandidatesOpt = Annotated[
    str | None,
    typer.Option(
        "--candidates",
        metavar="A,B,...",
        help="Comma-separated candidates for the stepwise models: breakdown keys (default "
        f"{DEFAULT_CANDIDATES}), or with regress --input, columns of the file.",
    ),
]
CiOpt = Annotated[
    str | None,
    typer.Option(
        "--ci",
        metavar="METHOD",
        help="Odds-ratio CIs: profile (profile likelihood, agrees with the LR p; the "
        "default over many models: regress --all, report) or wald (SPSS's). For one "
        "regress model, --ci profile adds a table (and JSON profile_ci); SPSS's blocks "
        "always show the Wald CI.",
    ),
]
ClusterOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        metavar="KEY",
        help="Cluster-robust (CR1 sandwich) S.E., Wald CI and p, with cases clustered by "
        "the groups of this breakdown (e.g. inspection; with regress --input, a column of "
        "the file); over many models (regress --all, report) a 'survives clustering?' "
        "check. none: no clustering.",
    ),
]
ReferenceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--reference",
        metavar="REF",
        help="Reference category of categorical variables: last (SPSS default) or first; "
        "VAR=LEVEL (or VAR=first / VAR=last) for one variable. Repeatable, e.g. "
        f"--reference first --reference {LEAD.key}={LEAD.labels[-1]}.",
    ),
]
# Reports name one group per breakdown (first/last mean nothing to a reader).
GroupReferenceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--reference",
        metavar="VAR=LEVEL",
        help="The reference group of a breakdown's odds ratios, so they read in your "
        f"direction (e.g. {LEAD.key}={LEAD.labels[0]}: {LEAD.labels[-1]} against "
        f"{LEAD.labels[0]}); default the last group. Repeatable.",
    ),
]
