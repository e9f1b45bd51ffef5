"""sample_profile and `hmip sample` on data whose profile is known exactly."""

from __future__ import annotations

import polars as pl
from test_rates_support import exact_cases
from typer.testing import CliRunner

from hmip_cli import rates
from hmip_cli.cli.app import app


def bulletin_sample() -> pl.DataFrame:
    """1,066 cases with the bulletin's sample profile (../shared/reference/sample.csv:
    672 CRC, 394 NPS, 156 female, 500 post-custody, 177 high/very high RoSH, 271 MAPPA),
    spread over two inspections (Durham: the first 500 cases)."""
    recs = []
    for i in range(1066):
        recs.append(
            {
                "inspection": "Durham" if i < 500 else "Essex",
                "provider": "CRC" if i < 672 else "NPS",
                "gender": "female" if i < 156 else "male",
                "supervision": "post_custody" if i >= 566 else "community",
                "rosh": "high" if i < 170 else "very_high" if i < 177 else "low",
                "mappa": i % 4 == 1 or i in (0, 2, 4, 6),  # 267 + 4 = 271
            }
        )
    return exact_cases(recs)


def _by_char(frame, group="all"):
    return {
        r["characteristic"]: (r["n"], r["base"], r["not_recorded"])
        for r in frame.filter(pl.col("group") == group).iter_rows(named=True)
    }


def test_profile_counts_and_percentages():
    cases = bulletin_sample()
    out = rates.sample_profile(cases)
    assert out.columns == list(rates.SAMPLE_COLUMNS)
    got = _by_char(out)
    assert got["all_cases"] == (1066, 1066, 0)
    assert got["crc"] == (672, 1066, 0) and got["nps"] == (394, 1066, 0)
    assert got["female"] == (156, 1066, 0)
    assert got["post_custody"] == (500, 1066, 0)
    assert got["mappa_eligible"] == (271, 1066, 0)
    assert got["rosh_high_very_high"] == (177, 1066, 0)
    crc = out.filter(pl.col("characteristic") == "crc").row(0, named=True)
    assert crc["percent"] == 100 * 672 / 1066


def test_unknown_values_are_counted_not_hidden():
    cases = exact_cases(
        [{"gender": "female"}, {"gender": "male"}, {"gender": None}, {"gender": None}]
    )
    out = _by_char(rates.sample_profile(cases))
    assert out["female"] == (1, 2, 2)
    assert out["all_cases"] == (4, 4, 0)


def test_by_inspection_and_its_groups_sum_to_the_total():
    out = rates.sample_profile(bulletin_sample(), by="inspection")
    assert out["group"].unique(maintain_order=True).to_list() == ["all", "Durham", "Essex"]
    durham = _by_char(out, "Durham")
    assert durham["all_cases"] == (500, 500, 0) and durham["crc"] == (500, 500, 0)
    essex = _by_char(out, "Essex")
    assert essex["crc"][0] == 172 and essex["post_custody"][0] == 500


def test_hmip_sample_prints_n_and_percent(monkeypatch):
    from hmip_cli.cli import sample_cmd

    cases = bulletin_sample()
    monkeypatch.setattr(sample_cmd, "load_cases", lambda data: cases)
    result = CliRunner().invoke(app, ["sample"])
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()

    def cells(label):
        line = next(x for x in lines if x.startswith(f"│ {label} "))
        return [c.strip() for c in line.strip("│").split("│")][1:]

    # 672/1066 = 63.039...%; 156/1066 = 14.634...%; 271/1066 = 25.422...%
    assert cells("CRC cases") == ["672", "63.0"]
    assert cells("NPS cases") == ["394", "37.0"]
    assert cells("Female service users") == ["156", "14.6"]
    assert cells("Post-custody cases") == ["500", "46.9"]
    assert cells("Eligible for MAPPA") == ["271", "25.4"]
    assert cells("High or very high risk of serious harm") == ["177", "16.6"]  # 16.604...%
    by = CliRunner().invoke(app, ["sample", "--by", "inspection"])
    assert "Sample profile by inspection" in by.stdout and "Durham" in by.stdout
