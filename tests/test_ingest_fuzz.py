"""Fuzz: 2,100 corrupted inputs (CSV, XLSX, SAV, Parquet and mapping files) through
`hmip ingest`, in-process, from a seeded generator (issue 8's done-when).

Every input is a small valid file (planted ids and notes) damaged in one to three ways:
cells swapped for junk or for another case's id or note, cells or rows or headers lost or
added, the file cut, bytes flipped or inserted, other separators, line ends, encodings and
byte-order marks, cover sheets, nested Parquet columns, broken mapping TOML. For each:

- no traceback, and no exception other than the CLI's exit;
- exit 1 or 2 with every problem line naming the file (or the mapping), as
  "FILE, row N" where a row is given; the existing store byte-for-byte unchanged; or
- exit 0 and a store `hmip info` reads;
- and never a planted id or note on stdout or stderr.

The seed is fixed so a failure reproduces (HMIP_FUZZ_SEED=n picks another); the test
prints one summary line with the counts (`pytest -s` shows it).
"""

from __future__ import annotations

import functools
import io
import os
import random
import re
import shutil
from collections import Counter

import polars as pl
import pyreadstat
import pytest
import typer.testing
import xlsxwriter
from test_ingest_support import (
    LONG_NOTE,
    SECRETS,
    SHORT_NOTE,
    as_text,
    digest,
    make_cases,
    planted,
)
from typer.main import get_command

from hmip_cli import schema
from hmip_cli.cli.app import app

SEED = int(os.environ.get("HMIP_FUZZ_SEED", "20261201"))
SCALE = float(os.environ.get("HMIP_FUZZ_SCALE", "1"))  # e.g. 0.1 for a quick look
COUNTS = {
    k: max(1, round(v * SCALE))
    for k, v in {"csv": 900, "xlsx": 300, "sav": 300, "parquet": 300, "mapping": 300}.items()
}
# Runs of at most 300 inputs, one test each, so `-n 2` shares them out evenly.
RUNS = [
    (kind, part, min(300, count - 300 * part))
    for kind, count in COUNTS.items()
    for part in range((count + 299) // 300)
]

JUNK = [
    "",
    " ",
    "yes",
    "no",
    "maybe",
    "N/A",
    "99999",
    "-1",
    "1.5",
    "1e3",
    "Very high",
    "post custody",
    "31/02/2016",
    "2016-13-01",
    '"',
    '""',
    ",",
    ";",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "é",
    "\x00",
    "\ufeff",
    "\u200b",
    "=SUM(A1)",
    "[bold]x",
    "\x1b[31mred",
    "x" * 300,
    "NaN",
    "inf",
    "TRUE",
    "0.0",
]
ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-16-le", "utf-32", "klingon"]
TOML_JUNK = [
    '[file]\nencoding = "klingon"\n',
    '[file]\nencoding = "rot13"\n',
    '[file]\nencoding = "utf-16"\n',
    '[file]\ninspection = "Elsewhere"\n',
    "[file]\ninspection_date = 2016-02-30\n",
    '[file]\nsheet = "Nope"\n',
    "[file]\ninspection = 5\n",
    '[columns]\n"x" = 5\n',
    '[columns]\n"Case ref" = "nope"\n',
    '[columns]\n"Area" = "case_id"\n',
    '[columns]\n"\ufeffCase ref" = "case_id"\n',
    '[values]\nmappa = "Y"\n',
    '[values]\n"*" = { "Y" = 1 }\n',
    '[values]\nnope = { "a" = "b" }\n',
    "[other]\na = 1\n",
    "file = 3\n",
    "[[columns]]\n",
    "[columns\n",
    '"unclosed\n',
    "\x00",
    "a = [" * 50 + "\n",
    f'[columns]\n"{"k" * 5000}" = "age"\n',
]


def _table(frame: pl.DataFrame) -> list[list[str]]:
    return [list(frame.columns), *[["" if v is None else v for v in r] for r in frame.iter_rows()]]


def _csv_text(table: list[list[str]], sep: str = ",") -> str:
    out = io.StringIO()
    import csv

    csv.writer(out, delimiter=sep, lineterminator="\n").writerows(table)
    return out.getvalue()


class Generator:
    """Seeded corruptions of small valid files. Each method returns
    (file name suffix, bytes, extra CLI args, mapping text or None)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.base = planted(10, seed=seed % 97)
        self.typed = make_cases(10, seed=seed % 89).with_columns(
            case_id=self.base.get_column("case_id"), notes=self.base.get_column("notes")
        )
        self.secrets = [*self.base.get_column("case_id").to_list(), LONG_NOTE, SHORT_NOTE]

    # -- cells and structure, on a table of strings (header first)
    def junk(self) -> str:
        r = self.rng.random()
        if r < 0.15:
            return self.rng.choice(self.secrets)  # an id or note lands where a code goes
        if r < 0.25:
            return "".join(chr(self.rng.randint(32, 0x2FF)) for _ in range(self.rng.randint(1, 8)))
        if r < 0.26:
            return "y" * 100_000
        return self.rng.choice(JUNK)

    def mutate_table(self, table: list[list[str]]) -> list[list[str]]:
        table = [list(r) for r in table]
        rng = self.rng
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(14)
            r = rng.randrange(1, len(table)) if len(table) > 1 else 0
            row = table[r]
            c = rng.randrange(len(row)) if row else 0
            if op <= 3 and row:
                row[c] = self.junk()
            elif op == 4 and row:
                del row[c]  # a short row: the cells after it shift left
            elif op == 5:
                row.append(self.junk())
            elif op == 6 and len(table) > 1:
                del table[0]  # no header row
            elif op == 7 and self.free(table[0]):
                table[0][rng.choice(self.free(table[0]))] = rng.choice(
                    [self.junk(), "", table[0][0], "Age at start", "\ufeffcase_id", "CASE ID"]
                )
            elif op == 8 and self.free(table[0]):
                k = rng.choice(self.free(table[0]))
                table = [[v for i, v in enumerate(t) if i != k] for t in table]  # drop a column
            elif op == 9:
                table.insert(0, [rng.choice(["Durham cases", "Title", ""])])  # a title row
            elif op == 10 and len(table) > 2:
                table.insert(rng.randrange(1, len(table)), list(table[1]))  # a duplicated case
            elif op == 11:
                k = rng.randint(1, 300)
                table = [
                    t + ([f"extra{i}" for i in range(k)] if j == 0 else [""] * k)
                    for j, t in enumerate(table)
                ]
            elif op == 12 and self.free(table[0]):
                col = rng.choice(self.free(table[0]))
                for t in table[1:]:
                    if col < len(t):
                        t[col] = self.junk()
            elif op == 13:
                table.insert(rng.randrange(1, len(table) + 1), [""] * rng.randint(0, 3))
        return table

    @staticmethod
    def free(header: list[str]) -> list[int]:
        """Columns a whole-column mutation may hit: not the id and notes columns. The test
        demands that no id or note of the file is ever shown; an id column destroyed
        and its ids elsewhere is test_ingest_malformed's case (no ids left to match)."""
        return [i for i, h in enumerate(header) if h not in PROTECTED]

    # -- bytes
    def mutate_bytes(self, data: bytes) -> bytes:
        rng = self.rng
        op = rng.randrange(7)
        if not data:
            return data
        at = rng.randrange(len(data))
        if op == 0:
            return data[:at]  # cut off
        if op == 1:
            return (
                data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))) + data[at:]
            )
        if op == 2:
            b = bytearray(data)
            for _ in range(rng.randint(1, 10)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            return bytes(b)
        if op == 3:
            return data[:at] + data[at + rng.randint(1, 200) :]
        if op == 4:
            return data[:at] + b"\x00" * rng.randint(1, 20) + data[at:]
        if op == 5:
            return data[: len(data) // 2] + data  # a repeated start
        return data[:at] + b'"' + data[at:]

    @functools.cached_property
    def base_table(self) -> list[list[str]]:  # (mutate_table copies what it changes)
        return _table(self.base)

    @functools.cached_property
    def base_text(self) -> pl.DataFrame:
        return as_text(self.typed)

    @functools.cached_property
    def mapping_table(self) -> list[list[str]]:
        """The base file as an export with its own headers and Y/N answers."""
        base = self.base.rename({"case_id": "Case ref", "inspection": "Area"})
        yes_no = [
            c.name for c in schema.COLUMNS if c.dtype == pl.Boolean and c.name in base.columns
        ]
        base = base.with_columns(pl.col(c).replace({"yes": "Y", "no": "N"}) for c in yes_no)
        return _table(base)

    def csv(self):
        rng = self.rng
        table = self.mutate_table(self.base_table)
        args: list[str] = []
        ext = rng.choice([".csv"] * 6 + [".tsv", ".txt"])
        sep = "\t" if ext == ".tsv" else ","
        if rng.random() < 0.1:
            sep = rng.choice([";", "\t", ",", "|"])
        text = _csv_text(table, sep)
        r = rng.random()
        if r < 0.06:
            text = text.replace("\n", "\r")
        elif r < 0.12:
            text = text.replace("\n", "\r\n")
        enc = "utf-8"
        if rng.random() < 0.15:
            enc = rng.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "utf-8-sig"])
        data = text.encode(enc, errors="replace")
        if rng.random() < 0.3:
            args += ["--encoding", rng.choice([enc, *ENCODINGS])]
        if rng.random() < 0.35:
            data = self.mutate_bytes(data)
        return ext, data, self.extra(args), None

    def xlsx(self):
        rng = self.rng
        table = self.mutate_table(self.base_table)
        buf = io.BytesIO()
        wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": rng.random() < 0.3})
        names = []
        if rng.random() < 0.25:
            names.append("Cover")
            wb.add_worksheet("Cover").write(0, 0, rng.choice(["Durham cases", LONG_NOTE]))
        ws = wb.add_worksheet("Cases")
        names.append("Cases")
        for i, row in enumerate(table):
            for j, v in enumerate(row):
                if v and v.isprintable():
                    ws.write_string(i, j, v[:32_000])
        wb.close()
        data = buf.getvalue()
        if rng.random() < 0.3:
            data = self.mutate_bytes(data)
        args = ["--sheet", rng.choice([*names, "Nope"])] if rng.random() < 0.3 else []
        return ".xlsx", data, self.extra(args), None

    def typed_frame(self) -> pl.DataFrame:
        rng = self.rng
        frame = self.typed
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(8)
            free = [c for c in frame.columns if c not in PROTECTED]
            if not free:
                break
            col = rng.choice(free)
            if op == 0:
                frame = frame.drop(col)
            elif op == 1:
                new = rng.choice(["Age at start", "x", "case id", col.upper()])
                if new not in frame.columns:
                    frame = frame.rename({col: new})
            elif op == 2:
                frame = frame.with_columns(pl.col(col).cast(pl.String))
                frame = frame.with_columns(
                    pl.when(pl.int_range(pl.len()) == rng.randrange(max(frame.height, 1)))
                    .then(pl.lit(self.junk()[:1000]))
                    .otherwise(pl.col(col))
                    .alias(col)
                )
            elif op == 3:
                frame = frame.with_columns(pl.lit(None, pl.String).alias(col))
            elif op == 4:
                frame = frame.with_columns(pl.lit(rng.choice([500, -1, 1.5, 1e300])).alias(col))
            elif op == 5:
                frame = frame.head(rng.randint(0, frame.height))
            elif op == 6:
                frame = frame.with_columns(pl.col(col).cast(pl.String).str.slice(0, 1))
            else:
                frame = frame.with_columns(pl.col("case_id").alias(col))  # ids where codes go
        return frame

    def sav(self):
        rng = self.rng
        frame = self.typed_frame()
        frame = frame.with_columns(
            [
                pl.col(c).cast(pl.Float64)
                for c, t in frame.schema.items()
                if t == pl.Boolean or (t.is_integer())
            ]
        ).with_columns(
            pl.col(c).cast(pl.String) for c, t in frame.schema.items() if isinstance(t, pl.Enum)
        )
        labels = {
            c: {1.0: "Yes", 0.0: "No"}
            for c, t in frame.schema.items()
            if t == pl.Float64 and c.endswith(("_priority", "_available", "mappa"))
        }
        path = self.scratch / "gen.sav"
        try:
            pyreadstat.write_sav(frame, str(path), variable_value_labels=labels)
            data = path.read_bytes()
        except Exception:  # noqa: BLE001  pyreadstat refuses some frames: take the base file
            data = self.base_sav
        if rng.random() < 0.4:
            data = self.mutate_bytes(data)
        return ".sav", data, self.extra([]), None

    def parquet(self):
        rng = self.rng
        frame = self.typed_frame() if rng.random() < 0.6 else self.base_text
        if rng.random() < 0.2:
            col = rng.choice(frame.columns)
            frame = frame.with_columns(
                rng.choice(
                    [
                        pl.concat_list(pl.col(col).cast(pl.String)),
                        pl.struct(pl.col(col)),
                        pl.lit(b"\xff\xfe", pl.Binary),
                        pl.col(col).cast(pl.String).cast(pl.Binary),
                        pl.lit(None, pl.Null),
                        pl.col(col).cast(pl.String).cast(pl.Categorical),
                        pl.duration(days=pl.int_range(pl.len())),
                    ]
                ).alias(col)
            )
        buf = io.BytesIO()
        frame.write_parquet(buf)
        data = buf.getvalue()
        if rng.random() < 0.4:
            data = self.mutate_bytes(data)
        return ".parquet", data, self.extra([]), None

    def mapping(self):
        rng = self.rng
        table = self.mapping_table
        if rng.random() < 0.3:
            table = self.mutate_table(table)
        text = (
            '[file]\ninspection_date = "2016-08-15"\n'
            '[columns]\n"Case ref" = "case_id"\n"Area" = "inspection"\n'
            '[values]\n"*" = { "Y" = "yes", "N" = "no" }\n'
        )
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(6)
            at = rng.randrange(len(text) + 1)
            if op == 0:
                text = text[:at] + text[at + rng.randint(1, 10) :]
            elif op == 1:
                text = (
                    text[:at] + rng.choice(['"', "=", "[", "]", "{", "\n", "#", "\\"]) + text[at:]
                )
            elif op == 2:
                text += rng.choice(TOML_JUNK)
            elif op == 3:
                text = rng.choice(TOML_JUNK) + text
            elif op == 4:
                lines = text.splitlines(keepends=True)
                rng.shuffle(lines)
                text = "".join(lines)
            else:
                text = text.replace('"Area" = "inspection"\n', "")
        return ".csv", _csv_text(table).encode(), self.extra([]), text

    def extra(self, args: list[str]) -> list[str]:
        if self.rng.random() < 0.1:
            args += ["--inspection", self.rng.choice(["Durham", "", "x" * 200])]
        if self.rng.random() < 0.15:
            args.append("--strict")
        return args


PROTECTED = ("case_id", "notes")
LINE = re.compile(r"^(error|warning): (?P<rest>.*)$")


@pytest.fixture(scope="module")
def base_store(tmp_path_factory):
    """A store of 10 other cases, built once; each case runs on a copy of it."""
    root = tmp_path_factory.mktemp("fuzz_base")
    old = root / "old.csv"
    as_text(make_cases(10, seed=99, prefix="OLD")).write_csv(old)
    store_dir = root / "store"
    result = typer.testing.CliRunner().invoke(app, ["ingest", str(old), "--data", str(store_dir)])
    assert result.exit_code == 0, result.stderr
    return store_dir


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "part", "count"), RUNS, ids=[f"{k}{p}" for k, p, _ in RUNS])
def test_corrupted_inputs_never_crash_leak_or_touch_the_store(
    kind, part, count, base_store, tmp_path, monkeypatch
):
    # One Click command for the whole run: Typer rebuilds it on every invoke otherwise.
    command = get_command(app)
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: command)
    runner = typer.testing.CliRunner()
    before = digest(base_store)
    store_dir = tmp_path / "store"
    shutil.copytree(base_store, store_dir)

    seed = SEED + RUNS.index((kind, part, count))
    gen = Generator(seed)
    gen.scratch = tmp_path
    base_sav = tmp_path / "base.sav"
    spss = gen.typed.with_columns(
        pl.col(c).cast(pl.Float64)
        for c, t in gen.typed.schema.items()
        if t == pl.Boolean or t.is_integer()
    ).with_columns(
        pl.col(c).cast(pl.String) for c, t in gen.typed.schema.items() if isinstance(t, pl.Enum)
    )
    pyreadstat.write_sav(spss, str(base_sav))
    gen.base_sav = base_sav.read_bytes()

    codes: Counter[int] = Counter()
    make = getattr(gen, kind)
    for n in range(1, count + 1):
        ext, data, args, mapping = make()
        path = tmp_path / f"in{n}{ext}"
        path.write_bytes(data)
        names = [str(path)]
        if mapping is not None:
            map_path = tmp_path / f"map{n}.toml"
            map_path.write_bytes(mapping.encode("utf-8", errors="replace"))
            args = [*args, "--mapping", str(map_path)]
            names.append(str(map_path))
        result = runner.invoke(app, ["ingest", str(path), "--data", str(store_dir), *args])
        where = f"case {n} of {kind}{part} (HMIP_FUZZ_SEED={SEED}): {path.name} {args}"
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            where,
            repr(result.exception),
        )
        err = result.stderr
        assert "Traceback" not in err, where
        for stream in (result.stdout, err):
            for secret in SECRETS:
                assert secret not in stream, (where, secret, stream[:2000])
        codes[result.exit_code] += 1
        if result.exit_code == 0:
            info = runner.invoke(app, ["info", "--data", str(store_dir), "--format", "json"])
            assert info.exit_code == 0, (where, info.stderr)
            shutil.rmtree(store_dir)
            shutil.copytree(base_store, store_dir)
            continue
        assert result.exit_code in (1, 2), (where, result.exit_code, err)
        assert any(name in err for name in names), (where, err[:2000])
        for line in err.splitlines():
            m = LINE.match(line)
            if m:  # every problem line starts with the file it is about
                assert any(m["rest"].startswith(name) for name in names), (where, line)
                if ", row " in line.split(": ")[1]:
                    assert re.match(r"^.+?, row \d+", m["rest"]), (where, line)
        assert digest(store_dir) == before, where
        path.unlink()

    print(
        f"\ningest fuzz, {kind} part {part + 1} (seed {seed}): {sum(codes.values()):,} corrupted inputs; "
        f"rejected with exit 1: {codes[1]:,}, exit 2: {codes[2]:,}; ingested and read back "
        f"by hmip info: {codes[0]:,}; no traceback, no id or note shown, the store "
        "byte-identical after every rejection"
    )
    assert sum(codes.values()) == count
    assert codes[1] > 0  # the corruptions do reach the error paths


def test_the_fuzz_feeds_at_least_2000_inputs_per_run():
    assert sum(count for _, _, count in RUNS) == sum(COUNTS.values()) >= 2_000 * SCALE
