"""The store: where the validated cases live, and what is known about where they came from.

A store is a directory holding one file, `cases.parquet`: the canonical columns of
`schema.stored_schema()` in canonical order, cases in the order they were ingested. The
provenance of every ingested file and the content hash live in that file's Parquet
key-value metadata (key `hmip`, JSON), so data and provenance are replaced together by
one atomic rename (`fileio.atomic_write`): a crash at any moment leaves either the old
store or the new one, never a mixture. A lock file serialises concurrent ingests.

Nothing else in hmip knows this layout.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from hmip_cli import schema
from hmip_cli.errors import BadInput, BadRequest
from hmip_cli.fileio import atomic_write

CASES_FILE = "cases.parquet"
LOCK_FILE = ".lock"
META_KEY = "hmip"
STORE_FORMAT = 1


def resolve_store(data: Path | str | None = None) -> Path:
    """The store directory: `data`, else $HMIP_DATA, else $XDG_DATA_HOME/hmip, else
    ~/.local/share/hmip. The directory need not exist yet."""
    if data:
        return Path(data).expanduser()
    if os.environ.get("HMIP_DATA"):
        return Path(os.environ["HMIP_DATA"]).expanduser()
    if os.environ.get("XDG_DATA_HOME"):
        return Path(os.environ["XDG_DATA_HOME"]).expanduser() / "hmip"
    return Path.home() / ".local" / "share" / "hmip"


def cases_path(data: Path | str | None = None) -> Path:
    return resolve_store(data) / CASES_FILE


def _missing(path: Path) -> BadRequest:
    return BadRequest(f"no store at {path}; run `hmip ingest FILE` first")


def read_meta(data: Path | str | None = None) -> dict | None:
    """The store's metadata (format, n_cases, files), or None when there is no store."""
    path = cases_path(data)
    if not path.exists():
        return None
    try:
        kv = pl.read_parquet_metadata(path)
        return json.loads(kv[META_KEY])
    except Exception:  # noqa: BLE001 - any failure to read it means damaged/foreign
        raise BadInput(
            f"the store file {path} is damaged or was not written by hmip; "
            "move it away and ingest again (`hmip ingest FILE --replace`)"
        ) from None


def read_stored(data: Path | str | None = None) -> tuple[pl.DataFrame, dict] | None:
    """The stored case table (no derived columns) and its metadata; None when no store."""
    meta = read_meta(data)
    if meta is None:
        return None
    path = cases_path(data)
    try:
        frame = pl.read_parquet(path)
    except Exception:  # noqa: BLE001 - any failure to read it means damaged
        raise BadInput(f"the store file {path} is damaged; ingest again with --replace") from None
    if frame.schema != schema.stored_schema():
        raise BadInput(
            f"the store at {path.parent} was written by a different version of hmip "
            "(its columns differ); ingest your files again with --replace"
        )
    return frame, meta


def load_cases(data: Path | str | None = None) -> pl.DataFrame:
    """The stored cases with `schema.with_derived()` applied: every column of
    `schema.stored_schema()` followed by age_group, ethnic_group, ogrs_group, rosh_group,
    n_priorities. Raises BadRequest when there is no store."""
    _, frame, _ = _read_existing(data)
    return schema.with_derived(frame)


def load_cases_and_info(data: Path | str | None = None) -> tuple[pl.DataFrame, StoreInfo]:
    """`load_cases(data)` and `store_info(data)` from one read of the store (a report needs
    both; calling the two reads the Parquet file twice)."""
    path, frame, meta = _read_existing(data)
    return schema.with_derived(frame), _info(path, frame, meta)


def _read_existing(data: Path | str | None) -> tuple[Path, pl.DataFrame, dict]:
    """The store's directory, stored frame and metadata; BadRequest when there is no store."""
    got = read_stored(data)
    path = resolve_store(data)
    if got is None:
        raise _missing(path)
    return path, *got


def content_hash(frame: pl.DataFrame) -> str:
    """sha256 of the case data as canonical CSV (stored columns and order, ISO dates,
    true/false): the same cases give the same hash whatever file they came from."""
    h = hashlib.sha256()
    frame = frame.select(list(schema.stored_schema()))
    step = 200_000  # bounded memory on big stores
    for start in range(0, max(frame.height, 1), step):
        h.update(frame.slice(start, step).write_csv(include_header=start == 0).encode("utf-8"))
    return h.hexdigest()


@dataclass(frozen=True)
class StoreInfo:
    """What a report needs to say about its data.

    files: one provenance dict per ingested file, in ingest order: source (basename),
    sha256, rows, ingested_at (UTC ISO), hmip_version, mapping ({name, text} or None),
    inspection (names in that file).
    """

    path: Path
    content_hash: str
    n_cases: int
    inspections: tuple[str, ...]
    first_date: date | None
    last_date: date | None
    files: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        d["first_date"] = self.first_date.isoformat() if self.first_date else None
        d["last_date"] = self.last_date.isoformat() if self.last_date else None
        d["inspections"] = list(self.inspections)
        return d


def store_info(data: Path | str | None = None) -> StoreInfo:
    """Content hash, case count, inspections, date range and provenance of the store.

    The content hash is computed here, from the cases (about a second per million cases),
    rather than at ingest, to keep ingest fast.
    """
    return _info(*_read_existing(data))


def _info(path: Path, frame: pl.DataFrame, meta: dict) -> StoreInfo:
    summary = frame.select(
        pl.col("inspection").unique().sort().implode().alias("inspections"),
        pl.col("inspection_date").min().alias("first"),
        pl.col("inspection_date").max().alias("last"),
    )
    return StoreInfo(
        path=path,
        content_hash=content_hash(frame),
        n_cases=frame.height,
        inspections=tuple(summary["inspections"][0].to_list()),
        first_date=summary["first"][0],
        last_date=summary["last"][0],
        files=list(meta.get("files", [])),
    )


@contextlib.contextmanager
def locked(data: Path | str | None = None):
    """Hold the store's lock (one writer at a time); creates the directory if needed."""
    directory = resolve_store(data)
    created = not directory.exists()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise BadRequest(f"{directory} is a file, not a store directory") from None
    except PermissionError:
        raise BadRequest(
            f"cannot create the store directory {directory}: permission denied"
        ) from None
    lock = directory / LOCK_FILE
    try:
        with open(lock, "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield directory
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        # A failed first ingest leaves no empty store directory behind.
        if created and not (directory / CASES_FILE).exists():
            with contextlib.suppress(OSError):
                lock.unlink()
                directory.rmdir()


def write_store(data: Path | str | None, frame: pl.DataFrame, files: list[dict]) -> None:
    """Replace the store with `frame` (stored schema) and provenance `files`, atomically.

    Call it while holding `locked(data)`.
    """
    frame = frame.select(list(schema.stored_schema())).cast(schema.stored_schema())
    meta = {"format": STORE_FORMAT, "n_cases": frame.height, "files": files}
    payload = {META_KEY: json.dumps(meta, ensure_ascii=False)}
    target = cases_path(data)
    # Under the lock, any temporary file beside the store is left over from a killed ingest.
    for stale in target.parent.glob(f".{CASES_FILE}.*.tmp"):
        stale.unlink(missing_ok=True)
    atomic_write(target, lambda tmp: frame.write_parquet(tmp, metadata=payload))
