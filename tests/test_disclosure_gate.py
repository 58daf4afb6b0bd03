"""The disclosure package is the only gate: nothing else decides what is small.

Reads the source of every module of ``cdanalytics`` outside
``cdanalytics/disclosure/`` (its syntax tree, so comments and docstrings do
not count) and fails on any of the decisions that belong to the gate:

- a comparison in which a ``threshold`` takes part (``n >= threshold``,
  ``count < policy.threshold``), or ``min``/``max`` against it;
- building a suppression label: the ``[c]`` symbol as a string, an f-string
  ``"<{threshold}"``, or reading a policy's ``label``/``withheld_label``.

Other modules ask the gate (``policy.is_small``, ``policy.marker``,
``SuppressedTable.marked``/``formatted``, ``protect_frame``, ...).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cdanalytics"
GATE = PACKAGE / "disclosure"


def mentions_threshold(node: ast.AST) -> bool:
    return any(
        (isinstance(n, ast.Name) and n.id == "threshold")
        or (isinstance(n, ast.Attribute) and n.attr == "threshold")
        for n in ast.walk(node)
    )


def gate_decisions(source: str) -> list[tuple[int, str]]:
    """Line and kind of every gate decision in a module's source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and mentions_threshold(node):
            found.append((node.lineno, "compares with the threshold"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("min", "max")
            and mentions_threshold(node)
        ):
            found.append((node.lineno, "compares with the threshold (min/max)"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.strip() == "[c]":
                found.append((node.lineno, "builds the [c] label"))
        elif isinstance(node, ast.JoinedStr) and mentions_threshold(node):
            head = node.values[0] if node.values else None
            if isinstance(head, ast.Constant) and str(head.value).endswith("<"):
                found.append((node.lineno, "builds the <threshold label"))
        elif isinstance(node, ast.Attribute) and (
            node.attr == "withheld_label"
            or (
                node.attr == "label"
                and isinstance(node.value, ast.Name)
                and node.value.id in ("policy", "disclosure")
            )
        ):
            found.append((node.lineno, f"reads the policy's {node.attr}"))
    return found


def modules_outside_the_gate() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if GATE not in p.parents)


def test_the_scan_covers_the_package():
    names = {p.relative_to(PACKAGE).as_posix() for p in modules_outside_the_gate()}
    assert {"report/tables.py", "report/build.py", "charts/engagement.py"} <= names
    assert not any(n.startswith("disclosure/") for n in names)


@pytest.mark.parametrize(
    "source",
    [
        "small = n < threshold",
        "ok = counts.min() >= policy.threshold",
        "hide = 0 < value < cfg['disclosure'].threshold",
        "n = max(count, disclosure.threshold)",
        "text = '[c]'",
        "text = f'<{threshold}'",
        "text = f'<{policy.threshold}'",
        "text = policy.withheld_label",
        "text = disclosure.label",
    ],
)
def test_the_scan_finds_each_kind_of_gate_decision(source):
    assert gate_decisions(source), source


@pytest.mark.parametrize(
    "source",
    [
        "small = policy.is_small(counts)",
        "text = policy.marker('primary')",
        "note = label('suppressed_note', lang, threshold=policy.threshold)",
        "ok = which in ('auto', 'threshold')",
        "below = ax.xaxis.label",
    ],
)
def test_the_scan_lets_calls_to_the_gate_through(source):
    assert gate_decisions(source) == []


@pytest.mark.parametrize("path", modules_outside_the_gate(), ids=lambda p: p.name)
def test_no_module_outside_the_gate_decides_what_is_small(path):
    decisions = gate_decisions(path.read_text(encoding="utf-8"))
    where = path.relative_to(PACKAGE)
    assert decisions == [], [f"{where}:{line}: {what}" for line, what in decisions]
