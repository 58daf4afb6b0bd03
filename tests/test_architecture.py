"""The import direction of docs/architecture.md, enforced on the source.

Every module under ``cdanalytics/`` is parsed with :mod:`ast` (nothing is
imported); each import, including those inside functions and under
``TYPE_CHECKING``, becomes an edge of a module graph. The graph must have:

* no upward import: a module imports only from its own layer or below
  (:data:`LAYERS`: the data's path io -> analyses -> disclosure -> charts ->
  report -> cli);
* no cycle between packages, and no cycle between modules;
* no private import across packages: ``pkg._mod`` and ``pkg.mod._name`` are
  used only inside ``pkg``.

:func:`violations` takes any graph, so the same check is also run on a copy
of the tree with an upward import added, and on small synthetic graphs.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "cdanalytics"

#: Layer of each top-level module or subpackage of cdanalytics (see
#: docs/architecture.md). A module may import from its own layer or a lower one.
LAYERS: dict[str, int] = {
    # 0: shared foundations (errors, registries, locales, small helpers)
    "errors": 0,
    "_version": 0,
    "_lazy": 0,
    "_yaml": 0,
    "_merge": 0,
    "_groups": 0,
    "_stats": 0,
    "_cox": 0,
    "_cox_risk_sets": 0,
    "_dates": 0,
    "_design": 0,
    "registry": 0,
    "i18n": 0,
    "outdir": 0,
    "stages": 0,
    "_crash": 0,
    "_lookup": 0,
    "_memory": 0,
    # 1: reading, validating and guarding an export
    "io": 1,
    # 2: the analyses (and the synthetic-data generator, which only needs io)
    "engagement": 2,
    "reoffending": 2,
    "matching": 2,
    "prepost": 2,
    "practice": 2,
    "compare": 2,
    "synth": 2,
    # 3: the publication gate, and the evaluation config that carries its policy
    "disclosure": 3,
    "config": 3,
    # 4-6: what is shown and how it is run
    "charts": 4,
    "report": 5,
    "cli": 6,
    "__main__": 6,
    # the package's own __init__ re-exports the public API of every layer
    "": 7,
}

Edge = tuple[str, str | None]  # (imported module, imported name or None)


def module_graph(root: Path, package: str = PACKAGE) -> dict[str, set[Edge]]:
    """Every module of the package under ``root`` and what it imports from the package.

    Parameters
    ----------
    root
        Folder that holds the package folder.
    package
        Name of the package folder.

    Returns
    -------
    dict
        Module name -> set of (imported module, imported name or ``None``),
        for imports of the package's own modules only. ``from pkg import x``
        is an import of the module ``pkg.x`` when that module exists, else of
        the name ``x`` of ``pkg``.
    """
    files: dict[str, tuple[Path, bool]] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        files[".".join(parts[:-1] if is_package else parts)] = (path, is_package)

    graph: dict[str, set[Edge]] = {}
    for module, (path, is_package) in files.items():
        here = module if is_package else module.rpartition(".")[0]
        edges: set[Edge] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                edges |= {(alias.name, None) for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    edges.add((sub, None) if sub in files else (source, alias.name))
        graph[module] = {e for e in edges if e[0].split(".")[0] == package and e[0] != module}
    return graph


def _unit(module: str) -> str:
    """The top-level module or subpackage a module belongs to (``""`` for the package)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _is_private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def _cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def violations(
    graph: Mapping[str, Iterable[Edge]], layers: Mapping[str, int] = LAYERS
) -> set[tuple[str, str]]:
    """Every breach of the import rules in a module graph.

    Parameters
    ----------
    graph
        As returned by :func:`module_graph` (or made by hand).
    layers
        Layer of each top-level unit (module or subpackage) of the package.

    Returns
    -------
    set of (kind, description)
        ``kind`` is ``"upward"``, ``"private"``, ``"package cycle"``,
        ``"module cycle"`` or ``"unknown layer"``.
    """
    found: set[tuple[str, str]] = set()
    units: dict[str, set[str]] = {}
    modules: dict[str, set[str]] = {}
    for module, edges in graph.items():
        unit = _unit(module)
        if unit not in layers:
            found.add(("unknown layer", f"{module}: add {unit!r} to LAYERS"))
            continue
        for target, name in edges:
            target_unit = _unit(target)
            arrow = f"{module} -> {target}"
            if target_unit not in layers:
                found.add(("unknown layer", f"{target}: add {target_unit!r} to LAYERS"))
            elif layers[target_unit] > layers[unit]:
                found.add(("upward", arrow))
            # Private: a module or name whose owner package does not contain the importer.
            parts = target.split(".")
            owner = next((i for i, p in enumerate(parts) if _is_private(p)), None)
            if owner is not None and not (module + ".").startswith(".".join(parts[:owner]) + "."):
                found.add(("private", arrow))
            elif name is not None and _is_private(name) and _unit(target) != unit:
                found.add(("private", f"{arrow}.{name}"))
            if target_unit != unit and unit:
                units.setdefault(unit, set()).add(target_unit)
            # A package's __init__ re-exporting its own submodules is not a cycle.
            if not (target + ".").startswith(module + ".") and target in graph:
                modules.setdefault(module, set()).add(target)
    for cycle in _cycles(units):
        found.add(("package cycle", " <-> ".join(cycle)))
    for cycle in _cycles(modules):
        found.add(("module cycle", " -> ".join(cycle)))
    return found


# --------------------------------------------------------------------------- the source


@pytest.fixture(scope="module")
def graph() -> dict[str, set[Edge]]:
    return module_graph(ROOT)


def test_the_graph_covers_every_module(graph):
    files = list((ROOT / PACKAGE).rglob("*.py"))
    assert len(graph) == len(files)
    assert ("cdanalytics.io.export", "Export") in graph["cdanalytics.engagement._prepare"]
    assert ("cdanalytics.charts", None) in graph["cdanalytics"]  # from . import charts
    assert ("cdanalytics.report", "build_report") in graph["cdanalytics.cli.report"]


def test_imports_follow_the_layers_with_no_cycle_and_no_private_import(graph):
    found = violations(graph)
    assert not found, "\n".join(f"{kind}: {what}" for kind, what in sorted(found))


def test_every_layer_named_exists(graph):
    units = {_unit(module) for module in graph}
    assert set(LAYERS) == units


# --------------------------------------------------------------------------- the checker


def _graph_of_a_copy_with(tmp_path: Path, module: str, added: str) -> dict[str, set[Edge]]:
    """The graph of a copy of the package in which ``added`` is appended to ``module``."""
    shutil.copytree(ROOT / PACKAGE, tmp_path / PACKAGE)
    path = tmp_path / PACKAGE / module
    path.write_text(path.read_text(encoding="utf-8") + added, encoding="utf-8")
    return module_graph(tmp_path)


def test_an_upward_import_added_to_a_copy_of_the_tree_is_caught(tmp_path):
    added = "\n\ndef _late():\n    from ..report import build\n"
    found = violations(_graph_of_a_copy_with(tmp_path, "io/export.py", added))
    assert ("upward", "cdanalytics.io.export -> cdanalytics.report.build") in found
    # report imports io, so io -> report also closes a cycle between the packages.
    cycles = [what.split(" <-> ") for kind, what in found if kind == "package cycle"]
    assert any({"io", "report"} <= set(cycle) for cycle in cycles)


def test_a_private_import_across_packages_in_a_copy_of_the_tree_is_caught(tmp_path):
    added = "\nfrom ..engagement._prepare import STAGES\n"
    found = violations(_graph_of_a_copy_with(tmp_path, "report/summary.py", added))
    assert ("private", "cdanalytics.report.summary -> cdanalytics.engagement._prepare") in found


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        # io (layer 1) importing an analysis (layer 2)
        (
            {"cdanalytics.io.load": {("cdanalytics.engagement.outcomes", None)}},
            {("upward", "cdanalytics.io.load -> cdanalytics.engagement.outcomes")},
        ),
        # charts importing the report
        (
            {"cdanalytics.charts.forest": {("cdanalytics.report", "build_report")}},
            {("upward", "cdanalytics.charts.forest -> cdanalytics.report")},
        ),
        # two analyses importing each other: same layer, but a cycle
        (
            {
                "cdanalytics.matching.cox": {("cdanalytics.reoffending.cox", None)},
                "cdanalytics.reoffending.cox": {("cdanalytics.matching.cox", "matched_cox")},
            },
            {
                ("package cycle", "matching <-> reoffending"),
                ("module cycle", "cdanalytics.matching.cox -> cdanalytics.reoffending.cox"),
            },
        ),
        # a private name of another package
        (
            {"cdanalytics.report.figures": {("cdanalytics.charts.forest", "_draw")}},
            {("private", "cdanalytics.report.figures -> cdanalytics.charts.forest._draw")},
        ),
        # within a package, private modules and names are fine; downward too
        (
            {
                "cdanalytics.charts.forest": {
                    ("cdanalytics.charts.common", None),
                    ("cdanalytics.charts.engagement", "_draw"),
                    ("cdanalytics._stats", None),
                    ("cdanalytics.disclosure", "DisclosurePolicy"),
                },
                "cdanalytics.charts.common": set(),
                "cdanalytics.charts.engagement": set(),
            },
            set(),
        ),
        # a package re-exporting its own submodule is not a cycle
        (
            {
                "cdanalytics.prepost": {("cdanalytics.prepost.change", "change")},
                "cdanalytics.prepost.change": {("cdanalytics.prepost._data", None)},
                "cdanalytics.prepost._data": set(),
            },
            set(),
        ),
        # a module of a package nobody placed in a layer
        (
            {"cdanalytics.plugins.x": set()},
            {("unknown layer", "cdanalytics.plugins.x: add 'plugins' to LAYERS")},
        ),
    ],
)
def test_the_checker_on_synthetic_graphs(graph, expected):
    assert violations(graph) == expected
