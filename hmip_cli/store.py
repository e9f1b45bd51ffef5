"""The store: where the validated cases live, and what is known about where they came from.

A store is a directory holding one file, `cases.parquet`: the stored columns of the
store's framework (`Framework.stored_schema()`) in canonical order, cases in the order
they were ingested. The framework (name and content hash; a framework that is not
shipped, or differs from the shipped file of its name, is kept whole), the provenance of
every ingested file and the content hash live in that file's Parquet key-value metadata
(key `hmip`, JSON), so data and provenance are replaced together by
one atomic rename (`fileio.atomic_write`): a crash at any moment leaves either the old
store or the new one, never a mixture. A lock file serialises concurrent ingests.

Nothing else in hmip knows this layout.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
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

from hmip_cli import framework
from hmip_cli.errors import BadInput, BadRequest
from hmip_cli.fileio import atomic_write
from hmip_cli.framework import derive
from hmip_cli.framework.model import Framework

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
    record = meta.get("framework")
    if record is not None and not _is_framework_record(record):
        raise _not_ours(path, "its framework record is not valid")
    return {**meta, "files": checked, "removed": _checked_removals(path, meta.get("removed"))}


# The record of one file's cases taken out again (`hmip remove`): its provenance record's
# source, sha256, rows and inspections, and when and by which hmip it was removed.
_REMOVAL_FIELDS: dict[str, tuple[type, ...]] = {
    "source": (str,),
    "sha256": (str,),
    "rows": (int,),
    "ingested_at": (str, type(None)),
    "removed_at": (str,),
    "hmip_version": (str, type(None)),
    "inspections": (list,),
}


def _checked_removals(path: Path, removed: object) -> list[dict]:
    """The metadata's removal records, checked (absent in stores with none)."""
    if removed is None:
        return []
    if not isinstance(removed, list):
        raise _not_ours(path, "its hmip metadata has a bad list of removed files")
    for i, rec in enumerate(removed, start=1):
        ok = isinstance(rec, dict) and all(
            isinstance(rec.get(k), types) for k, types in _REMOVAL_FIELDS.items()
        )
        if not ok or not _is_count(rec["rows"]):
            raise _not_ours(path, f"removed file record {i} is not valid")
    return removed


def _is_framework_record(rec: object) -> bool:
    digest = rec.get("sha256") if isinstance(rec, dict) else None
    return (
        isinstance(rec, dict)
        and isinstance(rec.get("name"), str)
        and isinstance(digest, str)
        and len(digest) == 64
        and all(c in "0123456789abcdef" for c in digest)
        and isinstance(rec.get("text", ""), str)
    )


# --------------------------------------------------------------------------------------
# The store's framework
# --------------------------------------------------------------------------------------


def framework_record(fw: Framework) -> dict:
    """What the metadata keeps of a store's framework: its name and content hash, and its
    whole text unless it is the shipped file of that name (a framework file of the
    analyst's own can then move or change without the store losing its meaning)."""
    record: dict = {"name": fw.name, "sha256": fw.content_hash}
    shipped = framework.is_shipped(fw.name) and framework.load(fw.name).content_hash
    if shipped != fw.content_hash:
        record["text"] = fw.text
    return record


def framework_of(meta: dict | None, path: Path | None = None) -> Framework:
    """The framework a store's metadata records (no store, or none recorded: qi-2016)."""
    record = None if meta is None else meta.get("framework")
    if record is None:
        return framework.default()
    if "text" in record:
        return _recorded(record["text"], record["name"])
    if not framework.is_shipped(record["name"]):
        where = f"the store at {path.parent}" if path is not None else "the store"
        raise BadInput(
            f"{where} uses the framework {record['name']!r}, which this version of hmip "
            f"does not ship (it ships {', '.join(framework.names())}): upgrade hmip, or "
            "ingest the files again with --framework FILE"
        )
    return framework.load(record["name"])


@functools.lru_cache(maxsize=8)
def _recorded(text: str, name: str) -> Framework:
    return framework.parse(text, where=f"the store's framework {name!r}")


def load_framework(data: Path | str | None = None) -> Framework:
    """The framework of the store at `data` (qi-2016 when there is no store, or the store
    records none: stores written before frameworks). Reads the Parquet footer only."""
    return framework_of(read_meta(data), cases_path(data))


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_stored(
    data: Path | str | None = None, identifying: bool = True
) -> tuple[pl.DataFrame, dict] | None:
    """The stored case table (no derived columns) and its metadata; None when no store.

    identifying=False leaves out the columns the schema marks identifying (case_id, notes):
    no analysis reads them, and on a big store they are most of the reading."""
    meta = read_meta(data)
    if meta is None:
        return None
    path = cases_path(data)
    fw = framework_of(meta, path)
    wanted = None
    if not identifying:
        hidden = fw.identifying_columns()
        wanted = [c for c in fw.stored_schema() if c not in hidden]
    try:
        _check_columns(path, pl.Schema(pl.read_parquet_schema(path)), fw)
        frame = pl.read_parquet(path, columns=wanted)
    except BadInput:
        raise
    except Exception:  # noqa: BLE001 - any failure to read it means damaged
        raise _not_ours(path, "its case data cannot be read") from None
    if frame.height != meta["n_cases"]:
        raise _not_ours(path, "its case count does not match its metadata")
    return frame, meta


def _check_columns(path: Path, got: pl.Schema, fw: Framework) -> None:
    if got != fw.stored_schema():
        raise BadInput(
            f"the store at {path.parent} was written by a different version of hmip (its "
            "columns differ); hmip will neither read nor overwrite it: move "
            f"{path.name} away, then ingest your files again"
        )


def check_understood(data: Path | str | None = None) -> None:
    """BadInput unless the store at `data` is absent or one this hmip can read (its metadata
    and columns; cheap: the Parquet footer only). Writers call it before replacing a store."""
    meta = read_meta(data)
    if meta is not None:
        _check_data(cases_path(data), meta)


def _check_data(path: Path, meta: dict) -> None:
    """`check_understood` once the metadata `meta` is read: columns and row count."""
    try:
        got = pl.read_parquet_schema(path)
        height = pl.scan_parquet(path).select(pl.len()).collect().item()
    except Exception:  # noqa: BLE001 - any failure to read it means damaged
        raise _not_ours(path, "its case data cannot be read") from None
    _check_columns(path, pl.Schema(got), framework_of(meta, path))
    if height != meta["n_cases"]:
        raise _not_ours(path, "its case count does not match its metadata")


def load_cases(data: Path | str | None = None, identifying: bool = True) -> pl.DataFrame:
    """The stored cases with the framework's derived columns: every stored column followed
    by the derived ones (qi-2016: age_group, ethnic_group, ogrs_group, rosh_group,
    n_priorities). Raises BadRequest when there is no store. identifying=False: without
    case_id and notes (what analyses use; see `read_stored`)."""
    _, frame, meta = _read_existing(data, identifying)
    return derive.with_derived(framework_of(meta), frame)


def load_cases_and_info(
    data: Path | str | None = None, identifying: bool = True
) -> tuple[pl.DataFrame, StoreInfo]:
    """`load_cases(data, identifying)` and `store_info(data)` from one read of the store (a
    report needs both; calling the two reads the Parquet file twice)."""
    path, frame, meta = _read_existing(data, identifying)
    cases = derive.with_derived(framework_of(meta), frame)
    if not identifying and _stored_summary(meta) is None:
        return cases, store_info(data)  # an old store: hash every column
    return cases, _info(path, frame, meta)


def _read_existing(
    data: Path | str | None, identifying: bool = True
) -> tuple[Path, pl.DataFrame, dict]:
    """The store's directory, stored frame and metadata; BadRequest when there is no store."""
    got = read_stored(data, identifying)
    path = resolve_store(data)
    if got is None:
        raise _missing(path)
    return path, *got


class ContentHasher:
    """sha256 of the case data in the stored columns and order, fed in row batches.

    Each column is hashed on its own, as two byte streams: validity (one bit per row) and
    values (Booleans one bit per row; integers and dates as little-endian int64; Enum codes
    as little-endian uint32; text as each value's UTF-8 length, uint32, in a third stream,
    and its bytes). The result is the sha256 of a version tag, the row count, and every
    column's name, type and stream digests. So the same cases give the same hash whatever
    file they came from and however they are split into batches (a batch's bits are packed
    separately, so batches are cut at multiples of 8 rows: `update` is called with any
    sizes, the hasher buffers), at about 0.3 s per million cases (the former definition,
    sha256 of the cases as CSV, took 2-3 s per million).
    """

    VERSION = b"hmip-content-2\n"

    def __init__(self, fw: Framework | None = None) -> None:
        self._schema = (fw or framework.default()).stored_schema()
        self._parts = {name: [hashlib.sha256() for _ in range(3)] for name in self._schema}
        self._pending: pl.DataFrame | None = None
        self.n_rows = 0

    def update(self, frame: pl.DataFrame) -> ContentHasher:
        frame = frame.select(list(self._schema)).cast(self._schema)
        self.n_rows += frame.height
        if self._pending is not None:
            frame = pl.concat([self._pending, frame])
        whole = frame.height - frame.height % 8
        self._pending = frame.slice(whole) if whole < frame.height else None
        for start in range(0, whole, _HASH_BATCH):  # bounded memory per step
            self._feed(frame.slice(start, min(_HASH_BATCH, whole - start)))
        return self

    def _feed(self, part: pl.DataFrame) -> None:
        import numpy as np

        def bits(flags: pl.Series) -> bytes:
            return np.packbits(flags.to_numpy()).tobytes()

        for name, s in zip(part.columns, part.get_columns()):
            valid_h, values_h, lengths_h = self._parts[name]
            valid_h.update(bits(s.is_not_null()))
            if s.dtype == pl.Boolean:
                values_h.update(bits(s.fill_null(False)))
            elif s.dtype.is_integer() or s.dtype == pl.Date:
                phys = s.to_physical().cast(pl.Int64).fill_null(0)
                values_h.update(phys.to_numpy().astype("<i8").tobytes())
            elif isinstance(s.dtype, pl.Enum):
                codes = s.to_physical().cast(pl.UInt32).fill_null(0)
                values_h.update(codes.to_numpy().astype("<u4").tobytes())
            else:  # text
                text = s.cast(pl.String).fill_null("")
                lengths = text.str.len_bytes().cast(pl.UInt32).to_numpy().astype("<u4")
                lengths_h.update(lengths.tobytes())
                values_h.update(text.str.join("").item().encode("utf-8"))

    def hexdigest(self) -> str:
        if self._pending is not None:  # the last rows (fewer than 8)
            pending, self._pending = self._pending, None
            self._feed(pending)
        h = hashlib.sha256(self.VERSION)
        h.update(f"{self.n_rows}\n".encode())
        for name, dtype in self._schema.items():
            h.update(f"{name}:{dtype}\n".encode())
            for part in self._parts[name]:
                h.update(part.digest())
        return h.hexdigest()


_HASH_BATCH = 1_000_000  # a multiple of 8


def content_hash(frame: pl.DataFrame, fw: Framework | None = None) -> str:
    """The content hash of a case frame (`ContentHasher`): the same cases, the same hash."""
    return ContentHasher(fw).update(frame).hexdigest()


@dataclass(frozen=True)
class StoreInfo:
    """What a report needs to say about its data.

    files: one provenance dict per ingested file, in ingest order: source (basename),
    sha256, rows, ingested_at (UTC ISO), hmip_version, mapping ({name, text} or None),
    inspection (names in that file).
    counts: cases per inspection and lead group (qi-2016: provider): {inspection, provider,
    n_cases, first_date, last_date} (dates ISO text or None), sorted by inspection, then
    the group (null last); a framework without a stored lead breakdown has no group key.
    removed: one record per file whose cases were removed (`hmip remove`), in order:
    source, sha256, rows, ingested_at, removed_at (UTC ISO), hmip_version, inspections.
    framework: the store's framework name (`load_framework` gives the framework).
    """

    path: Path
    content_hash: str
    n_cases: int
    inspections: tuple[str, ...]
    first_date: date | None
    last_date: date | None
    files: list[dict] = field(default_factory=list)
    counts: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    framework: str = framework.DEFAULT

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        d["first_date"] = self.first_date.isoformat() if self.first_date else None
        d["last_date"] = self.last_date.isoformat() if self.last_date else None
        d["inspections"] = list(self.inspections)
        return d


def store_info(data: Path | str | None = None) -> StoreInfo:
    """Content hash, case count, inspections, date range, counts per inspection and
    provider, and provenance of the store.

    All of it is computed once, when the store is written, and kept in the metadata, so
    this reads only the Parquet footer. A store written before that (no `summary` in its
    metadata) is read in full and summarised here, as before.
    """
    meta = read_meta(data)
    path = resolve_store(data)
    if meta is None:
        raise _missing(path)
    summary = _stored_summary(meta)
    if summary is None:
        return _info(*_read_existing(data))
    _check_data(cases_path(data), meta)  # columns and row count, from the footer too
    return _info_from(path, meta, summary)


def summarise(frame: pl.DataFrame, digest: str | None = None, fw: Framework | None = None) -> dict:
    """What `store_info` reports about a stored frame, as kept in the store's metadata:
    content_hash (`digest` when the caller hashed the rows as it wrote them), inspections,
    first and last inspection date, and counts per inspection and lead group (the column
    of the framework's lead breakdown, if it is stored: qi-2016's provider)."""
    fw = fw or framework.default()
    keys = ["inspection", *lead_column(fw)]
    dated = "inspection_date" in frame.columns
    first = pl.col("inspection_date").min() if dated else pl.lit(None)
    last = pl.col("inspection_date").max() if dated else pl.lit(None)
    counts = (
        frame.lazy()
        .group_by(keys)
        .agg(
            n_cases=pl.len().cast(pl.Int64),
            first_date=first.cast(pl.String),
            last_date=last.cast(pl.String),
        )
        .with_columns(pl.col(keys[1:]).cast(pl.String))
        .sort(keys, nulls_last=True)
        .collect()
    )
    dates = frame.select(first.cast(pl.String).alias("first"), last.cast(pl.String).alias("last"))
    return {
        "content_hash": digest or content_hash(frame, fw),
        "inspections": sorted(frame.get_column("inspection").drop_nulls().unique().to_list()),
        "first_date": dates["first"][0],
        "last_date": dates["last"][0],
        "counts": counts.to_dicts(),
    }


def lead_column(fw: Framework) -> list[str]:
    """[the stored column of the framework's lead breakdown] or [] (none, or derived)."""
    lead = fw.wording.lead_breakdown
    if not lead:
        return []
    column = fw.breakdown(lead).column
    return [column] if any(c.name == column for c in fw.columns) else []


def _stored_summary(meta: dict) -> dict | None:
    """The metadata's summary if it is well formed (else None: summarise the data again)."""
    got = meta.get("summary")
    if not isinstance(got, dict):
        return None
    digest = got.get("content_hash")
    ok = (
        isinstance(digest, str)
        and len(digest) == 64
        and all(c in "0123456789abcdef" for c in digest)
        and isinstance(got.get("inspections"), list)
        and all(isinstance(x, str) for x in got["inspections"])
        and all(isinstance(got.get(k), (str, type(None))) for k in ("first_date", "last_date"))
        and isinstance(got.get("counts"), list)
        and all(_is_count_row(r) for r in got["counts"])
        and sum(r["n_cases"] for r in got["counts"]) == meta["n_cases"]
    )
    if not ok:
        return None
    try:
        for k in ("first_date", "last_date"):
            if got[k] is not None:
                date.fromisoformat(got[k])
    except ValueError:
        return None
    return got


def _is_count_row(row: object) -> bool:
    return (
        isinstance(row, dict)
        and all(isinstance(v, (str, type(None))) for k, v in row.items() if k != "n_cases")
        and _is_count(row.get("n_cases"))
        and all(isinstance(row.get(k), (str, type(None))) for k in ("first_date", "last_date"))
    )


def _info(path: Path, frame: pl.DataFrame, meta: dict) -> StoreInfo:
    summary = _stored_summary(meta) or summarise(frame, fw=framework_of(meta, path))
    return _info_from(path, meta, summary)


def _info_from(path: Path, meta: dict, summary: dict) -> StoreInfo:
    def day(text: str | None) -> date | None:
        return None if text is None else date.fromisoformat(text)

    return StoreInfo(
        path=path,
        content_hash=summary["content_hash"],
        n_cases=meta["n_cases"],
        inspections=tuple(summary["inspections"]),
        first_date=day(summary["first_date"]),
        last_date=day(summary["last_date"]),
        files=list(meta.get("files", [])),
        counts=[dict(r) for r in summary["counts"]],
        removed=list(meta.get("removed", [])),
        framework=(meta.get("framework") or {}).get("name", framework.DEFAULT),
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


def write_store(
    data: Path | str | None,
    frame: pl.DataFrame,
    files: list[dict],
    removed: list[dict] | None = None,
    fw: Framework | None = None,
) -> None:
    """Replace the store with `frame` (the framework's stored schema) and provenance
    `files` (and the records of files `removed` since, `hmip remove`), atomically; the
    summary `store_info` reports (content hash included) and the framework go into the
    metadata. `fw` default: the store's own framework (qi-2016 for a new store).

    Call it while holding `locked(data)`.
    """
    fw = fw or load_framework(data)
    frame = frame.select(list(fw.stored_schema())).cast(fw.stored_schema())
    meta = {
        "format": STORE_FORMAT,
        "n_cases": frame.height,
        "framework": framework_record(fw),
        "files": files,
        "summary": summarise(frame, fw=fw),
    }
    if removed:  # older hmips read the store as before (they ignore the key)
        meta["removed"] = removed
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
