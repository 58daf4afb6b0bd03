"""Linear-time scanning: no pattern of the guard or the readers backtracks.

Every compiled pattern in ``cdanalytics.io`` (found by walking the package, so
a new one is tested too) is timed on adversarial strings of 16 KB and 64 KB:
a quadratic pattern takes 16 times as long on the longer string, a linear one
4 times. Then one 10 MB cell, without separators and in the variants a
hostile or broken export produces, goes through the guard and through
``load_export`` within a few seconds.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from pathlib import Path

import pandas as pd
import pytest
from _io_exports import tables, write_csv_export

import cdanalytics.io
from cdanalytics.io.load import load_export
from cdanalytics.io.privacy import contains_person_name, redact, scan_identifiers

#: Repeated units of the adversarial strings: letters, '@' runs, digits, dotted
#: labels, words, capitals, digit groups, spaces, initials.
UNITS = [
    "a",
    "a@",
    "1",
    "a.a.",
    "1 ",
    "1.",
    "a1",
    "Aa ",
    "A.",
    "aB",
    "0",
    " ",
    "-",
    "Jan ",
    "a@a.",
    '<c r="A1" t="e">',
    "<f>",
]

#: Variants of the 10 MB cell named in the hardening issue.
CELL_UNITS = ["a", "a@", "1", "a.a."]
TEN_MB = 10 * 1024 * 1024


def _patterns_in(value: object, name: str) -> dict[str, re.Pattern[str]]:
    """Compiled patterns in a value, or in the tuples, lists and dicts it holds."""
    if isinstance(value, re.Pattern):
        return {name: value}
    found = {}
    if isinstance(value, (dict, tuple, list)):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            found.update(_patterns_in(item, f"{name}[{key}]"))
    return found


def io_patterns() -> dict[str, re.Pattern[str]]:
    """Every compiled pattern held at module level in the ``cdanalytics.io`` package.

    Each pattern is listed once, under the module attribute that holds it,
    else under the first table of patterns that holds it.
    """
    held: dict[str, re.Pattern[str]] = {}
    for info in pkgutil.walk_packages(cdanalytics.io.__path__, "cdanalytics.io."):
        if not info.name.endswith("__main__"):
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                held.update(_patterns_in(value, f"{info.name}.{name}"))
    found: dict[str, re.Pattern[str]] = {}
    for key in sorted(held, key=lambda k: ("[" in k, k)):
        if held[key] not in found.values():
            found[key] = held[key]
    return found


PATTERNS = io_patterns()


def test_the_walk_finds_the_guard_and_the_parser_patterns():
    names = {key.rsplit(".", 1)[1].split("[")[0] for key in PATTERNS}
    assert {"NUMBER_CANDIDATE", "NAME_SHAPE", "ADDRESS", "PATTERNS", "_NAME_RULES"} <= names
    assert {"_YMD", "_DECIMAL_COMMA", "_PERSON_NAME"} <= names
    assert len(PATTERNS) >= 25


def best_time(pattern: re.Pattern, text: str, repeats: int = 5) -> float:
    """Shortest of a few runs of search, full match and finding every match.

    Every match is found by ``subn`` (in C), so the time is the engine's,
    not that of making a Python object per match.
    """
    if isinstance(pattern.pattern, bytes):  # patterns over raw file content
        text = text.encode("utf-8")
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        pattern.search(text)
        pattern.fullmatch(text)
        pattern.subn("", text)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("key", sorted(PATTERNS))
def test_each_pattern_takes_at_most_linear_time_on_adversarial_strings(key):
    pattern = PATTERNS[key]
    for unit in UNITS:
        short = best_time(pattern, unit * (16 * 1024 // len(unit)))
        long = best_time(pattern, unit * (64 * 1024 // len(unit)))
        # Linear: 4 times as long; quadratic: 16 times, and seconds at 64 KB.
        # On a busy machine a few milliseconds can stretch, so a run that stays
        # far below what any quadratic pattern needs at 64 KB also passes.
        assert long <= 8 * short or long < 0.25, (key, unit, short, long)


@pytest.mark.parametrize("unit", CELL_UNITS)
def test_a_10_mb_cell_goes_through_the_guard_within_seconds(unit):
    cell = unit * (TEN_MB // len(unit))
    frame = pd.DataFrame({"participant_id": ["P1", "P2"], "notes": [cell, "no contact"]})
    start = time.perf_counter()
    findings = scan_identifiers(frame, table="participants", source="participants.csv")
    shown = redact([cell])
    named = contains_person_name(cell)
    elapsed = time.perf_counter() - start
    assert elapsed < 15, elapsed  # 0.2 to 2 s alone on 2 cores
    assert findings.empty and not named
    assert shown.iloc[0].endswith(f"… [cut, {len(cell):,} characters]")


@pytest.mark.parametrize("unit", CELL_UNITS)
def test_a_10_mb_cell_goes_through_load_export_within_seconds(tmp_path: Path, unit):
    frames = tables()
    cell = unit * (TEN_MB // len(unit))
    frames["participants"].loc[3, "risk_level"] = cell  # not an allowed value: a problem
    write_csv_export(tmp_path / "export", frames)
    start = time.perf_counter()
    export = load_export(tmp_path / "export", quarantine=True)
    elapsed = time.perf_counter() - start
    # About 2 to 5 s alone on 2 cores; the bound leaves room for a busy machine.
    assert elapsed < 30, elapsed
    problem = export.report.problems.set_index("column").loc["risk_level", "value"]
    assert problem == f"{cell[:80]}… [cut, {len(cell):,} characters]"
    assert len(export.participants) + len(export.quarantine["participants"]) == 6
