"""Each programme participant's attendance facts from their core session
sequence, vectorised over all sessions (:func:`_session_features`); the sort
into sequences a block of participants at a time (:func:`._blocks.sequence_order`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._blocks import sequence_order
from ._sessions import _SESSION_TYPES, _attendance_codes, _codes, _kept_days_and_numbers

__all__: list[str] = []


def _session_features(
    sessions: pd.DataFrame,
    pidx: np.ndarray,
    programme: np.ndarray,
    core_rank: np.ndarray,
    n_core: np.ndarray,
) -> dict[str, np.ndarray]:
    """Attendance facts per participant from their core session sequence, vectorised.

    ``pidx`` is each session's participant row (-1: not a programme participant),
    ``programme`` each participant row's programme (a row of ``core_rank``),
    ``core_rank[programme, type_code]`` the position of the session type among
    the programme's core types (-1: not core), ``n_core`` K per row.
    The arrays over sessions are kept narrow (int32 and smaller) and dropped
    as soon as they are used: there are several per participant.
    """
    n = len(programme)
    type_code = _codes(sessions["session_type"], _SESSION_TYPES, "sessions.session_type")
    known = pidx >= 0
    type_rank = np.full(len(sessions), -1, dtype=np.int16)
    # looked up through each row's programme: no table of every participant's ranks
    type_rank[known] = core_rank.astype(np.int16)[programme[pidx[known]], type_code[known]]
    keep = type_rank >= 0
    del known, type_code
    p = pidx[keep].astype(np.int32, copy=False)
    rank = type_rank[keep]
    del type_rank
    day, number = _kept_days_and_numbers(sessions, keep)
    attendance = _attendance_codes(sessions)[keep]
    del keep
    order = sequence_order(p, day, rank, number)
    del rank, number
    if order is not None:
        p, day, attendance = p[order], day[order], attendance[order]
    del order

    # The rows are sorted by participant: each participant's rows are one run,
    # and every count below is a sum over runs (no per-row copies to count).
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]]) if len(p) else np.zeros(0, np.intp)
    who = p[starts]
    n_sched = np.zeros(n, dtype=np.intp)
    n_sched[who] = np.diff(np.r_[starts, len(p)])
    first_row = (np.cumsum(n_sched) - n_sched).astype(np.int32)
    position = np.arange(1, len(p) + 1, dtype=np.int32)
    position -= first_row[p]
    del first_row

    def per_participant(ufunc: np.ufunc, values: np.ndarray, empty: Any) -> np.ndarray:
        """``ufunc`` over each participant's rows of ``values``; ``empty`` for
        participants without rows."""
        out = np.full(n, empty, dtype=values.dtype)
        if len(starts):
            out[who] = ufunc.reduceat(values, starts)
        return out

    def count(rows: np.ndarray) -> np.ndarray:
        """Rows of each participant where ``rows`` is true: counted from the
        fewer of those rows and the others (a count over the rows picked)."""
        if 2 * int(np.count_nonzero(rows)) <= len(rows):
            return np.bincount(p[rows], minlength=n)
        return n_sched - np.bincount(p[~rows], minlength=n)

    attended = attendance == 0
    last_core = position == n_core.astype(np.int32)[p]
    last_core &= attended
    counts = {
        "n_core_scheduled": n_sched,
        **{
            name: count(attendance == code)
            for name, code in (
                ("n_core_attended", 0),
                ("n_core_excused", 1),
                ("n_core_unexcused", 2),
            )
        },
        "attended_last_core": per_participant(np.logical_or, last_core, False),
    }
    del last_core, attendance
    # Last attended position and first attended date: the rows are sorted by
    # participant, then date and position, so they are the largest attended
    # position and the smallest attended day of each participant's rows.
    last_attended = per_participant(np.maximum, np.where(attended, position, 0), 0)
    last_attended = last_attended.astype(np.int64, copy=False)
    never = np.iinfo(np.int32).max  # no date is that many days from 1970
    first = per_participant(np.minimum, np.where(attended, day, never), never)
    first_day = np.where(first < never, first, np.nan)
    del first, day
    # Longest run of consecutive absences: run-length encoding of the absent rows.
    absent = ~attended
    del attended
    run_start = np.ones_like(absent)  # the row before was not an absence, or ...
    np.logical_not(absent[:-1], out=run_start[1:])
    run_start |= position == 1  # ... the row starts a participant's sequence
    run_start &= absent
    run_end = np.ones_like(absent)  # the row after is not an absence, or ...
    np.logical_not(absent[1:], out=run_end[:-1])
    run_end[:-1] |= position[1:] == 1  # ... it starts the next participant's sequence
    run_end &= absent
    del position, absent
    # each run from its first to its last row, in order (no run number per row)
    run_length = np.flatnonzero(run_end)
    del run_end
    run_length -= np.flatnonzero(run_start)
    run_length += 1
    # the longest run of each participant: the runs come in participant order
    longest = np.zeros(n, dtype=np.int64)
    if len(run_length):
        run_p = p[run_start]
        first = np.flatnonzero(np.r_[True, run_p[1:] != run_p[:-1]])
        longest[run_p[first]] = np.maximum.reduceat(run_length, first)
    return {
        **counts,
        "last_core_attended": last_attended,
        "longest_absence_run": longest,
        "first_attended_day": first_day,
    }
