"""hmip: statistics for probation case-assessment data, as in HMI Probation's bulletins."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hmip")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
