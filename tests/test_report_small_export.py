"""A report of a very small export: a class nobody falls in is still a column.

With 60 participants (synthetic, seed 6) nobody recovers on any measure, so
the reliable-change summary has no "recovered" row at all. The report must
still be written (it crashed on the missing column before), with a column of
zeros for the class, and ``outcomes.json`` must count what the table shows.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cdanalytics.report import build_report
from cdanalytics.synth import write_synthetic_export

CLASSES = ["recovered", "improved", "unchanged", "deteriorated"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    write_synthetic_export(root / "export", n_participants=60, seed=6)
    with pytest.warns(Warning):  # the tiny export's own statistical warnings
        run = build_report(root / "export", root / "report")
    return run.out


def test_every_change_class_is_a_column_even_when_nobody_falls_in_it(report):
    table = pd.read_csv(report / "tables" / "reliable_change.csv", dtype=str)
    assert [c for c in table.columns if c in CLASSES] == CLASSES
    recovered = pd.to_numeric(table["recovered"], errors="coerce")
    assert (recovered.dropna() == 0).all()  # nobody recovered in this export


def test_outcomes_json_counts_what_the_table_shows(report):
    outcomes = json.loads((report / "outcomes.json").read_text(encoding="utf-8"))
    table = pd.read_csv(report / "tables" / "reliable_change.csv", dtype=str)
    checked = 0
    for key, entry in outcomes["prepost"].items():
        classes = entry.get("reliable_change")
        if not isinstance(classes, dict):
            continue
        instrument, scale, informant = key.split(".")
        rows = table[
            (table["instrument"] == instrument)
            & (table["scale"] == scale)
            & (table["informant"] == informant)
        ]
        assert classes["recovered"] == pd.to_numeric(rows["recovered"]).sum()
        checked += 1
    withheld = [k for k, e in outcomes["prepost"].items() if e.get("reliable_change") is None]
    assert checked + len(withheld) >= 1
