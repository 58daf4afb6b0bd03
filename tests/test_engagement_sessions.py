"""Each participant's core-session facts, recounted with plain pandas.

``prepare_engagement`` derives them for all sessions at once (one sort, bincounts and a
run-length encoding over narrow integer arrays); here every participant's sequence is
rebuilt with ``groupby`` and counted one participant at a time, from the export's tables
and the programme registry, on the bundled sample and on a shuffled copy of it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdanalytics import engagement as eng
from cdanalytics import load_export

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
COLUMNS = [
    "n_core_scheduled",
    "n_core_attended",
    "n_core_excused",
    "n_core_unexcused",
    "last_core_attended",
    "attended_last_core",
    "longest_absence_run",
]


def recount(export) -> pd.DataFrame:
    """The facts of each programme participant, one participant at a time."""
    registry = export.registries.programmes
    people = export.participants
    people = people[people["group"].astype(str) != "comparison"]
    programme_of = dict(zip(people["participant_id"], people["programme"].astype(str), strict=True))
    sessions = export.sessions[export.sessions["participant_id"].isin(set(programme_of))].copy()
    sessions["programme"] = sessions["participant_id"].map(programme_of)
    rank = {
        (code, kind): i for code, entry in registry.items() for i, kind in enumerate(entry["core"])
    }
    sessions["rank"] = [
        rank.get((p, str(t)), -1)
        for p, t in zip(sessions["programme"], sessions["session_type"], strict=True)
    ]
    core = sessions[sessions["rank"] >= 0]
    rows = {}
    for pid, seq in core.groupby("participant_id", sort=False):
        seq = seq.sort_values(["session_date", "rank", "session_number"], kind="stable")
        status = seq["attendance"].astype(str).tolist()
        k = sum(registry[programme_of[pid]]["core"].values())
        attended = [i + 1 for i, s in enumerate(status) if s == "attended"]
        longest = run = 0
        for s in status:
            run = run + 1 if s != "attended" else 0
            longest = max(longest, run)
        rows[pid] = (
            len(status),
            status.count("attended"),
            status.count("excused"),
            status.count("unexcused"),
            attended[-1] if attended else 0,
            k in attended,
            longest,
        )
    out = pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS)
    out = out.reindex(people["participant_id"]).fillna(0)
    return out.astype({c: bool if c == "attended_last_core" else np.int64 for c in COLUMNS})


@pytest.mark.parametrize("variant", ["sample", "shuffled", "mostly_absent"])
def test_core_session_facts_equal_a_per_participant_recount(variant):
    export = load_export(SAMPLE)
    sessions = export.sessions
    if variant == "shuffled":  # the derivation sorts for itself
        sessions = sessions.sample(frac=1.0, random_state=5).reset_index(drop=True)
    if variant == "mostly_absent":  # runs of absences at both ends of many sequences
        draw = np.random.default_rng(5).choice(
            ["attended", "excused", "unexcused"], size=len(sessions), p=[0.3, 0.3, 0.4]
        )
        sessions = sessions.assign(
            attendance=pd.Categorical(draw, categories=sessions["attendance"].cat.categories)
        )
    export.sessions = sessions
    episodes = eng.prepare_engagement(export).episodes.set_index("participant_id")
    expected = recount(export)
    assert len(expected) == len(episodes) > 1000
    assert expected["longest_absence_run"].max() >= 3  # runs of absences are exercised
    assert expected["attended_last_core"].any() and not expected["attended_last_core"].all()
    got = episodes.loc[expected.index, COLUMNS].astype(expected.dtypes.to_dict())
    pd.testing.assert_frame_equal(got, expected, check_names=False)
