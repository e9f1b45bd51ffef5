"""From a case frame to the numbers the fits use: listwise deletion, outcome coding,
indicator (dummy) columns for categorical candidates, and covariate-pattern collapsing.

Two paths give the same binomial table up to row order:
- collapsed: one Polars group_by over the candidates; each row of the table is a covariate
  pattern with w = cases and y = events (always when every candidate is categorical; with
  numeric candidates when there are at most COLLAPSE_MAX_SHARE patterns per case);
- row-level: one row per case, w = 1, y in {0, 1}.

The frame may itself be collapsed already: with `weights` naming a column of case counts,
each row stands for that many identical cases (`collapse_cases` builds such a frame in one
group_by, before any row is materialised: `hmip regress --input` and the sweeps do).
Every count, test and estimate is then that of the frame with each row repeated (tested to
1e-10 against the expanded frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from hmip_cli import defaults, privacy
from hmip_cli.errors import BadInput, BadRequest, ModelFailure
from hmip_cli.missing import DESCRIPTION as MISSING_DESCRIPTION
from hmip_cli.stepwise import contrasts as C
from hmip_cli.stepwise import terms as T

# Collapse onto covariate patterns when there are at most this share of cases as patterns
# (always when every candidate is categorical).
COLLAPSE_MAX_SHARE = 0.5
# The column of case counts in a frame built by `collapse_cases`.
WEIGHT = "__hmip_cases"

# A categorical candidate with more levels than this is refused before any fit: its k-1
# indicator columns make every score test and refit slow (400 levels took 46 s, 3,000 more
# than 10 minutes) and a model with hundreds of sparse levels is not interpretable anyway.
# `hmip regress --max-levels` raises it (docs/stepwise.md).
MAX_LEVELS = defaults.MAX_LEVELS


@dataclass(frozen=True)
class Problem:
    """Something the analyst must know about a run. `code` is stable (documented in
    docs/stepwise.md); `message` is for people."""

    code: str  # constant | collinear | no_events_level | all_events_level | separation | nonconvergence
    term: str | None
    message: str
    step: int | None = None

    def to_dict(self) -> dict:
        return {"code": self.code, "term": self.term, "step": self.step, "message": self.message}


@dataclass
class Term:
    """One candidate: a numeric covariate (1 column), a categorical variable (k-1 columns) or
    an interaction of candidates (the products of their columns)."""

    name: str
    kind: str  # "numeric" | "categorical" | "interaction"
    cols: list[int] = field(default_factory=list)  # design columns
    params: list[str] = field(default_factory=list)  # parameter names, SPSS style: race(1)
    levels: list[str] = field(default_factory=list)  # all levels, in coding order (categorical)
    reference: str | None = None
    param_levels: list[str] = field(default_factory=list)  # level each indicator stands for
    level_n: list[float] = field(default_factory=list)  # cases per level (same order as levels)
    level_events: list[float] = field(default_factory=list)
    contrast: str = "indicator"  # SPSS /CONTRAST (contrasts.py)
    coding: list[list[float]] = field(default_factory=list)  # k x (k-1), non-indicator only

    @property
    def df(self) -> int:
        return len(self.cols)


@dataclass
class Design:
    X: np.ndarray
    w: np.ndarray
    y: np.ndarray
    terms: list[Term]
    n_used: int
    n_dropped: int
    n_total: int
    event: str
    nonevent: str
    collapsed: bool
    problems: list[Problem]
    excluded: list[str]


def collapse_cases(cases: pl.LazyFrame | pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """The distinct rows of `columns` (nulls included) with their number of cases in WEIGHT:
    one group_by, so a lazy scan of millions of cases is never materialised row by row.
    Sorted, so that every run sums in the same order (bit-for-bit identical results)."""
    cols = list(dict.fromkeys(columns))
    lf = cases.lazy() if isinstance(cases, pl.DataFrame) else cases
    return lf.group_by(cols).agg(pl.len().alias(WEIGHT)).sort(cols, nulls_last=True).collect()


def is_identifier(frame: pl.DataFrame, column: str, weights: str | None = None) -> bool:
    """privacy.is_identifier of the column with each row repeated `weights` times: every
    non-missing value held by exactly one case, among at least 3."""
    if weights is None:
        return privacy.is_identifier(frame.get_column(column))
    per_value = (
        frame.lazy()
        .filter(pl.col(column).is_not_null())
        .group_by(column)
        .agg(pl.col(weights).sum())
        .select(n=pl.col(weights).sum(), single=(pl.col(weights) == 1).all())
        .collect()
    )
    return bool(per_value["n"][0] >= 3 and per_value["single"][0])


def case_count(frame: pl.DataFrame, weights: str | None = None) -> int:
    """Cases in the frame: its rows, or the sum of its `weights` column."""
    if weights is None:
        return frame.height
    return int(frame.get_column(weights).sum())


class _Secrets:
    """The identifiers and notes of a frame (`privacy.frame_secrets`), computed once and only
    when a message is about to quote a data value."""

    def __init__(
        self, frame: pl.DataFrame, max_levels: int | None, weights: str | None = None
    ) -> None:
        self._frame = frame
        self._max_levels = max_levels or MAX_LEVELS
        self._weights = weights
        self._value: frozenset[str] | None = None

    def get(self) -> frozenset[str]:
        if self._value is None:
            if self._weights is None:
                self._value = privacy.frame_secrets(self._frame, self._max_levels)
            else:
                self._value = self._weighted_secrets()
        return self._value

    def _weighted_secrets(self) -> frozenset[str]:
        """privacy.frame_secrets of the frame with each row repeated `weights` times (an
        identifier is judged by cases, not by the rows of the collapsed frame)."""
        frame, named = self._frame, set(privacy.identifying_columns())
        values: list[object] = []
        for name, dtype in frame.schema.items():
            if name == self._weights or not (
                dtype == pl.String or isinstance(dtype, pl.Categorical)
            ):
                continue
            s = frame.get_column(name).cast(pl.String)
            if (
                name in named
                or is_identifier(frame, name, self._weights)
                or s.n_unique() > self._max_levels + 1
                or bool((s.str.len_chars() > privacy.MAX_QUOTED).any())
            ):
                values.extend(s.to_list())
        return privacy.secret_set(values)

    def quote(self, value: object, bare: bool = False) -> str:
        """'x' (x when `bare`) for a short coded value, else "a value of N characters"."""
        if bare and privacy.is_quotable(value, self.get()):
            return str(value)
        return privacy.describe_value(value, self.get())

    def quote_list(self, values: list, limit: int = 10) -> str:
        shown = ", ".join(self.quote(_label(v), bare=True) for v in values[:limit])
        return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric()


def _ordered_levels(values: list, dtype: pl.DataType) -> list:
    """Level order for coding: Enum -> its declared order; Boolean -> False, True;
    numbers ascending; anything else sorted as text (SPSS sorts values ascending)."""
    present = [v for v in values if v is not None]
    if isinstance(dtype, pl.Enum):
        cats = list(dtype.categories)
        return [c for c in cats if c in set(present)]
    if dtype == pl.Boolean:
        return [v for v in (False, True) if v in set(present)]
    if _is_numeric(dtype):
        return sorted(present)
    return sorted(present, key=str)


def _label(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def outcome_coding(
    frame: pl.DataFrame,
    outcome: str,
    event: str | None,
    secrets: _Secrets | None = None,
    weights: str | None = None,
) -> tuple[object, object]:
    """(event value, non-event value) of a binary outcome. Boolean: True is the event; 0/1:
    1 is the event; otherwise the outcome must have exactly two values and the event is the
    later one in coding order (as SPSS: the higher value is coded 1), unless `event` names it."""
    secrets = secrets or _Secrets(frame, None)
    col = frame.get_column(outcome)
    if is_identifier(frame, outcome, weights) and col.drop_nulls().len() > 2:
        raise BadInput(
            f"outcome '{outcome}' has a different value in every row: it identifies cases "
            "(an identifier), it is not a binary outcome; give a column with exactly two values"
        )
    values = col.drop_nulls().unique().to_list()
    levels = _ordered_levels(values, col.dtype)
    if len(levels) > 2:
        raise BadInput(
            f"outcome '{outcome}' is not binary: it has {len(levels)} distinct values "
            f"({secrets.quote_list(levels, 5)}); give a column with exactly two values"
        )
    if col.dtype == pl.Boolean:
        levels = [False, True]
    elif _is_numeric(col.dtype) and set(levels) <= {0, 1}:
        levels = [0, 1]
    if not levels:
        raise ModelFailure(
            f"outcome '{outcome}' is missing for every case (blank, NA or another missing "
            "value in every row); there is nothing to model"
        )
    if len(levels) < 2:
        only = secrets.quote(_label(levels[0]), bare=True)
        raise ModelFailure(
            f"outcome '{outcome}' has only one value ({only}); there is nothing to model"
        )
    if event is not None:
        labels = [_label(v) for v in levels]
        i = _match_level(event, levels, labels)
        if i is None:
            raise BadRequest(
                f"the --event value given is not a value of '{outcome}' "
                f"(values: {secrets.quote_list(labels)})"
            )
        return levels[i], levels[1 - i]
    return levels[1], levels[0]


def _match_level(text: str, levels: list, labels: list[str]) -> int | None:
    """Position of the level `text` names: its label exactly; else the same number (1 = 1.0);
    else the only label equal ignoring case (TRUE = true)."""
    if text in labels:
        return labels.index(text)
    try:
        num = float(text)
    except ValueError:
        num = None
    if num is not None:
        hits = [
            i
            for i, v in enumerate(levels)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and float(v) == num
        ]
        if len(hits) == 1:
            return hits[0]
    hits = [i for i, lab in enumerate(labels) if lab.casefold() == text.casefold()]
    return hits[0] if len(hits) == 1 else None


def _reference_for(name: str, reference: dict[str, str] | str) -> str:
    """A dict gives a level (or "first"/"last") per variable; its "*" entry, if any, is the
    default for the others (else "last")."""
    if isinstance(reference, dict):
        return reference.get(name, reference.get("*", "last"))
    return reference


def _pick_reference(name: str, levels: list, spec: str, secrets: _Secrets) -> int:
    labels = [_label(v) for v in levels]
    if spec == "last":
        return len(levels) - 1
    if spec == "first":
        return 0
    i = _match_level(spec, levels, labels)
    if i is not None:
        return i
    raise BadRequest(
        # The typed value is not echoed: it may be an id or a note typed by mistake, and
        # the file's columns that would tell are not necessarily read (--input projection).
        f"the reference given for '{name}' is not one of its levels "
        f"(levels among the cases used: {secrets.quote_list(labels)})"
    )


def build_design(
    frame: pl.DataFrame,
    outcome: str,
    candidates: list[str],
    categorical: list[str] | None,
    reference: dict[str, str] | str = "last",
    event: str | None = None,
    collapse: bool | None = None,
    max_levels: int | None = MAX_LEVELS,
    contrasts: dict[str, str] | None = None,
    weights: str | None = None,
) -> Design:
    """Validate columns, drop incomplete cases once, code the outcome and the candidates.

    weights: a column of case counts (frequency weights, e.g. WEIGHT from `collapse_cases`):
    each row stands for that many identical cases.

    Refused before any fit (BadRequest): an identifier (one distinct value per row, or a
    column the schema marks identifying: case_id, notes) as a categorical candidate, and a
    categorical candidate with more than `max_levels` levels (None: no limit).

    A candidate may be an interaction `a:b` (terms.py) of candidates a and b: its columns are
    the products of theirs."""
    secrets = _Secrets(frame, max_levels, weights)
    if not candidates:
        raise BadRequest("no candidate variables given")
    if len(set(candidates)) != len(candidates):
        raise BadRequest("a candidate is listed twice")
    candidates = T.expand(candidates)
    term_order = {c: i for i, c in enumerate(candidates)}
    interactions = [c for c in candidates if T.is_interaction(c)]
    candidates = [c for c in candidates if not T.is_interaction(c)]
    if weights is not None and weights not in frame.columns:
        raise BadRequest(f"weights column '{weights}' not found")
    if weights in [outcome, *candidates]:
        raise BadRequest(f"the weights column '{weights}' cannot be the outcome or a candidate")
    missing = [c for c in [outcome, *candidates] if c not in frame.columns]
    if missing:
        import difflib

        hints = []
        for c in missing:
            near = difflib.get_close_matches(c, frame.columns, n=1) or [
                x for x in frame.columns if x.casefold() == c.casefold()
            ]
            # A mistyped name is echoed only if it is not a value from the data (an id typed
            # where a column name belongs must not be printed back).
            name = secrets.quote(c)
            if near:
                hints.append(f"{name} (did you mean '{near[0]}'?)")
            else:
                hints.append(name)
        cols = [c for c in frame.columns if c != weights]
        shown = ", ".join(cols[:30]) + (f", ... ({len(cols)} columns)" if len(cols) > 30 else "")
        raise BadRequest(f"column(s) not found: {', '.join(hints)}; available: {shown}")
    if outcome in candidates:
        raise BadRequest(f"the outcome '{outcome}' cannot also be a candidate")
    categorical = list(categorical or [])
    unknown = [c for c in categorical if c not in candidates]
    if unknown:
        raise BadRequest(
            "categorical variable(s) not among the candidates: "
            + ", ".join(secrets.quote(u) for u in unknown)
        )
    schema = frame.schema
    kinds: dict[str, str] = {}
    for c in candidates:
        dt = schema[c]
        if c in categorical or not _is_numeric(dt):
            # Text, Enum and Boolean candidates can only be categorical.
            kinds[c] = "categorical"
        else:
            kinds[c] = "numeric"
    named = set(privacy.identifying_columns())
    for c in candidates:
        if kinds[c] != "categorical":
            continue
        if c in named or is_identifier(frame, c, weights):
            raise BadRequest(
                f"candidate '{c}' "
                + (
                    "holds case identifiers or free text"
                    if c in named
                    else "has a different value in every row: it identifies cases (an "
                    "identifier) rather than grouping them"
                )
                + "; it cannot be a candidate"
            )
    contrasts = {k: C.check(v) for k, v in (contrasts or {}).items()}
    bad_c = [k for k in contrasts if k not in candidates or kinds[k] != "categorical"]
    if bad_c:
        raise BadRequest(f"contrast given for non-categorical candidate(s): {', '.join(bad_c)}")
    if isinstance(reference, dict):
        bad = [k for k in reference if k not in candidates and k != "*"]
        if bad:
            raise BadRequest(
                f"reference given for non-candidate(s): {', '.join(secrets.quote(b) for b in bad)}"
            )
        # SPSS refuses a CONTRAST for a variable not on CATEGORICAL; silently ignoring it
        # would leave the user believing the reference was applied
        numeric = [k for k in reference if k in kinds and kinds[k] != "categorical"]
        if numeric:
            raise BadRequest(
                f"reference given for numeric covariate(s) {', '.join(map(repr, numeric))}: "
                "a reference category applies to a categorical variable; list it in "
                "--categorical (categorical=) to code its values as categories"
            )

    if outcome in named:
        raise BadRequest(f"outcome '{outcome}' holds case identifiers or free text")
    ev_value, nonev_value = outcome_coding(frame, outcome, event, secrets, weights)
    if schema[outcome] == pl.Boolean:
        # event=False must model False (this used to model True whatever `event` said).
        is_event = pl.col(outcome) if ev_value else ~pl.col(outcome)
    else:
        is_event = pl.col(outcome) == pl.lit(ev_value, dtype=schema[outcome])
    all_cat = all(k == "categorical" for k in kinds.values())
    use_collapse = True if collapse is None else collapse
    n_total = case_count(frame, weights)
    cases = pl.lit(1, dtype=pl.Int64) if weights is None else pl.col(weights).cast(pl.Int64)

    if use_collapse:
        # One scan: patterns of the candidates (null keys included, so dropped cases are
        # counted from the same pass), with the number of non-missing outcomes and events.
        table = (
            frame.lazy()
            .group_by(candidates)
            .agg(
                n=(pl.col(outcome).is_not_null().cast(pl.Int64) * cases).sum(),
                events=(is_event.fill_null(False).cast(pl.Int64) * cases).sum(),
            )
            .collect()
        )
        # group_by's row order varies from run to run (parallel engine); the fits would then
        # sum in a different order and differ in the last bits. Sorted patterns make every
        # run bit-for-bit identical.
        table = table.filter(pl.col("n") > 0).drop_nulls(candidates).sort(candidates)
        # With numeric candidates, collapse only when patterns repeat (at most half as many
        # patterns as cases): otherwise the row-level fit is as fast and skips the table.
        n_complete = int(table.get_column("n").sum())
        if collapse is None and not all_cat and table.height > COLLAPSE_MAX_SHARE * n_complete:
            use_collapse = False
    if use_collapse:
        w = table.get_column("n").to_numpy().astype(np.float64)
        y = table.get_column("events").to_numpy().astype(np.float64)
        data = table
    else:
        keep = [outcome, *candidates]
        data = frame.select([*keep, *([weights] if weights else [])]).drop_nulls(keep)
        if weights is not None:  # rows standing for no case carry nothing
            data = data.filter(pl.col(weights) > 0)
        if weights is None:
            w = np.ones(data.height)
            y = data.select(is_event.cast(pl.Float64)).to_series().to_numpy()
        else:
            w = data.get_column(weights).cast(pl.Float64).to_numpy()
            y = data.select(is_event.cast(pl.Float64) * pl.col(weights)).to_series().to_numpy()
    n_used = int(round(w.sum()))
    if n_used == 0:
        raise ModelFailure(_no_cases_message(frame, [outcome, *candidates], weights))
    events = float(y.sum())
    if events == 0 or events == n_used:
        only = secrets.quote(_label(nonev_value if events == 0 else ev_value), bare=True)
        raise ModelFailure(
            f"outcome '{outcome}' is {only} for every one of the {n_used} complete cases; "
            "there is nothing to model"
        )

    columns: list[np.ndarray] = [np.ones(len(w))]
    terms: list[Term] = []
    problems: list[Problem] = []
    excluded: list[str] = []
    for c in candidates:
        s = data.get_column(c)
        if kinds[c] == "numeric":
            x = s.cast(pl.Float64).to_numpy()
            if not np.all(np.isfinite(x)):
                raise BadInput(f"candidate '{c}' has non-finite values (inf or NaN)")
            pres = w > 0
            if np.ptp(x[pres]) == 0:
                excluded.append(c)
                problems.append(
                    Problem(
                        "constant",
                        c,
                        f"'{c}' has the same value ({_label(float(x[pres][0]))}) "
                        "for every case used; it was excluded before step 0",
                    )
                )
                continue
            terms.append(Term(c, "numeric", [len(columns)], [c]))
            columns.append(x)
            continue
        values = s.unique().to_list()
        levels = _ordered_levels(values, s.dtype)
        labels = [_label(v) for v in levels]
        if max_levels is not None and len(levels) > max_levels:
            raise BadRequest(
                f"candidate '{c}' has {len(levels):,} levels among the cases used, more than the "
                f"limit of {max_levels} for a categorical candidate (each level is a parameter); "
                "group its levels into fewer categories, or raise the limit with --max-levels"
            )
        if len(levels) < 2:
            excluded.append(c)
            problems.append(
                Problem(
                    "constant",
                    c,
                    f"'{c}' has only one level ({secrets.quote(labels[0], bare=True)}) among the cases "
                    "used; it was excluded before step 0",
                )
            )
            continue
        ref = _pick_reference(c, levels, _reference_for(c, reference), secrets)
        contrast = contrasts.get(c, "indicator")
        codes = _codes(s, levels)
        level_n = np.bincount(codes, weights=w, minlength=len(levels))
        level_ev = np.bincount(codes, weights=y, minlength=len(levels))
        term = Term(
            c,
            "categorical",
            levels=labels,
            reference=labels[ref] if contrast in C.WITH_REFERENCE else None,
            level_n=level_n.tolist(),
            level_events=level_ev.tolist(),
            contrast=contrast,
        )
        if contrast == "indicator":
            for j, lab in enumerate(labels):
                if j == ref:
                    continue
                term.cols.append(len(columns))
                # SPSS names indicator parameters var(1), var(2), ...; we name them by level,
                # which reads better and is unambiguous.
                term.params.append(f"{c}({lab})")
                term.param_levels.append(lab)
                columns.append((codes == j).astype(np.float64))
        else:
            coding = C.coding(contrast, len(levels), ref)
            term.coding = coding.tolist()
            for m, what in enumerate(C.labels(contrast, labels, ref)):
                term.cols.append(len(columns))
                term.params.append(f"{c}({what})")
                term.param_levels.append(what)
                columns.append(coding[codes, m])
        for lab, n_l, e_l in zip(labels, level_n, level_ev):
            if e_l == 0:
                problems.append(
                    Problem(
                        "no_events_level",
                        c,
                        f"level {secrets.quote(lab)} of '{c}' has no events "
                        f"(0 of {int(n_l)} cases are {secrets.quote(_label(ev_value))}): its odds ratio "
                        "cannot be estimated (quasi-complete separation if the term enters)",
                    )
                )
            elif e_l == n_l:
                problems.append(
                    Problem(
                        "all_events_level",
                        c,
                        f"level {secrets.quote(lab)} of '{c}' has only events "
                        f"({int(n_l)} of {int(n_l)} cases are {secrets.quote(_label(ev_value))}): its odds "
                        "ratio cannot be estimated (quasi-complete separation if the term enters)",
                    )
                )
        terms.append(term)
    _add_interactions(interactions, terms, columns, excluded, problems)
    terms.sort(key=lambda t: term_order[t.name])  # candidate order decides ties
    if not terms:
        raise ModelFailure(
            "every candidate was excluded (constant among the cases used): " + ", ".join(excluded)
        )
    X = np.column_stack(columns)
    return Design(
        X,
        w,
        y,
        terms,
        n_used,
        n_total - n_used,
        n_total,
        _label(ev_value),
        _label(nonev_value),
        use_collapse,
        problems,
        excluded,
    )


def _add_interactions(
    interactions: list[str],
    terms: list[Term],
    columns: list[np.ndarray],
    excluded: list[str],
    problems: list[Problem],
) -> None:
    """Append the product columns of each interaction term (every pairing of its components'
    columns: indicator x indicator, indicator x covariate, covariate x covariate)."""
    import itertools

    by_name = {t.name: t for t in terms}
    for name in interactions:
        comps = T.parts(name)
        gone = [c for c in comps if c not in by_name]
        if gone:
            excluded.append(name)
            problems.append(
                Problem(
                    "constant",
                    name,
                    f"interaction '{name}' was excluded before step 0 with its component(s) "
                    f"{', '.join(gone)}",
                )
            )
            continue
        parts_ = [by_name[c] for c in comps]
        term = Term(name, "interaction")
        for combo in itertools.product(*[zip(t.cols, t.params) for t in parts_]):
            x = np.ones(len(columns[0]))
            for col, _ in combo:
                x = x * columns[col]
            term.cols.append(len(columns))
            term.params.append(":".join(p for _, p in combo))
            columns.append(x)
        terms.append(term)
        by_name[name] = term


def _no_cases_message(frame: pl.DataFrame, columns: list[str], weights: str | None = None) -> str:
    """Name the columns that leave no complete case: the all-missing ones, else the most missing."""
    n = case_count(frame, weights)
    if n == 0:
        return "the input has no rows"
    cases = pl.lit(1, dtype=pl.Int64) if weights is None else pl.col(weights).cast(pl.Int64)
    nulls = frame.select(
        (pl.col(c).is_null().cast(pl.Int64) * cases).sum().alias(c) for c in columns
    ).row(0)
    empty = [c for c, k in zip(columns, nulls) if k == n]
    if empty:
        return (
            "no case has a value on the outcome and every candidate: "
            + ", ".join(f"'{c}'" for c in empty)
            + f" {'is' if len(empty) == 1 else 'are'} missing "
            f"for every case (missing values: {MISSING_DESCRIPTION})"
        )
    worst = sorted(((k, c) for c, k in zip(columns, nulls) if k), reverse=True)[:5]
    detail = ", ".join(f"'{c}' missing for {k} of {n}" for k, c in worst)
    return f"no case has a value on the outcome and every candidate (listwise deletion): {detail}"


def _codes(s: pl.Series, levels: list) -> np.ndarray:
    """Integer code of each value (position in `levels`)."""
    lookup = pl.DataFrame(
        {"__v": pl.Series(levels, dtype=s.dtype), "__code": np.arange(len(levels))}
    )
    joined = (
        pl.DataFrame({"__v": s})
        .with_row_index("__i")
        .join(lookup, on="__v", how="left")
        .sort("__i")
    )
    return joined.get_column("__code").to_numpy().astype(np.int64)
