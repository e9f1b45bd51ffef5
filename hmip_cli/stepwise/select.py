"""Forward stepwise selection exactly as SPSS LOGISTIC REGRESSION /METHOD=FSTEP does it.

The sequence (SPSS Algorithms, LOGISTIC REGRESSION, "Stepwise Variable Selection",
"Forward Stepwise (FSTEP)"; see docs/stepwise.md for the citation and our reading):
1. fit the intercept-only model (step 0);
2. at the converged estimates of the current model compute the score statistic of every
   term not in the model;
3. the term with the smallest significance enters if that is < PIN, else stop;
   if adding it gives a model already visited, stop;
4. compute the removal statistic (LR, Wald or conditional) of every term in the model;
5. the term with the largest significance is removed if that is > POUT (if removing it
   gives a model already visited, stop), the model is refitted and 4 is repeated;
   otherwise go to 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import polars as pl
from scipy import stats

from hmip_cli.errors import BadRequest
from hmip_cli.stepwise import fit as F
from hmip_cli.stepwise.design import Design, Problem, build_design
from hmip_cli.stepwise.diagnostics import classification, hosmer_lemeshow
from hmip_cli.stepwise.pvalues import chi2_logp, chi2_p
from hmip_cli.stepwise.result import (
    ChiSquare,
    Coefficient,
    RemovalRow,
    ScoreRow,
    Step,
    StepwiseResult,
)

Z95 = stats.norm.ppf(0.975)
REMOVALS = {"lr": "FSTEP(LR)", "wald": "FSTEP(WALD)", "conditional": "FSTEP(COND)"}
# exp(B) beyond this (or below its inverse) is not shown as a finding even if the fit
# converged: it means the data cannot pin the effect down.
ABSURD_LOG_OR = math.log(1e6)


def _logsf(stat: float, df: int) -> float:
    """log p-value, finite for any finite statistic (pvalues.chi2_logp): compared instead of
    p so that candidates whose p is below what a float holds still order by significance."""
    return chi2_logp(stat, df)


# log p-values this close (relative) are a tie, broken by candidate order: mathematically
# equal statistics (e.g. two candidates with the same counts) differ in the last bits
# depending on the summation order (collapsed vs row-level), which must not decide the path.
TIE_REL = 1e-10


def _tie(key: float) -> float:
    return TIE_REL * max(1.0, abs(key))


def _chi_square(stat: float, df: int) -> ChiSquare:
    """An omnibus chi-square; a removal step's is negative (as SPSS prints it), its p is that
    of |chi-square| on |df|."""
    if not df:
        return ChiSquare(stat, df, None, None)
    return ChiSquare(stat, df, _p(abs(stat), abs(df)), _logsf(abs(stat), abs(df)))


def _exp(x: float) -> float | None:
    return math.exp(x) if x < 709 else None


def _p(stat: float, df: int) -> float:
    """p for output: exact, floored at pvalues.P_FLOOR (never 0 for a finite statistic)."""
    return chi2_p(stat, df)


class _Engine:
    def __init__(
        self,
        d: Design,
        removal: str,
        pin: float,
        pout: float,
        cut: float,
        progress: Callable[[str], None] | None,
    ):
        self.d = d
        self.removal = removal
        self.pin, self.pout, self.cut = pin, pout, cut
        self.order = {t.name: i for i, t in enumerate(d.terms)}
        self.by_name = {t.name: t for t in d.terms}
        self.cache: dict[frozenset[str], F.Fit] = {}
        self.problems: list[Problem] = list(d.problems)
        self.progress = progress
        self.flagged: set[tuple[str, frozenset]] = set()

    # ---- fitting ---------------------------------------------------------------
    def cols(self, terms: frozenset[str]) -> tuple[int, ...]:
        out = [0]
        for t in sorted(terms, key=self.order.__getitem__):
            out.extend(self.by_name[t].cols)
        return tuple(out)

    def fit(self, terms: frozenset[str]) -> F.Fit:
        hit = self.cache.get(terms)
        if hit is not None:
            return hit
        cols = self.cols(terms)
        start = self._warm_start(terms, cols)
        f = F.fit_logit(self.d.X, self.d.w, self.d.y, cols, start)
        if start is not None and (
            (not f.converged and not f.separation)
            # Dropping a term with a large contribution (a covariate in days, B*x ~ 30)
            # leaves the warm start at |eta| ~ 30 for every case: the information matrix is
            # numerically zero there, Newton's step is 0 and the fit "converged" far from
            # the maximum (MASS::Aids2 without diag: LL -19992 vs -1868; found by the R
            # cross-check, tests/test_cross_check_datasets.py). A model with the constant
            # can never be below the constant-only log-likelihood; and a suspect fit is
            # checked from the default start too. Keep the better of the two.
            or f.loglik < self._null_loglik() - 1e-9 * max(1.0, abs(f.loglik))
            or float(np.max(np.abs(f.eta[self.d.w > 0]), initial=0.0)) > F.SUSPECT_ETA
        ):
            f2 = F.fit_logit(self.d.X, self.d.w, self.d.y, cols, None)
            if (f2.converged and not f.converged) or f2.loglik > f.loglik:
                f = f2
        self.cache[terms] = f
        return f

    def _null_loglik(self) -> float:
        """Log-likelihood of the constant-only model (closed form)."""
        n, e = float(self.d.w.sum()), float(self.d.y.sum())
        return sum(k * math.log(k / n) for k in (e, n - e) if k > 0)

    def _warm_start(self, terms: frozenset[str], cols: tuple[int, ...]) -> np.ndarray | None:
        # Start from the closest model already fitted (one term more or fewer): only the
        # speed depends on it, since every fit is run to full convergence.
        best = None
        for other, f in self.cache.items():
            if len(other ^ terms) == 1 and f.converged and not f.separation:
                best = f
                break
        if best is None:
            return None
        pos = {c: i for i, c in enumerate(best.cols)}
        return np.array([best.beta[pos[c]] if c in pos else 0.0 for c in cols])

    # ---- statistics --------------------------------------------------------------
    def positions(self, f: F.Fit, term: str) -> list[int]:
        where = {c: i for i, c in enumerate(f.cols)}
        return [where[c] for c in self.by_name[term].cols]

    def removal_stat(self, current: frozenset[str], term: str) -> tuple[float, int]:
        f = self.fit(current)
        t = self.by_name[term]
        if self.removal == "lr":
            red = self.fit(current - {term})
            return max(0.0, 2.0 * (f.loglik - red.loglik)), t.df
        pos = self.positions(f, term)
        if self.removal == "wald":
            return F.wald_statistic(f, pos), t.df
        ll_c = F.conditional_loglik(self.d.X, self.d.w, self.d.y, f, pos)
        return max(0.0, 2.0 * (f.loglik - ll_c)), t.df

    def scores(
        self, current: frozenset[str]
    ) -> tuple[dict[str, tuple[float, int, bool]], np.ndarray, np.ndarray]:
        f = self.fit(current)
        u, info = F.score_blocks(self.d.X, self.d.w, self.d.y, f)
        model = list(f.cols)
        out = {}
        for t in self.d.terms:
            if t.name in current:
                continue
            out[t.name] = F.score_statistic(u, info, model, t.cols)
        return out, u, info

    # ---- one step's report ---------------------------------------------------------
    def report(
        self,
        number: int,
        action: str,
        term: str | None,
        stat: float | None,
        df: int | None,
        p: float | None,
        current: frozenset[str],
        previous: frozenset[str] | None,
        scores: dict | None = None,
        u=None,
        info=None,
    ) -> Step:
        d = self.d
        f = self.fit(current)
        f0 = self.fit(frozenset())
        n = d.n_used
        ll, ll0 = f.loglik, f0.loglik
        model_chi = 2.0 * (ll - ll0)
        cs = 1.0 - math.exp(-model_chi / n)
        cs_max = 1.0 - math.exp(2.0 * ll0 / n)
        nk = cs / cs_max if cs_max > 0 else float("nan")
        model_df = len(f.cols) - 1
        if previous is None:
            om_step = om_block = om_model = None
        else:
            fp = self.fit(previous)
            step_chi = 2.0 * (ll - fp.loglik)
            step_df = model_df - (len(fp.cols) - 1)
            om_step = _chi_square(step_chi, step_df)
            om_model = _chi_square(model_chi, model_df)
            om_block = om_model  # one block: the block starts at the intercept-only model
        unreliable = f.separation or not f.converged
        in_eq = self.coefficients(f, current, unreliable)
        if scores is None:
            scores, u, info = self.scores(current)
        not_in, residual = self.not_in(current, f, scores, u, info)
        if_removed = self.if_removed(current)
        hl = hosmer_lemeshow(d.w, d.y, f.prob) if current else None
        cls = classification(d.w, d.y, f.prob, self.cut)
        return Step(
            number,
            action,
            term,
            stat,
            df,
            p,
            tuple(sorted(current, key=self.order.__getitem__)),
            -2.0 * ll,
            ll,
            cs,
            nk,
            om_step,
            om_block,
            om_model,
            f.converged,
            f.iterations,
            f.separation,
            in_eq,
            not_in,
            residual,
            if_removed,
            hl,
            cls,
            None if stat is None or df is None else _logsf(stat, df),
        )

    def coefficients(
        self, f: F.Fit, current: frozenset[str], unreliable: bool
    ) -> tuple[Coefficient, ...]:
        se = np.sqrt(np.maximum(np.diag(f.cov), 0.0))
        rows: list[Coefficient] = []

        def param(term: str, name: str, i: int, level, ref) -> Coefficient:
            b, s = float(f.beta[i]), float(se[i])
            wald = (b / s) ** 2 if s > 0 else float("nan")
            # exp(B) of a group contrast beyond 1e6 (or below 1e-6) is an artefact of
            # (near-)separation, not a finding; for a numeric covariate B depends on its units.
            absurd = level is not None and abs(b) >= ABSURD_LOG_OR
            ok = not unreliable and not absurd and math.isfinite(s) and s > 0
            is_const = term == "Constant"
            return Coefficient(
                term,
                name,
                "constant" if is_const else "parameter",
                level,
                ref,
                b,
                s,
                wald,
                1,
                _p(wald, 1) if math.isfinite(wald) else float("nan"),
                _exp(b) if ok else None,
                _exp(b - Z95 * s) if ok and not is_const else None,
                _exp(b + Z95 * s) if ok and not is_const else None,
                ok,
                _logsf(wald, 1) if math.isfinite(wald) else None,
            )

        for t in sorted(current, key=self.order.__getitem__):
            term = self.by_name[t]
            pos = self.positions(f, t)
            if term.kind == "categorical" and term.df > 1:
                wald = F.wald_statistic(f, pos)
                rows.append(
                    Coefficient(
                        t,
                        t,
                        "term",
                        None,
                        term.reference,
                        None,
                        None,
                        wald,
                        term.df,
                        _p(wald, term.df),
                        None,
                        None,
                        None,
                        not unreliable,
                        _logsf(wald, term.df),
                    )
                )
            for k, i in enumerate(pos):
                level = term.param_levels[k] if term.kind == "categorical" else None
                rows.append(param(t, term.params[k], i, level, term.reference))
        rows.append(param("Constant", "Constant", 0, None, None))
        return tuple(rows)

    def not_in(self, current, f, scores, u, info) -> tuple[tuple[ScoreRow, ...], ScoreRow | None]:
        rows: list[ScoreRow] = []
        model = list(f.cols)
        outside: list[int] = []
        for t in self.d.terms:
            if t.name in current:
                continue
            stat, df, collinear = scores[t.name]
            rows.append(
                ScoreRow(
                    t.name,
                    t.name,
                    "term",
                    None if collinear else stat,
                    df,
                    None if collinear else _p(stat, df),
                    not collinear,
                    None if collinear else _logsf(stat, df),
                )
            )
            if t.kind == "categorical" and t.df > 1:
                for k, c in enumerate(t.cols):
                    s1, _, col1 = F.score_statistic(u, info, model, [c])
                    rows.append(
                        ScoreRow(
                            t.name,
                            t.params[k],
                            "parameter",
                            None if col1 else s1,
                            1,
                            None if col1 else _p(s1, 1),
                            not col1,
                            None if col1 else _logsf(s1, 1),
                        )
                    )
            outside.extend(t.cols)
        if not outside:
            return tuple(rows), None
        stat, df = F.residual_score(u, info, model, outside)
        res = ScoreRow(
            "Overall Statistics",
            "Overall Statistics",
            "overall",
            stat if df else None,
            df,
            _p(stat, df) if df else None,
            df > 0,
            _logsf(stat, df) if df else None,
        )
        return tuple(rows), res

    def if_removed(self, current: frozenset[str]) -> tuple[RemovalRow, ...]:
        f = self.fit(current)
        rows = []
        for t in sorted(current, key=self.order.__getitem__):
            red = self.fit(current - {t})
            chg = 2.0 * (f.loglik - red.loglik)
            df = self.by_name[t].df
            rstat, rdf = self.removal_stat(current, t)
            rows.append(
                RemovalRow(
                    t,
                    red.loglik,
                    chg,
                    df,
                    _p(max(chg, 0.0), df),
                    rstat,
                    _p(rstat, rdf),
                    _logsf(max(chg, 0.0), df),
                    _logsf(rstat, rdf),
                )
            )
        return tuple(rows)

    def note_fit_problems(self, step: int, term: str | None, current: frozenset[str]) -> None:
        f = self.fit(current)
        key = ("fit", current)
        if key in self.flagged:
            return
        self.flagged.add(key)
        model = ", ".join(sorted(current, key=self.order.__getitem__)) or "intercept only"
        if f.separation:
            kind = "complete" if f.complete else "quasi-complete"
            self.problems.append(
                Problem(
                    "separation",
                    term,
                    f"step {step}: {kind} separation after '{term}' changed the model ({model}): a combination "
                    f"of its variables predicts the outcome perfectly for {int(round(f.n_perfect))} of "
                    f"{self.d.n_used} cases (fitted probabilities 0 or 1), so the estimates do not exist (they "
                    "diverge to infinity) and their odds ratios are not reported; treat this model as unreliable. "
                    "Selection stopped at this step. SPSS would continue stepping from its non-converged "
                    "estimates (it stops iterating and warns); its path past this point is not meaningful",
                    step,
                )
            )
        elif not f.converged:
            self.problems.append(
                Problem(
                    "nonconvergence",
                    term,
                    f"step {step}: the fit of the model ({model}) did not converge in {f.iterations} iterations "
                    "although the data are not separated; treat it as unreliable (selection stopped here)",
                    step,
                )
            )

    def _broken(self, current: frozenset[str]) -> bool:
        f = self.fit(current)
        return f.separation or not f.converged

    # ---- the selection -------------------------------------------------------------
    def _worst_removal(
        self, current: frozenset[str]
    ) -> tuple[str, float, tuple[float, int]] | None:
        """The term in `current` with the largest removal p (log scale; ties: candidate
        order), its log p and (statistic, df)."""
        worst: tuple[str, float, tuple[float, int]] | None = None
        for name in sorted(current, key=self.order.__getitem__):
            rstat, rdf = self.removal_stat(current, name)
            key = _logsf(rstat, rdf)
            if worst is None or key > worst[1] + _tie(worst[1]):
                worst = (name, key, (rstat, rdf))
        return worst

    def run(self) -> tuple[list[Step], str]:
        current: frozenset[str] = frozenset()
        visited = {current}
        steps = [self.report(0, "start", None, None, None, None, current, None)]
        self.note_fit_problems(0, None, current)
        flagged_collinear: set[str] = set()
        max_steps = (
            4 * len(self.d.terms) + 10
        )  # unreachable in practice: the repeat rule stops first
        while True:
            if len(steps) > max_steps:
                return steps, f"stopped after {max_steps} steps"
            scores, _u, _info = self.scores(current)
            best: str | None = None
            best_key = math.inf
            for t in self.d.terms:
                if t.name not in scores:
                    continue
                stat, df, collinear = scores[t.name]
                if collinear:
                    if t.name not in flagged_collinear:
                        flagged_collinear.add(t.name)
                        model = (
                            ", ".join(sorted(current, key=self.order.__getitem__)) or "the constant"
                        )
                        self.problems.append(
                            Problem(
                                "collinear",
                                t.name,
                                f"step {len(steps) - 1}: '{t.name}' is a linear combination of the model's "
                                f"columns ({model}) among the cases used (rank-deficient design); it is not "
                                "eligible to enter while they are in the model",
                                len(steps) - 1,
                            )
                        )
                    continue
                # Smallest p; ties broken by candidate order (the first listed wins).
                key = _logsf(stat, df)
                if best is None or key < best_key - _tie(best_key):
                    best, best_key = t.name, key
            if best is None:
                return steps, "no candidate left to enter"
            stat, df, _ = scores[best]
            p = _p(stat, df)
            # Decided on the log scale: p itself may be floored (pvalues.P_FLOOR).
            if not (best_key < math.log(self.pin)):
                return (
                    steps,
                    f"no candidate met the entry criterion (smallest p = {p:.4g} >= PIN {self.pin:g})",
                )
            nxt = current | {best}
            if nxt in visited:
                return steps, f"entering '{best}' would repeat a model already visited"
            previous, current = current, nxt
            visited.add(current)
            if self.progress:
                self.progress(f"step {len(steps)}: enter {best}")
            steps.append(self.report(len(steps), "enter", best, stat, df, p, current, previous))
            self.note_fit_problems(len(steps) - 1, best, current)
            if self._broken(current):
                # Score and removal tests at estimates that do not exist are meaningless:
                # stop here and report the model as unreliable (docs/stepwise.md, policy).
                return (
                    steps,
                    f"the model stopped being estimable after '{best}' entered; selection stopped",
                )
            while True:
                found = self._worst_removal(current)
                if found is None:  # an empty model has nothing to remove
                    break
                worst, worst_key, worst_stat = found
                rp = _p(*worst_stat)
                if not (worst_key > math.log(self.pout)):
                    break
                nxt = current - {worst}
                if nxt in visited:
                    return steps, f"removing '{worst}' would repeat a model already visited"
                previous, current = current, nxt
                visited.add(current)
                if self.progress:
                    self.progress(f"step {len(steps)}: remove {worst}")
                steps.append(
                    self.report(
                        len(steps),
                        "remove",
                        worst,
                        worst_stat[0],
                        worst_stat[1],
                        rp,
                        current,
                        previous,
                    )
                )
                self.note_fit_problems(len(steps) - 1, worst, current)
                if self._broken(current):
                    return (
                        steps,
                        f"the model stopped being estimable after '{worst}' left; selection stopped",
                    )
                if not current:
                    break


def check_selection(pin: float, pout: float, removal: str) -> None:
    """Raise BadRequest unless PIN/POUT/removal are valid for `stepwise` (callers that run many
    models, such as the report, check once before the work)."""
    if removal not in REMOVALS:
        raise BadRequest(f"removal must be one of {', '.join(REMOVALS)}; got {removal!r}")
    if not (0 < pin < 1 and 0 < pout < 1):
        raise BadRequest("PIN and POUT must be between 0 and 1")
    if not pin < pout:
        # SPSS requires PIN < POUT; otherwise a term could enter and leave forever.
        raise BadRequest(f"PIN ({pin:g}) must be less than POUT ({pout:g})")


def stepwise(
    frame: pl.DataFrame,
    outcome: str,
    candidates: list[str],
    categorical: list[str] | None = None,
    pin: float = 0.05,
    pout: float = 0.10,
    removal: str = "lr",
    reference: dict[str, str] | str = "last",
    event: str | None = None,
    cut: float = 0.5,
    collapse: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> StepwiseResult:
    """Forward stepwise binary logistic regression, SPSS `LOGISTIC REGRESSION /METHOD=FSTEP`.

    frame: cases (Polars). outcome: a binary column (Boolean: True is the event; 0/1: 1 is
    the event; otherwise two values, the later in coding order is the event unless `event`
    names one). candidates: columns that may enter. categorical: candidates coded as k-1
    indicator columns (text, Enum and Boolean candidates are always categorical) with the
    reference category `reference` ("last", "first", a level, or a dict per variable).
    pin/pout: entry (score test p < pin) and removal (p > pout) thresholds.
    removal: "lr" (SPSS FSTEP(LR)), "wald" (FSTEP(WALD)) or "conditional" (FSTEP(COND)).
    collapse: fit on covariate patterns (default: when every candidate is categorical).

    Returns a StepwiseResult. Raises BadRequest for bad arguments or columns, BadInput for a
    non-binary outcome, ModelFailure when there is nothing to model.
    """
    check_selection(pin, pout, removal)
    if not 0 < cut < 1:
        raise BadRequest("the classification cut must be between 0 and 1")
    d = build_design(frame, outcome, list(candidates), categorical, reference, event, collapse)
    eng = _Engine(d, removal, pin, pout, cut, progress)
    steps, reason = eng.run()
    codings = tuple(
        {
            "term": t.name,
            "levels": t.levels,
            "reference": t.reference,
            "parameters": t.params,
            "parameter_levels": t.param_levels,
            "level_n": t.level_n,
            "level_events": t.level_events,
        }
        for t in d.terms
        if t.kind == "categorical"
    )
    return StepwiseResult(
        outcome=outcome,
        event=d.event,
        nonevent=d.nonevent,
        candidates=tuple(candidates),
        categorical=tuple(t.name for t in d.terms if t.kind == "categorical"),
        codings=codings,
        method=REMOVALS[removal],
        removal=removal,
        pin=pin,
        pout=pout,
        n=d.n_used,
        n_dropped=d.n_dropped,
        n_total=d.n_total,
        collapsed=d.collapsed,
        n_rows_fitted=len(d.w),
        steps=tuple(steps),
        stop_reason=reason,
        problems=tuple(eng.problems),
        models_fitted=len(eng.cache),
    )
