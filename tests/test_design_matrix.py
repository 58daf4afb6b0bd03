"""cdanalytics._design.design_matrix, written a block of rows at a time, against the
plain construction (one full-length column per intercept, number, indicator and dummy,
stacked) on random frames of every kind of column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdanalytics._design import design_columns, design_matrix, fill_design


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


def _frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
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


@pytest.mark.parametrize("n", [0, 1, 5, 8191, 8192, 8193, 30_000])
def test_design_matrix_is_the_stacked_columns(n):
    rng = np.random.default_rng(n)
    frame = _frame(n, rng)
    lead = rng.normal(size=n)
    got = design_matrix(frame, lead)
    want = _stacked(frame, lead)
    assert got.shape == want.shape
    assert got.flags["C_CONTIGUOUS"]
    assert np.array_equal(got.view(np.int64), want.view(np.int64))
    if n > 100:
        assert want.shape[1] == 1 + 1 + 3 + 2 + 2 + 1 + 2 + 1  # every kind of block is here
    assert np.array_equal(design_matrix(frame[[]]), np.ones((n, 1)))


def _chosen_rows_and_columns(n, seed, share):
    """A random frame's full design, its columns, a ``share`` of its rows and
    about half its columns (the intercept always)."""
    rng = np.random.default_rng(seed)
    frame, lead = _frame(n, rng), rng.normal(size=n)
    full = _stacked(frame, lead)
    rows = np.flatnonzero(rng.uniform(size=n) < share)
    chosen = np.r_[0, np.flatnonzero(rng.uniform(size=full.shape[1] - 1) < 0.5) + 1]
    return rng, full, design_columns(frame, lead), rows, chosen


@pytest.mark.parametrize("n", [1, 5, 8193, 30_000])
def test_chosen_rows_and_columns_are_the_full_designs_without_making_it(n):
    # levels and means come from every row, as in the full design, whichever rows
    # and columns are written
    _, full, columns, rows, chosen = _chosen_rows_and_columns(n, 100 + n, 0.3)
    got = fill_design([columns[j] for j in chosen], rows)
    assert got.flags["C_CONTIGUOUS"]
    assert np.array_equal(got.view(np.int64), full[rows][:, chosen].view(np.int64))
    assert np.array_equal(fill_design(columns, rows), full[rows])


@pytest.mark.parametrize("n", [0, 1, 5, 8193, 20_000])
def test_column_major_design_is_the_chosen_columns_of_the_full_one_in_their_layout(n):
    # order="F": the values and the memory layout of design[rows][:, chosen] (what
    # fancy indexing of the columns gives), so BLAS reads both the same way
    rng, full, columns, rows, chosen = _chosen_rows_and_columns(n, 200 + n, 0.6)
    want = full[rows][:, chosen]
    got = fill_design([columns[j] for j in chosen], rows, order="F")
    assert got.flags["F_CONTIGUOUS"] and got.strides == want.strides
    assert np.array_equal(got.view(np.int64), want.view(np.int64))
    y = rng.normal(size=len(rows))
    assert np.array_equal(got.T @ y, want.T @ y)
