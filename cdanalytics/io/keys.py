"""Duplicated keys: which rows share their combination of key codes, without hashing rows.

:func:`duplicated_keys` takes a table's key columns as integer codes (from
:func:`cdanalytics.io.rules_table.check_key`) and finds the rows whose
combination occurs more than once, by the cheapest test that can show it:
keys already in order, a bitmap of the key space, a bitmap per block of
participants for a table kept in participant order, and only then a sort.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

__all__ = ["duplicated_keys"]


#: Largest key space checked with a bitmap (one byte per possible key) before sorting.
_BITMAP_KEYS = 400_000_000
#: Largest bitmap, in bytes per row checked: a larger one costs more in fresh
#: memory pages than sorting the keys does.
_BITMAP_PER_ROW = 8


def _ascending(values: np.ndarray, *, strict: bool) -> bool:
    """Whether values ascend (strictly, or never descend), compared a block at a
    time: no column-long mask, and the first block out of order ends the test."""
    block = 1 << 20
    compare = np.greater if strict else np.greater_equal
    for start in range(0, len(values) - 1, block):
        part = values[start : start + block + 1]
        if not bool(compare(part[1:], part[:-1]).all()):
            return False
    return True


#: Bitmap of one block of :func:`_distinct_by_blocks`, in bytes (reused block after block).
_BLOCK_BITMAP = 1 << 20


def _distinct_by_blocks(first: np.ndarray, combined: np.ndarray, per: int) -> bool:
    """Whether every combined key is distinct, shown block by block when the
    rows are in order of their first code (a child table kept in the order of
    its participants); ``False`` when they are not, or it cannot be shown so.

    ``combined`` is ``first * per`` plus codes below ``per``: keys of rows with
    different first codes differ, so the rows of each block of first codes are
    checked alone, in one small bitmap reused for every block.
    """
    if per > _BLOCK_BITMAP or len(first) < 2 or not _ascending(first, strict=False):
        return False
    width = _BLOCK_BITMAP // per  # first codes per block
    top = int(first[-1]) + width + 1
    # the block edges in the codes' own type when they fit: searchsorted would
    # otherwise cast every code to the wider type (a column-long copy)
    fits = first.dtype.kind == "i" and top <= np.iinfo(first.dtype).max
    edges = np.arange(0, top, width, dtype=first.dtype if fits else np.int64)
    bounds = np.searchsorted(first, edges)
    seen = np.zeros(width * per, dtype=bool)
    for block, (start, stop) in enumerate(itertools.pairwise(bounds)):
        if stop - start < 2:
            continue
        local = combined[start:stop] - block * width * per
        seen[local] = True
        if int(np.count_nonzero(seen)) != stop - start:
            return False
        seen[local] = False
    return True


def duplicated_keys(codes: list[np.ndarray]) -> np.ndarray:
    """Mask of rows whose combined codes occur more than once (rows with -1 never).

    The codes are combined into one integer per row. Keys already in strictly
    increasing order (a table sorted by its key) are distinct, seen in one
    comparison of neighbours; when the key space is small enough a bitmap
    shows in one pass whether every key is distinct (the usual case);
    otherwise, or to find the duplicates, the keys are sorted. All are far
    cheaper than hashing millions of rows.
    """
    n = len(codes[0])
    if any(len(c) and c.min() < 0 for c in codes):
        complete = np.logical_and.reduce([c >= 0 for c in codes])
    else:
        complete = None  # every row
    sizes = [int(c.max()) + 1 if len(c) else 1 for c in codes]
    out = np.zeros(n, dtype=bool)
    space = np.prod([float(s) for s in sizes])
    if space >= 2.0**62:
        every = slice(None) if complete is None else complete
        frame = pd.DataFrame({i: c[every] for i, c in enumerate(codes)})
        out[every] = frame.duplicated(keep=False).to_numpy()
        return out
    rows = slice(None) if complete is None or complete.all() else complete
    # int32 when every combined key fits (half the memory, faster to sort)
    combined = codes[0][rows].astype(np.int32 if space < 2.0**31 else np.int64)
    for c, size in zip(codes[1:], sizes[1:], strict=True):
        if size > 1:  # a column with one value tells no rows apart
            combined *= size
            combined += c[rows]
    if _ascending(combined, strict=True):
        return out
    if space <= min(_BITMAP_KEYS, _BITMAP_PER_ROW * len(combined)):
        seen = np.zeros(int(space), dtype=bool)
        seen[combined] = True
        if int(np.count_nonzero(seen)) == len(combined):
            return out
    if _distinct_by_blocks(codes[0][rows], combined, int(space) // sizes[0]):
        return out
    ordered = np.sort(combined)
    repeated = ordered[1:] == ordered[:-1]
    if repeated.any():
        out[rows] = np.isin(combined, np.unique(ordered[1:][repeated]))
    return out
