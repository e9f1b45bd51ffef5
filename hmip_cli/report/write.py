"""Write a built report to a file, in the format its name (or the caller) asks for."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from hmip_cli.errors import BadRequest
from hmip_cli.fileio import atomic_write_bytes
from hmip_cli.report import charts
from hmip_cli.report import content as C
from hmip_cli.report.workbook import Release


class ReportFormat(str, Enum):
    html = "html"
    markdown = "markdown"
    xlsx = "xlsx"
    ods = "ods"


_EXTENSIONS = {
    ".html": ReportFormat.html,
    ".htm": ReportFormat.html,
    ".md": ReportFormat.markdown,
    ".markdown": ReportFormat.markdown,
    ".xlsx": ReportFormat.xlsx,
    ".ods": ReportFormat.ods,
}


def infer_format(path: Path, fmt: ReportFormat | str | None = None) -> ReportFormat:
    """The format `fmt` names, else the one the file name's extension names. A known
    extension that contradicts `fmt` is a usage error (`--format xlsx -o report.ods`)."""
    got = _EXTENSIONS.get(Path(path).suffix.lower())
    if fmt:
        chosen = ReportFormat(fmt)
        if got is not None and got is not chosen:
            raise BadRequest(
                f"--format {chosen.value} contradicts the file name {Path(path).name!r} "
                f"(which means {got.value}): drop --format or change the extension"
            )
        return chosen
    if got is None:
        raise BadRequest(
            f"cannot tell the report format from {Path(path).name!r}: use a .html, .md, .xlsx "
            "or .ods name, or --format html|markdown|xlsx|ods"
        )
    return got


def write_report(
    report: C.Report,
    path: Path,
    fmt: ReportFormat | str | None = None,
    release: Release | None = None,
) -> list[Path]:
    """Write `report` to `path` (atomically); return every file written (Markdown also writes
    its figures to `<stem>_figures/`). `release`: the cover text (`read_release`)."""
    path = Path(path)
    fmt = infer_format(path, fmt)
    # The report first: a full disk then fails on the file the user named, before anything
    # is replaced; the audit log (a few KiB) follows it.
    written = _write(report, path, fmt, release)
    return [*written, *write_audit(report, path)]


def audit_path(path: Path) -> Path:
    """Where the disclosure audit log goes: `report.html` -> `report.disclosure-audit.csv`."""
    return path.with_name(f"{path.stem}.disclosure-audit.csv")


def write_audit(report: C.Report, path: Path) -> list[Path]:
    """The disclosure audit log beside the report: one row per suppressed cell (which cell,
    primary or secondary, which rule); never the suppressed value."""
    import io

    import polars as pl

    d = report.disclosure
    if d is None:
        return []
    frame = pl.DataFrame(
        [e.to_dict() for e in d.audit],
        schema={"cell": pl.String, "reason": pl.String, "rule": pl.String},
    )
    buf = io.BytesIO()
    frame.write_csv(buf)
    target = audit_path(path)
    atomic_write_bytes(target, buf.getvalue())
    return [target]


def _write(report: C.Report, path: Path, fmt: ReportFormat, release) -> list[Path]:
    if fmt is ReportFormat.xlsx:
        from hmip_cli.report.xlsx import write_xlsx

        return write_xlsx(report, path, release)
    if fmt is ReportFormat.ods:
        from hmip_cli.report.ods import write_ods

        return write_ods(report, path, release)
    svgs = {
        n: charts.figure_svg(d, n, min_n=report.params.min_n, fw=report.params.fw)
        for n, d in report.figures.items()
    }
    if fmt is ReportFormat.markdown:
        from hmip_cli.report.markdown import write_markdown

        return write_markdown(report, path, svgs)
    from hmip_cli.report.html import render_html

    atomic_write_bytes(path, render_html(report, svgs).encode("utf-8"))
    return [path]


def report_from_store(
    data: Path | None,
    path: Path,
    params: C.ReportParams | None = None,
    fmt: ReportFormat | str | None = None,
    progress=None,
    *,
    release: Release | None = None,
    where=None,
    title: str | None = None,
    framework: str | None = None,
) -> tuple[C.Report, list[Path]]:
    """Scan the store, build the report once and write it: what `hmip report` and
    `hmip demo --report` do. Returns the report and the files written. `title` (else the
    release file's title) replaces the default title everywhere. A store of several
    frameworks: the report is of `framework`'s cases (default: the latest ingested)."""
    from hmip_cli import store

    kind = infer_format(path, fmt)
    params = _for_framework(params, store.load_framework(data, framework))
    # A lazy scan: each analysis reads only the columns it needs (issue 13).
    cases, info = store.scan_cases_and_info(data, framework=framework)
    rep = C.build_report(
        cases,
        info=info,
        params=params,
        progress=progress,
        where=where,
        title=title or (release.title if release else None),
        synthetic=_store_is_synthetic(data),
    )
    return rep, write_report(rep, path, kind, release)


def _for_framework(params: C.ReportParams | None, fw) -> C.ReportParams:
    """`params` for the store's framework `fw` (default candidates become its own)."""
    import dataclasses

    if params is None:
        return C.ReportParams(fw=fw)
    if params.fw.content_hash == fw.content_hash:
        return params
    default = params.candidates == params.fw.candidates()
    return dataclasses.replace(params, fw=fw, candidates=None if default else params.candidates)


def _store_is_synthetic(data) -> bool:
    """Whether the store holds `hmip synth` output (its ids and notes say so; they are read
    here for that yes/no only and never passed on). Recorded at ingest in the metadata;
    a store written before that is scanned (its two columns, the first rows first)."""
    from hmip_cli import store
    from hmip_cli.report.provenance import is_synthetic

    meta = store.read_meta(data)
    if meta is None:
        return False
    recorded = meta.get("synthetic")
    if isinstance(recorded, bool):
        return recorded
    import polars as pl

    return is_synthetic(pl.scan_parquet(store.cases_path(data)))  # every framework's ids
