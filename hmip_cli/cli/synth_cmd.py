"""`hmip synth`: calibrated synthetic case data (clean CSV, or a messy export + mapping)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hmip_cli import defaults
from hmip_cli.cli.common import handle_errors, say
from hmip_cli.cli.options import FileOutputOpt, FrameworkNameOpt
from hmip_cli.errors import BadRequest

# synth.DEFAULT_ID_PREFIX, from hmip_cli.defaults: importing hmip_cli.synth (NumPy, SciPy,
# its calibration constants) for --help would slow it.
DEFAULT_ID_PREFIX = defaults.SYNTH_ID_PREFIX

HELP = """Generate synthetic case data calibrated to the interventions bulletin.

The cases follow the bulletin's sample profile (63% CRC, 15% female, 47% post-custody,
17% high/very high RoSH, 26% MAPPA), priority prevalence, the rates of Figures 1-4 and
Tables 1-2, and contain exactly the subgroup differences the bulletin found significant
(docs/synth_model.md). Counts are exact, not just expected: with 1,066 cases there are
672 CRC, 156 female, ... cases, and every rate shows as the bulletin prints it. Nothing in them is about a real person: case ids look like
SYN-000001 and the few notes start with "SYNTHETIC NOTE".

The same --cases and --seed always give byte-identical output. Without --messy the CSV
has hmip's own columns (yes/no, blank = not applicable) and `hmip ingest` reads it as it
is. With --messy it looks like a real spreadsheet export (their headers, Y/N/N/A, labels,
DD/MM/YYYY dates); --mapping-output writes the mapping that reads it back.

--framework NAME|FILE generates cases for another framework (pdu-2023, or your own
file) from its synth plan: assumed shares and rates, listed in the plan file
(docs/synth_model.md section 8). qi-2016, the default, is the bulletin's exact model.
--years FIRST-LAST spreads the inspections over those years (for trends).

\b
Example:
  hmip synth --cases 1066 --seed 1 --output cases.csv
  hmip synth --cases 200 --seed 2 --id-prefix SYX --messy --output export.csv --mapping-output mapping.toml
  hmip ingest export.csv --mapping mapping.toml
  hmip synth --framework pdu-2023 --cases 2000 --years 2023-2025 --output pdu.csv
"""


@handle_errors
def synth_command(
    cases: Annotated[
        int,
        typer.Option(
            "--cases", "-n", metavar="N", help="Number of cases to generate.", show_default=True
        ),
    ] = 1066,
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            "-s",
            metavar="N",
            help="Random seed (0 or more); the same seed gives the same cases.",
            show_default=True,
        ),
    ] = 1,
    output: FileOutputOpt = None,
    messy: Annotated[
        bool,
        typer.Option(
            "--messy",
            help="Write a messy export (their headers, "
            "Y/N/N/A, labels, DD/MM/YYYY) instead of hmip's CSV.",
        ),
    ] = False,
    mapping_output: Annotated[
        Path | None,
        typer.Option(
            "--mapping-output",
            dir_okay=False,
            metavar="FILE",
            help="With --messy: write the mapping TOML that reads the export back.",
        ),
    ] = None,
    id_prefix: Annotated[
        str,
        typer.Option(
            "--id-prefix",
            metavar="PREFIX",
            help="Case ids are PREFIX-000001, ...; use different prefixes for "
            "files that will share a store.",
            show_default=True,
        ),
    ] = DEFAULT_ID_PREFIX,
    framework_name: FrameworkNameOpt = None,
    years: Annotated[
        str | None,
        typer.Option(
            "--years",
            metavar="FIRST-LAST",
            help="Spread the inspections over these years, e.g. 2016-2019.",
        ),
    ] = None,
) -> None:
    from hmip_cli import framework, synth, synth_framework
    from hmip_cli.framework import registry

    if mapping_output is not None and not messy:
        raise BadRequest("--mapping-output needs --messy (hmip's own CSV needs no mapping)")
    if (
        output is not None
        and mapping_output is not None
        and Path(output).resolve() == Path(mapping_output).resolve()
    ):
        raise BadRequest("--output and --mapping-output must be different files")
    from hmip_cli.fileio import check_writable

    for target in (output, mapping_output):  # refused before seconds of calibration, not after
        if target is not None:
            check_writable(Path(target))
    span = synth_framework.parse_years(years) if years is not None else None
    fw = framework.load(framework_name or registry.DEFAULT)
    if messy and not synth_framework.is_bulletin_framework(fw):
        raise BadRequest("--messy writes the qi-2016 export only; drop --messy or --framework")
    frame = synth_framework.synthesize(fw, cases, seed, id_prefix=id_prefix, years=span)
    note = synth_framework.assumption_note(fw)
    if note:
        say(note)
    text = synth.messy_csv_text(frame, seed) if messy else synth.to_csv_text(frame)
    from hmip_cli.render import write_text

    if mapping_output is not None:
        from hmip_cli.fileio import atomic_write_files

        files = [(mapping_output, synth.messy_mapping_toml().encode("utf-8"))]
        if output is not None:
            files.append((output, text.encode("utf-8")))
        atomic_write_files(files)  # the export and its mapping: both or neither
        if output is None:
            write_text(text)
    else:
        write_text(text, output)
    if output is not None:
        kind = "messy export" if messy else "CSV"
        say(
            f"Wrote {frame.height:,} synthetic cases ({kind}, seed {seed}) to {output}"
            + (f"; mapping to {mapping_output}" if mapping_output is not None else "")
        )


synth_command.__doc__ = HELP
