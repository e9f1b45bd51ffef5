"""SPSS LOGISTIC REGRESSION's output blocks as titled tables (`render.Table`): the Case
Processing Summary, Categorical Variables Codings, each step's Variables in / not in the
Equation, Model if Term Removed, Iteration History, Model Summary, Omnibus Tests,
Hosmer-Lemeshow and Classification tables of one stepwise result; the --all sweep's
findings table; a Firth fit's coefficients. `hmip regress` renders them; JSON carries the
result objects themselves."""

from __future__ import annotations

import polars as pl

from hmip_cli import framework
from hmip_cli.framework.model import Framework
from hmip_cli.render import Format, Table
from hmip_cli.vocabulary import Vocabulary


def _step_name(s, several_blocks: bool = False, vocab: Vocabulary | None = None) -> str:
    if s.number == 0:
        return "Block 0, Step 0 (constant only)" if several_blocks else "Step 0 (constant only)"
    verb = "entered" if s.action == "enter" else "removed"
    block = f"Block {s.block}, " if several_blocks else ""
    term = vocab.term(s.term) if vocab is not None else s.term
    return f"{block}Step {s.number} ({term} {verb})"


def _coding_row(c: dict, level: str) -> list[float]:
    """One level's row of a categorical term's coding matrix, as SPSS's Categorical
    Variables Codings prints it under "Parameter coding"."""
    i = c["levels"].index(level)
    if c.get("coding"):
        return [float(v) for v in c["coding"][i]]
    return [1.0 if pl_ == level else 0.0 for pl_ in c["parameter_levels"]]


def result_tables(res, heading: str | None = None, vocab: Vocabulary | None = None) -> list[Table]:
    """Every table SPSS prints for a FSTEP run, as render.Tables. With `vocab` (store
    models), terms and levels are named as in every other command (hmip_cli/vocabulary.py)."""
    from hmip_cli.stepwise.result import coefficients_frame, if_removed_frame, not_in_frame

    pre = f"{heading}: " if heading else ""
    tables: list[Table] = []
    cases = pl.DataFrame(
        {
            "cases": ["Included in analysis", "Missing cases", "Total"],
            "n": [res.n, res.n_dropped, res.n_total],
        }
    )
    tables.append(
        Table(
            cases,
            f"{pre}Case Processing Summary",
            display={"cases": "Cases", "n": "N"},
            notes=[
                f"Dependent variable: {res.outcome}; event (coded 1) = {res.event}, "
                f"non-event (0) = {res.nonevent}. Method: {res.method}, PIN {res.pin:g}, "
                f"POUT {res.pout:g}."
            ],
        )
    )
    if res.codings:
        rows = []
        width = max(len(c["parameters"]) for c in res.codings)
        for c in res.codings:
            for lv, n in zip(c["levels"], c["level_n"]):
                ev = c["level_events"][c["levels"].index(lv)]
                values = _coding_row(c, lv)
                if c.get("coding"):  # a non-indicator contrast: its row of the coding matrix
                    row = c["coding"][c["levels"].index(lv)]
                    param = "(" + ", ".join(f"{v:.3f}" for v in row) + ")"
                else:
                    param = next(
                        (p for p, pl_ in zip(c["parameters"], c["parameter_levels"]) if pl_ == lv),
                        "(reference)",
                    )
                row = {
                    "variable": c["term"],
                    "level": lv,
                    "n": int(n),
                    "events": int(ev),
                    "parameter": param,
                }
                # SPSS's "Parameter coding" columns (1), (2), ...: this level's row of the
                # coding matrix (indicator: 1 for its own parameter, 0 elsewhere)
                for j in range(width):
                    row[f"coding_{j + 1}"] = values[j] if j < len(values) else None
                rows.append(row)
        tables.append(
            Table(
                pl.DataFrame(rows),
                f"{pre}Categorical Variables Codings",
                display={
                    "variable": "Variable",
                    "level": "Level",
                    "n": "Frequency",
                    "events": "Events",
                    "parameter": "Parameter",
                    **{f"coding_{j + 1}": f"Parameter coding ({j + 1})" for j in range(width)},
                },
                notes=[
                    "Indicator coding; the reference level has no parameter."
                    if all(c.get("contrast", "indicator") == "indicator" for c in res.codings)
                    else "Parameter: indicator level, or the row of the contrast's coding "
                    "(one value per parameter, in order)."
                ],
            )
        )
    steps = res.steps
    summary = pl.DataFrame(
        [
            {
                "step": s.number,
                "minus_2ll": s.minus_2ll,
                "cox_snell_r2": s.cox_snell_r2,
                "nagelkerke_r2": s.nagelkerke_r2,
            }
            for s in steps[1:]
        ],
        schema={
            "step": pl.Int64,
            "minus_2ll": pl.Float64,
            "cox_snell_r2": pl.Float64,
            "nagelkerke_r2": pl.Float64,
        },
    )
    omni = []
    for s in steps[1:]:
        for kind, chi in (
            ("Step", s.omnibus_step),
            ("Block", s.omnibus_block),
            ("Model", s.omnibus_model),
        ):
            omni.append(
                {
                    "block": s.block,
                    "step": s.number,
                    "test": kind,
                    "chi_square": chi.chi_square,
                    "df": chi.df,
                    "p": chi.p,
                }
            )
    hl = [
        {
            "step": s.number,
            "chi_square": s.hosmer_lemeshow.chi_square,
            "df": s.hosmer_lemeshow.df,
            "p": s.hosmer_lemeshow.p,
        }
        for s in steps[1:]
        if s.hosmer_lemeshow
    ]
    cls = []
    for s in steps:
        d = s.classification.to_dict()
        cls.append(
            {
                "step": s.number,
                "observed": res.nonevent,
                f"predicted_{res.nonevent}": d["nonevent_predicted_nonevent"],
                f"predicted_{res.event}": d["nonevent_predicted_event"],
                "percent_correct": d["percent_correct_nonevent"],
            }
        )
        cls.append(
            {
                "step": s.number,
                "observed": res.event,
                f"predicted_{res.nonevent}": d["event_predicted_nonevent"],
                f"predicted_{res.event}": d["event_predicted_event"],
                "percent_correct": d["percent_correct_event"],
            }
        )
        cls.append(
            {
                "step": s.number,
                "observed": "Overall percentage",
                f"predicted_{res.nonevent}": None,
                f"predicted_{res.event}": None,
                "percent_correct": d["percent_correct"],
            }
        )
    for s in steps:
        title = f"{pre}{_step_name(s, len(res.blocks) > 1, vocab)}"
        if s.iteration_history is not None:
            tables.append(_history_table(s.iteration_history, title))
        tables.append(
            Table(
                coefficients_frame(s.in_equation).drop("kind"),
                f"{title}: Variables in the Equation",
                display={
                    "parameter": "",
                    "b": "B",
                    "se": "S.E.",
                    "wald": "Wald",
                    "df": "df",
                    "p": "Sig.",
                    "exp_b": "Exp(B)",
                    "ci_low": "Exp(B) 95% Wald CI lower",
                    "ci_high": "Exp(B) 95% Wald CI upper",
                },
                p_columns=("p",),
                hidden=("term", "level", "reference", "reliable"),
                notes=[
                    "Exp(B) and its CI are left empty where the model is unreliable "
                    "(separation) or the odds ratio is beyond 1e6."
                ]
                if not all(c.reliable for c in s.in_equation)
                else [],
            )
        )
        if s.if_removed:
            tables.append(
                Table(
                    if_removed_frame(s),
                    f"{title}: Model if Term Removed",
                    hidden=("removal_statistic", "removal_p") if res.removal == "lr" else (),
                    display={
                        "term": "Variable",
                        "log_likelihood": "Model Log Likelihood",
                        "change_minus_2ll": "Change in -2LL",
                        "p": "Sig. of the Change",
                        "removal_statistic": "Removal statistic",
                        "removal_p": "Removal Sig.",
                    },
                    p_columns=("p", "removal_p"),
                )
            )
        ni = not_in_frame(s)
        if ni.height:
            tables.append(
                Table(
                    ni,
                    f"{title}: Variables not in the Equation",
                    hidden=("term", "kind"),
                    display={
                        "parameter": "",
                        "score": "Score",
                        "p": "Sig.",
                        "eligible": "Eligible",
                    },
                    p_columns=("p",),
                )
            )
    tables.append(
        Table(
            res.steps_frame(),
            f"{pre}Steps",
            notes=[f"Stopped: {res.stop_reason}."],
            display={
                "step": "Step",
                "action": "Action",
                "term": "Variable",
                "statistic": "Statistic",
                "p": "Sig.",
                "minus_2ll": "-2 Log likelihood",
                "terms": "Variables in the model",
            },
            p_columns=("p",),
        )
    )
    if summary.height:
        tables.append(
            Table(
                summary,
                f"{pre}Model Summary",
                display={
                    "step": "Step",
                    "minus_2ll": "-2 Log likelihood",
                    "cox_snell_r2": "Cox & Snell R Square",
                    "nagelkerke_r2": "Nagelkerke R Square",
                },
            )
        )
        tables.append(
            Table(
                pl.DataFrame(omni),
                f"{pre}Omnibus Tests of Model Coefficients",
                p_columns=("p",),
                display={
                    "block": "Block",
                    "step": "Step",
                    "test": "",
                    "chi_square": "Chi-square",
                    "p": "Sig.",
                },
            )
        )
    if hl:
        tables.append(
            Table(
                pl.DataFrame(hl),
                f"{pre}Hosmer and Lemeshow Test",
                p_columns=("p",),
                display={"step": "Step", "chi_square": "Chi-square", "p": "Sig."},
                notes=[
                    "Groups: deciles of predicted probability; cases with the same covariate "
                    "pattern are never split (SAS PROC LOGISTIC's documented rule; see "
                    "docs/stepwise.md).",
                    *(
                        f"Step {s.number}: {s.hosmer_lemeshow.note}."
                        for s in steps[1:]
                        if s.hosmer_lemeshow and s.hosmer_lemeshow.note
                    ),
                ],
            )
        )
    tables.append(
        Table(
            pl.DataFrame(cls),
            f"{pre}Classification Table (cut value {_cut_text(steps[0].classification.cut)})",
            percent_columns=("percent_correct",),
            decimals={f"predicted_{res.nonevent}": 0, f"predicted_{res.event}": 0},
            display={
                "step": "Step",
                "observed": "Observed",
                f"predicted_{res.nonevent}": f"Predicted {res.nonevent}",
                f"predicted_{res.event}": f"Predicted {res.event}",
                "percent_correct": "Percentage Correct",
            },
        )
    )
    if vocab is not None:
        for table in tables:
            table.frame = vocab.frame(table.frame)
    return tables


def _history_table(h, title: str) -> Table:
    """SPSS's Iteration History of one step's model (/PRINT=ITER)."""
    return Table(
        h.frame(),
        f"{title}: Iteration History",
        display={"iteration": "Iteration", "minus_2ll": "-2 Log likelihood"},
        notes=[
            f"Initial -2 Log Likelihood: {h.initial_minus_2ll:.3f}"
            + (
                " (every B = 0)."
                if all(b == 0 for b in h.start)
                else " (constant = logit of the event rate, other B = 0)."
            ),
            h.note,
        ],
    )


def _cut_text(cut: float) -> str:
    """SPSS prints the cut as .500."""
    return f"{cut:.3f}".removeprefix("0")


def findings_table(
    frame: pl.DataFrame,
    fmt: Format,
    notes: list[str],
    adjust: str = "none",
    fw: Framework | None = None,
) -> Table:
    """The --all sweep: the full frame for machines; for people, one row per model and term
    with the model's label, the finding in words, the odds ratio with its CI, Sig. and the
    adjusted Sig. (with --adjust)."""
    from hmip_cli import tables

    fw = framework.default() if fw is None else fw
    title = fw.wording.sweep_title
    frame = Vocabulary(human=tables.is_human(fmt), fw=fw).frame(frame)
    adjusted = "p_adjusted" in frame.columns
    clustered = "survives_clustering" in frame.columns
    adjust_label = {"bh": "BH", "holm": "Holm"}.get(adjust, "adjusted")

    if not tables.is_human(fmt):
        return Table(frame, title, notes=notes, name="findings")
    rows = []
    last_model = None
    for r in frame.iter_rows(named=True):
        if r["term"] is None:
            finding = ""
        elif not r["reliable"] or r["odds_ratio"] is None:
            finding = f"{r['groups']}; no odds ratio: the model is unreliable (see the warning)"
        else:
            finding = r["groups"]  # "CRC 54% vs NPS 74%": the direction is plain from the numbers
        ci = (
            f"{r['ci_low']:.3f}\u2013{r['ci_high']:.3f}"
            if r["ci_low"] is not None and r["ci_high"] is not None
            else ""
        )
        first = r["model"] != last_model
        last_model = r["model"]
        rows.append(
            {
                "model": r["label"] if first else "",
                "n": r["n"] if first else None,
                "term": r["term"] or "none entered",
                "finding": finding,
                "odds_ratio": r["odds_ratio"],
                "ci": ci,
                "p": r["p"],
                **({"p_adjusted": r["p_adjusted"]} if adjusted else {}),
                **(
                    {
                        "survives_clustering": None
                        if r["survives_clustering"] is None
                        else ("yes" if r["survives_clustering"] else "no")
                    }
                    if clustered
                    else {}
                ),
            }
        )
    schema = {
        "model": pl.String,
        "n": pl.Int64,
        "term": pl.String,
        "finding": pl.String,
        "odds_ratio": pl.Float64,
        "ci": pl.String,
        "p": pl.Float64,
    }
    if adjusted:
        schema["p_adjusted"] = pl.Float64
    if clustered:
        schema["survives_clustering"] = pl.String
    return Table(
        pl.DataFrame(rows, schema=schema),
        title,
        notes=notes,
        name="findings",
        right_aligned=("ci",),
        p_columns=("p", "p_adjusted"),
        display={
            "model": "Model",
            "n": "n",
            "term": "Variable",
            "finding": "% yes (level vs reference)",
            "odds_ratio": "Odds ratio",
            "ci": "95% CI",
            "p": "Sig.",
            "p_adjusted": f"Sig. ({adjust_label})",
            "survives_clustering": "Survives clustering?",
        },
    )


def firth_table(res) -> Table:
    """A Firth fit's Variables in the Equation table (`hmip regress --firth`)."""
    d = res.to_dict()
    mc = d["model_chi_square"]
    return Table(
        res.coefficients_frame(),
        "Firth's penalised-likelihood logistic regression: Variables in the Equation",
        display={
            "parameter": "",
            "b": "B",
            "se": "S.E.",
            "chi_square": "Penalised LR chi-square",
            "df": "df",
            "p": "Sig.",
            "exp_b": "Exp(B)",
            "ci_low": "Profile penalised 95% CI lower",
            "ci_high": "Profile penalised 95% CI upper",
        },
        hidden=("term", "kind", "level", "reference", "reliable"),
        p_columns=("p",),
        notes=[
            f"Dependent variable: {res.outcome}; event = {res.event}. {res.n} cases used, "
            f"{res.n_dropped} dropped (missing values). Every candidate is in the model (no "
            "stepwise selection).",
            "B: maximum of the penalised log-likelihood l + 1/2 log det I (Firth 1993); S.E. from "
            "the information at B; Sig.: penalised likelihood-ratio test (the term's coefficients "
            "fixed at 0, penalty of the full model, as R logistf); CI: profile penalised likelihood.",
            f"Penalised log-likelihood {res.penalised_log_likelihood:.4f}; penalised LR chi-square "
            f"of the model {mc['chi_square']:.3f} on {mc['df']} df.",
        ],
    )
