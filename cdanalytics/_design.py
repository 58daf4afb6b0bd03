"""Design matrices for the package's own regression fits (imputation, case mix)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["design_matrix"]


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
        Float array ``(len(frame), p)``.
    """
    columns = [np.ones(len(frame)), *leading]
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            x = col.to_numpy(dtype=float, na_value=np.nan)
            gone = np.isnan(x)
            fill = np.nanmean(x) if (~gone).any() else 0.0
            columns.append(np.where(gone, fill, x))
            if gone.any():
                columns.append(gone.astype(float))
        else:
            codes, levels = pd.factorize(col, use_na_sentinel=True)
            codes = np.where(codes < 0, len(levels), codes)
            for level in np.unique(codes)[1:]:
                columns.append((codes == level).astype(float))
    return np.column_stack(columns)
