"""`hmip remove`: take the cases of one ingested file back out of the store."""

from __future__ import annotations

from typing import Annotated

import typer

from hmip_cli.cli.common import handle_errors, say
from hmip_cli.cli.options import DataOpt


@handle_errors
def remove(
    source: Annotated[
        str,
        typer.Option(
            "--source",
            metavar="FILE",
            help="The ingested file: its name as `hmip info` lists it, the file itself, or "
            "the start of its sha256.",
            show_default=False,
        ),
    ],
    data: DataOpt = None,
) -> None:
    """Remove the cases of one ingested file from the store.

    The store keeps the cases of every file in ingest order with the file's provenance, so
    the cases of one file can be taken out again (a file ingested by mistake, or to be
    replaced by a corrected one) without rebuilding the store with --replace. The store is
    rewritten in one atomic step under its lock: a crash leaves it as it was, or without
    the file's cases, never in between. The removal is recorded (`hmip info` lists removed
    files). A name that fits several ingested files is refused: give the start of the
    sha256 that `hmip info` shows (`hmip remove --source 3f9a1c2e7b04`).

    \b
    Example (from a clone of the repository, after `hmip ingest examples/cases.csv`):
      hmip remove --source cases.csv
      hmip ingest examples/cases.csv && hmip remove --source examples/cases.csv
    """
    from hmip_cli.removal import remove_source

    done = remove_source(source, data)
    rec = done.record
    say(
        f"Removed {done.cases_removed:,} cases of {rec['source']} (sha256 {rec['sha256'][:12]}, "
        f"ingested {rec['ingested_at'] or 'at an unknown time'}) from {done.store} "
        f"({done.n_cases:,} cases left in the store)."
    )
