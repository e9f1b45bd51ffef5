"""SPSS LOGISTIC REGRESSION options of `hmip regress` beyond FSTEP: METHOD blocks and forced
terms (--method, --enter, --block). Parsing only; the statistics are in hmip_cli.stepwise.
Kept apart from regress_cmd.py so the option plumbing there stays small."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hmip_cli import framework
from hmip_cli.errors import BadRequest
from hmip_cli.framework.model import Framework

METHOD_NAMES = ("fstep", "bstep", "enter")


# Store columns usable as continuous covariates (`--candidates age,ogrs_score`): age in
# years and the OGRS3 score; every other store candidate is a breakdown (categorical).
def numeric_store_columns(fw: Framework | None = None) -> tuple[str, ...]:
    """The store's numeric covariates: the framework's integer attributes (qi-2016: age,
    ogrs_score)."""
    fw = framework.default() if fw is None else fw
    return tuple(c.name for c in fw.columns if c.type == "integer" and not c.identifying)


def store_column(name: str, fw: Framework | None = None) -> str:
    """A store candidate name -> its case-frame column: a numeric covariate as itself, a
    breakdown key (or alias) as its column; interactions part by part ('age*gender',
    'age:gender')."""
    fw = framework.default() if fw is None else fw
    for sep in ("*", ":"):
        if sep in name:
            return sep.join(store_column(p, fw) for p in name.split(sep))
    key = name.strip()
    if key.lower() in numeric_store_columns(fw):
        return key.lower()
    return fw.breakdown(key).column


def store_categorical(columns: list[str], fw: Framework | None = None) -> list[str]:
    """The categorical columns among store terms (everything but the numeric covariates)."""
    from hmip_cli.stepwise.terms import base_columns, expand

    numeric = numeric_store_columns(fw)
    return [c for c in base_columns(expand(columns)) if c not in numeric]


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def parse_contrasts(
    values: list[str] | None, to_column: Callable[[str], str] = lambda name: name
) -> dict[str, str] | None:
    """--contrast VAR=KIND (repeatable, or comma-separated) -> {column: kind}."""
    from hmip_cli.stepwise.contrasts import check

    out: dict[str, str] = {}
    for part in (p.strip() for v in values or [] for p in v.split(",")):
        if not part:
            continue
        var, sep, kind = part.partition("=")
        if not sep or not var.strip() or not kind.strip():
            raise BadRequest(
                f"--contrast: expected VAR=KIND (e.g. provider=deviation), got {part!r}"
            )
        out[to_column(var.strip())] = check(kind)
    return out or None


def parse_block(text: str) -> tuple[str, list[str]]:
    """'fstep:a,b' -> ("fstep", ["a", "b"]); METHOD is enter, fstep or bstep (any case)."""
    method, sep, terms = text.partition(":")
    method = method.strip().lower()
    if not sep or method not in METHOD_NAMES or not _split(terms):
        raise BadRequest(
            f"--block: expected METHOD:VAR,VAR,... with METHOD enter, fstep or bstep; got {text!r}"
        )
    return method, _split(terms)


def method_options(
    candidates: list[str],
    method: str,
    enter: str | None,
    blocks: list[str] | None,
    to_column: Callable[[str], str] = lambda name: name,
) -> tuple[list[str], dict[str, Any]]:
    """The candidate list and the `stepwise` keyword arguments (method, enter, blocks) for
    --method/--enter/--block. `candidates` may be empty when blocks name every term; forced
    (--enter) terms are added to the candidates. `to_column` maps a name (a breakdown key
    in store modes) to its column."""
    forced = _split(enter)
    if blocks:
        if forced:
            raise BadRequest("give forced terms as --block enter:A,B, not both --enter and --block")
        if method != "fstep":
            raise BadRequest(
                "--method applies to the candidates; with --block give each block's method"
            )
        plan = [parse_block(b) for b in blocks]
        union = [t for _, ts in plan for t in ts]
        names = candidates or union
        extra = [t for t in union if t not in names]
        if extra:
            raise BadRequest(
                f"--block names terms that are not in --candidates: {', '.join(extra)}"
            )
        cols = [to_column(c) for c in names]
        return cols, {"blocks": [(m, [to_column(t) for t in ts]) for m, ts in plan]}
    names = [*forced, *(c for c in candidates if c not in forced)]
    return [to_column(c) for c in names], {
        "method": method,
        "enter": [to_column(t) for t in forced] or None,
    }


def syntax_and_export(
    frame: Any, result: Any, syntax_kind: str | None, export_path: Path | None, output: Path | None
) -> bool:
    """--export-data: write the cases used (no identifiers); --syntax: print SPSS/R/Stata code
    for the model instead of the tables. Returns True when syntax was printed."""
    from hmip_cli.cli.common import say
    from hmip_cli.render import write_text
    from hmip_cli.stepwise.syntax import SYNTAXES, export_frame, syntax, write_export

    if syntax_kind is not None and syntax_kind.lower() not in SYNTAXES:
        raise BadRequest(f"--syntax must be spss, r or stata; got {syntax_kind!r}")
    export = export_frame(frame, result)
    if export_path is not None:
        write_export(export, export_path)
        say(
            f"note: wrote the {export.frame.height:,} cases used ({', '.join(export.frame.columns)}) "
            f"to {export_path}; no identifiers"
        )
    if syntax_kind is None:
        return False
    data_file = str(export_path) if export_path is not None else "hmip_export.sav"
    write_text(syntax(syntax_kind.lower(), result, export, data_file), output)
    return True


def case_extras(
    frame: Any,
    result: Any,
    save: Path | None,
    casewise_z: float | None,
    correlations: bool,
    classplot: bool,
) -> list[tuple[str, Any]]:
    """--save, --casewise, --correlations, --classplot for one model: writes the saved values
    and returns the extra tables as (JSON key, render.Table)."""
    from hmip_cli.cli.common import say
    from hmip_cli.render import Table
    from hmip_cli.stepwise import casewise as CW

    tables: list[tuple[str, Any]] = []
    if correlations:
        t = Table(CW.correlation_frame(result), "Correlation Matrix", display={"parameter": ""})
        tables.append(("correlations", t))
    if save is None and casewise_z is None and not classplot:
        return tables
    values = CW.case_values(frame, result)
    if save is not None:
        suffix = save.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            raise BadRequest(f"--save: write a .csv or .parquet file, not {save.name!r}")
        values.write_csv(save) if suffix == ".csv" else values.write_parquet(save)
        say(f"note: wrote predicted values and residuals of {values.height:,} cases to {save}")
    if casewise_z is not None:
        listed = CW.casewise(values, casewise_z)
        t = Table(
            listed.drop("dev"),
            "Casewise List",
            display={
                "case": "Case",
                "observed": "Observed",
                "pred": "Predicted",
                "pgroup": "Predicted Group",
                "resid": "Resid",
                "zresid": "ZResid",
            },
            notes=[
                f"Cases with |ZResid| > {casewise_z:g} (SPSS /CASEWISE OUTLIER); case = row number."
            ],
        )
        tables.append(("casewise", t))
    if classplot:
        lines = CW.classification_plot(values).splitlines()
        t = Table(pl_frame({"plot": lines[1:]}), "Classification Plot", notes=[lines[0]])
        tables.append(("classification_plot", t))
    return tables


def pl_frame(data: dict) -> Any:
    import polars as pl

    return pl.DataFrame(data)
