"""Session sequences: the columns engagement reads from sessions (days, codes)
and each programme participant's attendance facts from their core session
sequence, vectorised over all sessions at once (:func:`_session_features`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .._dates import day_numbers
from ..errors import AnalysisError
from ..io.schema import contract_values

_SESSION_TYPES = contract_values("sessions", "session_type")
_ATTENDANCE = contract_values("sessions", "attendance")


def _codes(values: pd.Series, categories: tuple[str, ...], column: str) -> np.ndarray:
    """Integer codes of ``values`` in ``categories`` (-1 where missing); unknown values raise."""
    cat = pd.Categorical(values, categories=list(categories))
    codes = np.asarray(cat.codes)
    unknown = (codes < 0) & np.asarray(pd.notna(values))
    if unknown.any():
        raise _outside(pd.unique(np.asarray(values, dtype=object)[unknown]), categories, column)
    return codes


def _outside(values: Iterable[Any], categories: tuple[str, ...], column: str) -> AnalysisError:
    """The error for ``values`` of ``column`` outside the contract's ``categories``."""
    bad = sorted(map(str, values))[:5]
    return AnalysisError(
        f"{column} holds values outside the contract ({', '.join(bad)}); allowed: "
        f"{', '.join(categories)}. Validate the export with `cdanalytics validate` first."
    )


def _attendance_codes(sessions: pd.DataFrame) -> np.ndarray:
    """Code of each session's attendance in the contract's order (0: attended,
    1: excused, 2: unexcused; -1: missing); values outside the contract raise."""
    return _codes(sessions["attendance"], _ATTENDANCE, "sessions.attendance")


def _sequence_order(
    p: np.ndarray, day: np.ndarray, rank: np.ndarray, number: np.ndarray
) -> np.ndarray | None:
    """Order of sessions by participant, date, type rank and number (None: already sorted).

    The four keys are packed into one int64 when they fit, which sorts much
    faster than ``np.lexsort`` and costs nothing when the rows already come
    in that order. The keys may be of any integer width (they are widened
    to int64 for the packing).
    """
    if len(p) == 0:
        return None
    spans = [int(p.max()) + 1, int(day.max() - day.min()) + 1, int(rank.max()) + 1]
    spans.append(int(number.max() - number.min()) + 1)
    if float(np.prod(spans, dtype=float)) >= 2.0**62:
        return np.lexsort((number, rank, day, p))
    key = p.astype(np.int64)
    key *= spans[1]
    key += day
    key -= int(day.min())
    key *= spans[2]
    key += rank
    key *= spans[3]
    key += number
    key -= int(number.min())
    if (key[1:] >= key[:-1]).all():
        return None
    return np.argsort(key, kind="stable")


def _kept_days_and_numbers(
    sessions: pd.DataFrame, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Day number and session number of the ``keep`` sessions, both int32, for
    :func:`_sequence_order` (the contract requires both; int32 holds every date
    and every session number a registry allows)."""
    day = day_numbers(sessions["session_date"].to_numpy()[keep]).astype(np.int32)
    number = sessions["session_number"].to_numpy(dtype=np.int32, na_value=0)[keep]
    return day, number


def _session_features(
    sessions: pd.DataFrame, pidx: np.ndarray, core_lookup: np.ndarray, n_core: np.ndarray
) -> dict[str, np.ndarray]:
    """Attendance facts per participant from their core session sequence, vectorised.

    ``pidx`` is each session's participant row (-1: not a programme participant),
    ``core_lookup[row, type_code]`` the position of the session type among the
    participant's programme's core types (-1: not core), ``n_core`` K per row.
    The arrays over sessions are kept narrow (int32 and smaller) and dropped
    as soon as they are used: there are several per participant.
    """
    n = len(core_lookup)
    type_code = _codes(sessions["session_type"], _SESSION_TYPES, "sessions.session_type")
    known = pidx >= 0
    type_rank = np.full(len(sessions), -1, dtype=np.int16)
    type_rank[known] = core_lookup.astype(np.int16)[pidx[known], type_code[known]]
    keep = type_rank >= 0
    del known, type_code
    p = pidx[keep].astype(np.int32)
    rank = type_rank[keep]
    del type_rank
    day, number = _kept_days_and_numbers(sessions, keep)
    attendance = _attendance_codes(sessions)[keep]
    del keep
    order = _sequence_order(p, day, rank, number)
    del rank, number
    if order is not None:
        p, day, attendance = p[order], day[order], attendance[order]
    del order

    n_sched = np.bincount(p, minlength=n)
    first_row = (np.cumsum(n_sched) - n_sched).astype(np.int32)
    position = np.arange(1, len(p) + 1, dtype=np.int32)
    position -= first_row[p]
    del first_row
    attended = attendance == 0
    last_core = position == n_core.astype(np.int32)[p]
    last_core &= attended
    counts = {
        "n_core_scheduled": n_sched,
        "n_core_attended": np.bincount(p[attended], minlength=n),
        "n_core_excused": np.bincount(p[attendance == 1], minlength=n),
        "n_core_unexcused": np.bincount(p[attendance == 2], minlength=n),
        "attended_last_core": np.bincount(p[last_core], minlength=n) > 0,
    }
    del last_core, attendance
    # Last attended position and first attended date: the rows are sorted by
    # participant then position, so take the last / first attended row of each.
    pa_, pos_a, day_a = p[attended], position[attended], day[attended]
    del day
    last = np.r_[pa_[1:] != pa_[:-1], True] if len(pa_) else np.zeros(0, bool)
    first = np.r_[True, pa_[1:] != pa_[:-1]] if len(pa_) else np.zeros(0, bool)
    last_attended = np.zeros(n, dtype=np.int64)
    last_attended[pa_[last]] = pos_a[last]
    first_day = np.full(n, np.nan)
    first_day[pa_[first]] = day_a[first]
    del pa_, pos_a, day_a, last, first
    # Longest run of consecutive absences: run-length encoding of the absent rows.
    absent = ~attended
    del attended
    run_start = np.ones_like(absent)  # the row before was not an absence, or ...
    np.logical_not(absent[:-1], out=run_start[1:])
    run_start |= position == 1  # ... the row starts a participant's sequence
    run_start &= absent
    del position
    run_id = np.cumsum(run_start, dtype=np.int64)
    run_id -= 1
    run_length = np.bincount(run_id[absent], minlength=int(run_start.sum()))
    del run_id, absent
    longest = np.zeros(n, dtype=np.int64)
    if len(run_length):
        run_p = p[run_start]
        by_p = pd.Series(run_length).groupby(run_p).max()
        longest[by_p.index.to_numpy()] = by_p.to_numpy()
    return {
        **counts,
        "last_core_attended": last_attended,
        "longest_absence_run": longest,
        "first_attended_day": first_day,
    }
