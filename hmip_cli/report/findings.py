"""Key findings: plain-English sentences computed from the report's numbers.

Nothing here is canned: each sentence is assembled from the rates and the stepwise
findings, so different data give different sentences (and a finding whose condition does
not hold is not written). Every `Finding` names the table (and rows) it summarises and
carries `Evidence` for each number it quotes, so a report can link the sentence to its
table and a test can check the number against the cell.

Conventions, following the bulletin: percentages in sentences are whole numbers, rounded
half up from the exact fraction; counts of factors are words ("eight of the ten");
suppressed or empty rates ([c], [z]) are never quoted.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hmip_cli import framework
from hmip_cli import rates as R
from hmip_cli.framework.model import Area, Breakdown, Framework, Measure
from hmip_cli.report import keys as K


@dataclass(frozen=True)
class Evidence:
    """One number quoted in a sentence: the table cell it came from and how it is shown."""

    table: str  # DocTable id
    row: str  # row key
    column: str  # column key
    shown: str  # as in the sentence: "74%" (whole percent) or "1,066" (count)


@dataclass(frozen=True)
class Finding:
    """A key-finding sentence and what it summarises.

    table: the id of the table it summarises (figure-1, table-2, differences, ...);
    rows: the row keys of that table it is about; also: other tables it draws on.
    """

    text: str
    table: str
    rows: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    also: tuple[str, ...] = ()
    headline: bool = False  # one of the few findings a bulletin leads with

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "headline": self.headline,
            "table": self.table,
            "rows": list(self.rows),
            "also": list(self.also),
            "evidence": [e.__dict__ for e in self.evidence],
        }


# --------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------

_WORDS = (
    "no",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
)


def number_word(n: int) -> str:
    return _WORDS[n] if 0 <= n < len(_WORDS) else f"{n:,}"


def join_words(items: list[str]) -> str:
    items = list(items)
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    # The serial comma keeps "thinking and behaviour, and attitudes to offending" unambiguous.
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def lower_label(label: str) -> str:
    """'Ethnic group' -> 'ethnic group'; 'OGRS band' and 'RoSH' keep their capitals."""
    first = label.split(" ", 1)[0]
    return label[:1].lower() + label[1:] if first[1:] == first[1:].lower() else label


def factor_phrase(factor: Area) -> str:
    """The area as it reads inside a sentence (its `phrase`, or its label with a lower-case
    first letter)."""
    return factor.in_sentence


def _phrase(fw: Framework, key: str) -> str:
    return fw.area(key).in_sentence


def _fw(fw: Framework | None) -> Framework:
    return framework.default() if fw is None else fw


def group_phrase(b: Breakdown | None, label: str, term: str = "") -> str:
    """A group of a breakdown as a sentence reads it, by the breakdown's `phrase` in the
    framework file ("younger service users ({lower})": {label} is the level label, {lower}
    the label in lower case); three phrases are for the first level, the last, any other
    (for ordered breakdowns the first level is the lower one). No phrase: "cases where the
    <breakdown> is <label>"."""
    if b is None:
        return f"cases where {term} is {label}"
    if not b.phrase:
        return f"cases where the {lower_label(b.label)} is {label}"
    spec = b.phrase[0]
    if len(b.phrase) == 3:
        first, last, other = b.phrase
        at = b.labels.index(label) if label in b.labels else -1
        spec = first if at == 0 else last if at == len(b.labels) - 1 else other
    lower = label if label.isupper() else label[:1].lower() + label[1:].lower()
    return spec.format(label=label, lower=lower)


def pct(value: float) -> str:
    return f"{K.whole(value)}%"


def _measure_words(m: Measure) -> tuple[str, str, str]:
    """How a measure reads in a sentence: subject, noun, "more likely" clause."""
    w = m.wording
    return w.finding_subject, w.finding_noun, w.finding_more_likely


# --------------------------------------------------------------------------------------
# Figures 1-4
# --------------------------------------------------------------------------------------


def _published(data: pl.DataFrame) -> list[dict]:
    return [r for r in data.iter_rows(named=True) if K.shown(r)]


def _ev(fig: int, r: dict, column: str = "percent_yes") -> Evidence:
    return Evidence(K.figure_id(fig), r["factor"], column, pct(r[column]))


def _suppressed_note(
    data: pl.DataFrame, min_n: int, fw: Framework | None = None
) -> tuple[str, list[str]]:
    fw = _fw(fw)
    hidden = [r for r in data.iter_rows(named=True) if not K.shown(r)]
    if not hidden:
        return "", []
    by_reason: dict[str, list[str]] = {}
    for r in hidden:
        why = (
            "no applicable cases"
            if r["marker"] == R.MARK_NOT_APPLICABLE
            else K.hidden_reason(r, min_n)
        )
        by_reason.setdefault(why, []).append(_phrase(fw, r["factor"]))
    parts = []
    for why, names in by_reason.items():
        verb = "is" if len(names) == 1 else "are"
        parts.append(f"{_cap(join_words(names))} {verb} not shown: {why}.")
    return " (" + " ".join(parts) + ")", [r["factor"] for r in hidden]


def _priority_finding(
    data: pl.DataFrame, n_cases: int, fw: Framework | None = None
) -> Finding | None:
    fw = _fw(fw)
    if fw.gate is None or not fw.wording.gate_finding:
        return None
    if data["n_priority"].null_count():
        return None  # a count hidden by disclosure control: a ranking would hint at it
    rows = sorted(data.iter_rows(named=True), key=lambda r: (-r["n_priority"], r["factor"]))
    rows = [r for r in rows if r["n_priority"] > 0]
    if not rows or not n_cases:
        return None
    share = [{**r, "priority_percent": 100.0 * r["n_priority"] / n_cases} for r in rows[:3]]
    top = share[0]
    text = fw.wording.gate_finding.format(
        area=_phrase(fw, top["factor"]), pct=pct(top["priority_percent"])
    )
    if len(share) > 1:
        nxt = [f"{_phrase(fw, r['factor'])} ({pct(r['priority_percent'])})" for r in share[1:]]
        text += f"; the next most frequent {'were' if len(nxt) > 1 else 'was'} {join_words(nxt)}"
    fig = fw.measures[0].figure  # the gate counts are in every figure's table; the first's
    ev = tuple(_ev(fig, r, "priority_percent") for r in share)
    return Finding(text + ".", K.figure_id(fig), tuple(r["factor"] for r in share), ev)


def _availability_finding(
    fig: int, data: pl.DataFrame, min_n: int, fw: Framework | None = None
) -> Finding | None:
    """A "threshold" measure's finding: '<subject> in over 80% of applicable cases across
    eight of the ten <areas>, peaking at 90% for <area>; ... least ... <area> (74%).'"""
    fw = _fw(fw)
    plural = fw.wording.area_noun_plural
    pub = _published(data)
    if not pub:
        return None
    m = K.measure_of_figure(fig, fw)
    subject = _measure_words(m)[0]
    k = len(pub)
    # The highest round threshold (90, 80, ..., 50) that at least half the factors exceed.
    threshold = next(
        (t for t in (90, 80, 70, 60, 50) if sum(r["percent_yes"] > t for r in pub) * 2 >= k), None
    )
    hi = max(pub, key=lambda r: r["percent_yes"])
    lo = min(pub, key=lambda r: r["percent_yes"])
    note, hidden = _suppressed_note(data, min_n, fw)
    ev: tuple[Evidence, ...]
    if threshold is None:
        over = []
        text = (
            f"{subject} in no more than half of applicable cases for most {plural}, from "
            f"{pct(lo['percent_yes'])} for {_phrase(fw, lo['factor'])} to "
            f"{pct(hi['percent_yes'])} for {_phrase(fw, hi['factor'])}"
        )
        ev = (_ev(fig, lo), _ev(fig, hi))
    else:
        over = [r for r in pub if r["percent_yes"] > threshold]
        across = "all" if len(over) == k else number_word(len(over))
        text = (
            f"{subject} in over {threshold}% of applicable cases across {across} of the "
            f"{number_word(k)} {plural}, peaking at {pct(hi['percent_yes'])} for "
            f"{_phrase(fw, hi['factor'])}"
        )
        ev = (_ev(fig, hi),)
        if lo["factor"] != hi["factor"]:
            text += f"; the lowest was {_phrase(fw, lo['factor'])} ({pct(lo['percent_yes'])})"
            ev += (_ev(fig, lo),)
    rows = tuple(r["factor"] for r in over) or (lo["factor"], hi["factor"])
    return Finding(text + "." + note, K.figure_id(fig), rows + tuple(hidden), ev)


def _delivery_finding(
    fig: int, data: pl.DataFrame, min_n: int, fw: Framework | None = None
) -> list[Finding]:
    """A "leaders" measure's findings: '... most frequently for <area> (62%), followed by
    <area> (59%).' and '<subject> in under half of applicable cases for six <areas> (47% to
    49%).'"""
    fw = _fw(fw)
    noun, plural = fw.wording.area_noun, fw.wording.area_noun_plural
    pub = _published(data)
    if not pub:
        return []
    m = K.measure_of_figure(fig, fw)
    subject = _measure_words(m)[0]
    order = sorted(pub, key=lambda r: (-r["percent_yes"], r["factor"]))
    out = []
    text = (
        f"{subject} most often for {_phrase(fw, order[0]['factor'])} "
        f"({pct(order[0]['percent_yes'])} of applicable cases)"
    )
    ev = [_ev(fig, order[0])]
    if len(order) > 1:
        text += f", followed by {_phrase(fw, order[1]['factor'])} ({pct(order[1]['percent_yes'])})"
        ev.append(_ev(fig, order[1]))
    out.append(
        Finding(text + ".", K.figure_id(fig), tuple(r["factor"] for r in order[:2]), tuple(ev))
    )
    under = [r for r in pub if r["percent_yes"] < 50]
    note, hidden = _suppressed_note(data, min_n, fw)
    if under:
        lo = min(under, key=lambda r: r["percent_yes"])
        hi = max(under, key=lambda r: r["percent_yes"])
        span = (
            pct(lo["percent_yes"])
            if K.whole(lo["percent_yes"]) == K.whole(hi["percent_yes"])
            else f"{pct(lo['percent_yes'])} to {pct(hi['percent_yes'])}"
        )
        which = noun if len(under) == 1 else plural
        text = (
            f"{subject} in under half of applicable cases for {number_word(len(under))} of the "
            f"{number_word(len(pub))} {which if len(pub) == 1 else plural} ({span})."
        )
        ev = [_ev(fig, lo)] + ([_ev(fig, hi)] if hi is not lo else [])
        out.append(
            Finding(
                text + note,
                K.figure_id(fig),
                tuple(r["factor"] for r in under) + tuple(hidden),
                tuple(ev),
            )
        )
    else:
        lo = order[-1]
        text = (
            f"{subject} in at least half of applicable cases for every {noun}; the lowest was "
            f"{_phrase(fw, lo['factor'])} ({pct(lo['percent_yes'])})."
        )
        out.append(Finding(text + note, K.figure_id(fig), (lo["factor"], *hidden), (_ev(fig, lo),)))
    return out


def _range_finding(
    fig: int, data: pl.DataFrame, min_n: int, fw: Framework | None = None
) -> Finding | None:
    """A "range" measure's finding: '... most likely sufficient for <area> (70%) and least
    likely for <area> (50%).'"""
    fw = _fw(fw)
    pub = _published(data)
    note, hidden = _suppressed_note(data, min_n, fw)
    if not pub:
        if hidden:
            return Finding(
                f"No rate could be published for {K.figure_title(fig, fw).split(':')[0]}." + note,
                K.figure_id(fig),
                tuple(hidden),
            )
        return None
    m = K.measure_of_figure(fig, fw)
    subject = _measure_words(m)[0]
    order = sorted(pub, key=lambda r: (-r["percent_yes"], r["factor"]))
    hi, lo = order[0], order[-1]
    text = (
        f"{subject} most often for {_phrase(fw, hi['factor'])} "
        f"({pct(hi['percent_yes'])} of applicable cases)"
    )
    ev = [_ev(fig, hi)]
    if lo is not hi:
        text += f" and least often for {_phrase(fw, lo['factor'])} ({pct(lo['percent_yes'])})"
        ev.append(_ev(fig, lo))
    return Finding(
        text + "." + note, K.figure_id(fig), (hi["factor"], lo["factor"], *hidden), tuple(ev)
    )


def _compare_contributions(
    figs: dict[int, pl.DataFrame], fw: Framework | None = None
) -> Finding | None:
    """The framework's comparisons of two measures, area by area (the framework
    file's [[comparisons]]); the first that can be made."""
    fw = _fw(fw)
    for cmp in fw.comparisons:
        first, second = fw.measure(cmp.first), fw.measure(cmp.second)
        if first.figure not in figs or second.figure not in figs:
            continue
        a = {r["factor"]: r for r in _published(figs[first.figure])}
        b = {r["factor"]: r for r in _published(figs[second.figure])}
        both = [f.key for f in fw.areas if f.key in a and f.key in b]
        if not both:
            continue
        lower = [k for k in both if a[k]["percent_yes"] < b[k]["percent_yes"]]
        higher = [k for k in both if a[k]["percent_yes"] > b[k]["percent_yes"]]
        n = number_word(len(both))
        if len(lower) > len(higher):
            text, rows = cmp.lower.format(count=number_word(len(lower)), n=n), lower
        elif len(higher) > len(lower):
            text, rows = cmp.higher.format(count=number_word(len(higher)), n=n), higher
        else:
            text, rows = cmp.same.format(count=number_word(len(lower)), n=n), both
        return Finding(
            text,
            K.figure_id(first.figure),
            tuple(rows),
            (),
            also=(K.figure_id(second.figure),),
        )
    return None


# --------------------------------------------------------------------------------------
# Tables 1-2
# --------------------------------------------------------------------------------------


def _protection_findings(protection: pl.DataFrame, fw: Framework | None = None) -> list[Finding]:
    fw = _fw(fw)
    allrows = protection.filter(pl.col("breakdown") == R.ALL)
    out = []
    for topic in allrows["topic"].unique(maintain_order=True).to_list():
        part = [
            r for r in allrows.filter(pl.col("topic") == topic).iter_rows(named=True) if K.shown(r)
        ]
        if not part:
            continue
        bits, ev, tables = [], [], []
        for r in part:
            who = fw.party(r["who"]).label
            tid = K.table_id(r["table"])
            bits.append(f"{pct(r['percent_yes'])} of applicable cases for {who} (n={r['n']:,})")
            ev += [
                Evidence(tid, "all/all", f"{topic}_pct", pct(r["percent_yes"])),
                Evidence(tid, "all/all", f"{topic}_n", f"{r['n']:,}"),
            ]
            tables.append(tid)
        words = fw.topic(topic).finding
        text = f"Inspectors judged that {words} in {join_words(bits)}."
        out.append(Finding(text, tables[0], ("all/all",), tuple(ev), also=tuple(tables[1:])))
    return out


# --------------------------------------------------------------------------------------
# Stepwise differences
# --------------------------------------------------------------------------------------


def _groups_text(r: dict, fw: Framework | None = None) -> tuple[str, tuple[Evidence, ...]]:
    """'NPS 89% vs CRC 81%', higher group first, as the bulletin writes it."""
    key = K.difference_key(r, fw)
    a = (r["level"], r["percent_level"], "percent_level")
    b = (r["reference"], r["percent_reference"], "percent_reference")
    if a[1] is None or b[1] is None:
        return "", ()
    hi, lo = (a, b) if a[1] >= b[1] else (b, a)
    # The percentages are of the model's cases (listwise deletion), not of every applicable
    # case as in Tables 1-2 and the figures: the sentence says which cases it describes.
    text = f"{hi[0]} {pct(hi[1])} vs {lo[0]} {pct(lo[1])}"
    ev: tuple[Evidence, ...] = (
        Evidence(K.DIFFERENCES_ID, key, hi[2], pct(hi[1])),
        Evidence(K.DIFFERENCES_ID, key, lo[2], pct(lo[1])),
    )
    if r.get("n") is not None:
        text += f", of the {r['n']:,} {CASES_IN_MODEL}"
        ev += (Evidence(K.DIFFERENCES_ID, key, "n", f"{r['n']:,}"),)
    return text, ev


# Which cases a stepwise difference's percentages describe (the model's, after listwise
# deletion), so they are not mistaken for the all-cases rates of Tables 1-2.
CASES_IN_MODEL = "cases with every characteristic recorded"


def _more_likely(r: dict) -> tuple[str, str]:
    """(group more likely, group less likely) from the adjusted odds ratio."""
    return (r["level"], r["reference"]) if r["odds_ratio"] > 1 else (r["reference"], r["level"])


def _difference_findings(
    findings: pl.DataFrame,
    min_n: int,
    adjust: tuple[str, int] = ("none", 0),
    n_clusters: int = 0,
    family: pl.DataFrame | None = None,
    fw: Framework | None = None,
) -> list[Finding]:
    fw = _fw(fw)
    sig = K.significant(findings)
    targets = K.target_index(fw)
    # The lead breakdown's differences are reported first, per measure (qi-2016: provider).
    lead = fw.wording.lead_breakdown
    provider = fw.breakdown(lead) if lead else None
    out: list[Finding] = []
    rows = list(sig.iter_rows(named=True))

    def small(r):
        return min(r["n_level"] or 0, r["n_reference"] or 0) < min_n

    def describe(r) -> tuple[str, tuple[Evidence, ...]]:
        if small(r):
            return "", ()
        return _groups_text(r, fw)

    prov_pair = (
        f"{provider.labels[-1]} and {provider.labels[0]}"
        if provider is not None and provider.labels
        else ""
    )
    lead_column = provider.column if provider is not None else None
    modelled = set(findings["model"].to_list())
    for m in fw.measures:
        noun = _measure_words(m)[1]
        mine = [r for r in rows if targets.get(r["model"]) and targets[r["model"]].measure == m.key]
        prov = [r for r in mine if r["term"] == lead_column]
        ran = any(t.measure == m.key and t.model in modelled for t in targets.values())
        if not ran:
            continue
        if provider is None:
            pass
        elif not prov:
            out.append(
                _no_difference_finding(
                    [t for t in targets.values() if t.measure == m.key and t.model in modelled],
                    provider.column,
                    prov_pair,
                    noun,
                    min_n,
                    family,
                    fw,
                )
            )
        else:
            parts: list[str] = []
            evs: list[Evidence] = []
            for r in prov:
                g, e = describe(r)
                fname = _phrase(fw, targets[r["model"]].factor)
                parts.append(f"{fname} ({g})" if g else f"{fname} (groups too small to quote)")
                evs += e
            if len(prov) == 1:
                text = (
                    f"The only significant difference between {prov_pair} cases for {noun} was for "
                    f"{parts[0]}."
                )
            else:
                text = (
                    f"Significant differences between {prov_pair} cases for {noun} were found for "
                    f"{join_words(parts)}."
                )
            out.append(
                Finding(
                    text,
                    K.DIFFERENCES_ID,
                    tuple(K.difference_key(r, fw) for r in prov),
                    tuple(evs),
                    headline=True,  # a candidate: `key_findings` picks the headlines
                )
            )
        # Other variables: grouped by variable and by which group was more likely.
        groups: dict[tuple, list[dict]] = {}
        for r in mine:
            if r["term"] == lead_column:
                continue
            groups.setdefault((r["term"], *_more_likely(r)), []).append(r)
        for (term, more, less), rs in groups.items():
            b = fw.breakdown_for_column(term)
            factors = join_words([_phrase(fw, targets[r["model"]].factor) for r in rs])
            phrase = _measure_words(m)[2]
            count = (
                f"{number_word(len(rs))} "
                f"{fw.wording.area_noun if len(rs) == 1 else fw.wording.area_noun_plural}"
            )
            text = (
                f"After accounting for the other variables, {phrase} for "
                f"{group_phrase(b, more, term)} than for {group_phrase(b, less, term)}, "
                f"for {count}: {factors}."
            )
            ev: tuple[Evidence, ...] = ()
            if len(rs) == 1:
                g, ev = describe(rs[0])
                if g:
                    text = text[:-1] + f" ({g})."
            out.append(
                Finding(
                    _cap(text), K.DIFFERENCES_ID, tuple(K.difference_key(r, fw) for r in rs), ev
                )
            )
    # The case-level questions (Tables 1 and 2).
    for q in fw.questions:
        for r in rows:
            t = targets.get(r["model"])
            if not t or t.question != q.key:
                continue
            b = fw.breakdown_for_column(r["term"])
            more, less = _more_likely(r)
            g, ev = describe(r)
            who = fw.party(q.who).label
            words = fw.topic(q.topic).finding
            text = (
                f"For {who}, the judgement that {words} was more likely for "
                f"{group_phrase(b, more, r['term'])} than for {group_phrase(b, less, r['term'])}, "
                "after accounting for the other variables" + (f" ({g})." if g else ".")
            )
            out.append(
                Finding(
                    text,
                    K.DIFFERENCES_ID,
                    (K.difference_key(r, fw),),
                    ev,
                    also=(K.table_id(q.table),),
                )
            )
    if "p_adjusted" in findings.columns and rows:
        out.append(_adjusted_finding(rows, *adjust, fw=fw))
    if "survives_clustering" in findings.columns and rows:
        out.append(_clustering_finding(rows, n_clusters, fw))
    return out


def _no_difference_finding(
    models: list,
    column: str,
    pair: str,
    noun: str,
    min_n: int,
    family: pl.DataFrame | None,
    fw: Framework | None = None,
) -> Finding:
    """'No significant differences' only for the models where each group had at least
    `min_n` cases and MIN_GROUP_EVENTS yes and no answers (stepwise.samplesize); the others
    are named as comparisons that were not possible."""
    from hmip_cli.stepwise.samplesize import MIN_GROUP_EVENTS

    fw = _fw(fw)
    noun_1, plural = fw.wording.area_noun, fw.wording.area_noun_plural
    keys = tuple(t.model for t in models)
    ok: list = []
    short: list = []
    if family is None:
        ok = list(models)
    else:
        counts = {
            r["model"]: r for r in family.filter(pl.col("term") == column).iter_rows(named=True)
        }
        for t in models:
            r = counts.get(t.model)
            enough = (
                r is not None
                and r["p"] is not None
                and (r["min_group_n"] or 0) >= min_n
                and (r["min_group_events"] or 0) >= MIN_GROUP_EVENTS
            )
            (ok if enough else short).append(t)
    rule = (
        f"each group had at least {min_n} cases and at least {MIN_GROUP_EVENTS} yes and "
        f"{MIN_GROUP_EVENTS} no answers"
    )
    if not short:
        text = (
            f"After accounting for the other variables, there were no significant differences "
            f"between {pair} cases for {noun}."
        )
    elif not ok:
        text = (
            f"A comparison between {pair} cases for {noun} was not possible: for no {noun_1} "
            f"did {rule.replace('each group had', 'each group have')}."
        )
    else:
        names = join_words([_phrase(fw, t.factor) for t in short])
        text = (
            f"After accounting for the other variables, there were no significant differences "
            f"between {pair} cases for {noun} for the {number_word(len(ok))} "
            f"{noun_1 if len(ok) == 1 else plural} where {rule}; for {names} the comparison was not "
            "possible (too few cases)."
        )
    return Finding(text, K.MODELS_ID, keys)


def _clustering_finding(rows: list[dict], n_clusters: int, fw: Framework | None = None) -> Finding:
    """How many of the significant differences survive cluster-robust standard errors."""
    from hmip_cli.stepwise.adjust import ALPHA
    from hmip_cli.stepwise.robust import MIN_CLUSTERS

    sig = {(r["model"], r["term"]): r for r in rows if r["p"] is not None and r["p"] < ALPHA}
    kept = [r for r in sig.values() if r["survives_clustering"]]
    n, k = len(sig), len(kept)
    survive = (
        f"all {number_word(n)} significant differences remain"
        if k == n
        else f"{number_word(k)} of the {number_word(n)} significant differences remain"
    )
    text = (
        f"Allowing for cases within an inspection being alike (cluster-robust standard errors), "
        f"{survive} significant at the {ALPHA:.0%} level"
    )
    if n_clusters < MIN_CLUSTERS:
        text += (
            f"; with only {number_word(n_clusters)} inspections this check is indicative "
            "(robust standard errors tend to be too small with few clusters)"
        )
    return Finding(text + ".", K.DIFFERENCES_ID, tuple(K.difference_key(r, fw) for r in kept))


def _adjusted_finding(
    rows: list[dict], method: str, n_tests: int, fw: Framework | None = None
) -> Finding:
    """How many of the significant differences survive the multiple-testing adjustment over
    the whole family (every model x every candidate)."""
    from hmip_cli.stepwise.adjust import ALPHA, METHODS

    sig = [r for r in rows if r["p"] is not None and r["p"] < ALPHA]
    kept = [r for r in sig if r["p_adjusted"] is not None and r["p_adjusted"] < ALPHA]
    terms = {(r["model"], r["term"]) for r in sig}
    kept_terms = {(r["model"], r["term"]) for r in kept}
    what = "false discovery rate" if method == "bh" else "family-wise error rate"
    n, k = len(terms), len(kept_terms)
    survive = (
        f"all {number_word(n)} significant differences remain"
        if k == n
        else f"{number_word(k)} of the {number_word(n)} significant differences remain"
    )
    return Finding(
        f"After adjusting for the {n_tests:,} tests across every model and variable "
        f"({METHODS.get(method, method)}, controlling the {what}), {survive} significant at the "
        f"{ALPHA:.0%} level.",
        K.DIFFERENCES_ID,
        tuple(K.difference_key(r, fw) for r in kept),
    )


# --------------------------------------------------------------------------------------
# All together
# --------------------------------------------------------------------------------------


def _profile_finding(profile: pl.DataFrame, fw: Framework | None = None) -> Finding | None:
    fw = _fw(fw)
    part = {
        r["characteristic"]: r
        for r in profile.filter(pl.col("breakdown") == R.ALL).iter_rows(named=True)
    }
    chars = R.characteristics(fw)
    total = part.get(chars[0].key)
    if total is None:
        return None
    text = f"The findings are based on {total['n']:,} case assessments"
    ev = [Evidence(K.SAMPLE_ID, chars[0].key, "n", f"{total['n']:,}")]
    provs = [
        c
        for c in chars
        if c.breakdown
        and c.breakdown == fw.wording.lead_breakdown
        and c.key in part
        and part[c.key]["base"]
    ]
    if provs:
        bits = []
        for c in provs:
            r = part[c.key]
            bits.append(f"{r['n']:,} {c.short or c.label} cases ({pct(r['percent'])})")
            ev += [
                Evidence(K.SAMPLE_ID, c.key, "n", f"{r['n']:,}"),
                Evidence(K.SAMPLE_ID, c.key, "percent", pct(r["percent"])),
            ]
        text += ": " + join_words(bits)
    return Finding(text + ".", K.SAMPLE_ID, tuple(e.row for e in ev), tuple(ev))


def key_findings(
    results: R.BulletinResults,
    findings: pl.DataFrame,
    *,
    profile: pl.DataFrame | None = None,
    min_n: int = R.DEFAULT_MIN_N,
    adjust: tuple[str, int] = ("none", 0),
    n_clusters: int = 0,
    family: pl.DataFrame | None = None,
    fw: Framework | None = None,
) -> list[Finding]:
    """The report's key findings: about six headlines first (`headline=True`: each measure's
    headline, the comparisons, the case-level questions, the lead breakdown's differences), then the detail in the bulletin's order: the sample (if `profile` is
    given), priorities, Figures 1-4, Tables 1-2, then the significant subgroup differences
    from the stepwise `findings` (the frame `stepwise.sweep()` returns). `adjust`: (method,
    number of tests in the family) when `findings` has `p_adjusted`."""
    fw = _fw(fw)
    out: list[Finding | None] = []
    lead: list[Finding | None] = []  # headline candidates, most important first
    figs = {m.figure: K.figure_data(results.rates, m.figure) for m in fw.measures}
    n_cases = None
    if profile is not None:
        out.append(_profile_finding(profile, fw))
        allc = profile.filter(
            (pl.col("breakdown") == R.ALL)
            & (pl.col("characteristic") == R.characteristics(fw)[0].key)
        )
        n_cases = int(allc["n"][0]) if allc.height else None
    first = fw.measures[0].figure if fw.measures else None
    if first in figs and n_cases:
        out.append(_priority_finding(figs[first], n_cases, fw))
    fill: list[Finding | None] = []  # headlines only if fewer than HEADLINES are found
    for m in fw.measures:
        data = figs[m.figure]
        style = m.wording.key_finding
        if style == "threshold":
            f = _availability_finding(m.figure, data, min_n, fw)
            out.append(f)
            lead.append(f)
        elif style == "leaders":
            fs = _delivery_finding(m.figure, data, min_n, fw)
            out.extend(fs)
            lead.extend(fs[1:])  # "under half of applicable cases for six factors"
            fill.extend(fs[:1])
        else:
            f = _range_finding(m.figure, data, min_n, fw)
            out.append(f)
            fill.append(f)
    compare = _compare_contributions(figs, fw)
    out.append(compare)
    lead.append(compare)
    prot = _protection_findings(results.protection, fw)
    out.extend(prot)
    lead.extend(prot)
    diffs = _difference_findings(findings, min_n, adjust, n_clusters, family, fw)
    out.extend(diffs)
    lead.extend(f for f in diffs if f.headline)
    return _headlines_first([f for f in out if f is not None], [*lead, *fill])


# How many findings lead the report, as a bulletin's summary does ("about six").
HEADLINES = 6


def _headlines_first(found: list[Finding], candidates: list[Finding | None]) -> list[Finding]:
    """The first HEADLINES candidates (in the report's order) marked `headline`, first; then
    every other finding, as detail, in the report's order."""
    import dataclasses

    chosen: list[int] = []
    for c in candidates:
        if c is None or len(chosen) == HEADLINES:
            continue
        i = next((i for i, f in enumerate(found) if f is c), None)
        if i is not None and i not in chosen:
            chosen.append(i)
    top = [dataclasses.replace(found[i], headline=True) for i in sorted(chosen)]
    rest = [dataclasses.replace(f, headline=False) for i, f in enumerate(found) if i not in chosen]
    return top + rest
