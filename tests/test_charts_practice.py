"""Charts of practice audits draw exactly the values of the table they are given.

Tables come from synthetic audits through cdanalytics.practice; each test
reads the drawn values back from the Axes (image array, texts, line data,
error bars) and compares them with the table.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from cdanalytics.charts.practice import agreement_chart, share_heatmap, slope_chart
from cdanalytics.errors import AnalysisError, ConfigError
from cdanalytics.practice import agreement, change, item_table, shares
from cdanalytics.synth._audits import synthetic_audits

ITEMS = ["cc1_coercive_control", "m_fathering_assessed", "m_blaming_language"]


def practice_audits():
    """Audit readings of 6 teams x 40 cases, half of them read twice (seed 3)."""
    table, _ = synthetic_audits(
        6,
        40,
        ITEMS,
        {"baseline": 0.3, "follow_up": 0.4},
        {"cc1_coercive_control": 0.25},
        0.7,
        seed=3,
        double_read_share=0.5,
    )
    return table


@pytest.fixture(scope="module")
def audits():
    return practice_audits()


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_heatmap_cells_are_the_shares_of_each_team_and_item(audits):
    table = shares(audits, by=("team", "period"))
    ax = share_heatmap(table, period="follow_up")
    drawn = ax.images[0].get_array()
    expected = (
        table[table["period"] == "follow_up"]
        .pivot(index="team", columns="item", values="share")
        .loc[:, ITEMS]
    )
    np.testing.assert_allclose(np.ma.getdata(drawn), expected.to_numpy())
    assert [t.get_text() for t in ax.get_yticklabels()] == list(expected.index.astype(str))
    texts = [t.get_text() for t in ax.texts]
    assert texts == [f"{round(100 * v)}%" for v in expected.to_numpy().ravel()]


def test_heatmap_leaves_a_withheld_share_empty(audits):
    table = shares(audits, by=("team",))
    table.loc[0, "share"] = np.nan
    ax = share_heatmap(table)
    assert np.ma.getmaskarray(ax.images[0].get_array()).sum() == 1
    assert len(ax.texts) == len(table) - 1


def test_heatmap_labels_are_the_registry_labels_in_dutch(audits):
    ax = share_heatmap(shares(audits, by=("team",)), lang="nl")
    labels = [t.get_text().replace("\n", " ") for t in ax.get_xticklabels()]
    registry = item_table().set_index("item").loc[ITEMS, "label_nl"].tolist()
    assert labels == registry
    assert all("," in t.get_text() or "%" in t.get_text() for t in ax.texts)


def test_slope_chart_lines_join_the_two_shares_of_each_arm(audits):
    table = change(audits)
    ax = slope_chart(table)
    drawn = {line.get_gid(): line.get_ydata() for line in ax.lines if line.get_gid()}
    arms = table[table["contrast"] != "difference"]
    assert len(drawn) == len(arms)
    for row in arms.itertuples():
        np.testing.assert_allclose(
            drawn[f"{row.item}|{row.contrast}"], [row.share_from, row.share_to]
        )
    assert [t.get_text() for t in ax.get_xticklabels()] == ["baseline", "follow_up"]


def test_slope_chart_draws_only_the_chosen_items(audits):
    ax = slope_chart(change(audits), items=["m_blaming_language"], lang="nl")
    gids = sorted(line.get_gid() for line in ax.lines if line.get_gid())
    assert gids == ["m_blaming_language|trained", "m_blaming_language|untrained"]
    assert ax.get_legend().get_texts()[0].get_text() == "Getrainde teams"


def test_agreement_chart_points_and_intervals_are_the_table_s(audits):
    table = agreement(audits)
    ax = agreement_chart(table, statistic="cohen_kappa")
    rows = table[table["statistic"] == "cohen_kappa"].set_index("item").loc[ITEMS]
    bars = ax.containers[0]
    points = bars.lines[0]
    np.testing.assert_allclose(points.get_xdata(), rows["estimate"].to_numpy())
    np.testing.assert_allclose(points.get_ydata(), -np.arange(len(ITEMS)))
    segments = bars.lines[2][0].get_segments()
    np.testing.assert_allclose([s[0][0] for s in segments], rows["ci_low"].to_numpy())
    np.testing.assert_allclose([s[1][0] for s in segments], rows["ci_high"].to_numpy())


def test_charts_refuse_what_they_cannot_draw(audits):
    with pytest.raises(AnalysisError, match="statistic 'nonsense'"):
        agreement_chart(agreement(audits), statistic="nonsense")
    with pytest.raises(ConfigError):
        share_heatmap(shares(audits, by=("team",)), lang="fr")
    with pytest.raises(ConfigError, match="share"):
        share_heatmap(pd.DataFrame({"team": ["T1"], "item": ["x"]}))
