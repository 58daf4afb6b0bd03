"""The reshaping behind score_table (cdanalytics/prepost/_reshape.py) against
a plain pandas pivot, on measures with rows the table does not keep (other
timepoints and instruments, among them rows naming unknown participants or
lacking an instrument, which only matter when kept), participants without
scores, and series some participants lack; and the group numbers the
analyses take from the shared table's layout against those made from the
table itself (an export and its score table give the same results)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _prepost_fixtures import make_export

from cdanalytics.errors import ExportValidationError
from cdanalytics.prepost import (
    attrition,
    change,
    reliable_change,
    reliable_change_summary,
    score_table,
)

SERIES = [("sdq", "total", "partner"), ("cts2", "negotiation", "partner"), ("sdq", "total", "self")]


def _measures(seed: int, n_people: int = 64) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(60):
        for series in SERIES:
            for tp in ("pre", "post", "follow_up"):
                if rng.random() < 0.7:
                    rows.append((f"p{i}", *series, tp, float(rng.integers(0, 40))))
    people = pd.DataFrame(
        {
            "participant_id": [f"p{i}" for i in range(n_people)],  # p60...: no scores
            "programme": [("a", "b", "c")[i % 3] for i in range(n_people)],
        }
    )
    columns = ["participant_id", "instrument", "scale", "informant", "timepoint", "score"]
    return pd.DataFrame(rows, columns=columns), people


def _pivot(measures: pd.DataFrame, people: pd.DataFrame, timepoints, subset=None) -> pd.DataFrame:
    """Scores side by side by pandas alone, in the score table's row order."""
    m = measures[measures["timepoint"].isin(timepoints)]
    if subset is not None:
        m = m[m["instrument"].isin(subset)]
    keys = ["participant_id", "instrument", "scale", "informant"]
    wide = m.pivot_table(index=keys, columns="timepoint", values="score", observed=True)
    wide = wide.reindex(columns=list(timepoints)).reset_index()
    order = {pid: i for i, pid in enumerate(people["participant_id"])}
    wide["_person"] = wide["participant_id"].map(order)
    wide = wide.sort_values(["_person", "instrument", "scale", "informant"])
    return wide.drop(columns="_person").reset_index(drop=True)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(
    ("timepoints", "subset"),
    [(("pre", "post"), None), (("post", "pre"), None), (("follow_up",), ["cts2"])],
)
# 64 people: the scores fill more than half a grid of every participant (no
# pass for the people measured); 400: most have none (the grid has rows for
# the people measured only)
@pytest.mark.parametrize("n_people", [64, 400])
def test_score_table_equals_a_pandas_pivot(seed, timepoints, subset, n_people):
    measures, people = _measures(seed, n_people)
    # Rows the table does not keep may name unknown people or lack an instrument.
    other = "follow_up" if "follow_up" not in timepoints else None
    junk = pd.DataFrame(
        {
            "participant_id": ["nobody", "p1"],
            "instrument": ["sdq", None],
            "scale": ["total", "total"],
            "informant": ["partner", "partner"],
            "timepoint": [other, other],
            "score": [1.0, 2.0],
        }
    )
    export = make_export(pd.concat([measures, junk], ignore_index=True), people)
    table = score_table(export, by="programme", timepoints=timepoints, subset=subset)
    expected = _pivot(measures, people, timepoints, subset)
    got = table[["participant_id", "instrument", "scale", "informant", *timepoints]]
    for key in ("instrument", "scale", "informant"):
        assert list(got[key].cat.categories) == sorted(set(expected[key]))
    np.testing.assert_array_equal(got["participant_id"].to_numpy(), expected["participant_id"])
    for key in ("instrument", "scale", "informant"):
        np.testing.assert_array_equal(got[key].astype(str).to_numpy(), expected[key].to_numpy())
    for tp in timepoints:
        np.testing.assert_array_equal(got[tp].to_numpy(), expected[tp].to_numpy(dtype=float))
    programme = people.set_index("participant_id")["programme"]
    assert (table["programme"].astype(str) == table["participant_id"].map(programme)).all()


def test_rows_kept_still_refuse_unknown_people_and_empty_keys():
    measures, people = _measures(3)
    unknown = measures.iloc[:1].assign(participant_id="nobody", timepoint="pre")
    export = make_export(pd.concat([measures, unknown], ignore_index=True), people)
    with pytest.raises(ExportValidationError, match="1 measures row"):
        score_table(export)
    assert len(score_table(export, timepoints=("post",)))  # not kept: no error
    empty = measures.iloc[:1].assign(instrument=None, timepoint="post")
    export = make_export(pd.concat([measures, empty], ignore_index=True), people)
    with pytest.raises(ExportValidationError, match="empty instrument"):
        score_table(export)


@pytest.mark.parametrize("by", [None, "programme"])
def test_an_export_and_its_score_table_give_the_same_results(by):
    # From an export the analyses number the groups from the shared table's
    # layout; from a score table, from its columns.
    measures, people = _measures(4)
    export = make_export(measures, people)
    table = score_table(export, by=by)
    pd.testing.assert_frame_equal(change(export, by=by), change(table, by=by))
    rc = reliable_change(export, by=by)
    pd.testing.assert_frame_equal(rc, reliable_change(table, by=by))
    pd.testing.assert_frame_equal(
        reliable_change_summary(rc, by=by),
        reliable_change_summary(reliable_change(table, by=by), by=by),
    )
    pd.testing.assert_frame_equal(attrition(export, by=by), attrition(table, by=by))
