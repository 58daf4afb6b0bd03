"""Row positions of identifiers in a table of unique identifiers, the narrow
integer type that holds row positions, and the kept rows' values of a column
read a block of rows at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import DTypeLike

__all__ = ["BLOCK_ROWS", "codes_in", "index_type", "kept_values", "rows_in"]

#: Rows a pass over a column-long table reads at a time (:func:`kept_values`;
#: engagement's blocks of whole participants): block-long temporaries stay in
#: the allocator's reuse and the processor's cache.
BLOCK_ROWS = 1 << 20


def rows_in(ids: pd.Series, needles: pd.Series, dtype: type = np.intp) -> np.ndarray:
    """Position in ``ids`` (unique) of each value of ``needles``; -1 where absent.

    The same as ``pd.Index(ids).get_indexer(needles)``, by one Arrow hash
    lookup when both are text (pandas would first copy every identifier to a
    Python object); other types go through pandas. The positions come in
    ``dtype`` (e.g. :func:`index_type` of ``len(ids)``), without a wider copy
    first.
    """
    known = pa.array(ids, from_pandas=True)
    found = pa.array(needles, from_pandas=True)
    text = (pa.types.is_string(known.type) or pa.types.is_large_string(known.type)) and (
        pa.types.is_string(found.type) or pa.types.is_large_string(found.type)
    )
    if not text:
        return pd.Index(ids).get_indexer(needles).astype(dtype, copy=False)
    if found.type != known.type:
        found = found.cast(known.type)
    rows = pc.index_in(found, value_set=known).fill_null(-1)
    return rows.to_numpy(zero_copy_only=False).astype(dtype, copy=False)


def index_type(n: int) -> type:
    """``np.int32`` when it holds every whole number up to ``n`` (positions below
    ``n``, and counts of them: half the memory of the platform integer for a
    column-long array of row positions), else ``np.int64``.

    Examples
    --------
    >>> index_type(2**31 - 1).__name__, index_type(2**31).__name__
    ('int32', 'int64')
    """
    return np.int32 if n < 2**31 else np.int64


def kept_values(
    read: Callable[[slice], np.ndarray], keep: np.ndarray, dtype: DTypeLike
) -> np.ndarray:
    """``read(slice(None))[keep]`` in ``dtype``, made :data:`BLOCK_ROWS` rows at a time.

    ``read(rows)`` gives the values of a slice of rows (a day number, a
    conversion): no column-long array of every row's values, nor of the kept
    rows' values before their conversion, is made. Blocks without a kept row
    are not read.

    Examples
    --------
    >>> values = np.arange(10.0)
    >>> kept_values(lambda rows: values[rows] * 2, values % 3 == 0, np.int32)
    array([ 0,  6, 12, 18], dtype=int32)
    """
    out = np.empty(int(np.count_nonzero(keep)), dtype=dtype)
    done = 0
    for start in range(0, len(keep), BLOCK_ROWS):
        rows = slice(start, start + BLOCK_ROWS)
        kept = keep[rows]
        if kept.any():
            part = read(rows)[kept]
            out[done : done + len(part)] = part
            done += len(part)
    return out


def codes_in(values: pd.Series, categories: Sequence[str]) -> np.ndarray:
    """Position of each value in ``categories`` (-1: missing or not among them), as
    ``pd.Categorical(values.astype("object"), categories=categories).codes``; for a
    categorical column from its own codes (no text compared per row).

    Examples
    --------
    >>> codes_in(pd.Series(["b", "a", None, "z"], dtype="category"), ["a", "b"])
    array([ 1,  0, -1, -1], dtype=int16)
    """
    array = values.array
    if not isinstance(array, pd.Categorical):  # (a Categorical of values outside its
        # categories is deprecated in pandas 3: looked up in them instead)
        return pd.Index(list(categories), dtype=object).get_indexer(values).astype(np.int16)
    place = {c: i for i, c in enumerate(categories)}
    lookup = np.array([place.get(c, -1) for c in array.categories] + [-1], dtype=np.int16)
    return lookup[array.codes]
