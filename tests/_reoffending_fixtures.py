"""Small explicit exports and survival tables for the reoffending tests
(imported by tests/test_reoffending*.py)."""

from __future__ import annotations

import pandas as pd

from cdanalytics.io.export import Export, Manifest

PARTICIPANT_DATES = ["referral_date", "start_date", "end_date", "index_date", "followup_end"]
EVENT_COLUMNS = ["participant_id", "event_type", "event_date", "proven_date"]


def make_export(
    people: list[dict], events: list[tuple] = (), extract: str = "2024-06-30"
) -> Export:
    """Export from participant dicts and event tuples.

    People default to a programme row at ``site_a`` with low risk; missing
    dates are NaT. Events are (participant_id, event_type, event_date,
    proven_date or None).
    """
    participants = pd.DataFrame(people)
    defaults = {"programme": "caring_dads", "site": "site_a", "group": "programme"}
    for column, value in defaults.items():
        if column not in participants:
            participants[column] = value
        participants[column] = participants[column].fillna(value).astype("category")
    for column in PARTICIPANT_DATES:
        if column in participants:
            participants[column] = pd.to_datetime(participants[column])
        else:
            participants[column] = pd.Series(pd.NaT, index=participants.index, dtype="M8[s]")
    if "risk_level" not in participants:
        participants["risk_level"] = "low"
    participants["risk_level"] = pd.Categorical(
        participants["risk_level"], categories=["low", "medium", "high", "very_high"], ordered=True
    )
    participants["participant_id"] = participants["participant_id"].astype(str)
    event_frame = pd.DataFrame(list(events), columns=EVENT_COLUMNS)
    event_frame["participant_id"] = event_frame["participant_id"].astype(str)
    event_frame["event_type"] = event_frame["event_type"].astype("category")
    for column in ("event_date", "proven_date"):
        event_frame[column] = pd.to_datetime(event_frame[column])
    return Export(
        participants=participants,
        sessions=pd.DataFrame(),
        measures=pd.DataFrame(),
        events=event_frame,
        manifest=Manifest(extract_date=pd.Timestamp(extract)),
    )


def survival_table(duration, event, **columns) -> pd.DataFrame:
    """A table with ``duration_days`` and ``event`` (and any grouping columns)."""
    return pd.DataFrame({"duration_days": duration, "event": event, **columns})
