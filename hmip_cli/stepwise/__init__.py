"""Forward stepwise logistic regression as SPSS `LOGISTIC REGRESSION /METHOD=FSTEP` does it.

    from hmip_cli.stepwise import stepwise
    result = stepwise(frame, "outcome", ["a", "b"], categorical=["a"])
    result.to_dict(); result.coefficients_frame(); result.steps_frame()

See docs/stepwise.md for the algorithm, the references it was checked against and the
policy on separation, collinearity and constant candidates.
"""

from hmip_cli.stepwise.design import Problem
from hmip_cli.stepwise.result import StepwiseResult
from hmip_cli.stepwise.select import stepwise

__all__ = ["Problem", "StepwiseResult", "stepwise"]

from hmip_cli.stepwise.sweeps import Target, benjamini_hochberg, sweep, targets  # noqa: E402

__all__ += ["Target", "benjamini_hochberg", "sweep", "targets"]
