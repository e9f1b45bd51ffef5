"""The frameworks shipped with hmip, and resolving `NAME|FILE` arguments."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from hmip_cli.errors import BadRequest
from hmip_cli.framework.crosswalk import Crosswalk, load_crosswalk_file, parse_crosswalk
from hmip_cli.framework.loader import load_file, parse
from hmip_cli.framework.model import Framework

DEFAULT = "qi-2016"  # the bulletin's framework: what every store without a framework uses
_SUFFIX = ".toml"
_CROSSWALK_SUFFIX = ".crosswalk.toml"


def _data_dir() -> Path:
    return Path(str(resources.files("hmip_cli.framework") / "data"))


@functools.cache  # the installed package's files: listed once (every store read asks)
def names() -> tuple[str, ...]:
    """The shipped frameworks' names, the default first."""
    found = sorted(
        p.name[: -len(_SUFFIX)]
        for p in _data_dir().glob(f"*{_SUFFIX}")
        if not p.name.endswith(_CROSSWALK_SUFFIX)
    )
    return tuple(sorted(found, key=lambda n: (n != DEFAULT, n)))


def is_shipped(name: str) -> bool:
    return name in names()


def shipped_path(name: str) -> Path:
    if not is_shipped(name):
        raise BadRequest(
            f"unknown framework {name!r}; choose from: {', '.join(names())}, or give a .toml file"
        )
    return _data_dir() / f"{name}{_SUFFIX}"


@functools.cache
def _load_shipped(name: str) -> Framework:
    path = shipped_path(name)
    return parse(path.read_text(encoding="utf-8"), where=f"{name} ({path.name})")


def default() -> Framework:
    """The default framework (qi-2016): what a store without a recorded framework uses."""
    return _load_shipped(DEFAULT)


def load(name_or_file: str | Path) -> Framework:
    """A shipped framework by name ("qi-2016"), or a framework file (a path, or any name
    ending .toml). Unknown name or missing file: BadRequest; a bad file: FrameworkInvalid."""
    text = str(name_or_file)
    if isinstance(name_or_file, str) and is_shipped(text):
        return _load_shipped(text)
    if isinstance(name_or_file, Path) or text.endswith(_SUFFIX) or "/" in text:
        return load_file(Path(text))
    return _load_shipped(text)  # raises the "unknown framework" BadRequest


# --------------------------------------------------------------------------------------
# Crosswalks
# --------------------------------------------------------------------------------------


@functools.cache
def crosswalk_names() -> tuple[str, ...]:
    """The shipped crosswalks' names ("qi-2016--pdu-2023")."""
    return tuple(
        sorted(p.name[: -len(_CROSSWALK_SUFFIX)] for p in _data_dir().glob(f"*{_CROSSWALK_SUFFIX}"))
    )


def load_crosswalk(name_or_file: str | Path) -> Crosswalk:
    """A shipped crosswalk by name, or a crosswalk file; its frameworks are resolved with
    `load` (shipped names, or framework files named in it)."""
    text = str(name_or_file)
    if isinstance(name_or_file, str) and text in crosswalk_names():
        path = _data_dir() / f"{text}{_CROSSWALK_SUFFIX}"
        return parse_crosswalk(
            path.read_text(encoding="utf-8"), load, where=f"{text} ({path.name})"
        )
    if isinstance(name_or_file, Path) or text.endswith(_SUFFIX) or "/" in text:
        return load_crosswalk_file(Path(text), load)
    raise BadRequest(
        f"unknown crosswalk {text!r}; choose from: {', '.join(crosswalk_names()) or 'none'}, "
        "or give a .crosswalk.toml file"
    )


def crosswalk_between(a: str, b: str) -> Crosswalk | None:
    """The shipped crosswalk between two shipped frameworks (either direction), if any."""
    for name in crosswalk_names():
        cw = load_crosswalk(name)
        if {cw.source, cw.target} == {a, b}:
            return cw
    return None
