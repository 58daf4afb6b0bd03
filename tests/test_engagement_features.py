"""Each participant's attendance facts from their core session sequence
(:func:`cdanalytics.engagement._features._session_features`), checked against
a plain per-participant recount, and the sequence sort made a block of
participants at a time (:func:`cdanalytics.engagement._blocks.sequence_order`)
against the sort of the whole table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdanalytics import _lookup
from cdanalytics.engagement._blocks import sequence_order
from cdanalytics.engagement._features import _session_features
from cdanalytics.engagement._sessions import _ATTENDANCE, _SESSION_TYPES, _sequence_order


def random_sessions(seed: int, grouped: bool):
    rng = np.random.default_rng(seed)
    n_people, n_rows = 60, 900
    owner = np.sort(rng.integers(-1, n_people, n_rows))  # -1: not a programme participant
    if not grouped:
        owner = rng.permutation(owner)
    sessions = pd.DataFrame(
        {
            "session_type": pd.Categorical(
                rng.choice(_SESSION_TYPES, n_rows), categories=list(_SESSION_TYPES)
            ),
            "attendance": pd.Categorical(
                rng.choice([*_ATTENDANCE, None], n_rows, p=[0.55, 0.15, 0.2, 0.1]),
                categories=list(_ATTENDANCE),
            ),
            # few distinct dates and numbers: many ties
            "session_date": pd.to_datetime("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 12, n_rows), unit="D"),
            "session_number": pd.array(rng.integers(1, 5, n_rows), dtype="Int64"),
        }
    )
    programme = rng.integers(0, 2, n_people)
    core_rank = np.full((2, len(_SESSION_TYPES)), -1)
    core_rank[0, :2] = [0, 1]  # programme 0: two core types
    core_rank[1, 1] = 0  # programme 1: one
    n_core = rng.integers(1, 12, n_people)
    return sessions, owner.astype(np.int32), programme, core_rank, n_core


def recount(sessions, owner, programme, core_rank, n_core):
    """The facts one participant at a time, as the definitions read."""
    types = sessions["session_type"].cat.codes.to_numpy()
    table = sessions.assign(
        owner=owner,
        rank=[
            core_rank[programme[o], t] if o >= 0 else -1 for o, t in zip(owner, types, strict=True)
        ],
        day=(sessions["session_date"] - pd.Timestamp("1970-01-01")).dt.days,
    )
    facts = []
    for person in range(len(programme)):
        mine = table[(table["owner"] == person) & (table["rank"] >= 0)]
        mine = mine.sort_values(["day", "rank", "session_number"], kind="stable")
        attended = (mine["attendance"] == "attended").to_numpy()
        runs, run = [0], 0
        for present in attended:
            run = 0 if present else run + 1
            runs.append(run)
        positions = np.flatnonzero(attended) + 1
        facts.append(
            {
                "n_core_scheduled": len(mine),
                "n_core_attended": int(attended.sum()),
                "n_core_excused": int((mine["attendance"] == "excused").sum()),
                "n_core_unexcused": int((mine["attendance"] == "unexcused").sum()),
                "attended_last_core": bool(
                    len(mine) >= n_core[person] and attended[n_core[person] - 1]
                ),
                "last_core_attended": int(positions.max()) if len(positions) else 0,
                "longest_absence_run": max(runs),
                "first_attended_day": float(mine["day"].to_numpy()[attended].min())
                if attended.any()
                else np.nan,
            }
        )
    return pd.DataFrame(facts)


@pytest.mark.parametrize("grouped", [True, False])
@pytest.mark.parametrize("block", [1, 7, None])
@pytest.mark.parametrize("seed", range(3))
def test_attendance_facts_match_a_recount_of_each_participant(monkeypatch, seed, block, grouped):
    if block is not None:  # the sort's blocks of participants and the reads' blocks of rows
        monkeypatch.setattr(_lookup, "BLOCK_ROWS", block)
    data = random_sessions(seed, grouped)
    facts = _session_features(*data)
    expected = recount(*data)
    got = pd.DataFrame({name: facts[name] for name in expected.columns})
    assert expected["n_core_scheduled"].gt(0).sum() > 30  # most people have sessions
    assert expected["longest_absence_run"].max() > 1
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert all(facts[name].dtype == np.int64 for name in expected.columns[:3])


@pytest.mark.parametrize("block", [1, 2, 3, 50])
@pytest.mark.parametrize("seed", range(4))
def test_the_order_a_block_at_a_time_is_the_order_of_the_whole_table(monkeypatch, seed, block):
    monkeypatch.setattr(_lookup, "BLOCK_ROWS", block)
    rng = np.random.default_rng(seed)
    n = 500
    p = np.sort(rng.integers(0, 40, n)).astype(np.int32)
    day, number = rng.integers(0, 5, n).astype(np.int32), rng.integers(1, 4, n).astype(np.int32)
    rank = rng.integers(0, 2, n).astype(np.int16)
    whole = _sequence_order(p, day, rank, number)
    assert whole is not None  # the rows are not already in order
    np.testing.assert_array_equal(sequence_order(p, day, rank, number), whole)
    ordered = np.lexsort((number, rank, day, p))  # already in order: None both ways
    args = (p[ordered], day[ordered], rank[ordered], number[ordered])
    assert sequence_order(*args) is None and _sequence_order(*args) is None
    shuffled = rng.permutation(n)  # not grouped by participant: the whole table at once
    args = (p[shuffled], day[shuffled], rank[shuffled], number[shuffled])
    np.testing.assert_array_equal(sequence_order(*args), _sequence_order(*args))
