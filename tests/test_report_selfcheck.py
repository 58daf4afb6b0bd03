"""The report's last look before it writes: a count below the threshold, or a rate
published with its base while its numerator is withheld, stops the report."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from cdanalytics.disclosure import DisclosurePolicy, protect_frame
from cdanalytics.errors import AnalysisError
from cdanalytics.report.published import PublishedTable, TableSpec
from cdanalytics.report.selfcheck import self_check

POLICY = DisclosurePolicy(threshold=10)


def _table() -> PublishedTable:
    """Three sites, one with 3 reoffenders of 40 people: protected by the gate."""
    raw = pd.DataFrame(
        {
            "site": ["North", "South", "West"],
            "n_people": [40, 60, 80],
            "n_reoffended": [3, 20, 30],
        }
    ).assign(rate=lambda d: d["n_reoffended"] / d["n_people"])
    spec = TableSpec(
        source="reoffending",
        keys=("site",),
        columns=("n_people", "n_reoffended", "rate"),
        bases={"rate": "n_people"},
        numerators={"rate": "n_reoffended"},
        fixed_keys=True,
    )
    protected = protect_frame(
        raw,
        POLICY,
        count_cols=["n_people", "n_reoffended"],
        base_cols={"rate": "n_people"},
        numerator_cols={"rate": "n_reoffended"},
        table="reoffending",
        key_columns=["site"],
    )
    return PublishedTable("reoffending", spec, protected)


def test_a_table_the_gate_protected_passes():
    table = _table()
    assert table.published["n_reoffended"].isna().any()  # something was withheld
    self_check({"reoffending": table}, POLICY)


def test_a_count_below_the_threshold_stops_the_report():
    table = _table()
    leaky = table.published.copy()
    leaky["n_reoffended"] = pd.array([3, 20, 30], dtype="Int64")
    with pytest.raises(AnalysisError, match="below 10"):
        self_check(
            {"reoffending": replace(table, protected=replace(table.protected, published=leaky))},
            POLICY,
        )


def test_a_rate_with_its_base_gives_the_withheld_numerator_away():
    table = _table()
    leaky = table.published.copy()
    leaky["rate"] = [3 / 40, 20 / 60, 30 / 80]  # the rate back beside its base
    leaky["n_people"] = pd.array([40, 60, 80], dtype="Int64")
    with pytest.raises(AnalysisError, match="gives away a withheld 'n_reoffended'"):
        self_check(
            {"reoffending": replace(table, protected=replace(table.protected, published=leaky))},
            POLICY,
        )
