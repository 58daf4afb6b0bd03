"""Count tables as grids of cells and margins, and complementary suppression on them.

The model and references are in :mod:`cdanalytics.disclosure.suppression`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from cdanalytics.errors import AnalysisError, ConfigError

from .policy import DisclosurePolicy

REMAINDER = "(remainder)"

# Status of a grid cell.
_KNOWN = 0  # not in the table, known to the reader from elsewhere
_VISIBLE = 1  # published in the table
_WITHHELD = 2  # in the table, withheld
_HIDDEN = 3  # not published anywhere (remainder, or a total that equals one cell)

_EPS = 1e-6  # path cost of a cell that is already unknown


@dataclass
class _Grid:
    """A count table with its margins: the last row and column hold the totals.

    ``rows``/``cols`` name each grid row/column in the published frame
    (``None``: not in it); a cell is in the frame when both are named.
    """

    value: np.ndarray
    status: np.ndarray
    primary: np.ndarray
    rows: list
    cols: list

    def unknown(self) -> np.ndarray:
        return (self.status == _WITHHELD) | (self.status == _HIDDEN)

    def signs(self) -> np.ndarray:
        """Signs that make every row and column of the grid add up to zero."""
        sign = np.ones(self.value.shape)
        sign[:-1, -1] = -1.0
        sign[-1, :-1] = -1.0
        return sign

    def recover(self, i: int, j: int) -> float | None:
        """The value a reader computes for unknown cell ``(i, j)``, or None.

        The grid is a bipartite graph (grid rows and columns are nodes, unknown
        cells are edges) whose every node's equation adds up to zero. A cell is
        determined exactly when it is a bridge: without it, its row and column
        fall apart into two components. Adding the equations of the rows on
        row ``i``'s side and subtracting those of its columns cancels every
        other unknown cell and leaves this one.
        """
        unknown = self.unknown()
        n_rows, n_cols = unknown.shape
        ui, uj = np.nonzero(unknown)
        keep = ~((ui == i) & (uj == j))
        graph = coo_matrix(
            (np.ones(keep.sum()), (ui[keep], n_rows + uj[keep])),
            shape=(n_rows + n_cols, n_rows + n_cols),
        )
        _, labels = connected_components(graph, directed=False)
        if labels[i] == labels[n_rows + j]:
            return None
        side = labels == labels[i]
        signs = self.signs()
        known = np.where(unknown, 0.0, np.nan_to_num(self.value * signs))
        rest = known.sum(axis=1) @ side[:n_rows] - known.sum(axis=0) @ side[n_rows:]
        return float(-rest * signs[i, j])

    def recovered(self, candidates: np.ndarray) -> pd.DataFrame:
        """The candidate unknown cells a reader can compute: ``row``, ``column``, ``value``."""
        found = [
            (a, b, value)
            for a, b in np.argwhere(candidates & self.unknown()).tolist()
            if (value := self.recover(a, b)) is not None
        ]
        return pd.DataFrame(
            {
                "row": [self.rows[a] for a, _, _ in found],
                "column": [
                    REMAINDER if self.cols[b] is None else self.cols[b] for _, b, _ in found
                ],
                "value": pd.array([v for _, _, v in found], dtype="Float64"),
            }
        )


def _cheapest_cycle(grid: _Grid, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Published cells to withhold so that cell ``(i, j)`` lies on a cycle.

    Shortest path from row ``i`` to column ``j`` in the bipartite graph of
    the grid without the cell itself; unknown cells cost ``_EPS``, published
    cells ``1 + value``, plus a large penalty for zeros and totals.
    """
    n_rows, n_cols = grid.value.shape
    margin = np.zeros(grid.value.shape, dtype=bool)
    margin[-1, :] = True
    margin[:, -1] = True
    big = 1.0 + 2.0 * np.abs(grid.value).sum()
    cost = 1.0 + grid.value + big * ((grid.value == 0) | margin)
    weight = np.where(grid.status == _VISIBLE, cost, 0.0)
    weight = np.where(grid.unknown(), _EPS, weight)
    weight[i, j] = 0.0
    graph = np.zeros((n_rows + n_cols, n_rows + n_cols))
    graph[:n_rows, n_rows:] = weight
    graph[n_rows:, :n_rows] = weight.T
    dist, pred = dijkstra(graph, directed=False, indices=i, return_predecessors=True)
    if not np.isfinite(dist[n_rows + j]):
        raise AnalysisError(
            "cannot protect a small count: every other cell of its row and column is "
            "a total known from elsewhere; publish fewer totals or a coarser table."
        )
    path_rows, path_cols = [], []
    node = n_rows + j
    while node != i:
        prev = pred[node]
        row, col = (prev, node) if prev < n_rows else (node, prev)
        path_rows.append(row)
        path_cols.append(col - n_rows)
        node = prev
    return np.array(path_rows), np.array(path_cols)


def _protect(grid: _Grid) -> None:
    """Withhold complementary cells until no primary cell is recoverable.

    One pass suffices: withholding more cells never makes a protected cell
    recoverable again.
    """
    for i, j in np.argwhere(grid.primary & grid.unknown()):
        if grid.recover(int(i), int(j)) is not None:
            rows, cols = _cheapest_cycle(grid, int(i), int(j))
            visible = grid.status[rows, cols] == _VISIBLE
            grid.status[rows[visible], cols[visible]] = _WITHHELD


def _counts(frame: pd.DataFrame, cols: Sequence[Hashable], what: str) -> np.ndarray:
    """The columns as a non-negative integer array, or a clear error."""
    block = frame[list(cols)]
    try:  # complete numeric counts (the usual case): one conversion, no missing values
        numbers = block.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        numbers = None
    if numbers is None or np.isnan(numbers).any():
        if block.isna().to_numpy().any():
            raise AnalysisError(
                f"{what} has missing counts in {list(cols)}; counts must be complete."
            )
        try:
            numbers = block.to_numpy(dtype=float)
        except (TypeError, ValueError) as exc:
            raise AnalysisError(f"{what} columns {list(cols)} must be numeric counts.") from exc
    if (numbers < 0).any() or (numbers != np.round(numbers)).any():
        raise AnalysisError(f"{what} columns {list(cols)} must hold non-negative whole numbers.")
    return numbers.astype(np.int64)


def _require(frame: pd.DataFrame, cols: Sequence[Hashable]) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ConfigError(f"columns {missing} are not in the table (it has {list(frame.columns)}).")
    if not frame.index.is_unique:
        raise ConfigError("the table's index must be unique to protect it.")


def _build_grid(
    table: pd.DataFrame,
    parts: Sequence[Hashable],
    policy: DisclosurePolicy,
    row_total: Hashable | None,
    col_total: Hashable | None,
    remainder: bool,
) -> _Grid:
    """Lay a table out as a grid of parts (plus remainder) and margins."""
    if col_total is not None and col_total not in table.index:
        raise ConfigError(f"col_total {col_total!r} is not a row label of the table.")
    body = table.drop(index=col_total) if col_total is not None else table
    interior = _counts(body, parts, "table")
    n_rows = interior.shape[0]
    row_sums = interior.sum(axis=1)
    if row_total is not None:
        totals = _counts(body, [row_total], "row_total")[:, 0]
        rest = totals - row_sums
        if (rest < 0).any() or (not remainder and (rest != 0).any()):
            raise AnalysisError(
                f"row totals in {row_total!r} do not equal the sum of {list(parts)}."
            )
        if remainder and (rest != 0).any():
            interior = np.column_stack([interior, rest])
    n_cols = interior.shape[1]
    has_rest = n_cols > len(parts)
    value = np.zeros((n_rows + 1, n_cols + 1), dtype=np.int64)
    value[:-1, :-1] = interior
    value[:-1, -1] = interior.sum(axis=1)
    value[-1, :-1] = interior.sum(axis=0)
    value[-1, -1] = interior.sum()
    if col_total is not None:
        shown_cols = [*parts, *([row_total] if row_total is not None else [])]
        shown = _counts(table.loc[[col_total]], shown_cols, f"row {col_total!r}")
        if (shown[0, : len(parts)] != value[-1, : len(parts)]).any() or (
            row_total is not None and shown[0, -1] != value[-1, -1]
        ):
            raise AnalysisError(f"the totals in row {col_total!r} do not add up.")

    status = np.full(value.shape, _VISIBLE, dtype=np.int8)
    if has_rest:
        status[:, -2] = _HIDDEN
    if row_total is None:
        status[:-1, -1] = _KNOWN if len(parts) + has_rest >= 2 else _HIDDEN
    if col_total is None:
        status[-1, :-1] = _KNOWN if n_rows >= 2 else _HIDDEN
    if row_total is None or col_total is None:
        status[-1, -1] = _KNOWN if n_rows >= 2 and n_cols >= 2 else _HIDDEN
    if has_rest:
        status[-1, -2] = _KNOWN if n_rows >= 2 else _HIDDEN

    primary = policy.is_small(value) & (status != _KNOWN)
    hidden_total = status == _HIDDEN
    hidden_total[:-1, :-1] = False  # a hidden total is the twin of one cell, not a cell
    primary &= ~hidden_total
    status[primary & (status == _VISIBLE)] = _WITHHELD
    rows = [*body.index, col_total]
    cols = [*parts, *([None] if has_rest else []), row_total]
    return _Grid(value=value, status=status, primary=primary, rows=rows, cols=cols)
