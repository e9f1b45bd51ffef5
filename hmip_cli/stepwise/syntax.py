"""Syntax that reruns a stepwise model elsewhere (SPSS/PSPP, R, Stata), and the data export
that goes with it (issue 11 item 5).

The export holds only the outcome (1 = event, 0 = non-event) and the columns the candidate
terms use, complete cases only (the cases hmip used), never identifiers or free text.
Categorical columns are written as codes 1..k in hmip's level order with the levels as value
labels, so SPSS's INDICATOR(refcat) and the other contrasts see the same order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from hmip_cli.errors import BadRequest
from hmip_cli.stepwise.design import outcome_coding
from hmip_cli.stepwise.result import StepwiseResult
from hmip_cli.stepwise.terms import base_columns, parts

SYNTAXES = ("spss", "r", "stata")
# SPSS /CONTRAST keywords (contrasts.py names -> SPSS's)
_SPSS_CONTRAST = {
    "indicator": "Indicator",
    "simple": "Simple",
    "deviation": "Deviation",
    "helmert": "Helmert",
    "difference": "Difference",
    "repeated": "Repeated",
    "polynomial": "Polynomial",
}


@dataclass(frozen=True)
class Export:
    """The exported cases and how names map: `frame` (renamed columns), `names` (hmip column
    -> exported name), `labels` (exported name -> {code: level}), `outcome` (exported name)."""

    frame: pl.DataFrame
    names: dict[str, str]
    labels: dict[str, dict[int | float, str]]
    outcome: str


def _safe_name(name: str, taken: set[str]) -> str:
    """An SPSS/Stata/R-safe variable name: letters, digits and _, starting with a letter,
    at most 32 characters (Stata's limit), unique."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", name)[:32] or "v"
    if not base[0].isalpha():
        base = ("v" + base)[:32]
    out, i = base, 1
    while out.lower() in taken:
        i += 1
        out = f"{base[: 32 - len(str(i)) - 1]}_{i}"
    taken.add(out.lower())
    return out


def export_frame(frame: pl.DataFrame, result: StepwiseResult) -> Export:
    """The cases `result` was fitted on, ready to write as .sav or .csv."""
    cols = base_columns(list(result.candidates))
    data = frame.select([result.outcome, *cols]).drop_nulls()
    ev, _ = outcome_coding(frame, result.outcome, result.event)
    if frame.schema[result.outcome] == pl.Boolean:
        is_event = pl.col(result.outcome) if ev else ~pl.col(result.outcome)
    else:
        is_event = pl.col(result.outcome) == pl.lit(ev, dtype=frame.schema[result.outcome])
    taken: set[str] = set()
    names = {c: _safe_name(c, taken) for c in [result.outcome, *cols]}
    codings = {c["term"]: c for c in result.codings}
    exprs = [is_event.cast(pl.Int8).alias(names[result.outcome])]
    labels: dict[str, dict[int | float, str]] = {}
    for c in cols:
        if c in codings:
            levels = codings[c]["levels"]
            text = pl.col(c).cast(pl.String)
            if frame.schema[c] in (pl.Float32, pl.Float64):
                text = pl.col(c).map_elements(_level_text, return_dtype=pl.String)
            exprs.append(
                text.replace_strict(
                    levels, list(range(1, len(levels) + 1)), return_dtype=pl.Int32
                ).alias(names[c])
            )
            labels[names[c]] = {i + 1: lv for i, lv in enumerate(levels)}
        else:
            exprs.append(pl.col(c).cast(pl.Float64).alias(names[c]))
    return Export(data.select(exprs), names, labels, names[result.outcome])


def _level_text(v: float) -> str:
    from hmip_cli.stepwise.design import _label

    return _label(v)


def write_export(export: Export, path: Path) -> None:
    """Write the export as SPSS .sav (value labels kept) or .csv (codes)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        export.frame.write_csv(path)
    elif suffix == ".sav":
        import pyreadstat

        pyreadstat.write_sav(
            export.frame.to_pandas(),
            str(path),
            variable_value_labels=export.labels or None,
        )
    else:
        raise BadRequest(f"--export-data: write a .sav or .csv file, not {path.name!r}")


def _term(name: str, names: dict[str, str], sep: str) -> str:
    return sep.join(names[p] for p in parts(name))


def _ref_position(coding: dict) -> int | None:
    ref = coding.get("reference")
    return coding["levels"].index(ref) + 1 if ref is not None else None


def _contrast_line(coding: dict, names: dict[str, str]) -> str | None:
    """/CONTRAST for a variable, None for SPSS's default (INDICATOR, reference last)."""
    kind = coding.get("contrast", "indicator")
    pos = _ref_position(coding)
    last = pos is None or pos == len(coding["levels"])
    if kind == "indicator" and last:
        return None
    keyword = _SPSS_CONTRAST[kind] + ("" if last else f"({pos})")
    return f"  /CONTRAST ({names[coding['term']]})={keyword}"


def spss_syntax(result: StepwiseResult, export: Export, data_file: str) -> str:
    """SPSS syntax for the whole selection, then the final model alone (which PSPP runs:
    it has LOGISTIC REGRESSION with ENTER only)."""
    names = export.names
    y = export.outcome
    lines = [
        f"* hmip: {result.method} of {result.outcome} (event = {result.event}; coded 1).",
        f"* Data: {data_file} (the {result.n} cases used; identifiers left out).",
        f"GET FILE='{data_file}'.",
        f"LOGISTIC REGRESSION VARIABLES {y}",
    ]
    for block in result.blocks or [{"method": result.method, "terms": list(result.candidates)}]:
        terms = " ".join(_term(t, names, " BY ") for t in block["terms"])
        lines.append(f"  /METHOD={block['method']} {terms}")

    def categorical(codings: list[dict]) -> list[str]:
        out = [f"  /CATEGORICAL={' '.join(names[c['term']] for c in codings)}"] if codings else []
        return out + [x for c in codings if (x := _contrast_line(c, names)) is not None]

    lines.extend(categorical(list(result.codings)))
    lines.append(f"  /CRITERIA=PIN({result.pin:g}) POUT({result.pout:g}) ITERATE(20) CUT(.5).")
    final = list(result.final_terms)
    if not final:
        lines.append("* No term entered: the final model is the constant only.")
        return "\n".join(lines) + "\n"
    used = {p for t in final for p in parts(t)}
    lines.append("* The final model alone, to hmip's exact maximum-likelihood fit (PSPP runs it).")
    lines.append(
        f"LOGISTIC REGRESSION VARIABLES {y} WITH "
        + " ".join(_term(t, names, " BY ") for t in final)
    )
    lines.extend(categorical([c for c in result.codings if c["term"] in used]))
    lines.append("  /CRITERIA=BCON(0.0000000001) ITERATE(100) CUT(.5).")
    return "\n".join(lines) + "\n"


_R_CONTRAST = {
    "simple": "contr.treatment({k}, base = {ref}) - 1 / {k}",
    "deviation": "contr.sum({k})",
    "helmert": "(contr.helmert({k}) %*% diag(1 / (2:{k}), {k} - 1))[{k}:1, ({k} - 1):1, drop = FALSE]",
    "difference": "contr.helmert({k}) %*% diag(1 / (2:{k}), {k} - 1)",
    "repeated": "-MASS::contr.sdif({k})",
    "polynomial": "contr.poly({k})",
}


def r_syntax(result: StepwiseResult, export: Export, data_file: str) -> str:
    """R: read the export, code the factors as hmip did, the final glm and the steps."""
    names = export.names
    y = export.outcome
    read = (
        f'd <- as.data.frame(haven::read_sav("{data_file}"))'
        if data_file.lower().endswith(".sav")
        else f'd <- read.csv("{data_file}")'
    )
    lines = [f"# hmip: {result.method} of {result.outcome} (event = {result.event}; coded 1)", read]
    for c in result.codings:
        v = names[c["term"]]
        k = len(c["levels"])
        labels = ", ".join(_r_string(lv) for lv in c["levels"])
        lines.append(f"d${v} <- factor(as.integer(d${v}), levels = 1:{k}, labels = c({labels}))")
        kind = c.get("contrast", "indicator")
        pos = _ref_position(c) or k
        if kind == "indicator":
            lines.append(f"contrasts(d${v}) <- contr.treatment({k}, base = {pos})")
        elif kind == "deviation" and pos != k:
            lines.append(f"contrasts(d${v}) <- contr.sum({k})[c(setdiff(1:{k}, {pos}), {pos}), ]")
        else:
            lines.append(f"contrasts(d${v}) <- {_R_CONTRAST[kind].format(k=k, ref=pos)}")
    ctl = "control = glm.control(epsilon = 1e-14, maxit = 100)"

    def formula(terms) -> str:
        return f"{y} ~ " + (" + ".join(_term(t, names, ":") for t in terms) or "1")

    lines.append("# the selection, step by step (entry: score test; removal: LR or Wald)")
    for s in result.steps:
        lines.append(f"m{s.number} <- glm({formula(s.terms)}, binomial, d, {ctl})")
        if s.number:
            lines.append(f"# step {s.number}: {s.action} {s.term} (statistic {s.statistic:.6g})")
    lines.append(f"fit <- m{result.steps[-1].number}  # the final model")
    lines.append("summary(fit)")
    return "\n".join(lines) + "\n"


def _r_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def stata_syntax(result: StepwiseResult, export: Export, data_file: str) -> str:
    """Stata: the final model (`logit`, factor variables with hmip's base level)."""
    names = export.names
    codings = {names[c["term"]]: c for c in result.codings}
    read = (
        f'import spss using "{data_file}", clear'
        if data_file.lower().endswith(".sav")
        else f'import delimited using "{data_file}", clear'
    )

    def factor(v: str) -> str:
        c = codings.get(v)
        if c is None:
            return f"c.{v}"
        pos = _ref_position(c) or len(c["levels"])
        return f"ib{pos}.{v}"

    terms = []
    for t in result.final_terms:
        ps = [names[p] for p in parts(t)]
        terms.append("#".join(factor(p) for p in ps))
    other = [c for c in result.codings if c.get("contrast", "indicator") != "indicator"]
    lines = [
        f"* hmip: {result.method} of {result.outcome}, final model (event = {result.event}; coded 1)",
        read,
        f"logit {export.outcome} {' '.join(terms)}",
    ]
    if other:
        lines.insert(2, "* note: Stata codes factors as indicators; the contrasts differ (B too).")
    return "\n".join(lines) + "\n"


def syntax(kind: str, result: StepwiseResult, export: Export, data_file: str) -> str:
    if kind == "spss":
        return spss_syntax(result, export, data_file)
    if kind == "r":
        return r_syntax(result, export, data_file)
    if kind == "stata":
        return stata_syntax(result, export, data_file)
    raise BadRequest(f"--syntax must be one of {', '.join(SYNTAXES)}; got {kind!r}")
