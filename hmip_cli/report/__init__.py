"""The bulletin as a product: key findings, figures, and HTML / Markdown / XLSX reports.

    from hmip_cli import store
    from hmip_cli.report import ReportParams, build_report, write_report
    rep = build_report(store.load_cases(), info=store.store_info(), params=ReportParams(date="2019-01-31"))
    [f.text for f in rep.key_findings]
    write_report(rep, Path("report.html"))          # or .md / .xlsx

The analyses run once in `build_report`; every writer reuses them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hmip_cli.report.content import DocTable, Report, ReportParams, build_report, figure_data
    from hmip_cli.report.findings import Evidence, Finding, key_findings

# Loaded on first use: commands that only need report.provenance or report.shorthand (every
# store command marks synthetic data) do not pay for the report's content and findings.
_FROM = {
    **dict.fromkeys(
        ("DocTable", "Report", "ReportParams", "build_report", "figure_data"), "content"
    ),
    **dict.fromkeys(("Evidence", "Finding", "key_findings"), "findings"),
}


def __getattr__(name: str) -> Any:
    if name in _FROM:
        return getattr(importlib.import_module(f"hmip_cli.report.{_FROM[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DocTable",
    "Evidence",
    "Finding",
    "Report",
    "ReportParams",
    "build_report",
    "figure_data",
    "key_findings",
]
