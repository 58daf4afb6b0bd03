"""The stage funnel chart: draws the table it is given, in both languages, protected."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from _stage_fixtures import TRI, hand_export

from cdanalytics import engagement as eng
from cdanalytics.charts.stages import stage_funnel_chart
from cdanalytics.disclosure import DisclosurePolicy
from cdanalytics.errors import ConfigError


@pytest.fixture(scope="module")
def table():
    out = eng.stage_completion(hand_export(), programmes=TRI)
    return out[out["programme"] == "tri"].reset_index(drop=True)


def _bars(ax):
    return sorted(ax.patches, key=lambda p: p.get_y())


def test_bars_are_the_table_values_in_stage_order(table):
    ax = stage_funnel_chart(table)
    widths = [p.get_width() for p in _bars(ax)]
    assert widths == pytest.approx(table.sort_values("order")["through_stage"].tolist())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Stage 1", "Stage 2", "Stage 3"]
    labels = [a.get_text() for a in ax.texts if a.get_gid() == "value_label"]
    assert labels[2].endswith("(n = 18)")
    plt.close(ax.figure)


def test_dutch_names_and_other_measures(table):
    ax = stage_funnel_chart(table, measure="transition", lang="nl")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Fase 1", "Fase 2", "Fase 3"]
    widths = [p.get_width() for p in _bars(ax)]
    assert widths == pytest.approx(table["transition"].tolist())
    assert ax.get_title("left") == "Afronding per fase"
    plt.close(ax.figure)


def test_small_stages_are_withheld_and_noted(table):
    ax = stage_funnel_chart(table, disclosure=DisclosurePolicy(threshold=10))
    drawn = [p.get_width() for p in _bars(ax)]
    # every numerator (16, 10, 7) or its remainder (4, 9, 11) has fewer than 10
    assert drawn == []
    notes = [a.get_text() for a in ax.texts if a.get_gid() == "suppressed_note"]
    assert notes and "Stage 3" in notes[0]
    plt.close(ax.figure)


def test_one_programme_at_a_time_and_known_measures(table):
    both = eng.stage_completion(hand_export(), programmes=TRI)
    with pytest.raises(ConfigError, match="one programme"):
        stage_funnel_chart(both)
    with pytest.raises(ConfigError, match="measure must be one of"):
        stage_funnel_chart(table, measure="rate")
    assert np.isfinite(table["through_stage"]).all()
