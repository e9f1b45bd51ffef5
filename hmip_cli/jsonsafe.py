"""JSON-safe values: the one clean-up every JSON output goes through.

No Rich, no CLI: the stepwise result objects (`to_dict()`) and the renderer both use it.
"""

from __future__ import annotations

import math


def json_safe(value):
    """`value` with NaN/inf -> None, tuples -> lists, dicts and lists cleaned recursively, and
    NumPy scalars (integer, floating, bool_) as Python int/float/bool. Anything else is returned
    as it is (the caller's `json.dumps(default=...)` decides about dates and the like)."""
    if isinstance(value, float):  # includes numpy.float64, a float subclass
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    kind = type(value).__module__
    if kind == "numpy":
        import numpy as np

        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            v = float(value)
            return v if math.isfinite(v) else None
    return value
