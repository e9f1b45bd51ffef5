"""Where a report's numbers came from: the store, the parameters, the software, the date.

Every output (HTML, Markdown, XLSX, SVG/PNG metadata-free figures aside) carries one
`Provenance`. The date is a calendar date, never a time, and can be fixed (`--date`, or
the SOURCE_DATE_EPOCH convention of reproducible builds) so the same store and the same
options give byte-identical reports.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field

from hmip_cli import __version__
from hmip_cli.errors import BadRequest


def report_date(date: str | dt.date | None = None) -> dt.date:
    """The report's date: `date` if given (YYYY-MM-DD), else SOURCE_DATE_EPOCH (UTC), else today."""
    if isinstance(date, dt.date):
        return date
    if date:
        try:
            return dt.date.fromisoformat(date)
        except ValueError:
            raise BadRequest(f"--date must be YYYY-MM-DD, got {date!r}") from None
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date()
        except (ValueError, OverflowError, OSError):
            raise BadRequest(
                f"SOURCE_DATE_EPOCH must be whole seconds since 1970, got {epoch!r}"
            ) from None
    return dt.date.today()


@dataclass(frozen=True)
class Provenance:
    """What a reader needs to trace a report back to its data.

    content_hash: sha256 of the stored cases (store.content_hash), or None when the report
    was built from a frame that did not come from a store.
    parameters: the options that change the numbers (min_n, suppress, fdr, pin, pout, ...).
    """

    content_hash: str | None
    n_cases: int
    inspections: tuple[str, ...]
    first_date: dt.date | None
    last_date: dt.date | None
    date: dt.date
    hmip_version: str = __version__
    parameters: dict = field(default_factory=dict)
    files: tuple[str, ...] = ()  # basenames of the ingested files, in ingest order
    synthetic: bool = False  # the cases were made by `hmip synth` (see `is_synthetic`)
    selection: str | None = None  # the --where selection in words, if any

    def items(self) -> list[tuple[str, str]]:
        """(label, text) pairs in display order, shared by every writer."""
        period = ""
        if self.first_date and self.last_date:
            period = f"{self.first_date.isoformat()} to {self.last_date.isoformat()}"
        params = "; ".join(f"{k} = {_text(v)}" for k, v in self.parameters.items())
        rows = [
            *(
                [("Data", "SYNTHETIC (made by hmip synth; not real case assessments)")]
                if self.synthetic
                else []
            ),
            *([("Cases selected", self.selection)] if self.selection else []),
            ("Report date", self.date.isoformat()),
            ("Cases", f"{self.n_cases:,}"),
            (
                "Inspections covered",
                f"{len(self.inspections)}: " + ", ".join(self.inspections)
                if self.inspections
                else "0",
            ),
            ("Inspection dates", period or "not recorded"),
            ("Store content hash (sha256)", self.content_hash or "not from a store"),
            ("Files ingested", ", ".join(self.files) if self.files else "not recorded"),
            ("hmip version", self.hmip_version),
            ("Parameters", params),
        ]
        return rows

    def to_dict(self) -> dict:
        return {
            "content_hash": self.content_hash,
            "n_cases": self.n_cases,
            "inspections": list(self.inspections),
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "date": self.date.isoformat(),
            "hmip_version": self.hmip_version,
            "parameters": dict(self.parameters),
            "files": list(self.files),
            "synthetic": self.synthetic,
            "selection": self.selection,
        }


def _text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


# Case ids `hmip synth` writes: SYN-000001 (generate) and SYX-000001 (the messy export).
# The marker lives here, not in synth, so checking a store does not import NumPy.
NOTE_MARKER = "SYNTHETIC NOTE"  # every generated note starts with this (leak tests grep it)
_SYNTH_ID = r"^(SYN|SYX)-[0-9]+$"


_PEEK = 10_000  # rows read first: on a synthetic store they answer (issue 13)


def is_synthetic(cases) -> bool:
    """True when the cases are `hmip synth` output (the bundled example is too): every case
    id has the generator's form (SYN-000001, SYX-000001), or a free-text note carries the
    generator's marker. Real exports have neither. Only ever answers yes or no: no id or
    note leaves this function.

    `cases`: a frame or a lazy scan (a store's). Only the two columns are read, and the
    first rows first: a marked note there says yes, an id of another form leaves only the
    notes to look at; the rest is read only when the first rows do not answer."""

    lf = cases.lazy()
    cols = [c for c in ("case_id", "notes") if c in lf.collect_schema().names()]
    if not cols:
        return False
    lf = lf.select(cols)
    head = lf.head(_PEEK).collect()
    if head.height == 0:
        return False
    ids, marked = _synthetic_checks(head)
    if marked or head.height < _PEEK:  # answered, or that was every case
        return ids or marked
    if "case_id" in cols and not ids:  # not every id is the generator's: only a note can say so
        return "notes" in cols and bool(lf.select(_marked_note().any()).collect().item())
    ids, marked = _synthetic_checks(lf)
    return ids or marked


def _marked_note():
    import polars as pl

    return pl.col("notes").cast(pl.String).str.starts_with(NOTE_MARKER).fill_null(False)


def _synthetic_checks(frame) -> tuple[bool, bool]:
    """(every case id has the generator's form, some note carries its marker) of `frame`'s
    case_id and notes columns (False for a column it lacks); `frame` may be lazy."""
    import polars as pl

    lf = frame.lazy()
    names = lf.collect_schema().names()
    checks = [
        pl.col("case_id").cast(pl.String).str.contains(_SYNTH_ID).all()
        if "case_id" in names
        else pl.lit(False),
        _marked_note().any() if "notes" in names else pl.lit(False),
    ]
    ids, marked = lf.select(checks).collect().row(0)
    return bool(ids), bool(marked)


def from_store_info(info, date: dt.date, parameters: dict) -> Provenance:
    """Provenance from `store.store_info(...)`."""
    return Provenance(
        content_hash=info.content_hash,
        n_cases=info.n_cases,
        inspections=tuple(info.inspections),
        first_date=info.first_date,
        last_date=info.last_date,
        date=date,
        parameters=parameters,
        files=tuple(str(f.get("source", "")) for f in info.files),
    )


def from_cases(cases, date: dt.date, parameters: dict) -> Provenance:
    """Provenance for a case frame that did not come from a store (no content hash)."""
    import polars as pl

    from hmip_cli import store

    insp = tuple(sorted(cases.get_column("inspection").drop_nulls().unique().to_list()))
    dates = cases.select(
        pl.col("inspection_date").min().alias("a"), pl.col("inspection_date").max().alias("b")
    )
    try:
        digest = store.content_hash(cases)
    except Exception:  # noqa: BLE001 - a frame missing stored columns: no hash rather than no report
        digest = None
    return Provenance(
        content_hash=digest,
        n_cases=cases.height,
        inspections=insp,
        first_date=dates["a"][0],
        last_date=dates["b"][0],
        date=date,
        parameters=parameters,
    )
