"""hmip synth: determinism, schema conformity, the messy export, the CLI, the examples."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from hmip_cli import schema, synth
from hmip_cli.cli.app import app
from hmip_cli.errors import BadRequest

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def cases() -> pl.DataFrame:
    return synth.generate(5000, 11)


# --- determinism ------------------------------------------------------------------------


def test_same_seed_gives_the_same_frame_and_bytes():
    a, b = synth.generate(800, 5), synth.generate(800, 5)
    assert_frame_equal(a, b)
    assert synth.to_csv_text(a) == synth.to_csv_text(b)
    assert synth.messy_csv_text(a, 5) == synth.messy_csv_text(b, 5)


def test_different_seed_gives_different_cases():
    a, b = synth.generate(800, 5), synth.generate(800, 6)
    assert a.get_column("case_id").equals(b.get_column("case_id"))  # ids are 1..n either way
    assert not a.drop("case_id").equals(b.drop("case_id"))


def test_calibration_is_a_fixed_function_of_the_constants():
    synth.calibration.cache_clear()
    first = synth.calibration()
    synth.calibration.cache_clear()
    again = synth.calibration()
    assert first.intercepts == again.intercepts
    assert first.priority_theta == again.priority_theta


def test_the_calibration_file_is_keyed_by_its_frameworks_keys():
    """hmip_cli/data/qi-2016.calibration.toml names every area, measure, question and party
    of its framework, and nothing else: a key renamed in the framework file but not here
    (or misspelt here) is caught, not silently given no rate."""
    path = Path(synth.__file__).parent / "data" / "qi-2016.calibration.toml"
    cal = tomllib.loads(path.read_text(encoding="utf-8"))
    fw = synth.FW
    assert fw.name == cal["framework"] == "qi-2016"
    areas = [a.key for a in fw.areas]
    assert list(cal["priority_prevalence"]) == areas
    assert list(cal["priority_effects"]) == areas
    figures = {k: v for k, v in cal["figures"].items() if k != "not_published"}
    assert list(figures) == [m.key for m in fw.measures]
    assert all(list(rates) == areas for rates in figures.values())
    assert list(cal["involvement"]) == [p.key for p in fw.parties]
    for key, party in cal["involvement"].items():
        assert list(party["for_area"]) == areas
        assert fw.question(party["involved_question"]).who == key
        assert fw.question(party["info_question"]).who == key
    questions = [q.key for q in fw.questions]
    assert list(cal["question_rates"]) == questions == list(cal["tables"]["rows"])
    measures = {m.key for m in fw.measures}
    for entry in cal["effects"]:
        for item in entry["items"]:
            area, measure = item.split("/")
            assert area in areas and measure in measures, item


# --- schema conformity ------------------------------------------------------------------


def test_exact_stored_schema(cases):
    assert cases.schema == schema.stored_schema()
    assert list(cases.columns) == [c.name for c in schema.COLUMNS]


def test_required_columns_never_blank(cases):
    for col in schema.COLUMNS:
        if col.required:
            assert cases.get_column(col.name).null_count() == 0, col.name


def test_values_in_range(cases):
    for col in schema.COLUMNS:
        if col.minimum is not None:
            s = cases.get_column(col.name).drop_nulls()
            assert s.min() >= col.minimum and s.max() <= col.maximum, col.name
    dates = cases.get_column("inspection_date")
    assert date(2016, 3, 1) <= dates.min() and dates.max() <= date(2017, 12, 31)
    assert cases.get_column("inspection").n_unique() == 14


def test_ogrs_band_agrees_with_score(cases):
    implied = cases.select(schema.ogrs_band_expr(pl.col("ogrs_score")).alias("b")).get_column("b")
    assert implied.equals(cases.get_column("ogrs_band"))
    assert cases.get_column("ogrs_score").is_null().equals(cases.get_column("ogrs_band").is_null())


def test_case_ids_unique_and_obviously_synthetic(cases):
    ids = cases.get_column("case_id")
    assert ids.n_unique() == cases.height
    assert ids.str.contains(r"^SYN-\d{6}$").all()
    assert ids[0] == "SYN-000001"
    other = synth.generate(3, 1, id_prefix="SYX")
    assert other.get_column("case_id").to_list() == ["SYX-000001", "SYX-000002", "SYX-000003"]


def test_rows_are_grouped_by_inspection_in_date_order(cases):
    d = cases.get_column("inspection_date")
    assert d.is_sorted()


def test_notes_are_rare_and_obviously_synthetic(cases):
    notes = cases.get_column("notes").drop_nulls()
    assert 0 < notes.len() < 0.1 * cases.height
    assert notes.str.starts_with(synth.NOTE_MARKER).all()


def test_one_to_five_priorities(cases):
    n = cases.select(
        pl.sum_horizontal([pl.col(schema.priority_column(f)).cast(pl.Int8) for f in schema.FACTORS])
    ).to_series()
    assert n.min() >= 1
    assert n.max() == schema.MAX_PRIORITIES  # reached, never exceeded


def test_judgements_null_exactly_where_not_applicable(cases):
    for f in schema.FACTORS:
        pri = cases.get_column(schema.priority_column(f))
        assert pri.null_count() == 0
        for m in schema.MEASURES:
            j = cases.get_column(schema.judgement_column(f, m))
            # not a priority -> all four judgements null
            assert j.filter(~pri).null_count() == (~pri).sum(), (f.key, m.key)
            if not m.requires_involvement:
                # a priority -> availability and delivery always recorded
                assert j.filter(pri).null_count() == 0, (f.key, m.key)
            else:
                # asked only where that kind of organisation was involved: some, not all
                assert 0 < j.filter(pri).null_count() < pri.sum(), (f.key, m.key)


def test_contributions_imply_involvement(cases):
    """A factor-level contribution is recorded only in cases where that organisation type
    delivered interventions, i.e. where its harm-focus question was asked."""
    for m, q in (
        (synth._mk("contracted"), "contracted_harm_focus"),
        (synth._mk("partner"), "partner_harm_focus"),
    ):
        any_contrib = pl.any_horizontal(
            [pl.col(schema.judgement_column(f, m)).is_not_null() for f in schema.FACTORS]
        )
        bad = cases.filter(any_contrib & pl.col(q).is_null())
        assert bad.height == 0, m
    info_without_delivery = cases.filter(
        pl.col("contracted_info_review").is_not_null() & pl.col("contracted_harm_focus").is_null()
    )
    assert info_without_delivery.height == 0


def test_one_case_works():
    one = synth.generate(1, 0)
    assert one.height == 1 and one.schema == schema.stored_schema()


@pytest.mark.parametrize(
    "n, seed, prefix",
    [
        (0, 1, "SYN"),
        (-5, 1, "SYN"),
        (10, -1, "SYN"),
        (synth.MAX_CASES + 1, 1, "SYN"),
        (10, 1, "syn"),
        (10, 1, "A B"),
        (True, 1, "SYN"),
        (1.5, 1, "SYN"),
    ],
)
def test_bad_arguments_are_bad_requests(n, seed, prefix):
    with pytest.raises(BadRequest):
        synth.generate(n, seed, id_prefix=prefix)


# --- CSV and messy export ---------------------------------------------------------------


def test_clean_csv_uses_yes_no_and_blank(cases):
    text = synth.to_csv_text(cases.head(50))
    header, first = text.splitlines()[:2]
    assert header.split(",") == [c.name for c in schema.COLUMNS]
    assert "true" not in text and "false" not in text
    assert re.search(r",(yes|no),", first)


def test_messy_export_looks_like_a_real_export(cases):
    messy = synth.messy_export(cases, 11)
    assert all(dt == pl.String for dt in messy.dtypes)
    assert "Case ref" in messy.columns and "Accom - priority?" in messy.columns
    yn = messy.get_column("Accom - interventions available?")
    assert set(yn.unique().to_list()) == {"Y", "N", "N/A", ""}
    assert set(messy.get_column("Gender").unique().to_list()) == {"M", "F"}
    assert set(messy.get_column("RoSH").unique().to_list()) == {
        "Low",
        "Medium",
        "High",
        "Very high",
    }
    assert "Licence" in messy.get_column("Sentence type").to_list()
    assert "Post-custody" in messy.get_column("Sentence type").to_list()
    assert messy.get_column("Inspection date").str.contains(r"^\d{2}/\d{2}/\d{4}$").all()
    assert "Not known" in messy.get_column("Ethnicity").to_list()


def test_mapping_maps_every_header_and_matches_the_agreed_format():
    doc = tomllib.loads(synth.messy_mapping_toml())
    assert set(doc) == {"columns", "values"}
    assert set(doc["columns"]) == set(synth.messy_headers().values())
    assert sorted(doc["columns"].values()) == sorted(c.name for c in schema.COLUMNS)
    assert doc["values"]["*"] == {"Y": "yes", "N": "no", "N/A": ""}
    for key in doc["values"]:
        assert key == "*" or key in schema.COLUMN_BY_NAME


def test_messy_export_round_trips_through_ingest(tmp_path):
    """Integration with `hmip ingest`: the export + its mapping give the cases back exactly."""
    from hmip_cli import store
    from hmip_cli.ingest import ingest_files

    cases = synth.generate(600, 4, id_prefix="SYX")
    (tmp_path / "export.csv").write_text(synth.messy_csv_text(cases, 4))
    (tmp_path / "mapping.toml").write_text(synth.messy_mapping_toml())
    (tmp_path / "clean.csv").write_text(synth.to_csv_text(cases))
    for name, mapping in (("export.csv", tmp_path / "mapping.toml"), ("clean.csv", None)):
        data = tmp_path / f"store-{name}"
        result = ingest_files([tmp_path / name], data=data, mapping=mapping)
        assert result.warnings == [], name
        got, _ = store.read_stored(data)
        assert_frame_equal(got.select(cases.columns), cases)


# --- CLI --------------------------------------------------------------------------------


def test_cli_writes_csv_to_stdout_identical_to_library():
    result = runner.invoke(app, ["synth", "--cases", "300", "--seed", "9"])
    assert result.exit_code == 0 and result.exception is None
    assert result.stdout == synth.to_csv_text(synth.generate(300, 9))
    assert result.stderr == ""


def test_cli_default_id_prefix_is_the_library_default():
    from hmip_cli.cli import synth_cmd

    assert synth_cmd.DEFAULT_ID_PREFIX == synth.DEFAULT_ID_PREFIX


def test_cli_output_file_messy_and_mapping(tmp_path):
    out, mapping = tmp_path / "e.csv", tmp_path / "m.toml"
    result = runner.invoke(
        app,
        [
            "synth",
            "-n",
            "50",
            "-s",
            "3",
            "--messy",
            "--id-prefix",
            "ABC",
            "--output",
            str(out),
            "--mapping-output",
            str(mapping),
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "Wrote 50 synthetic cases" in result.stderr
    assert out.read_text() == synth.messy_csv_text(synth.generate(50, 3, id_prefix="ABC"), 3)
    assert mapping.read_text() == synth.messy_mapping_toml()
    assert oct(out.stat().st_mode & 0o777) == "0o644"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--cases", "-3"], "between 1 and"),
        (["--cases", "0"], "between 1 and"),
        (["--seed", "-1"], "seed"),
        (["--mapping-output", "m.toml"], "needs --messy"),
        (["--id-prefix", "a b"], "prefix"),
    ],
)
def test_cli_bad_arguments_exit_2_with_a_clear_message(args, message):
    result = runner.invoke(app, ["synth", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_cli_non_number_is_a_usage_error():
    result = runner.invoke(app, ["synth", "--cases", "many"])
    assert result.exit_code == 2


def test_help_has_example():
    result = runner.invoke(app, ["synth", "--help"])
    assert result.exit_code == 0 and "Example:" in result.stdout


# --- examples/ --------------------------------------------------------------------------


def test_examples_cases_csv_is_hmip_synth_1066_seed_1():
    expected = synth.to_csv_text(synth.generate(1066, 1))
    assert (EXAMPLES / "cases.csv").read_bytes() == expected.encode("utf-8")
    result = runner.invoke(app, ["synth", "--cases", "1066", "--seed", "1"])
    assert result.stdout.encode("utf-8") == (EXAMPLES / "cases.csv").read_bytes()


def test_examples_export_and_mapping_regenerate():
    cases = synth.generate(200, 2, id_prefix=synth.EXPORT_ID_PREFIX)
    assert (EXAMPLES / "export" / "cases_export.csv").read_bytes() == synth.messy_csv_text(
        cases, 2
    ).encode("utf-8")
    assert (EXAMPLES / "export" / "mapping.toml").read_bytes() == synth.messy_mapping_toml().encode(
        "utf-8"
    )
    ids = set(pl.read_csv(EXAMPLES / "cases.csv", columns=["case_id"]).get_column("case_id"))
    export_ids = set(
        pl.read_csv(
            EXAMPLES / "export" / "cases_export.csv", columns=["Case ref"], infer_schema=False
        ).get_column("Case ref")
    )
    assert not ids & export_ids
