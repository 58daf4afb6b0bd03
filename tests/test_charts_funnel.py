"""cdanalytics.charts.funnel: the funnel plot and cohort trend chart draw what the
case-mix table says (points, limits, flagged units, quarters), read back from the Axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from test_compare_casemix import EXCESS_SITE, people

from cdanalytics.charts import cohort_trend_chart, funnel_plot
from cdanalytics.compare import casemix_comparison, casemix_model, funnel_limits
from cdanalytics.errors import ConfigError


@pytest.fixture(scope="module")
def model():
    return casemix_model(people())


def test_funnel_plot_draws_every_unit_and_the_limits(model):
    table = casemix_comparison(model, "site", overdispersion_adjust=False).table
    ax = funnel_plot(table)
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(points) == len(table)
    assert sorted(points[:, 1]) == pytest.approx(sorted(table["oe_ratio"]))
    # The dashed upper line is the 95% limit at the plotted expected counts.
    line = ax.get_lines()[0]
    x, y = line.get_xdata(), line.get_ydata()
    np.testing.assert_allclose(y, funnel_limits(x, 1.0)[0.95][1])
    assert [t.get_text() for t in ax.texts] == [EXCESS_SITE.replace("_", " ")]
    plt.close(ax.figure)


def test_withheld_units_are_left_out_and_counted(model):
    table = casemix_comparison(model, "site").table
    table.loc[:2, "oe_ratio"] = np.nan
    ax = funnel_plot(table, lang="nl")
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(points) == len(table) - 3
    assert any(t.get_text().startswith("3 ") for t in ax.texts)
    plt.close(ax.figure)
    with pytest.raises(ConfigError):
        funnel_plot(table.drop(columns="expected"))


def test_cohort_trend_chart_draws_observed_and_standardised_rates_by_quarter(model):
    table = casemix_comparison(model, "referral_quarter").table
    ax = cohort_trend_chart(table.iloc[::-1])
    observed, standardised = ax.get_lines()[:2]
    ordered = table.sort_values("referral_quarter")
    np.testing.assert_allclose(observed.get_ydata(), ordered["observed_rate"])
    np.testing.assert_allclose(standardised.get_ydata(), ordered["standardised_rate"])
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ordered["referral_quarter"].astype(str).tolist()
    plt.close(ax.figure)
    with pytest.raises(ConfigError):
        cohort_trend_chart(pd.DataFrame({"referral_quarter": []}))
