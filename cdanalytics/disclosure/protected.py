"""A protected table and how protected grids become one.

:class:`SuppressedTable` is what every protection of
:mod:`cdanalytics.disclosure.suppression` returns: the published numbers,
which cells were withheld and why, and their text for people.
:func:`round_counts` rounds published counts as the policy says (base 5 as in
ONS and MoJ outputs, each cell and total independently).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._grid import _WITHHELD, _Grid
from .policy import DisclosurePolicy

__all__ = ["SuppressedTable", "round_counts"]

logger = logging.getLogger(__name__)


def round_counts(
    frame: pd.DataFrame, columns: Sequence[Hashable], policy: DisclosurePolicy
) -> pd.DataFrame:
    """``frame`` with the published counts in ``columns`` rounded as the policy says.

    Rounding is idempotent, so counts rounded already stay as they are;
    withheld (missing) counts stay missing.
    """
    out = frame.copy()
    kept = np.zeros(len(frame), dtype=bool)
    for column in columns:
        out[column] = _published_counts(frame[column], policy.round_to, kept)
    return out


@dataclass(frozen=True)
class SuppressedTable:
    """A protected table: numbers for machines, text for people, and what was withheld.

    Attributes
    ----------
    published
        The table as published: withheld counts are ``<NA>`` (nullable
        ``Int64``), withheld statistics NaN, counts rounded if the policy
        says so; other columns unchanged. Safe for CSV and JSON.
    mask
        Boolean frame of the same shape: ``True`` where a value was withheld.
    primary
        Boolean frame: ``True`` where a small count was withheld (shown as
        ``policy.label``); ``mask & ~primary`` are complementary cells and
        withheld statistics (shown as ``policy.withheld_label``).
    policy
        The policy applied.
    """

    published: pd.DataFrame
    mask: pd.DataFrame
    primary: pd.DataFrame
    policy: DisclosurePolicy
    _grids: tuple[_Grid, ...] = field(default=(), repr=False, compare=False)

    @property
    def display(self) -> pd.DataFrame:
        """Strings for people: ``formatted()`` with the default formats."""
        return self.formatted()

    def formatted(
        self,
        formats: Mapping[Hashable, Callable[[object], str]] | None = None,
        na_rep: str = "",
    ) -> pd.DataFrame:
        """The table as strings, with withheld cells labelled.

        Parameters
        ----------
        formats
            Column -> function turning a published value into text (for
            example ``lambda r: f"{r:.0%}"`` for a rate). Counts default to
            whole numbers, other numbers to ``"{:g}"``, anything else to
            ``str``.
        na_rep
            Text for values that were already missing (not withheld).

        Returns
        -------
        pandas.DataFrame
            Same shape as ``published``, all strings.
        """
        formats = dict(formats or {})
        withheld = self.mask.to_numpy(dtype=bool)
        small = self.primary.to_numpy(dtype=bool)
        grid = np.empty(self.published.shape, dtype=object)
        for j, (col, series) in enumerate(self.published.items()):
            fmt = formats.get(col)
            if fmt is None and pd.api.types.is_float_dtype(series.dtype):
                fmt = "{:g}".format
            present = series.notna().to_numpy()
            grid[:, j] = _column_text(series, fmt, present)
            grid[~present, j] = na_rep
        grid[withheld] = self.policy.withheld_label
        grid[small] = self.policy.label
        return pd.DataFrame(
            grid, index=self.published.index, columns=self.published.columns, dtype=object
        )

    def marked(self) -> pd.DataFrame:
        """The published numbers with every withheld cell written as its marker.

        Small counts read ``policy.label`` (``"<10"``), complementary cells and
        withheld statistics ``policy.withheld_label`` (``"[c]"``); values that
        were missing before protection stay missing. This is what a CSV shows:
        a withheld cell is never blank.
        """
        out = self.published.astype(object)
        if not (self._aligned(self.mask) and self._aligned(self.primary)):
            out = out.mask(self.mask & ~self.primary, self.policy.withheld_label)
            return out.mask(self.primary, self.policy.label)
        # the same, written into one object array (a frame's mask() aligns and
        # copies per column: most of the time of writing a small table)
        values = out.to_numpy(dtype=object, copy=True)
        primary = self.primary.to_numpy(dtype=bool)
        values[self.mask.to_numpy(dtype=bool) & ~primary] = self.policy.withheld_label
        values[primary] = self.policy.label
        return pd.DataFrame(values, index=out.index, columns=out.columns, dtype=object)

    def _aligned(self, frame: pd.DataFrame) -> bool:
        """Whether ``frame`` has the rows and columns of ``published``, in its order."""
        return frame.index.equals(self.published.index) and frame.columns.equals(
            self.published.columns
        )

    def reasons(self) -> pd.DataFrame:
        """Why each cell is withheld: ``"primary"``, ``"secondary"`` or ``""`` (shown)."""
        out = pd.DataFrame("", index=self.published.index, columns=self.published.columns)
        out = out.mask(self.mask, "secondary")
        return out.mask(self.primary, "primary")

    def suppressed_rows(self, cols: Sequence[Hashable] | None = None) -> pd.Index:
        """Row labels with a withheld value in any of ``cols`` (default: any column).

        A chart must not plot these groups and should say so.
        """
        mask = self.mask if cols is None else self.mask[list(cols)]
        return self.published.index[mask.any(axis=1).to_numpy()]

    def recoverable(self) -> pd.DataFrame:
        """Withheld cells the published numbers still determine (should be empty).

        Uses the same attacker model as the suppression: the table's shown
        totals and the totals it does not show (assumed known). Hidden
        remainders of ``protect_frame(row_total=...)`` are checked too.

        Returns
        -------
        pandas.DataFrame
            Columns ``row``, ``column`` (``"(remainder)"`` for a remainder),
            ``value`` (the exact value a reader can compute).
        """
        found = [grid.recovered((grid.status == _WITHHELD) | grid.primary) for grid in self._grids]
        return pd.concat(found, ignore_index=True) if found else _EMPTY_FOUND.copy()


_EMPTY_FOUND = pd.DataFrame({"row": [], "column": [], "value": pd.array([], dtype="Float64")})


def _column_text(series: pd.Series, fmt: Callable[[object], str] | None, present: np.ndarray):
    """``series.map(fmt, na_action="ignore")`` (``series.astype("string")`` without
    ``fmt``) as an object array; only its ``present`` values are meant.

    For numbers held by NumPy (``fmt`` gets the Python number, as from
    ``map``) and integer counts (``str`` of each, as ``astype`` writes them)
    the texts are made in one pass, without a Series per column: most of the
    time of writing a small table.
    """
    dtype = series.dtype
    fast = (fmt is not None and isinstance(dtype, np.dtype) and dtype.kind in "fiu") or (
        fmt is None
        and isinstance(dtype, pd.api.extensions.ExtensionDtype)
        and pd.api.types.is_integer_dtype(dtype)
    )
    if fast:
        texts = [(fmt or str)(v) for v in series.to_numpy(dtype=object)[present]]
        if all(type(t) is str for t in texts):
            out = np.empty(len(series), dtype=object)
            out[present] = texts
            return out
    text = series.map(fmt, na_action="ignore") if fmt else series.astype("string")
    return text.to_numpy(dtype=object)


def _grid_arrays(frame: pd.DataFrame, grids: Sequence[_Grid]) -> tuple[np.ndarray, np.ndarray]:
    """Withheld and primary cells of the grids, as boolean arrays shaped like ``frame``."""
    mask = np.zeros(frame.shape, dtype=bool)
    primary = np.zeros(frame.shape, dtype=bool)
    for grid in grids:
        rows = [a for a, label in enumerate(grid.rows) if label is not None]
        cols = [b for b, label in enumerate(grid.cols) if label is not None]
        block = np.ix_(rows, cols)
        at = np.ix_(
            frame.index.get_indexer([grid.rows[a] for a in rows]),
            frame.columns.get_indexer([grid.cols[b] for b in cols]),
        )
        mask[at] = grid.status[block] == _WITHHELD
        primary[at] = grid.primary[block]
    return mask, primary


def _published_counts(
    counts: pd.Series, base: int | None, withheld: np.ndarray
) -> pd.api.extensions.ExtensionArray:
    """``counts`` as ``Int64``, rounded to the nearest multiple of ``base`` (no
    ties occur for odd bases; ``None``: not rounded) and missing where
    ``withheld``; worked out on the integers and the missing flags at once
    (no Series per step)."""
    whole = counts.astype("Int64").array
    missing = np.asarray(whole.isna(), dtype=bool)
    values = whole.to_numpy(dtype=np.int64, na_value=0)
    if base is not None:
        values = (values + base // 2) // base * base
    return pd.arrays.IntegerArray(values, missing | withheld)


def _publish(
    frame: pd.DataFrame,
    grids: Sequence[_Grid],
    policy: DisclosurePolicy,
    stat_mask: Mapping[Hashable, object] | None = None,
    masks: tuple[np.ndarray, np.ndarray] | None = None,
) -> SuppressedTable:
    """Turn protected grids (and withheld statistics) into a SuppressedTable.

    ``stat_mask``: statistic column -> its withheld rows (booleans in the
    order of ``frame``'s rows; a frame of them will do). ``masks``: the
    grids' withheld and primary cells (:func:`_grid_arrays`) when the caller
    has them already.
    """
    mask, primary = masks if masks is not None else _grid_arrays(frame, grids)
    mask = mask.copy()
    position = frame.columns.get_loc
    published = frame.copy()
    count_cols = dict.fromkeys(c for grid in grids for c in grid.cols if c is not None)
    for col in count_cols:
        published[col] = _published_counts(frame[col], policy.round_to, mask[:, position(col)])
    for col in stat_mask if stat_mask is not None else ():
        withheld = np.asarray(stat_mask[col], dtype=bool)
        mask[:, position(col)] = withheld
        values = frame[col].astype(float).to_numpy(dtype=float, copy=True)
        values[withheld] = np.nan
        published[col] = values
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("withheld %d cells (%d small counts)", int(mask.sum()), int(primary.sum()))
    return SuppressedTable(
        published,
        pd.DataFrame(mask, index=frame.index, columns=frame.columns),
        pd.DataFrame(primary, index=frame.index, columns=frame.columns),
        policy,
        tuple(grids),
    )
