"""Forward stepwise logistic regression as SPSS `LOGISTIC REGRESSION /METHOD=FSTEP` does it.

    from hmip_cli.stepwise import read_table, stepwise
    frame, notes = read_table("cases.csv")   # as `hmip regress --input` reads a file
    result = stepwise(frame, "outcome", ["a", "b"], categorical=["a"])
    result.to_dict(); result.coefficients_frame(); result.steps_frame()

See docs/stepwise.md for the algorithm, the references it was checked against and the
policy on separation, collinearity and constant candidates.
"""

from typing import TYPE_CHECKING, Any

from hmip_cli.stepwise.design import Problem
from hmip_cli.stepwise.inputs import MISSING_TOKENS, normalise_frame, read_table
from hmip_cli.stepwise.result import StepwiseResult
from hmip_cli.stepwise.select import stepwise

__all__ = [
    "MISSING_TOKENS",
    "Problem",
    "StepwiseResult",
    "normalise_frame",
    "read_table",
    "stepwise",
]

# The sweep names load on first use: sweeps imports the profile-CI and cluster-robust
# modules, which one `hmip regress --input` model does not need (issue 13: light imports).
if TYPE_CHECKING:
    from hmip_cli.stepwise.sweeps import (
        SweepResult,
        Target,
        benjamini_hochberg,
        run_sweep,
        sweep,
        targets,
    )
_SWEEP_NAMES = ("SweepResult", "Target", "benjamini_hochberg", "run_sweep", "sweep", "targets")
__all__ += ["SweepResult", "Target", "benjamini_hochberg", "run_sweep", "sweep", "targets"]


def __getattr__(name: str) -> Any:
    if name in _SWEEP_NAMES:
        from hmip_cli.stepwise import sweeps

        return getattr(sweeps, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
