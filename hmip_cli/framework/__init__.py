"""Inspection frameworks: what a case looks like and how it is published, declared in a file.

    from hmip_cli import framework
    fw = framework.load("qi-2016")          # a shipped framework, by name
    fw = framework.load("my-framework.toml")  # or a file
    fw.stored_schema(); fw.area(AREA_KEY); fw.judgement_column(AREA_KEY, MEASURE_KEY)

`load` reads and validates (`loader`), `Framework` answers questions (`model`), `derive`
computes derived columns, `crosswalk` maps questions between frameworks, `export` writes a
framework back as an editable TOML file. See docs/frameworks.md.
"""

from __future__ import annotations

from hmip_cli.framework.crosswalk import Crosswalk
from hmip_cli.framework.loader import FrameworkInvalid, FrameworkProblem, load_file, parse
from hmip_cli.framework.model import Framework
from hmip_cli.framework.registry import (
    DEFAULT,
    crosswalk_between,
    crosswalk_names,
    default,
    is_shipped,
    load,
    load_crosswalk,
    names,
    shipped_path,
)

__all__ = [
    "DEFAULT",
    "Crosswalk",
    "Framework",
    "FrameworkInvalid",
    "FrameworkProblem",
    "crosswalk_between",
    "crosswalk_names",
    "default",
    "is_shipped",
    "load",
    "load_crosswalk",
    "load_file",
    "names",
    "parse",
    "shipped_path",
]
