"""The attacker's audit: what a reader can work out from published numbers.

:func:`find_disclosive` lists published counts below the threshold;
:func:`check_recoverable` solves the equations "cells add up to their totals"
for the withheld cells (the bridge test of :mod:`.suppression`);
:func:`numerators_from_rates` treats a rate printed with its base as its
numerator, within the rounding of its printed digits (0.25 x 20 = 5). The
report's self-check runs them on every table before anything is written.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from cdanalytics.errors import ConfigError

from ._grid import _VISIBLE, _WITHHELD, _Grid, _require
from .policy import DisclosurePolicy

__all__ = ["check_recoverable", "find_disclosive", "numerators_from_rates"]


def find_disclosive(
    published: pd.DataFrame,
    policy: DisclosurePolicy,
    count_cols: Sequence[Hashable] | None = None,
) -> pd.DataFrame:
    """Published counts that are below the threshold (should be empty).

    Parameters
    ----------
    published
        A published table (for example ``SuppressedTable.published`` or a CSV
        read back); withheld cells are missing.
    policy
        The threshold (and whether zeros count as disclosive).
    count_cols
        Columns to check; default every numeric column.

    Returns
    -------
    pandas.DataFrame
        One row per disclosive cell: ``row``, ``column``, ``value``.
    """
    if count_cols is None:
        count_cols = [c for c in published.columns if pd.api.types.is_numeric_dtype(published[c])]
    block = published[list(count_cols)].astype("Float64")
    small = pd.DataFrame(
        policy.is_small(block.to_numpy(dtype=float, na_value=np.nan)),
        index=published.index,
        columns=block.columns,
    )
    hits = small.stack()
    hits = hits[hits]
    rows = hits.index.get_level_values(0)
    cols = hits.index.get_level_values(1)
    found = [block.loc[r, c] for r, c in zip(rows, cols, strict=True)]
    return pd.DataFrame({"row": list(rows), "column": list(cols), "value": found})


def check_recoverable(
    published: pd.DataFrame,
    count_cols: Sequence[Hashable],
    *,
    row_total: Hashable | None = None,
    col_total: Hashable | None = None,
    row_margins: Sequence[float] | pd.Series | None = None,
    col_margins: Mapping[Hashable, float] | pd.Series | None = None,
    grand_total: float | None = None,
    remainder: bool = False,
) -> pd.DataFrame:
    """Try to work out withheld cells from the published numbers and totals.

    Solves the linear equations "cells add up to their totals" of every row
    and column for the withheld (missing) cells and reports each cell that
    they determine exactly: by simple subtraction (a row with one withheld
    cell) or by combining rows and columns.

    Parameters
    ----------
    published
        The table as published, withheld cells missing, laid out as for
        :func:`suppress_counts`.
    count_cols, row_total, col_total
        The layout, as for :func:`suppress_counts`.
    row_margins
        Row totals the reader knows from elsewhere (in row order, without
        the ``col_total`` row), when the table shows none.
    col_margins
        Column totals known from elsewhere (by count column).
    grand_total
        Grand total known from elsewhere.
    remainder
        The count columns need not add up to ``row_total``: each row has an
        unpublished remainder cell (reported as column ``"(remainder)"``).

    Returns
    -------
    pandas.DataFrame
        One row per recoverable cell: ``row``, ``column``, ``value`` (what a
        reader computes). Filter ``value < policy.threshold`` for disclosures.

    Raises
    ------
    ConfigError
        If a named column or row is missing, the index is not unique, or a
        margin has the wrong length.
    """
    count_cols = list(count_cols)
    _require(published, [*count_cols, *([row_total] if row_total is not None else [])])
    body = published.drop(index=col_total) if col_total is not None else published
    n_rows = len(body)
    n_parts = len(count_cols)
    n_cols = n_parts + remainder
    value = np.full((n_rows + 1, n_cols + 1), np.nan)
    value[:-1, :n_parts] = body[count_cols].to_numpy(dtype=float, na_value=np.nan)
    external_rows = _margin(row_margins, n_rows, "row_margins")
    external_cols = _margin(
        None if col_margins is None else pd.Series(col_margins).reindex(count_cols), n_parts, ""
    )
    value[:-1, -1] = (
        body[row_total].to_numpy(dtype=float, na_value=np.nan)
        if row_total is not None
        else external_rows
    )
    if col_total is not None:
        shown = published.loc[[col_total], count_cols].to_numpy(dtype=float, na_value=np.nan)[0]
        value[-1, :n_parts] = shown
    else:
        value[-1, :n_parts] = external_cols
    if row_total is not None and col_total is not None:
        corner = published.loc[[col_total], [row_total]]
        value[-1, -1] = corner.to_numpy(dtype=float, na_value=np.nan)[0, 0]
    elif grand_total is not None:
        value[-1, -1] = float(grand_total)
    grid = _Grid(
        value=value,
        status=np.where(np.isnan(value), _WITHHELD, _VISIBLE).astype(np.int8),
        primary=np.zeros(value.shape, dtype=bool),
        rows=[*body.index, col_total],
        cols=[*count_cols, *([None] if remainder else []), row_total],
    )
    in_table = np.zeros(value.shape, dtype=bool)
    in_table[
        np.ix_(
            [a for a, r in enumerate(grid.rows) if r is not None],
            [b for b, c in enumerate(grid.cols) if c is not None],
        )
    ] = True
    if remainder:
        in_table[:-1, n_parts] = True
    return grid.recovered(in_table)


def _margin(margin, length: int, name: str) -> np.ndarray:
    if margin is None:
        return np.full(length, np.nan)
    array = np.asarray(margin, dtype=float)
    if array.shape != (length,):
        raise ConfigError(f"{name or 'col_margins'} must have {length} values, got {array.shape}.")
    return array


def numerators_from_rates(
    published: pd.DataFrame,
    rate_col: Hashable,
    base_col: Hashable,
    *,
    scale: float = 1.0,
    decimals: int | None = None,
) -> pd.Series:
    """The numerator a reader computes from a published rate and its published base.

    A rate ``r`` printed with ``decimals`` digits stands for any value within
    half a unit of its last digit; times the base ``b`` that gives an
    interval of numerators. Where exactly one whole number lies in it, the
    reader knows the numerator (0.25 x 20 = 5).

    Parameters
    ----------
    published
        The table as published (withheld cells missing).
    rate_col, base_col
        The rate (or per-person frequency) and the count it rests on.
    scale
        The rate's unit: 1 for a share, 100 for a percentage or "per 100".
    decimals
        Digits printed; ``None``: as stored (full precision, as in a CSV).

    Returns
    -------
    pandas.Series
        The numerator per row (nullable ``Int64``), ``<NA>`` where the rate or
        base is withheld or the interval holds more than one whole number.
    """
    _require(published, [rate_col, base_col])
    rate = published[rate_col].to_numpy(dtype=float, na_value=np.nan) / scale
    base = published[base_col].to_numpy(dtype=float, na_value=np.nan)
    half = 0.0 if decimals is None else 0.5 * 10.0 ** (-decimals) / scale
    slack = 1e-9 * np.maximum(np.abs(rate * base), 1.0)
    with np.errstate(invalid="ignore"):
        low = np.ceil((rate - half) * base - slack)
        high = np.floor((rate + half) * base + slack)
    unique = np.isfinite(low) & np.isfinite(high) & (low == high)
    return pd.Series(
        pd.array(np.where(unique, low, np.nan), dtype="Float64").astype("Int64"),
        index=published.index,
    )
