"""Engagement outcomes per group: attendance and waiting times.

The conventions (``data``, ``by``, groups, programme participants only) are
those of :mod:`.outcomes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .._groups import group_by
from ._prepare import (
    as_engagement_data,
    shared_parameters,
)
from .outcomes import By, Data, _finish, _prepared, _unique

__all__ = ["attendance", "attendance_summary", "waiting_times"]


_ATTENDANCE_COLUMNS = [
    "n_core_sessions",
    "n_core_scheduled",
    "n_core_attended",
    "n_core_excused",
    "n_core_unexcused",
    "longest_absence_run",
    "last_core_attended",
]


def _with_rates(starters: pd.DataFrame) -> pd.DataFrame:
    """``starters`` with ``attendance_rate`` and ``core_share`` added."""
    attended = starters["n_core_attended"].to_numpy(dtype=float)
    scheduled = starters["n_core_scheduled"].to_numpy(dtype=float)
    return starters.assign(
        attendance_rate=np.divide(
            attended, scheduled, out=np.full(len(starters), np.nan), where=scheduled > 0
        ),
        core_share=attended / starters["n_core_sessions"].to_numpy(dtype=float),
    )


@shared_parameters
def attendance(data: Data, *, programmes: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Attendance of core sessions per starter.

    Parameters
    ----------
    {data}
    {programmes}

    Returns
    -------
    DataFrame
        ``participant_id, programme, site, n_core_sessions (K),
        n_core_scheduled, n_core_attended, n_core_excused, n_core_unexcused,
        longest_absence_run, last_core_attended, attendance_rate
        (attended / scheduled), core_share (attended / K)``; one row per
        starter. Absences are excused or unexcused core sessions; the longest
        run counts consecutive absences in the core sequence.
    """
    ep = as_engagement_data(data, programmes).episodes
    starters = ep.loc[ep["started"], ["participant_id", "programme", "site", *_ATTENDANCE_COLUMNS]]
    return _with_rates(starters).reset_index(drop=True)


@shared_parameters
def attendance_summary(
    data: Data, by: By = None, *, programmes: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Attendance of core sessions summarised per group of starters.

    Parameters
    ----------
    {data}
    {by}
    {programmes}

    Returns
    -------
    DataFrame
        ``<by>..., n_participants, n_core_scheduled, n_core_attended,
        n_core_excused, n_core_unexcused, attendance_rate (pooled: attended /
        scheduled), mean_attendance_rate (mean of participants' rates),
        q1_attended, median_attended, q3_attended (core sessions attended per
        participant), median_longest_absence_run, max_longest_absence_run``.
    """
    _, ep, keys = _prepared(data, by, programmes)
    columns = _unique([*keys, *_ATTENDANCE_COLUMNS])
    grouped = group_by(_with_rates(ep.loc[ep["started"], columns]), keys)
    out = grouped[["n_core_scheduled", "n_core_attended", "n_core_excused", "n_core_unexcused"]]
    out = out.sum()
    out.insert(0, "n_participants", grouped.size())
    out["attendance_rate"] = out["n_core_attended"] / out["n_core_scheduled"].where(
        out["n_core_scheduled"] > 0
    )
    out["mean_attendance_rate"] = grouped["attendance_rate"].mean()
    for name, q in (("q1_attended", 0.25), ("median_attended", 0.5), ("q3_attended", 0.75)):
        out[name] = grouped["n_core_attended"].quantile(q)
    out["median_longest_absence_run"] = grouped["longest_absence_run"].median()
    out["max_longest_absence_run"] = grouped["longest_absence_run"].max()
    return _finish(out, keys)


@shared_parameters
def waiting_times(
    data: Data, by: By = None, *, programmes: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Referral-to-start wait and start-to-end duration in days (median and IQR).

    Parameters
    ----------
    {data}
    {by}
    {programmes}

    Returns
    -------
    DataFrame
        ``<by>..., interval, n, q1_days, median_days, q3_days``; one row per
        group and interval, ``referral_to_start`` (starters with a referral
        date; start as in :func:`~cdanalytics.engagement.prepare_engagement`)
        and ``start_to_end`` (starters with an end date). Quartiles by linear
        interpolation (pandas' default).
    """
    _, ep, keys = _prepared(data, by, programmes)
    pieces = []
    for interval, column in (("referral_to_start", "wait_days"), ("start_to_end", "duration_days")):
        valid = ep[column].notna().to_numpy()
        grouped = group_by(ep.loc[valid, _unique([*keys, column])], keys)[column]
        out = pd.DataFrame({"interval": interval, "n": grouped.size()})
        for name, q in (("q1_days", 0.25), ("median_days", 0.5), ("q3_days", 0.75)):
            out[name] = grouped.quantile(q)
        pieces.append(_finish(out, keys))
    out = pd.concat(pieces, ignore_index=True)
    out["interval"] = pd.Categorical(
        out["interval"], categories=["referral_to_start", "start_to_end"]
    )
    return out.sort_values([*keys, "interval"]).reset_index(drop=True)
