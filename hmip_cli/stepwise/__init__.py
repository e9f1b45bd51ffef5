"""Forward stepwise logistic regression as SPSS `LOGISTIC REGRESSION /METHOD=FSTEP` does it.

    from hmip_cli.stepwise import read_table, stepwise
    frame, notes = read_table("cases.csv")   # as `hmip regress --input` reads a file
    result = stepwise(frame, "outcome", ["a", "b"], categorical=["a"])
    result.to_dict(); result.coefficients_frame(); result.steps_frame()

See docs/stepwise.md for the algorithm, the references it was checked against and the
policy on separation, collinearity and constant candidates.
"""

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

from hmip_cli.stepwise.sweeps import (
    SweepResult,
    Target,
    benjamini_hochberg,
    run_sweep,
    sweep,
    targets,
)

__all__ += ["SweepResult", "Target", "benjamini_hochberg", "run_sweep", "sweep", "targets"]
