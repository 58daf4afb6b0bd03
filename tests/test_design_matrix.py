"""cdanalytics._design.design_matrix, written a block of rows at a time, against the
plain construction (one full-length column per intercept, number, indicator and dummy,
stacked) on random frames of every kind of column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdanalytics._design import design_matrix


def _stacked(frame: pd.DataFrame, *leading: np.ndarray) -> np.ndarray:
    columns = [np.ones(len(frame)), *leading]
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            x = col.to_numpy(dtype=float, na_value=np.nan)
            gone = np.isnan(x)
            columns.append(np.where(gone, np.nanmean(x) if (~gone).any() else 0.0, x))
            if gone.any():
                columns.append(gone.astype(float))
        else:
            codes, levels = pd.factorize(col, use_na_sentinel=True)
            codes = np.where(codes < 0, len(levels), codes)
            for level in np.unique(codes)[1:]:
                columns.append((codes == level).astype(float))
    return np.column_stack(columns)


@pytest.mark.parametrize("n", [0, 1, 5, 8191, 8192, 8193, 30_000])
def test_design_matrix_is_the_stacked_columns(n):
    rng = np.random.default_rng(n)
    frame = pd.DataFrame(
        {
            "risk": pd.Categorical(rng.choice(["low", "medium", "high", None], n)),
            "text": rng.choice(["a", "b", "c"], n).astype(object),
            "score": np.where(rng.uniform(size=n) < 0.1, np.nan, rng.normal(size=n)),
            "flag": rng.uniform(size=n) < 0.5,
            "count": pd.array(
                np.where(rng.uniform(size=n) < 0.2, None, rng.integers(0, 5, n)), dtype="Int64"
            ),
            "full": rng.normal(size=n),
            "one_level": pd.Categorical(["x"] * n, categories=["w", "x"]),
        }
    )
    lead = rng.normal(size=n)
    got = design_matrix(frame, lead)
    want = _stacked(frame, lead)
    assert got.shape == want.shape
    assert got.flags["C_CONTIGUOUS"]
    assert np.array_equal(got.view(np.int64), want.view(np.int64))
    if n > 100:
        assert want.shape[1] == 1 + 1 + 3 + 2 + 2 + 1 + 2 + 1  # every kind of block is here
    assert np.array_equal(design_matrix(frame[[]]), np.ones((n, 1)))
