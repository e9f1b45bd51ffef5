"""Issue 9's "done when": no factor key, measure key or bulletin label is spelt in the code.

Every string literal under hmip_cli/ (docstrings and f-string parts included) is searched
for every area, measure and question key, alias and label, and every piece of publication
wording (figure titles, key-finding phrases, topics, table titles), of the shipped framework files
(hmip_cli/framework/data/*.toml, read here with tomllib, not through the loader): those
belong in the framework files, and code that spells one works for that framework only.
"""

from __future__ import annotations

import ast
import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hmip_cli"
FRAMEWORK_DATA = PACKAGE / "framework" / "data"

# Framework terms that are also plain English words the code uses for something else, and
# the files where that use is allowed (anywhere else the term is still found).
ALLOWED: dict[str, tuple[str, tuple[str, ...]]] = {
    "assessment": (
        "pdu-2023's first standard; 'case assessment' is the data hmip reads",
        (
            "hmip_cli/__init__.py",
            "hmip_cli/cli/app.py",
            "hmip_cli/cli/framework_cmd.py",
            "hmip_cli/dictionary.py",
            "hmip_cli/report/workbook.py",
            "hmip_cli/synth.py",
        ),
    ),
    "available": (
        "qi-2016's availability suffix; 'not available' marks values not computed",
        ("hmip_cli/report/shorthand.py", "hmip_cli/stepwise/design.py"),
    ),
    "review": (
        "a pdu-2023 alias of reviewing; `mapping draft` marks lines for review",
        ("hmip_cli/cli/mapping_cmd.py", "hmip_cli/ingest/draft.py"),
    ),
    "relationships": (
        "a qi-2016 factor; the methods note's 'relationships between the variables'",
        ("hmip_cli/report/content.py",),
    ),
}


@dataclass(frozen=True)
class Hit:
    path: str
    line: int
    term: str
    origin: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.term!r} ({self.origin})"


def framework_terms() -> dict[str, str]:
    """Term -> where it comes from ("qi-2016 area key"), from every shipped framework file."""
    terms: dict[str, str] = {}
    files = sorted(p for p in FRAMEWORK_DATA.glob("*.toml") if ".crosswalk." not in p.name)
    assert {p.stem for p in files} >= {"qi-2016", "pdu-2023"}
    for path in files:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        name = path.stem
        fields = {
            "areas": ("key", "label", "aliases", "export_short"),
            "measures": ("key", "suffix", "label", "question", "aliases"),
            "questions": ("key", "column", "label", "aliases", "export_header"),
        }
        for section, keys in fields.items():
            for entry in doc.get(section, []):
                for k in keys:
                    values = entry.get(k, ())
                    for v in [values] if isinstance(values, str) else values:
                        if v.strip():
                            terms.setdefault(v, f"{name} {section[:-1]} {k}")
        for text, origin in _wording(doc):
            terms.setdefault(text, f"{name} {origin}")
    return terms


# Wording that is one word or a bulletin reference the code's docstrings cite ("factor",
# "Figures 1-4"): the output column `factor` and the citations are not publication text.
SHORT_WORDING = (
    "area_noun",
    "area_noun_plural",
    "area_heading",
    "lead_breakdown",
    "figures_title",
    "rates_machine_title",
    "questions_machine_title",
)


def _wording(doc: dict) -> list[tuple[str, str]]:
    """The publication wording of a framework file: figure titles and key-finding phrases of
    each measure, topics, question tables, comparisons and [wording] (SHORT_WORDING aside)."""
    out = []
    for m in doc.get("measures", []):
        for k, v in m.get("wording", {}).items():
            if k != "key_finding":
                out.append((v, f"measure wording {k}"))
    for t in doc.get("topics", []):
        out += [(t[k], f"topic {k}") for k in ("heading", "report_heading", "finding", "note")]
    out += [(t["title"], "question table title") for t in doc.get("question_tables", [])]
    for c in doc.get("comparisons", []):
        out += [(c[k], f"comparison {k}") for k in ("lower", "higher", "same")]
    for k, v in doc.get("wording", {}).items():
        if k not in SHORT_WORDING:
            out.append((v, f"wording {k}"))
    return [(text, origin) for text, origin in out if isinstance(text, str) and text.strip()]


@functools.cache
def _pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = (re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(alternatives) + r")(?![A-Za-z0-9])")


def term_pattern(terms: dict[str, str]) -> re.Pattern[str]:
    """Whole-word occurrences: not preceded or followed by a letter or digit (so `_` and
    `-` separate words: "accommodation_priority" spells the key "accommodation")."""
    return _pattern(tuple(sorted(terms)))


def literal_hits(source: str, path: str, terms: dict[str, str]) -> list[Hit]:
    """Every term found in a string literal of `source` (docstrings and f-string parts are
    string constants in the AST), with the literal's line; ALLOWED terms only outside
    their files."""
    pattern = term_pattern(terms)
    hits = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for m in pattern.finditer(node.value):
                if path in ALLOWED.get(m.group(), ("", ()))[1]:
                    continue
                line = node.lineno + node.value.count("\n", 0, m.start())
                hits.append(Hit(path, line, m.group(), terms[m.group()]))
    return sorted(hits, key=lambda h: h.line)


def library_files() -> list[Path]:
    """Every module of the package, the commands (cli/) included."""
    return sorted(PACKAGE.rglob("*.py"))


def test_no_framework_key_or_label_in_library_code():
    terms = framework_terms()
    hits = [
        hit
        for path in library_files()
        for hit in literal_hits(
            path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix(), terms
        )
    ]
    assert not hits, (
        "framework keys or labels spelt in library code (move them into the framework "
        "file, or take them from `fw`):\n" + "\n".join(map(str, sorted(hits, key=str)))
    )


def test_the_search_finds_a_key_put_back():
    """Not hollow: a key, an alias, a label, a question column, a key inside a column name,
    in a docstring and in an f-string part, are all found, with their lines; words that
    merely contain a key are not."""
    terms = framework_terms()
    source = '''"""Module docstring naming accommodation."""
x = f"{1}_thinking_priority"
y = "Education, training and employment"
z = ("partner_info_review",
     "reviewing")
ok = "accommodations, finances, partnership"
title = "Table 1 is Sufficient focus on risk of harm"
'''
    hits = literal_hits(source, "m.py", terms)
    assert [(h.line, h.term) for h in hits] == [
        (1, "accommodation"),
        (2, "thinking"),
        (3, "Education, training and employment"),
        (4, "partner_info_review"),
        (5, "reviewing"),
        (7, "Sufficient focus on risk of harm"),
    ]
    assert hits[0].origin == "qi-2016 area key"
    assert hits[4].origin == "pdu-2023 area key"


def test_every_file_is_searched_and_the_terms_are_the_frameworks():
    files = {p.relative_to(ROOT).as_posix() for p in library_files()}
    assert "hmip_cli/synth.py" in files and "hmip_cli/report/findings.py" in files
    # the commands' help texts too: their examples take keys from the default framework
    assert {"hmip_cli/cli/rates_cmd.py", "hmip_cli/cli/options.py", "hmip_cli/cli/app.py"} <= files
    terms = framework_terms()
    for t in ("ete", "T&B", "delivery", "contracted_harm_focus", "safety", "Planning"):
        assert t in terms
    assert terms["Figure 2: Delivery of interventions where factor was a priority"] == (
        "qi-2016 measure wording figure_title"
    )
    assert terms["Sufficient focus on risk of harm"] == "qi-2016 topic report_heading"
    assert "factor" not in terms and "Figures 1-4" not in terms  # SHORT_WORDING
    assert set(ALLOWED) <= set(terms)  # an entry for a term no framework has is stale
    assert literal_hits('x = "not available"', "hmip_cli/report/shorthand.py", terms) == []
    assert [h.term for h in literal_hits('x = "not available"', "hmip_cli/rates.py", terms)] == [
        "available"
    ]
