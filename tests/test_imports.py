"""Every module of ``vitals`` and ``pipelines`` imports on its own, and the import layers hold.

- Fresh imports: one interpreter imports each module in turn after dropping every ``vitals*``/``pipelines*``
  entry from ``sys.modules`` (third-party packages stay loaded, which is what makes this take ~15 s instead of
  a few minutes for one interpreter per module). So a cycle cannot hide behind the order the test suite
  happens to import things in.
- Layers: a small AST checker lists every import of every module (at module level, inside a function, or
  only for type checking) and the rules below say which arrows must not exist. The same rules are checked
  against what each fresh import actually loaded, which covers arrows that go through a third module.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("vitals", "pipelines")
NOT_IMPORTED = {
    "vitals.__main__": "runs the CLI when imported (python -m vitals)",
    "vitals.cli.__main__": "runs the CLI when imported (python -m vitals.cli)",
}


@dataclass(frozen=True)
class Rule:
    importer: str  # a module or package prefix
    forbidden: tuple[str, ...]
    reason: str
    exempt: tuple[str, ...] = ()  # importers (module or package prefixes) inside ``importer`` the rule skips


RULES = (
    Rule("vitals", ("pipelines",), "the library never imports its own wiring (pipelines/ imports vitals/)"),
    Rule("vitals.detectors", ("vitals.scoring",), "detectors sit below the flow's scoring"),
    Rule("vitals.state", ("vitals.stream", "vitals.exporter", "vitals.scoring"),
         "the series state sits below the flow's steps, scoring and exporter (pipelines -> vitals.stream -> "
         "vitals.state -> vitals.catalog)"),
    Rule("vitals.stream", ("vitals.cli", "vitals.demo"), "the flow's steps never reach up to the commands"),
    Rule("vitals.catalog", ("vitals.state", "vitals.stream", "vitals.scoring", "vitals.health"),
         "the catalog is the bottom layer: everything reads it, it reads nothing of the stream"),
    Rule("vitals.health.levels", ("vitals.state", "vitals.stream", "vitals.scoring"),
         "level semantics sit on the catalog, below the state, alert rules, dashboards and simulator that use them"),
    Rule("vitals.health.hysteresis", ("vitals.state",), "series hysteresis is used by the state, not above it"),
    Rule("vitals.health.series_quality", ("vitals.state",),
         "per-series quality arithmetic is used by the state, not above it"),
    Rule("vitals", ("vitals.demo",), "only `vitals demo` runs the demo: nothing of the library depends on it",
         exempt=("vitals.demo", "vitals.cli.demo_cmd")),
)

def module_files() -> dict[str, Path]:
    """Dotted name -> source file of every module of the packages (found on disk, nothing imported)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = module_files()


@dataclass(frozen=True)
class Import:
    target: str
    line: int
    where: str  # "module", "function" or "type-only"


def imports_of(source: str, module: str, is_package: bool = False) -> list[Import]:
    """Every import in ``source`` (the code of ``module``), with relative imports resolved; ``from a import b``
    counts as an import of ``a`` and of ``a.b`` (b may be a module)."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend(Import(alias.name, child.lineno, where) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.rsplit(".", child.level - 1)[0] if child.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                found.append(Import(base, child.lineno, where))
                found.extend(Import(f"{base}.{alias.name}", child.lineno, where) for alias in child.names)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, "function" if where == "module" else where)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), "type-only")
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), where)
            else:
                visit(child, where)

    visit(ast.parse(source), "module")
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(module: str, targets: list[Import]) -> list[str]:
    """The imports of ``module`` that break a rule (at module level, in a function or for type checking alike)."""
    out = []
    for rule in RULES:
        if not _within(module, rule.importer) or any(_within(module, e) for e in rule.exempt):
            continue
        for imp in targets:
            if not any(_within(imp.target, bad) for bad in rule.forbidden):
                continue
            out.append(f"{module}:{imp.line} imports {imp.target} ({imp.where}): {rule.reason}")
    return out


def _parse(name: str) -> list[Import]:
    path = MODULES[name]
    return imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")


FRESH = """
import importlib, json, sys, traceback
own = tuple(sys.argv[1].split(","))
out = {}
for name in sys.argv[2:]:
    for key in [k for k in sys.modules if k.split(".")[0] in own]:
        del sys.modules[key]
    try:
        importlib.import_module(name)
        error = None
    except BaseException as exc:  # noqa: BLE001 - reported per module by the test
        error = "".join(traceback.format_exception_only(exc)).strip()
    out[name] = {"error": error, "loaded": sorted(k for k in sys.modules if k.split(".")[0] in own)}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def fresh() -> dict[str, dict[str, object]]:
    names = sorted(set(MODULES) - set(NOT_IMPORTED))
    # two interpreters side by side (each module is still imported alone: its interpreter forgets every project
    # module before the next one)
    procs = [subprocess.Popen([sys.executable, "-c", FRESH, ",".join(PACKAGES), *names[k::2]], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(2)]
    result: dict[str, dict[str, object]] = {}
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        result.update(json.loads(out.strip().splitlines()[-1]))
    assert set(result) == set(names)
    return result


@pytest.mark.parametrize("name", sorted(set(MODULES) - set(NOT_IMPORTED)))
def test_module_imports_alone(fresh: dict[str, dict[str, object]], name: str) -> None:
    assert fresh[name]["error"] is None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_imports_respect_the_layers(name: str) -> None:
    assert violations(name, _parse(name)) == []


def test_what_a_fresh_import_loads_respects_the_layers(fresh: dict[str, dict[str, object]]) -> None:
    bad = []
    for name, got in fresh.items():
        loaded = got["loaded"]
        assert isinstance(loaded, list)
        bad += violations(name, [Import(str(m), 0, "module") for m in loaded if m != name])
    assert bad == []


def test_the_checker_finds_bad_imports_at_every_level() -> None:
    source = """
from typing import TYPE_CHECKING
import pipelines.run
from ..scoring import models
if TYPE_CHECKING:
    from vitals.state.view import VitalsView
def run():
    from pipelines import run
"""
    found = {(i.target, i.where) for i in imports_of(source, "vitals.detectors.base")}
    assert {("pipelines.run", "module"), ("vitals.scoring.models", "module"),
            ("vitals.state.view", "type-only"), ("pipelines.run", "function")} <= found
    bad = violations("vitals.detectors.base", imports_of(source, "vitals.detectors.base"))
    assert len(bad) == 5  # pipelines.run (module and function), pipelines, vitals.scoring(.models)
    # no exception: a command receives the runner (vitals.runner), even a lazy import of the wiring is an arrow
    assert violations("vitals.cli.run_cmd", imports_of("def f():\n    from pipelines.run import x\n",
                                                       "vitals.cli.run_cmd"))
    assert violations("vitals.cli.run_cmd", imports_of("from pipelines.run import x\n", "vitals.cli.run_cmd"))
    demo = "from vitals.demo.run import run_demo\n"
    assert violations("vitals.cli.demo_cmd", imports_of(demo, "vitals.cli.demo_cmd")) == []
    assert violations("vitals.cli.run_cmd", imports_of(demo, "vitals.cli.run_cmd"))


ONE_HOME = {"NS_PER_S": "vitals.units", "NS": "vitals.units", "DAY_S": "vitals.units", "WEEK_S": "vitals.units",
            "ORANGE": "vitals.catalog.model", "LEVELS": "vitals.catalog.model",
            "LEVEL_NAMES": "vitals.catalog.model", "LEVEL_LABELS": "vitals.catalog.model",
            "BAD_SIGN": "vitals.catalog.model"}
# functions and classes of one concept: a definition of the same name anywhere else is a copy
ONE_HOME_DEFS = {"badness": "vitals.health.levels", "_badness": "vitals.health.levels",
                 "oriented_thresholds": "vitals.health.levels", "condition_text": "vitals.health.levels",
                 "value_edges": "vitals.health.levels", "warning_levels": "vitals.health.levels",
                 "LabelledWindow": "vitals.labels", "Event": "vitals.labels"}


def test_time_units_and_level_names_are_defined_once() -> None:
    """Other modules import them (a module-level assignment to one of these names anywhere else is a copy)."""
    copies = []
    for name, path in MODULES.items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                if isinstance(node, ast.AnnAssign) else []
            names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            copies += [f"{name}:{node.lineno} {c}" for c in sorted(names & set(ONE_HOME)) if ONE_HOME[c] != name]
    assert copies == []


def test_level_semantics_and_the_labelled_window_are_defined_once() -> None:
    """Badness, oriented thresholds, level conditions and edges live in vitals.health.levels, the labelled
    incident window in vitals.labels (a function or class of the same name anywhere else, at any depth, is a
    copy)."""
    copies = [f"{name}:{node.lineno} {node.name}" for name, path in MODULES.items()
              for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
              if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in ONE_HOME_DEFS
              and ONE_HOME_DEFS[node.name] != name]
    assert copies == []


def _owner(target: str) -> str | None:
    """The module of ours that ``target`` names (``a.b.C`` -> ``a.b``), or None."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan; recursion depth at most the number of modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_no_import_cycles_even_for_type_checking() -> None:
    """Module-level and type-only imports between our modules form no cycle (imports inside functions may).
    An import of a package the module lives in is no arrow: the package is initialized before its modules
    (``from vitals.catalog import checks`` in vitals.catalog.areas); a module that needs a name from its
    own package's ``__init__`` fails the fresh import above instead."""
    graph = {name: {owner for imp in _parse(name) if imp.where != "function"
                    and (owner := _owner(imp.target)) is not None and not _within(name, owner)}
             for name in MODULES}
    assert import_cycles(graph) == []
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
