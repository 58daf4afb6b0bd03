"""Survival curves drawn in steps that each hide enough events (:func:`coarsen_steps`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdanalytics.disclosure import DisclosurePolicy, coarsen_steps


def curve(events: list[int], start: int, group: str = "a") -> pd.DataFrame:
    at_risk = start - np.concatenate([[0], np.cumsum(events)[:-1]])
    return pd.DataFrame(
        {"group": group, "time": np.arange(len(events)), "n_at_risk": at_risk, "n_events": events}
    )


@pytest.mark.parametrize("threshold", [5, 10, 30])
def test_every_drawn_step_hides_at_least_the_threshold_of_events(threshold):
    rng = np.random.default_rng(threshold)
    frame = pd.concat(
        [
            curve(list(rng.integers(0, 4, 120)), 400, "a"),
            curve(list(rng.integers(0, 3, 80)), 150, "b"),
        ],
        ignore_index=True,
    )
    policy = DisclosurePolicy(threshold=threshold)
    drawn = coarsen_steps(frame, policy, keys=["group"])
    for group, rows in frame.groupby("group"):
        kept = drawn.loc[drawn["group"] == group, "time"].to_numpy()
        assert kept[0] == rows["time"].iloc[0]
        cumulative = rows.set_index("time")["n_events"].cumsum()
        steps = np.diff(cumulative.loc[kept].to_numpy())
        assert (steps >= threshold).all(), (group, steps)
        assert (rows.set_index("time").loc[kept[1:], "n_at_risk"] >= threshold).all()
    assert len(drawn) > 4


def test_the_curve_stops_where_few_remain_at_risk():
    frame = curve([5, 5, 5, 5, 5, 5], 32)  # at risk 32, 27, 22, 17, 12, 7
    drawn = coarsen_steps(frame, DisclosurePolicy(threshold=10), keys=["group"])
    assert drawn["time"].tolist() == [0, 2, 4]


def test_a_group_too_small_to_start_is_not_drawn():
    frame = curve([1, 1, 1], 8)
    assert coarsen_steps(frame, DisclosurePolicy(threshold=10)).empty
