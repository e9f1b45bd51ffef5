"""One workbook model for the publication spreadsheets, written as XLSX and as ODS.

The Analysis Function's "Releasing statistics in spreadsheets" guidance, as applied here:
- a Cover sheet (title in A1, one line of text per row: about, source, contact, date,
  whether the data are synthetic), a Contents sheet (a table linking to every sheet) and a
  Notes sheet (a table of numbered notes), then one table per sheet;
- every sheet has its title in A1; a table's notes are numbered "[note N]" and referenced
  from its title (never from a data cell); the shorthand used in a table ([c], [u], [z],
  [x], [b]) is explained in the rows above it; then the table: one header row, no blank
  rows or columns, no merged cells, named after its sheet;
- numbers are stored as numbers, shorthand as text (and in its own Marker column where
  the table has one), and any text that starts like a formula gets a leading apostrophe.

`report_workbook(report)` builds the model for `hmip report`; `tables_workbook(tables)` for
the table commands (`hmip rates -o x.xlsx`). `xlsx.write_workbook` and `ods.write_workbook`
write the same model, so the two files hold the same sheets, cells and types.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from hmip_cli import rates as R
from hmip_cli.layout import Column, Grid
from hmip_cli.render import spreadsheet_safe
from hmip_cli.report import content as C
from hmip_cli.report.shorthand import is_code_note, used_codes
from hmip_cli.report.shorthand import legend_lines as shorthand_lines


def safe_text(text: object) -> str:
    """`text` (None: empty) as a cell that cannot become a formula: `render.spreadsheet_safe`,
    the rule every spreadsheet and CSV writer shares."""
    return spreadsheet_safe("" if text is None else str(text))


@dataclass(frozen=True)
class Sheet:
    """One worksheet: a title in A1, lines of text in A2.., then (optionally) one table.

    `links`: the key of a column whose values are sheet names, written as links to them.
    """

    name: str
    title: str
    lines: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    rows: tuple[dict, ...] = ()
    table_name: str | None = None
    links: str | None = None

    @property
    def header_row(self) -> int:
        """0-based row of the table's header (after the title and the lines)."""
        return 1 + len(self.lines)


@dataclass(frozen=True)
class Workbook:
    title: str
    subject: str
    created: dt.date
    comments: str
    sheets: tuple[Sheet, ...]
    synthetic: bool = False

    def sheet(self, name: str) -> Sheet:
        return next(s for s in self.sheets if s.name == name)


@dataclass(frozen=True)
class Release:
    """The cover sheet's text (`--release release.toml`); every field optional."""

    title: str | None = None
    about: str | None = None
    source: str | None = None
    contact: str | None = None
    published: str | None = None  # publication date as written on the cover


def with_unit(column: Column) -> Column:
    """The column with its unit in the header, as the guidance asks ("Applicable cases
    (number)", "Percentage yes (%)"); ratios, p-values and text need none."""
    import dataclasses

    unit = column.unit
    if unit is None or column.header.endswith(f"({unit})") or "number" in column.header.lower():
        return column
    return dataclasses.replace(column, header=f"{column.header} ({unit})")


def _nonblank(columns: list[Column], rows: list[dict]) -> list[dict]:
    """A table with no rows gets one row saying so (a table may not be empty)."""
    return rows or [{columns[0].key: "No rows: nothing to show for this table."}]


def build(
    *,
    title: str,
    subject: str,
    created: dt.date,
    comments: str,
    cover: list[str],
    tables: list[Grid],
    min_n: int,
    general_notes: list[str] = (),  # type: ignore[assignment]
    synthetic: bool = False,
) -> Workbook:
    """Cover, Contents, Notes, then one sheet per table (a `layout.Grid` with its `sheet`
    name), numbered notes referenced from titles."""
    note_texts: list[str] = list(dict.fromkeys(general_notes))
    note_sheets: dict[str, list[str]] = {n: [] for n in note_texts}
    table_sheets: list[Sheet] = []
    plain = {"Notes": "Notes"}  # sheet -> title without note references (for Contents)
    for t in tables:
        plain[t.sheet] = t.title
        refs = []
        for n in t.notes:
            if is_code_note(n):
                continue
            if n not in note_sheets:
                note_texts.append(n)
                note_sheets[n] = []
            note_sheets[n].append(t.sheet)
            refs.append(f"[note {note_texts.index(n) + 1}]")
        rows = _nonblank(t.columns, t.rows)
        # A column with nothing in it (a Marker column where no value has a marker) would
        # be a blank column inside the table: left out.
        columns = [c for c in t.columns if any(r.get(c.key) is not None for r in rows)]
        lines = ["This worksheet contains one table."]
        # the table's own legend (a table command's, with its --min-n), else its codes'
        lines += t.legend or shorthand_lines(used_codes(columns, rows), min_n)
        if synthetic:
            lines.append("Synthetic data: these are not real case assessments.")
        table_sheets.append(
            Sheet(
                t.sheet,
                " ".join([t.title, *dict.fromkeys(refs)]),
                tuple(lines),
                tuple(columns),
                tuple(rows),
                table_name=_table_name(t.sheet),
            )
        )
    notes_sheet = Sheet(
        "Notes",
        "Notes",
        ("This worksheet contains one table. Notes are referred to from the titles of tables.",),
        (
            Column("note", "Note number"),
            Column("text", "Note text"),
            Column("applies", "Worksheets it applies to"),
        ),
        tuple(
            [
                {
                    "note": f"[note {i}]",
                    "text": n,
                    "applies": ", ".join(dict.fromkeys(note_sheets[n])) or "All tables",
                }
                for i, n in enumerate(note_texts, start=1)
            ]
            or [{"note": "None", "text": "There are no notes.", "applies": "All tables"}]
        ),
        table_name="Notes_table",
    )
    contents = Sheet(
        "Contents",
        "Contents",
        ("This worksheet contains one table. Select a worksheet name to go to it.",),
        (
            Column("sheet", "Worksheet name"),
            Column("title", "Worksheet title"),
        ),
        tuple({"sheet": s.name, "title": plain[s.name]} for s in (notes_sheet, *table_sheets)),
        table_name="Contents_table",
        links="sheet",
    )
    cover_sheet = Sheet("Cover", title, tuple(cover))
    return Workbook(
        title=title,
        subject=subject,
        created=created,
        comments=comments,
        sheets=(cover_sheet, contents, notes_sheet, *table_sheets),
        synthetic=synthetic,
    )


def _table_name(sheet: str) -> str:
    # A table name must differ from every sheet name in Excel; "<sheet>_table" does.
    return re.sub(r"[^A-Za-z0-9_]", "_", sheet) + "_table"


# --------------------------------------------------------------------------------------
# The report's workbook
# --------------------------------------------------------------------------------------

SYNTHETIC_LINE = (
    "Synthetic data: these figures were computed from synthetic case assessments made by "
    "hmip synth. They are not real case assessments and describe no real person or service."
)


def cover_lines(
    about: str, source: str, release: Release | None, provenance, synthetic: bool
) -> list[str]:
    """The cover's lines below the title (A2 onwards), one line of text per row."""
    rel = release or Release()
    lines: list[str] = []
    if synthetic:
        lines.append(SYNTHETIC_LINE)
    lines += ["About these data", rel.about or about]
    lines += ["Source", rel.source or source]
    if rel.contact:
        lines += ["Contact", rel.contact]
    lines += ["Publication date", rel.published or provenance.date.isoformat()]
    lines += [
        "Contents",
        "Each table is on its own worksheet, with its title in cell A1, the shorthand it uses "
        "explained above it, and one header row. The Contents worksheet links to every table; "
        "the Notes worksheet holds the numbered notes that titles refer to.",
        "Provenance",
    ]
    lines += [f"{label}: {text}" for label, text in provenance.items()]
    return lines


def default_source(synthetic: bool, version: str) -> str:
    if synthetic:
        return f"Synthetic case assessment data made by hmip synth, analysed with hmip {version}."
    return f"HM Inspectorate of Probation case assessment data, analysed with hmip {version}."


GENERAL_NOTES = (
    "Percentages are stored rounded half up to one decimal place from the exact fraction "
    "(99/144 = 68.75% is stored as 68.8).",
    "Applicable cases: cases where the question was asked and answered yes or no; percentages "
    "are of these cases.",
    "An empty Marker cell means the value has no shorthand; other empty cells mean the column "
    "does not apply to that row.",
    "Text beginning with =, +, - or @ is stored with a leading apostrophe so that it can never "
    "be read as a formula.",
)


def key_findings_table(report: C.Report) -> Grid:
    return Grid(
        "Key findings: plain-English summary of the tables",
        [
            Column("number", "Finding number", "count"),
            Column("level", "Headline or detail"),
            Column("finding", "Key finding"),
            Column("sheet", "Table it summarises (worksheet)"),
            Column("rows", "Rows it is about"),
        ],
        [
            {
                "number": i,
                "level": "Headline" if f.headline else "Detail",
                "finding": f.text,
                "sheet": ", ".join(report.table(t).sheet for t in (f.table, *f.also)),
                "rows": ", ".join(_row_names(report.table(f.table), f.rows)) or "All rows",
            }
            for i, f in enumerate(report.key_findings, start=1)
        ],
        sheet="Key_findings",
    )


def _row_names(t: C.DocTable, keys) -> list[str]:
    first = t.columns[0].key
    return list(dict.fromkeys(str(t.row(k).get(first)) for k in keys if k in t.keys))


def report_workbook(report: C.Report, release: Release | None = None) -> Workbook:
    import dataclasses

    p = report.provenance
    synthetic = bool(getattr(p, "synthetic", False))
    title = (release.title if release and release.title else None) or report.title
    about = (
        "The key findings, the sample profile, the data for Figures 1 to 4, Tables 1 and 2, "
        "and the significant subgroup differences from stepwise logistic regression, for "
        "probation case assessments."
    )
    specs = [key_findings_table(report)]
    specs += [
        dataclasses.replace(t, columns=[with_unit(c) for c in t.columns]) for t in report.tables
    ]
    return build(
        title=title,
        subject="Probation case assessments: interventions",
        created=p.date,
        comments=f"hmip {p.hmip_version}",
        cover=cover_lines(about, default_source(synthetic, p.hmip_version), release, p, synthetic),
        tables=specs,
        min_n=report.params.min_n,
        general_notes=list(GENERAL_NOTES),
        synthetic=synthetic,
    )


RELEASE_KEYS = ("title", "about", "source", "contact", "published")


def read_release(path) -> Release:
    """The cover text from a small TOML file (`--release release.toml`):

        title = "Interventions bulletin: Durham"
        about = "What the publication covers, in a sentence or two."
        source = "HM Inspectorate of Probation case assessments, 2018/19"
        contact = "analysis@example.gov.uk"
        published = "2019-01-31"

    Every key is optional; an unknown key or a value that is not text is a usage error."""
    import tomllib
    from pathlib import Path

    from hmip_cli.errors import BadRequest

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadRequest(f"release file {path.name!r} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"release file {path.name!r} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(RELEASE_KEYS))
    if unknown:
        raise BadRequest(
            f"release file {path.name!r}: unknown key {unknown[0]!r}; the keys are "
            + ", ".join(RELEASE_KEYS)
        )
    for key, value in data.items():
        if isinstance(value, dt.date):
            data[key] = value.isoformat()
        elif not isinstance(value, str) or not value.strip():
            raise BadRequest(f"release file {path.name!r}: {key} must be non-empty text")
    return Release(**{k: v.strip() for k, v in data.items()})


# --------------------------------------------------------------------------------------
# The table commands' workbook (`hmip rates -o rates.xlsx`)
# --------------------------------------------------------------------------------------


def _cell(value):
    """A frame value as a workbook cell: numbers stay numbers, the rest becomes text."""
    import math

    if value is None or (isinstance(value, (int, float, str)) and not isinstance(value, bool)):
        if isinstance(value, float) and not math.isfinite(value):
            return "[x]"  # NaN / infinite: not available
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _sheet_name(title: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")[:28] or "Table"
    name, i = base, 2
    while name.lower() in taken or name in ("Cover", "Contents", "Notes"):
        name, i = f"{base[:25]}_{i}", i + 1
    taken.add(name.lower())
    return name


def tables_workbook(tables, *, synthetic: bool = False, date: dt.date | None = None) -> Workbook:
    """The workbook for a table command's output (`render.Table`s, machine view): one sheet
    per table, headers are the public column names, numbers as numbers."""
    from hmip_cli import __version__
    from hmip_cli.report.provenance import report_date

    date = date or report_date(None)
    taken: set[str] = set()
    specs = []
    for i, t in enumerate(tables, start=1):
        g = t.layout()  # the machine view: public column names, numbers as numbers
        g.title = g.title or "Results"
        g.rows = [{c: _cell(v) for c, v in row.items()} for row in g.rows]
        # One table: a sheet named after it; several: Table_1, Table_2, ... (titles in A1 and
        # on the Contents sheet), since titles make long, near-identical sheet names.
        g.sheet = _sheet_name(g.title, taken) if len(tables) == 1 else f"Table_{i}"
        # every sheet explains the codes it uses, with the --min-n behind them
        g.legend = shorthand_lines(used_codes(g.columns, g.rows), t.min_n or R.DEFAULT_MIN_N)
        specs.append(g)
    title = tables[0].title if len(tables) == 1 and tables[0].title else "hmip results"
    cover = []
    if synthetic:
        cover.append(SYNTHETIC_LINE)
    cover += [
        "About these data",
        "Tables produced by hmip from probation case assessments; one table per worksheet.",
        "Source",
        default_source(synthetic, __version__),
        "Date",
        date.isoformat(),
    ]
    return build(
        title=title,
        subject="Probation case assessments",
        created=date,
        comments=f"hmip {__version__}",
        cover=cover,
        tables=specs,
        min_n=R.DEFAULT_MIN_N,
        synthetic=synthetic,
    )


def tables_bytes(tables, fmt: str) -> bytes:
    """`tables_workbook(tables)` as XLSX or ODS bytes."""
    from hmip_cli.render import data_synthetic

    book = tables_workbook(tables, synthetic=data_synthetic())
    if fmt == "ods":
        from hmip_cli.report.ods import write_workbook as write_ods_book

        return write_ods_book(book)
    from hmip_cli.report.xlsx import write_workbook as write_xlsx_book

    return write_xlsx_book(book)
