"""--syntax spss|r|stata and --export-data (issue 11 item 5).

REAL-CLIENT TEST: GNU PSPP (`pspp`, Debian package pspp; .ci/run installs it) runs the
final-model LOGISTIC REGRESSION that `--syntax spss` writes, on the `.sav` that
`--export-data` writes; its B, S.E., Wald, Sig. and -2 log likelihood (printed with 12
decimals: SET FORMAT and OUTPUT MODIFY) must agree with hmip's final model to 1e-6 relative.
"""

import csv
import io
import shutil
import subprocess
from pathlib import Path

import pyreadstat
import pytest

DATA = Path(__file__).parent / "data" / "stepwise"
BIRTHWT = [
    "regress", "--input", str(DATA / "birthwt.csv"), "--outcome", "low", "--candidates",
    "age,lwt,race,smoke,ptd,ht,ui", "--categorical", "race", "--pin", "0.3", "--pout", "0.35",
]  # fmt: skip


def _final_model_syntax(text: str) -> str:
    """The part PSPP runs: GET FILE and the final-model ENTER command (PSPP has no FSTEP)."""
    get = next(line for line in text.splitlines() if line.startswith("GET FILE="))
    final = text[text.index("* The final model alone") :]
    return "\n".join([get, final])


def _pspp_tables(out_csv: str) -> dict[str, list[list[str]]]:
    tables: dict[str, list[list[str]]] = {}
    for block in out_csv.split("\n\n"):
        lines = block.strip().splitlines()
        if lines and lines[0].startswith("Table: "):
            tables[lines[0][len("Table: ") :]] = list(csv.reader(io.StringIO("\n".join(lines[1:]))))
    return tables


def _num(text: str) -> float:
    return float(text) if text else float("nan")


@pytest.mark.skipif(
    shutil.which("pspp") is None, reason="GNU PSPP (Debian package pspp) is not installed"
)
def test_pspp_reruns_the_final_model(cli, tmp_path):
    from test_json_support import model

    sav = tmp_path / "birthwt.sav"
    r = cli(*BIRTHWT, "--syntax", "spss", "--export-data", str(sav))
    assert r.exit_code == 0, r.output
    syntax = r.stdout
    assert "/METHOD=FSTEP(LR) age lwt race smoke ptd ht ui" in syntax
    assert "LOGISTIC REGRESSION VARIABLES low WITH lwt race smoke ptd ht ui" in syntax
    res = model(cli(*BIRTHWT, "-f", "json").stdout)
    sps = tmp_path / "final.sps"
    sps.write_text(
        "SET FORMAT=F30.12.\n"
        "OUTPUT MODIFY /SELECT TABLES /TABLECELLS SELECT=[SIGNIFICANCE] FORMAT=F30.12.\n"
        + _final_model_syntax(syntax)
    )
    out = tmp_path / "out.csv"
    run = subprocess.run(
        ["pspp", str(sps), "-o", str(out)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    tables = _pspp_tables(out.read_text())
    summary = tables["Model Summary"]
    assert _num(summary[1][1]) == pytest.approx(res["minus_2ll"], rel=1e-6)
    rows = tables["Variables in the Equation"][1:]
    pspp = {row[1]: row[2:7] for row in rows}  # B, S.E., Wald, df, Sig.
    compared = 0
    for c in res["coefficients"]:
        got = pspp[c["parameter"]]
        if c["kind"] != "term":
            assert _num(got[0]) == pytest.approx(c["b"], rel=1e-6), c["parameter"]
            assert _num(got[1]) == pytest.approx(c["se"], rel=1e-6), c["parameter"]
        assert _num(got[2]) == pytest.approx(c["wald"], rel=1e-6), c["parameter"]
        assert int(got[3]) == c["df"]
        assert _num(got[4]) == pytest.approx(c["p"], rel=1e-6, abs=5e-13), c["parameter"]
        compared += 1
    assert compared == 9  # 7 parameters, race's joint row, the constant


def test_export_has_the_cases_used_and_labels_no_identifiers(cli, tmp_path):
    sav, csv_path = tmp_path / "x.sav", tmp_path / "x.csv"
    pima = [
        "regress", "--input", str(DATA / "pima_tr.csv"), "--outcome", "type", "--candidates",
        "glu,bmi", "--export-data",
    ]  # fmt: skip
    r = cli(*pima, str(sav))
    assert r.exit_code == 0, r.output
    df, meta = pyreadstat.read_sav(str(sav))
    assert list(df.columns) == ["type", "glu", "bmi"] and len(df) == 200
    assert set(df["type"]) == {0, 1} and df["type"].sum() == 68  # Yes is the event (coded 1)
    r = cli(*BIRTHWT, "--export-data", str(sav))
    df, meta = pyreadstat.read_sav(str(sav))
    assert meta.variable_value_labels["race"] == {1.0: "1", 2.0: "2", 3.0: "3"}
    r = cli(*BIRTHWT, "--export-data", str(csv_path))
    assert csv_path.read_text().splitlines()[0] == "low,age,lwt,race,smoke,ptd,ht,ui"
    r = cli(*BIRTHWT, "--export-data", str(tmp_path / "x.xlsx"))
    assert r.exit_code == 2 and "write a .sav or .csv file" in r.output


def test_r_and_stata_syntax(cli):
    r = cli(*BIRTHWT, "--syntax", "r")
    assert r.exit_code == 0, r.output
    assert "contrasts(d$race) <- contr.treatment(3, base = 3)" in r.stdout
    assert "m6 <- glm(low ~ lwt + race + smoke + ptd + ht + ui, binomial, d" in r.stdout
    r = cli(*BIRTHWT, "--syntax", "stata")
    assert "logit low c.lwt ib3.race c.smoke c.ptd c.ht c.ui" in r.stdout
    r = cli(*BIRTHWT, "--syntax", "sas")
    assert r.exit_code == 2 and "--syntax must be spss, r or stata" in r.output


def test_spss_syntax_carries_blocks_contrasts_and_interactions(cli):
    r = cli(
        "regress", "--input", str(DATA / "birthwt.csv"), "--outcome", "low",
        "--candidates", "lwt,race,smoke,race*smoke", "--categorical", "race",
        "--enter", "lwt", "--contrast", "race=deviation", "--reference", "race=first",
        "--syntax", "spss",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "  /METHOD=ENTER lwt\n  /METHOD=FSTEP(LR) race smoke race BY smoke" in r.stdout
    assert "/CONTRAST (race)=Deviation(1)" in r.stdout
