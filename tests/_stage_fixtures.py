"""Hand-counted fixture of the stage analyses (see tests/test_engagement_stages.py).

``tri``, a three-stage programme registered through overrides:

- stage ``a``: 2 individual sessions (days 0 and 7 after the start), both to
  be attended; potential completer 14 days after the start;
- stage ``b``: 3 group sessions (days 14, 21, 28), 2 attended including the
  last; potential completer after 35 days;
- stage ``c``: 1 review session (day 56), attended; after 70 days.

``par``: two parallel strands (2 group sessions, 1 individual), both needed.
Attendance patterns are written ``a|b|c`` (A attended, E excused, U
unexcused, ``-`` no session). Extract date 2024-06-30.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdanalytics.io.export import Export, Manifest

EXTRACT = pd.Timestamp("2024-06-30")


def _stage(order, sessions, share, last, after):
    return {
        "order": order,
        "name": {"en": f"Stage {order}", "nl": f"Fase {order}"},
        "sessions": sessions,
        "completion_rule": {"min_share": share, "require_last": last},
        "potential_after_days": after,
    }


TRI = {
    "tri": {
        "name": {"en": "Tri", "nl": "Tri"},
        "core": {"individual": 2, "group": 3},
        "expected_duration_days": 28,
        "completion_rule": {"min_core_share": 0.8, "require_last_core": True},
        "stages": {
            "a": _stage(1, {"individual": 2}, 1.0, False, 14),
            "b": _stage(2, {"group": 3}, 0.66, True, 35),
            "c": _stage(3, {"review": 1}, 1.0, False, 70),
        },
    },
    "par": {
        "name": {"en": "Parallel", "nl": "Parallel"},
        "core": {"individual": 1, "group": 2},
        "expected_duration_days": 14,
        "completion_rule": {"min_core_share": 1.0, "require_last_core": False},
        "stages": {
            "g": _stage(1, {"group": 2}, 1.0, False, 14),
            "i": _stage(1, {"individual": 1}, 1.0, False, 14),
        },
    },
}
OFFSETS = {"a": (0, 7), "b": (14, 21, 28), "c": (56,)}
TYPES = {"a": "individual", "b": "group", "c": "review"}
MARKS = {"A": "attended", "E": "excused", "U": "unexcused"}

# participant_id, start, end, pattern a|b|c
PEOPLE = """
T01 2024-01-08 -          AA|AAA|A
T02 2024-01-08 -          AA|AUA|A
T03 2024-01-08 -          AA|AAU|-
T04 2024-01-08 -          AA|AAA|U
T05 2024-01-08 -          AU|AAA|A
T06 2024-01-08 -          AA|UUA|-
T07 2024-01-08 -          A|-|-
T08 2024-01-08 -          AA|-|-
T09 2024-01-08 -          AA|AAA|A
T10 2024-01-08 -          AA|AEA|A
T11 2024-01-08 -          AE|-|-
T12 2024-01-08 -          AA|AAA|-
T13 2024-01-08 -          AA|AAA|A
T14 2024-01-08 -          AA|EAA|A
T15 2024-06-10 -          AA|A|-
T16 2024-06-10 2024-06-20 AA|-|-
T17 2024-05-01 -          AA|AAA|-
T18 2024-01-08 -          AU|-|-
T19 2024-01-08 -          AA|AUU|-
T20 2024-01-08 -          AA|AAA|A
"""
# parallel strands: group (2) and individual (1), both to be attended
PARALLEL = """
Q1 2024-01-08 - AA|A
Q2 2024-01-08 - AU|A
Q3 2024-01-08 - AA|U
Q4 2024-01-08 - AA|A
"""


def _rows(text, programme, stages):
    people, sessions = [], []
    for line in text.strip().splitlines():
        pid, start, end, pattern = line.split()
        people.append((pid, programme, start, None if end == "-" else end))
        for stage, marks in zip(stages, pattern.split("|"), strict=True):
            for i, mark in enumerate(marks.replace("-", "")):
                day = pd.Timestamp(start) + pd.Timedelta(days=stages[stage][0][i])
                sessions.append((pid, stages[stage][1], i + 1, day, MARKS[mark]))
    return people, sessions


def hand_export() -> Export:
    tri = {s: (OFFSETS[s], TYPES[s]) for s in "abc"}
    par = {"g": ((0, 7), "group"), "i": ((3,), "individual")}
    p1, s1 = _rows(PEOPLE, "tri", tri)
    p2, s2 = _rows(PARALLEL, "par", par)
    people = pd.DataFrame(p1 + p2, columns=["participant_id", "programme", "start", "end"])
    participants = pd.DataFrame(
        {
            "participant_id": people["participant_id"],
            "programme": people["programme"].astype("category"),
            "group": pd.Categorical(["programme"] * len(people)),
            "site": pd.Categorical(np.where(people.index % 2 == 0, "East", "West")),
            "referral_date": pd.to_datetime(people["start"]) - pd.Timedelta(days=20),
            "start_date": pd.to_datetime(people["start"]),
            "end_date": pd.to_datetime(people["end"]),
            "exit_status": pd.Categorical([None] * len(people)),
        }
    )
    sessions = pd.DataFrame(
        s1 + s2,
        columns=["participant_id", "session_type", "session_number", "session_date", "attendance"],
    )
    sessions["session_type"] = sessions["session_type"].astype("category")
    sessions["attendance"] = sessions["attendance"].astype("category")
    sessions["session_number"] = sessions["session_number"].astype("Int64")
    empty = pd.DataFrame({"participant_id": pd.Series([], dtype="str")})
    return Export(participants, sessions, empty, empty, Manifest(extract_date=EXTRACT))
