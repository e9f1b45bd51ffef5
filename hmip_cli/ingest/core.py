"""ingest_files: read -> map -> validate -> check against each other and the store -> write."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from hmip_cli import __version__, framework, store
from hmip_cli.errors import MAX_LINES, Problem, ValidationFailed, capped, sort_problems
from hmip_cli.framework.crosswalk import Crosswalk
from hmip_cli.framework.model import Framework
from hmip_cli.ingest.layout import not_a_header
from hmip_cli.ingest.mapping import Mapped, Mapping, apply_mapping, load_mapping, normalise_header
from hmip_cli.ingest.readers import (
    ROW,
    STDIN,
    STDIN_NAME,
    RawFile,
    Source,
    check_path,
    clean_header,
    open_file,
)
from hmip_cli.ingest.validate import Validator
from hmip_cli.privacy import quote_name

Progress = Callable[[str, int, int], None]  # (what is happening, steps done, steps in all)


@dataclass(frozen=True)
class IngestResult:
    """What an ingest did. `files` are the provenance records added to the store."""

    store: Path
    cases_added: int
    n_cases: int
    files: list[dict] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    frameworks: tuple[Framework, ...] = ()  # every framework the store now holds

    def to_dict(self) -> dict:
        return {
            "store": str(self.store),
            "cases_added": self.cases_added,
            "n_cases": self.n_cases,
            "files": self.files,
            "warnings": [str(w) for w in self.warnings],
            "frameworks": [f.name for f in self.frameworks],
        }


def ingest_files(
    paths: Sequence[str | Path],
    data: Path | str | None = None,
    mapping: Mapping | str | Path | None = None,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    inspection: str | None = None,
    replace_store: bool = False,
    strict: bool = False,
    progress: Progress | None = None,
    stdin=None,
    framework_: Framework | str | Path | None = None,
    crosswalks: Sequence[str | Path] = (),
) -> IngestResult:
    """Validate `paths` and add their cases to the store at `data` (see `store.resolve_store`).

    All files are checked before anything is written; any error (or, with `strict`, any
    warning) raises `ValidationFailed` carrying every problem found, and the store is left
    exactly as it was. `"-"` reads CSV from `stdin` (default: sys.stdin). Options given
    here override the mapping's [file] values.

    `framework_` (a Framework, a shipped name or a framework file) says what the cases
    look like; the store records it (and each file's). Default: the store's framework
    (of a mixed store, the latest ingested; qi-2016 for a new store). Files of another
    framework than the store's join it (a mixed store) where a crosswalk links that
    framework to each framework in the store: a shipped one, or one of `crosswalks`
    (names or files; the store records those); else they are refused (start afresh with
    `replace_store`, or use another store).
    """
    names = [str(p) for p in paths]
    if not names:
        from hmip_cli.errors import BadRequest

        raise BadRequest("no files given")
    for name in names:  # usage mistakes before any work
        check_path(name)
    requested = framework.load(framework_) if isinstance(framework_, (str, Path)) else framework_
    given = [_given_crosswalk(c) for c in crosswalks]
    fw = _framework_for(data, requested, replace_store, given)
    if isinstance(mapping, (str, Path)):
        mapping = load_mapping(mapping, fw)
    fileopts = mapping.file if mapping else {}
    sheet = sheet or fileopts.get("sheet")
    encoding = encoding or fileopts.get("encoding")
    # Progress in bytes of input (a file's batches as they are read), then the writing.
    sizes = [_size(name) for name in names]
    total = sum(sizes) + max(1, sum(sizes) // 10)
    done = 0

    def tick(what: str, n_bytes: int) -> None:
        nonlocal done
        done = min(done + n_bytes, total)
        if progress is not None:
            progress(what, done, total)

    with store.locked(data) as directory:
        if replace_store:  # --replace never overwrites a store hmip cannot read
            store.check_understood(data)
        existing = None if replace_store else store.read_raw(data)
        old_frame, old_meta = existing if existing else (None, {"files": []})
        if existing is not None:  # the store may have changed since we looked
            fw = _framework_for(data, requested, replace_store, given, old_meta)
        problems: list[Problem] = []
        frames: list[tuple[str, pl.DataFrame]] = []
        records: list[dict] = []
        seen_hashes = {f["sha256"]: f for f in old_meta.get("files", [])}
        for path, size in zip(names, sizes):
            at, start = len(problems), done
            checked = _check_file(path, mapping, sheet, encoding, inspection, stdin, tick, fw)
            tick(f"checked {checked.name}", max(0, start + size - done))
            problems += checked.read_problems
            if checked.sha256 in seen_hashes:  # nothing else about it matters
                earlier = seen_hashes[checked.sha256]
                when = earlier.get("ingested_at", "in this run")
                problems.append(
                    Problem(
                        checked.name,
                        None,
                        None,
                        None,
                        f"this file was already ingested (as {earlier['source']}, {when}); "
                        "nothing new to add (use --replace to start the store afresh)",
                    )
                )
                continue
            if checked.frame is None:  # only the layout problem: nothing else means anything
                problems[at:] = checked.problems
                continue
            problems += checked.problems
            frames.append((checked.name, checked.frame))
            record = {
                "source": checked.source,
                "sha256": checked.sha256,
                "rows": checked.frame.height,
                "ingested_at": datetime.now(UTC)
                .isoformat(timespec="seconds")
                .replace("+00:00", "Z"),
                "hmip_version": __version__,
                "mapping": mapping.to_dict() if mapping else None,
                "inspections": checked.inspections,
                "framework": fw.name,
            }
            seen_hashes[checked.sha256] = {**record, "ingested_at": "earlier in this command"}
            records.append(record)

        problems += _cross_duplicates(frames, old_frame)
        problems = sort_problems(problems)
        if strict:
            problems = [replace(p, severity="error") for p in problems]
        if any(p.severity == "error" for p in problems):
            raise ValidationFailed(problems)
        warnings = [p for p in problems if p.severity == "warning"]

        new = [f.drop(ROW) for _, f in frames]
        added = sum(f.height for f in new)
        held = store.frameworks_of(old_meta) if existing else ()
        mixed = store.is_mixed(old_meta) if existing else False
        combined, fws = store.appended(old_frame, held, mixed, new, fw)
        files = list(old_meta.get("files", [])) + records
        removed = old_meta.get("removed")
        walks = _crosswalk_records(old_meta, given, fws)
        del frames, new, old_frame
        # (read_raw or check_understood above, under this lock: a store hmip understands)
        store.write_store(
            data, combined, files, removed, fw, frameworks=fws, crosswalks=walks, checked=True
        )
        tick("written", total)
        return IngestResult(directory, added, combined.height, records, warnings, fws)


def _size(name: str) -> int:
    try:
        return 1 if name == STDIN else max(1, Path(name).stat().st_size)
    except OSError:
        return 1


@dataclass
class _Checked:
    """One file read and validated: its typed cases (None when its row 1 is not a header),
    every problem found in it (reader's, columns', rows'), its hash and inspections."""

    name: str
    source: str
    sha256: str
    frame: pl.DataFrame | None
    read_problems: list[Problem]  # the reader's
    problems: list[Problem]  # all the others
    inspections: list[str]


def _check_file(
    path: str,
    mapping: Mapping | None,
    sheet: str | None,
    encoding: str | None,
    inspection: str | None,
    stdin,
    tick: Callable[[str, int], None],
    fw: Framework,
) -> _Checked:
    """Read, map and validate one file batch by batch (see readers.open_file): only one
    batch of text is held at a time; the typed batches are kept for the store."""
    src = open_file(path, sheet=sheet, encoding=encoding, stdin=stdin)
    problems: list[Problem] = []
    typed: list[pl.DataFrame] = []
    validator: Validator | None = None
    first: Mapped | None = None
    blanks_filled: dict[str, int] = {}
    inspections: set[str] = set()
    for raw in src.batches():
        mapped = apply_mapping(raw.frame, raw.headers, mapping, inspection=inspection, fw=fw)
        for col, _source, n_blank in mapped.filled:
            blanks_filled[col] = blanks_filled.get(col, 0) + n_blank
        if validator is None:
            first = mapped
            n_known = len(raw.headers) - len(mapped.unknown) - len(mapped.ignored)
            layout = not_a_header(raw, n_known, mapping, fw)
            if layout is not None:  # nothing else about this file means anything
                return _Checked(src.name, src.source, _finish_hash(src), None, [], [layout], [])
            validator = Validator(raw.name, mapped.origin, mapped.frame.columns, fw)
        secret_columns = _secret_columns(raw, fw, mapped, mapping)
        batch = validator.batch(mapped.frame, secret_columns)
        typed.append(batch)
        inspections.update(batch.get_column("inspection").drop_nulls().unique().to_list())
        tick(f"validated {src.name}: {src.n_rows:,} cases", raw.n_bytes)
    assert validator is not None and first is not None
    filled = [(c, s, blanks_filled[c]) for c, s, _ in first.filled]
    problems += _column_problems(src.name, raw.headers, replace(first, filled=filled), validator)
    problems += validator.finish()
    frame = pl.concat(typed, rechunk=False) if len(typed) > 1 else typed[0]
    return _Checked(
        src.name, src.source, src.sha256, frame, src.problems, problems, sorted(inspections)
    )


def _finish_hash(src: Source) -> str:
    """The file's hash when it is not read to the end (its header is not a header)."""
    if src.sha256:
        return src.sha256
    import hashlib

    if src.name == STDIN_NAME:
        return ""
    with open(src.name, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


UNKNOWN_HINT = (
    "unknown column (`hmip schema` lists hmip's columns: rename it, map it with --mapping, "
    'or leave it out with "" in the mapping\'s [columns]; docs/mapping.md)'
)


def _column_problems(
    name: str, headers: list[str], mapped: Mapped, validator: Validator
) -> list[Problem]:
    """Header cells that map to nothing or clash, capped, with the fix said once.

    A header cell that is a case id or a note of the file (a row of data moved up) is
    named by its position, not its text."""
    hidden = validator.secrets.among(mapped.unknown[: MAX_LINES + 1])
    position = {h: i + 1 for i, h in enumerate(headers)}

    def shown(h: str) -> str:
        return h if h not in hidden else f"#{position.get(h, '?')}"

    # The fix is said once, on the first: one line per unknown column, not one hint each.
    unknown = [
        Problem(name, None, shown(h), None, UNKNOWN_HINT if i == 0 else "unknown column")
        for i, h in enumerate(mapped.unknown)
    ]
    out = capped(unknown, "unknown columns")
    clashes = [
        Problem(
            name,
            None,
            h,
            None,
            f"both {quote_name(shown(other))} and {quote_name(shown(h))} would be column {ours!r}",
        )
        for h, ours, other in mapped.clashes
    ]
    out += capped(clashes, "headers that clash")
    for col, source, n_blank in mapped.filled:
        what = (
            f"fills only its {n_blank:,} blank cell(s)" if n_blank else "was not used (no blanks)"
        )
        out.append(
            Problem(
                name,
                None,
                mapped.origin.get(col, col),
                None,
                f"the file has its own {col} column, so {source} {what}; the file's values "
                "win (leave the option out, or empty the column, to use it everywhere)",
                "warning",
            )
        )
    return out


def _framework_for(
    data: Path | str | None,
    requested: Framework | None,
    replace_store: bool,
    given: Sequence[tuple[Crosswalk, str]] = (),
    meta: dict | None = None,
) -> Framework:
    """The framework the files are read with: the requested one, else the store's (the
    latest ingested). One the store does not hold joins it only where a crosswalk links
    it to each framework the store holds; another version of one it holds never does.
    `meta`: the store's metadata, when the caller has just read it."""
    if replace_store:
        return requested or framework.default()
    if meta is None:
        meta = store.read_meta(data)
    current = store.framework_of(meta)
    if meta is None or requested is None:
        return requested or current
    held = store.frameworks_of(meta)
    same = next((f for f in held if f.content_hash == requested.content_hash), None)
    if same is not None:
        return same
    from hmip_cli.errors import BadRequest

    where = store.resolve_store(data)
    names = ", ".join(repr(f.name) for f in held)
    names = f"the framework {names}" if len(held) == 1 else f"the frameworks {names}"
    if any(f.name == requested.name for f in held):
        raise BadRequest(
            f"the store at {where} holds cases of the framework {requested.name!r}; "
            f"--framework gives another version of the framework {requested.name!r}: ingest "
            "into another store (--data DIR), or start this one afresh with --replace"
        )
    unlinked = [f.name for f in held if _link(f, requested, meta, given) is None]
    if unlinked:
        raise BadRequest(
            f"the store at {where} holds cases of {names}; --framework "
            f"gives {requested.name!r}, and no crosswalk links it to {', '.join(unlinked)}, "
            "so their trends could not be compared: give one with --crosswalk FILE "
            "(docs/frameworks.md), ingest into another store (--data DIR), or start this "
            "one afresh with --replace"
        )
    return requested


def _given_crosswalk(name_or_file: str | Path) -> tuple[Crosswalk, str]:
    """A crosswalk given at ingest and its text (a shipped name or a .toml file)."""
    cw = framework.load_crosswalk(name_or_file)
    text = str(name_or_file)
    if isinstance(name_or_file, Path) or text.endswith(".toml") or "/" in text:
        return cw, Path(text).read_text(encoding="utf-8")
    return cw, ""  # shipped: hmip has it, the store need not keep it


def _link(
    a: Framework, b: Framework, meta: dict, given: Sequence[tuple[Crosswalk, str]]
) -> Crosswalk | None:
    """A crosswalk between `a` and `b`: given now, recorded in the store, or shipped."""
    for cw in [*(c for c, _ in given), *store.crosswalks_of(meta)]:
        if {cw.source, cw.target} == {a.name, b.name}:
            return cw
    return framework.crosswalk_between(a.name, b.name)


def _crosswalk_records(
    meta: dict, given: Sequence[tuple[Crosswalk, str]], fws: tuple[Framework, ...]
) -> list[dict]:
    """The store's crosswalk records after this ingest: those it had, and those given now
    (files only) that link two of its frameworks, one per pair (the newest wins)."""
    names = {f.name for f in fws}
    out: dict[frozenset, dict] = {}
    for rec in meta.get("crosswalks") or []:
        out[frozenset((rec["from"], rec["to"]))] = rec
    for cw, text in given:
        pair = frozenset((cw.source, cw.target))
        if text and pair <= names:
            out[pair] = store.crosswalk_record(cw, text)
    return [r for pair, r in out.items() if pair <= names]


def _secret_columns(
    raw: RawFile, fw: Framework, mapped: Mapped, mapping: Mapping | None
) -> list[pl.Series]:
    """The file's own id and notes columns, by their header, wherever the mapping sends
    them: a notes column mapped onto `mappa` by mistake still must not be quoted. One that
    becomes that very column unchanged is left out: the validator notes it already."""
    private = {"notes", *fw.identifying_columns()}
    recoded = mapping.values if mapping else {}
    same = {
        h
        for ours, h in mapped.origin.items()
        if ours in fw.identifying_columns() and not recoded.get(ours)
    }
    return [
        raw.frame.get_column(h)
        for h in raw.headers
        if normalise_header(clean_header(h)) in private and h in raw.frame.columns and h not in same
    ]


def _cross_duplicates(
    frames: list[tuple[str, pl.DataFrame]], old: pl.DataFrame | None
) -> list[Problem]:
    """Case ids that repeat across the files of one call, or are already in the store."""
    problems: list[Problem] = []
    earlier: list[tuple[str, pl.DataFrame]] = []
    if old is not None:
        earlier.append(
            ("the store", old.select(pl.col("case_id"), pl.lit(None, pl.UInt32).alias(ROW)))
        )
    for i, (name, frame) in enumerate(frames):
        last = i == len(frames) - 1
        if last and not earlier:  # one file, a new store: nothing to compare with
            break
        ids = frame.select("case_id", ROW).filter(pl.col("case_id").is_not_null())
        for where, prev in earlier:
            hits = ids.join(prev.rename({ROW: "__prev"}), on="case_id", how="inner").sort(ROW)
            for rec in hits.head(MAX_LINES).iter_rows(named=True):
                at = (
                    "already in the store"
                    if rec["__prev"] is None
                    else f"also in {where}, row {rec['__prev']}"
                )
                problems.append(
                    Problem(name, rec[ROW], "case_id", None, f"duplicate case id: {at}")
                )  # id not shown: row is enough
            if hits.height > MAX_LINES:
                problems.append(
                    Problem(
                        name,
                        None,
                        "case_id",
                        None,
                        f"... and {hits.height - MAX_LINES:,} more case ids that are also "
                        f"in {where}",
                        summary=True,
                        more=hits.height - MAX_LINES,
                    )
                )
        if not last:
            earlier.append((name, ids.unique("case_id", keep="first")))
    return problems
