"""Bad input files for `hmip regress --input`, found by the h5 cross-check on public data
(docs/stepwise.md, "Errors"): one message naming the file, row and column, exit 1, no
traceback, nothing on stdout. Each test failed on the code before the fix."""

from __future__ import annotations

import polars as pl
import pytest
from test_json_support import model
from typer.testing import CliRunner

from hmip_cli.cli.app import app

runner = CliRunner()

# kyphosis-like: 5 events in 12 cases; 'age' numeric except one '?' (UCI data sets write
# missing values so), in the 5th data row (spreadsheet row 6)
AGES = ["71", "158", "71", "2", "?", "1", "61", "2", "158", "1", "82", "61"]
STATUS = ["present", "absent", "present", "absent", "absent", "present"] * 2
NUMBER = ["3", "3", "4", "5", "4", "2", "2", "3", "2", "6", "5", "3"]
ROWS = list(zip(STATUS, AGES, NUMBER, strict=True))


def _csv(tmp_path, text: str, name: str = "cases.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(path, *args: str):
    return runner.invoke(app, ["regress", "--input", str(path), *args])


def _refused(result, *parts: str) -> None:
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stdout == "" and "Traceback" not in result.output
    for part in parts:
        assert part in result.stderr, result.stderr


def test_a_numeric_covariate_with_a_stray_text_value_is_refused_naming_row_and_value(tmp_path):
    """Before: the one '?' made 'age' a text column, so it was silently fitted as a
    categorical variable with a level (and a parameter) per distinct age."""
    text = "status,age,number\n" + "".join(",".join(r) + "\n" for r in ROWS)
    path = _csv(tmp_path, text)
    result = _run(path, "--outcome", "status", "--candidates", "age,number")
    _refused(result, f"{path}, row 6, column 'age': '?' is not a number", "11 of the column's 12")
    assert "--categorical" in result.stderr
    # in an interaction too (before: the term 'age*number' was not a column, so not checked)
    _refused(_run(path, "--outcome", "status", "--candidates", "age*number"), "column 'age'")
    # the same in a Parquet file (typed as text there): named by case, not spreadsheet row
    pq = tmp_path / "cases.parquet"
    pl.read_csv(path, infer_schema_length=0).write_parquet(pq)
    _refused(_run(pq, "--outcome", "status", "--candidates", "age"), "case 5, column 'age'")
    # declared categorical, it is categorical: '?' is a level, as SPSS would code it
    ok = _run(path, "--outcome", "status", "--candidates", "age", "--categorical", "age")
    assert ok.exit_code == 0, ok.output
    # and a text variable (mostly not numbers) is still categorical without being listed
    words = ["old", "young", "old", "young", "2", "old"] * 2
    text = "status,age\n" + "".join(f"{s},{w}\n" for s, w in zip(STATUS, words, strict=True))
    ok = _run(_csv(tmp_path, text, "w.csv"), "--outcome", "status", "--candidates", "age")
    assert ok.exit_code == 0, ok.output


def test_a_column_the_model_uses_named_twice_in_the_header_is_refused(tmp_path):
    """Before: Polars renamed the second 'age' to 'age_duplicated_0' and the first was
    fitted, silently."""
    text = "status,age,age\n" + "".join(f"{s},{n},{a}\n" for s, a, n in ROWS)
    path = _csv(tmp_path, text)
    _refused(
        _run(path, "--outcome", "status", "--candidates", "age"),
        f"{path}, row 1: the header names column 'age' 2 times (columns 2, 3)",
    )


def test_a_row_with_more_cells_than_the_header_is_named(tmp_path):
    """Before: 'could not read ...: found more fields than defined in 'Schema'' (no row)."""
    text = "status,age\npresent,71\nabsent,1,5\n"
    path = _csv(tmp_path, text)
    _refused(
        _run(path, "--outcome", "status", "--candidates", "age"),
        f"{path}, row 3: this row has 3 cells but the header has 2",
    )


def test_a_semicolon_separated_csv_is_named_as_such(tmp_path):
    """Before: a Polars parse error quoting the whole header as one column name."""
    path = _csv(tmp_path, "status;age\npresent;71\nabsent;12\n")
    _refused(
        _run(path, "--outcome", "status", "--candidates", "age"),
        f"{path}, row 1: the header has no commas but has semicolons",
    )


def test_an_outcome_missing_for_every_case_says_so(tmp_path):
    """Before: "outcome 'status' has only one value (nothing (all missing))"."""
    path = _csv(tmp_path, "status,age\nNA,71\n,12\n.,5\n")
    _refused(
        _run(path, "--outcome", "status", "--candidates", "age"),
        "outcome 'status' is missing for every case",
    )


def test_cells_read_as_missing_for_their_wording_are_named(tmp_path):
    """'Unknown', 'Not recorded', 'not applicable' are missing in hmip (hmip_cli.missing)
    where SPSS and R would keep a category: before, the cases they cost in listwise
    deletion went unexplained (only the Case Processing Summary's count changed)."""
    rows = [("1", "A"), ("0", "B"), ("1", "Unknown"), ("0", "A"), ("1", "B"), ("0", "unknown ")]
    rows += [("1", "A"), ("0", "Not recorded"), ("1", "B"), ("0", "A"), ("1", "B"), ("0", "B")]
    path = _csv(tmp_path, "y,g\n" + "".join(f"{y},{g}\n" for y, g in rows))
    result = _run(path, "--outcome", "y", "--candidates", "g", "--format", "json")
    assert result.exit_code == 0, result.output
    assert (
        "note: read as missing, as hmip reads every 'not recorded' or 'not applicable' "
        "spelling (SPSS would keep them as a category): "
    ) in result.stderr
    # one count per spelling as written, most cases first; 12 - 3 cases used
    assert "'Unknown' in 'g' (1 case)" in result.stderr
    assert "'unknown ' in 'g' (1 case)" in result.stderr
    assert "'Not recorded' in 'g' (1 case)" in result.stderr
    assert '"n": 9' in result.stdout


def test_missing_words_category_keeps_the_wordings_as_a_level_as_spss_reads_the_file(tmp_path):
    """--missing-words category: 'Unknown' is a level like any other (SPSS and R read a CSV
    so), giving exactly the model of the same file with the level spelled 'Ux' (same sort
    position); blank and NA stay missing. The default still drops those cases."""
    # events: A 9 of 10, B 2 of 10, Unknown 5 of 10 (g enters: score p about .002)
    rows = [
        (o, v) for v, k in (("A", 9), ("B", 2), ("Unknown", 5)) for o in "1" * k + "0" * (10 - k)
    ]
    rows += [("1", ""), ("0", "NA")]
    text = "y,g\n" + "".join(f"{o},{v}\n" for o, v in rows)
    words = _csv(tmp_path, text, "words.csv")
    plain = _csv(tmp_path, text.replace("Unknown", "Ux"), "plain.csv")
    args = ["--outcome", "y", "--candidates", "g", "--format", "json"]
    kept = _run(words, *args, "--missing-words", "category")
    same = _run(plain, *args)
    assert kept.exit_code == 0 and same.exit_code == 0, (kept.output, same.output)
    a, b = model(kept.stdout), model(same.stdout)
    assert a["n"] == b["n"] == 30 and a["n_dropped"] == 2  # blank and NA: missing in both
    assert a["final_terms"] == ["g"]
    assert a["codings"][0]["levels"] == ["A", "B", "Unknown"]
    assert a["steps"] == b["steps"] and a["minus_2ll"] == b["minus_2ll"]
    assert [c["b"] for c in a["coefficients"]] == [c["b"] for c in b["coefficients"]]
    assert "read as missing" not in kept.stderr
    dropped = _run(words, *args)
    assert model(dropped.stdout)["n"] == 20  # the default: 'Unknown' is missing
    assert "--missing-words category keeps them" in dropped.stderr


def test_a_sav_outcome_and_reference_can_be_named_by_code(tmp_path):
    """SPSS users name categories by value: --event 1 and --reference sex=1 on a .sav whose
    status and sex carry value labels (1 = censored, 1 = Male). Before: exit 2, "not a
    value of 'status' (values: censored, dead)"."""
    from pathlib import Path

    sav = Path(__file__).parent / "data" / "cross_check" / "lung.sav"
    args = ["--outcome", "status", "--candidates", "age,sex", "--categorical", "sex"]
    by_code = _run(sav, *args, "--event", "1", "--reference", "sex=1", "--format", "json")
    by_label = _run(
        sav, *args, "--event", "censored", "--reference", "sex=Male", "--format", "json"
    )
    assert by_code.exit_code == 0 and by_label.exit_code == 0, (by_code.output, by_label.output)
    assert '"event": "censored"' in by_code.stdout and '"reference": "Male"' in by_code.stdout
    assert model(by_code.stdout) == model(by_label.stdout)


def test_a_partly_redundant_categorical_term_is_not_called_a_linear_combination(tmp_path):
    """g (A/B/C) after 'is A' (1 when g is A) adds one new column of its two: before, the
    message said g "is a linear combination of the model's columns", which is false."""
    g = ["A"] * 10 + ["B"] * 10 + ["C"] * 10
    y = [1] * 9 + [0] + [1] * 4 + [0] * 6 + [1] * 3 + [0] * 7
    rows = "".join(f"{o},{v},{int(v == 'A')}\n" for o, v in zip(y, g, strict=True))
    path = _csv(tmp_path, "y,g,is A\n" + rows)
    result = _run(path, "--outcome", "y", "--candidates", "is A,g", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [s["term"] for s in model(result.stdout)["steps"]] == ["is A"]
    assert "step 1: 'g' is collinear with the model's columns (is A)" in result.stderr
    assert "some combination of them" in result.stderr


def test_header_names_with_spaces_around_them_can_be_named(tmp_path):
    """ "y, age" (a hand-written CSV, a space after each comma): the column is ' age', and
    --candidates names are trimmed, so before it could not be named at all ("'age' not
    found (did you mean ' age'?)")."""
    rows = "".join(f"{s == 'present':d}, {a}\n" for s, a, _ in ROWS if a != "?")
    path = _csv(tmp_path, "y, age\n" + rows)
    result = _run(
        path,
        "--outcome",
        "y",
        "--candidates",
        "age",
        "--pin",
        ".9",
        "--pout",
        ".95",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    r = model(result.stdout)
    assert r["candidates"] == ["age"] and r["n"] == 11 and r["final_terms"] == ["age"]


def test_a_sav_string_variable_keeps_spss_text_order_and_spelling(tmp_path):
    """A string variable of numeric codes in a .sav ("1" ... "12", "01" ... "12"): SPSS sorts
    its values as text, so the default reference (last) of region is "9", and "01" stays
    "01". Before: converted to numbers, reference 12 and levels "1", "2", ..."""
    import pandas as pd
    import pyreadstat

    region = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] * 4
    y = [int((i * 7) % 5 < 2) for i in range(len(region))]
    frame = pd.DataFrame({"y": y, "region": [str(r) for r in region]})
    frame["code"] = [f"{r:02d}" for r in region]
    sav = tmp_path / "codes.sav"
    pyreadstat.write_sav(frame, sav)
    args = ["--outcome", "y", "--candidates", "region,code", "--categorical", "region,code"]
    result = _run(sav, *args, "--method", "enter", "--format", "json")
    assert result.exit_code == 0, result.output
    codings = {c["term"]: c for c in model(result.stdout)["codings"]}
    assert codings["region"]["levels"][:5] == ["1", "10", "11", "12", "2"]
    assert codings["region"]["reference"] == "9"
    assert codings["code"]["levels"][0] == "01" and codings["code"]["reference"] == "12"


def test_a_csv_not_in_utf8_is_named_with_its_row_and_the_way_out(tmp_path):
    """Excel on Windows saves plain CSV in cp1252, and 'Unicode Text' in UTF-16. Before:
    "could not read ...: invalid utf-8 sequence" (no row), and for UTF-16 a garbled
    "column(s) not found" listing the header's bytes."""
    text = "y,g\n1,A\n0,B\n1,Ärzte\n0,A\n"
    cp = tmp_path / "cp1252.csv"
    cp.write_bytes(text.encode("cp1252"))
    _refused(
        _run(cp, "--outcome", "y", "--candidates", "g"),
        f"{cp}, row 4: the file is not UTF-8 text (byte 0xc4); re-save it as 'CSV UTF-8",
    )
    u16 = tmp_path / "unicode.csv"
    u16.write_bytes(text.encode("utf-16"))
    _refused(
        _run(u16, "--outcome", "y", "--candidates", "g"),
        f"{u16}: the file is UTF-16 text",
    )
    tsv = _csv(tmp_path, "y,g\n1,A\n0,B\n", "commas.tsv")
    _refused(
        _run(tsv, "--outcome", "y", "--candidates", "g"),
        "the file is comma-separated, and hmip reads .tsv as tab-separated; give it the "
        "extension .csv",
    )


def test_firth_converges_on_a_saturated_design(tmp_path):
    """Three cases, three parameters (every hat value 1): the Newton step with the expected
    information overshoots Firth's maximum by a factor 2, and the fit jumped between two
    points either side of it until "did not converge in 200 iterations" (exit 1).
    R: brglm2 glm(y ~ x + g, binomial, method = "brglmFit", type = "AS_mean") ->
    (Intercept) -1.098612 (= -log 3), x 0, g(a) 2.197225 (= log 9), converged."""
    import math

    path = _csv(tmp_path, "y,x,g\n1,1,a\n0,2,b\n1,3,a\n")
    result = _run(path, "--outcome", "y", "--candidates", "x,g", "--firth", "--format", "json")
    assert result.exit_code == 0, result.output
    b = {c["parameter"]: c["b"] for c in model(result.stdout)["coefficients"]}
    assert b["Constant"] == pytest.approx(-math.log(3), rel=1e-10)
    assert b["g(a)"] == pytest.approx(math.log(9), rel=1e-10)
    assert abs(b["x"]) < 1e-12


def test_a_reference_for_a_numeric_covariate_is_refused(tmp_path):
    """--reference x=1 for a covariate not in --categorical was silently ignored (SPSS
    refuses a CONTRAST for a variable not on CATEGORICAL). And a reference level that only
    cases dropped by listwise deletion had is named as not among the cases used."""
    path = _csv(tmp_path, "y,x,g\n1,1,a\n0,2,b\n1,3,a\n0,,c\n1,2,b\n0,1,a\n")
    result = _run(path, "--outcome", "y", "--candidates", "x,g", "--reference", "x=1")
    assert result.exit_code == 2 and "reference given for numeric covariate(s) 'x'" in result.stderr
    result = _run(path, "--outcome", "y", "--candidates", "x,g", "--reference", "g=c")
    assert result.exit_code == 2
    assert "is not one of its levels (levels among the cases used: a, b)" in result.stderr
