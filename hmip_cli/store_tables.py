"""What is in the store, as tables (`hmip info`): the store summary, cases per inspection
(and lead group), the files ingested with their provenance, and the files removed."""

from __future__ import annotations

import polars as pl

from hmip_cli.render import Table


def info_tables(data=None, short_hashes: bool = False) -> list[Table]:
    """The store summary, cases per inspection and lead group (the framework's lead
    breakdown, qi-2016: provider), and the provenance table.

    short_hashes: show the first 12 hex digits of hashes (for people; machine formats get all 64).
    """
    cut = (lambda h: h[:12]) if short_hashes else (lambda h: h)
    from hmip_cli import store

    si = store.store_info(data)  # the Parquet footer only: the summary is in the metadata
    fw = store.load_framework(data)
    mixed = len(si.frameworks) > 1  # counts per inspection and framework, no lead group
    lead = [] if mixed else store.lead_column(fw)  # [] or [the lead breakdown's column]
    summary = pl.DataFrame(
        {
            "store": [str(si.path)],
            "n_cases": [si.n_cases],
            "n_inspections": [len(si.inspections)],
            "first_inspection_date": [si.first_date],
            "last_inspection_date": [si.last_date],
            "n_files": [len(si.files)],
            "content_hash": [cut(si.content_hash)],
            "framework": [si.framework],
            **({"frameworks": [", ".join(si.frameworks)]} if mixed else {}),
        }
    )
    counts = pl.DataFrame(
        si.counts,
        schema={
            "inspection": pl.String,
            **dict.fromkeys(lead, pl.String),
            **({"framework": pl.String} if mixed else {}),
            "n_cases": pl.Int64,
            "first_date": pl.String,
            "last_date": pl.String,
        },
    ).with_columns(pl.col("first_date", "last_date").str.to_date())
    files = pl.DataFrame(
        {
            "source": [f["source"] for f in si.files],
            "rows": [int(f["rows"]) for f in si.files],
            "ingested_at": [f["ingested_at"] for f in si.files],
            "sha256": [cut(f["sha256"]) for f in si.files],
            "hmip_version": [f.get("hmip_version") for f in si.files],
            "mapping": [(f.get("mapping") or {}).get("name") for f in si.files],
            **({"framework": [f.get("framework") for f in si.files]} if mixed else {}),
        },
        schema={
            "source": pl.String,
            "rows": pl.Int64,
            "ingested_at": pl.String,
            "sha256": pl.String,
            "hmip_version": pl.String,
            "mapping": pl.String,
            **({"framework": pl.String} if mixed else {}),
        },
    )
    # Headers for people; machine formats keep the snake_case columns (public API).
    headings = {c: (b.label if (b := fw.breakdown_for_column(c)) else c) for c in lead}
    if mixed:
        headings["framework"] = "Framework"
    return _store_tables(summary, counts, files, headings) + _removed_table(si.removed, cut)


def _removed_table(removed: list[dict], cut) -> list[Table]:
    """The files whose cases were removed (`hmip remove`); no table when there are none."""
    if not removed:
        return []
    frame = pl.DataFrame(
        {
            "source": [r["source"] for r in removed],
            "rows": [int(r["rows"]) for r in removed],
            "ingested_at": [r.get("ingested_at") for r in removed],
            "removed_at": [r["removed_at"] for r in removed],
            "sha256": [cut(r["sha256"]) for r in removed],
            "hmip_version": [r.get("hmip_version") for r in removed],
        },
        schema={
            "source": pl.String,
            "rows": pl.Int64,
            "ingested_at": pl.String,
            "removed_at": pl.String,
            "sha256": pl.String,
            "hmip_version": pl.String,
        },
    )
    return [
        Table(
            frame,
            "Files removed (hmip remove)",
            name="removed",
            display={
                "source": "File",
                "rows": "Cases removed",
                "ingested_at": "Ingested at (UTC)",
                "removed_at": "Removed at (UTC)",
                "sha256": "SHA-256",
                "hmip_version": "hmip version",
            },
        )
    ]


def _store_tables(
    summary: pl.DataFrame, counts: pl.DataFrame, files: pl.DataFrame, lead: dict[str, str]
) -> list[Table]:
    """`lead`: the lead breakdown's column -> its heading (qi-2016: provider)."""
    return [
        Table(
            summary,
            "Store",
            name="store",
            vertical=True,
            display={
                "store": "Store",
                "n_cases": "Cases",
                "n_inspections": "Inspections",
                "first_inspection_date": "First inspection",
                "last_inspection_date": "Last inspection",
                "n_files": "Files ingested",
                "content_hash": "Content hash",
                "framework": "Framework",
                "frameworks": "Frameworks held",
            },
        ),
        Table(
            counts,
            "Cases per inspection" + "".join(f" and {c}" for c in lead),
            name="counts",
            display={
                "inspection": "Inspection",
                **lead,
                "n_cases": "Cases",
                "first_date": "First date",
                "last_date": "Last date",
            },
        ),
        Table(
            files,
            "Files ingested (provenance)",
            name="files",
            display={
                "source": "File",
                "rows": "Rows",
                "ingested_at": "Ingested at (UTC)",
                "sha256": "SHA-256",
                "hmip_version": "hmip version",
                "mapping": "Mapping",
                "framework": "Framework",
            },
        ),
    ]
