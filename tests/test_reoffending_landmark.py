"""Landmark analysis of dose (cdanalytics.reoffending.landmark): who is at
risk at the landmark and what dose each has, on a hand-counted fixture; the
Cox model from the landmark against cox() on a table built by hand; and on
synthetic cohorts with a known per-session effect (tests/_dose_fixtures.py),
that the landmark estimate recovers it where the naive model does not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _dose_fixtures import dose_cohort

from cdanalytics.errors import ConfigError
from cdanalytics.reoffending import (
    ATTENDANCE_TERM,
    BAND_COLUMN,
    DEFAULT_LANDMARK_DAYS,
    cox,
    cumulative_reoffending,
    landmark,
)

INDEX = pd.Timestamp("2024-01-01")


@pytest.fixture
def hand_counted():
    """Landmark at day 20. A: sessions on days 0, 7, 19 and 20, reoffends on
    day 50 (dose 3: day 20 is not before the landmark); B: sessions on days
    7 and 14, reoffends on day 20 (before: out); C: censored on day 20 (out);
    D: one session on day 10 and one excused, reoffends on day 30 (dose 1);
    E: no session, censored on day 90 (dose 0); F: sessions on days 3, 5, 8,
    censored on day 60 (dose 3)."""
    people = pd.DataFrame(
        {
            "participant_id": list("ABCDEF"),
            "index_date": INDEX,
            "duration_days": [50.0, 20.0, 20.0, 30.0, 90.0, 60.0],
            "event": [True, True, False, True, False, False],
        }
    )
    rows = [
        ("A", 0, "attended"),
        ("A", 7, "attended"),
        ("A", 19, "attended"),
        ("A", 20, "attended"),
        ("B", 7, "attended"),
        ("B", 14, "attended"),
        ("D", 10, "attended"),
        ("D", 12, "excused"),
        ("F", 3, "attended"),
        ("F", 5, "attended"),
        ("F", 8, "attended"),
    ]
    frame = pd.DataFrame(rows, columns=["participant_id", "day", "attendance"])
    sessions = frame.assign(
        session_type="group",
        session_date=INDEX + pd.to_timedelta(frame["day"], unit="D"),
    ).drop(columns="day")
    return people, sessions


def test_people_at_risk_at_the_landmark_with_sessions_before_it(hand_counted):
    people, sessions = hand_counted
    result = landmark(people, sessions=sessions, landmark_days=20)
    assert result.cohort["participant_id"].tolist() == ["A", "D", "E", "F"]
    assert result.cohort[ATTENDANCE_TERM].tolist() == [3, 1, 0, 3]
    assert result.cohort["duration_days"].tolist() == [30.0, 10.0, 70.0, 40.0]
    assert (result.n_in_cohort, result.n_at_risk) == (6, 4)
    assert (result.n_reoffended_before, result.n_censored_before) == (1, 1)
    assert result.landmark_days == 20


def test_the_model_is_cox_from_the_landmark(hand_counted):
    people, sessions = hand_counted
    result = landmark(people, sessions=sessions, landmark_days=20)
    by_hand = pd.DataFrame(
        {
            "duration_days": [30.0, 10.0, 70.0, 40.0],
            "event": [True, True, False, False],
            ATTENDANCE_TERM: [3, 1, 0, 3],
        }
    )
    expected = cox(by_hand, [ATTENDANCE_TERM]).summary
    pd.testing.assert_frame_equal(result.cox.summary, expected)


def test_cumulative_reoffending_by_attendance_band(hand_counted):
    people, sessions = hand_counted
    result = landmark(people, sessions=sessions, landmark_days=20)
    curves = result.cumulative(bands=(0, 1, 3), horizons_months=[1])
    assert curves.horizons[BAND_COLUMN].astype(str).tolist() == ["0", "1-2", "3+"]
    three = cumulative_reoffending(
        result.cohort[result.cohort[ATTENDANCE_TERM] >= 3], horizons_months=[1]
    ).horizons
    band = curves.horizons[curves.horizons[BAND_COLUMN] == "3+"]
    assert band["cumulative"].to_numpy() == pytest.approx(three["cumulative"].to_numpy())


@pytest.mark.parametrize("bands", [(1, 6), (0, 6, 6), ()])
def test_bands_must_rise_from_zero(hand_counted, bands):
    people, sessions = hand_counted
    result = landmark(people, sessions=sessions, landmark_days=20)
    with pytest.raises(ConfigError, match="bands"):
        result.cumulative(bands=bands)


@pytest.mark.parametrize("days", [0, -5, 12.5, True])
def test_the_landmark_is_a_whole_number_of_days(hand_counted, days):
    people, sessions = hand_counted
    with pytest.raises(ConfigError, match="landmark_days"):
        landmark(people, sessions=sessions, landmark_days=days)


@pytest.mark.parametrize("beta", [-0.05, 0.0])
def test_landmark_recovers_the_per_session_effect_the_naive_model_misses(beta):
    """Every session of the synthetic programme falls before the 12-week
    landmark, so the dose after it is the dose before it and the landmark
    hazard ratio per session is the true one: its 95% interval covers
    ``beta``; the naive model's (total sessions from the index date)
    excludes it."""
    people, sessions = dose_cohort(4000, beta, seed=2026)
    result = landmark(people, sessions=sessions)
    assert result.landmark_days == DEFAULT_LANDMARK_DAYS
    row = result.cox.summary.iloc[0]
    naive = cox(people, ["sessions_total"]).summary.iloc[0]
    assert np.log(row["ci_low"]) < beta < np.log(row["ci_high"])
    assert np.log(naive["ci_high"]) < beta
    assert result.n_at_risk + result.n_reoffended_before + result.n_censored_before == 4000
