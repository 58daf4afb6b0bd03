"""A small table's value at each of millions of one-byte codes, through Arrow's ``take``.

``lookup[codes]`` with NumPy converts the codes to platform integers first
(8 bytes for each 1-byte code, in buffers) and is about twenty times slower
than Arrow's ``take`` of the same one-byte indices from a table of 256
entries. :func:`take_small` gives exactly what ``lookup[codes]`` gives, for
the codes of categoricals (from -1, where -1 takes the last entry, as in
NumPy), by that route when it applies and by NumPy otherwise.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["take_small", "take_small_2d"]


def take_small(lookup: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``lookup[codes]`` for integer ``codes`` from -1 to ``len(lookup) - 1``.

    Parameters
    ----------
    lookup
        One-dimensional table of numbers or booleans (up to 255 entries for
        the fast route).
    codes
        Integer positions into ``lookup``; -1 is its last entry (NumPy's
        negative index). Codes below -1 are not allowed. ``uint8`` codes
        are positions from 0 to 255.

    Returns
    -------
    numpy.ndarray
        ``lookup[codes]``, of ``lookup``'s dtype: a new array, writeable
        (over the memory Arrow's ``take`` filled, not copied).
    """
    lookup = np.asarray(lookup)
    fits = codes.dtype == np.uint8 or (codes.dtype == np.int8 and len(lookup) <= 255)
    if not fits or not len(lookup) or lookup.ndim != 1 or lookup.dtype.kind not in "biuf":
        return lookup[codes]
    # as unsigned bytes -1 is 255: a table of 256 entries with the last entry there
    table = np.empty(256, dtype=lookup.dtype)
    table[: min(len(lookup), 256)] = lookup[:256]
    table[len(lookup) :] = lookup[-1]
    taken = pa.array(table).take(pa.array(codes.view(np.uint8)))
    if lookup.dtype.kind == "b":
        return taken.to_numpy(zero_copy_only=False)  # unpacked from bits: a new array
    return _own(taken, lookup.dtype)


def _own(taken: pa.Array, dtype: np.dtype) -> np.ndarray:
    """The numbers ``take`` just made, as a writeable NumPy array over the same
    memory: nothing else holds that buffer, so no copy is needed to make the
    result editable (NumPy's view keeps the buffer alive); a writeable copy
    when Arrow says the buffer cannot be written."""
    values = taken.buffers()[1]
    if taken.null_count or taken.offset or not values.is_mutable:
        return taken.to_numpy(zero_copy_only=False, writable=True)
    return np.frombuffer(values, dtype=dtype, count=len(taken))


def take_small_2d(table: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``table[rows, columns]`` for codes from -1 (the last row or column, as in
    NumPy) of a small two-dimensional table, by one-byte cell numbers when
    the table has at most 256 cells and the codes are ``int8``."""
    n_rows, n_cols = table.shape
    if n_rows * n_cols > 256 or rows.dtype != np.int8 or columns.dtype != np.int8:
        return table[rows, columns]
    # as unsigned bytes -1 is 255, cut to the last row (column); other codes are below it
    cell = np.minimum(rows.view(np.uint8), np.uint8(n_rows - 1))
    cell *= np.uint8(n_cols)
    cell += np.minimum(columns.view(np.uint8), np.uint8(n_cols - 1))
    return take_small(table.ravel(), cell)
