"""Session sequences: the columns engagement reads from sessions (days, codes)
and the order of sessions into each participant's sequence
(:func:`_sequence_order`); the attendance facts drawn from those sequences are
in :mod:`._features`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .._dates import day_numbers
from .._lookup import kept_values
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
    and every session number a registry allows), read a block of sessions at a
    time (:func:`~cdanalytics._lookup.kept_values`)."""
    dates, numbers = sessions["session_date"].to_numpy(), sessions["session_number"].array
    day = kept_values(lambda rows: day_numbers(dates[rows]), keep, np.int32)
    number = kept_values(
        lambda rows: numbers[rows].to_numpy(dtype=np.int32, na_value=0), keep, np.int32
    )
    return day, number
