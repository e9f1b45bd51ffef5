"""Disclosure control across the whole report: an attacker who sees every published cell of
every table (and so every chart and sentence, which only show table cells) tries to work
out each suppressed count by adding and subtracting published counts, and fails.

The attack is linear algebra over the cases: each count is the indicator vector of the
cases it counts; a suppressed count is recoverable exactly when its vector lies in the row
space of the published cells' vectors. The published cells are read from the report's
tables (what a reader sees), not from the disclosure module's own bookkeeping, and the
attack uses numpy's least squares, not the module's SVD.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_report_support import fixture_cases, report_for, shared_report

from hmip_cli import rates as R
from hmip_cli import schema
from hmip_cli.report import content as C
from hmip_cli.report.disclosure import POLICIES, check_policy


@pytest.fixture(scope="module")
def rep():
    return shared_report()  # default policy: threshold-10


def _shown(rep, cell):
    """(table id, row key, column key, how it converts to a count) of a system cell."""
    src, key, col = cell.source, cell.key, cell.column
    if src == "rates":
        f, m = key
        if m == "priority":
            fig = next(n for n in rep.figures)
            for n in sorted(rep.figures):
                if f in rep.table(C.figure_id(n)).keys:
                    fig = n
                    break
            return C.figure_id(fig), f, "n_priority", None
        fig = schema.get_measure(m).figure
        return C.figure_id(fig), f, col, None
    if src == "protection":
        q, b, g = key
        question = next(x for x in schema.QUESTIONS if x.key == q)
        if col == "n":
            return C.table_id(question.table), f"{b}/{g}", f"{question.topic}_n", None
        return (
            C.table_id(question.table),
            f"{b}/{g}",
            f"{question.topic}_pct",
            f"{question.topic}_n",
        )
    if src == "profile":
        return C.SAMPLE_ID, key[0], col, None
    if src == "models":
        return C.MODELS_ID, key[0], col, None
    diff_key, side = key
    if col == "n":
        return C.DIFFERENCES_ID, diff_key, f"n_{side}", None
    return C.DIFFERENCES_ID, diff_key, f"percent_{side}", f"n_{side}"


def published_view(rep):
    """For every count in the disclosure system: what the report shows (a count, or None
    where it shows [c]). A percentage with its n is turned back into the yes count."""
    out = []
    for cell in rep.disclosure.system.cells:
        table, row, column, n_column = _shown(rep, cell)
        t = rep.table(table)
        value = t.row(row)[column]
        if value == R.MARK_SUPPRESSED:
            out.append(None)
        elif n_column is not None:  # a percentage: yes = pct * n / 100 (exact for n < 1000)
            n = t.row(row)[n_column]
            out.append(None if n == R.MARK_SUPPRESSED else int(round(value * n / 100.0)))
        else:
            assert isinstance(value, int), (cell.label, value)
            out.append(value)
    return out


def attack(matrix: np.ndarray, published: np.ndarray) -> list[int]:
    """Indices of hidden cells recoverable from the published ones (numpy least squares)."""
    from threadpoolctl import threadpool_limits

    p = matrix[published]
    # cells with no cases have a zero vector (trivially in every span): see disclosure.protect
    hidden = np.flatnonzero(~published & matrix.any(axis=1))
    with threadpool_limits(limits=1):  # small solves: BLAS threads only slow them down
        lam, *_ = np.linalg.lstsq(p.T, matrix[hidden].T, rcond=None)
        resid = np.abs(p.T @ lam - matrix[hidden].T).max(axis=0)
    return [int(i) for i, r in zip(hidden, resid) if r < 1e-6]


@pytest.mark.slow
def test_no_suppressed_cell_can_be_recovered_under_threshold_10(rep):
    d = rep.disclosure
    assert d.policy == "threshold-10" and d.audit
    shown = published_view(rep)
    system = d.system
    # The system is what the report publishes: every count it shows equals the number of
    # cases its vector counts, and every [c] is a cell the system hides.
    for cell, value, pub in zip(system.cells, shown, d.published):
        if value is None:
            assert not pub, cell.label
        else:
            assert pub and value == cell.value, (cell.label, value, cell.value)
    published = np.array([v is not None for v in shown])
    primary = sum(e.reason == "primary" for e in d.audit)
    assert (~published).sum() > primary + 10  # complements were needed: real work was done
    assert attack(system.matrix, published) == []


def row_space(matrix: np.ndarray) -> np.ndarray:
    """The cells in coordinates of their row space: the same linear relations, fewer
    columns (so many attacks stay cheap)."""
    u, sv, _ = np.linalg.svd(matrix, full_matrices=False)
    rank = int((sv > sv[0] * max(matrix.shape) * np.finfo(float).eps).sum())
    return u[:, :rank] * sv[:rank]


@pytest.mark.slow
def test_every_complement_is_needed(rep):
    """Least cost: no complementary cell is hidden for nothing. Showing any one of them
    (with the cells showing the same count) lets the attack recover a suppressed cell.
    (The greedy this replaced left such cells hidden: 114 of 379 counts on this data.)"""
    from threadpoolctl import threadpool_limits

    d = rep.disclosure
    m = d.system.matrix
    with threadpool_limits(limits=1):
        basis = row_space(m)
    labels = {e.cell for e in d.audit if e.reason == "secondary"}
    complements = [i for i, c in enumerate(d.system.cells) if c.label in labels]
    assert len(complements) >= 10
    for i in complements:
        trial = d.published.copy()
        trial[(m == m[i]).all(axis=1)] = True
        assert attack(basis, trial), d.system.cells[i].label


def test_least_cost_keeps_the_large_figures(rep):
    """Complements are the smallest counts: every all-cases rate of Tables 1-2 whose own
    counts pass the rules is published, with the key finding quoting it (the old greedy hid
    "66% of applicable cases for contracted providers (n=136)"), and far fewer counts are
    hidden than the 114 of 379 the greedy hid."""
    d = rep.disclosure
    for t in (rep.table("table-1"), rep.table("table-2")):
        row = t.row(f"{R.ALL}/{R.ALL}")
        for c in t.columns:
            if c.key.endswith(("_n", "_pct")):
                assert row[c.key] != R.MARK_SUPPRESSED, (t.id, c.key)
    text = " ".join(f.text for f in rep.key_findings)
    assert "in reviewing the work in 66% of applicable cases for contracted providers (n=136)" in (
        text
    )
    assert int((~d.published).sum()) <= 55


@pytest.mark.slow
def test_the_attack_works_on_within_table_suppression(rep):
    """Not a hollow checker: with only the primary cells hidden (what suppression within
    one breakdown amounted to), the attack recovers some of them."""
    from hmip_cli.report.disclosure import _primary

    d = rep.disclosure
    primary = _primary(d.system, set(), 10, 30, True)
    published = np.ones(len(d.system.cells), dtype=bool)
    published[list(primary)] = False
    recovered = attack(d.system.matrix, published)
    assert recovered, "the attack should recover a primary-only suppression"


def test_the_gender_by_provider_style_difference_attack_is_blocked(rep):
    """The issue's example: a group total minus its other groups. For every breakdown of
    Tables 1-2 with a hidden group, the group cannot be had from all-cases minus the rest."""
    d = rep.disclosure
    for t in (rep.table("table-1"), rep.table("table-2")):
        by_b: dict[str, list[str]] = {}
        for key in t.keys:
            b, _ = key.split("/", 1)
            by_b.setdefault(b, []).append(key)
        for b, keys in by_b.items():
            if b == R.ALL:
                continue
            for col in [c.key for c in t.columns if c.key.endswith("_n")]:
                hidden = [k for k in keys if t.row(k)[col] == R.MARK_SUPPRESSED]
                assert len(hidden) != 1, (t.id, b, col)  # never one alone in a breakdown
    assert d.to_dict()["secondary"] > 0


def test_key_findings_quote_no_suppressed_cell(rep):
    for f in rep.key_findings:
        for e in f.evidence:
            value = rep.table(e.table).row(e.row)[e.column]
            assert value != R.MARK_SUPPRESSED, (f.text, e)


def test_audit_log_names_cells_and_rules_never_values(rep, tmp_path):
    from hmip_cli.report.write import write_report

    files = write_report(rep, tmp_path / "r.html")
    audit = tmp_path / "r.disclosure-audit.csv"
    assert audit in files
    text = audit.read_text()
    assert text.splitlines()[0] == "cell,reason,rule"
    assert "threshold-10" in text and "complementary" in text
    assert len(text.splitlines()) == len(rep.disclosure.audit) + 1


def test_policies_and_none():
    assert set(POLICIES) == {"threshold-10", "threshold-5", "none"}
    from hmip_cli.errors import BadRequest

    with pytest.raises(BadRequest, match="threshold-10"):
        check_policy("threshold-7")
    rep = report_for(disclosure="none")
    assert not any(e.rule.startswith("threshold") for e in rep.disclosure.audit)
    assert dataclasses.asdict(rep.params)["disclosure"] == "none"


def test_disclosure_none_needs_no_linked_system(monkeypatch):
    """--disclosure none with nothing hidden for reliability builds no linked system (at 10M
    cases, 6.4M patterns: minutes of work for nothing). Found by the 10M bench, when the
    check still refused so many patterns: the refusal came even with --disclosure none."""
    from hmip_cli.report import disclosure as D

    monkeypatch.setattr(D, "MAX_ATOMS", 1)  # every store is now "too large"
    rep = report_for(disclosure="none", min_n=1, suppress=False)
    assert rep.disclosure.policy == "none" and not rep.disclosure.hidden
    assert rep.disclosure.system is None


def test_too_many_patterns_for_the_dense_check_give_the_same_protection(rep, monkeypatch):
    """Past MAX_ATOMS case patterns (a 10M-case store has 6.4 million) the linked check works
    on the cells' Gram matrix G, summed in blocks over the distinct patterns of the columns
    the cells read, as a cells x rank matrix R with R R^T = G: the same span and linear
    relations between cells as the dense matrix M, so the same cells are hidden for the
    same reasons, and the attack on M recovers none of them."""
    from threadpoolctl import threadpool_limits

    from hmip_cli.report import disclosure as D

    # The published report's cells of Tables 1-2, the profile and the differences (the
    # rates' too would only make the test slower), either way.
    pairs = D.cells_and_masks(rep.results, rep.profile, rep.findings, rep.params)
    pairs = [p for p in pairs if p[0].source in ("protection", "profile", "differences")]
    cases = schema.with_derived(fixture_cases()).drop("case_id", "notes")
    dense = D.build_system(cases, pairs)
    monkeypatch.setattr(D, "MAX_ATOMS", 1)
    monkeypatch.setattr(D, "_GRAM_BATCH", 300)  # several blocks
    gram = D.build_system(cases, pairs)
    m = dense.matrix
    # G = M D M^T (D: the patterns of each atom), R R^T = G: R spans what M spans.
    rank = np.linalg.matrix_rank(m)
    assert dense.gram is None and gram.gram is not None and rank < m.shape[1]
    assert gram.matrix.shape[1] == np.linalg.matrix_rank(np.hstack([m, gram.matrix])) == rank
    assert np.allclose(gram.matrix @ gram.matrix.T, gram.gram, rtol=0, atol=1e-8)
    assert np.array_equal(np.diag(gram.gram) > 0, m.any(axis=1))
    assert [c.value for c in gram.cells] == [c.value for c in dense.cells]
    assert np.array_equal(gram.row_class, dense.row_class)
    assert np.array_equal(gram.nonzero, dense.nonzero)
    rule = (set(), 10, rep.params.min_n, rep.params.suppress)
    primary = D._primary(dense, *rule)
    assert len(primary) > 10 and D._primary(gram, *rule) == primary
    with threadpool_limits(limits=1):  # as `control` runs it
        published, audit = D.protect(gram, primary)
        expected, expected_audit = D.protect(dense, primary)
    assert np.array_equal(published, expected) and audit == expected_audit
    assert sum(e.reason == "secondary" for e in audit) >= 5  # complements were needed
    assert attack(m, published) == []


def test_the_number_of_cases_is_never_a_complement_and_too_few_cases_are_refused():
    # 8 cases (5 CRC, 3 NPS): hiding the 3 NPS cases, the cheapest complement used to be the
    # all-cases count (8), which the provenance states anyway; the report then crashed on
    # it (int(None)). Now the total is published, other cells protect the 3, and the
    # attack recovers nothing. Fewer cases than --min-n or the threshold: refused.
    from hmip_cli.errors import BadRequest

    frame = fixture_cases()
    crc = frame.filter(frame["provider"].cast(str) == "CRC").head(5)
    nps = frame.filter(frame["provider"].cast(str) == "NPS").head(3)
    small = crc.vstack(nps)
    rep = report_for(small, disclosure="threshold-5", min_n=5)
    assert rep.table(C.SAMPLE_ID).row("all_cases")["n"] == 8
    published = np.array([v is not None for v in published_view(rep)])
    assert (~published).any()  # the 3 NPS cases are hidden, and protected:
    assert attack(rep.disclosure.system.matrix, published) == []
    with pytest.raises(BadRequest, match="only 8 cases in the store, fewer than the disclos"):
        report_for(small, disclosure="threshold-10", min_n=5)
    # Fewer cases than --min-n alone: a report (every rate marked), the total shown.
    few = report_for(small, disclosure="none", min_n=30)
    assert few.table(C.SAMPLE_ID).row("all_cases")["n"] == 8
