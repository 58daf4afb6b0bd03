"""Session passes in blocks of whole participants, against plain pandas.

``stage_progress`` and ``review_facts`` read the sessions a block of whole
participants at a time (:func:`cdanalytics.engagement._blocks.participant_blocks`),
each block sorted on its own. Here random exports (sessions shuffled, dates and
session numbers tied and missing) are recounted one participant and stage at a
time with pandas (a stable sort by date and session number, the ties in table
order), with blocks of one participant, of a few sessions and of the default
size.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from _stage_fixtures import EXTRACT, TRI
from pandas.errors import Pandas4Warning

from cdanalytics import _lookup
from cdanalytics import engagement as eng
from cdanalytics.engagement._blocks import block_codes, participant_blocks
from cdanalytics.engagement._sessions import _codes
from cdanalytics.errors import AnalysisError
from cdanalytics.io.export import Export, Manifest

STAGE_TYPES = {("tri", "a"): "individual", ("tri", "b"): "group", ("tri", "c"): "review"}
STAGE_TYPES |= {("par", "g"): "group", ("par", "i"): "individual"}
PROGRAMMES = {**TRI, "tri": {**TRI["tri"], "review": {"count": 2, "window_days": 30}}}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("size", [1, 7, 1000])
def test_blocks_hold_every_row_once_and_each_participant_whole(seed, size):
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 40, 300)
    if seed == 0:
        rows = np.sort(rows)  # the slices of an ordered table
    blocks = list(participant_blocks(rows, size))
    positions = [np.arange(len(rows))[b] for b in blocks]
    joined = np.concatenate(positions)
    assert np.array_equal(np.sort(joined), np.arange(len(rows)))  # every row once
    owners = [rows[p] for p in positions]
    assert all(np.all(o[1:] >= o[:-1]) for o in owners)  # in participant order
    for a, b in pairwise(owners):
        assert a[-1] < b[0]  # a participant's rows in one block
    for p in positions:  # each participant's rows in table order
        for who in np.unique(rows[p]):
            mine = p[rows[p] == who]
            assert np.all(mine[1:] > mine[:-1])
    assert all(len(p) >= 1 for p in positions)
    if size == 1:
        assert len(blocks) == len(np.unique(rows))


def random_export(seed: int, holes: bool = True) -> Export:
    """Programme men of ``tri`` and ``par`` and comparison men, sessions of every type
    on few distinct days, numbers tied (and missing, with ``holes``), rows shuffled."""
    rng = np.random.default_rng(seed)
    n = 120
    ids = [f"P{i:03d}" for i in range(n)]
    start = pd.Timestamp("2024-01-08") + pd.to_timedelta(rng.integers(0, 120, n), unit="D")
    people = pd.DataFrame(
        {
            "participant_id": pd.array(ids, dtype="str"),
            "programme": pd.Categorical(rng.choice(["tri", "par"], n)),
            "group": pd.Categorical(rng.choice(["programme", "comparison"], n, p=[0.85, 0.15])),
            "site": pd.Categorical(["East"] * n),
            "referral_date": start - pd.Timedelta(days=20),
            "start_date": start,
            "end_date": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ms]"),
            "exit_status": pd.Categorical(rng.choice(["completed", None], n, p=[0.7, 0.3])),
            "evaluation_outcome": pd.Categorical([None] * n),
        }
    )
    rows = []
    for i, pid in enumerate(ids):
        for _ in range(int(rng.integers(0, 12))):
            day = start[i] + pd.Timedelta(days=int(rng.integers(0, 6)) * 7)
            number = int(rng.integers(1, 4)) if rng.uniform() < 0.9 or not holes else None
            kind = rng.choice(["individual", "group", "review"])
            mark = rng.choice(["attended", "excused", "unexcused"], p=[0.7, 0.15, 0.15])
            rows.append((pid, kind, number, day, mark))
    sessions = pd.DataFrame(
        rows,
        columns=["participant_id", "session_type", "session_number", "session_date", "attendance"],
    )
    sessions = sessions.iloc[rng.permutation(len(sessions))].reset_index(drop=True)
    sessions["participant_id"] = sessions["participant_id"].astype("str")
    sessions["session_type"] = sessions["session_type"].astype("category")
    sessions["attendance"] = sessions["attendance"].astype("category")
    sessions["session_number"] = sessions["session_number"].astype("Int64")
    sessions["session_date"] = sessions["session_date"].astype("datetime64[ms]")
    empty = pd.DataFrame({"participant_id": pd.Series([], dtype="str")})
    return Export(people, sessions, empty, empty, Manifest(extract_date=EXTRACT))


def in_order(sessions: pd.DataFrame, missing: int = 0) -> pd.DataFrame:
    """Sessions in date then number order, ties in table order; a missing number
    counts as ``missing`` (stages: 0; reviews: after every number)."""
    keyed = sessions.assign(_n=sessions["session_number"].fillna(missing))
    return keyed.sort_values(["session_date", "_n"], kind="stable")


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("size", [1, 5, None])
def test_stage_counts_and_last_session_against_pandas(monkeypatch, seed, size):
    export = random_export(seed)
    if size is not None:
        monkeypatch.setattr(_lookup, "BLOCK_ROWS", size)
    progress = eng.stage_progress(export, programmes=TRI)
    assert len(progress) > 100
    sessions = export.sessions
    checked = 0
    for row in progress.itertuples():
        kind = STAGE_TYPES[(str(row.programme), row.stage)]
        mine = sessions[
            (sessions["participant_id"] == row.participant_id).to_numpy()
            & (sessions["session_type"] == kind).to_numpy()
        ]
        mine = in_order(mine)
        attended = (mine["attendance"] == "attended").to_numpy()
        assert row.n_scheduled == len(mine)
        assert row.n_attended == attended.sum()
        last = len(mine) >= row.n_sessions and attended[row.n_sessions - 1]
        assert row.attended_last == last
        checked += last
    assert checked > 10


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("size", [1, 5, None])
@pytest.mark.parametrize("holes", [True, False])  # sorted by lexsort, or by one packed key
def test_review_slots_and_last_core_day_against_pandas(monkeypatch, seed, size, holes):
    export = random_export(seed, holes)
    if size is not None:
        monkeypatch.setattr(_lookup, "BLOCK_ROWS", size)
    facts = eng.review_facts(export, programmes=PROGRAMMES)
    assert len(facts) > 20
    sessions = export.sessions
    epoch = pd.Timestamp("1970-01-01")
    went = 0
    for row in facts.itertuples():
        own = sessions[(sessions["participant_id"] == row.participant_id).to_numpy()]
        core = own[
            (own["session_type"] != "review").to_numpy()
            & (own["attendance"] == "attended").to_numpy()
        ]
        last_core = (core["session_date"].max() - epoch).days if len(core) else np.nan
        reviews = in_order(own[(own["session_type"] == "review").to_numpy()], missing=10**9)
        if len(reviews) >= row.review:
            session = reviews.iloc[row.review - 1]
            attended = session["attendance"] == "attended"
            day = (session["session_date"] - epoch).days
        else:
            attended, day = False, np.nan
        assert row.attended == attended
        want = day - last_core if attended else np.nan
        assert np.isnan(want) if np.isnan(row.days_after_core) else row.days_after_core == want
        went += attended
    assert went > 5


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("categorical", [True, False])
def test_block_codes_read_the_codes_of_the_whole_column(seed, categorical):
    rng = np.random.default_rng(seed)
    allowed = ("attended", "excused", "unexcused")
    values = pd.Series(rng.choice([*allowed, None], 500))
    if categorical:  # categories in another order
        values = values.astype(pd.CategoricalDtype(["unexcused", "attended", "excused"]))
    expected = np.array([allowed.index(v) if v in allowed else -1 for v in values.astype(object)])
    read = block_codes(values, allowed, "sessions.attendance")
    rows = rng.integers(0, 40, 500)
    for block in participant_blocks(rows, 37):
        mine = read(block)
        assert mine.dtype == np.int8
        np.testing.assert_array_equal(mine, expected[block])


def test_block_codes_refuse_values_outside_the_contract_as_the_whole_column_does():
    values = pd.Series(["attended", "late", None, "early", "attended"], dtype="category")
    allowed = ("attended", "excused", "unexcused")
    with pytest.raises(AnalysisError) as whole, pytest.warns(Pandas4Warning):
        _codes(values, allowed, "sessions.attendance")  # pandas warns, then the error
    with pytest.raises(AnalysisError) as blocks:
        block_codes(values, allowed, "sessions.attendance")
    assert str(blocks.value) == str(whole.value)
    assert "early, late" in str(whole.value)
    unused = values.cat.add_categories(["spare"]).cat.remove_categories(["late", "early"])
    read = block_codes(unused, allowed, "sessions.attendance")  # an unused category is fine
    np.testing.assert_array_equal(read(slice(None)), [0, -1, -1, -1, 0])
