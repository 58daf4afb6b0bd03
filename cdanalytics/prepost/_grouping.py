"""Group numbers and grouped sums of the pre/post analyses.

Groups of category columns are numbered from their codes, without hashing;
means and SDs per group come from two passes of ``np.bincount``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from .._groups import group_by
from ._reshape import SCALE_KEYS, Reshaped, code_dtype, tile


@lru_cache(maxsize=256)
def category_dtype(categories: tuple[str, ...]) -> pd.CategoricalDtype:
    """The (unordered) categorical type of these categories, made once: the
    type ``pd.Categorical.from_codes(codes, categories=list(categories))``
    would make, without building and checking the categories on every call."""
    return pd.CategoricalDtype(list(categories))


def _small_factorize(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes, sorted distinct values) of integers in ``[0, size)``, by
    counting when ``size`` is small, else by hashing."""
    if size > 4 * len(values) + 4096:
        codes, uniques = pd.factorize(values, sort=True)
        return codes, uniques
    present = np.bincount(values, minlength=size) > 0
    if present.all():  # every value present: the values are their own codes
        return values.astype(np.intp, copy=False), np.arange(size)
    rank = np.cumsum(present, dtype=np.intp)  # intp: what bincount and indexing take
    rank -= 1
    return rank[values], present.nonzero()[0]


def group_codes(frame: pd.DataFrame, keys: Sequence[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Group number of every row of ``frame`` and the table of group keys.

    Groups are those of :func:`cdanalytics._groups.group_by`: sorted by the
    keys, and missing key values form their own group so that no row is
    silently left out.
    """
    codes, columns = _group_arrays(frame, list(keys))
    return codes, pd.DataFrame(columns, copy=False)


def _group_arrays(frame: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`group_codes` with the keys of each group as arrays (``{key:
    array}``) rather than a table."""
    arrays = [frame[k].array for k in keys]
    codes = group_numbers(frame, keys, arrays)
    first = first_rows(codes)
    return codes, {k: a.take(first) for k, a in zip(keys, arrays, strict=True)}


def layout_groups(
    table: pd.DataFrame, keys: Sequence[str], layout: Reshaped | None
) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`group_codes` of a score table with the keys of each group as
    arrays (``{key: array}``, one value per group), from the layout of its
    rows when it has one (an export's shared table): the instrument × scale
    × informant numbers are the layout's, combined with those of the
    grouping columns before them. Made once per set of keys and kept with
    the layout (while the export lives: the fewer bytes, the less memory
    every later analysis of the export starts from). With a layout, callers
    get the numbers narrow (the smallest integer type that holds them; the
    layout's ``row_combo`` itself when the keys are the series keys alone)
    and read-only, to widen where their indexing needs platform integers,
    and their own dict of the keys' arrays, which they must not change in
    place. Without a layout the numbers are platform integers."""
    keys = list(keys)
    if layout is None or keys[-len(SCALE_KEYS) :] != SCALE_KEYS:
        return _group_arrays(table, keys)
    made = layout.groups.get(tuple(keys))
    if made is None:
        lead = keys[: -len(SCALE_KEYS)]
        arrays = [table[k].array for k in keys]
        if not lead:
            codes = layout.row_combo
        else:
            levels = _category_levels(len(table), arrays[: len(lead)])
            if levels is None:
                return _group_arrays(table, keys)
            combined, size = levels
            combined *= layout.n_combo
            combined += layout.row_combo
            codes = _small_factorize(combined, size * layout.n_combo)[0]
        first = first_rows(codes)
        columns = {k: a.take(first) for k, a in zip(keys, arrays, strict=True)}
        compact = codes.astype(code_dtype(len(first)), copy=False)
        compact.flags.writeable = False
        layout.groups[tuple(keys)] = (compact, columns)
        return compact, dict(columns)
    return made[0], dict(made[1])


def group_numbers(
    frame: pd.DataFrame | None, keys: Sequence[str], arrays: Sequence[Any] | None = None
) -> np.ndarray:
    """The group numbers of :func:`group_codes` alone (no table of keys);
    ``arrays``: the keys' columns (``frame[key].array``) when the caller has
    them (``frame`` may then be ``None``)."""
    keys = list(keys)
    if arrays is None:
        arrays = [frame[k].array for k in keys]
    levels = _category_levels(len(arrays[0]) if keys else 0, arrays)
    if levels is not None:
        return _small_factorize(*levels)[0]
    if frame is None:
        frame = pd.DataFrame(dict(zip(keys, arrays, strict=True)), copy=False)
    return group_by(frame, keys).ngroup().to_numpy()


def _category_levels(
    n_rows: int, columns: Sequence[Any], room: int = 0
) -> tuple[np.ndarray, int] | None:
    """The category codes of categorical key columns (``n_rows`` long)
    combined into one number per row (missing values the last level of a key that has them;
    platform integers) and the number of combinations; ``None`` unless every
    key is categorical and the combinations are few (at most 4 per row, plus
    4096). The numbers rise with the keys' category order, missing last, so
    their ranks are the group numbers; a key without missing values has no
    level for them (when every combination is present the numbers are then
    the ranks themselves). With ``room``, the numbers are instead in the
    smallest integer type that holds the combinations times ``room``, plus
    ``room`` (for a caller that goes on to number cells within them)."""
    if not columns or not all(isinstance(c, pd.Categorical) for c in columns):
        return None
    missing = [bool(c.codes.min(initial=0) < 0) for c in columns]
    levels = [len(c.categories) + m for c, m in zip(columns, missing, strict=True)]
    size = math.prod(levels)
    if size > 4 * n_rows + 4096:
        return None
    dtype = np.intp if not room else np.min_scalar_type(-(size + 1) * room)
    combined = columns[0].codes.astype(dtype)
    for j, (column, n_levels, has_missing) in enumerate(zip(columns, levels, missing, strict=True)):
        codes = column.codes
        if j:
            combined *= n_levels
            combined += codes
        if has_missing:
            combined[codes < 0] += n_levels
    return combined, size


def first_rows(codes: np.ndarray, wanted: np.ndarray | None = None) -> np.ndarray:
    """Position of the first row of each group ``0, 1, ...`` of ``codes``
    (``len(codes)`` for a number without rows). Read in growing blocks from
    the top, stopping once every group has been seen (the groups of large
    tables are usually all among their first rows); with ``wanted`` (group
    numbers that have rows), once those have been seen: the positions of
    the others are then not to be read."""
    n = len(codes)
    first = np.full(int(codes.max(initial=-1)) + 1, n)
    start, block = 0, 4096
    while start < n and (first == n if wanted is None else first[wanted] == n).any():
        stop = min(start + block, n)
        np.minimum.at(first, codes[start:stop], np.arange(start, stop))
        start, block = stop, 4 * block
    return first


def grouped_moments(
    codes: np.ndarray, n_groups: int, values: np.ndarray, repeats: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and SD (ddof=1) of ``values`` per group, by two passes of
    ``np.bincount`` (the deviations from the group mean squared in one
    buffer). SD is NaN for groups of fewer than 2, mean NaN for empty groups.
    ``repeats``: when the rows are the groups in turn, this many times over
    (``codes`` is ``0, 1, ..., n_groups - 1, 0, 1, ...``), the counts are
    known and each row's mean is repeated rather than looked up; with
    several groups the rows are then summed as a (``repeats`` ×
    ``n_groups``) grid, down its columns: numpy adds its rows in turn, each
    group's values in the order of the rows as ``np.bincount`` does, so the
    sums are the same to the last bit (a single column would be summed
    pairwise, in another order)."""
    if repeats and n_groups >= 2:
        n = np.full(n_groups, float(repeats))
        grid = values.reshape(repeats, n_groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.add.reduce(grid, axis=0) / n
            deviation = grid - mean
            np.multiply(deviation, deviation, out=deviation)
            ss = np.add.reduce(deviation, axis=0)
            sd = np.sqrt(np.where(n >= 2, ss / (n - 1), np.nan))
        return n, mean, sd
    if repeats:
        n = np.full(n_groups, float(repeats))
    else:
        n = np.bincount(codes, minlength=n_groups).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(codes, weights=values, minlength=n_groups) / n
        deviation = tile(mean, repeats) if repeats else mean.take(codes)
        np.subtract(values, deviation, out=deviation)
        np.multiply(deviation, deviation, out=deviation)
        ss = np.bincount(codes, weights=deviation, minlength=n_groups)
        sd = np.sqrt(np.where(n >= 2, ss / (n - 1), np.nan))
    return n, mean, sd


def split_by_group(codes: np.ndarray, n_groups: int, values: np.ndarray) -> list[np.ndarray]:
    """``values`` split into one array per group code ``0..n_groups-1``."""
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=n_groups)
    return np.split(values[order], np.cumsum(counts)[:-1])
