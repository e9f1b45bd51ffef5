"""Case frames for the rates/protection/sample tests and the rates benchmark.

`random_cases` builds cases in the stored schema (schema.stored_schema()) with the
schema's applicability rules respected: judgements are null unless the factor is a
priority, contribution judgements and the case-level questions are null where that kind
of organisation was not involved. `exact_cases` builds cases from per-case attribute
dicts, for tests whose correct tables are known by construction.

(Named test_*.py only so it sits among the test files this part owns; it holds no tests
of its own apart from a sanity check of the generator.)
"""

from __future__ import annotations

import numpy as np
import polars as pl

from hmip_cli import schema

INSPECTIONS = (
    "Durham",
    "Cumbria",
    "Essex",
    "Gwent",
    "Hampshire",
    "Humberside",
    "Kent",
    "Lancashire",
    "Leicestershire",
    "Merseyside",
    "North Yorkshire",
    "Surrey",
    "West Midlands",
    "West Yorkshire",
)


def _enum(codes: np.ndarray, levels) -> pl.Series:
    """Integer codes (-1 = null) to an Enum/String series."""
    s = pl.Series(codes.astype(np.int32))
    mapping = dict(enumerate(levels))
    return s.replace_strict(mapping, default=None, return_dtype=pl.String)


def _bool(codes: np.ndarray) -> pl.Series:
    s = pl.Series(codes.astype(np.int8))
    return pl.select(pl.when(s >= 0).then(s == 1)).to_series()


def random_cases(n: int, seed: int = 0, missing: float = 0.03) -> pl.DataFrame:
    """n random cases in the stored schema; `missing` is the share of unknown attributes."""
    rng = np.random.default_rng(seed)

    def cat(levels, p=None, miss=missing):
        codes = rng.choice(len(levels), size=n, p=p)
        codes[rng.random(n) < miss] = -1
        return _enum(codes, levels)

    cols: dict[str, pl.Series] = {}
    cols["case_id"] = (
        pl.Series([f"C{i:07d}" for i in range(n)])
        if n <= 200_000
        else pl.select(pl.format("C{}", pl.int_range(n))).to_series()
    )
    cols["inspection"] = cat(INSPECTIONS, miss=0.0)
    cols["inspection_date"] = pl.Series([None] * n, dtype=pl.Date)
    cols["provider"] = cat(("CRC", "NPS"), p=(0.63, 0.37), miss=0.0)
    cols["gender"] = cat(("male", "female"), p=(0.85, 0.15))
    age = rng.integers(18, 70, size=n).astype(np.int32)
    cols["age"] = pl.Series(np.where(rng.random(n) < missing, -1, age)).replace(-1, None)
    cols["ethnicity"] = cat(
        ("white", "mixed", "asian", "black", "other", "bame"), p=(0.8, 0.04, 0.06, 0.05, 0.02, 0.03)
    )
    cols["supervision"] = cat(("community", "post_custody"), p=(0.53, 0.47))
    score = rng.integers(0, 100, size=n).astype(np.int32)
    score_missing = rng.random(n) < missing
    cols["ogrs_score"] = pl.Series(np.where(score_missing, -1, score)).replace(-1, None)
    # Where the score is unknown the band is sometimes still recorded.
    band_codes = rng.choice(4, size=n)
    band_codes[~score_missing | (rng.random(n) < 0.5)] = -1
    cols["ogrs_band"] = _enum(band_codes, ("low", "medium", "high", "very_high"))
    cols["rosh"] = cat(("low", "medium", "high", "very_high"), p=(0.3, 0.53, 0.15, 0.02))
    mappa = (rng.random(n) < 0.25).astype(np.int8)
    mappa[rng.random(n) < missing] = -1
    cols["mappa"] = _bool(mappa)
    cols["notes"] = pl.Series([None] * n, dtype=pl.String)
    # Up to MAX_PRIORITIES priorities per case, later factors more often (weighted
    # sampling without replacement: the k largest of u ** (1 / weight)).
    n_f = len(schema.FACTORS)
    weights = 1.0 + np.arange(n_f) / 3
    scores = rng.random((n, n_f)) ** (1.0 / weights)
    ranks = np.argsort(np.argsort(-scores, axis=1), axis=1)
    k = rng.integers(0, schema.MAX_PRIORITIES + 1, size=n)
    priorities = ranks < k[:, None]
    for fi, f in enumerate(schema.FACTORS):
        prio = priorities[:, fi]
        cols[schema.priority_column(f)] = pl.Series(prio)
        for mi, m in enumerate(schema.MEASURES):
            yes = (rng.random(n) < (0.45 + 0.04 * mi + 0.02 * fi)).astype(np.int8)
            applicable = prio.copy()
            if m.requires_involvement:
                applicable &= rng.random(n) < 0.3
            cols[schema.judgement_column(f, m)] = _bool(np.where(applicable, yes, -1))
    for q in schema.QUESTIONS:
        involved = rng.random(n) < 0.3
        yes = (rng.random(n) < 0.68).astype(np.int8)
        cols[q.column] = _bool(np.where(involved, yes, -1))
    return pl.DataFrame(cols).cast(dict(schema.stored_schema()))


def exact_cases(records: list[dict]) -> pl.DataFrame:
    """Cases from dicts of column -> value; unspecified columns are null/False.

    Priority columns default to False; everything else to null. `case_id` is numbered.
    """
    base = {c.name: (False if c.kind == "priority" else None) for c in schema.COLUMNS}
    rows = []
    for i, rec in enumerate(records):
        row = dict(base)
        row["case_id"] = f"T{i:05d}"
        row.setdefault("inspection", "Testshire")
        row["inspection"] = "Testshire"
        row["provider"] = "CRC"
        row.update(rec)
        rows.append(row)
    return (
        pl.DataFrame(rows, schema=schema.stored_schema(), orient="row")
        if rows
        else pl.DataFrame(schema=schema.stored_schema())
    )


def test_random_cases_follow_the_schema():
    df = random_cases(500, seed=3)
    assert df.schema == schema.stored_schema()
    for f in schema.FACTORS:
        for m in schema.MEASURES:
            bad = df.filter(
                ~pl.col(schema.priority_column(f))
                & pl.col(schema.judgement_column(f, m)).is_not_null()
            )
            assert bad.height == 0
    assert schema.with_derived(df)["n_priorities"].max() <= schema.MAX_PRIORITIES
