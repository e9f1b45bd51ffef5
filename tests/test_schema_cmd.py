"""hmip schema: the data dictionary covers every column; templates carry the canonical header."""

from __future__ import annotations

import polars as pl
from test_json_support import rows as json_rows
from typer.testing import CliRunner

from hmip_cli import schema
from hmip_cli.cli.app import app

runner = CliRunner()


def test_dictionary_lists_every_stored_and_derived_column():
    result = runner.invoke(app, ["schema", "--format", "json"])
    assert result.exception is None and result.exit_code == 0
    rows = json_rows(result.stdout, "dictionary")
    assert [r["name"] for r in rows] == [c.name for c in schema.COLUMNS] + [
        c.name for c in schema.DERIVED
    ]
    by = {r["name"]: r for r in rows}
    assert (
        by["supervision"]["allowed_values"]
        == "community (Community sentence); post_custody (Post-custody)"
    )
    assert by["age"]["allowed_values"] == "16 to 100"
    assert by["case_id"]["required"] is True
    assert (
        "priority is yes"
        in by[schema.judgement_column("accommodation", "availability")]["applicable"]
    )
    assert by["age_group"]["kind"] == "derived"
    assert result.stderr == ""


def test_dictionary_as_csv_and_table():
    csv = runner.invoke(app, ["schema", "--format", "csv"])
    assert csv.exit_code == 0
    assert (
        csv.stdout.splitlines()[0]
        == "name,type,required,allowed_values,applicable,kind,description"
    )
    table = runner.invoke(app, ["schema"])
    assert table.exit_code == 0 and "ogrs_band" in table.stdout


def test_csv_template_has_the_canonical_header_and_ingests_as_no_cases(tmp_path):
    path = tmp_path / "t.csv"
    result = runner.invoke(app, ["schema", "--template", str(path)])
    assert result.exit_code == 0 and result.stdout == ""
    assert path.read_text().strip().split(",") == [c.name for c in schema.COLUMNS]
    ingest = runner.invoke(app, ["ingest", str(path), "--data", str(tmp_path / "s")])
    assert ingest.exit_code == 1 and "no cases" in ingest.stderr


def test_xlsx_template_round_trips_through_ingest(tmp_path):
    path = tmp_path / "t.xlsx"
    assert runner.invoke(app, ["schema", "--template", str(path)]).exit_code == 0
    header = pl.read_excel(path, sheet_name="Cases", infer_schema_length=0, has_header=False)
    assert list(header.row(0)) == [c.name for c in schema.COLUMNS]
    dictionary = pl.read_excel(path, sheet_name="Dictionary")
    assert dictionary.height == len(schema.COLUMNS)


def test_template_with_other_extension_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["schema", "--template", str(tmp_path / "t.json")])
    assert result.exit_code == 2 and ".csv or .xlsx" in result.stderr


# ---- the template helps data entry (issue 14, item 8) ----------------------------------


def _validations(path):
    """{column name: (type, values or (min, max))} of the Cases sheet's data validations,
    list sources resolved through the (hidden) Lists sheet."""
    import openpyxl
    from openpyxl.utils import range_boundaries

    wb = openpyxl.load_workbook(path)
    ws, lists = wb["Cases"], wb["Lists"]
    assert lists.sheet_state == "hidden"
    header = [c.value for c in ws[1]]
    out = {}
    for dv in ws.data_validations.dataValidation:
        (cells,) = str(dv.sqref).split()
        c0, r0, c1, r1 = range_boundaries(cells)
        assert c0 == c1 and r0 == 2 and r1 >= 10_001, cells  # one column, every case row
        name = header[c0 - 1]
        assert dv.allow_blank  # blank: not applicable / not known
        if dv.type == "list":
            sheet, ref = dv.formula1.split("!")
            assert sheet == "Lists"
            lc0, lr0, lc1, lr1 = range_boundaries(ref.replace("$", ""))
            values = tuple(lists.cell(r, lc0).value for r in range(lr0, lr1 + 1))
            assert lists.cell(1, lc0).value == name
            out[name] = ("list", values)
        else:
            out[name] = (dv.type, (int(dv.formula1), int(dv.formula2)))
    return out


def test_template_has_a_drop_down_for_every_coded_column(tmp_path):
    from hmip_cli.ingest.validate import NO, YES, _norm_level, level_lookup

    path = tmp_path / "t.xlsx"
    assert runner.invoke(app, ["schema", "--template", str(path)]).exit_code == 0
    found = _validations(path)
    coded = [c for c in schema.COLUMNS if c.dtype == pl.Boolean or isinstance(c.dtype, pl.Enum)]
    assert len(coded) > 50 and {c.name for c in coded} <= set(found)
    for col in coded:
        kind, values = found[col.name]
        assert kind == "list"
        if col.dtype == pl.Boolean:  # yes and no, as ingest reads them
            assert values == ("yes", "no") and values[0] in YES and values[1] in NO
        else:  # every level once, by a spelling ingest maps to it
            lookup = level_lookup(col)
            assert [lookup[_norm_level(v)] for v in values] == list(col.levels), col.name
    assert found["age"] == ("whole", (16, 100)) and found["ogrs_score"] == ("whole", (0, 99))
    # nothing is validated that ingest would not check: ids, names, dates, notes are free
    assert not {"case_id", "inspection", "inspection_date", "notes"} & set(found)
    import openpyxl

    guide = openpyxl.load_workbook(path)["Instructions"]
    text = " ".join(str(c.value) for c in guide["A"] if c.value)
    assert "drop-down" in text and "hmip ingest" in text and "blank" in text


def test_a_template_filled_in_from_its_lists_ingests_cleanly(tmp_path, synth_cases):
    """An inspector's workbook: the template, filled in with the drop-downs' labels (not
    codes), real dates and numbers, saved by a spreadsheet (openpyxl), ingests as typed."""
    import datetime as dt

    import openpyxl

    from hmip_cli import store
    from hmip_cli.dictionary import choices

    path = tmp_path / "filled.xlsx"
    assert runner.invoke(app, ["schema", "--template", str(path)]).exit_code == 0
    cases = synth_cases(60, 3)
    wb = openpyxl.load_workbook(path)
    ws = wb["Cases"]
    for i, row in enumerate(cases.iter_rows(named=True), start=2):
        for j, col in enumerate(schema.COLUMNS, start=1):
            v = row[col.name]
            if v is None:
                continue
            if col.dtype == pl.Boolean:
                v = "yes" if v else "no"
            elif isinstance(col.dtype, pl.Enum):
                v = choices(col)[list(col.levels).index(v)]  # the label shown in the list
            elif isinstance(v, dt.date):
                v = dt.datetime(v.year, v.month, v.day)
            ws.cell(i, j, v)
    wb.save(path)
    data = tmp_path / "store"
    r = runner.invoke(app, ["ingest", str(path), "--data", str(data)])
    assert r.exit_code == 0 and "warning" not in r.stderr.lower(), r.stderr
    got = store.load_cases(data).select(list(schema.stored_schema())).sort("case_id")
    assert got.equals(cases.sort("case_id"))
