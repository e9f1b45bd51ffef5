"""Helpers for the ingest and store tests: small valid case frames built from the schema.

(Named test_ingest_* so it sits with the tests it serves; it holds no tests itself.)
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from hmip_cli import schema


def make_cases(
    n: int, seed: int = 0, prefix: str = "C", inspection: str | None = None
) -> pl.DataFrame:
    """n valid cases in the stored schema (no derived columns), deterministic in `seed`."""
    rng = random.Random(seed)
    rows = []
    areas = ["Durham", "Cumbria", "Bristol"]
    for i in range(n):
        row: dict = {c.name: None for c in schema.COLUMNS}
        score = rng.choice([None, rng.randint(0, 99)])
        row.update(
            case_id=f"{prefix}{seed}-{i:05d}",
            inspection=inspection or rng.choice(areas),
            inspection_date=date(2016, 3, 1) + timedelta(days=rng.randint(0, 600)),
            provider=rng.choice(["CRC", "NPS"]),
            gender=rng.choice(["male", "female", None]),
            age=rng.randint(18, 80),
            ethnicity=rng.choice(["white", "black", "asian", "mixed", "other", None]),
            supervision=rng.choice(["community", "post_custody"]),
            ogrs_score=score,
            ogrs_band=None if score is None else schema_band(score),
            rosh=rng.choice(["low", "medium", "high", "very_high", None]),
            mappa=rng.choice([True, False, None]),
            notes=rng.choice([None, 'seen twice, "quoted", with comma', "café ünïcode"]),
        )
        priorities = set(
            rng.sample(range(len(schema.FACTORS)), rng.randint(0, schema.MAX_PRIORITIES))
        )
        for k, f in enumerate(schema.FACTORS):
            is_p = k in priorities
            row[schema.priority_column(f)] = is_p
            for m in schema.MEASURES:
                if is_p and (not m.requires_involvement or rng.random() < 0.5):
                    row[schema.judgement_column(f, m)] = rng.random() < 0.6
        for q in schema.QUESTIONS:
            row[q.column] = rng.choice([True, False, None])
        rows.append(row)
    return pl.DataFrame(rows, schema=schema.stored_schema())


def schema_band(score: int) -> str:
    return pl.select(schema.ogrs_band_expr(pl.lit(score))).item()


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as a spreadsheet user would type it: yes/no, ISO dates, blanks."""
    exprs = []
    for name, dtype in frame.schema.items():
        e = pl.col(name)
        if dtype == pl.Boolean:
            e = pl.when(e).then(pl.lit("yes")).when(~e).then(pl.lit("no"))
        exprs.append(e.cast(pl.String).alias(name))
    return frame.select(exprs)


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    as_text(frame).write_csv(path)
    return path


def digest(path: Path) -> str:
    """sha256 of every file in a store directory (to prove it is byte-for-byte unchanged)."""
    h = hashlib.sha256()
    for p in sorted(Path(path).rglob("*")):
        if p.is_file() and p.name != ".lock":
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


# Distinctive ids and notes, planted so a test can assert they never reach a message.
SECRET_ID = "ZQXID"  # every planted id starts with this
LONG_NOTE = "ZQXNOTE about a named person and long enough to be free text"
SHORT_NOTE = "ZQXN ok"  # a short note: quotable by length, but it is a note in the file
SECRETS = (SECRET_ID, "ZQXNOTE", "ZQXN")


def planted(n: int = 8, seed: int = 5) -> pl.DataFrame:
    """n valid cases as text, with distinctive ids and notes (long and short, no commas)."""
    text = as_text(make_cases(n, seed=seed))
    return text.with_columns(
        case_id=pl.format(SECRET_ID + "-{}", pl.int_range(pl.len())),
        notes=pl.when(pl.int_range(pl.len()) % 2 == 0)
        .then(pl.lit(LONG_NOTE))
        .otherwise(pl.lit(SHORT_NOTE)),
    )
