"""cdanalytics.practice.family_outcomes: family outcomes by period and training."""

from __future__ import annotations

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from cdanalytics.errors import AnalysisError, ConfigError
from cdanalytics.practice import FAMILY_COLUMNS, family_outcomes


def _outcomes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_id": [f"C{i}" for i in range(8)],
            "team": ["T1", "T1", "T1", "T2", "T2", "T2", "T2", "T2"],
            "period": ["baseline"] * 3 + ["follow_up"] * 5,
            "trained": [False, False, False, True, True, True, False, False],
            "closure_date": pd.to_datetime(["2024-05-01"] * 8),
            "child_with_non_offending_parent": [True, False, None, True, True, False, True, None],
            "removed_into_care": [False, True, False, False, False, False, False, True],
            "re_referral_12m": [None, None, True, False, True, False, False, False],
            "perpetrator_engaged": [False, False, False, True, True, False, False, False],
        }
    )


def test_shares_per_period_and_training_with_wilson_intervals_and_unknowns_left_out():
    out = family_outcomes(_outcomes())
    assert list(out.columns) == ["period", "trained", *FAMILY_COLUMNS]
    row = out.set_index(["period", "trained", "outcome"]).loc[
        ("follow_up", True, "child_with_non_offending_parent")
    ]
    assert (row["n_cases"], row["n_unknown"], row["n_yes"]) == (3, 0, 2)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        proportion_confint(2, 3, method="wilson")
    )
    base = out.set_index(["period", "trained", "outcome"]).loc[
        ("baseline", False, "child_with_non_offending_parent")
    ]
    assert (base["n_cases"], base["n_unknown"], base["n_yes"], base["share"]) == (2, 1, 1, 0.5)
    referral = out.set_index(["period", "trained", "outcome"]).loc[
        ("baseline", False, "re_referral_12m")
    ]
    assert (referral["n_cases"], referral["n_unknown"]) == (1, 2)


def test_outcomes_keep_registry_order_and_direction():
    out = family_outcomes(_outcomes(), by=["period"])
    assert out["outcome"].drop_duplicates().tolist() == [
        "child_with_non_offending_parent",
        "removed_into_care",
        "re_referral_12m",
        "perpetrator_engaged",
    ]
    directions = dict(zip(out["outcome"], out["direction"], strict=False))
    assert directions["removed_into_care"] == "lower_better"
    assert directions["perpetrator_engaged"] == "higher_better"


def test_a_group_where_an_outcome_is_never_known_has_no_share():
    frame = _outcomes().assign(re_referral_12m=None)
    out = family_outcomes(frame, by=["team"]).set_index(["team", "outcome"])
    assert out.loc[("T1", "re_referral_12m"), "n_cases"] == 0
    assert pd.isna(out.loc[("T1", "re_referral_12m"), "share"])
    assert pd.isna(out.loc[("T1", "re_referral_12m"), "ci_low"])


def test_missing_columns_and_outcomes_are_named():
    with pytest.raises(AnalysisError, match="lacks column"):
        family_outcomes(_outcomes().drop(columns="period"))
    with pytest.raises(AnalysisError, match="none of the outcome columns"):
        family_outcomes(_outcomes()[["case_id", "team", "period", "trained"]])
    with pytest.raises(ConfigError, match="not reader_id"):
        family_outcomes(_outcomes(), by=["reader_id"])
