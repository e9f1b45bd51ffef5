"""What the report's layout (`content`) and its sentences (`findings`) both stand on:
table ids and row keys, the figures' data, which rates are shown (and why not), and the
whole-number rounding of figures and sentences.

Below both modules, so that neither imports the other (`content` builds the tables and
calls `findings`; `findings` points at the tables by these ids and keys).
"""

from __future__ import annotations

import polars as pl

from hmip_cli import framework
from hmip_cli import rates as R
from hmip_cli.framework.model import Breakdown, Framework, Measure
from hmip_cli.render import half_up


def _fw(fw: Framework | None) -> Framework:
    return framework.default() if fw is None else fw


# --------------------------------------------------------------------------------------
# Numbers as the bulletin writes them
# --------------------------------------------------------------------------------------


def whole(value: float) -> int:
    """A percentage to a whole number, half up (68.5 -> 69), as charts and sentences show it."""
    return int(half_up(value, "1"))


def one_dp(value: float) -> float:
    """A percentage to one decimal place, half up, as a float (what tables and sheets show)."""
    return float(half_up(value, "0.1"))


# --------------------------------------------------------------------------------------
# Ids
# --------------------------------------------------------------------------------------

SAMPLE_ID = "sample-profile"
DIFFERENCES_ID = "differences"
MODELS_ID = "models"


def figure_id(n: int) -> str:
    return f"figure-{n}"


def table_id(n: int) -> str:
    return f"table-{n}"


def measure_of_figure(n: int, fw: Framework | None = None) -> Measure:
    return _fw(fw).measure_of_figure(n)


def figure_title(n: int, fw: Framework | None = None) -> str:
    return measure_of_figure(n, fw).wording.figure_title


# --------------------------------------------------------------------------------------
# Figures 1-4
# --------------------------------------------------------------------------------------

FIGURE_COLUMNS = (
    "factor",
    "factor_label",
    "n_priority",
    "n",
    "n_yes",
    "percent_yes",
    "ci_lower",
    "ci_upper",
    "low_reliability",
    "suppressed",
    "marker",
)


def figure_data(rates_frame: pl.DataFrame, figure: int) -> pl.DataFrame:
    """The all-cases rows of one figure from a `rates()`/`bulletin().rates` frame, bulletin
    factor order. Columns: factor, factor_label, n_priority, n, n_yes, percent_yes,
    ci_lower, ci_upper, low_reliability, suppressed, marker (as in `rates.rates`)."""
    return rates_frame.filter((pl.col("figure") == figure) & (pl.col("breakdown") == R.ALL)).select(
        FIGURE_COLUMNS
    )


def hidden_reason(row: dict, min_n: int) -> str:
    """Why a suppressed rate is not shown: too few applicable cases (--min-n), or disclosure
    control (a count behind it is small, or would let one be worked out)."""
    n = row.get("n")
    if row.get("low_reliability") or (n is not None and 0 < n < min_n):
        return f"fewer than {min_n} applicable cases"
    if row.get("suppressed") == "secondary":  # the rates module's own complement
        return "hidden so that another group cannot be worked out"
    return "suppressed to protect confidentiality"


def shown(row: dict) -> bool:
    """A rate is published (drawn, quoted) unless it is suppressed or has no cases."""
    return (
        row["marker"] not in (R.MARK_SUPPRESSED, R.MARK_NOT_APPLICABLE)
        and row["percent_yes"] is not None
    )


def target_index(fw: Framework | None = None) -> dict:
    """model key -> stepwise Target (factor, measure or question)."""
    from hmip_cli.stepwise import sweeps

    return {t.model: t for t in sweeps.targets(everything=True, fw=fw)}


def significant(findings: pl.DataFrame) -> pl.DataFrame:
    """Rows of the sweep for terms in a final model with a reliable estimate."""
    return findings.filter(
        pl.col("term").is_not_null()
        & pl.col("reliable").fill_null(False)
        & pl.col("odds_ratio").is_not_null()
    )


def difference_key(r: dict, fw: Framework | None = None) -> str:
    """The row key of a sweep findings row in the differences table."""
    b = _fw(fw).breakdown_for_column(r["term"])
    return f"{r['model']}|{r['term']}|{_level_code(b, r['level'])}"


def _level_code(b: Breakdown | None, label: str | None) -> str:
    if b is None or label is None:
        return str(label)
    if label in b.labels:
        return b.levels[b.labels.index(label)]
    return label
