"""Every hmip_cli module imports on its own, and the modules' imports form no cycle
(issue 9 item 7: `report/content` <-> `report/findings` was one, hidden by an import
inside a function).

The graph is read from the source with `ast` (no new dependency): an edge a -> b for each
`import b` / `from b import x` / `from pkg import b` (b a submodule) in a. Module-level
imports (including those under `if`/`try` at module level, not under `TYPE_CHECKING`) must
be acyclic. An import deferred into a function is allowed to break a cycle only where it is
listed in DEFERRED_BACK_EDGES with the reason: a new one is an import cycle in disguise.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hmip_cli"

# Deferred imports whose target imports the importer back at module level, and why each is
# acceptable. Anything not listed here is a cycle someone hid in a function.
DEFERRED_BACK_EDGES = {
    # `emit` dispatches to the writers of the formats that need more than text; the writers
    # format cells with render's helpers.
    ("hmip_cli.render", "hmip_cli.report.html"): "emit -> the HTML page writer",
    ("hmip_cli.render", "hmip_cli.report.workbook"): "emit -> the XLSX/ODS workbook writer",
    # the workbook model dispatches to its two writers, which read the model's classes
    ("hmip_cli.report.workbook", "hmip_cli.report.ods"): "workbook bytes -> the ODS writer",
    ("hmip_cli.report.workbook", "hmip_cli.report.xlsx"): "workbook bytes -> the XLSX writer",
    # writing into a store's directory is refused; the store module writes through fileio
    ("hmip_cli.fileio", "hmip_cli.store"): "fileio asks whether a path is inside a store",
    # the sample-size rules need the result objects, the result's summary the rules
    ("hmip_cli.stepwise.result", "hmip_cli.stepwise.samplesize"): "result summary -> EPV rules",
}


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in MODULES}
    base = node.module or ""
    if node.level:  # relative: from the importing module's package
        package = module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]
        for _ in range(node.level - 1):
            package = package.rsplit(".", 1)[0]
        base = f"{package}.{base}" if base else package
    out = set()
    for a in node.names:
        sub = f"{base}.{a.name}"
        if sub in MODULES:
            out.add(sub)  # `from pkg import mod` runs mod (pkg's __init__ is not the point)
        elif base in MODULES:
            out.add(base)
    return out


@functools.cache
def imports(module: str) -> tuple[frozenset[str], frozenset[str]]:
    """(module-level imports, imports deferred into functions or classes) of `module`."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    top: set[str] = set()
    deferred: set[str] = set()

    def visit(nodes, into: set[str]) -> None:
        for n in nodes:
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                into |= _targets(module, n)
            elif isinstance(n, ast.If) and _is_type_checking(n):
                visit(n.orelse, into)  # annotations only: never run
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                visit(ast.iter_child_nodes(n), deferred)
            else:
                visit(ast.iter_child_nodes(n), into)

    visit(tree.body, top)
    top.discard(module)
    return frozenset(top), frozenset(deferred - top - {module})


def _cycle(graph: dict[str, frozenset[str]] | dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(v: str) -> list[str] | None:
        state[v] = 1
        path.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return [*path[path.index(w) :], w]
            if w not in state and (found := walk(w)):
                return found
        path.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := walk(v)):
            return found
    return None


@functools.cache
def _reach_top(start: str) -> frozenset[str]:
    """Every module `start` runs at import time (module-level imports, transitively)."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        for w in imports(stack.pop())[0]:
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return frozenset(seen)


def test_the_graph_sees_the_imports_it_should():
    # the reader itself: a deferred import, a `from pkg import mod` and a module-level one
    top, deferred = imports("hmip_cli.report.content")
    assert "hmip_cli.report.findings" in top and "hmip_cli.report.keys" in top
    assert "hmip_cli.report.disclosure" in deferred
    top, _ = imports("hmip_cli.report.findings")
    assert "hmip_cli.report.keys" in top
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_at_module_level():
    graph = {m: imports(m)[0] for m in MODULES}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_no_cycle_hidden_in_a_function():
    hidden = set()
    for a in MODULES:
        for b in imports(a)[1]:
            if a in _reach_top(b):  # b imports a back at module level
                hidden.add((a, b))
    unlisted = sorted(hidden - set(DEFERRED_BACK_EDGES))
    assert not unlisted, f"imports deferred to hide a cycle: {unlisted}"
    stale = sorted(set(DEFERRED_BACK_EDGES) - hidden)
    assert not stale, f"DEFERRED_BACK_EDGES lists edges that are no longer cycles: {stale}"


# Each module imported first, in an interpreter where no hmip_cli module is loaded yet: the
# third-party and standard libraries hmip_cli's modules import are imported once, then one
# forked child per module (a fresh interpreter per module would take a minute; what matters
# is hmip_cli's import order). The parent's objects are frozen out of the garbage
# collector and the children do not collect: a collection in a child would walk, and so
# copy, every page of the parent's heap (a third of the children's CPU time); it changes
# nothing about what an import runs.
ISOLATED = r"""
import gc, importlib, os, sys, traceback
for lib in (
    "numpy", "scipy.stats", "polars", "rich.console", "typer", "xlsxwriter", "odfdo",
    "tomllib", "importlib.readers", "html.entities",
):
    importlib.import_module(lib)
assert not any(m == "hmip_cli" or m.startswith("hmip_cli.") for m in sys.modules)
gc.freeze()
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        gc.disable()
        try:
            importlib.import_module(name)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status:
        failed.append(name)
print("FAILED:" + ",".join(failed))
"""


@pytest.mark.slow
def test_every_module_imports_on_its_own():
    names = [m for m in MODULES if m != "hmip_cli.__main__"]  # __main__ runs the CLI
    r = subprocess.run(
        [sys.executable, "-c", ISOLATED, *names],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "FAILED:", r.stdout[-500:] + r.stderr[-3000:]
    assert len(names) > 80  # the walk found the package
