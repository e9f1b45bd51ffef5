"""What `hmip regress` adds to SPSS's blocks for one model: profile-likelihood CIs
(`--ci profile`) and cluster-robust standard errors (`--cluster COL`), as JSON keys and as
tables after the model's SPSS tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from hmip_cli.render import Table

if TYPE_CHECKING:  # the stepwise package imports numpy/scipy: not at CLI start-up
    from hmip_cli.stepwise.result import StepwiseResult


@dataclass
class Extras:
    json: dict = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def model_extras(
    frame: pl.DataFrame,
    res: StepwiseResult,
    ci: str | None,
    cluster: str | None,
    heading: str | None = None,
) -> Extras:
    """Extras for one fitted model; `frame` is what the model was fitted to."""
    from hmip_cli.stepwise.samplesize import epv_warning

    out = Extras()
    pre = f"{heading}: " if heading else ""
    # events_per_parameter / low_epv are in StepwiseResult.to_dict(); the warning is here
    if (w := epv_warning(res)) is not None:
        out.warnings.append(f"{pre}{w}")
    if ci == "profile" and res.final_terms:
        from hmip_cli.stepwise.profile import final_model_cis

        cis = final_model_cis(frame, res)
        rows = [
            {
                "parameter": c.parameter,
                "b": c.b,
                "exp_b": c.exp_b,
                "ci_low": cis[c.parameter][0],
                "ci_high": cis[c.parameter][1],
            }
            for c in res.final.in_equation
            if c.kind == "parameter" and c.parameter in cis
        ]
        out.json["profile_ci"] = {"level": 0.95, "method": "profile likelihood", "rows": rows}
        if rows:
            out.tables.append(
                Table(
                    pl.DataFrame(rows),
                    f"{pre}Final model: Exp(B) with profile-likelihood 95% CI",
                    display={
                        "parameter": "",
                        "b": "B",
                        "exp_b": "Exp(B)",
                        "ci_low": "Profile 95% CI lower",
                        "ci_high": "Profile 95% CI upper",
                    },
                    notes=[
                        "Profile-likelihood interval: the values of B that the likelihood-ratio test "
                        "would not reject at 5% (as R confint() on a glm), so it agrees with the LR "
                        "p-values; the Variables in the Equation tables show SPSS's Wald interval."
                    ],
                )
            )
    if cluster is not None and res.final_terms:
        from hmip_cli.stepwise.robust import cluster_robust

        cr = cluster_robust(frame, res, cluster)
        out.json["cluster_robust"] = cr.to_dict()
        out.tables.extend(cr.tables(pre))
        if cr.warning:
            out.warnings.append(f"{pre}{cr.warning}")
    return out
