"""`hmip info`: what is in the store and where it came from (never case ids)."""

from __future__ import annotations

from hmip_cli.cli.common import handle_errors
from hmip_cli.cli.options import DataOpt, FormatOpt, OutputOpt
from hmip_cli.render import Format, emit
from hmip_cli.store_tables import info_tables


@handle_errors
def info(data: DataOpt = None, fmt: FormatOpt = Format.table, output: OutputOpt = None) -> None:
    """Show what is in the store: cases per inspection and lead group, the date range,
    and every file ingested (name, sha256, rows, time, hmip version, mapping). No case ids.

    The lead group is a group of the framework's lead breakdown. JSON output
    has three tables: store, cases per inspection and lead group, files; and a
    fourth, files removed, once `hmip remove` has removed any.

    \b
    Example:
      hmip info
      hmip info --format json
    """
    from hmip_cli.envelope import note_provenance, store_provenance

    tables = info_tables(data, short_hashes=fmt is Format.table)
    note_provenance("store", store_provenance(data))
    emit(tables, fmt, output)
