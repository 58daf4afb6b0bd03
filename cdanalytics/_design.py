"""Design matrices for the package's own regression fits (imputation, case mix)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["design_columns", "design_matrix", "fill_design"]


def design_matrix(frame: pd.DataFrame, *leading: np.ndarray) -> np.ndarray:
    """Intercept, the ``leading`` numeric columns, then one block per column of ``frame``.

    A categorical (or text) column becomes dummies of every level but the
    first seen, with a missing value as a level of its own; a numeric column
    enters as it is, its missing values set to its mean with a 0/1
    missingness indicator beside it. Nobody is dropped for a missing
    predictor.

    Parameters
    ----------
    frame
        Predictor columns, one row per observation.
    *leading
        Numeric arrays placed right after the intercept (no missing values).

    Returns
    -------
    numpy.ndarray
        Float array ``(len(frame), p)``, C-contiguous. Written a block of rows at
        a time (the block's rows stay in the cache while each column is written
        across them), not stacked from one full-length array per column.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> design_matrix(pd.DataFrame({"risk": ["low", "high", "low"]}), np.array([1.0, 2.0, 3.0]))
    array([[1., 1., 0.],
           [1., 2., 1.],
           [1., 3., 0.]])
    """
    return fill_design(design_columns(frame, *leading))


def design_columns(frame: pd.DataFrame, *leading: np.ndarray) -> list[np.ndarray | _Dummy]:
    """The columns of :func:`design_matrix`, each made from every row of
    ``frame`` (levels, means), but not yet written: :func:`fill_design` writes
    the rows and columns asked for."""
    n = len(frame)
    columns: list[np.ndarray | _Dummy] = [np.ones(n), *map(np.asarray, leading)]
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            x = col.to_numpy(dtype=float, na_value=np.nan)
            gone = np.isnan(x)
            fill = np.nanmean(x) if (~gone).any() else 0.0
            columns.append(np.where(gone, fill, x))
            if gone.any():
                columns.append(gone)
        else:
            codes, levels = pd.factorize(col, use_na_sentinel=True)
            codes = np.where(codes < 0, len(levels), codes)
            present = np.flatnonzero(np.bincount(codes, minlength=len(levels) + 1))
            codes = codes.astype(np.min_scalar_type(len(levels)))  # kept: the narrowest type
            columns += [_Dummy(codes, level) for level in present[1:]]
    return columns


def fill_design(
    columns: Sequence[np.ndarray | _Dummy],
    rows: np.ndarray | None = None,
    order: str = "C",
) -> np.ndarray:
    """The design of :func:`design_columns`' ``columns`` (all, or a chosen list of
    them) at ``rows`` (positions, ascending; ``None``: every row), C-contiguous
    (``order="F"``: column-major, the layout of ``design[:, chosen]``): the same
    values as the full design's ``[rows][:, chosen]``, without making it."""
    n = len(columns[0]) if rows is None else len(rows)
    out = np.empty((n, len(columns)), order=order)
    for start in range(0, n, _BLOCK):
        block = out[start : start + _BLOCK]
        at = slice(start, start + len(block)) if rows is None else rows[start : start + _BLOCK]
        for j, column in enumerate(columns):
            block[:, j] = (
                column.codes[at] == column.level if isinstance(column, _Dummy) else column[at]
            )
    return out


#: Rows of a design matrix written at a time.
_BLOCK = 8192


class _Dummy:
    """The 0/1 column of one level of a column's codes (made a block at a time)."""

    __slots__ = ("codes", "level")

    def __init__(self, codes: np.ndarray, level: int) -> None:
        self.codes = codes
        self.level = level
