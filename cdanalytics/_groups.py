"""Grouping shared by the analyses: one group per combination of ``by`` values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.typing import DataFrameGroupBy

from .errors import ConfigError


def by_columns(
    by: str | Sequence[str] | None, frame: pd.DataFrame, *, what: str = "unknown column(s)"
) -> list[str]:
    """``by`` as a list of column names of ``frame`` (empty for ``None``: overall).

    Raises
    ------
    ConfigError
        ``Cannot group by <names>: <what>.`` when a name is not a column of
        ``frame``.
    """
    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    missing = [key for key in keys if key not in frame.columns]
    if missing:
        raise ConfigError(f"Cannot group by {', '.join(map(str, missing))}: {what}.")
    return keys


def group_by(frame: pd.DataFrame, keys: list[str]) -> DataFrameGroupBy:
    """``frame`` grouped by ``keys``, groups sorted (all rows as one group
    when ``keys`` is empty).

    Missing values of a key form their own group rather than being dropped,
    and only category combinations present in the data are groups.
    """
    if keys:
        return frame.groupby(keys, observed=True, dropna=False, sort=True)
    return frame.groupby(np.zeros(len(frame), dtype=np.int8), sort=False)


def group_labels(keys: list[str], name: Any) -> dict[str, Any]:
    """The ``{key: value}`` of one group name from :func:`group_by`."""
    if not keys:
        return {}
    values = name if isinstance(name, tuple) else (name,)
    return dict(zip(keys, values, strict=True))
