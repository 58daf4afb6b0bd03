"""Survival curves that cannot be differenced: every drawn step hides enough events.

A Kaplan-Meier (or retention) curve drawn step by step shows when each event
happened and, with the numbers at risk, how many: a step of one event is one
person. Following the output-checking guidance for survival analysis (each
step of a published curve must represent at least the threshold number of
events; Griffiths et al. 2019, §"Survival tables and Kaplan-Meier curves";
Statistics Netherlands' rule for survival curves in remote access), the curve
is drawn only at the times where at least ``threshold`` events have
accumulated since the previous drawn point, and it stops where fewer than
``threshold`` people remain at risk. Between two drawn points the curve is
flat, so no step hides fewer than ``threshold`` events.

The numbers at risk and the event and censoring counts at the report's
horizons are protected as one linked system with the rest of the report
(:func:`~cdanalytics.disclosure.protect_linked`): the changes between two
horizons of a group (events, censorings and the drop in the number at risk)
are secrets like any small cell.

References
----------
Griffiths, E. et al. (2019). Handbook on Statistical Disclosure Control for
Outputs. Safe Data Access Professionals Working Group, version 1.0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .policy import DisclosurePolicy

__all__ = ["coarsen_steps"]


def coarsen_steps(
    curve: pd.DataFrame,
    policy: DisclosurePolicy,
    *,
    keys: Sequence[str] = (),
    events: str = "n_events",
    at_risk: str = "n_at_risk",
) -> pd.DataFrame:
    """The points of a step curve that may be drawn.

    Parameters
    ----------
    curve
        One row per time point (sorted by time within each group), with the
        group columns ``keys``, the number of ``events`` at that time and the
        number ``at_risk`` just before it; other columns pass through.
    policy
        The threshold.
    keys
        Group columns.
    events, at_risk
        Column names.

    Returns
    -------
    pandas.DataFrame
        The rows of ``curve`` to draw: each group's first row, then each row
        at which at least ``policy.threshold`` events have accumulated since
        the previous drawn row, while at least ``policy.threshold`` people are
        at risk.
    """
    keep = np.zeros(len(curve), dtype=bool)
    groups = (
        curve.groupby(list(keys), sort=False, observed=True).indices.values()
        if keys
        else [np.arange(len(curve))]
    )
    counts = curve[events].to_numpy(dtype=float)
    enough_at_risk = ~policy.is_small(curve[at_risk].to_numpy(dtype=float)) & (
        curve[at_risk].to_numpy(dtype=float) > 0
    )
    for rows in groups:
        rows = np.asarray(rows)
        if not len(rows):
            continue
        keep[rows[0]] = enough_at_risk[rows[0]]
        pending = 0.0
        for i in rows[1:]:
            if not enough_at_risk[i]:
                break
            pending += counts[i]
            if pending and not policy.is_small(np.array([pending]))[0]:
                keep[i] = True
                pending = 0.0
    return curve.loc[keep]
