"""Result frames from `rates.py` turned into `render.Table`s: a view for people and a
view for machines.

- For people (`--format table` / `markdown` / `html`): the bulletin's layout, one table per
  figure (and per breakdown), percentages to one decimal place rounded half up from the
  exact fraction, n beside every percentage, markers ([u], [c], [z]) in the cells, and the
  lines saying what the markers mean above the table (its legend, as the Analysis Function
  guidance asks; with the --min-n in force).
- For machines (`--format csv` / `tsv` / `json`): the long result frame as it is, full
  precision, with `marker` / `low_reliability` / `suppressed` columns.

No computation happens here beyond formatting.
"""

from __future__ import annotations

import polars as pl

from hmip_cli import framework
from hmip_cli import rates as R
from hmip_cli.framework.model import Framework
from hmip_cli.layout import LEGEND_INTRO
from hmip_cli.render import Format, Table, p_text, percent_text, round_1dp

HUMAN_FORMATS = (Format.table, Format.markdown)

ROUNDING_NOTE = (
    "Percentages are rounded half up from the exact fraction to one decimal place "
    "(99/144 = 68.75% is shown as 68.8)."
)


def is_human(fmt: Format) -> bool:
    return fmt in HUMAN_FORMATS


def marker_notes(frame: pl.DataFrame, min_n: int) -> list[str]:
    """One note for each marker that appears in `frame`."""
    present = (
        set(frame["marker"].drop_nulls().unique().to_list()) if "marker" in frame.columns else set()
    )
    notes = []
    if R.MARK_LOW in present:
        notes.append(f"{R.MARK_LOW} low reliability: based on fewer than {min_n} applicable cases.")
    if R.MARK_SUPPRESSED in present:
        notes.append(
            f"{R.MARK_SUPPRESSED} suppressed: fewer than {min_n} applicable cases, or a second "
            "group suppressed so that the first cannot be worked out from the total."
        )
    if R.MARK_NOT_APPLICABLE in present:
        notes.append(f"{R.MARK_NOT_APPLICABLE} not applicable: no applicable cases.")
    return notes


def marker_legend(frame: pl.DataFrame, min_n: int) -> list[str]:
    """The lines above a table explaining the markers in `frame` (the intro, then one line
    per marker, as every legend reads), or none."""
    notes = marker_notes(frame, min_n)
    return [LEGEND_INTRO, *notes] if notes else []


def _pct_cell(row: dict) -> str:
    marker = row["marker"]
    if marker in (R.MARK_SUPPRESSED, R.MARK_NOT_APPLICABLE):
        return marker
    text = percent_text(row["n_yes"], row["n"])
    return f"{text} {marker}" if marker else text


def _ci_cell(row: dict) -> str:
    if row["ci_lower"] is None:
        return ""
    return f"{round_1dp(row['ci_lower'])}\u2013{round_1dp(row['ci_upper'])}"


def _count_cell(value, marker) -> str:
    if marker == R.MARK_SUPPRESSED and value is None:
        return R.MARK_SUPPRESSED
    return "" if value is None else f"{value:,}"


def _where_note(where_text: str | None) -> list[str]:
    return [f"Cases selected: {where_text}."] if where_text else []


# --------------------------------------------------------------------------------------
# Figures 1-4
# --------------------------------------------------------------------------------------


# A breakdown with more groups than this (Not recorded included) is shown one row per
# group (`rates --rows auto`): 14 inspections side by side would be 30 columns, which no
# terminal holds, so the table fell back to one "label value" line per cell (1,300 lines).
GROUPS_AS_ROWS_ABOVE = 6
ROWS = ("auto", "factors", "groups")


def groups_as_rows(frame: pl.DataFrame, bkey: str, rows: str = "auto") -> bool:
    """Whether breakdown `bkey` is shown one row per group (else one row per factor)."""
    if rows not in ROWS:
        raise ValueError(f"rows must be one of {ROWS}")
    if rows != "auto":
        return rows == "groups"
    n_groups = frame.filter(pl.col("breakdown") == bkey)["group"].n_unique()
    return n_groups > GROUPS_AS_ROWS_ABOVE


def _fw(fw: Framework | None) -> Framework:
    return framework.default() if fw is None else fw


def rates_human(
    frame: pl.DataFrame,
    *,
    min_n: int = R.DEFAULT_MIN_N,
    where_text: str | None = None,
    rows: str = "auto",
    fw: Framework | None = None,
) -> list[Table]:
    """One table per measure (no breakdown), or per measure and breakdown (groups side by
    side, one row per area); a breakdown with many groups (`groups_as_rows`) gets one table
    per area instead, one row per group and the measures side by side. Titles and headings
    are the framework's (default qi-2016)."""
    fw = _fw(fw)
    tables: list[Table] = []
    breakdowns = [b for b in frame["breakdown"].unique(maintain_order=True).to_list() if b != R.ALL]
    down = [b for b in breakdowns if groups_as_rows(frame, b, rows)]
    across = [b for b in breakdowns if b not in down]
    for (measure,), part in frame.group_by("measure", maintain_order=True):
        title = fw.rates_title(fw.measure(measure))
        if not breakdowns:
            tables.append(_rates_plain(part, title, min_n, where_text, fw))
        for bkey in across:
            sub = part.filter(pl.col("breakdown").is_in([R.ALL, bkey]))
            tables.append(_rates_by(sub, bkey, title, min_n, where_text, fw))
    for bkey in down:
        sub = frame.filter(pl.col("breakdown").is_in([R.ALL, bkey]))
        for (_,), fpart in sub.group_by("factor", maintain_order=True):
            tables.append(_rates_by_group(fpart, bkey, min_n, where_text, fw))
    return tables


def _rates_by_group(part: pl.DataFrame, bkey: str, min_n: int, where_text, fw: Framework) -> Table:
    """One factor's rates by a breakdown with many groups: a row per group (All cases
    first), n and % yes for each measure side by side, then the difference (or range) and,
    with --test, its p, as the last rows."""
    b_label = part.filter(pl.col("breakdown") == bkey)["breakdown_label"][0]
    factor_label = part["factor_label"][0]
    measures = part["measure"].unique(maintain_order=True).to_list()
    # n beside % yes in one cell, so four measures fit an 80-column terminal
    columns: dict[str, str] = {"group": b_label}
    for m in measures:
        columns[f"{m}_pct"] = f"{fw.measure(m).label}: % yes (n)"
    by_key = {(r["measure"], r["breakdown"], r["group"]): r for r in part.to_dicts()}
    groups = [(R.ALL, R.ALL, R.ALL_LABEL)] + [
        (bkey, g, label)
        for g, label in part.filter(pl.col("breakdown") == bkey)
        .select("group", "group_label")
        .unique(maintain_order=True)
        .rows()
    ]
    rows = []
    for breakdown, group, label in groups:
        row = {"group": label}
        for m in measures:
            r = by_key[(m, breakdown, group)]
            row[f"{m}_pct"] = f"{_pct_cell(r)} ({r['n']:,})"
        rows.append(row)
    real = [g for _, g, _ in groups[1:] if g != R.NOT_RECORDED]
    firsts = {m: by_key[(m, bkey, groups[1][1])] for m in measures}
    tested = "p_value" in part.columns
    summary = {"group": "Range (points)" if len(real) != 2 else "Difference (points)"}
    p_row = {"group": "p (unadjusted)"}
    for m, r in firsts.items():
        diff = r["difference_pp"]
        suppressed = r["difference_basis"] and "suppressed" in r["difference_basis"]
        summary[f"{m}_pct"] = (
            round_1dp(diff, signed=True)
            if diff is not None
            else (R.MARK_SUPPRESSED if suppressed else "")
        )
        p = r["p_value"] if tested else None
        fisher = "Fisher" in (r.get("test_method") or "")
        p_row[f"{m}_pct"] = "" if p is None else p_text(p) + ("\u2020" if fisher else "")
    rows.append(summary)
    if tested:
        rows.append(p_row)
    frame = pl.DataFrame(
        [{c: row.get(c, "") for c in columns} for row in rows],
        schema=dict.fromkeys(columns, pl.String),
    )
    if len(real) == 2:
        names = [lab for _, g, lab in groups[1:] if g != R.NOT_RECORDED]
        diff_note = f"Difference: {names[1]} % minus {names[0]} %, in percentage points."
    else:
        diff_note = (
            "Range: the highest group % minus the lowest, in percentage points (Not recorded "
            "and groups without applicable cases left out)."
        )
    notes = [
        *_where_note(where_text),
        "One row per group (more than "
        f"{GROUPS_AS_ROWS_ABOVE} groups; --rows factors puts the groups side by side). "
        "n: applicable cases.",
        diff_note,
    ]
    if tested:
        notes.append(
            f"p: unadjusted test of difference between the groups on this {fw.wording.area_noun} "
            "alone (Not "
            "recorded left out), Pearson's chi-square (no continuity correction; \u2020 "
            "Fisher's exact test where an expected count is below 5); for differences "
            "adjusted for the other variables, see `hmip regress`."
        )
    else:
        notes.append("A difference is not a test of significance; see `hmip regress`.")
    notes.append(ROUNDING_NOTE)
    return Table(
        frame,
        title=f"{factor_label}: rates by {b_label.lower()}, where the factor was a priority",
        notes=notes,
        legend=marker_legend(part, min_n),
        display=columns,
        right_aligned=tuple(c for c in columns if c != "group"),
    )


def _rates_plain(part: pl.DataFrame, title: str, min_n: int, where_text, fw: Framework) -> Table:
    rows = []
    for r in part.iter_rows(named=True):
        rows.append(
            {
                "factor": r["factor_label"],
                "n_priority": f"{r['n_priority']:,}",
                "n": f"{r['n']:,}",
                "n_yes": _count_cell(r["n_yes"], r["marker"]),
                "percent_yes": _pct_cell(r),
                "ci": _ci_cell(r),
            }
        )
    frame = pl.DataFrame(
        rows,
        schema=dict.fromkeys(
            ("factor", "n_priority", "n", "n_yes", "percent_yes", "ci"), pl.String
        ),
    )
    gated = fw.gate is not None
    display = {
        "factor": fw.wording.area_heading,
        "n_priority": fw.wording.gate_count_heading,
        "n": "n (applicable)",
        "n_yes": "Yes",
        "percent_yes": "% yes",
        "ci": "95% CI",
    }
    gate_note = f"{fw.wording.gate_count_note} " if gated and fw.wording.gate_count_note else ""
    notes = [
        *_where_note(where_text),
        f"{gate_note}n: applicable cases (the judgement was recorded). 95% CI: Wilson score "
        "interval.",
        ROUNDING_NOTE,
    ]
    return Table(
        frame,
        title=title,
        notes=notes,
        legend=marker_legend(part, min_n),
        display=display,
        hidden=() if gated else ("n_priority",),  # no gate: every case is in scope
        right_aligned=("n_priority", "n", "n_yes", "percent_yes", "ci"),
    )


def _rates_by(
    sub: pl.DataFrame, bkey: str, title: str, min_n: int, where_text, fw: Framework
) -> Table:
    # The label from the frame: a crossed breakdown (--cross) is not in the schema.
    b_label = sub.filter(pl.col("breakdown") == bkey)["breakdown_label"][0]
    groups = (
        sub.filter(pl.col("breakdown") == bkey)
        .select("group", "group_label")
        .unique(maintain_order=True)
        .rows()
    )
    columns: dict[str, str] = {
        "factor": fw.wording.area_heading,
        "all_n": "All cases n",
        "all_pct": "All cases % yes",
    }
    for i, (_, label) in enumerate(groups):
        columns[f"g{i}_n"] = f"{label} n"
        columns[f"g{i}_pct"] = f"{label} % yes"
    real = [g for g in groups if g[0] != R.NOT_RECORDED]
    if len(real) == 2:
        diff_header = f"{real[1][1]} minus {real[0][1]} (points)"
    else:
        diff_header = "Range (points)"
    columns["difference"] = diff_header
    tested = "p_value" in sub.columns
    if tested:
        if len(real) == 2:
            columns["difference_ci"] = "95% CI (points)"
        columns["p"] = "p (unadjusted)"
    rows = []
    for (_,), fpart in sub.group_by("factor", maintain_order=True):
        recs = fpart.to_dicts()
        allrow = next(r for r in recs if r["breakdown"] == R.ALL)
        by_group = {r["group"]: r for r in recs if r["breakdown"] == bkey}
        row = {
            "factor": allrow["factor_label"],
            "all_n": f"{allrow['n']:,}",
            "all_pct": _pct_cell(allrow),
        }
        for i, (code, _) in enumerate(groups):
            g = by_group[code]
            row[f"g{i}_n"] = f"{g['n']:,}"
            row[f"g{i}_pct"] = _pct_cell(g)
        first = by_group[groups[0][0]]
        diff = first["difference_pp"]
        if diff is None:
            cell = (
                R.MARK_SUPPRESSED
                if first["difference_basis"] and "suppressed" in first["difference_basis"]
                else ""
            )
        else:
            cell = round_1dp(diff, signed=True)
            if any(by_group[c]["low_reliability"] for c, _ in real):
                cell += f" {R.MARK_LOW}"
        row["difference"] = cell
        if tested:
            if len(real) == 2:
                lo, hi = first["difference_ci_lower"], first["difference_ci_upper"]
                row["difference_ci"] = (
                    ""
                    if lo is None or diff is None
                    else f"{round_1dp(lo, signed=True)} to {round_1dp(hi, signed=True)}"
                )
            p = first["p_value"]
            row["p"] = (
                ""
                if p is None
                else p_text(p) + ("\u2020" if "Fisher" in (first["test_method"] or "") else "")
            )
        rows.append(row)
    frame = pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String))
    notes = [*_where_note(where_text), "n: applicable cases."]
    if len(real) == 2:
        notes.append(
            f"Difference: {real[1][1]} % minus {real[0][1]} %, in percentage points "
            "(Not recorded left out)."
        )
    else:
        notes.append(
            "Range: the highest group % minus the lowest, in percentage points (Not recorded "
            "and groups without applicable cases left out; the groups are named in machine "
            "output, column difference_basis)."
        )
    if tested:
        notes.append(
            f"Unadjusted test of difference (the groups compared on this {fw.wording.area_noun} "
            "alone, ignoring "
            "every other variable; for differences adjusted for the others, see `hmip regress`): "
            + (
                "95% CI of the difference by Newcombe's hybrid score method; "
                if len(real) == 2
                else ""
            )
            + "p from Pearson's chi-square test (no continuity correction)"
            + (
                ", \u2020 Fisher's exact test where an expected count is below 5."
                if len(real) == 2
                else f" on {len(real) - 1} df."
            )
        )
    else:
        notes.append("A difference is not a test of significance; see `hmip regress`.")
    notes.append(ROUNDING_NOTE)
    return Table(
        frame,
        title=f"{title}, by {b_label.lower()}",
        notes=notes,
        legend=marker_legend(sub, min_n),
        display=columns,
        right_aligned=tuple(c for c in columns if c != "factor"),
    )


def rates_machine(
    frame: pl.DataFrame, fw: Framework | None = None, min_n: int = R.DEFAULT_MIN_N
) -> Table:
    return Table(
        frame,
        title=_fw(fw).wording.rates_machine_title,
        percent_columns=("percent_yes", "ci_lower", "ci_upper"),
        name="rates",
        min_n=min_n,
    )


def rates_tables(
    frame: pl.DataFrame,
    fmt: Format,
    *,
    min_n: int = R.DEFAULT_MIN_N,
    where_text: str | None = None,
    rows: str = "auto",
    fw: Framework | None = None,
) -> list[Table]:
    return (
        rates_human(frame, min_n=min_n, where_text=where_text, rows=rows, fw=fw)
        if is_human(fmt)
        else [rates_machine(frame, fw, min_n)]
    )


# --------------------------------------------------------------------------------------
# Tables 1-2
# --------------------------------------------------------------------------------------


def protection_human(
    frame: pl.DataFrame,
    *,
    min_n: int = R.DEFAULT_MIN_N,
    where_text: str | None = None,
    fw: Framework | None = None,
) -> list[Table]:
    """One table per question table of the framework: a column pair per topic."""
    fw = _fw(fw)
    headings = {t.key: t.heading for t in fw.topics}
    titles = {t.number: t.title for t in fw.question_tables}
    tables = []
    for (table_no,), part in frame.group_by("table", maintain_order=True):
        topics = part["topic"].unique(maintain_order=True).to_list()
        columns = {"breakdown": "Breakdown", "group": "Group"}
        for t in topics:
            head = headings.get(t, t)
            columns[f"{t}_n"] = f"{head} n"
            columns[f"{t}_pct"] = f"{head} % yes"
        rows: dict[tuple, dict] = {}
        last_breakdown = None
        for r in part.iter_rows(named=True):
            key = (r["breakdown"], r["group"])
            if key not in rows:
                shown = (
                    r["breakdown_label"] if r["breakdown"] not in (R.ALL, last_breakdown) else ""
                )
                last_breakdown = r["breakdown"]
                rows[key] = {"breakdown": shown, "group": r["group_label"]}
            rows[key][f"{r['topic']}_n"] = f"{r['n']:,}"
            rows[key][f"{r['topic']}_pct"] = _pct_cell(r)
        out = pl.DataFrame(list(rows.values()), schema=dict.fromkeys(columns, pl.String))
        title = titles.get(table_no, f"Table {table_no}")
        notes = [
            *_where_note(where_text),
            *([fw.topic_note()] if fw.topics else []),
            "n: cases where the question was applicable.",
            ROUNDING_NOTE,
        ]
        tables.append(
            Table(
                out,
                title=title,
                notes=notes,
                legend=marker_legend(part, min_n),
                display=columns,
                right_aligned=tuple(c for c in columns if c not in ("breakdown", "group")),
            )
        )
    return tables


def protection_tables(
    frame: pl.DataFrame,
    fmt: Format,
    *,
    min_n: int = R.DEFAULT_MIN_N,
    where_text: str | None = None,
    fw: Framework | None = None,
) -> list[Table]:
    if is_human(fmt):
        return protection_human(frame, min_n=min_n, where_text=where_text, fw=fw)
    return [
        Table(
            frame,
            title=_fw(fw).wording.questions_machine_title,
            percent_columns=("percent_yes", "ci_lower", "ci_upper"),
            name="protection",
            min_n=min_n,
        )
    ]


# --------------------------------------------------------------------------------------
# Sample profile
# --------------------------------------------------------------------------------------


def _sample_pct(r: dict) -> str:
    return "" if not r["base"] else percent_text(r["n"], r["base"])


def sample_human(
    frame: pl.DataFrame, *, where_text: str | None = None, fw: Framework | None = None
) -> list[Table]:
    fw = _fw(fw)
    breakdowns = [b for b in frame["breakdown"].unique(maintain_order=True).to_list() if b != R.ALL]
    any_missing = frame["not_recorded"].sum() > 0
    notes = [
        *_where_note(where_text),
        "%: of the cases where the attribute is recorded."
        + (" Not recorded: cases where it is unknown." if any_missing else ""),
        ROUNDING_NOTE,
    ]
    if not breakdowns:
        rows = [
            {
                "characteristic": r["characteristic_label"],
                "n": f"{r['n']:,}",
                "percent": _sample_pct(r),
                "not_recorded": f"{r['not_recorded']:,}",
            }
            for r in frame.iter_rows(named=True)
        ]
        out = pl.DataFrame(
            rows,
            schema=dict.fromkeys(("characteristic", "n", "percent", "not_recorded"), pl.String),
        )
        hidden = () if any_missing else ("not_recorded",)
        return [
            Table(
                out,
                title="Sample profile",
                notes=notes,
                hidden=hidden,
                display={
                    "characteristic": "",
                    "n": "Cases",
                    "percent": "%",
                    "not_recorded": "Not recorded",
                },
                right_aligned=("n", "percent", "not_recorded"),
            )
        ]
    tables = []
    for bkey in breakdowns:
        b = fw.breakdown(bkey)
        sub = frame.filter(pl.col("breakdown").is_in([R.ALL, bkey]))
        chars = (
            sub.select("characteristic", "characteristic_label").unique(maintain_order=True).rows()
        )
        short = {c.key: c.short or c.label for c in R.characteristics(fw)}
        columns = {"group": b.label, "cases": "Cases"}
        for key, label in chars[1:]:
            columns[f"{key}_n"] = f"{short.get(key, label)} n"
            columns[f"{key}_pct"] = f"{short.get(key, label)} %"
        rows = []
        for _, gpart in sub.group_by("breakdown", "group", maintain_order=True):
            recs = gpart.to_dicts()
            row = {"group": recs[0]["group_label"], "cases": f"{recs[0]['n']:,}"}
            for r in recs[1:]:
                row[f"{r['characteristic']}_n"] = f"{r['n']:,}"
                row[f"{r['characteristic']}_pct"] = _sample_pct(r)
            rows.append(row)
        out = pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String))
        tables.append(
            Table(
                out,
                title=f"Sample profile by {b.label.lower()}",
                notes=notes,
                display=columns,
                right_aligned=tuple(c for c in columns if c != "group"),
            )
        )
    return tables


def sample_tables(
    frame: pl.DataFrame,
    fmt: Format,
    *,
    where_text: str | None = None,
    fw: Framework | None = None,
) -> list[Table]:
    if is_human(fmt):
        return sample_human(frame, where_text=where_text, fw=fw)
    return [Table(frame, title="Sample profile", percent_columns=("percent",), name="sample")]
