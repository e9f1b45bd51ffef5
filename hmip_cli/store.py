"""The store: where the validated cases live, and what is known about where they came from.

A store is a directory holding one file, `cases.parquet`: the stored columns of the
store's framework (`Framework.stored_schema()`) in canonical order, cases in the order
they were ingested. A store holding cases of several frameworks (a *mixed* store, store
format 2: ingest allows it where a crosswalk links the frameworks) keeps them in the same
one file, in ingest order: the union of the frameworks' stored columns (a column two
frameworks type differently is kept as text) and `__framework`, each case's framework;
`read_stored` gives one framework's cases in its own schema, `read_segments` each's.
A store of one framework is written as format 1, as before (older hmips read it). The framework (name and content hash; a framework that is not
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
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeGuard, TypeVar

import polars as pl

from hmip_cli import framework
from hmip_cli.errors import BadInput, BadRequest
from hmip_cli.fileio import atomic_write
from hmip_cli.framework import derive
from hmip_cli.framework.model import Framework

CASES_FILE = "cases.parquet"
LOCK_FILE = ".lock"
META_KEY = "hmip"
STORE_FORMAT = 2  # the newest store format this version reads (and writes, for mixed stores)
SINGLE_FORMAT = 1  # a store of one framework: what hmip wrote before mixed stores
FRAMEWORK_COLUMN = "__framework"  # a mixed store's column naming each case's framework
_LOCK_ATTEMPTS = 10_000  # each retry follows a failed first ingest removing the lock
_Frame = TypeVar("_Frame", pl.DataFrame, pl.LazyFrame)


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


# The store files lazily scanned in this command: a scan reads the data pages only when an
# analysis collects, so a damaged page surfaces there as a Polars error (`damaged_scan`).
_SCANNED: ContextVar[tuple[Path, ...]] = ContextVar("hmip_scanned_stores", default=())


def _scanning(path: Path) -> pl.LazyFrame:
    _SCANNED.set((*_SCANNED.get(), path))
    return pl.scan_parquet(path)


def damaged_scan(exc: BaseException) -> BadInput | None:
    """The clear message for `exc`, a Polars error or panic raised while an analysis read a
    lazily scanned store, when that store's file is in fact unreadable (a full read fails
    too); None otherwise (then `exc` is a fault of hmip's, to be shown as such)."""
    polars_error = isinstance(exc, pl.exceptions.PolarsError)
    if not (polars_error or type(exc).__name__ == "PanicException"):
        return None
    for path in _SCANNED.get():
        try:
            pl.read_parquet(path)
        except BaseException as err:  # a panic is a BaseException
            if isinstance(err, KeyboardInterrupt | SystemExit):
                raise
            return _not_ours(path, "its case data cannot be read")
    return None


def forget_scans() -> None:
    """Start a command with no scanned store (`damaged_scan`)."""
    _SCANNED.set(())


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
    "framework": (str, type(None)),  # the framework's name (absent before mixed stores)
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
            {
                "ingested_at": None,
                "hmip_version": None,
                "mapping": None,
                "inspections": [],
                "framework": None,
            }
            | rec
        )
    record = meta.get("framework")
    if record is not None and not _is_framework_record(record):
        raise _not_ours(path, "its framework record is not valid")
    if fmt >= 2:
        records = meta.get("frameworks")
        ok = (
            isinstance(records, list)
            and len(records) >= 2
            and all(_is_framework_record(r) for r in records)
            and len({r["name"] for r in records}) == len(records)
            and record is not None
            and record["name"] in {r["name"] for r in records}
            and _are_crosswalk_records(meta.get("crosswalks", []))
        )
        if not ok:
            raise _not_ours(path, "its list of frameworks is not valid")
    default = (record or {}).get("name", framework.DEFAULT)
    for rec in checked:  # files ingested before mixed stores: the store's one framework
        rec["framework"] = rec["framework"] or default
    return {**meta, "files": checked, "removed": _checked_removals(path, meta.get("removed"))}


def _are_crosswalk_records(records: object) -> bool:
    """A mixed store's crosswalks given at ingest: {name, sha256, text, from, to}."""
    return isinstance(records, list) and all(
        isinstance(r, dict) and all(isinstance(r.get(k), str) for k in CROSSWALK_RECORD_KEYS)
        for r in records
    )


CROSSWALK_RECORD_KEYS = ("name", "sha256", "text", "from", "to")


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


def framework_of(
    meta: dict | None, path: Path | None = None, choice: str | Framework | None = None
) -> Framework:
    """The framework a store's metadata records (no store, or none recorded: qi-2016); in a
    mixed store, the one `choice` names (default: the latest ingested)."""
    if choice is not None and meta is not None:
        return _chosen(meta, path, choice)
    record = None if meta is None else meta.get("framework")
    if record is None:
        return framework.default()
    return _from_record(record, path)


def _from_record(record: dict, path: Path | None) -> Framework:
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


def frameworks_of(meta: dict | None, path: Path | None = None) -> tuple[Framework, ...]:
    """Every framework whose cases the store holds, in the order first ingested (one for
    a store of one framework)."""
    if meta is None or not is_mixed(meta):
        return (framework_of(meta, path),)
    return tuple(_from_record(r, path) for r in meta["frameworks"])


def is_mixed(meta: dict | None) -> bool:
    """Whether the store holds cases of more than one framework (store format 2)."""
    return meta is not None and meta.get("format", 1) >= 2


def _chosen(meta: dict, path: Path | None, choice: str | Framework) -> Framework:
    """The store's framework `choice` names (a name, or a Framework the store holds)."""
    held = frameworks_of(meta, path)
    name = choice.name if isinstance(choice, Framework) else str(choice).strip()
    hit = next((f for f in held if f.name == name), None)
    if hit is None:
        where = f"the store at {path.parent}" if path is not None else "the store"
        raise BadRequest(
            f"{where} holds no cases of the framework {name!r}; it holds: "
            f"{', '.join(f.name for f in held)}"
        )
    return hit


def crosswalks_of(meta: dict | None, path: Path | None = None) -> list:
    """The crosswalks recorded at ingest (`hmip ingest --crosswalk FILE`) between the
    store's frameworks; shipped crosswalks are not recorded (hmip has them)."""
    if meta is None or not meta.get("crosswalks"):
        return []
    from hmip_cli.framework.crosswalk import parse_crosswalk

    by_name = {f.name: f for f in frameworks_of(meta, path)}
    out = []
    for rec in meta["crosswalks"]:
        # The file's `from`/`to` may name files that have moved since: its frameworks are
        # the store's, by the names recorded, in the order the parser asks for them.
        sides = iter([rec["from"], rec["to"]])

        def resolve(_given: str, sides: Iterator[str] = sides) -> Framework:
            return by_name[next(sides)]

        out.append(
            parse_crosswalk(rec["text"], resolve, where=f"the store's crosswalk {rec['name']!r}")
        )
    return out


def crosswalk_record(cw, text: str) -> dict:
    """What a mixed store's metadata keeps of a crosswalk given at ingest."""
    return {
        "name": cw.name,
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "text": text,
        "from": cw.source,
        "to": cw.target,
    }


@functools.lru_cache(maxsize=8)
def _recorded(text: str, name: str) -> Framework:
    return framework.parse(text, where=f"the store's framework {name!r}")


def load_framework(
    data: Path | str | None = None, framework: str | Framework | None = None
) -> Framework:
    """The framework of the store at `data` (qi-2016 when there is no store, or the store
    records none: stores written before frameworks); of a mixed store, the one `framework`
    names, default the latest ingested. Reads the Parquet footer only."""
    return framework_of(read_meta(data), cases_path(data), framework)


def load_frameworks(data: Path | str | None = None) -> tuple[Framework, ...]:
    """Every framework whose cases the store at `data` holds, in the order first ingested."""
    return frameworks_of(read_meta(data), cases_path(data))


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_stored(
    data: Path | str | None = None,
    identifying: bool = True,
    framework: str | Framework | None = None,
) -> tuple[pl.DataFrame, dict] | None:
    """The stored case table (no derived columns) and its metadata; None when no store.
    Of a mixed store: the cases of the framework `framework` names (default: the latest
    ingested), in its stored schema.

    identifying=False leaves out the columns the schema marks identifying (case_id, notes):
    no analysis reads them, and on a big store they are most of the reading."""
    got = _read_frame(data, identifying)
    if got is None:
        return None
    raw, meta = got
    if not is_mixed(meta):
        return raw, meta
    fw = framework_of(meta, cases_path(data), framework)
    return _segment(raw, fw, identifying), meta


def read_raw(data: Path | str | None = None) -> tuple[pl.DataFrame, dict] | None:
    """The case table as stored, every column, in ingest order (a mixed store: the union
    frame, with `__framework`), and the metadata; None when there is no store. For what
    works on the store's rows as such: ingest appends to it, `hmip remove` cuts from it."""
    return _read_frame(data, True)


def read_segments(
    data: Path | str | None = None, identifying: bool = True
) -> list[tuple[Framework, pl.DataFrame]]:
    """Each framework's cases, in its stored schema, frameworks in the order first
    ingested (one for a store of one framework). BadRequest when there is no store."""
    got = _read_frame(data, identifying)
    if got is None:
        raise _missing(resolve_store(data))
    raw, meta = got
    fws = frameworks_of(meta, cases_path(data))
    if not is_mixed(meta):
        return [(fws[0], raw)]
    return [(fw, _segment(raw, fw, identifying)) for fw in fws]


def scan_segments(data: Path | str | None = None) -> list[tuple[Framework, pl.LazyFrame]]:
    """`read_segments(data, identifying=False)` without reading the rows: each framework's
    cases as a lazy scan of the store. The columns and the row count are checked from the
    Parquet footer here; each analysis then reads only the columns it needs (issue 13)."""
    meta = read_meta(data)
    if meta is None:
        raise _missing(resolve_store(data))
    path = cases_path(data)
    _check_data(path, meta)
    fws = frameworks_of(meta, path)
    scan = _scanning(path)
    if not is_mixed(meta):
        hidden = set(fws[0].identifying_columns())
        return [(fws[0], scan.select([c for c in _expected_schema(meta, fws) if c not in hidden]))]
    return [(fw, _segment(scan, fw, identifying=False)) for fw in fws]


def _read_frame(data: Path | str | None, identifying: bool) -> tuple[pl.DataFrame, dict] | None:
    meta = read_meta(data)
    if meta is None:
        return None
    path = cases_path(data)
    fws = frameworks_of(meta, path)
    expected = _expected_schema(meta, fws)
    wanted = None
    if not identifying:
        hidden = {c for fw in fws for c in fw.identifying_columns()}
        wanted = [c for c in expected if c not in hidden]
    try:
        _check_columns(path, pl.Schema(pl.read_parquet_schema(path)), expected)
        frame = pl.read_parquet(path, columns=wanted)
    except BadInput:
        raise
    except Exception:  # noqa: BLE001 - any failure to read it means damaged
        raise _not_ours(path, "its case data cannot be read") from None
    if frame.height != meta["n_cases"]:
        raise _not_ours(path, "its case count does not match its metadata")
    return frame, meta


def _expected_schema(meta: dict, fws: tuple[Framework, ...]) -> pl.Schema:
    return union_schema(fws) if is_mixed(meta) else fws[0].stored_schema()


def union_schema(fws: tuple[Framework, ...] | list[Framework]) -> pl.Schema:
    """A mixed store's columns: every framework's stored columns, by name, in the order
    first met (a column two frameworks type differently is text), then `__framework`."""
    cols: dict[str, pl.DataType] = {}
    for fw in fws:
        for name, dtype in fw.stored_schema().items():
            if name not in cols:
                cols[name] = dtype
            elif cols[name] != dtype:
                cols[name] = pl.String()
    cols[FRAMEWORK_COLUMN] = pl.String()
    return pl.Schema(cols)


def _cast(name: str, have: pl.DataType, want: pl.DataType) -> pl.Expr:
    """Column `name` from type `have` to `want` (text to Boolean: "true"/"false", as
    Polars writes Booleans as text)."""
    col = pl.col(name)
    if have == want:
        return col
    if want == pl.Boolean and have == pl.String:
        return pl.when(col.is_null()).then(None).otherwise(col == "true").alias(name)
    return col.cast(want)


def to_union(frame: pl.DataFrame, schema: pl.Schema, fw: Framework | None = None) -> pl.DataFrame:
    """`frame` in a mixed store's columns `schema`: a framework `fw`'s cases (its stored
    columns; `__framework` is added), or a union frame of a smaller mix."""
    if fw is not None:
        frame = frame.with_columns(pl.lit(fw.name).alias(FRAMEWORK_COLUMN))
    have = frame.schema
    return frame.select(
        [
            _cast(c, have[c], dtype) if c in have else pl.lit(None, dtype).alias(c)
            for c, dtype in schema.items()
        ]
    )


def _segment(raw: _Frame, fw: Framework, identifying: bool = True) -> _Frame:
    """One framework's cases of a union frame (or a lazy scan of one), in its stored schema."""
    part = raw.filter(pl.col(FRAMEWORK_COLUMN) == fw.name)
    have = raw.collect_schema()
    hidden = () if identifying else fw.identifying_columns()
    return part.select(
        [_cast(c, have[c], t) for c, t in fw.stored_schema().items() if c not in hidden]
    )


def appended(
    old: pl.DataFrame | None,
    held: tuple[Framework, ...],
    mixed: bool,
    new: list[pl.DataFrame],
    fw: Framework,
) -> tuple[pl.DataFrame, tuple[Framework, ...]]:
    """The store's rows `old` (as `read_raw` gives them: `mixed` says whether it is a union
    frame; `held` its frameworks) with `new` cases of framework `fw` after them, and the
    frameworks the result holds (in the order first ingested)."""
    same = next((f for f in held if f.content_hash == fw.content_hash), None)
    fws = held if same is not None else (*held, fw)
    if len(fws) <= 1:
        return pl.concat(([old] if old is not None else []) + new, how="vertical"), (fw,)
    schema = union_schema(fws)
    parts = []
    if old is not None:
        parts.append(to_union(old, schema, None if mixed else held[0]))
    parts += [to_union(f, schema, same or fw) for f in new]
    return pl.concat(parts, how="vertical"), fws


def _check_columns(path: Path, got: pl.Schema, expected: pl.Schema) -> None:
    if got != expected:
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
    _check_columns(path, pl.Schema(got), _expected_schema(meta, frameworks_of(meta, path)))
    if height != meta["n_cases"]:
        raise _not_ours(path, "its case count does not match its metadata")


def load_cases(
    data: Path | str | None = None,
    identifying: bool = True,
    framework: str | Framework | None = None,
) -> pl.DataFrame:
    """The stored cases with the framework's derived columns: every stored column followed
    by the derived ones (qi-2016: age_group, ethnic_group, ogrs_group, rosh_group,
    n_priorities). Raises BadRequest when there is no store. identifying=False: without
    case_id and notes (what analyses use; see `read_stored`). A mixed store: the cases of
    `framework` (default: the latest ingested; `load_framework(data, framework)`)."""
    _, frame, meta = _read_existing(data, identifying, framework)
    return derive.with_derived(framework_of(meta, cases_path(data), framework), frame)


def load_cases_and_info(
    data: Path | str | None = None,
    identifying: bool = True,
    framework: str | Framework | None = None,
) -> tuple[pl.DataFrame, StoreInfo]:
    """`load_cases(data, identifying, framework)` and `store_info(data)` from one read of
    the store (a report needs both; calling the two reads the Parquet file twice)."""
    path, frame, meta = _read_existing(data, identifying, framework)
    cases = derive.with_derived(framework_of(meta, cases_path(data), framework), frame)
    if is_mixed(meta) or (not identifying and _stored_summary(meta) is None):
        return cases, store_info(data)  # an old store: hash every column
    return cases, _info(path, frame, meta)


def scan_cases_and_info(
    data: Path | str | None = None, framework: str | Framework | None = None
) -> tuple[pl.LazyFrame, StoreInfo]:
    """`load_cases_and_info(data, identifying=False, framework)` without reading the rows:
    a lazy scan of the stored columns but case_id and notes, with the derived columns, and
    the store's info from its metadata. The columns and the row count are checked from the
    Parquet footer here; each analysis then reads only the columns it needs (issue 13: a
    report on 10M cases). A mixed store, or one written before the summary, is loaded."""
    meta = read_meta(data)
    path = resolve_store(data)
    if meta is None:
        raise _missing(path)
    summary = _stored_summary(meta)
    if is_mixed(meta) or summary is None:
        cases, info = load_cases_and_info(data, identifying=False, framework=framework)
        return cases.lazy(), info
    file = cases_path(data)
    _check_data(file, meta)
    fw = framework_of(meta, file, framework)
    hidden = set(fw.identifying_columns())
    scan = _scanning(file).select([c for c in fw.stored_schema() if c not in hidden])
    return derive.with_derived(fw, scan), _info_from(path, meta, summary)


def _read_existing(
    data: Path | str | None, identifying: bool = True, framework: str | Framework | None = None
) -> tuple[Path, pl.DataFrame, dict]:
    """The store's directory, stored frame and metadata; BadRequest when there is no store."""
    got = read_stored(data, identifying, framework)
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
        fw = fw or framework.default()
        self._schema = fw.stored_schema()
        self._plan = _hash_plan(fw)
        self._parts = {name: [hashlib.sha256() for _ in range(3)] for name in self._schema}
        self._pending: pl.DataFrame | None = None
        self.n_rows = 0

    def update(self, frame: pl.DataFrame, last: bool = False) -> ContentHasher:
        """Hash the next rows; `last`: no more follow (so nothing is held back)."""
        frame = frame.select(self._plan.cast)
        self.n_rows += frame.height
        if self._pending is not None:
            frame = pl.concat([self._pending, frame])
        # Bits are packed per batch, so batches end at multiples of 8 rows; the last may
        # end anywhere (packing the rows at once or 8 by 8 then the rest gives the same bytes).
        whole = frame.height if last else frame.height - frame.height % 8
        self._pending = frame.slice(whole) if whole < frame.height else None
        for start in range(0, whole, _HASH_BATCH):  # bounded memory per step
            self._feed(frame.slice(start, min(_HASH_BATCH, whole - start)))
        return self

    def _feed(self, part: pl.DataFrame) -> None:
        import numpy as np

        # Every stream of every column from two selects (a small ingest hashes about a
        # hundred columns: a Polars call per column and stream costs more than the data).
        plan = self._plan
        streams = part.select(plan.streams)
        joined = part.select(plan.joined).row(0) if plan.joined else ()

        def arrays(names: list[str], kind: str) -> dict[str, bytes]:
            if not names:
                return {}
            arr = pl.DataFrame([streams.get_column(n) for n in names]).to_numpy()
            if kind == "bits":  # one bit per row, per column
                arr = np.packbits(arr, axis=0)
            else:
                arr = arr.astype(kind)
            return {n: arr[:, j].tobytes() for j, n in enumerate(names)}

        valid = arrays(plan.valid, "bits")
        values = {
            **arrays(plan.bools, "bits"),
            **arrays(plan.ints, "<i8"),
            **arrays(plan.enums, "<u4"),
            **{n: v.encode("utf-8") for n, v in zip(plan.texts, joined)},
        }
        lengths = arrays(plan.lengths, "<u4")
        for name in self._schema:
            valid_h, values_h, lengths_h = self._parts[name]
            valid_h.update(valid[f"v:{name}"])
            values_h.update(values[f"b:{name}" if f"b:{name}" in values else name])
            if f"l:{name}" in lengths:
                lengths_h.update(lengths[f"l:{name}"])

    def hexdigest(self) -> str:
        if self._pending is not None:  # the last rows (fewer than 8)
            pending, self._pending = self._pending, None
            self._feed(pending)
        h = hashlib.sha256(self.VERSION)
        h.update(f"{self.n_rows}\n".encode())
        for name, tag in zip(self._schema, self._plan.tags):
            h.update(tag)
            for part in self._parts[name]:
                h.update(part.digest())
        return h.hexdigest()


_HASH_BATCH = 131_072  # a multiple of 8; small enough that the per-kind arrays stay small


@dataclass(frozen=True)
class _HashPlan:
    """A framework's hashing expressions, built once (`ContentHasher`). `streams` gives,
    per row, every column's validity ("v:NAME") and the values of Booleans ("b:NAME"),
    integers and dates (int64), Enum codes (uint32) and the UTF-8 lengths of texts
    ("l:NAME"); `joined` each text column's bytes, joined."""

    cast: list[pl.Expr]
    streams: list[pl.Expr]
    joined: list[pl.Expr]
    valid: list[str]
    bools: list[str]
    ints: list[str]
    enums: list[str]
    texts: list[str]
    lengths: list[str]
    tags: list[bytes]  # per column: "NAME:TYPE\n", as the digest takes it


@functools.lru_cache(maxsize=64)
def _plan_for(schema: tuple[tuple[str, pl.DataType], ...]) -> _HashPlan:
    bools = [n for n, t in schema if t == pl.Boolean]
    ints = [n for n, t in schema if t.is_integer() or t == pl.Date]
    enums = [n for n, t in schema if isinstance(t, pl.Enum)]
    typed = {*bools, *ints, *enums}
    texts = [n for n, _ in schema if n not in typed]
    text = [pl.col(n).cast(pl.String).fill_null("") for n in texts]
    return _HashPlan(
        cast=[pl.col(n).cast(t) for n, t in schema],
        streams=[
            *(pl.col(n).is_not_null().alias(f"v:{n}") for n, _ in schema),
            *(pl.col(n).fill_null(False).alias(f"b:{n}") for n in bools),
            *(pl.col(n).to_physical().cast(pl.Int64).fill_null(0) for n in ints),
            *(pl.col(n).to_physical().cast(pl.UInt32).fill_null(0) for n in enums),
            *(t.str.len_bytes().cast(pl.UInt32).alias(f"l:{n}") for n, t in zip(texts, text)),
        ],
        joined=[t.str.join("") for t in text],
        valid=[f"v:{n}" for n, _ in schema],
        bools=[f"b:{n}" for n in bools],
        ints=ints,
        enums=enums,
        texts=texts,
        lengths=[f"l:{n}" for n in texts],
        tags=[f"{n}:{t}\n".encode() for n, t in schema],
    )


def _hash_plan(fw: Framework) -> _HashPlan:
    return _plan_for(tuple(fw.stored_schema().items()))


def content_hash(frame: pl.DataFrame, fw: Framework | None = None) -> str:
    """The content hash of a case frame (`ContentHasher`): the same cases, the same hash."""
    return ContentHasher(fw).update(frame, last=True).hexdigest()


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
    framework: the store's framework name (`load_framework` gives the framework); of a
    mixed store, the latest ingested, and `frameworks` names them all (in a mixed store's
    counts, each row has a `framework` and no lead group).
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
    frameworks: tuple[str, ...] = ()  # every framework held, first ingested first

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        d["first_date"] = self.first_date.isoformat() if self.first_date else None
        d["last_date"] = self.last_date.isoformat() if self.last_date else None
        d["inspections"] = list(self.inspections)
        d["frameworks"] = list(self.frameworks)
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
        got = read_raw(data)
        assert got is not None
        return _info(path, *got)
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
        .collect(engine="in-memory")  # the frame is in memory; streaming's start-up is not free
    )
    dates = frame.select(first.cast(pl.String).alias("first"), last.cast(pl.String).alias("last"))
    return {
        "content_hash": digest or content_hash(frame, fw),
        "inspections": sorted(frame.get_column("inspection").drop_nulls().unique().to_list()),
        "first_date": dates["first"][0],
        "last_date": dates["last"][0],
        "counts": counts.to_dicts(),
    }


def summarise_mixed(raw: pl.DataFrame, fws: tuple[Framework, ...]) -> dict:
    """`summarise` for a mixed store's union frame: the content hash is the sha256 of a
    tag and each framework's name, framework content hash and cases' content hash (in the
    order first ingested); counts are per inspection and framework (`framework` key; lead
    groups differ between frameworks, so there are none)."""
    h = hashlib.sha256(b"hmip-mixed-1\n")
    for fw in fws:
        part = content_hash(_segment(raw, fw), fw)
        h.update(f"{fw.name}\n{fw.content_hash}\n{part}\n".encode())
    date = pl.col("inspection_date").cast(pl.String)
    dated = "inspection_date" in raw.columns
    first = date.min() if dated else pl.lit(None, pl.String)
    last = date.max() if dated else pl.lit(None, pl.String)
    rank = {fw.name: i for i, fw in enumerate(fws)}
    counts = (
        raw.lazy()
        .group_by("inspection", FRAMEWORK_COLUMN)
        .agg(n_cases=pl.len().cast(pl.Int64), first_date=first, last_date=last)
        .with_columns(_r=pl.col(FRAMEWORK_COLUMN).replace_strict(rank, return_dtype=pl.Int32))
        .sort("_r", "inspection", nulls_last=True)
        .select(
            "inspection",
            framework=FRAMEWORK_COLUMN,
            n_cases="n_cases",
            first_date="first_date",
            last_date="last_date",
        )
        .collect()
    )
    dates = raw.select(first.alias("first"), last.alias("last"))
    return {
        "content_hash": h.hexdigest(),
        "inspections": sorted(raw.get_column("inspection").drop_nulls().unique().to_list()),
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
    """`frame`: the store's rows as stored (`read_raw`)."""
    summary = _stored_summary(meta)
    if summary is None:
        fws = frameworks_of(meta, cases_path(path))
        mixed = is_mixed(meta)
        summary = summarise_mixed(frame, fws) if mixed else summarise(frame, fw=fws[0])
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
        frameworks=tuple(r["name"] for r in meta.get("frameworks") or [meta.get("framework") or {}])
        if is_mixed(meta)
        else ((meta.get("framework") or {}).get("name", framework.DEFAULT),),
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
    *,
    frameworks: tuple[Framework, ...] | list[Framework] | None = None,
    crosswalks: list[dict] | None = None,
    checked: bool = False,
) -> None:
    """Replace the store with `frame` (the framework's stored schema) and provenance
    `files` (and the records of files `removed` since, `hmip remove`), atomically; the
    summary `store_info` reports (content hash included) and the framework go into the
    metadata. `fw` default: the store's own framework (qi-2016 for a new store).

    A mixed store: `frame` is a union frame (`appended`, `read_raw`) holding cases of
    `frameworks`; `fw` is the default framework (default: that of the last file), and
    `crosswalks` the records of crosswalks given at ingest (`crosswalk_record`). A
    framework with no case left is dropped; one left makes a store of one framework
    (format 1) again.

    Call it while holding `locked(data)`; `checked`: the caller has read the store (or
    `check_understood`) under this lock, so it is one this hmip understands.
    """
    fws = tuple(frameworks or ())
    if FRAMEWORK_COLUMN in frame.columns and len(fws) > 1:
        present = set(frame.get_column(FRAMEWORK_COLUMN).unique().to_list())
        fws = tuple(f for f in fws if f.name in present) or fws[-1:]
        if fw is None or fw not in fws:
            last = next((f["framework"] for f in reversed(files) if f.get("framework")), None)
            fw = next((f for f in fws if f.name == last), fws[-1])
    fw = fw or load_framework(data)
    if len(fws) > 1:
        frame = to_union(frame, union_schema(fws))
        meta = {
            "format": STORE_FORMAT,
            "n_cases": frame.height,
            "framework": framework_record(fw),
            "frameworks": [framework_record(f) for f in fws],
            "files": files,
            "summary": summarise_mixed(frame, fws),
        }
        if crosswalks:
            meta["crosswalks"] = crosswalks
    else:
        if FRAMEWORK_COLUMN in frame.columns:  # a mixed store down to one framework
            frame = _segment(frame, fw)
        frame = frame.select(list(fw.stored_schema())).cast(fw.stored_schema())
        meta = {
            "format": SINGLE_FORMAT,
            "n_cases": frame.height,
            "framework": framework_record(fw),
            "files": files,
            "summary": summarise(frame, fw=fw),
        }
    if removed:  # older hmips read the store as before (they ignore the key)
        meta["removed"] = removed
    # Whether the cases are `hmip synth` output, so a report need not read ids and notes.
    from hmip_cli.report.provenance import is_synthetic

    meta["synthetic"] = is_synthetic(frame)
    payload = {META_KEY: json.dumps(meta, ensure_ascii=False)}
    target = cases_path(data)
    if not checked:
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
