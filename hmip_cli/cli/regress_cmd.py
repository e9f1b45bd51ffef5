"""`hmip regress`: forward stepwise logistic regression (SPSS LOGISTIC REGRESSION
/METHOD=FSTEP) on a file or on the store, one model, a factor's models, or a sweep."""

from __future__ import annotations

import functools
import math
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

from hmip_cli import defaults
from hmip_cli.cli.common import handle_errors, load_cases, load_framework, refuse_ignored, say
from hmip_cli.cli.options import (
    EXAMPLE,
    LEAD,
    REMOVAL,
    AdjustOpt,
    CandidatesOpt,
    CiOpt,
    ClusterOpt,
    DataOpt,
    FdrOpt,
    FormatOpt,
    OutputOpt,
    PinOpt,
    PoutOpt,
    ReferenceOpt,
    RemovalOpt,
    StoreFrameworkOpt,
    WhereOpt,
    with_examples,
)
from hmip_cli.errors import BadRequest
from hmip_cli.framework.model import Framework
from hmip_cli.render import Format, Table, emit
from hmip_cli.vocabulary import Vocabulary

HELP = """Forward stepwise logistic regression, as SPSS LOGISTIC REGRESSION /METHOD=FSTEP.

Cases missing the outcome or any candidate are dropped once; step 0 is the constant-only
model; the candidate with the smallest score-test p enters if p < --pin; after each entry
every term in the model gets a removal test (--removal lr, wald or conditional) and the one
with the largest p leaves if p > --pout. Categorical variables enter and leave as one block
of k-1 indicators (reference category: --reference). Selection stops when nothing qualifies
or when the next model would repeat one already visited.

Three ways to choose the outcome:

\b
  --input FILE --outcome COL --candidates a,b,c   a CSV, Parquet, Excel, SPSS .sav
                                                   or Stata .dta file
  --factor F [--measure M]  or  --question Q       a judgement from the store, among the
                                                   cases where it applies; candidates are
                                                   breakdown keys (default: the bulletin's six)
  --all [--adjust bh|holm]                         every factor x measure and the four
                                                   case-level questions: one findings table,
                                                   p adjusted over every model x candidate

The table format prints SPSS's blocks (Variables in the Equation, Variables not in the
Equation, Model if Term Removed, Model Summary, Omnibus Tests, Hosmer-Lemeshow,
Classification Table); --format json carries everything. Problems (separation, a level with
no events, constant or collinear candidates) are named on stderr and in the JSON.

Example:

\b
  hmip regress --input examples/cases.csv --outcome {outcome} \\
      --candidates {lead},{second},age --categorical {lead},{second}
  hmip regress --factor {factor} --measure {measure}
  hmip regress --factor {factor} --measure {measure} --where {lead}={lead_level}
  hmip regress --question {question} --format json
  hmip regress --all --adjust bh --format csv
"""


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def parse_reference(values: list[str]) -> str | dict[str, str]:
    """--reference values (repeatable, each may be comma-separated): "first"/"last" for every
    variable, VAR=LEVEL for one. Returns "last"/"first" or a dict (key "*" = the default)."""
    default: str | None = None
    named: dict[str, str] = {}
    for part in (p.strip() for v in values for p in v.split(",")):
        if not part:
            continue
        if "=" in part:
            k, _, v = part.partition("=")
            if not k.strip() or not v.strip():
                raise BadRequest(f"--reference: expected VAR=LEVEL, got {part!r}")
            if k.strip() in named and named[k.strip()] != v.strip():
                raise BadRequest(f"--reference: two references for '{k.strip()}'")
            named[k.strip()] = v.strip()
        elif part in ("last", "first"):
            if default is not None and default != part:
                raise BadRequest("--reference: give either first or last as the default, not both")
            default = part
        else:
            raise BadRequest(f"--reference must be last, first, or VAR=LEVEL; got {part!r}")
    if not named:
        return default or "last"
    if default is not None:
        named["*"] = default
    return named


def _report_problems(res, heading: str | None = None, vocab: Vocabulary | None = None) -> None:
    pre = f"{heading}: " if heading else ""
    for p in res.problems:
        say(f"warning: {pre}{vocab.message(p.message) if vocab else p.message}", style="yellow")
    if not res.reliable:
        say(
            f"warning: {pre}the final model is unreliable (separation or non-convergence); its odds ratios "
            "are not reported and selection stopped at that step. SPSS would continue stepping from its "
            "non-converged estimates; its path past that point is not meaningful",
            style="yellow",
        )


class MissingWords(str, Enum):
    """How `--input` reads the not-recorded and not-applicable wordings (hmip_cli.missing)."""

    missing = "missing"
    category = "category"


@handle_errors
def regress(
    ctx: typer.Context,
    input: Annotated[
        Path | None,
        typer.Option(
            "--input",
            "-i",
            metavar="FILE",
            help="A file of cases: CSV/TSV (blank, NA, N/A, #N/A, NaN, ., Unknown, Not "
            "known, Not recorded, Don't know are missing, any case), "
            "Parquet, Excel .xlsx (first sheet), SPSS .sav (value labels of the outcome and "
            "--categorical columns; user-missing values missing) or Stata .dta.",
            dir_okay=False,
        ),
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option("--outcome", metavar="COLUMN", help="Binary outcome column (with --input)."),
    ] = None,
    candidates: CandidatesOpt = None,
    categorical: Annotated[
        str | None,
        typer.Option(
            "--categorical",
            metavar="A,B,...",
            help="Comma-separated candidates to code as indicator blocks (text, Enum and "
            "Boolean columns always are). Store candidates are all categorical.",
        ),
    ] = None,
    missing_words: Annotated[
        MissingWords,
        typer.Option(
            "--missing-words",
            metavar="READ_AS",
            show_default=True,
            help="With --input, how cells saying Unknown, Not known, Not recorded, Don't "
            "know or not applicable (any case) are read: missing (as hmip ingest reads them) "
            "or category (a value like any other, as SPSS and R read the file; blank, NA, "
            "N/A, #N/A, NaN and '.' stay missing).",
        ),
    ] = MissingWords.missing,
    factor: Annotated[
        str | None,
        typer.Option("--factor", metavar="FACTOR", help=f"Factor key, e.g. {EXAMPLE['factor']}."),
    ] = None,
    measure: Annotated[
        str | None,
        typer.Option(
            "--measure",
            metavar="MEASURE",
            help=f"Measure key ({EXAMPLE['measures']}); default: every measure.",
        ),
    ] = None,
    question: Annotated[
        str | None,
        typer.Option(
            "--question",
            metavar="QUESTION",
            help=f"Case-level question key, e.g. {EXAMPLE['question']}.",
        ),
    ] = None,
    all_: Annotated[
        bool,
        typer.Option(
            "--all", help="Every factor x measure and the four questions: one findings table."
        ),
    ] = False,
    fdr: FdrOpt = False,
    adjust: AdjustOpt = None,
    cut: Annotated[
        float,
        typer.Option(
            "--cut",
            metavar="P",
            show_default=True,
            help="Classification cut: a case is predicted an event when p-hat >= P (SPSS CRITERIA CUT).",
        ),
    ] = defaults.CUT,
    ci: CiOpt = None,
    firth_: Annotated[
        bool,
        typer.Option(
            "--firth",
            help="With --input: Firth's penalised-likelihood logistic regression of the outcome "
            "on every candidate (finite estimates under separation; penalised LR tests and "
            "profile penalised CIs, as R logistf).",
        ),
    ] = False,
    cluster: ClusterOpt = None,
    pin: PinOpt = defaults.PIN,
    pout: PoutOpt = defaults.POUT,
    removal: RemovalOpt = REMOVAL,
    reference: ReferenceOpt = None,
    event: Annotated[
        str | None,
        typer.Option(
            "--event",
            metavar="VALUE",
            help="Outcome value that is the event (default: True, 1, or the higher/later value, "
            "as SPSS codes the higher value 1: 2 of 1/2, yes of no/yes).",
        ),
    ] = None,
    max_levels: Annotated[
        int,
        typer.Option(
            "--max-levels",
            metavar="N",
            min=2,
            show_default=True,
            help="With --input: refuse a categorical candidate with more levels than this "
            "before fitting (each level is a parameter; hundreds take minutes).",
        ),
    ] = defaults.MAX_LEVELS,
    where: WhereOpt = None,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            metavar="METHOD",
            help="SPSS /METHOD for the candidates: fstep (forward stepwise, default), bstep "
            "(backward stepwise from the full model) or enter (all in one step).",
        ),
    ] = defaults.METHOD,
    enter: Annotated[
        str | None,
        typer.Option(
            "--enter",
            metavar="A,B,...",
            help="Forced terms: entered first as their own block (SPSS /METHOD=ENTER before "
            "the stepwise block; SAS INCLUDE=) and never removed.",
        ),
    ] = None,
    block: Annotated[
        list[str] | None,
        typer.Option(
            "--block",
            metavar="METHOD:A,B",
            help="A METHOD block (enter, fstep or bstep) over these terms; repeatable, run in "
            "order, each from the previous block's model (SPSS's Block 1, 2, ...). "
            f"E.g. --block enter:age --block fstep:{LEAD.key},{EXAMPLE['second']}.",
        ),
    ] = None,
    contrast: Annotated[
        list[str] | None,
        typer.Option(
            "--contrast",
            metavar="VAR=KIND",
            help="SPSS /CONTRAST of a categorical variable: indicator (default), simple, "
            "deviation, helmert, difference (reverse Helmert), repeated or polynomial; "
            "--reference sets the reference of indicator, simple and deviation. Repeatable.",
        ),
    ] = None,
    iterate: Annotated[
        str,
        typer.Option(
            "--iterate",
            metavar="MODE",
            help="exact (default): every fit to the exact maximum; spss: SPSS's rule "
            "(ITERATE 20, BCON .001, S.E. from the last step's information), so the "
            "printed digits are SPSS's.",
        ),
    ] = defaults.ITERATE,
    save: Annotated[
        Path | None,
        typer.Option(
            "--save",
            metavar="FILE",
            help="SPSS /SAVE: write each case's predicted probability, predicted group and "
            "residuals (pred, pgroup, resid, zresid, dev) beside its row number (never an "
            "identifier) to FILE.csv or FILE.parquet.",
            dir_okay=False,
        ),
    ] = None,
    casewise_z: Annotated[
        float | None,
        typer.Option(
            "--casewise",
            metavar="Z",
            help="SPSS /CASEWISE OUTLIER(Z): list the cases whose standardized residual "
            "exceeds Z in absolute value (SPSS's usual choice: 2).",
        ),
    ] = None,
    print_iterations: Annotated[
        bool,
        typer.Option(
            "--print-iterations",
            help="SPSS /PRINT=ITER: the -2 log likelihood and coefficients after each "
            "iteration of each step's model (Iteration History tables; JSON "
            "step_details[*].iteration_history).",
        ),
    ] = False,
    correlations: Annotated[
        bool,
        typer.Option("--correlations", help="SPSS /PRINT=CORR: correlation of the estimates."),
    ] = False,
    classplot: Annotated[
        bool,
        typer.Option(
            "--classplot",
            help="SPSS's classification plot: predicted probabilities by observed group.",
        ),
    ] = False,
    syntax: Annotated[
        str | None,
        typer.Option(
            "--syntax",
            metavar="LANGUAGE",
            help="Print code that reruns this model (SPSS/PSPP LOGISTIC REGRESSION, R glm, "
            "Stata logit) instead of the tables; with --export-data it reads that file.",
        ),
    ] = None,
    export_data: Annotated[
        Path | None,
        typer.Option(
            "--export-data",
            metavar="FILE",
            help="Write the cases used (outcome 0/1 and the candidates' columns, codes with "
            "value labels; no identifiers) to FILE.sav or FILE.csv.",
            dir_okay=False,
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    data: DataOpt = None,
    framework: StoreFrameworkOpt = None,
) -> None:
    from hmip_cli.cli.regress_extras import model_extras
    from hmip_cli.cli.regress_spss import (
        METHOD_NAMES,
        case_extras,
        method_options,
        parse_contrasts,
        store_categorical,
        store_column,
        syntax_and_export,
    )
    from hmip_cli.stepwise import stepwise
    from hmip_cli.stepwise import sweeps as S
    from hmip_cli.stepwise.firth import firth
    from hmip_cli.stepwise.inputs import read_cases

    ref = parse_reference(reference or [])
    if cluster is not None and cluster.strip().lower() == "none":
        cluster = None
    if iterate.strip().lower() not in ("exact", "spss"):
        raise BadRequest(f"--iterate must be exact or spss; got {iterate!r}")
    options: dict[str, Any] = {
        "pin": pin,
        "pout": pout,
        "removal": removal.value,
        "cut": cut,
        "iterate": iterate.strip().lower(),
        "history": print_iterations,
    }
    adjust_method = S.resolve_adjust(adjust.value if adjust else None, fdr)
    if ci is not None and ci not in ("profile", "wald"):
        raise BadRequest(f"--ci must be profile or wald; got {ci!r}")
    method = method.strip().lower()
    if method not in METHOD_NAMES:
        raise BadRequest(f"--method must be fstep, bstep or enter; got {method!r}")
    blocks_given = bool(enter or block or method != "fstep")

    store_mode = bool(factor or measure or question or all_)
    if input is not None and store_mode:
        raise BadRequest(
            "use either --input (a file) or --factor/--question/--all (the store), not both"
        )
    if firth_ and input is None:
        raise BadRequest("--firth goes with --input FILE --outcome COL --candidates ...")
    if all_ and print_iterations:
        raise BadRequest("--print-iterations goes with one model, not --all")
    if (fdr or adjust is not None) and not all_:
        raise BadRequest(f"{'--fdr' if fdr else '--adjust'} goes with --all")
    if casewise_z is not None and not (math.isfinite(casewise_z) and casewise_z > 0):
        # SPSS: OUTLIER(value) must be positive; 0 or less would list every case
        raise BadRequest(f"--casewise takes a positive value (SPSS's usual: 2), not {casewise_z:g}")

    if input is not None:
        if where:
            raise BadRequest("--where filters the store; with --input, filter the file first")
        refuse_ignored(ctx, ("data",), "with --input (the file is read, not the store)")
        if not outcome or not (candidates or block):
            raise BadRequest("--input needs --outcome and --candidates")
        names, blocking = method_options(_split(candidates), method, enter, block)
        # Only the columns the model uses are read (a wide file of millions of rows): those
        # of the terms, so "a*b" reads a and b (not every column, uncollapsed).
        from hmip_cli.stepwise.terms import base_columns, expand

        used = base_columns(expand(names))
        needed = [outcome, *used, *([cluster] if cluster else [])]
        # Collapsed onto distinct rows with their case counts (one group_by of a lazy scan)
        # unless an output needs the cases themselves.
        case_level = bool(save or casewise_z is not None or classplot or syntax)
        case_level = case_level or bool(export_data or firth_)
        # .sav/.dta: value labels replace the codes of the outcome and categorical columns
        read = read_cases(
            input,
            columns=needed,
            labels=[outcome, *_split(categorical)],
            collapse=not case_level,
            covariates=[n for n in used if n not in _split(categorical)],
            words_missing=missing_words is MissingWords.missing,
        )
        frame, notes = read.frame, read.notes
        if read.codes:  # a .sav/.dta: --event 2 / --reference sex=1 name codes' labels
            from hmip_cli.stepwise.savfile import level_named

            event = level_named(read.codes, outcome, event) if event is not None else None
            if isinstance(ref, dict):
                ref = {k: level_named(read.codes, k, v) for k, v in ref.items()}
        from hmip_cli.envelope import note_provenance

        note_provenance("input", {"file": Path(input).name, "rows": read.n_cases})
        for note in notes:
            say(f"note: {note}")
        if firth_:
            if blocks_given or cluster or ci == "wald" or print_iterations:
                raise BadRequest(
                    "--firth fits one model with every candidate (profile penalised CIs); "
                    "leave out --method/--enter/--block/--cluster/--ci wald/--print-iterations"
                )
            _emit_firth(
                firth(
                    frame,
                    outcome,
                    names,
                    categorical=_split(categorical),
                    reference=ref,
                    event=event,
                ),
                fmt,
                output,
            )
            return
        res = stepwise(
            frame,
            outcome,
            names,
            categorical=_split(categorical),
            reference=ref,
            event=event,
            max_levels=max_levels,
            contrast=parse_contrasts(contrast),
            weights=read.weights,
            **options,
            **blocking,
        )
        _report_problems(res)
        from hmip_cli.cli.regress_extras import model_extras

        extra = model_extras(frame, res, ci, cluster)
        for w in extra.warnings:
            say(f"warning: {w}", style="yellow")
        if (syntax or export_data) and syntax_and_export(frame, res, syntax, export_data, output):
            return
        case_tables = case_extras(frame, res, save, casewise_z, correlations, classplot)
        _emit_results([(None, res)], fmt, output, extras=[extra], case_tables=case_tables)
        return
    if not store_mode:
        raise BadRequest(
            "choose --input FILE --outcome COL --candidates ..., or --factor/--question/--all"
        )
    refuse_ignored(
        ctx,
        ("outcome", "categorical", "max_levels", "missing_words"),
        "to store models (--factor/--question/--all)",
        "the outcome is the judgement, and breakdowns are always categorical",
    )
    if event is not None:
        raise BadRequest("--event applies to --input only (store judgements: yes is the event)")
    fw = load_framework(data)
    # breakdown keys and level labels, as every other command takes them (ethnicity=BAME)
    ref = S.store_reference(ref, fw)
    if cluster is not None:
        cluster = fw.breakdown(cluster).column  # a breakdown key, e.g. inspection
    cases = load_cases(data)
    where_note: list[str] = []
    if where:
        from hmip_cli import rates as R

        cases, conditions = R.filter_cases(cases, where, fw)  # still lazy: read below
        height = cases.select(pl.len()).collect().item()
        where_note = [f"Cases selected: {R.describe_where(conditions)} ({height:,} cases)."]
        if height == 0:
            raise BadRequest(f"no cases where {R.describe_where(conditions)}")
    keys = _split(candidates) or None
    if where and keys is None:
        # A breakdown fixed to one value by --where is constant: leave it out of the default
        # candidates rather than warn about it in every model.
        fixed = {c.key for c in conditions if len(c.codes) == 1}
        keys = [k for k in fw.candidates() if k not in fixed]
    if all_ and (syntax or export_data):
        raise BadRequest("--syntax and --export-data go with one model, not --all")
    if all_ and contrast:
        raise BadRequest("--contrast goes with one model, not --all")
    if all_ and blocks_given:
        raise BadRequest(
            "--all runs the bulletin's FSTEP models; --method/--enter/--block go with one model"
        )
    if all_:
        if factor or measure or question:
            raise BadRequest("--all runs every model; leave out --factor/--measure/--question")
        from hmip_cli.cli.progress import labelled, progress_bar
        from hmip_cli.render import MACHINE_FORMATS

        # a bar on a terminal: models done / total, % and time left (not with csv/json)
        with progress_bar(enabled=fmt not in MACHINE_FORMATS) as progress:
            sw = S.run_sweep(
                cases,
                keys,
                adjust=adjust_method,
                reference=ref,
                ci=ci or "profile",
                cluster=cluster,
                progress=labelled(progress, "model "),
                fw=fw,
                **options,
            )
        frame = sw.findings
        extra_notes = [n for n in (sw.adjust_note(), sw.cluster_note()) if n]
        notes = [
            *where_note,
            f"SPSS FSTEP({removal.value.upper()}), PIN {pin:g}, POUT {pout:g}; candidates: "
            + ", ".join(keys or fw.candidates())
            + ". p: LR test of the term in the final model. 95% CI: "
            + ("Wald (SPSS)." if ci == "wald" else "profile likelihood."),
            *extra_notes,
        ]
        for n in extra_notes:
            say(f"note: {n}")
        # One warning per model and problem: a model's note is repeated on each of its terms' rows.
        seen: set[tuple[str, str]] = set()
        for row in frame.filter(pl.col("note").is_not_null()).iter_rows(named=True):
            key = (row["model"], row["note"])
            if row["note"] != "no variable met the entry criterion" and key not in seen:
                seen.add(key)
                say(
                    f"warning: {row['model']}: {Vocabulary(human=True, fw=fw).message(row['note'])}",
                    style="yellow",
                )
        from hmip_cli.stepwise.spss_tables import findings_table

        emit(findings_table(frame, fmt, notes, adjust_method, fw), fmt, output)
        return
    if question and factor:
        raise BadRequest("use --factor or --question, not both")
    results = []
    base = keys or ([] if block else list(fw.candidates()))
    column_of = functools.partial(store_column, fw=fw)
    columns, blocking = method_options(base, method, enter, block, column_of)
    options.update(blocking)
    options["categorical"] = store_categorical(columns, fw)
    options["contrast"] = parse_contrasts(contrast, column_of)
    extras = []
    chosen = S.targets(factor=factor, measure=measure, question=question, fw=fw)
    if (syntax or export_data) and len(chosen) != 1:
        raise BadRequest(
            f"--syntax and --export-data go with one model; this runs {len(chosen)} "
            "(give --measure)"
        )
    cases = _read_needed(cases, [t.column for t in chosen], columns, cluster)
    for t in chosen:
        res = S.run_target(cases, t, columns, reference=ref, **options)
        _report_problems(res, t.model, Vocabulary(human=True, fw=fw))
        results.append((t, res))
        applicable = cases.filter(pl.col(t.column).is_not_null())
        from hmip_cli.cli.regress_extras import model_extras

        extra = model_extras(applicable, res, ci, cluster, t.model)
        for w in extra.warnings:
            say(f"warning: {w}", style="yellow")
        extras.append(extra)
    if (syntax or export_data) and syntax_and_export(
        cases.filter(pl.col(chosen[0].column).is_not_null()), res, syntax, export_data, output
    ):
        return
    _emit_results(results, fmt, output, where_note, extras, store=True, fw=fw)


regress.__doc__ = with_examples(HELP)


def _read_needed(cases, outcomes: list[str], columns: list[str], cluster: str | None):
    """The store's cases (a lazy scan) read as a frame of the columns the models use only:
    their outcomes, candidates and cluster (issue 13: not every column of the store)."""
    if isinstance(cases, pl.DataFrame):
        return cases
    from hmip_cli.stepwise.terms import base_columns, expand

    names = cases.collect_schema().names()
    used = base_columns(expand(columns))  # an interaction a*b reads a and b
    wanted = dict.fromkeys([*outcomes, *used, *([cluster] if cluster else [])])
    return cases.select([c for c in wanted if c in names]).collect()


def _emit_firth(res, fmt: Format, output: Path | None) -> None:
    """A Firth fit: JSON (`"method": "firth"`) or its Variables in the Equation table."""
    from hmip_cli.stepwise.spss_tables import firth_table

    for p in res.problems:
        say(f"warning: {p.message}", style="yellow")
    emit([firth_table(res)], fmt, output, extra={"models": [res.to_dict()]})


def _emit_results(
    results,
    fmt: Format,
    output: Path | None,
    where_note: list[str] | None = None,
    extras: list | None = None,
    store: bool = False,
    case_tables: list[tuple[str, Table]] | None = None,
    fw: Framework | None = None,
) -> None:
    from hmip_cli import tables as T
    from hmip_cli.stepwise.spss_tables import result_tables

    vocab = Vocabulary(human=T.is_human(fmt), fw=fw) if store else None
    extras = extras or [None] * len(results)
    tables: list[Table] = []
    for (t, r), x in zip(results, extras):
        tables.extend(result_tables(r, t.model if t is not None else None, vocab))
        if x is not None:
            tables.extend(x.tables)
    if where_note:  # under the first table (Case Processing Summary) of each model
        for table in tables:
            if table.title.endswith("Case Processing Summary"):
                table.notes = [*where_note, *table.notes]
    for key, table in case_tables or []:  # --correlations / --casewise / --classplot
        table.name = key
        tables.append(table)
    models: list[dict] = []
    if fmt is Format.json:  # everything the tables show, and every step and statistic
        for (t, r), x in zip(results, extras):
            named = {"model": t.model, "label": t.label} if t is not None else {}
            model = {**named, **r.to_dict(), **(x.json if x else {})}
            if where_note:
                model["where"] = where_note[0]
            models.append(vocab.payload(model) if vocab is not None else model)
    emit(tables, fmt, output, extra={"models": models} if models else None)
