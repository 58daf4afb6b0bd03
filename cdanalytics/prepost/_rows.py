"""Per-row helpers of :func:`~cdanalytics.prepost.reliable_change`: each
row's values of its scale, and booleans and class codes picked without a
branch per row (numpy's ``where`` and masked assignment branch on every
row, which costs most on mixed masks)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._grouping import category_dtype
from ._reshape import code_dtype, tile


def by_direction(
    better: tuple[np.ndarray, np.ndarray], if_better: np.ndarray, if_worse: np.ndarray
) -> np.ndarray:
    """``np.where(higher_better, if_better, if_worse)`` of boolean arrays, by
    and / or (no branch per row); ``better``: ``higher_better`` and its
    negation."""
    out = if_better & better[0]
    out |= if_worse & better[1]
    return out


def set_where(values: np.ndarray, mask: np.ndarray, value: int, scratch: np.ndarray) -> None:
    """``values[mask] = value`` for small integers, by arithmetic (no branch
    per row): ``values += mask * (value - values)``; ``scratch``: a buffer
    like ``values``."""
    np.subtract(value, values, out=scratch)
    scratch *= mask
    values += scratch


def scale_values_per_row(
    scale: Mapping[str, np.ndarray], codes: np.ndarray, repeats: int = 0
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, pd.Categorical]]:
    """The values of :func:`~cdanalytics.prepost._scales._scale_parameters`
    (one per group) for each row of the groups numbered ``codes``: whether
    a higher score is better, the float values (cut-off, S_diff,
    reliability, SD) and the text values as categoricals (categories: the
    distinct values, sorted, as ``pd.Categorical(values)`` makes them).
    ``repeats``: when the rows are the groups in turn, this many times over
    (``codes`` is ``0, 1, ..., 0, 1, ...``), the values are repeated so
    rather than looked up."""

    def per_row(values: np.ndarray) -> np.ndarray:
        return tile(values, repeats) if repeats else values[codes]

    floats = {col: per_row(scale[col].astype(float)) for col in _PER_ROW_FLOATS}
    categories = {}
    for col in _PER_ROW_TEXTS:
        values = scale[col]
        labels = sorted({v for v in values.tolist() if isinstance(v, str)})
        lookup = np.array([labels.index(v) if isinstance(v, str) else -1 for v in values])
        categories[col] = pd.Categorical.from_codes(
            per_row(lookup.astype(code_dtype(len(labels)))),
            dtype=category_dtype(tuple(labels)),
            validate=False,
        )
    return per_row(scale["sign"] > 0), floats, categories


_PER_ROW_FLOATS = ("cutoff", "s_diff", "reliability", "sd")
_PER_ROW_TEXTS = ("direction", "reliability_source", "sd_source", "cutoff_type")
