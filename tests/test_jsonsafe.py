"""hmip_cli.jsonsafe.json_safe: the one NaN/inf clean-up behind every JSON output."""

import json
import math

import numpy as np

from hmip_cli.jsonsafe import json_safe


def test_non_finite_become_null_and_numpy_becomes_python():
    value = {
        "a": math.nan,
        "b": (1.5, math.inf, -math.inf),
        "c": [{"d": np.float32("nan")}],
        "e": np.int64(3),
        "f": np.bool_(True),
        "g": np.float64(0.25),
        "h": "x",
        "i": None,
    }
    out = json_safe(value)
    assert out == {
        "a": None,
        "b": [1.5, None, None],
        "c": [{"d": None}],
        "e": 3,
        "f": True,
        "g": 0.25,
        "h": "x",
        "i": None,
    }
    assert type(out["e"]) is int and type(out["f"]) is bool
    json.dumps(out, allow_nan=False)  # valid JSON, no default= needed
