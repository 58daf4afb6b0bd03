"""Dates as day numbers, the one conversion every analysis uses."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["day_numbers"]

#: Ticks per day of the datetime units read without a conversion of the dates.
_PER_DAY = {"D": 1, "s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def day_numbers(values: pd.Series | np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """Dates as float days since 1970-01-01, NaN where missing (any datetime unit).

    Plain datetimes (a column or an array) are read as their integer ticks,
    floor-divided by the ticks of a day (what a cast to ``datetime64[D]``
    does), into the float result without an integer copy and without the
    cast's per-value calendar work; anything else is converted first
    (:func:`pandas.to_datetime`).

    Parameters
    ----------
    values
        Dates: a datetime column or array, or text pandas can read as dates.
    dtype
        Float type of the result (``np.float32`` holds every whole day of
        +-45,000 years exactly, in half the memory).

    Returns
    -------
    numpy.ndarray
        Float day numbers (whole days), NaN where a date is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> day_numbers(pd.Series(pd.to_datetime(["1970-01-02 23:00", "1969-12-31 00:00", None])))
    array([ 1., -1., nan])
    """
    dates = values if isinstance(values, np.ndarray) else None
    if dates is None and isinstance(values.dtype, np.dtype):
        dates = values.to_numpy()
    if dates is not None and dates.dtype.kind == "M":
        unit, count = np.datetime_data(dates.dtype)
        per_day = _PER_DAY.get(unit)
        if per_day is not None and count == 1:
            out = np.empty(len(dates), dtype=dtype)
            np.floor_divide(dates.view(np.int64), per_day, out=out, casting="unsafe")
            out[np.isnat(dates)] = np.nan
            return out
    dates = pd.to_datetime(values).to_numpy(dtype="datetime64[D]")
    out = dates.astype(np.int64).astype(dtype)
    out[np.isnat(dates)] = np.nan
    return out
