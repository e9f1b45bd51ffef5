"""ingest_files: read -> map -> validate -> check against each other and the store -> write."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from hmip_cli import __version__, schema, store
from hmip_cli.errors import MAX_LINES, Problem, ValidationFailed, capped, sort_problems
from hmip_cli.ingest.layout import not_a_header
from hmip_cli.ingest.mapping import Mapped, Mapping, apply_mapping, load_mapping, normalise_header
from hmip_cli.ingest.readers import ROW, RawFile, check_path, clean_header, read_file
from hmip_cli.ingest.validate import Secrets, validate
from hmip_cli.privacy import quote_name

Progress = Callable[[str, int, int], None]  # (what is happening, steps done, steps in all)

_STEPS_PER_FILE = 3  # read, map + validate, checks; plus one final step for writing


@dataclass(frozen=True)
class IngestResult:
    """What an ingest did. `files` are the provenance records added to the store."""

    store: Path
    cases_added: int
    n_cases: int
    files: list[dict] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "store": str(self.store),
            "cases_added": self.cases_added,
            "n_cases": self.n_cases,
            "files": self.files,
            "warnings": [str(w) for w in self.warnings],
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
) -> IngestResult:
    """Validate `paths` and add their cases to the store at `data` (see `store.resolve_store`).

    All files are checked before anything is written; any error (or, with `strict`, any
    warning) raises `ValidationFailed` carrying every problem found, and the store is left
    exactly as it was. `"-"` reads CSV from `stdin` (default: sys.stdin). Options given
    here override the mapping's [file] values.
    """
    names = [str(p) for p in paths]
    if not names:
        from hmip_cli.errors import BadRequest

        raise BadRequest("no files given")
    for name in names:  # usage mistakes before any work
        check_path(name)
    if isinstance(mapping, (str, Path)):
        mapping = load_mapping(mapping)
    fileopts = mapping.file if mapping else {}
    sheet = sheet or fileopts.get("sheet")
    encoding = encoding or fileopts.get("encoding")
    total = _STEPS_PER_FILE * len(names) + 1
    step = 0

    def tick(what: str) -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(what, step, total)

    with store.locked(data) as directory:
        if replace_store:  # --replace never overwrites a store hmip cannot read
            store.check_understood(data)
        existing = None if replace_store else store.read_stored(data)
        old_frame, old_meta = existing if existing else (None, {"files": []})
        problems: list[Problem] = []
        frames: list[tuple[str, pl.DataFrame]] = []
        records: list[dict] = []
        seen_hashes = {f["sha256"]: f for f in old_meta.get("files", [])}
        for path in names:
            raw = read_file(path, sheet=sheet, encoding=encoding, stdin=stdin)
            tick(f"read {raw.name}")
            problems += raw.problems
            if raw.sha256 in seen_hashes:
                earlier = seen_hashes[raw.sha256]
                when = earlier.get("ingested_at", "in this run")
                problems.append(
                    Problem(
                        raw.name,
                        None,
                        None,
                        None,
                        f"this file was already ingested (as {earlier['source']}, {when}); "
                        "nothing new to add (use --replace to start the store afresh)",
                    )
                )
                tick(f"checked {raw.name}")
                tick(f"checked {raw.name}")
                continue
            mapped = apply_mapping(raw.frame, raw.headers, mapping, inspection=inspection)
            n_known = len(raw.headers) - len(mapped.unknown) - len(mapped.ignored)
            layout = not_a_header(raw, n_known, mapping)
            if layout is not None:  # nothing else about this file means anything
                problems = [p for p in problems if p.file != raw.name] + [layout]
                tick(f"checked {raw.name}")
                tick(f"checked {raw.name}")
                continue
            secret_columns = _secret_columns(raw)
            problems += _column_problems(raw, mapped, Secrets(secret_columns))
            checked = validate(raw.name, mapped.frame, mapped.origin, secret_columns)
            tick(f"validated {raw.name}")
            problems += checked.problems
            frames.append((raw.name, checked.frame))
            record = {
                "source": raw.source,
                "sha256": raw.sha256,
                "rows": checked.frame.height,
                "ingested_at": datetime.now(UTC)
                .isoformat(timespec="seconds")
                .replace("+00:00", "Z"),
                "hmip_version": __version__,
                "mapping": mapping.to_dict() if mapping else None,
                "inspections": sorted(
                    set(checked.frame.get_column("inspection").drop_nulls().to_list())
                ),
            }
            seen_hashes[raw.sha256] = {**record, "ingested_at": "earlier in this command"}
            records.append(record)
            tick(f"checked {raw.name}")

        problems += _cross_duplicates(frames, old_frame)
        problems = sort_problems(problems)
        if strict:
            problems = [replace(p, severity="error") for p in problems]
        if any(p.severity == "error" for p in problems):
            raise ValidationFailed(problems)
        warnings = [p for p in problems if p.severity == "warning"]

        new = [f.drop(ROW) for _, f in frames]
        added = sum(f.height for f in new)
        combined = pl.concat(([old_frame] if old_frame is not None else []) + new, how="vertical")
        files = list(old_meta.get("files", [])) + records
        store.write_store(data, combined, files)
        tick("written")
        return IngestResult(directory, added, combined.height, records, warnings)


UNKNOWN_HINT = (
    "unknown column (`hmip schema` lists hmip's columns: rename it, map it with --mapping, "
    'or leave it out with "" in the mapping\'s [columns]; docs/mapping.md)'
)


def _column_problems(raw: RawFile, mapped: Mapped, secrets: Secrets) -> list[Problem]:
    """Header cells that map to nothing or clash, capped, with the fix said once.

    A header cell that is a case id or a note of the file (a row of data moved up) is
    named by its position, not its text."""
    name = raw.name
    hidden = secrets.among(mapped.unknown[: MAX_LINES + 1])
    position = {h: i + 1 for i, h in enumerate(raw.headers)}

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


def _secret_columns(raw: RawFile) -> list[pl.Series]:
    """The file's own id and notes columns, by their header, wherever the mapping sends
    them: a notes column mapped onto `mappa` by mistake still must not be quoted."""
    private = {"notes", *schema.IDENTIFYING_COLUMNS}
    return [
        raw.frame.get_column(h)
        for h in raw.headers
        if normalise_header(clean_header(h)) in private and h in raw.frame.columns
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
    for name, frame in frames:
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
        earlier.append((name, ids.unique("case_id", keep="first")))
    return problems
