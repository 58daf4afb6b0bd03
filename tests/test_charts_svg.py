""":func:`cdanalytics.charts.svg_text` writes what matplotlib's own ``savefig`` writes,
byte for byte, for the charts tests/test_charts.py does not cover: the case-mix
funnel and cohort trend, the stage funnel and the practice charts (element ids
made repeatable by a fixed salt). Its renderer lays a figure out without the
dry-run draw of ``savefig``; these charts have images, annotations, legends and
value labels whose place that draw could have settled.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl
import matplotlib.pyplot as plt
import pytest
from _stage_fixtures import TRI, hand_export
from _svg import savefig_svg
from test_charts_practice import practice_audits
from test_compare_casemix import people

from cdanalytics import charts
from cdanalytics import engagement as eng
from cdanalytics.charts.practice import agreement_chart, share_heatmap, slope_chart
from cdanalytics.charts.stages import stage_funnel_chart
from cdanalytics.compare import casemix_comparison, casemix_model
from cdanalytics.practice import agreement, change, shares


@pytest.fixture(scope="module")
def drawers():
    model = casemix_model(people())
    site = casemix_comparison(model, "site").table
    quarter = casemix_comparison(model, "referral_quarter").table
    stages = eng.stage_completion(hand_export(), programmes=TRI)
    stages = stages[stages["programme"] == "tri"].reset_index(drop=True)
    audits = practice_audits()
    return {
        "funnel": lambda: charts.funnel_plot(site, lang="nl"),
        "trend": lambda: charts.cohort_trend_chart(quarter),
        "stages": lambda: stage_funnel_chart(stages),
        "heatmap": lambda: share_heatmap(shares(audits, by=("team", "period")), period="follow_up"),
        "slope": lambda: slope_chart(change(audits)),
        "agreement": lambda: agreement_chart(agreement(audits), statistic="cohen_kappa"),
    }


@pytest.mark.parametrize("name", ["funnel", "trend", "stages", "heatmap", "slope", "agreement"])
def test_svg_text_is_savefig_byte_for_byte(drawers, name):
    with mpl.rc_context({"svg.hashsalt": "cdanalytics"}):
        svg = savefig_svg(drawers[name])
        again = drawers[name]()
        assert charts.svg_text(again.figure) == svg
        plt.close(again.figure)
