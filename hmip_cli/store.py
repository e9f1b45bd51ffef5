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
import errno
import fcntl
import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeGuard

import polars as pl

from hmip_cli import schema
from hmip_cli.errors import BadInput, BadRequest
from hmip_cli.fileio import atomic_write

CASES_FILE = "cases.parquet"
LOCK_FILE = ".lock"
META_KEY = "hmip"
STORE_FORMAT = 1
_LOCK_ATTEMPTS = 10_000  # each retry follows a failed first ingest removing the lock


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
    describe_bad_location(path)
    return BadRequest(f"no store at {path}; run `hmip ingest FILE` first")


def _not_ours(path: Path, why: str) -> BadInput:
    return BadInput(
        f"the store file {path} is damaged or was not written by hmip ({why}); hmip will "
        "neither read nor overwrite it: move it away, then ingest your files again"
    )


def read_meta(data: Path | str | None = None) -> dict | None:
    """The store's metadata (format, n_cases, files), checked, or None when there is no
    store. A store hmip does not understand (damaged, foreign, or a newer store format)
    raises BadInput: it is never read, and never rewritten (`write_store` checks too)."""
    path = cases_path(data)
    if not os.path.lexists(path):
        describe_bad_location(path.parent)
        return None
    if not path.is_file():
        raise _not_ours(path, "it is not a regular file")
    try:
        kv = pl.read_parquet_metadata(path)
    except Exception:  # noqa: BLE001 - any failure to read it means damaged/foreign
        raise _not_ours(path, "it is not a readable Parquet file") from None
    if META_KEY not in kv:
        raise _not_ours(path, "it has no hmip metadata")
    return _checked_meta(path, kv[META_KEY])


# The provenance record of one ingested file: key -> allowed types (None: may be absent
# or null). `source`, `sha256` and `rows` are required; the others were added over time.
_FILE_FIELDS: dict[str, tuple[type, ...]] = {
    "source": (str,),
    "sha256": (str,),
    "rows": (int,),
    "ingested_at": (str, type(None)),
    "hmip_version": (str, type(None)),
    "mapping": (dict, type(None)),
    "inspections": (list,),
}
_REQUIRED_FILE_FIELDS = ("source", "sha256", "rows")


def _checked_meta(path: Path, text: str) -> dict:
    """The metadata JSON, checked field by field (values are never quoted: a foreign file's
    metadata could hold anything); file records get every optional key, so readers can
    index them without guarding."""
    try:
        meta = json.loads(text)
    except ValueError:
        raise _not_ours(path, "its hmip metadata is not valid JSON") from None
    if not isinstance(meta, dict):
        raise _not_ours(path, "its hmip metadata is not a JSON object")
    fmt = meta.get("format")
    if not _is_count(fmt) or fmt < 1:
        raise _not_ours(path, "its hmip metadata has no valid store format number")
    if fmt > STORE_FORMAT:
        raise BadInput(
            f"the store at {path.parent} was written by a newer version of hmip (store format "
            f"{fmt}; this version reads format {STORE_FORMAT}): upgrade hmip to use it "
            "(pip install --upgrade hmip). The store has not been changed."
        )
    if not _is_count(meta.get("n_cases")):
        raise _not_ours(path, "its hmip metadata has no valid case count")
    files = meta.get("files")
    if not isinstance(files, list):
        raise _not_ours(path, "its hmip metadata has no list of ingested files")
    checked: list[dict] = []
    for i, rec in enumerate(files, start=1):
        if not isinstance(rec, dict):
            raise _not_ours(path, f"ingested file record {i} is not a JSON object")
        for key, types in _FILE_FIELDS.items():
            if key not in rec:
                if key in _REQUIRED_FILE_FIELDS:
                    raise _not_ours(path, f"ingested file record {i} has no {key!r}")
                continue
            value = rec[key]
            if not isinstance(value, types) or (key == "rows" and not _is_count(value)):
                raise _not_ours(path, f"ingested file record {i} has a bad {key!r}")
        if not all(isinstance(x, str) for x in rec.get("inspections", [])):
            raise _not_ours(path, f"ingested file record {i} has a bad 'inspections'")
        mapping = rec.get("mapping")
        if mapping is not None and not isinstance(mapping.get("name", ""), str):
            raise _not_ours(path, f"ingested file record {i} has a bad 'mapping'")
        checked.append(
            {"ingested_at": None, "hmip_version": None, "mapping": None, "inspections": []} | rec
        )
    return {**meta, "files": checked}


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_stored(data: Path | str | None = None) -> tuple[pl.DataFrame, dict] | None:
    """The stored case table (no derived columns) and its metadata; None when no store."""
    meta = read_meta(data)
    if meta is None:
        return None
    path = cases_path(data)
    try:
        frame = pl.read_parquet(path)
    except Exception:  # noqa: BLE001 - any failure to read it means damaged
        raise _not_ours(path, "its case data cannot be read") from None
    _check_columns(path, frame.schema)
    if frame.height != meta["n_cases"]:
        raise _not_ours(path, "its case count does not match its metadata")
    return frame, meta


def _check_columns(path: Path, got: pl.Schema) -> None:
    if got != schema.stored_schema():
        raise BadInput(
            f"the store at {path.parent} was written by a different version of hmip (its "
            "columns differ); hmip will neither read nor overwrite it: move "
            f"{path.name} away, then ingest your files again"
        )


def check_understood(data: Path | str | None = None) -> None:
    """BadInput unless the store at `data` is absent or one this hmip can read (its metadata
    and columns; cheap: the Parquet footer only). Writers call it before replacing a store."""
    path = cases_path(data)
    meta = read_meta(data)
    if meta is None:
        return
    try:
        got = pl.read_parquet_schema(path)
        height = pl.scan_parquet(path).select(pl.len()).collect().item()
    except Exception:  # noqa: BLE001 - any failure to read it means damaged
        raise _not_ours(path, "its case data cannot be read") from None
    _check_columns(path, pl.Schema(got))
    if height != meta["n_cases"]:
        raise _not_ours(path, "its case count does not match its metadata")


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
def locked(data: Path | str | None = None) -> Iterator[Path]:
    """Hold the store's lock (one writer at a time); creates the directory if needed.

    The lock is `flock` on `DIR/.lock`. A failed first ingest removes the directory it
    created, so the lock file can vanish; it is only ever removed by the process holding
    the lock, and a process that obtains the lock checks that `DIR/.lock` is still the file
    it locked, else starts again. So two writers never run at once, and each writer reads
    the store only after taking the lock.
    """
    directory = resolve_store(data)
    for _attempt in range(_LOCK_ATTEMPTS):
        created = _make_store_dir(directory)
        lock = directory / LOCK_FILE
        try:
            fh = open(lock, "a+")
        except FileNotFoundError:  # the directory was removed between mkdir and open
            continue
        except PermissionError:
            raise BadRequest(f"cannot lock the store {directory}: permission denied") from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            if _still_names(lock, fh.fileno()):
                break
        except BaseException:
            fh.close()
            raise
        fh.close()  # we locked a lock file that was removed meanwhile: try again
    else:  # only if the file system reports a different file each time (it should not)
        raise BadRequest(f"cannot lock the store {directory}: its lock file keeps changing")
    try:
        yield directory
    finally:
        try:
            # A failed first ingest leaves nothing behind: no lock file, and no directory
            # if it made one. Removed while still holding the lock: anyone waiting on this
            # lock file sees it gone and starts again.
            if not (directory / CASES_FILE).exists():
                with contextlib.suppress(OSError):
                    lock.unlink()
                    if created:
                        directory.rmdir()
        finally:
            fh.close()  # releases the lock


def _make_store_dir(directory: Path) -> bool:
    """Create the store directory if needed; True when this call created it."""
    describe_bad_location(directory)
    try:
        directory.mkdir(parents=True)
        return True
    except FileExistsError:
        if directory.is_dir():
            return False
        raise BadRequest(f"{directory} is a file, not a store directory") from None
    except NotADirectoryError:
        raise BadRequest(f"{directory} is inside a file, not a folder") from None
    except PermissionError:
        raise BadRequest(
            f"cannot create the store directory {directory}: permission denied"
        ) from None


def _still_names(path: Path, fd: int) -> bool:
    """Whether `path` is still the file open as `fd` (not removed, not replaced)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def describe_bad_location(directory: Path) -> None:
    """BadRequest naming the problem when `directory` (or a folder above it) is a symbolic
    link that points nowhere or loops: otherwise it would look like "a file" or "no store"."""
    for part in [*reversed(directory.parents), directory]:
        if not part.is_symlink():
            continue
        target = os.readlink(part)
        try:
            os.stat(part)
        except FileNotFoundError:
            raise BadRequest(
                f"the store location {directory}: {part} is a symbolic link to {target}, "
                "which does not exist"
            ) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise BadRequest(
                    f"the store location {directory}: {part} is a symbolic link that loops "
                    f"(it points to {target}, which leads back to itself)"
                ) from None
            raise


def write_store(data: Path | str | None, frame: pl.DataFrame, files: list[dict]) -> None:
    """Replace the store with `frame` (stored schema) and provenance `files`, atomically.

    Call it while holding `locked(data)`.
    """
    frame = frame.select(list(schema.stored_schema())).cast(schema.stored_schema())
    meta = {"format": STORE_FORMAT, "n_cases": frame.height, "files": files}
    payload = {META_KEY: json.dumps(meta, ensure_ascii=False)}
    target = cases_path(data)
    check_understood(data)  # never replace a store this hmip does not understand
    # Under the lock, any temporary file beside the store is left over from a killed ingest.
    for stale in target.parent.glob(f".{CASES_FILE}.*.tmp"):
        stale.unlink(missing_ok=True)
    # Encoded in memory, then written by Python: Polars writing to a full disk can report
    # only "Invalid thrift: transport error", and the user must be told the disk is full.
    buf = io.BytesIO()
    frame.write_parquet(buf, metadata=payload)
    atomic_write(target, lambda tmp: tmp.write_bytes(buf.getbuffer()), into_store=True)


def store_holding(folder: Path) -> Path | None:
    """The store directory that is `folder` or one above it, if any (outputs must not be
    written there). A store directory holds cases.parquet and either the lock file or
    hmip's metadata; a cases.parquet of the user's own beside their files is not one."""
    for d in (folder, *folder.parents):
        cases = d / CASES_FILE
        if not os.path.lexists(cases):
            continue
        if (d / LOCK_FILE).exists():
            return d
        with contextlib.suppress(Exception):
            if META_KEY in pl.read_parquet_metadata(cases):
                return d
    return None
