"""Ingest: case files in any supported format -> validated, typed cases in the store.

read (readers.py)  every column as text, spreadsheet row numbers
map  (mapping.py)  the analyst's mapping: rename columns, recode answers
layout (layout.py)  is row 1 the header? (missing header, title rows, a cover sheet)
validate (validate.py)  one typed frame, or every problem found
write (core.py -> store.py)  atomically, with provenance
"""

from hmip_cli.ingest.core import IngestResult, Progress, ingest_files
from hmip_cli.ingest.mapping import Mapping, load_mapping, parse_mapping
from hmip_cli.ingest.readers import RawFile, read_file
from hmip_cli.ingest.validate import Validated, validate

__all__ = [
    "IngestResult",
    "Mapping",
    "Progress",
    "RawFile",
    "Validated",
    "ingest_files",
    "load_mapping",
    "parse_mapping",
    "read_file",
    "validate",
]
