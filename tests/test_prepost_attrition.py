"""cdanalytics.prepost.attrition: baseline differences checked against scipy's Welch test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _prepost_fixtures import make_export, pairs_to_rows
from scipy import stats

from cdanalytics.prepost import attrition, welch_test


@pytest.fixture
def lost_and_kept():
    rng = np.random.default_rng(11)
    n = 60
    pre = rng.normal(20, 5, n).round()
    post = pre - 3 + rng.normal(0, 3, n).round()
    post[rng.random(n) < 0.35] = np.nan
    status = np.where(np.isnan(post), "dropped_out", "completed").astype(object)
    status[:5] = "transferred"  # in neither level of the exit-status comparison
    status[5:8] = None
    participants = pd.DataFrame(
        {"participant_id": [f"p{i}" for i in range(n)], "exit_status": status}
    )
    return make_export(pairs_to_rows(pre, post), participants), pre, post, status


def test_baseline_of_those_with_and_without_a_post_score_matches_scipy(lost_and_kept):
    export, pre, post, _ = lost_and_kept
    row = attrition(export).set_index("comparison").loc["second_score"]
    kept, lost = pre[~np.isnan(post)], pre[np.isnan(post)]
    ref = stats.ttest_ind(kept, lost, equal_var=False)
    assert (row["level_a"], row["level_b"]) == ("present", "missing")
    assert (row["n_a"], row["n_b"]) == (len(kept), len(lost))
    assert row["mean_a"] == pytest.approx(kept.mean())
    assert row["sd_b"] == pytest.approx(lost.std(ddof=1))
    assert row["t"] == pytest.approx(ref.statistic)
    assert row["df"] == pytest.approx(ref.df)
    assert row["p_value"] == pytest.approx(ref.pvalue)
    pooled = np.sqrt(
        ((len(kept) - 1) * kept.var(ddof=1) + (len(lost) - 1) * lost.var(ddof=1))
        / (len(kept) + len(lost) - 2)
    )
    assert row["smd"] == pytest.approx((kept.mean() - lost.mean()) / pooled)


def test_completers_versus_dropouts_ignores_other_exits(lost_and_kept):
    export, pre, _, status = lost_and_kept
    row = attrition(export).set_index("comparison").loc["exit_status"]
    completed, dropped = pre[status == "completed"], pre[status == "dropped_out"]
    assert (row["n_a"], row["n_b"]) == (len(completed), len(dropped))
    assert row["n_a"] + row["n_b"] == len(pre) - 8
    ref = stats.ttest_ind(completed, dropped, equal_var=False)
    assert row["p_value"] == pytest.approx(ref.pvalue)
    assert row["mean_difference"] == pytest.approx(completed.mean() - dropped.mean())


def test_by_group_and_too_small_groups():
    rows = pairs_to_rows([20, 22, 18, 30], [15, np.nan, 14, np.nan])
    participants = pd.DataFrame(
        {
            "participant_id": ["p0", "p1", "p2", "p3"],
            "programme": ["borg", "borg", "borg", "journey"],
        }
    )
    result = attrition(make_export(rows, participants), by="programme")
    assert len(result) == 4  # 2 programmes x 2 comparisons
    journey = result[(result["programme"] == "journey") & (result["comparison"] == "second_score")]
    assert journey[["n_a", "n_b"]].iloc[0].tolist() == [0, 1]
    assert np.isnan(journey["p_value"].iloc[0])


def test_welch_helper_matches_scipy_from_summary_statistics():
    ref = stats.ttest_ind_from_stats(10, 2, 30, 12, 3, 20, equal_var=False)
    res = welch_test(
        np.array([30]),
        np.array([10.0]),
        np.array([2.0]),
        np.array([20]),
        np.array([12.0]),
        np.array([3.0]),
    )
    assert res["t"][0] == pytest.approx(ref.statistic)
    assert res["p_value"][0] == pytest.approx(ref.pvalue)
