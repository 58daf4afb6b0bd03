"""Grouping shared by the analyses: one group per combination of ``by`` values."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.typing import DataFrameGroupBy


def group_by(frame: pd.DataFrame, keys: list[str]) -> DataFrameGroupBy:
    """``frame`` grouped by ``keys``, groups sorted (all rows as one group
    when ``keys`` is empty).

    Missing values of a key form their own group rather than being dropped,
    and only category combinations present in the data are groups.
    """
    if keys:
        return frame.groupby(keys, observed=True, dropna=False, sort=True)
    return frame.groupby(np.zeros(len(frame), dtype=np.int8), sort=False)
