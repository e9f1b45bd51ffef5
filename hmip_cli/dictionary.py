"""The data dictionary of a framework (`hmip schema`) and the empty case templates
(`hmip schema --template`: a CSV header, or an XLSX with drop-down lists, range checks,
instructions and the dictionary)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from hmip_cli.errors import BadRequest


def _type_name(col) -> str:
    dtype = col.dtype
    if dtype == pl.Boolean:
        return "yes/no"
    if isinstance(dtype, pl.Enum):
        return "category"
    if dtype.is_integer():
        return "whole number"
    if dtype == pl.Date:
        return "date"
    return "text"


def _allowed(col) -> str:
    if col.dtype == pl.Boolean:
        return "yes, no; blank = not applicable"
    if col.levels:
        return "; ".join(
            f"{code} ({label})" if label != code else code
            for code, label in zip(col.levels, col.labels or col.levels)
        )
    if col.minimum is not None:
        return f"{col.minimum:g} to {col.maximum:g}"
    if col.dtype == pl.Date:
        return "YYYY-MM-DD (DD/MM/YYYY also read)"
    return ""


def dictionary(fw=None) -> pl.DataFrame:
    """The data dictionary of a framework (default qi-2016): one row per stored column,
    then the derived columns.

    Columns: name, type, required, allowed_values, applicable, kind, description.
    """
    from hmip_cli import framework

    fw = framework.default() if fw is None else fw
    rows = []
    for col in fw.stored_columns():
        rows.append(
            {
                "name": col.name,
                "type": _type_name(col),
                "required": col.required,
                "allowed_values": _allowed(col),
                "applicable": col.applicable,
                "kind": col.kind,
                "description": col.description,
            }
        )
    for col in fw.derived_columns():
        rows.append(
            {
                "name": col.name,
                "type": _type_name(col),
                "required": False,
                "allowed_values": _allowed(col),
                "applicable": "computed by hmip; not ingested",
                "kind": "derived",
                "description": col.description,
            }
        )
    return pl.DataFrame(rows)


def write_template(path: Path, fw=None) -> None:
    """An empty case file with the canonical header: CSV, or XLSX with a dictionary sheet."""
    from hmip_cli import framework
    from hmip_cli.fileio import atomic_write

    fw = framework.default() if fw is None else fw
    names = [c.name for c in fw.stored_columns()]
    ext = path.suffix.lower()
    if ext == ".csv":
        atomic_write(path, lambda tmp: tmp.write_text(",".join(names) + "\n", encoding="utf-8"))
    elif ext == ".xlsx":
        atomic_write(path, lambda tmp: _write_xlsx(tmp, names, fw))
    else:
        raise BadRequest(f"{path}: a template must be .csv or .xlsx")


# Case rows the template's drop-down lists and checks cover (Excel allows 1,048,575).
TEMPLATE_ROWS = 20_000
YES_NO = ("yes", "no")


def choices(col) -> tuple[str, ...]:
    """What a template's drop-down list offers for a coded column (yes/no, or a category's
    labels, which ingest reads as the codes: `ingest.validate.level_lookup`); () otherwise."""
    if col.dtype == pl.Boolean:
        return YES_NO
    if isinstance(col.dtype, pl.Enum) and col.levels:
        return tuple(col.labels or col.levels)
    return ()


def instructions(fw) -> tuple[str, ...]:
    """The template's Instructions sheet, in the framework's terms (whole-number ranges
    from its columns)."""
    ranges = [
        f"{c.name} from {c.minimum:g} to {c.maximum:g}"
        for c in fw.stored_columns()
        if c.dtype.is_integer() and c.minimum is not None and c.maximum is not None
    ]
    whole = (
        f"; {', '.join(ranges)} {'is a whole number' if len(ranges) == 1 else 'are whole numbers'}"
        if ranges
        else ""
    )
    return (
        "How to fill in this template",
        "",
        "1. One row per case assessment on the Cases sheet, from row 2. Keep the header row and "
        "the column order; do not add, rename or delete columns.",
        "2. Coded columns have a drop-down list (click the cell, then the arrow): judgements are "
        "yes or no, categories one of their labels. Anything else is refused as you type.",
        "3. Leave a judgement blank where the question does not apply (the Dictionary sheet's "
        "'applicable' column says when it does); leave any other cell blank when it is not "
        "known. Never type 'n/a' or 'unknown' into a coded cell.",
        f"4. Dates as dates (or YYYY-MM-DD){whole}.",
        "5. case_id is text (leading zeros are kept). Do not put names or other personal "
        "details in notes.",
        "6. Save as .xlsx and load it with: hmip ingest FILE.xlsx  (the Dictionary sheet "
        "describes every column; `hmip schema` prints it too).",
    )


def _write_xlsx(tmp: Path, names: list[str], fw) -> None:
    import io

    import xlsxwriter

    # Built in memory, then written in one go: xlsxwriter writing to a full disk raises
    # from deep in zipfile and prints a second traceback when its file is collected.
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    bold = wb.add_format({"bold": True})
    ws = wb.add_worksheet("Cases")  # first: ingest reads the first sheet
    ws.write_row(0, 0, names, bold)
    ws.freeze_panes(1, 0)
    ws.set_column(0, len(names) - 1, 16)
    # Text format for the case rows, so Excel keeps leading zeros in case ids.
    ws.set_column(0, 0, 16, wb.add_format({"num_format": "@"}))
    guide = wb.add_worksheet("Instructions")
    guide.set_column(0, 0, 110, wb.add_format({"text_wrap": True, "valign": "top"}))
    for i, line in enumerate(instructions(fw)):
        guide.write(i, 0, line, bold if i == 0 else None)
    # The drop-downs' values, one column per coded column, on a hidden sheet (a list typed
    # into the validation itself is limited to 255 characters).
    lists = wb.add_worksheet("Lists")
    last = TEMPLATE_ROWS
    k = -1
    for j, col in enumerate(fw.stored_columns()):
        values = choices(col)
        if values:
            k += 1
            lists.write(0, k, col.name, bold)
            lists.write_column(1, k, values)
            letter = xlsxwriter.utility.xl_col_to_name(k)
            ws.data_validation(
                1,
                j,
                last,
                j,
                {
                    "validate": "list",
                    "source": f"=Lists!${letter}$2:${letter}${len(values) + 1}",
                    "ignore_blank": True,
                    "input_title": col.name[:32],
                    "input_message": "yes or no; blank = not applicable"
                    if values == YES_NO
                    else "one of the list; blank = not known",
                    "error_title": "Not one of the list",
                    "error_message": f"{col.name}: choose one of: {', '.join(values)}"[:255],
                },
            )
        elif col.dtype.is_integer() and col.minimum is not None and col.maximum is not None:
            ws.data_validation(
                1,
                j,
                last,
                j,
                {
                    "validate": "integer",
                    "criteria": "between",
                    "minimum": int(col.minimum),
                    "maximum": int(col.maximum),
                    "ignore_blank": True,
                    "error_title": "Out of range",
                    "error_message": f"{col.name}: a whole number from {col.minimum:g} to "
                    f"{col.maximum:g}",
                },
            )
    lists.hide()
    dd = dictionary(fw).filter(pl.col("kind") != "derived")
    ws2 = wb.add_worksheet("Dictionary")
    ws2.write_row(0, 0, dd.columns, bold)
    for i, row in enumerate(dd.iter_rows(), start=1):
        ws2.write_row(i, 0, ["yes" if v is True else "no" if v is False else v for v in row])
    ws2.set_column(0, 0, 28)
    ws2.set_column(3, 6, 40)
    wb.close()
    tmp.write_bytes(buf.getvalue())
