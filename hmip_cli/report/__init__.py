"""The bulletin as a product: key findings, figures, and HTML / Markdown / XLSX reports.

    from hmip_cli import store
    from hmip_cli.report import ReportParams, build_report, write_report
    rep = build_report(store.load_cases(), info=store.store_info(), params=ReportParams(date="2019-01-31"))
    [f.text for f in rep.key_findings]
    write_report(rep, Path("report.html"))          # or .md / .xlsx

The analyses run once in `build_report`; every writer reuses them.
"""

from hmip_cli.report.content import DocTable, Report, ReportParams, build_report, figure_data
from hmip_cli.report.findings import Evidence, Finding, key_findings

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
