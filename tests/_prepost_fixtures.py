"""Small explicit exports for the pre/post tests (imported by tests/test_prepost*.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdanalytics.io.export import Export, Manifest

MEASURE_COLUMNS = ["participant_id", "instrument", "scale", "informant", "timepoint", "score"]


def make_export(measures: pd.DataFrame | list[tuple], participants: pd.DataFrame | None = None):
    """Export from measures rows (participant_id, instrument, scale, informant,
    timepoint, score); participants default to one caring_dads row per id."""
    if not isinstance(measures, pd.DataFrame):
        measures = pd.DataFrame(measures, columns=MEASURE_COLUMNS)
    measures = measures.copy()
    for col in ("instrument", "scale", "informant"):
        measures[col] = measures[col].astype("category")
    measures["timepoint"] = pd.Categorical(
        measures["timepoint"], categories=["pre", "post", "follow_up"], ordered=True
    )
    measures["score"] = measures["score"].astype(float)
    if participants is None:
        ids = pd.unique(measures["participant_id"])
        participants = pd.DataFrame({"participant_id": ids})
    participants = participants.copy()
    defaults = {"programme": "caring_dads", "exit_status": None}
    for col, value in defaults.items():
        if col not in participants:
            participants[col] = value
        participants[col] = participants[col].astype("category")
    return Export(
        participants=participants,
        sessions=pd.DataFrame(),
        measures=measures,
        events=pd.DataFrame(),
        manifest=Manifest(extract_date=pd.Timestamp("2025-06-30")),
    )


def pairs_to_rows(
    pre, post, instrument="sdq", scale="total", informant="father", prefix="p"
) -> list[tuple]:
    """Measures rows for participants ``prefix0..`` with the given scores (NaN = absent)."""
    rows = []
    for i, (a, b) in enumerate(zip(pre, post, strict=True)):
        for tp, value in (("pre", a), ("post", b)):
            if not np.isnan(value):
                rows.append((f"{prefix}{i}", instrument, scale, informant, tp, value))
    return rows
