"""Stepwise models over a framework's outcomes: every area x measure judgement and every
case-level question (qi-2016: ten factors x four measures and four questions), one
findings table (the report calls `sweep`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from hmip_cli import framework
from hmip_cli import tally as T
from hmip_cli.errors import BadRequest, HmipError, ModelFailure
from hmip_cli.framework.model import Breakdown, Framework
from hmip_cli.stepwise.adjust import (
    ALPHA,
    FAMILY_SCHEMA,
    METHODS,
    adjust_family,
    check_method,
    family_rows,
)
from hmip_cli.stepwise.adjust import adjust as adjust_p
from hmip_cli.stepwise.design import WEIGHT
from hmip_cli.stepwise.profile import CI_METHODS, final_model_cis
from hmip_cli.stepwise.result import StepwiseResult
from hmip_cli.stepwise.robust import MIN_CLUSTERS, cluster_robust
from hmip_cli.stepwise.samplesize import epv_warning, events_per_parameter, low_epv
from hmip_cli.stepwise.select import stepwise
from hmip_cli.tally import Tally


@dataclass(frozen=True)
class Target:
    """One outcome to model: a judgement column among the cases where it applies."""

    model: str  # "accommodation/delivery" or "partner-info-review"
    label: str
    column: str
    factor: str | None = None
    measure: str | None = None
    question: str | None = None


def targets(
    factor: str | None = None,
    measure: str | None = None,
    question: str | None = None,
    everything: bool = False,
    fw: Framework | None = None,
) -> list[Target]:
    """The outcomes selected by --factor/--measure, --question or --all (everything), in
    the framework `fw` (default qi-2016)."""
    fw = _fw(fw)
    out: list[Target] = []
    if everything:
        factors, measures = list(fw.areas), list(fw.measures)
        questions = list(fw.questions)
    else:
        factors = [fw.area(factor)] if factor else []
        measures = [fw.measure(measure)] if measure else list(fw.measures)
        questions = [fw.question(question)] if question else []
        if measure and not factor:
            raise BadRequest("--measure needs --factor")
    for f in factors:
        for m in measures:
            out.append(
                Target(
                    f"{f.key}/{m.key}",
                    f"{f.label}: {m.label}",
                    fw.judgement_column(f, m),
                    factor=f.key,
                    measure=m.key,
                )
            )
    for q in questions:
        out.append(Target(q.key, q.label, q.column, question=q.key))
    if not out:
        raise BadRequest("choose a model: --factor (with optional --measure), --question or --all")
    return out


def _fw(fw: Framework | None) -> Framework:
    return framework.default() if fw is None else fw


def store_reference(
    reference: str | dict[str, str], fw: Framework | None = None
) -> str | dict[str, str]:
    """A `reference` for store models: breakdown keys or aliases (`ethnicity`) -> their
    columns (`ethnic_group`), and a level given by its code or its label, any case
    (`bame`, `BAME`; `under_30`, `Under 30`) -> its code. "first"/"last" pass through."""
    if not isinstance(reference, dict):
        return reference
    out: dict[str, str] = {}
    for key, level in reference.items():
        if key == "*":
            out[key] = level
            continue
        b = _fw(fw).breakdown(key)  # BadRequest naming the keys
        out[b.column] = _store_level(b, level)
    return out


def _store_level(b: Breakdown, level: str) -> str:
    if level in ("first", "last") or not b.levels:
        return level
    wanted = level.strip().lower()
    for code, label in zip(b.levels, b.labels):
        if wanted in (code.lower(), label.lower()):
            return code
    raise BadRequest(
        f"the reference given for '{b.key}' is not one of its levels ({', '.join(b.labels)})"
    )


def candidate_columns(keys: list[str] | None = None, fw: Framework | None = None) -> list[str]:
    """Breakdown keys (default: the framework's regression candidates) -> case-frame columns."""
    fw = _fw(fw)
    keys = list(keys) if keys else list(fw.candidates())
    return [fw.breakdown(k).column for k in keys]


def level_label(column: str, code: str, fw: Framework | None = None) -> str:
    b = _fw(fw).breakdown_for_column(column)
    return b.label_of(code) if b else code


def run_target(
    cases: pl.DataFrame, target: Target, candidates: list[str], **options
) -> StepwiseResult:
    """Stepwise model of one target among its applicable cases (judgement not null)."""
    applicable = cases.filter(pl.col(target.column).is_not_null())
    # store breakdowns are categorical; numeric covariates (age, ogrs_score) come with
    # categorical= naming the others
    categorical = options.pop("categorical", candidates)
    return stepwise(applicable, target.column, candidates, categorical=categorical, **options)


FINDINGS_SCHEMA = {
    "model": pl.String,
    "label": pl.String,
    "n": pl.Int64,
    "n_dropped": pl.Int64,
    "entered": pl.String,
    "term": pl.String,
    "parameter": pl.String,
    "level": pl.String,
    "reference": pl.String,
    "direction": pl.String,
    "odds_ratio": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "ci_method": pl.String,
    "p": pl.Float64,
    "p_wald": pl.Float64,
    "percent_level": pl.Float64,
    "n_level": pl.Int64,
    "percent_reference": pl.Float64,
    "n_reference": pl.Int64,
    "groups": pl.String,
    "reliable": pl.Boolean,
    "note": pl.String,
    "problems": pl.String,  # the Problem codes behind `note`, comma-separated (docs/stepwise.md)
    "events_per_parameter": pl.Float64,
    "low_epv": pl.Boolean,
}


def findings(
    target: Target,
    result: StepwiseResult,
    cis: dict[str, tuple[float | None, float | None]] | None = None,
    fw: Framework | None = None,
) -> list[dict]:
    """One row per parameter of the final model (a model with nothing entered: one row).
    `cis`: profile-likelihood CIs for Exp(B) by parameter (profile.final_model_cis); without
    them the CI is SPSS's Wald interval."""
    base = {
        "model": target.model,
        "label": target.label,
        "n": result.n,
        "n_dropped": result.n_dropped,
        "events_per_parameter": events_per_parameter(result),
        "low_epv": low_epv(result),
        "problems": ",".join(dict.fromkeys(p.code for p in result.problems)) or None,
    }
    entered = [
        s.term for s in result.steps[1:] if s.action == "enter" and s.term in result.final_terms
    ]
    entered_text = ", ".join(dict.fromkeys(entered))
    notes = "; ".join(
        [p.message for p in result.problems] + [w for w in [epv_warning(result)] if w]
    )
    if not result.final_terms:
        return [
            {
                **base,
                "entered": "",
                "reliable": result.reliable,
                "note": "no variable met the entry criterion" + (f"; {notes}" if notes else ""),
            }
        ]
    lr_p = {r.term: r.p for r in result.final.if_removed}
    codings = {c["term"]: c for c in result.codings}
    rows = []
    for c in result.final.in_equation:
        if c.kind != "parameter":
            continue
        row = {
            **base,
            "entered": entered_text,
            "term": c.term,
            "parameter": c.parameter,
            "reference": None,
            "p": lr_p.get(c.term),
            "p_wald": c.p,
            "reliable": c.reliable,
            "odds_ratio": c.exp_b,
            "ci_low": c.ci_low if cis is None else cis.get(c.parameter, (None, None))[0],
            "ci_high": c.ci_high if cis is None else cis.get(c.parameter, (None, None))[1],
            "ci_method": ("wald" if cis is None else "profile") if c.exp_b is not None else None,
            "note": notes or None,
        }
        coding = codings.get(c.term)
        if coding is not None and c.level is not None:
            lv, ref = c.level, coding["reference"]
            i, j = coding["levels"].index(lv), coding["levels"].index(ref)
            n_l, n_r = coding["level_n"][i], coding["level_n"][j]
            pct_l = 100.0 * coding["level_events"][i] / n_l if n_l else None
            pct_r = 100.0 * coding["level_events"][j] / n_r if n_r else None
            lab_l, lab_r = level_label(c.term, lv, fw), level_label(c.term, ref, fw)
            row.update(
                level=lab_l,
                reference=lab_r,
                n_level=int(n_l),
                n_reference=int(n_r),
                percent_level=pct_l,
                percent_reference=pct_r,
                groups=f"{lab_l} {pct_l:.0f}% vs {lab_r} {pct_r:.0f}%",
            )
            if c.exp_b is not None:
                row["direction"] = (
                    f"{lab_l} {'more' if c.exp_b > 1 else 'less'} likely than {lab_r}"
                )
        elif c.exp_b is not None:
            row["direction"] = f"{'higher' if c.exp_b > 1 else 'lower'} with higher {c.term}"
        if not c.reliable:
            row["direction"] = None
            row["note"] = "odds ratio not reported: the model is unreliable" + (
                f"; {notes}" if notes else ""
            )
        rows.append(row)
    return rows


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH adjusted p-values (step-up, monotone, capped at 1); kept for callers of the old name."""
    return adjust_p(np.asarray(p, dtype=float), "bh")


@dataclass
class SweepResult:
    """Everything a sweep computed: the findings frame (one row per parameter of each final
    model), the family of tests (one row per model x candidate, with `p_adjusted` when
    adjusting) and each model's result with the applicable cases it was fitted to."""

    findings: pl.DataFrame
    family: pl.DataFrame
    adjust: str
    results: list[tuple[Target, pl.DataFrame, StepwiseResult]] = field(default_factory=list)
    cluster: str | None = None
    n_clusters: int = 0  # clusters in the largest model (with `cluster`)

    @property
    def n_tests(self) -> int:
        return int(self.family.get_column("p").is_not_null().sum())

    def significant_terms(self, adjusted: bool = False) -> set[tuple[str, str]]:
        """(model, term) of final-model terms with p (or adjusted p) < ALPHA."""
        col = "p_adjusted" if adjusted else "p"
        part = self.family.filter(pl.col("in_model") & (pl.col(col) < ALPHA))
        return set(zip(part.get_column("model").to_list(), part.get_column("term").to_list()))

    def cluster_note(self) -> str | None:
        """How many significant terms survive clustering, in words (None without it)."""
        if self.cluster is None:
            return None
        f = self.findings.filter(pl.col("survives_clustering").is_not_null())
        terms = f.unique(["model", "term"])
        sig = terms.filter(pl.col("p") < ALPHA)
        kept = sig.filter(pl.col("survives_clustering"))
        text = (
            f"p_cluster: CR1 cluster-robust Wald p over the clusters of '{self.cluster}' "
            f"({self.n_clusters} in the largest model). {kept.height} of the {sig.height} terms "
            f"with p < {ALPHA:g} survive clustering (p_cluster < {ALPHA:g})."
        )
        if self.n_clusters < MIN_CLUSTERS:
            text += (
                f" With fewer than {MIN_CLUSTERS} clusters robust standard errors tend to be too "
                "small, so this is only indicative."
            )
        return text

    def adjust_note(self) -> str | None:
        """What the adjustment did, in words (None without one)."""
        if self.adjust == "none":
            return None
        raw = self.significant_terms()
        kept = self.significant_terms(adjusted=True)
        return (
            f"p_adjusted: {METHODS[self.adjust]} over the family of {self.n_tests} tests (every model x "
            "every candidate: the LR removal test in the final model for a term in it, the score test "
            "in the final step for one not in it). "
            f"{len(kept)} of the {len(raw)} terms with p < {ALPHA:g} have adjusted p < {ALPHA:g}."
        )


def run_sweep(
    cases: pl.DataFrame | pl.LazyFrame,
    candidates: list[str] | None = None,
    adjust: str = "none",
    targets_: list[Target] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    ci: str = "profile",
    cluster: str | None = None,
    fw: Framework | None = None,
    tally: Tally | None = None,
    **options,
) -> SweepResult:
    """`sweep`, returning the findings with the family of tests and the fitted models.
    `cluster` (e.g. "inspection"): add `p_cluster` (the term's CR1 cluster-robust Wald p in
    its final model) and `survives_clustering` (p_cluster < ALPHA) to the findings.
    `progress(model, done, total)` is called before each model and once when all are done.
    `tally`: the cases already collapsed (`hmip_cli.tally`, by the candidates and cluster,
    counting the targets), so the cases are not read again; `cases` are read only if not."""
    check_method(adjust)
    if ci not in CI_METHODS:
        raise BadRequest(f"ci must be one of {', '.join(CI_METHODS)}; got {ci!r}")
    fw = _fw(fw)
    cols = candidate_columns(candidates, fw)
    rows: list[dict] = []
    family: list[dict] = []
    fitted: list[tuple[Target, pl.DataFrame, StepwiseResult]] = []
    n_clusters = 0
    chosen = targets_ if targets_ is not None else targets(everything=True, fw=fw)
    # `cases` may be a lazy scan of the store: only the one group_by below reads it.
    names = cases.collect_schema().names() if isinstance(cases, pl.LazyFrame) else cases.columns
    keep = [*cols, *([cluster] if cluster is not None and cluster in names else [])]
    # One scan for every model: the counts of yes and no of every target per pattern of the
    # candidates (and cluster), each model then fitted to its patterns with those counts as
    # frequency weights (issue 13: the same results as the rows, tests/test_stepwise_weights.py).
    counts = _target_counts(tally, chosen, keep) if tally is not None else None
    if counts is None:
        counts = _target_counts(cases, chosen, keep)
    for i, t in enumerate(chosen):
        if progress:
            progress(t.model, i, len(chosen))
        if counts is not None:
            applicable, weights = _applicable(counts, t, keep), WEIGHT
        else:  # a target that is not a yes/no column: its rows, as given
            wanted = [t.column, *(c for c in keep if c != t.column)]
            narrow = cases.select(wanted) if set(wanted) <= set(names) else cases
            applicable = narrow.lazy().filter(pl.col(t.column).is_not_null()).collect()
            weights = None
        try:
            res = stepwise(applicable, t.column, cols, categorical=cols, weights=weights, **options)
        except ModelFailure as exc:
            rows.append(
                {
                    "model": t.model,
                    "label": t.label,
                    "n": None,
                    "entered": None,
                    "reliable": False,
                    "note": f"not modelled: {exc}",
                }
            )
            continue
        except HmipError:
            raise
        cis = final_model_cis(applicable, res) if ci == "profile" and res.final_terms else None
        found = findings(t, res, cis, fw=fw)
        if cluster is not None and res.final_terms:
            robust = cluster_robust(applicable, res, cluster)
            n_clusters = max(n_clusters, robust.n_clusters)
            for row in found:
                if row.get("term") in robust.terms:
                    p_c = robust.terms[row["term"]][2]
                    row["p_cluster"] = p_c
                    row["survives_clustering"] = bool(p_c < ALPHA)
        rows.extend(found)
        family.extend(family_rows(t.model, res))
        fitted.append((t, applicable, res))
    if progress and chosen:
        progress(chosen[-1].model, len(chosen), len(chosen))
    schema = dict(FINDINGS_SCHEMA)
    if cluster is not None:
        schema.update(p_cluster=pl.Float64, survives_clustering=pl.Boolean)
    frame = pl.DataFrame(rows, schema=schema)
    fam = pl.DataFrame(family, schema=FAMILY_SCHEMA)
    if adjust != "none":
        fam = adjust_family(fam, adjust)
        key = fam.filter(pl.col("in_model")).select("model", "term", "p_adjusted")
        frame = frame.join(key, on=["model", "term"], how="left", maintain_order="left")
    return SweepResult(frame, fam, adjust, fitted, cluster, n_clusters)


def _target_counts(
    cases: pl.DataFrame | pl.LazyFrame | Tally, chosen: list[Target], keep: list[str]
) -> pl.DataFrame | None:
    """Per distinct pattern of `keep` (nulls included, so listwise deletion counts as on the
    rows): the cases where each target is yes (`column:yes`) and no (`column:no`), in one
    group_by. None when a target is not a Boolean column of `cases` (or is one of `keep`).
    Of a tally: the sums of its patterns' counts (the same integers), None unless it is by
    every column of `keep` and counts every target."""
    if isinstance(cases, Tally):
        return _tally_target_counts(cases, chosen, keep)
    lf = cases.lazy()
    schema = lf.collect_schema()
    if (
        not keep
        or any(c not in schema for c in keep)
        or any(
            t.column not in schema or schema[t.column] != pl.Boolean or t.column in keep
            for t in chosen
        )
    ):
        return None
    aggs = []
    for column in dict.fromkeys(t.column for t in chosen):
        aggs.append(pl.col(column).sum().cast(pl.Int64).alias(f"{column}:yes"))
        aggs.append((~pl.col(column)).sum().cast(pl.Int64).alias(f"{column}:no"))
    return lf.group_by(keep).agg(aggs).sort(keep, nulls_last=True).collect()


def _tally_target_counts(t: Tally, chosen: list[Target], keep: list[str]) -> pl.DataFrame | None:
    columns = list(dict.fromkeys(c.column for c in chosen))
    if not keep or any(c not in t.keys for c in keep) or any(c not in t.counted for c in columns):
        return None
    aggs = []
    for column in columns:
        n, y = pl.col(T.recorded(column)).sum(), pl.col(T.yes(column)).sum()
        aggs.append(y.cast(pl.Int64).alias(f"{column}:yes"))
        aggs.append((n - y).cast(pl.Int64).alias(f"{column}:no"))
    return t.frame.lazy().group_by(keep).agg(aggs).sort(keep, nulls_last=True).collect()


def _applicable(counts: pl.DataFrame, t: Target, keep: list[str]) -> pl.DataFrame:
    """Target `t`'s applicable cases as patterns: `keep`, the outcome and WEIGHT (cases)."""
    parts = [
        counts.select(
            *keep, pl.lit(value).alias(t.column), pl.col(f"{t.column}:{name}").alias(WEIGHT)
        ).filter(pl.col(WEIGHT) > 0)
        for value, name in ((True, "yes"), (False, "no"))
    ]
    return pl.concat(parts)


def sweep(
    cases: pl.DataFrame,
    candidates: list[str] | None = None,
    fdr: bool = False,
    targets_: list[Target] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    adjust: str | None = None,
    ci: str = "profile",
    cluster: str | None = None,
    fw: Framework | None = None,
    **options,
) -> pl.DataFrame:
    """Run the stepwise model for every target (default: every factor x measure and the four
    case-level questions) and return one findings frame.

    `candidates` are breakdown keys (default: the framework's candidates; `fw` default
    qi-2016); `options` go to
    `stepwise` (pin, pout, removal, reference). `adjust` ("bh", "holm" or "none") adjusts
    p over the whole family of tests (every model x every candidate, see
    hmip_cli.stepwise.adjust); `fdr=True` is the old spelling of adjust="bh". Columns:
      model, label               the outcome ("<area>/<measure>", or a question key)
      n, n_dropped               complete applicable cases used / dropped for missing values
      entered                    terms in the final model, in order of entry
      term, parameter, level, reference
      direction                  e.g. "NPS more likely than CRC"
      odds_ratio, ci_low, ci_high  Exp(B) and its 95% CI (empty when unreliable):
                                 profile likelihood (ci="profile", the default) or
                                 SPSS's Wald interval (ci="wald"); ci_method says which
      p                          LR test of the term in the final model (change in -2LL)
      p_wald                     Wald test of the parameter
      percent_level, n_level, percent_reference, n_reference, groups
                                 raw % yes in the two groups ("NPS 74% vs CRC 54%")
      reliable, note             problems (separation, small cells) in words
      events_per_parameter, low_epv
                                 min(events, non-events) / parameters of the final model,
                                 and whether it is below 10 (samplesize.MIN_EPV)
      p_adjusted                 (when adjusting) p adjusted over the family
      p_cluster, survives_clustering
                                 (with cluster=) CR1 cluster-robust Wald p of the term in
                                 its final model, and whether it is < .05
    """
    return run_sweep(
        cases,
        candidates,
        adjust=resolve_adjust(adjust, fdr),
        targets_=targets_,
        progress=progress,
        ci=ci,
        cluster=cluster,
        fw=fw,
        **options,
    ).findings


def resolve_adjust(adjust: str | None, fdr: bool) -> str:
    """`fdr=True` (CLI --fdr) is an alias of adjust="bh"; both given must agree."""
    if adjust is None:
        return "bh" if fdr else "none"
    check_method(adjust)
    if fdr and adjust != "bh":
        raise BadRequest(f"--fdr means --adjust bh; it cannot be combined with --adjust {adjust}")
    return adjust
