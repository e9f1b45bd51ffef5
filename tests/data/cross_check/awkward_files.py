"""The other file types of tests/test_cross_check_awkward.py, from the CSVs that
awkward_reference.R writes (run it first, from the repo root):
lung.sav (value labels; wt.loss missing written as -99 and declared user-missing),
pbc.parquet (typed, nulls), cars93.xlsx (Cylinders as text, measurements as numbers)."""

from pathlib import Path

import pandas as pd
import polars as pl
import pyreadstat

HERE = Path(__file__).parent

lung = pd.read_csv(HERE / "lung.csv")
lung["wt.loss"] = lung["wt.loss"].fillna(-99)
pyreadstat.write_sav(
    lung,
    HERE / "lung.sav",
    variable_value_labels={
        "status": {1: "censored", 2: "dead"},
        "sex": {1: "Male", 2: "Female"},
    },
    missing_ranges={"wt.loss": [-99]},
)
(HERE / "lung.csv").unlink()  # the test reads the .sav
pl.read_csv(HERE / "pbc.csv", null_values="").write_parquet(HERE / "pbc.parquet")
(HERE / "pbc.csv").unlink()
numbers = ["Price", "MPG.city", "Horsepower", "Rear.seat.room", "Luggage.room"]
cars = pl.read_csv(HERE / "cars93.csv", null_values="", infer_schema_length=0)
cars.with_columns(pl.col(numbers).cast(pl.Float64)).write_excel(HERE / "cars93.xlsx")
(HERE / "cars93.csv").unlink()
