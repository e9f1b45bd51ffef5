"""Taking the cases of one ingested file back out of the store (`hmip remove`).

The store keeps its cases in ingest order and one provenance record per ingested file
(source, sha256, rows), so the cases of the k-th file are the rows after those of the
files before it. `remove_source` checks that the records add up to the store (and that
the rows it would remove hold the file's inspections) before it takes anything out, then
rewrites the store without them in one atomic replacement, under the store's lock, with
a removal record in the metadata (`StoreInfo.removed`, `hmip info`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from hmip_cli import __version__, store
from hmip_cli.errors import BadInput, BadRequest
from hmip_cli.privacy import quote_name

_MIN_HASH_PREFIX = 6  # hex digits: a sha256 prefix from `hmip info` (which shows 12)


@dataclass(frozen=True)
class Removal:
    """What `remove_source` did: the removal record added to the store's metadata
    (source, sha256, rows, ingested_at, removed_at, hmip_version, inspections), and the
    cases left in the store."""

    store: Path
    record: dict
    n_cases: int

    @property
    def cases_removed(self) -> int:
        return int(self.record["rows"])

    def to_dict(self) -> dict:
        return {
            "store": str(self.store),
            "removed": self.record,
            "cases_removed": self.cases_removed,
            "n_cases": self.n_cases,
        }


def remove_source(source: str | Path, data: Path | str | None = None) -> Removal:
    """Remove the cases of one ingested file from the store at `data`.

    `source` names the file as `hmip info` lists it: its name (the file as ingested), a
    path to the file itself (matched by its content, so a renamed copy works), or the
    start of its sha256 (at least 6 hex digits; `hmip info` shows 12). No store, no such
    file, or a name that fits several files: BadRequest (nothing changes). A store whose
    provenance does not account for its cases: BadInput (nothing changes).
    """
    with store.locked(data) as directory:
        got = store.read_raw(data)  # a mixed store: every framework's cases, in ingest order
        if got is None:
            raise BadRequest(f"no store at {directory}; nothing to remove")
        frame, meta = got
        files: list[dict] = meta["files"]
        index = _find(str(source), files, meta.get("removed", []), directory)
        start = sum(int(f["rows"]) for f in files[:index])
        rec = files[index]
        rows = int(rec["rows"])
        _check_accounts(frame, files, start, rec, directory)
        kept = pl.concat([frame.slice(0, start), frame.slice(start + rows)], how="vertical")
        record = {
            "source": rec["source"],
            "sha256": rec["sha256"],
            "rows": rows,
            "ingested_at": rec.get("ingested_at"),
            "removed_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "hmip_version": __version__,
            "inspections": list(rec.get("inspections") or []),
        }
        store.write_store(
            data,
            kept,
            files[:index] + files[index + 1 :],
            [*meta.get("removed", []), record],
            None if store.is_mixed(meta) else store.framework_of(meta),
            frameworks=store.frameworks_of(meta),
            crosswalks=meta.get("crosswalks"),
        )
        return Removal(directory, record, kept.height)


def _find(source: str, files: list[dict], removed: list[dict], directory: Path) -> int:
    """The index of the one provenance record `source` names (see `remove_source`)."""
    path = Path(source)
    hits: list[int] = []
    if path.is_file():  # the file itself: its content decides, whatever it is called now
        digest = _sha256(path)
        hits = [i for i, f in enumerate(files) if f["sha256"] == digest]
    if not hits:
        hits = [i for i, f in enumerate(files) if f["source"] == path.name]
    text = source.strip().lower()
    if not hits and len(text) >= _MIN_HASH_PREFIX and all(c in "0123456789abcdef" for c in text):
        hits = [i for i, f in enumerate(files) if f["sha256"].startswith(text)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        gone = [r for r in removed if r["source"] == path.name]
        if gone:
            raise BadRequest(
                f"the cases of {quote_name(path.name)} were already removed from the store at "
                f"{directory} ({gone[-1]['removed_at']}); nothing was removed"
            )
        listed = ", ".join(quote_name(f["source"]) for f in files[:10]) or "none"
        more = f" and {len(files) - 10} more" if len(files) > 10 else ""
        raise BadRequest(
            f"no ingested file {quote_name(path.name)} in the store at {directory} (ingested: "
            f"{listed}{more}; `hmip info` lists them); nothing was removed"
        )
    which = "; ".join(
        f"sha256 {files[i]['sha256'][:12]}, {files[i]['rows']:,} rows, ingested "
        f"{files[i].get('ingested_at') or 'at an unknown time'}"
        for i in hits
    )
    raise BadRequest(
        f"{len(hits)} ingested files are called {quote_name(files[hits[0]]['source'])} ({which}): "
        "give the start of the sha256 of the one to remove, or the file itself; nothing "
        "was removed"
    )


def _check_accounts(frame: pl.DataFrame, files: list[dict], start: int, rec: dict, where) -> None:
    """BadInput unless the provenance records account for every case and the rows to be
    removed hold the inspections the file had (else we cannot tell which rows are its)."""
    total = sum(int(f["rows"]) for f in files)
    problem = None
    if total != frame.height:
        problem = (
            f"its provenance records account for {total:,} cases but it holds {frame.height:,}"
        )
    else:
        part = frame.slice(start, int(rec["rows"]))
        got = set(part.get_column("inspection").drop_nulls().unique().to_list())
        if rec.get("inspections") and got != set(rec["inspections"]):
            problem = "the cases where this file's should be are from other inspections"
    if problem:
        raise BadInput(
            f"cannot tell which cases of the store at {where} came from "
            f"{quote_name(rec['source'])}: {problem}. Nothing was removed; rebuild the store "
            "with `hmip ingest --replace` and the files you want"
        )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
