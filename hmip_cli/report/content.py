"""The report's content, computed once and shared by every writer (HTML, Markdown, XLSX).

`build_report(cases, ...)` runs the analyses exactly once (`rates.bulletin()` for Figures
1-4 and Tables 1-2, `rates.sample_profile()`, and the stepwise `sweep()`), then lays the
results out as `DocTable`s: plain rows of typed values (int, float, a marker string such as
"[c]", or None) that each writer formats its own way. No writer computes anything.

Row keys are stable so that key findings can point at the rows they summarise:
  sample profile        characteristic key ("all_cases", "crc", ...)
  figure-1..figure-4    factor key
  table-1, table-2      "<breakdown>/<group>" ("all/all", "provider/NPS")
  differences           "<model>|<term>|<level code>"
  models                model key ("<area>/<measure>", or a question key)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from hmip_cli import defaults, framework
from hmip_cli import rates as R
from hmip_cli.errors import BadRequest
from hmip_cli.framework.model import Framework
from hmip_cli.layout import Column, Grid
from hmip_cli.layout import cell_text as layout_cell_text
from hmip_cli.report.findings import key_findings
from hmip_cli.report.keys import (  # noqa: F401  (re-exported: C.figure_id, ... for the writers)
    DIFFERENCES_ID,
    FIGURE_COLUMNS,
    MODELS_ID,
    SAMPLE_ID,
    _level_code,
    difference_key,
    figure_data,
    figure_id,
    figure_title,
    hidden_reason,
    measure_of_figure,
    one_dp,
    shown,
    significant,
    table_id,
    target_index,
    whole,
)
from hmip_cli.report.provenance import Provenance, from_cases, from_store_info, report_date
from hmip_cli.tables import marker_notes


# Identifying columns are never passed on to anything in this package: the analyses get
# the case frame without them (belt and braces: none of them reads these columns anyway).
def _drop(fw: Framework) -> tuple[str, ...]:
    return fw.identifying_columns()


def _fw(fw: Framework | None) -> Framework:
    return framework.default() if fw is None else fw


@dataclass(frozen=True)
class ReportParams:
    """Options that change the numbers. `suppress` defaults to True: a report is a publication."""

    min_n: int = R.DEFAULT_MIN_N
    suppress: bool = True
    fdr: bool = False
    pin: float = defaults.PIN
    pout: float = defaults.POUT
    candidates: tuple[str, ...] | None = None  # None: the framework's candidates
    date: str | None = None  # YYYY-MM-DD; None: SOURCE_DATE_EPOCH, else today
    removal: str = "lr"  # "lr" (SPSS FSTEP(LR)), "wald" or "conditional", as in `stepwise`
    # Multiple-testing adjustment over every model x candidate: "bh", "holm" or "none";
    # fdr=True is the old spelling of adjust="bh" (and is set when adjust="bh").
    adjust: str | None = None
    # Odds-ratio CIs in the differences table: "profile" (profile likelihood, agrees with the
    # LR p) or "wald" (SPSS's); the clustering check: a breakdown key whose groups are the
    # clusters (cases are sampled within inspections), or None for no check.
    ci: str = defaults.REPORT_CI
    cluster: str | None = defaults.REPORT_CLUSTER
    disclosure: str = defaults.DISCLOSURE  # disclosure control policy (report/disclosure.py)
    # Reference groups of the odds ratios (`--reference provider=CRC`): (breakdown key, level)
    # pairs, the level as its code or label; normalised to (key, code). Default: the last
    # level of each breakdown, as SPSS.
    reference: tuple[tuple[str, str], ...] = ()
    # The framework the cases follow (the store's): areas, measures, wording.
    fw: Framework = field(default_factory=framework.default, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.candidates is None:
            object.__setattr__(self, "candidates", self.fw.candidates())
        # Checked here, before minutes of work, with the messages `stepwise` and `sweep` give.
        from hmip_cli.stepwise.select import check_selection
        from hmip_cli.stepwise.sweeps import candidate_columns, resolve_adjust

        check_selection(self.pin, self.pout, self.removal)
        candidate_columns(list(self.candidates or ()), self.fw)
        method = resolve_adjust(self.adjust, self.fdr)
        object.__setattr__(self, "adjust", method)
        object.__setattr__(self, "fdr", method == "bh")
        if self.ci not in ("profile", "wald"):
            raise BadRequest(f"--ci must be profile or wald; got {self.ci!r}")
        if self.cluster is not None:
            self.fw.breakdown(self.cluster)  # BadRequest naming the keys
        from hmip_cli.report.disclosure import check_policy

        check_policy(self.disclosure)
        checked = _check_reference(self.reference, self.candidates or (), self.fw)
        object.__setattr__(self, "reference", checked)

    def to_dict(self) -> dict:
        d = {
            "min_n": self.min_n,
            "suppress": self.suppress,
            "fdr": self.fdr,
            "pin": self.pin,
            "pout": self.pout,
            "candidates": list(self.candidates or ()),
            "disclosure": self.disclosure,
        }
        if (
            self.removal != "lr"
        ):  # listed only when not the default, so default reports stay as they were
            d["removal"] = self.removal
        if self.adjust == "holm":  # bh is listed as fdr (its old name)
            d["adjust"] = self.adjust
        d["ci"] = self.ci
        d["cluster"] = self.cluster
        if self.reference:  # listed only when chosen, so default reports stay as they were
            d["reference"] = dict(self.reference)
        return d

    @property
    def reference_columns(self) -> dict[str, str] | str:
        """`reference` for `stepwise`: {case-frame column: level code}, or "last"."""
        return {self.fw.breakdown(k).column: v for k, v in self.reference} or "last"

    @property
    def cluster_column(self) -> str | None:
        return self.fw.breakdown(self.cluster).column if self.cluster else None

    @property
    def adjust_name(self) -> str:
        """ "Benjamini-Hochberg", "Holm" or "none"."""
        from hmip_cli.stepwise.adjust import METHODS

        return METHODS[self.adjust or "none"]

    @property
    def method(self) -> str:
        """ "FSTEP(LR)", "FSTEP(WALD)" or "FSTEP(COND)"."""
        from hmip_cli.stepwise.select import REMOVALS

        return REMOVALS[self.removal]

    @property
    def removal_test(self) -> str:
        """The removal test in words, for the methods notes."""
        return REMOVAL_TESTS[self.removal]


def _check_reference(
    pairs: tuple[tuple[str, str], ...], candidates: tuple[str, ...], fw: Framework | None = None
) -> tuple[tuple[str, str], ...]:
    """(key, level) pairs -> (breakdown key, level code); each key a candidate, once."""
    from hmip_cli.stepwise.sweeps import store_reference

    out: dict[str, str] = {}
    fw = _fw(fw)
    offered = {fw.breakdown(c).key for c in candidates}
    for key, level in pairs:
        b = fw.breakdown(key)
        if b.key not in offered:
            raise BadRequest(
                f"--reference {b.key}: not among the candidates ({', '.join(sorted(offered))})"
            )
        code = store_reference({b.key: level}, fw)[b.column]  # type: ignore[index]
        if out.get(b.key, code) != code:
            raise BadRequest(f"--reference: two references for '{b.key}'")
        out[b.key] = code
    return tuple(out.items())


# How the methods notes name each removal test (SPSS LOGISTIC REGRESSION's FSTEP(LR|WALD|COND)).
REMOVAL_TESTS = {
    "lr": "likelihood-ratio",
    "wald": "Wald",
    "conditional": "conditional (likelihood-ratio from conditional parameter estimates)",
}


# One table of the report: a `layout.Grid` (the one table model every writer reads) with
# its anchor id ("figure-1": key findings point at it), worksheet name and row keys.
DocTable = Grid


def doc_table(
    id: str,
    title: str,
    sheet: str,
    columns: list[Column],
    rows: list[dict],
    keys: list[str],
    notes: list[str] | None = None,
) -> DocTable:
    return Grid(title, columns, rows, list(notes or []), id=id, sheet=sheet, keys=list(keys))


@dataclass
class Report:
    """Everything a writer needs. `results`, `profile` and `findings` are the analyses'
    own frames (computed once); `tables` their layout; `key_findings` the sentences."""

    results: R.BulletinResults
    profile: pl.DataFrame
    findings: pl.DataFrame
    params: ReportParams
    provenance: Provenance
    tables: list[DocTable]
    key_findings: list  # list[findings.Finding]
    figures: dict[int, pl.DataFrame]  # figure number -> figure_data frame
    sweep: object = None  # stepwise.SweepResult: the family of tests and each fitted model
    custom_title: str | None = None  # --title (or the release file's title)
    disclosure: Any = None  # disclosure.Disclosure: what was suppressed, why (the audit)

    def table(self, table_id: str) -> DocTable:
        for t in self.tables:
            if t.id == table_id:
                return t
        raise KeyError(table_id)

    @property
    def title(self) -> str:
        return self.custom_title or self.params.fw.wording.report_title

    @property
    def synthetic(self) -> bool:
        return self.provenance.synthetic

    @property
    def display_title(self) -> str:
        """The title as headings show it: marked when the data are synthetic."""
        return f"{self.title} (synthetic data)" if self.synthetic else self.title


DEFAULT_TITLE = framework.default().wording.report_title  # qi-2016's
SYNTHETIC_BANNER = (
    "Synthetic data: every number here was computed from synthetic case assessments made "
    "by hmip synth. They are not real case assessments and describe no real person or service."
)


@dataclass(frozen=True)
class FindingGroup:
    heading: str | None  # None: straight under "Key findings"
    findings: tuple


DETAIL_HEADING = "In more detail"


def findings_in_groups(findings) -> list[FindingGroup]:
    """The headline findings (under "Key findings" itself), then the rest under
    DETAIL_HEADING; with no headlines marked, one group of all."""
    top = tuple(f for f in findings if getattr(f, "headline", False))
    rest = tuple(f for f in findings if not getattr(f, "headline", False))
    if not top:
        return [FindingGroup(None, rest)]
    return [FindingGroup(None, top)] + ([FindingGroup(DETAIL_HEADING, rest)] if rest else [])


def _figure_table(
    n: int, data: pl.DataFrame, min_n: int, n_cases: int, fw: Framework | None = None
) -> DocTable:
    fw = _fw(fw)
    m = measure_of_figure(n, fw)
    w = fw.wording
    gate_cols = (
        [
            Column("n_priority", w.gate_count_column, "count"),
            Column("priority_percent", w.gate_share_column, "percent"),
        ]
        if fw.gate is not None
        else []
    )
    cols = [
        Column("factor", w.area_heading),
        *gate_cols,
        Column("n", "Applicable cases", "count"),
        Column("n_yes", "Yes", "count"),
        Column("percent_yes", "Percentage yes", "percent"),
        Column("ci_lower", "95% CI lower", "percent"),
        Column("ci_upper", "95% CI upper", "percent"),
        Column("marker", "Marker"),
    ]
    rows, keys = [], []
    for r in data.iter_rows(named=True):
        code = r["marker"] if r["marker"] in (R.MARK_SUPPRESSED, R.MARK_NOT_APPLICABLE) else None
        hidden_priority = r["n_priority"] is None  # suppressed by disclosure control
        rows.append(
            {
                "factor": r["factor_label"],
                "n_priority": R.MARK_SUPPRESSED if hidden_priority else r["n_priority"],
                "priority_percent": R.MARK_SUPPRESSED
                if hidden_priority
                else (100.0 * r["n_priority"] / n_cases if n_cases else R.MARK_NOT_APPLICABLE),
                "n": R.MARK_SUPPRESSED if r["n"] is None else r["n"],
                "n_yes": code if r["n_yes"] is None else r["n_yes"],
                "percent_yes": code or r["percent_yes"],
                "ci_lower": code or r["ci_lower"],
                "ci_upper": code or r["ci_upper"],
                "marker": r["marker"],
            }
        )
        keys.append(r["factor"])
    notes = [
        f"{m.label}: % of applicable cases (the judgement was recorded yes or no) where the "
        "answer was yes. 95% CI: Wilson score interval.",
        *marker_notes(data, min_n),
    ]
    if fw.gate is None:
        for row in rows:
            del row["n_priority"], row["priority_percent"]
    return doc_table(
        figure_id(n), figure_title(n, fw) + " (data)", f"Figure_{n}", cols, rows, keys, notes
    )


# --------------------------------------------------------------------------------------
# Tables 1-2 and the sample profile
# --------------------------------------------------------------------------------------


def _protection_table(
    n: int, frame: pl.DataFrame, min_n: int, fw: Framework | None = None
) -> DocTable:
    fw = _fw(fw)
    headings = {t.key: t.report_heading for t in fw.topics}
    part = frame.filter(pl.col("table") == n)
    topics = part["topic"].unique(maintain_order=True).to_list()
    cols = [Column("breakdown", "Breakdown"), Column("group", "Group")]
    for t in topics:
        head = headings.get(t, t)
        cols += [
            Column(f"{t}_n", f"{head}: applicable cases", "count"),
            Column(f"{t}_pct", f"{head}: percentage yes", "percent"),
            Column(f"{t}_marker", f"{head}: marker"),
        ]
    rows: dict[str, dict] = {}
    for r in part.iter_rows(named=True):
        key = f"{r['breakdown']}/{r['group']}"
        row = rows.setdefault(key, {"breakdown": r["breakdown_label"], "group": r["group_label"]})
        code = r["marker"] if r["marker"] in (R.MARK_SUPPRESSED, R.MARK_NOT_APPLICABLE) else None
        row[f"{r['topic']}_n"] = R.MARK_SUPPRESSED if r["n"] is None else r["n"]
        row[f"{r['topic']}_pct"] = code or r["percent_yes"]
        row[f"{r['topic']}_marker"] = r["marker"]
    notes = [
        " ".join(
            [
                *([fw.topic_note()] if fw.topics else []),
                "Applicable cases: cases where the question was asked.",
            ]
        ),
        *marker_notes(part, min_n),
    ]
    return doc_table(
        table_id(n),
        {t.number: t.title for t in fw.question_tables}.get(n, f"Table {n}"),
        f"Table_{n}",
        cols,
        list(rows.values()),
        list(rows),
        notes,
    )


def _sample_table(profile: pl.DataFrame) -> DocTable:
    part = profile.filter(pl.col("breakdown") == R.ALL)
    cols = [
        Column("characteristic", "Characteristic"),
        Column("n", "Cases", "count"),
        Column("percent", "Percentage of cases", "percent"),
        Column("not_recorded", "Not recorded", "count"),
    ]
    rows = [
        {
            "characteristic": r["characteristic_label"],
            "n": R.MARK_SUPPRESSED if r["n"] is None else r["n"],
            "percent": r["percent"]
            if r["percent"] is not None
            else (R.MARK_SUPPRESSED if r["n"] is None else R.MARK_NOT_APPLICABLE),
            "not_recorded": R.MARK_SUPPRESSED if r["not_recorded"] is None else r["not_recorded"],
        }
        for r in part.iter_rows(named=True)
    ]
    keys = part["characteristic"].to_list()
    return doc_table(
        SAMPLE_ID,
        "Sample profile",
        "Sample_profile",
        cols,
        rows,
        keys,
        ["Percentage: of the cases where the attribute is recorded."],
    )


# --------------------------------------------------------------------------------------
# Stepwise findings
# --------------------------------------------------------------------------------------


def _difference_tables(
    findings: pl.DataFrame, params: ReportParams, n_clusters: int = 0, disclosure=None
) -> list[DocTable]:
    sig = significant(findings)
    adjusted = "p_adjusted" in findings.columns
    clustered = "survives_clustering" in findings.columns
    ci_name = "profile likelihood" if params.ci == "profile" else "Wald"
    cols = [
        Column("outcome", "Outcome"),
        Column("variable", "Variable"),
        Column("direction", "Direction"),
        Column("group", "Group"),
        Column("percent_level", "Group: percentage yes", "percent"),
        Column("n_level", "Group: cases", "count"),
        Column("reference", "Reference group"),
        Column("percent_reference", "Reference group: percentage yes", "percent"),
        Column("n_reference", "Reference group: cases", "count"),
        Column("odds_ratio", "Odds ratio", "ratio"),
        Column("ci_low", f"Odds ratio 95% CI lower ({ci_name})", "ratio"),
        Column("ci_high", f"Odds ratio 95% CI upper ({ci_name})", "ratio"),
        Column("p", "p (LR test)", "p"),
    ]
    if adjusted:
        cols.append(Column("p_adjusted", f"p ({params.adjust_name})", "p"))
    if clustered:
        cols.append(Column("p_cluster", "p (cluster-robust)", "p"))
        cols.append(Column("survives_clustering", "Survives clustering?"))
    cols += [Column("n", "Cases in model", "count"), Column("marker", "Marker")]
    rows, keys = [], []
    for r in sig.iter_rows(named=True):
        b = params.fw.breakdown_for_column(r["term"])
        # (a count hidden by disclosure control is null here; it does not make a group small)
        sizes = [v for v in (r["n_level"], r["n_reference"]) if v is not None]
        small = min(sizes, default=params.min_n) < params.min_n
        hide = small and params.suppress
        marker = (R.MARK_SUPPRESSED if hide else R.MARK_LOW) if small else None
        disclosed = any(
            r[c] is None for c in ("percent_level", "percent_reference", "n_level", "n_reference")
        )
        if disclosed:
            marker = R.MARK_SUPPRESSED  # disclosure control hid a count behind this row
        row = {
            "outcome": r["label"],
            "variable": b.label if b else r["term"],
            "direction": r["direction"],
            "group": r["level"],
            "percent_level": _or_c(None if hide else r["percent_level"]),
            "n_level": _or_c(r["n_level"]),
            "reference": r["reference"],
            "percent_reference": _or_c(None if hide else r["percent_reference"]),
            "n_reference": _or_c(r["n_reference"]),
            "odds_ratio": r["odds_ratio"],
            "ci_low": r["ci_low"],
            "ci_high": r["ci_high"],
            "p": r["p"],
            "n": _or_c(r["n"]),
            "marker": marker,
        }
        if adjusted:
            row["p_adjusted"] = r["p_adjusted"]
        if clustered:
            row["p_cluster"] = r["p_cluster"]
            sc = r["survives_clustering"]
            row["survives_clustering"] = None if sc is None else ("yes" if sc else "no")
        rows.append(row)
        keys.append(difference_key(r, params.fw))
    cands = ", ".join(params.fw.breakdown(k).label for k in params.candidates or ())
    notes = [
        f"Variables in the final model of a forward stepwise logistic regression (SPSS {params.method}): entered "
        f"when the score test p < {params.pin:g} (PIN) and removed when the {params.removal_test} test p > "
        f"{params.pout:g} (POUT), so each difference holds after accounting for the other variables. "
        f"Candidates: {cands}.",
        "Percentages are the raw % yes in each group; the odds ratio compares the group with the "
        "reference group, adjusted for the other variables in the model"
        + (
            " (reference groups chosen: "
            + "; ".join(
                f"{params.fw.breakdown(k).label}: {params.fw.breakdown(k).label_of(v)}"
                for k, v in params.reference
            )
            + "; otherwise the last group)."
            if params.reference
            else "."
        ),
        (
            "95% CI: profile likelihood, the odds ratios the likelihood-ratio test would not reject "
            "at 5%, so the interval excludes 1 exactly when p (LR test) < 0.05."
            if params.ci == "profile"
            else "95% CI: Wald interval (as SPSS prints it); it can disagree with the LR p."
        ),
    ]
    if clustered:
        notes.append(
            f"p (cluster-robust): Wald test with cluster-robust (CR1 sandwich) standard errors, "
            f"cases clustered by {params.fw.breakdown(params.cluster or 'inspection').label.lower()} "
            "(cases in one inspection are not independent); a difference survives clustering "
            "when this p is below 0.05."
            + (
                f" There are only {n_clusters} clusters; with fewer than 20 robust standard "
                "errors tend to be too small, so this check is indicative."
                if n_clusters < 20
                else ""
            )
        )
    if adjusted:
        what = "false discovery rate" if params.adjust == "bh" else "family-wise error rate"
        notes.append(
            f"p ({params.adjust_name}): adjusted for multiple testing ({what}) over the whole "
            "family of tests the models considered: every model x every candidate variable (the "
            "likelihood-ratio removal test in the final model for a variable in it, the score test "
            "in the final step for one not in it)."
        )
    if any(r["marker"] for r in rows):
        notes.append(
            f"{R.MARK_LOW if not params.suppress else R.MARK_SUPPRESSED}: a group has fewer than "
            f"{params.min_n} cases" + ("; its percentage is not shown." if params.suppress else ".")
        )
    diffs = doc_table(
        DIFFERENCES_ID,
        "Significant subgroup differences (stepwise logistic regression)",
        "Differences",
        cols,
        rows,
        keys,
        notes,
    )

    targets = target_index()
    mcols = [
        Column("outcome", "Outcome"),
        Column("n", "Cases in model", "count"),
        Column("n_dropped", "Cases dropped for missing values", "count"),
        Column("entered", "Variables in the final model"),
        Column("note", "Note"),
    ]
    mrows, mkeys = [], []
    used_notes: set[str] = set()
    for (model,), part in findings.group_by("model", maintain_order=True):
        first = part.row(0, named=True)
        entered = [
            params.fw.breakdown_for_column(t) for t in (first["entered"] or "").split(", ") if t
        ]
        shorts = model_notes(part)
        used_notes.update(shorts)
        note = "; ".join([*shorts[:1], *(n[:1].lower() + n[1:] for n in shorts[1:])]) or None
        mrows.append(
            {
                "outcome": first["label"],
                "n": _model_count(first, "n", disclosure),
                "n_dropped": _model_count(first, "n_dropped", disclosure),
                "entered": ", ".join(b.label for b in entered if b) or "none",
                "note": note,
            }
        )
        mkeys.append(model if model in targets else str(model))
    mnotes = [
        "One model per outcome, fitted to the cases where the judgement applies. Cases with a missing "
        "value on the outcome or on any candidate variable are dropped once, before the first step "
        "(listwise deletion), so every step of a model uses the same cases.",
        f"Entry: Rao score test, p < {params.pin:g}. Removal: {params.removal_test} test after each entry, "
        f"p > {params.pout:g}. Categorical variables enter and leave as one block.",
    ]
    mnotes += [
        f"Note column, '{short}': {MODEL_NOTES[short]}"
        for short in MODEL_NOTE_ORDER
        if short in used_notes
    ]
    models = doc_table(
        MODELS_ID,
        "Stepwise models: cases used and variables selected",
        "Models",
        mcols,
        mrows,
        mkeys,
        mnotes,
    )
    return [diffs, models]


# The short notes of the models table and what each means (a numbered note of the table).
# The stepwise warnings themselves quote small counts ("3 of 3 cases") and internal names,
# so a publication shows only these; `hmip regress` prints the full warnings.
MODEL_NOTES = {
    "No variable entered": "no candidate variable met the entry criterion, so the model "
    "found no subgroup difference.",
    "Not modelled": "the model could not be fitted (for example, every applicable case had the "
    "same answer).",
    "Separation": "a combination of the variables predicts the outcome perfectly for some "
    "cases, so the estimates do not exist and the odds ratios are not reported; treat the "
    "model as unreliable (Firth's penalised likelihood, hmip regress --firth, gives finite "
    "estimates).",
    "Did not converge": "the fit did not converge; treat the model as unreliable.",
    "A group with one answer": "in a group of a candidate variable every case had the same "
    "answer, so that group's odds ratio cannot be estimated.",
    "Few events": "fewer than 10 events per parameter: the odds ratios are biased away from 1 "
    "and their confidence intervals and p-values are unreliable.",
    "Candidate left out": "a candidate variable was constant or collinear among the model's "
    "cases and was left out.",
    "Unreliable estimate": "an estimate of the model is unreliable; its odds ratio is not "
    "reported.",
}
MODEL_NOTE_ORDER = tuple(MODEL_NOTES)
_PROBLEM_NOTES = {
    "separation": "Separation",
    "nonconvergence": "Did not converge",
    "no_events_level": "A group with one answer",
    "all_events_level": "A group with one answer",
    "constant": "Candidate left out",
    "collinear": "Candidate left out",
}


def model_notes(part: pl.DataFrame) -> list[str]:
    """The short notes of one model's rows (the sweep's findings for it), in MODEL_NOTES
    order: from the Problem codes and flags, never from the warning text."""
    rows = list(part.iter_rows(named=True))
    first = rows[0]
    out: set[str] = set()
    if str(first.get("note") or "").startswith("not modelled"):
        out.add("Not modelled")
    elif not (first.get("entered") or ""):
        out.add("No variable entered")
    for code in str(first.get("problems") or "").split(","):
        if code:
            out.add(_PROBLEM_NOTES.get(code, "Unreliable estimate"))
    if any(r.get("low_epv") for r in rows):
        out.add("Few events")
    if any(r.get("reliable") is False for r in rows) and not out & {
        "Separation",
        "Did not converge",
    }:
        out.add("Unreliable estimate")
    return [n for n in MODEL_NOTE_ORDER if n in out]


def _or_c(value):
    """A count or percentage hidden by suppression (null) reads [c]."""
    return R.MARK_SUPPRESSED if value is None else value


def _model_count(row: dict, column: str, disclosure) -> object:
    if row[column] is not None:
        return row[column]
    if disclosure is not None and disclosure.is_hidden("models", (row["model"],), column):
        return R.MARK_SUPPRESSED
    return "[x]"  # the model could not be fitted


# --------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------


# `progress(what, done, total)`: the report's work in steps, one for the rates, one per
# stepwise model, one for disclosure control (the CLI draws them as a bar).
Progress = Callable[[str, int, int], None]


def report_steps() -> int:
    from hmip_cli.stepwise.sweeps import targets

    return len(targets(everything=True)) + 2


def _without_identifying(cases: pl.DataFrame | pl.LazyFrame, fw: Framework):
    names = cases.collect_schema().names()
    return cases.drop([c for c in _drop(fw) if c in names])


def analyse(
    cases: pl.DataFrame | pl.LazyFrame, params: ReportParams, progress: Progress | None = None
):
    """The three analyses, each run once: (BulletinResults, sample profile, sweep findings,
    the SweepResult with the family of tests and each model)."""
    from hmip_cli.stepwise import run_sweep

    fw = params.fw
    cases = _without_identifying(cases, fw)
    total = report_steps()
    if progress:
        progress("rates", 0, total)
    # One scan: the rates, the profile and every model count cases by a few columns, so
    # they all sum the counts of one tally of the cases (hmip_cli.tally; the same integers).
    counts = _tally(cases, params)
    source = counts if counts is not None else cases
    # Unsuppressed here: disclosure control (report/disclosure.py) hides the small rates
    # (--min-n) with the policy's cells and picks their complements across the whole report.
    results = R.bulletin(source, by=R.DEFAULT_BY, min_n=params.min_n, suppress=False, fw=fw)
    profile = R.sample_profile(source, fw=fw)

    def model_done(model: str, done: int, n_models: int) -> None:
        # `done`: steps finished before this one (the sweep's closing call is disclosure's)
        if progress and done < n_models:
            progress(f"stepwise model {model}", 1 + done, total)

    sw = run_sweep(
        cases,
        list(params.candidates or ()),
        fw=fw,
        adjust=params.adjust or "none",
        ci=params.ci,
        cluster=params.cluster_column,
        pin=params.pin,
        pout=params.pout,
        removal=params.removal,
        reference=params.reference_columns,
        progress=model_done if progress else None,
        tally=counts,
    )
    return results, profile, sw.findings, sw


def _tally(cases: pl.DataFrame | pl.LazyFrame, params: ReportParams):
    """The cases collapsed by every column the analyses group by (breakdowns, profile,
    candidates, cluster), counting every yes/no column they count: one scan. None when a
    column is missing or not yes/no (the analyses then read the cases themselves)."""
    from hmip_cli.stepwise.sweeps import candidate_columns, targets
    from hmip_cli.tally import tally

    fw = params.fw
    lf = R._prepared(cases, fw)
    schema = lf.collect_schema()
    keys = [b.column for b in R._breakdowns(R.DEFAULT_BY, fw)]
    keys += [fw.breakdown(c.breakdown).column for c in R.characteristics(fw) if c.breakdown]
    keys += candidate_columns(list(params.candidates or ()), fw)
    cluster = params.cluster_column
    keys += [cluster] if cluster is not None and cluster in schema else []
    counted = [fw.gate_column(a) for a in fw.areas] if fw.gate is not None else []
    counted += [fw.judgement_column(a, m) for a in fw.areas for m in fw.measures]
    counted += [q.column for q in fw.questions]
    counted += [t.column for t in targets(everything=True, fw=fw)]
    keys = list(dict.fromkeys(keys))
    counted = [c for c in dict.fromkeys(counted) if c not in keys]
    if any(c not in schema for c in keys) or any(schema.get(c) != pl.Boolean for c in counted):
        return None
    return tally(lf, keys, counted)


def layout(
    results: R.BulletinResults,
    profile: pl.DataFrame,
    findings: pl.DataFrame,
    params: ReportParams,
    n_clusters: int = 0,
    disclosure=None,
) -> tuple[list[DocTable], dict[int, pl.DataFrame]]:
    """The report's tables, in the bulletin's order, and the figures' data."""
    fw = params.fw
    figures = {m.figure: figure_data(results.rates, m.figure) for m in fw.measures}
    tables = [_sample_table(profile)]
    n_cases = int(
        profile.filter((pl.col("breakdown") == R.ALL) & (pl.col("characteristic") == "all_cases"))[
            "n"
        ][0]
    )
    tables += [_figure_table(n, figures[n], params.min_n, n_cases, fw) for n in sorted(figures)]
    tables += [
        _protection_table(n, results.protection, params.min_n, fw)
        for n in sorted(set(results.protection["table"].to_list()))
    ]
    tables += _difference_tables(findings, params, n_clusters, disclosure)
    return tables, figures


def _check_enough_cases(
    cases: pl.DataFrame | pl.LazyFrame, params: ReportParams, selection: str | None
) -> None:
    """BadRequest for fewer cases than the disclosure threshold: the number of cases itself
    would be suppressed, and with it every figure and finding."""
    from hmip_cli.errors import BadRequest
    from hmip_cli.report.disclosure import POLICIES

    threshold = POLICIES.get(params.disclosure) or 0
    if threshold == 0:
        return
    if isinstance(cases, pl.DataFrame):
        n = cases.height
    else:
        n = int(cases.select(pl.len()).collect().item())
    if n >= threshold:
        return
    where = f"where {selection}" if selection else "in the store"
    raise BadRequest(
        f"only {n:,} case{'' if n == 1 else 's'} {where}, fewer than the disclosure "
        f"threshold (--disclosure {params.disclosure}): the number of cases and every figure "
        "would be suppressed; report on more cases"
    )


def build_report(
    cases: pl.DataFrame | pl.LazyFrame,
    *,
    info=None,
    params: ReportParams | None = None,
    progress: Progress | None = None,
    where=None,
    title: str | None = None,
    synthetic: bool | None = None,
) -> Report:
    """Compute everything a report shows, once.

    `cases`: the case frame with derived columns (`store.load_cases()`), or a lazy scan of it
    (`store.scan_cases_and_info()`: only the columns needed are read); `info`: the store's
    `StoreInfo` for provenance (None: provenance from the frame itself). `where`: --where
    conditions ("inspection=Durham") selecting the cases reported on; `title`: the report's
    title; `synthetic`: whether the data are synthetic (None: `provenance.is_synthetic`).
    """
    import dataclasses

    from hmip_cli.errors import BadRequest
    from hmip_cli.report.provenance import is_synthetic

    params = params or ReportParams()
    date = report_date(params.date)
    if synthetic is None:
        synthetic = is_synthetic(cases)
    selection = None
    if where:
        lf, conditions = R.filter_cases(cases, where, params.fw)
        selection = R.describe_where(conditions)
        cases = lf.collect()
        if cases.height == 0:
            raise BadRequest(f"no cases where {selection}")
        info = None  # provenance from the selected cases (the store's hash covers them all)
    _check_enough_cases(cases, params, selection)
    results, profile, findings, sw = analyse(cases, params, progress)
    from hmip_cli.report.disclosure import control

    if progress:
        steps = report_steps()
        progress("disclosure control", steps - 1, steps)
    results, profile, findings, disclosure = control(
        _without_identifying(cases, params.fw),
        results,
        profile,
        findings,
        params,
    )
    tables, figures = layout(results, profile, findings, params, sw.n_clusters, disclosure)
    prov = (
        from_store_info(info, date, params.to_dict())
        if info is not None
        else from_cases(cases.lazy().collect(), date, params.to_dict())
    )
    prov = dataclasses.replace(prov, synthetic=synthetic, selection=selection)
    kf = key_findings(
        results,
        findings,
        profile=profile,
        min_n=params.min_n,
        adjust=(params.adjust or "none", sw.n_tests),
        n_clusters=sw.n_clusters,
        family=sw.family,
        fw=params.fw,
    )
    return Report(
        results, profile, findings, params, prov, tables, kf, figures, sw, title, disclosure
    )


# --------------------------------------------------------------------------------------
# What the writers share: the outline and how a cell reads
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    id: str  # anchor of the section (the table inside has the DocTable id)
    heading: str
    intro: str
    table: DocTable
    figure: int | None = None


METHODS_NOTE = (
    "Logistic regression models were used to assess which subgroup differences were significant when "
    "accounting for the relationships between the variables. {scope}, a model was fitted to the "
    "cases where the judgement applied. "
    "Variables were entered by forward stepwise selection (SPSS {method}): at each step the candidate "
    "with the smallest score-test p entered if p < {pin:g} (PIN); after each entry every term in the "
    "model was given a {removal_test} removal test and the weakest removed if p > {pout:g} (POUT). "
    "Cases with a missing value on the outcome or any candidate were dropped once, before the first "
    "step (listwise deletion); the number of cases in each model is in the table of models below."
)


def sections(report: Report) -> list[Section]:
    """The report's sections in the bulletin's order."""
    out = [
        Section(
            "section-sample",
            "Sample profile",
            "The case assessments the findings are based on.",
            report.table(SAMPLE_ID),
        )
    ]
    fw = report.params.fw
    for n in sorted(report.figures):
        m = measure_of_figure(n, fw)
        out.append(
            Section(
                f"section-figure-{n}",
                figure_title(n, fw),
                fw.section_intro(m),
                report.table(figure_id(n)),
                n,
            )
        )
    for t in report.tables:
        if t.id.startswith("table-"):
            out.append(
                Section(
                    f"section-{t.id}", t.title, "For all cases and each group of each breakdown.", t
                )
            )
    p = report.params
    out.append(
        Section(
            "section-differences",
            "Significant subgroup differences",
            METHODS_NOTE.format(
                pin=p.pin,
                pout=p.pout,
                method=p.method,
                removal_test=p.removal_test,
                scope=fw.wording.methods_scope,
            ),
            report.table(DIFFERENCES_ID),
        )
    )
    out.append(
        Section(
            "section-models",
            "Stepwise models",
            "Cases in each model and the variables selected.",
            report.table(MODELS_ID),
        )
    )
    return out


def marker_definitions(min_n: int) -> list[tuple[str, str]]:
    """Every shorthand code with what it means (report/shorthand.py, the one list)."""
    from hmip_cli.report.shorthand import SHORTHAND, definition

    return [(code, _cap_first(definition(code, min_n)) + ".") for code in SHORTHAND]


def _cap_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def code_legend(t: DocTable, min_n: int) -> list[str]:
    """The lines that explain the shorthand a table uses, for above it (none if none)."""
    from hmip_cli.report.shorthand import legend_lines, used_codes

    return legend_lines(used_codes(t.columns, t.rows), min_n)


def publication_view(t: DocTable, min_n: int) -> DocTable:
    """`t` as the report's HTML and Markdown show it: the shorthand it uses explained above
    it (`code_legend`), and the notes that only explain a code left out (the legend does)."""
    import dataclasses

    from hmip_cli.report.shorthand import is_code_note

    notes = [n for n in t.notes if not is_code_note(n)]
    return dataclasses.replace(t, legend=code_legend(t, min_n), notes=notes)


def short_name(t: DocTable) -> str:
    """'Figure 1', 'Table 2', 'Sample profile', 'Significant differences', 'Stepwise models'."""
    if t.id == DIFFERENCES_ID:
        return "Significant differences"
    if t.id == MODELS_ID:
        return "Stepwise models"
    return t.title.split(":")[0]


def cell_text(column: Column, value) -> str:
    """How a cell of the report reads in HTML and Markdown (XLSX keeps numbers as numbers):
    `layout.cell_text`, p in the publication style."""
    return layout_cell_text(column, value)
