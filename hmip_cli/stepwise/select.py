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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from hmip_cli import defaults
from hmip_cli.errors import BadRequest
from hmip_cli.stepwise import fit as F
from hmip_cli.stepwise.design import MAX_LEVELS, Design, Problem, build_design
from hmip_cli.stepwise.diagnostics import classification, hosmer_lemeshow
from hmip_cli.stepwise.iteration_history import IterationHistory, iteration_history
from hmip_cli.stepwise.pvalues import chi2_logp, chi2_p
from hmip_cli.stepwise.result import (
    ChiSquare,
    Coefficient,
    RemovalRow,
    ScoreRow,
    Step,
    StepwiseResult,
)
from hmip_cli.stepwise.spss_iteration import fit_logit_spss
from hmip_cli.stepwise.terms import expand as expand_terms
from hmip_cli.stepwise.terms import parts as term_parts

# the 97.5% point of the standard normal (scipy.stats.norm.ppf(0.975)), not computed: importing
# scipy.stats cost each `hmip regress` start about 2 s (issue 13)
Z95 = 1.959963984540054
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


@dataclass(frozen=True)
class Block:
    """One /METHOD subcommand: "enter", "fstep" or "bstep" over `terms` (candidate names)."""

    method: str
    terms: tuple[str, ...]


METHODS = {"enter": "ENTER", "fstep": "FSTEP", "bstep": "BSTEP"}


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
        self.flagged_collinear: set[str] = set()
        self.block_no = 0
        self.block_start: frozenset[str] = frozenset()
        self.iterate = "exact"
        self.history = False

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
        if self.iterate == "spss":
            # SPSS's rule: each model from SPSS's start, stopped at BCON (spss_iteration.py)
            f = fit_logit_spss(self.d.X, self.d.w, self.d.y, cols)
            self.cache[terms] = f
            return f
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
            fb = self.fit(self.block_start)  # the model the current block started from
            om_block = _chi_square(2.0 * (ll - fb.loglik), model_df - (len(fb.cols) - 1))
        unreliable = f.separation or not f.converged
        in_eq = self.coefficients(f, current, unreliable)
        if scores is None:
            scores, u, info = self.scores(current)
        not_in, residual = self.not_in(current, f, scores, u, info)
        if_removed = self.if_removed(current)
        hl = hosmer_lemeshow(d.w, d.y, f.prob, patterns=d.X[:, f.cols]) if current else None
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
            self.block_no,
            self.history_of(f, current) if self.history else None,
        )

    def history_of(self, f: F.Fit, current: frozenset[str]) -> IterationHistory:
        """SPSS's Iteration History of the step's model (iteration_history.py)."""
        names = ["Constant"]
        for t in sorted(current, key=self.order.__getitem__):
            names.extend(self.by_name[t].params)
        return iteration_history(self.d.X, self.d.w, self.d.y, f.cols, names, self.iterate)

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
            if term.kind in ("categorical", "interaction") and term.df > 1:
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
                    "estimates (it stops iterating and warns); its path past this point is not meaningful. "
                    "Firth's penalised likelihood gives finite estimates, tests and CIs for separated data: "
                    "hmip regress --firth (firth() in Python; docs/stepwise.md)",
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
    @staticmethod
    def _lower_terms(name: str) -> list[str]:
        """The next-lower terms of an interaction: a:b:c -> b:c, a:c, a:b."""
        ps = term_parts(name)
        return [":".join(q for q in ps if q != p) for p in ps] if len(ps) > 1 else []

    def _hierarchy_allows_entry(self, name: str, current: frozenset[str]) -> bool:
        """SPSS's hierarchy rule: an interaction may enter only when its lower-order terms
        are in the model."""
        return all(t in current for t in self._lower_terms(name))

    def _worst_removal(
        self, current: frozenset[str], eligible: set[str] | None = None
    ) -> tuple[str, float, tuple[float, int]] | None:
        """The term of `current` (only those in `eligible`, if given) with the largest removal
        p (log scale; ties: candidate order), its log p and (statistic, df)."""
        worst: tuple[str, float, tuple[float, int]] | None = None
        pool = current if eligible is None else current & eligible
        # Hierarchy: a term inside an interaction that is in the model is not removable.
        held = {p for t in current if ":" in t for p in self._lower_terms(t)}
        for name in sorted(pool - held, key=self.order.__getitem__):
            rstat, rdf = self.removal_stat(current, name)
            key = _logsf(rstat, rdf)
            if worst is None or key > worst[1] + _tie(worst[1]):
                worst = (name, key, (rstat, rdf))
        return worst

    def run(self, blocks: list[Block]) -> tuple[list[Step], str]:
        """Step 0, then each METHOD block in turn, each starting from the model the previous
        one left (SPSS LOGISTIC REGRESSION with several /METHOD subcommands)."""
        current: frozenset[str] = frozenset()
        self.block_no, self.block_start = 0, current
        steps = [self.report(0, "start", None, None, None, None, current, None)]
        self.note_fit_problems(0, None, current)
        reasons: list[str] = []
        for number, block in enumerate(blocks, 1):
            self.block_no, self.block_start = number, current
            terms = [t for t in block.terms if t not in current]
            if block.method == "enter":
                current, reason, stop = self._enter_block(steps, current, terms)
            else:
                current, reason, stop = self._stepwise_block(
                    steps, current, terms, backward=block.method == "bstep"
                )
            reasons.append(reason)
            if stop:
                break
        if len(blocks) == 1:
            return steps, reasons[0]
        return steps, "; ".join(f"block {i}: {r}" for i, r in enumerate(reasons, 1))

    def _flag_collinear(self, name: str, current: frozenset[str], step: int) -> None:
        if name in self.flagged_collinear:
            return
        self.flagged_collinear.add(name)
        model = ", ".join(sorted(current, key=self.order.__getitem__)) or "the constant"
        self.problems.append(
            Problem(
                "collinear",
                name,
                # "some combination": a categorical term may be only partly redundant
                # (one level already identified by a model term), not a copy of it
                f"step {step}: '{name}' is collinear with the model's columns ({model}) "
                "among the cases used: its columns, or some combination of them, are a "
                "linear combination of the model's (rank-deficient design); it is not "
                "eligible to enter while they are in the model",
                step,
            )
        )

    def _enter_all(
        self, steps: list[Step], current: frozenset[str], terms: list[str]
    ) -> tuple[frozenset[str], bool]:
        """Enter `terms` together in one step (METHOD=ENTER, and BSTEP's first step). The step's
        statistic is their joint score statistic at the current model (the omnibus Step row
        has the LR chi-square). A term collinear with the model (and the terms before it) is
        left out and named. Returns (model, stopped because the fit broke)."""
        f = self.fit(current)
        u, info = F.score_blocks(self.d.X, self.d.w, self.d.y, f)
        model = list(f.cols)
        added: list[str] = []
        cols: list[int] = []
        for name in sorted(terms, key=self.order.__getitem__):
            _, _, collinear = F.score_statistic(
                u, info, model + cols, list(self.by_name[name].cols)
            )
            if collinear:
                self._flag_collinear(name, current | set(added), len(steps))
                continue
            added.append(name)
            cols.extend(self.by_name[name].cols)
        if not added:
            return current, False
        stat, df, _ = F.score_statistic(u, info, model, cols)
        previous, current = current, current | set(added)
        label = ", ".join(added)
        if self.progress:
            self.progress(f"step {len(steps)}: enter {label}")
        steps.append(
            self.report(len(steps), "enter", label, stat, df, _p(stat, df), current, previous)
        )
        self.note_fit_problems(len(steps) - 1, label, current)
        return current, self._broken(current)

    def _enter_block(
        self, steps: list[Step], current: frozenset[str], terms: list[str]
    ) -> tuple[frozenset[str], str, bool]:
        if not terms:
            return current, "nothing to enter", False
        current, broken = self._enter_all(steps, current, terms)
        if broken:
            return current, "the model is not estimable after the block entered", True
        return current, "all eligible terms entered", False

    def _stepwise_block(
        self, steps: list[Step], current: frozenset[str], eligible: list[str], backward: bool
    ) -> tuple[frozenset[str], str, bool]:
        """FSTEP (or BSTEP: all `eligible` terms enter first, then removal and entry as FSTEP).
        Only `eligible` terms enter or leave; terms of earlier blocks stay (SAS INCLUDE=).
        Returns (model, stop reason, whether later blocks must not run)."""
        visited = {current}
        pool = set(eligible)
        max_steps = len(steps) + 4 * len(eligible) + 10  # the repeat rule stops first
        removal_first = False
        if backward:
            if not eligible:
                return current, "nothing to enter", False
            current, broken = self._enter_all(steps, current, eligible)
            visited.add(current)
            if broken:
                return current, "the model is not estimable with every term in", True
            removal_first = True
        while True:
            if len(steps) > max_steps:
                return current, f"stopped after {max_steps} steps", False
            if not removal_first:
                scores, _u, _info = self.scores(current)
                best: str | None = None
                best_key = math.inf
                for t in self.d.terms:
                    if t.name not in scores or t.name not in pool:
                        continue
                    if not self._hierarchy_allows_entry(t.name, current):
                        continue
                    stat, df, collinear = scores[t.name]
                    if collinear:
                        self._flag_collinear(t.name, current, len(steps) - 1)
                        continue
                    # Smallest p; ties broken by candidate order (the first listed wins).
                    key = _logsf(stat, df)
                    if best is None or key < best_key - _tie(best_key):
                        best, best_key = t.name, key
                if best is None:
                    return current, "no candidate left to enter", False
                stat, df, _ = scores[best]
                p = _p(stat, df)
                # Decided on the log scale: p itself may be floored (pvalues.P_FLOOR).
                if not (best_key < math.log(self.pin)):
                    return (
                        current,
                        f"no candidate met the entry criterion (smallest p = {p:.4g} >= PIN {self.pin:g})",
                        False,
                    )
                nxt = current | {best}
                if nxt in visited:
                    return current, f"entering '{best}' would repeat a model already visited", False
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
                        current,
                        f"the model stopped being estimable after '{best}' entered; selection stopped",
                        True,
                    )
            removal_first = False
            while True:
                found = self._worst_removal(current, pool)
                if found is None:  # nothing of this block in the model
                    break
                worst, worst_key, worst_stat = found
                rp = _p(*worst_stat)
                if not (worst_key > math.log(self.pout)):
                    break
                nxt = current - {worst}
                if nxt in visited:
                    return (
                        current,
                        f"removing '{worst}' would repeat a model already visited",
                        False,
                    )
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
                        current,
                        f"the model stopped being estimable after '{worst}' left; selection stopped",
                        True,
                    )


def make_blocks(
    candidates: list[str],
    method: str = "fstep",
    enter: Sequence[str] | None = None,
    blocks: Sequence[Block | tuple[str, Sequence[str]]] | None = None,
) -> list[Block]:
    """The /METHOD blocks of a run: `blocks` as given, or [ENTER `enter`] + [`method` over the
    other candidates]. Raises BadRequest for an unknown method or a term that is not a
    candidate, is in two blocks, or (with `blocks`) a candidate in no block."""
    known = set(candidates)
    if blocks is not None:
        if enter:
            raise BadRequest("give forced terms as an enter block, not both --enter and --block")
        plan = [b if isinstance(b, Block) else Block(b[0], tuple(b[1])) for b in blocks]
        if not plan:
            raise BadRequest("no METHOD block given")
    else:
        forced = list(enter or [])
        rest = tuple(c for c in candidates if c not in set(forced))
        plan = [Block("enter", tuple(forced))] if forced else []
        plan.append(Block(method, rest))
    seen: set[str] = set()
    for b in plan:
        if b.method not in METHODS:
            raise BadRequest(f"method must be one of {', '.join(METHODS)}; got {b.method!r}")
        for t in b.terms:
            if t not in known:
                raise BadRequest(f"'{t}' is in a METHOD block but not among the candidates")
            if t in seen:
                raise BadRequest(f"'{t}' is in two METHOD blocks")
            seen.add(t)
    if blocks is not None and (missing := [c for c in candidates if c not in seen]):
        raise BadRequest(f"candidates in no METHOD block: {', '.join(missing)}")
    return plan


def method_label(plan: Sequence[Block], removal: str) -> str:
    """SPSS's names: FSTEP(LR), BSTEP(WALD), ENTER; several blocks joined by '; '."""
    suffix = REMOVALS[removal][len("FSTEP") :]
    return "; ".join(METHODS[b.method] + ("" if b.method == "enter" else suffix) for b in plan)


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
    pin: float = defaults.PIN,
    pout: float = defaults.POUT,
    removal: str = "lr",
    reference: dict[str, str] | str = "last",
    event: str | None = None,
    cut: float = defaults.CUT,
    collapse: bool | None = None,
    progress: Callable[[str], None] | None = None,
    method: str = "fstep",
    enter: Sequence[str] | None = None,
    blocks: Sequence[Block | tuple[str, Sequence[str]]] | None = None,
    max_levels: int | None = MAX_LEVELS,
    contrast: dict[str, str] | None = None,
    iterate: str = "exact",
    history: bool = False,
    weights: str | None = None,
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
    method: "fstep" (SPSS FSTEP, the default), "bstep" (backward stepwise from the full model)
    or "enter" (every candidate in one step), over the candidates not in `enter`.
    enter: candidates forced in first, as a block of their own (SPSS /METHOD=ENTER before the
    stepwise block; SAS INCLUDE=); they are never removed.
    blocks: several /METHOD blocks in order instead, e.g. [("enter", ["a"]), ("fstep", ["b",
    "c"])]; each starts from the previous block's model and only its own terms enter or leave.
    max_levels: a categorical candidate with more levels is refused before fitting (None:
    no limit); identifiers (one value per row, case_id, notes) are refused as candidates.
    contrast: SPSS /CONTRAST per categorical variable, {var: "deviation"} etc. (contrasts.py;
    default indicator); `reference` is the refcat of indicator, simple and deviation.
    iterate: "exact" (default: every fit to the exact maximum) or "spss" (SPSS's rule: ITERATE
    20, BCON .001 from SPSS's start, S.E. from the last step's information; spss_iteration.py).
    history: record each step's iteration history (SPSS /PRINT=ITER; iteration_history.py)
    in `steps[k].iteration_history`.
    weights: a column of case counts (each row stands for that many identical cases, as
    design.collapse_cases builds); the result is that of the frame with rows repeated.

    Returns a StepwiseResult. Raises BadRequest for bad arguments or columns, BadInput for a
    non-binary outcome, ModelFailure when there is nothing to model.
    """
    check_selection(pin, pout, removal)
    if not 0 < cut < 1:
        raise BadRequest("the classification cut must be between 0 and 1")
    candidates = expand_terms(list(candidates))
    plan = make_blocks(list(candidates), method, enter, blocks)
    d = build_design(
        frame,
        outcome,
        list(candidates),
        categorical,
        reference,
        event,
        collapse,
        max_levels=max_levels,
        contrasts=contrast,
        weights=weights,
    )
    kept = {t.name for t in d.terms}  # constant candidates were excluded before step 0
    plan = [Block(b.method, tuple(t for t in b.terms if t in kept)) for b in plan]
    if iterate not in ("exact", "spss"):
        raise BadRequest(f"iterate must be exact or spss; got {iterate!r}")
    eng = _Engine(d, removal, pin, pout, cut, progress)
    eng.iterate = iterate
    eng.history = history
    steps, reason = eng.run(plan)
    final_fit = eng.fit(frozenset(steps[-1].terms))
    final_names = ["Constant"]
    for t in sorted(steps[-1].terms, key=eng.order.__getitem__):
        final_names.extend(eng.by_name[t].params)
    codings = tuple(
        {
            "term": t.name,
            "levels": t.levels,
            "reference": t.reference,
            "parameters": t.params,
            "parameter_levels": t.param_levels,
            "contrast": t.contrast,
            **({"coding": t.coding} if t.coding else {}),
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
        method=method_label(plan, removal),
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
        iterate=iterate,
        cut=cut,
        final_parameters=tuple(final_names),
        final_beta=tuple(float(b) for b in final_fit.beta),
        final_cov=tuple(tuple(float(v) for v in row) for row in final_fit.cov),
        blocks=tuple(
            {"block": i, "method": method_label([b], removal), "terms": list(b.terms)}
            for i, b in enumerate(plan, 1)
        ),
        weights=weights,
    )
