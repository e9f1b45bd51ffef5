"""Default values of analysis parameters, in one place: the library's functions and the
CLI's options (cli/options.py) both take them from here. No imports: `--help` reads it."""

from __future__ import annotations

# Small numbers: a rate with 0 < n < MIN_N is marked [u] (or suppressed [c]). Below 30 the
# 95% interval around a 50% rate is wider than +/-17 points.
MIN_N = 30

# Stepwise selection (SPSS LOGISTIC REGRESSION /CRITERIA PIN(.05) POUT(.10) CUT(.5)).
PIN = 0.05
POUT = 0.10
CUT = 0.5
REMOVAL = "lr"  # FSTEP(LR)
METHOD = "fstep"
ITERATE = "exact"

# A categorical candidate with more levels than this is refused before fitting (each level
# is a parameter; hundreds take minutes).
MAX_LEVELS = 50

# Synthetic case ids look like SYN-000001 (`hmip synth --id-prefix`).
SYNTH_ID_PREFIX = "SYN"

# Reports: odds-ratio CIs, the clusters of the "survives clustering?" check, disclosure.
REPORT_CI = "profile"
REPORT_CLUSTER = "inspection"
DISCLOSURE = "threshold-10"
