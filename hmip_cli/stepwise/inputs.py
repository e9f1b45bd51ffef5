"""Reading a file of cases for `stepwise()` (what `hmip regress --input` does), with
missing-value spellings as nulls and text columns converted to numbers or Booleans.

    from hmip_cli.stepwise import read_table, stepwise
    frame, notes = read_table(Path("cases.csv"))
    result = stepwise(frame, "outcome", ["a", "b"], categorical=["a"])

See docs/stepwise.md, "hmip regress --input FILE".
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from hmip_cli.errors import BadInput, BadRequest

# Cell values read as missing in CSV/TSV (and in text columns of any input), after trimming
# spaces: blank, NA (R), N/A and #N/A (Excel), NaN/nan (Python, R), "." (SAS, SPSS exports).
MISSING_TOKENS = ("", "NA", "N/A", "#N/A", "NaN", "nan", ".")
FILE_TYPES = ".csv, .tsv, .txt, .parquet, .xlsx, .xls, .sav, .zsav or .dta"


def read_table(path: str | Path) -> tuple[pl.DataFrame, list[str]]:
    """Cases from a file, with missing values as nulls (docs/stepwise.md, "--input").

    Returns (frame, notes): the frame after `normalise_frame`, and notes for the user about
    how the file was read (plain sentences; the caller decides how to show them).

    CSV/TSV: MISSING_TOKENS are null; a text column whose values (trimmed) are all numbers
    or all true/false becomes numeric or Boolean. Parquet and Excel (first sheet): the same
    clean-up of text columns. SPSS .sav/.zsav and Stata .dta (pyreadstat): numeric codes are
    kept as they are (value labels are not applied), system- and user-missing values are null;
    a categorical variable's levels are its codes in numeric order, so the default reference
    (last) is the highest code, as in SPSS. Float NaN is null everywhere.
    """
    path = Path(path)
    if not path.exists():
        raise BadRequest(f"no such file: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pl.read_parquet(path)
        elif suffix in (".csv", ".tsv", ".txt"):
            frame = pl.read_csv(
                path,
                separator="\t" if suffix == ".tsv" else ",",
                infer_schema_length=None,
                null_values=list(MISSING_TOKENS),
            )
        elif suffix in (".xlsx", ".xls", ".xlsm"):
            frame = pl.read_excel(path, infer_schema_length=None)
        elif suffix in (".sav", ".zsav", ".dta"):
            import pyreadstat

            reader = pyreadstat.read_dta if suffix == ".dta" else pyreadstat.read_sav
            frame, _meta = reader(str(path), output_format="polars")
        else:
            raise BadRequest(f"{path}: expected a {FILE_TYPES} file")
    except BadRequest:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise BadInput(
            f"could not read {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    notes: list[str] = []
    if suffix in (".sav", ".zsav", ".dta"):
        notes.append(
            "categorical variables use the file's numeric codes (value labels are not applied); "
            "levels are in numeric order, so the default reference (last) is the highest code, as in SPSS"
        )
    return normalise_frame(frame), notes


_BOOL_TEXT = {"true": True, "false": False}


def normalise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Float NaN -> null; text columns trimmed, MISSING_TOKENS -> null, and converted to
    Int64/Float64 (every non-missing value a number) or Boolean (every one true/false, any case)."""
    out = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype in (pl.Float32, pl.Float64):
            out.append(col.fill_nan(None))
            continue
        if dtype != pl.String:
            out.append(col)
            continue
        s = frame.get_column(name).str.strip_chars()
        s = s.set(s.is_in(list(MISSING_TOKENS)).fill_null(False), None) if s.len() else s
        present = s.drop_nulls()
        if present.len() == 0:
            out.append(pl.lit(s))
            continue
        as_int = s.cast(pl.Int64, strict=False)
        if as_int.null_count() == s.null_count():
            out.append(pl.lit(as_int).alias(name))
            continue
        as_float = s.cast(pl.Float64, strict=False)
        if as_float.null_count() == s.null_count() and as_float.drop_nulls().is_finite().all():
            out.append(pl.lit(as_float).alias(name))
            continue
        lower = present.str.to_lowercase()
        if lower.is_in(list(_BOOL_TEXT)).all():
            out.append(
                pl.lit(
                    s.str.to_lowercase().replace_strict(
                        _BOOL_TEXT, default=None, return_dtype=pl.Boolean
                    )
                ).alias(name)
            )
            continue
        out.append(pl.lit(s).alias(name))
    return frame.select(out)
