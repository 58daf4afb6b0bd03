"""cdanalytics.practice.shares: share of files meeting each audit item, with Wilson CIs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _practice_fixtures import ITEMS, audit_rows, synthetic_set
from statsmodels.stats.proportion import proportion_confint

from cdanalytics.errors import AnalysisError, ConfigError
from cdanalytics.practice import (
    SHARE_COLUMNS,
    audits_from_wide,
    component_profile,
    prepare_audits,
    shares,
)


def test_recovers_the_true_share_per_item_period_and_arm_within_bonferroni_99pct_cis():
    audits, truth = synthetic_set()
    arm = (
        audits.groupby("team")["trained"]
        .transform("any")
        .map({True: "trained", False: "untrained"})
    )
    # shares by period and team, pooled over the arm's teams by counts
    table = shares(audits, by=["team", "period"])
    table["arm"] = table["team"].map(dict(zip(audits["team"], arm, strict=False)))
    pooled = table.groupby(["arm", "period", "item"])[["n_met", "n_files"]].sum().reset_index()
    n_intervals = len(pooled)
    assert n_intervals == len(ITEMS) * 4
    low, high = proportion_confint(
        pooled["n_met"], pooled["n_files"], alpha=0.01 / n_intervals, method="wilson"
    )
    expected = [
        truth["share"][i][p][a]
        for i, p, a in zip(pooled["item"], pooled["period"], pooled["arm"], strict=True)
    ]
    inside = (low <= np.array(expected)) & (np.array(expected) <= high)
    assert inside.all(), pooled[~inside]
    # the same with shares' own intervals, grouping by trained at follow-up
    follow = shares(
        audits[audits["period"] == "follow_up"], by=["trained"], alpha=0.01 / len(ITEMS) / 2
    )
    for row in follow.itertuples():
        true = truth["share"][row.item]["follow_up"]["trained" if row.trained else "untrained"]
        assert row.ci_low <= true <= row.ci_high


def test_counts_and_wilson_intervals_of_a_small_table_by_hand():
    rows = [
        ("C1", "T1", "baseline", "R1", False, 2),
        ("C2", "T1", "baseline", "R1", False, 1),
        ("C3", "T1", "baseline", "R2", False, 2),
        ("C3", "T1", "baseline", "R1", False, 0),  # second reading of C3: not counted
        ("C4", "T2", "baseline", "R1", False, 0),
    ]
    out = shares(audit_rows(rows), by=["team"])
    assert list(out.columns) == ["team", *SHARE_COLUMNS]
    t1 = out.set_index("team").loc["T1"]
    assert (t1["n_files"], t1["n_met"]) == (3, 2)
    assert t1["share"] == pytest.approx(2 / 3)
    low, high = proportion_confint(2, 3, alpha=0.05, method="wilson")
    assert (t1["ci_low"], t1["ci_high"]) == pytest.approx((low, high))
    assert out.set_index("team").loc["T2", "n_met"] == 0


def test_the_earliest_reading_decides_and_all_or_any_are_the_alternatives():
    rows = [
        ("C1", "T1", "baseline", "R2", False, 0),
        ("C1", "T1", "baseline", "R1", False, 2),
        ("C2", "T1", "baseline", "R1", False, 2),
    ]
    audits = audit_rows(rows).assign(
        audit_date=pd.to_datetime(["2024-02-01", "2024-01-01", "2024-01-05"])
    )
    # R1 read C1 first (by date), so C1 meets the item under "first"
    assert shares(audits, by=["team"])["n_met"].tolist() == [2]
    assert shares(audits, by=["team"], reading="all")["n_met"].tolist() == [1]
    assert shares(audits, by=["team"], reading="any")["n_met"].tolist() == [2]
    # an undated reading comes after the dated ones
    undated = audits.assign(audit_date=pd.to_datetime([None, "2024-03-01", "2024-01-05"]))
    assert shares(undated, by=["team"])["n_met"].tolist() == [2]
    # without dates the table order decides
    assert shares(audits.drop(columns="audit_date"), by=["team"])["n_met"].tolist() == [1]


def test_lower_better_items_count_the_low_scores_as_met():
    rows = [("C1", "T1", "p", "R1", False, 0), ("C2", "T1", "p", "R1", False, 2)]
    out = shares(audit_rows(rows, item="m_blaming_language"), by=["period"])
    assert out[["n_met", "direction"]].to_numpy().tolist() == [[1, "lower_better"]]


def test_wide_tables_give_the_same_shares_as_long_ones():
    audits, _ = synthetic_set()
    first = audits[audits["case_id"].isin(audits["case_id"].unique()[:300])]
    first = first[~first.duplicated(["case_id", "period", "item"])]
    wide = first.pivot_table(
        index=["case_id", "team", "period", "reader_id", "trained"], columns="item", values="score"
    ).reset_index()
    long = audits_from_wide(wide)
    assert len(long) == len(first)
    pd.testing.assert_frame_equal(shares(long), shares(first))


def test_component_profile_adds_the_share_of_files_meeting_all_five_components():
    audits, _ = synthetic_set()
    team = audits[audits["team"] == "T03"]
    profile = component_profile(team, by=["period"])
    assert set(profile["item"]) == {*[i for i in ITEMS if i.startswith("cc")], "all"}
    firsts = team[~team.duplicated(["case_id", "period", "item"])]
    cc = firsts[firsts["item"].str.startswith("cc")]
    met_all = (
        (cc["score"] == 2)
        .groupby([cc["period"], cc["case_id"]])
        .all()
        .groupby("period")
        .agg(["sum", "size"])
    )
    got = profile[profile["item"] == "all"].set_index("period")
    assert got["n_met"].to_dict() == met_all["sum"].to_dict()
    assert got["n_files"].to_dict() == met_all["size"].to_dict()


def test_a_prepared_table_serves_every_analysis_unchanged():
    audits, _ = synthetic_set()
    prepared = prepare_audits(audits)
    pd.testing.assert_frame_equal(shares(prepared), shares(audits))


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"item": "unknown_item"}, ConfigError, "'unknown_item' are not in tool"),
        ({"score": 3}, AnalysisError, r"off the item's scale: cc1_coercive_control: 1 row"),
        ({"score": 1.5}, AnalysisError, "whole numbers"),
        ({"reader_id": "R1", "case_id": "C1"}, AnalysisError, "more than once"),
    ],
)
def test_bad_audit_rows_are_rejected_with_the_reason(change, error, message):
    audits = audit_rows([("C1", "T1", "p", "R1", False, 2), ("C2", "T1", "p", "R2", False, 2)])
    for column, value in change.items():
        audits[column] = audits[column].astype(object)
        audits.loc[1, column] = value
    with pytest.raises(error, match=message):
        shares(audits)


def test_a_missing_column_and_an_unknown_grouping_are_named():
    audits = audit_rows([("C1", "T1", "p", "R1", False, 2)])
    with pytest.raises(AnalysisError, match="lacks column"):
        shares(audits.drop(columns="reader_id"))
    with pytest.raises(ConfigError, match="not site"):
        shares(audits, by=["site"])
