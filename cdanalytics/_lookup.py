"""Row positions of identifiers in a table of unique identifiers, and the
narrow integer type that holds row positions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["index_type", "rows_in"]


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
