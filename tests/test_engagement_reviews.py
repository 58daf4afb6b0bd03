"""Review sessions and the evaluation meeting, on a hand-counted fixture.

Programme ``rev``: 3 weekly group sessions (all to be attended, the last
included), then 2 review sessions within a 100-day review window. Extract
date 2024-06-30. Core sessions start 2024-01-08 (last core 2024-01-22)
unless stated.

=====  ===========  ==================================================  ==============
id     core         reviews (days after the last core session)          outcome
=====  ===========  ==================================================  ==============
R1     AAA          1: A at 35, 2: A at 150, 3: A at 160 (beyond count)  positive
R2     AAA          1: A at 42, 2: U at 150                             concerns
R3     AAA          none                                                not_held
R4     AAA          1: E at 35, 2: A at 150                             (empty)
R5     AU, ended    none (dropped out: not offered reviews)             (empty)
R6     AAA from     1: A at 30 (last core + 100 days is after the       positive
       2024-05-06   extract: not yet due)
=====  ===========  ==================================================  ==============
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdanalytics import engagement as eng
from cdanalytics._stats import wilson_ci
from cdanalytics.engagement.reviews import (
    EVALUATION_OUTCOMES,
    evaluation_outcomes,
    review_attendance,
    review_facts,
)
from cdanalytics.errors import ConfigError
from cdanalytics.io.export import Export, Manifest

EXTRACT = pd.Timestamp("2024-06-30")
REV = {
    "rev": {
        "name": {"en": "Rev", "nl": "Rev"},
        "core": {"group": 3},
        "review": {"count": 2, "window_days": 100, "timing": "two reviews"},
        "expected_duration_days": 14,
        "completion_rule": {"min_core_share": 1.0, "require_last_core": True},
    }
}
MARKS = {"A": "attended", "E": "excused", "U": "unexcused"}
PEOPLE = [
    ("R1", "2024-01-08", None, "AAA", [("A", 35), ("A", 150), ("A", 160)], "positive"),
    ("R2", "2024-01-08", None, "AAA", [("A", 42), ("U", 150)], "concerns"),
    ("R3", "2024-01-08", None, "AAA", [], "not_held"),
    ("R4", "2024-01-08", None, "AAA", [("E", 35), ("A", 150)], None),
    ("R5", "2024-01-08", "2024-01-20", "AU", [], None),
    ("R6", "2024-05-06", None, "AAA", [("A", 30)], "positive"),
]


def sessions_frame(rows: list[tuple]) -> pd.DataFrame:
    """A sessions table from (participant_id, session_type, session_number,
    session_date, attendance) rows, typed as the load types it."""
    frame = pd.DataFrame(
        rows,
        columns=["participant_id", "session_type", "session_number", "session_date", "attendance"],
    )
    for column in ("session_type", "attendance"):
        frame[column] = frame[column].astype("category")
    frame["session_number"] = frame["session_number"].astype("Int64")
    return frame


def review_export() -> Export:
    sessions = []
    for pid, start, _, core, reviews, _ in PEOPLE:
        start = pd.Timestamp(start)
        for i, mark in enumerate(core):
            sessions.append((pid, "group", i + 1, start + pd.Timedelta(days=7 * i), MARKS[mark]))
        last_core = start + pd.Timedelta(days=14)
        for i, (mark, days) in enumerate(reviews):
            sessions.append(
                (pid, "review", i + 1, last_core + pd.Timedelta(days=days), MARKS[mark])
            )
    n = len(PEOPLE)
    participants = pd.DataFrame(
        {
            "participant_id": [p[0] for p in PEOPLE],
            "programme": pd.Categorical(["rev"] * n),
            "group": pd.Categorical(["programme"] * n),
            "site": pd.Categorical(["North", "North", "South", "South", "North", "South"]),
            "referral_date": pd.to_datetime([p[1] for p in PEOPLE]) - pd.Timedelta(days=30),
            "start_date": pd.to_datetime([p[1] for p in PEOPLE]),
            "end_date": pd.to_datetime([p[2] for p in PEOPLE]),
            "exit_status": pd.Categorical([None] * n),
            "evaluation_outcome": pd.Categorical(
                [p[5] for p in PEOPLE], categories=["positive", "concerns", "not_held"]
            ),
        }
    )
    frame = sessions_frame(sessions)
    empty = pd.DataFrame({"participant_id": pd.Series([], dtype="str")})
    return Export(participants, frame, empty, empty, Manifest(extract_date=EXTRACT))


@pytest.fixture(scope="module")
def export() -> Export:
    return review_export()


def test_facts_list_each_completer_and_review_up_to_the_registry_count(export):
    facts = review_facts(export, programmes=REV)
    assert sorted(set(facts["participant_id"])) == ["R1", "R2", "R3", "R4", "R6"]
    assert facts.groupby("participant_id").size().eq(2).all()
    due = facts.drop_duplicates("participant_id").set_index("participant_id")["due"]
    assert due.to_dict() == {"R1": True, "R2": True, "R3": True, "R4": True, "R6": False}
    r1 = facts[facts["participant_id"] == "R1"]
    assert r1["days_after_core"].tolist() == [35.0, 150.0]


def test_attendance_and_timing_match_the_hand_count(export):
    out = review_attendance(export, programmes=REV).set_index("review")
    assert out.index.tolist() == ["1", "2", "all"]
    assert out["n_due"].tolist() == [4, 4, 4]
    assert out["n_attended"].tolist() == [2, 2, 1]
    assert out.loc["1", "days_median"] == pytest.approx(38.5)
    assert out.loc["1", "days_q1"] == pytest.approx(36.75)
    assert out.loc["1", "days_q3"] == pytest.approx(40.25)
    assert out.loc["2", "days_median"] == pytest.approx(150.0)
    assert np.isnan(out.loc["all", "days_median"])
    low, high = wilson_ci(1, 4)
    assert out.loc["all", "attended"] == pytest.approx(0.25)
    assert (out.loc["all", "attended_ci_low"], out.loc["all", "attended_ci_high"]) == (
        pytest.approx(float(low)),
        pytest.approx(float(high)),
    )


def test_evaluation_outcomes_match_the_hand_count(export):
    out = evaluation_outcomes(export, programmes=REV).set_index("evaluation_outcome")
    assert out.index.tolist() == list(EVALUATION_OUTCOMES)
    assert out["n"].tolist() == [1, 1, 1, 1]
    assert (out["n_due"] == 4).all()
    assert out.loc["positive", "share"] == pytest.approx(0.25)
    assert out.loc["positive", "share_recorded"] == pytest.approx(1 / 3)
    assert np.isnan(out.loc["not_recorded", "share_recorded"])


def test_grouping_by_site_splits_the_base(export):
    out = review_attendance(export, by="site", programmes=REV)
    assert list(out.columns[:3]) == ["programme", "site", "review"]
    all_rows = out[out["review"] == "all"].set_index("site")
    assert all_rows["n_due"].to_dict() == {"North": 2, "South": 2}
    assert all_rows["n_attended"].to_dict() == {"North": 1, "South": 0}


def test_no_recorded_outcome_gives_an_empty_table(export):
    blank = export.participants.assign(evaluation_outcome=pd.Categorical([None] * 6))
    plain = Export(blank, export.sessions, export.measures, export.events, export.manifest)
    assert evaluation_outcomes(plain, programmes=REV).empty


def test_prepared_data_and_wrong_input(export):
    prepared = eng.prepare_engagement(export, REV)
    pd.testing.assert_frame_equal(
        review_attendance(export, prepared=prepared), review_attendance(export, programmes=REV)
    )
    with pytest.raises(ConfigError, match="Expected an Export"):
        review_attendance(prepared)


def test_facts_made_once_serve_both_tables_and_are_left_as_they_were(export):
    prepared = eng.prepare_engagement(export, REV)
    facts = review_facts(export, prepared=prepared)
    rows = facts.attrs["episode_row"].copy()
    kept = facts.copy()
    for by in ("programme", "site"):
        pd.testing.assert_frame_equal(
            review_attendance(export, by, prepared=prepared, facts=facts),
            review_attendance(export, by, prepared=prepared),
        )
        pd.testing.assert_frame_equal(
            evaluation_outcomes(export, by, prepared=prepared, facts=facts),
            evaluation_outcomes(export, by, prepared=prepared),
        )
    pd.testing.assert_frame_equal(facts, kept)
    np.testing.assert_array_equal(facts.attrs["episode_row"], rows)
    stripped = facts.copy()
    stripped.attrs = {}
    with pytest.raises(ConfigError, match="facts= is not"):
        review_attendance(export, prepared=prepared, facts=stripped)


@pytest.mark.parametrize("seed", range(4))
def test_last_core_session_and_programme_codes_against_pandas(seed):
    """review_facts' last attended core session (one ``np.maximum.at``) and programme
    codes (from the category codes) on random sessions, against a pandas groupby."""
    rng = np.random.default_rng(seed)
    base = review_export()
    n = 300
    ids = [f"P{i}" for i in range(n)]
    start = pd.Timestamp("2023-01-02") + pd.to_timedelta(rng.integers(0, 540, n), unit="D")
    people = pd.DataFrame(
        {
            "participant_id": ids,
            "programme": pd.Categorical(
                rng.choice(["rev", "other"], n), categories=["zzz", "other", "rev"]
            ),
            "group": pd.Categorical(rng.choice(["programme", "comparison", None], n)),
            "site": pd.Categorical(["North"] * n),
            "referral_date": start - pd.Timedelta(days=30),
            "start_date": start,
            "end_date": pd.NaT,
            "exit_status": pd.Categorical([None] * n),
            "evaluation_outcome": pd.Categorical(rng.choice(["positive", None], n)),
        }
    )
    rows = []
    for i, pid in enumerate(ids):
        for j in range(3):
            mark = "attended" if rng.uniform() < 0.93 else "unexcused"
            rows.append((pid, "group", j + 1, start[i] + pd.Timedelta(days=7 * j), mark))
        for j in range(rng.integers(0, 4)):
            day = start[i] + pd.Timedelta(days=int(rng.integers(20, 400)))
            mark = rng.choice(["attended", "excused", "unexcused"])
            rows.append((pid, "review", j + 1, day, mark))
    sessions = sessions_frame(rows)
    programmes = {**REV, "other": {**REV["rev"], "review": {"count": 1, "window_days": 10}}}
    export = Export(people, sessions, base.measures, base.events, base.manifest)
    facts = review_facts(export, programmes=programmes)
    assert len(facts) > 50
    core = sessions[
        (sessions["session_type"] == "group").to_numpy()
        & (sessions["attendance"] == "attended").to_numpy()
    ]
    last = core.groupby("participant_id")["session_date"].max()
    days = (last - pd.Timestamp("1970-01-01")).dt.days.astype(float)
    window = facts["programme"].astype(object).map({"rev": 100.0, "other": 10.0})
    extract = float((base.manifest.extract_date - pd.Timestamp("1970-01-01")).days)
    want_due = (facts["participant_id"].map(days) + window <= extract).to_numpy(dtype=bool)
    assert np.array_equal(facts["due"].to_numpy(), want_due)
    assert 0 < want_due.sum() < len(facts)
    expected_programme = people.set_index("participant_id")["programme"].astype(object)
    assert (
        facts["programme"].astype(object).to_numpy()
        == facts["participant_id"].map(expected_programme).to_numpy()
    ).all()
    counts = facts.groupby("participant_id").size()
    per_programme = {"rev": 2, "other": 1}
    assert (
        counts.to_numpy() == counts.index.map(expected_programme).map(per_programme).to_numpy()
    ).all()
    # each slot's review: the k-th review session of the man by date and number
    reviews = sessions[(sessions["session_type"] == "review").to_numpy()].sort_values(
        ["participant_id", "session_date", "session_number"]
    )
    reviews = reviews.assign(review=reviews.groupby("participant_id").cumcount() + 1)
    slots = facts[["participant_id", "review"]].merge(
        reviews, on=["participant_id", "review"], how="left", validate="1:1"
    )
    went = (slots["attendance"] == "attended").fillna(False).to_numpy(dtype=bool)
    assert np.array_equal(facts["attended"].to_numpy(), went)
    assert 0 < went.sum() < len(facts)
    after = (slots["session_date"] - slots["participant_id"].map(last)).dt.days.astype(float)
    want_days = np.where(went, after.to_numpy(), np.nan)
    assert np.array_equal(facts["days_after_core"].to_numpy(), want_days, equal_nan=True)
    recorded = people.set_index("participant_id")["evaluation_outcome"].astype(object)
    want_outcome = facts["participant_id"].map(recorded).fillna("not_recorded")
    assert (facts["evaluation_outcome"].to_numpy() == want_outcome.to_numpy()).all()
