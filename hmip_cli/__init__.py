"""hmip: statistics for probation case-assessment data, as in HMI Probation's bulletins."""

from __future__ import annotations

import functools


@functools.cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hmip")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> str:
    # `__version__` is looked up on first use, not at import: the scan of installed
    # distributions cost every command (even `--help`) start-up time.
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'hmip_cli' has no attribute {name!r}")
