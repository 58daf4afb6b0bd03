"""Session rows in blocks of whole participants, for passes over every session.

The stage and review analyses read five columns of every session (a few
tens of millions of rows in a national export). Made for the whole table at
once, each of their temporaries (episode rows, stage numbers, days, sort
keys, positions) is a column-long array: hundreds of megabytes each, fresh
pages from the kernel every time, and no cache reuse. Cut into blocks of
about :data:`cdanalytics._lookup.BLOCK_ROWS` rows that each hold every session of their
participants, the same work makes block-long temporaries that fit in the
allocator's reuse and the processor's cache, and a sort within a block is
the global sort restricted to those participants (the results are the
same, value for value).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from .. import _lookup
from .._lookup import index_type
from ._sessions import _codes, _outside, _sequence_order

__all__ = ["block_codes", "participant_blocks", "sequence_order"]


def participant_blocks(rows: np.ndarray, size: int | None = None) -> Iterator[slice | np.ndarray]:
    """Blocks of table rows, each holding every row of its participants.

    Parameters
    ----------
    rows
        The participant row of each table row (any integers).
    size
        Rows per block (default :data:`cdanalytics._lookup.BLOCK_ROWS`) before a
        block is extended
        to the end of its last participant's rows.

    Yields
    ------
    slice or numpy.ndarray
        In order of participant: slices of the table when ``rows`` is
        sorted (an export lists each participant's sessions together),
        else arrays of row positions, each participant's rows in table
        order (a stable sort by participant), so that a stable sort within
        a block breaks ties as a stable sort of the whole table does.
    """
    n = len(rows)
    if n == 0:
        return
    ordered = bool((rows[1:] >= rows[:-1]).all())
    positions = None if ordered else np.argsort(rows, kind="stable")
    keys = rows if positions is None else rows[positions]
    size = max(int(_lookup.BLOCK_ROWS if size is None else size), 1)
    start = 0
    while start < n:
        stop = min(start + size, n)
        if stop < n:  # to the end of the last participant's rows
            stop = int(np.searchsorted(keys, keys[stop - 1], side="right"))
        yield slice(start, stop) if positions is None else positions[start:stop]
        start = stop


def block_codes(
    values: pd.Series, categories: tuple[str, ...], column: str
) -> Callable[[slice | np.ndarray], np.ndarray]:
    """A reader of the codes of ``values`` in ``categories`` a block at a time.

    ``read(block)`` equals ``_sessions._codes(values, categories, column)[block]``
    (-1 where missing); a categorical column is read from its own codes through
    a table of its categories, so no column-long array of codes is made. Values
    outside ``categories`` raise here, as ``_codes`` raises (the same message).
    """
    array = values.array
    if not isinstance(array, pd.Categorical):
        codes = _codes(values, categories, column)
        return lambda block: codes[block]
    place = {c: i for i, c in enumerate(categories)}
    own = array.categories
    lookup = np.array([place.get(c, -1) for c in own] + [-1], dtype=np.int8)
    raw = np.asarray(array.codes)
    used = np.zeros(len(own), dtype=bool)
    step = _lookup.BLOCK_ROWS
    for start in range(0, len(raw), step):
        part = raw[start : start + step]
        used |= np.bincount(part[part >= 0], minlength=len(own)) > 0
    unknown = used & (lookup[:-1] < 0)
    if unknown.any():  # the error of _codes
        raise _outside(own[unknown], categories, column)
    return lambda block: lookup[raw[block]]


def sequence_order(
    p: np.ndarray, day: np.ndarray, rank: np.ndarray, number: np.ndarray
) -> np.ndarray | None:
    """:func:`._sessions._sequence_order`, a block of participants at a time.

    When ``p`` is sorted (an export lists each participant's sessions
    together) the order of the whole table is the blocks' orders one after
    another, so the packed sort keys and their ``argsort`` are block-long
    (at 10M participants about 1 GiB less than for the whole table) and the
    order is kept in the narrow index type. Otherwise the whole table is
    sorted at once, as before.

    Returns
    -------
    numpy.ndarray or None
        The same positions as :func:`._sessions._sequence_order` (``None``:
        already in order).
    """
    if len(p) == 0 or not (p[1:] >= p[:-1]).all():
        return _sequence_order(p, day, rank, number)
    order = None
    for block in participant_blocks(p):
        part = _sequence_order(p[block], day[block], rank[block], number[block])
        if part is None:
            continue  # in order: the identity below (made once a block is not)
        if order is None:
            order = np.arange(len(p), dtype=index_type(len(p)))
        part += block.start
        order[block] = part
    return order
