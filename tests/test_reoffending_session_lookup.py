"""The sessions' cohort rows through the export's participant lookup.

With the export whose sessions table it reads, :func:`attended_days` finds each
session's person through the lookup the load made (participants' rows), not by
hashing every session's identifier; here both routes are compared on random
cohorts (sessions of people outside the cohort, cohorts not in the export's
participants order) and on the bundled sample's landmark analysis.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdanalytics import load_export, reoffending
from cdanalytics.config import load_config
from cdanalytics.io.export import Export, Manifest
from cdanalytics.reoffending.dose import attended_days

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def random_export(rng: np.random.Generator, n: int = 200) -> Export:
    ids = pd.array([f"X{i:04d}" for i in rng.permutation(n)], dtype="str")
    people = pd.DataFrame({"participant_id": ids, "group": pd.Categorical(["programme"] * n)})
    m = 1500
    sessions = pd.DataFrame(
        {
            "participant_id": pd.array(np.asarray(ids)[rng.integers(0, n, m)], dtype="str"),
            "session_type": pd.Categorical(rng.choice(["group", "individual", "review"], m)),
            "session_number": pd.array(rng.integers(1, 9, m), dtype="Int64"),
            "session_date": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 400, m), unit="D"),
            "attendance": pd.Categorical(rng.choice(["attended", "excused", "unexcused", None], m)),
        }
    )
    empty = pd.DataFrame({"participant_id": pd.Series([], dtype="str")})
    return Export(people, sessions, empty, empty, Manifest(extract_date=pd.Timestamp("2024-06-30")))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("types", [None, ("group", "review")])
def test_export_lookup_gives_the_rows_of_a_direct_lookup(seed, types):
    rng = np.random.default_rng(seed)
    export = random_export(rng)
    ids = export.participants["participant_id"]
    chosen = rng.choice(len(ids), size=int(rng.integers(20, len(ids))), replace=False)
    cohort = pd.DataFrame(
        {
            "participant_id": ids.to_numpy()[chosen],
            "index_date": pd.Timestamp("2023-03-01")
            + pd.to_timedelta(rng.integers(0, 90, len(chosen)), unit="D"),
        }
    )
    direct = attended_days(cohort, export.sessions, types)
    looked_up = attended_days(cohort, export.sessions, types, export)
    assert len(direct[0]) > 50
    for mine, theirs in zip(looked_up, direct, strict=True):
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)
    # a cohort with a person the export does not know: looked up directly, the same
    stranger = pd.concat(
        [cohort, pd.DataFrame({"participant_id": ["nobody"], "index_date": [pd.NaT]})],
        ignore_index=True,
    ).astype({"participant_id": "str"})
    for mine, theirs in zip(
        attended_days(stranger, export.sessions, types, export),
        attended_days(stranger, export.sessions, types),
        strict=True,
    ):
        np.testing.assert_array_equal(mine, theirs)


def test_landmark_with_the_export_equals_it_with_the_sessions_table():
    export = load_export(SAMPLE)
    people = reoffending.person_outcomes(export, load_config(None).reoffending.definition)
    programme = people[(people["group"] == "programme").to_numpy(dtype=bool, na_value=False)]
    columns = ["participant_id", "index_date", "in_cohort", "duration_days", "event"]
    by_table = reoffending.landmark(programme[columns], sessions=export.sessions)
    by_export = reoffending.landmark(programme[columns], sessions=export)
    pd.testing.assert_frame_equal(by_export.cohort, by_table.cohort, check_exact=True)
    pd.testing.assert_frame_equal(by_export.cox.summary, by_table.cox.summary, check_exact=True)
    assert by_export.cohort[reoffending.ATTENDANCE_TERM].sum() > 0


@pytest.mark.parametrize("block", [1, 7, 256])
def test_the_dates_read_a_block_of_sessions_at_a_time_give_the_same_days(monkeypatch, block):
    from cdanalytics import _lookup
    from cdanalytics._dates import day_numbers

    rng = np.random.default_rng(block)
    export = random_export(rng)
    ids = export.participants["participant_id"]
    cohort = pd.DataFrame(
        {
            "participant_id": ids.to_numpy()[:150],
            "index_date": pd.Timestamp("2023-03-01")
            + pd.to_timedelta(rng.integers(0, 90, 150), unit="D"),
        }
    )
    monkeypatch.setattr(_lookup, "BLOCK_ROWS", block)
    pos, day = attended_days(cohort, export.sessions, None, export)
    assert pos.dtype == np.int32 and len(pos) > 200  # positions in the narrow type
    # against the plain computation: every attended session of a cohort member
    sessions = export.sessions
    row = pd.Index(cohort["participant_id"]).get_indexer(sessions["participant_id"])
    keep = (sessions["attendance"] == "attended").fillna(False).to_numpy() & (row >= 0)
    expected = (
        day_numbers(sessions["session_date"][keep]) - day_numbers(cohort["index_date"])[row[keep]]
    )
    np.testing.assert_array_equal(pos, row[keep])
    np.testing.assert_array_equal(day, expected)
