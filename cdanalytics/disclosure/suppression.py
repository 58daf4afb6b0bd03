"""Statistical disclosure control for every table a manager reads.

Counts below a threshold (UK secure-data convention 10, never below the OECD
floor of 3) are withheld, with secondary (complementary) suppression so that
no withheld small count can be worked out from the totals, row- or
column-wise; no rate, mean, median or confidence limit is shown on a base
below the threshold; published counts can be rounded to base 5.

Model
-----
A count table is a grid of cells with row totals, column totals and a grand
total. Every row and column of that grid is a linear equation (the cells add
up to the total), so a reader who sees some cells and totals can solve for the
others. A withheld cell is *recoverable* when the published numbers determine
it exactly. With the totals written as cells, every row and column of the grid
is an equation, and the grid is a bipartite graph: grid rows and columns are
nodes, unknown cells are edges. A cell is determined exactly when it is a
bridge of that graph (lies on no cycle): the equations on one side of it then
add up to its value (Cox 1980; Willenborg & de Waal 2001, ch. 6). This is
stronger than looking for rows or columns with a single withheld cell: two
blocks of withheld cells joined by one cell pass that test and still give the
joining cell away.

Secondary suppression repairs every recoverable primary cell by withholding
the cheapest set of published cells that closes a cycle through it: a shortest
path (Dijkstra) in the same bipartite graph, where a published cell costs its
value, already unknown cells cost (almost) nothing, and zeros and totals are
used only when nothing else will do. For a single small cell in a row this is
"withhold the next smallest cell of the row, and the cells needed to protect
that one"; in a two-way table it finds the cheapest rectangle. Withholding
more cells never makes a protected cell recoverable again, so one pass over the
primary cells suffices. :func:`check_recoverable` uses the same bridge test;
the tests check it against linear programming.

Who knows what (the attacker model)
-----------------------------------
- Totals that the table shows are known unless withheld.
- Totals that the table does *not* show are assumed published elsewhere and
  known (conservative), except a total that is the same number as a single
  cell (the row total of a one-column table, the column total of a one-row
  table, or the grand total of either): that total is as secret as its cell.
- Zero counts are not disclosive by themselves (UK convention) and are shown,
  unless ``DisclosurePolicy(suppress_zeros=True)``. They are used as
  complementary cells only when no non-zero cell can do the job.
- Primary cells show ``policy.label`` (``"<10"``); complementary cells and
  withheld statistics show ``policy.withheld_label`` (``"[c]"``, the GSS
  symbol for "confidential"), because showing ``<10`` for a complementary
  cell holding 57 would be false.

Limitations
-----------
Protection is against exact recovery by linear equations within one table.
It does not cover bounds-based (interval) inference from non-negativity (a
total of 0 tells that every cell of its row is 0; in zero-heavy tables that
can narrow or pin a withheld cell), nor
differencing between *different* tables that break the same people down in
different ways (linked tables): protect the most detailed breakdown and derive
the coarser tables from the protected one, or keep their margins identical.
Nested counts in one row (referred, assessed, eligible, started) reveal their
differences: give :func:`protect_frame` the parts and their total
(``row_total``), whose unpublished remainder is protected too.

References
----------
Cox, L. H. (1980). Suppression methodology and statistical disclosure control.
JASA 75:377-385.
Willenborg, L. & de Waal, T. (2001). Elements of Statistical Disclosure
Control. Springer, chapter 6 (cell suppression).
Government Statistical Service (2021). Symbols in tables: ``[c]`` confidential.
Office for National Statistics. Rounding to base 5 as used in ONS and MoJ
outputs (each cell and total rounded independently).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from cdanalytics.errors import AnalysisError, ConfigError

__all__ = [
    "DisclosurePolicy",
    "SuppressedTable",
    "check_recoverable",
    "find_disclosive",
    "protect_frame",
    "protect_statistics",
    "round_counts",
    "suppress_counts",
]

logger = logging.getLogger(__name__)

MIN_THRESHOLD = 3
ROUNDING_BASES = (5,)
METHODS = ("suppression", "rounding", "cell_key")
REMAINDER = "(remainder)"

# Status of a grid cell.
_KNOWN = 0  # not in the table, known to the reader from elsewhere
_VISIBLE = 1  # published in the table
_WITHHELD = 2  # in the table, withheld
_HIDDEN = 3  # not published anywhere (remainder, or a total that equals one cell)

_EPS = 1e-6  # path cost of a cell that is already unknown


@dataclass(frozen=True)
class DisclosurePolicy:
    """How much the published tables are protected.

    Parameters
    ----------
    threshold
        Counts ``0 < n < threshold`` are withheld, and so is every statistic
        on a base below it. Default 10 (UK secure-data convention); never
        below 3 (OECD floor).
    round_to
        ``None`` (no rounding) or 5: round every published count to the
        nearest multiple of 5 after suppression (totals independently, so they
        need not add up).
    suppress_zeros
        Also withhold zero counts. Default ``False``: a zero is shown, as in
        UK practice, because it discloses nothing about a person by itself.
    label
        Text shown for a withheld small count; empty (the default) means
        ``"<{threshold}"``.
    withheld_label
        Text shown for complementary cells and withheld statistics; default
        ``"[c]"``.
    method
        ``"suppression"`` (default: primary and secondary suppression),
        ``"rounding"`` (suppression, then every published count rounded to
        ``round_to``, default 5) or ``"cell_key"`` (perturbation consistent
        across releases; see ``docs/disclosure.md``, not wired into the report
        yet, so it is refused rather than silently replaced).

    Raises
    ------
    ConfigError
        If the threshold is not an integer of at least 3, ``round_to`` is not
        ``None`` or 5, or rounding would publish a count at the threshold as a
        number below it (thresholds 6, 7, 11, 12, ... with ``round_to=5``).
    """

    threshold: int = 10
    round_to: int | None = None
    suppress_zeros: bool = False
    label: str = ""
    withheld_label: str = "[c]"
    method: str = "suppression"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"disclosure method must be one of {METHODS}, got {self.method!r}.")
        if self.method == "cell_key":
            raise ConfigError(
                "the cell-key method is not available in this version of the report; use "
                "'suppression' or 'rounding'."
            )
        if self.method == "rounding" and self.round_to is None:
            object.__setattr__(self, "round_to", ROUNDING_BASES[0])
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int | np.integer):
            raise ConfigError(
                f"disclosure threshold must be a whole number, got {self.threshold!r}."
            )
        if self.threshold < MIN_THRESHOLD:
            raise ConfigError(
                f"disclosure threshold is {self.threshold}; it can never be below "
                f"{MIN_THRESHOLD} (OECD floor)."
            )
        if self.round_to is not None and self.round_to not in ROUNDING_BASES:
            raise ConfigError(
                f"round_to must be None or one of {ROUNDING_BASES}, got {self.round_to!r}."
            )
        if self.round_to is not None and self.threshold % self.round_to in (1, 2):
            shown = self.threshold - self.threshold % self.round_to
            raise ConfigError(
                f"with round_to={self.round_to} a count of {self.threshold} would be "
                f"published as {shown}, below the threshold; use a threshold that rounds "
                f"to itself or up (for example 10)."
            )
        if not self.label:
            object.__setattr__(self, "label", f"<{self.threshold}")

    def marker(self, reason: str) -> str:
        """The marker shown for a cell withheld for ``reason`` (``"primary"``/``"secondary"``)."""
        return self.label if reason == "primary" else self.withheld_label

    def explain(self, reason: str) -> str:
        """A sentence saying why a cell is withheld, for ``outcomes.json`` and footnotes."""
        if reason == "primary":
            return (
                f"{self.label}: fewer than {self.threshold} people or events (primary suppression)"
            )
        return (
            f"{self.withheld_label}: withheld so that a count below {self.threshold} cannot be "
            "worked out from other published numbers (secondary suppression), or a statistic "
            f"resting on a withheld count or on fewer than {self.threshold} people"
        )

    def publish_count(self, n: int) -> int | str:
        """A lone count as published: rounded if the policy rounds, its marker if small.

        For a count that no table links to (for example the number of
        exit-status findings in a sentence).
        """
        if self.is_small(np.array([n]))[0]:
            return self.label
        return int(
            n
            if self.round_to is None
            else (n + self.round_to // 2) // self.round_to * self.round_to
        )

    def enough(self, *counts: float) -> bool:
        """Whether a model resting on these counts (people, events) may be published.

        A hazard ratio or any model summary is shown only when every group and
        every event count it rests on is at least the threshold.
        """
        return bool(np.all(np.asarray(counts, dtype=float) >= self.threshold))

    def is_small(self, counts: np.ndarray) -> np.ndarray:
        """Boolean array: which counts must be withheld (primary suppression)."""
        counts = np.asarray(counts)
        small = (counts > 0) & (counts < self.threshold)
        return small | (counts == 0) if self.suppress_zeros else small


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
    if block.isna().to_numpy().any():
        raise AnalysisError(f"{what} has missing counts in {list(cols)}; counts must be complete.")
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


def round_counts(
    frame: pd.DataFrame, columns: Sequence[Hashable], policy: DisclosurePolicy
) -> pd.DataFrame:
    """``frame`` with the published counts in ``columns`` rounded as the policy says.

    Rounding is idempotent, so counts rounded already stay as they are;
    withheld (missing) counts stay missing.
    """
    out = frame.copy()
    for column in columns:
        out[column] = _round(frame[column].astype("Int64"), policy.round_to)
    return out


def _round(counts: pd.Series, base: int | None) -> pd.Series:
    """Round whole numbers to the nearest multiple of ``base`` (no ties occur for odd bases)."""
    if base is None:
        return counts
    return (counts + base // 2) // base * base


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
        out = {}
        for col in self.published.columns:
            series = self.published[col]
            fmt = formats.get(col)
            if fmt is None and pd.api.types.is_float_dtype(series.dtype):
                fmt = "{:g}".format
            text = series.map(fmt, na_action="ignore") if fmt else series.astype("string")
            text = text.astype(object).where(series.notna(), na_rep)
            text = text.where(~self.mask[col], self.policy.withheld_label)
            out[col] = text.where(~self.primary[col], self.policy.label)
        return pd.DataFrame(out, index=self.published.index)

    def marked(self) -> pd.DataFrame:
        """The published numbers with every withheld cell written as its marker.

        Small counts read ``policy.label`` (``"<10"``), complementary cells and
        withheld statistics ``policy.withheld_label`` (``"[c]"``); values that
        were missing before protection stay missing. This is what a CSV shows:
        a withheld cell is never blank.
        """
        out = self.published.astype(object)
        out = out.mask(self.mask & ~self.primary, self.policy.withheld_label)
        return out.mask(self.primary, self.policy.label)

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


def _grid_masks(frame: pd.DataFrame, grids: Sequence[_Grid]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Withheld and primary cells of the grids, as boolean frames shaped like ``frame``."""
    mask = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    primary = mask.copy()
    for grid in grids:
        rows = [a for a, label in enumerate(grid.rows) if label is not None]
        cols = [b for b, label in enumerate(grid.cols) if label is not None]
        block = np.ix_(rows, cols)
        row_labels = [grid.rows[a] for a in rows]
        col_labels = [grid.cols[b] for b in cols]
        mask.loc[row_labels, col_labels] = grid.status[block] == _WITHHELD
        primary.loc[row_labels, col_labels] = grid.primary[block]
    return mask, primary


def _publish(
    frame: pd.DataFrame,
    grids: Sequence[_Grid],
    policy: DisclosurePolicy,
    stat_mask: pd.DataFrame | None = None,
) -> SuppressedTable:
    """Turn protected grids (and withheld statistics) into a SuppressedTable."""
    mask, primary = _grid_masks(frame, grids)
    published = frame.copy()
    count_cols = dict.fromkeys(c for grid in grids for c in grid.cols if c is not None)
    for col in count_cols:
        published[col] = _round(frame[col].astype("Int64"), policy.round_to).mask(mask[col])
    if stat_mask is not None:
        for col in stat_mask.columns:
            mask[col] = stat_mask[col]
            published[col] = frame[col].astype(float).mask(stat_mask[col])
    logger.debug(
        "withheld %d cells (%d small counts)",
        int(mask.to_numpy().sum()),
        int(primary.to_numpy().sum()),
    )
    return SuppressedTable(published, mask, primary, policy, tuple(grids))


def suppress_counts(
    table: pd.DataFrame,
    count_cols: Sequence[Hashable],
    policy: DisclosurePolicy,
    *,
    row_total: Hashable | None = None,
    col_total: Hashable | None = None,
) -> SuppressedTable:
    """Withhold small counts of a one- or two-way table, with secondary suppression.

    Primary suppression withholds every count ``0 < n < policy.threshold``
    (and zeros if ``policy.suppress_zeros``), including shown totals.
    Secondary suppression then withholds the cheapest further cells (smallest
    values first, zeros and totals last) until no withheld small count can be
    recovered exactly from the row or column totals, shown or not (see the
    module docstring for the attacker model).

    Parameters
    ----------
    table
        One row per category of the first dimension; other columns (labels)
        pass through untouched. The index must be unique.
    count_cols
        Columns holding the counts, one per category of the second dimension.
        A single column is a one-way table whose overall total is assumed
        known.
    policy
        Threshold, labels and rounding.
    row_total
        Column holding each row's total (the sum of ``count_cols``), if the
        table shows one; it is protected like any other cell.
    col_total
        Row label of a row holding the column totals (and, in ``row_total``,
        the grand total), if the table shows one.

    Returns
    -------
    SuppressedTable
        ``.published`` (withheld counts ``<NA>``), ``.display`` (strings such as
        ``"<10"``, ``"[c]"``, ``"12"``), ``.mask`` and ``.primary``.

    Raises
    ------
    ConfigError
        If a named column or row is missing or the index is not unique.
    AnalysisError
        If counts are missing, negative or fractional, or totals do not add up.

    References
    ----------
    Cox (1980) JASA 75:377-385; Willenborg & de Waal (2001), ch. 6.
    """
    count_cols = list(count_cols)
    _require(table, [*count_cols, *([row_total] if row_total is not None else [])])
    grid = _build_grid(table, count_cols, policy, row_total, col_total, remainder=False)
    _protect(grid)
    return _publish(table, [grid], policy)


def _small_base(
    frame: pd.DataFrame, base_cols: Mapping[Hashable, Hashable], policy: DisclosurePolicy
) -> pd.DataFrame:
    """Statistics (columns) on a base below the threshold or unknown (True)."""
    return pd.DataFrame(
        {
            stat: (frame[base].astype("Float64") < policy.threshold).fillna(True).astype(bool)
            for stat, base in base_cols.items()
        },
        index=frame.index,
    )


def protect_statistics(
    df: pd.DataFrame,
    base_col: Hashable,
    stat_cols: Sequence[Hashable],
    policy: DisclosurePolicy,
) -> SuppressedTable:
    """Withhold every statistic computed on a base below the threshold.

    Percentages, means, medians and their confidence limits on fewer than
    ``policy.threshold`` people (or on an unknown base) become NaN in
    ``.published`` and ``policy.withheld_label`` in ``.display``. The base
    column itself is left as it is; protect it with :func:`protect_frame`.

    Parameters
    ----------
    df
        One row per group.
    base_col
        Column with the number of people each statistic is computed on.
    stat_cols
        Columns with the statistics.
    policy
        The threshold.

    Returns
    -------
    SuppressedTable
    """
    stat_cols = list(stat_cols)
    _require(df, [base_col, *stat_cols])
    return _publish(df, [], policy, _small_base(df, dict.fromkeys(stat_cols, base_col), policy))


def protect_frame(
    df: pd.DataFrame,
    policy: DisclosurePolicy,
    *,
    count_cols: Sequence[Hashable] = (),
    base_cols: Mapping[Hashable, Hashable] | None = None,
    numerator_cols: Mapping[Hashable, Hashable] | None = None,
    row_total: Hashable | None = None,
    col_total: Hashable | None = None,
    secondary: bool = True,
    implied_numerators: Mapping[Hashable, Hashable] | None = None,
) -> SuppressedTable:
    """Protect a tidy result table (one row per group) before anyone reads it.

    Counts: without ``row_total`` every count column is protected as its own
    one-way table (its overall total assumed known). With ``row_total`` the
    other count columns are parts of that total, protected as one two-way
    table; if the parts do not add up to the total, the unpublished
    remainder (for example the men who did not complete) is protected too,
    since a reader can compute it by subtraction.

    Statistics: a statistic in ``base_cols`` is withheld when its base is
    below the threshold. A statistic in ``numerator_cols`` (a rate, or the
    Wilson limits of a rate, from which the count can be computed back) is
    also withheld when its numerator or its base count is withheld.

    Parameters
    ----------
    df
        Tidy result, one row per group; unique index.
    policy
        Threshold, labels and rounding.
    count_cols
        Count columns. Base and numerator columns are counts too and are
        added automatically.
    base_cols
        Statistic column -> column with its base n.
    numerator_cols
        Statistic column -> column with its numerator count.
    row_total
        Count column that is the total of the other count columns.
    col_total
        Row label of an overall row holding the column totals, if shown.
    implied_numerators
        Statistic column -> column with a count the table does not show but
        that the statistic times its base gives back (offences per person x
        people = offences): the statistic is withheld when that count is
        small, because a rate published with its base publishes its
        numerator, within the rounding of its printed digits.
    secondary
        Also withhold complementary cells (default). ``False`` withholds only
        the small counts, for a table that :func:`~cdanalytics.disclosure.protect_linked`
        protects together with the tables linked to it.

    Returns
    -------
    SuppressedTable

    Raises
    ------
    ConfigError
        If a named column or row is missing or the index is not unique.
    AnalysisError
        If counts are missing, negative or fractional, or parts exceed the total.
    """
    base_cols = dict(base_cols or {})
    numerator_cols = dict(numerator_cols or {})
    counts = list(
        dict.fromkeys(
            [
                *count_cols,
                *base_cols.values(),
                *numerator_cols.values(),
                *([row_total] if row_total is not None else []),
            ]
        )
    )
    implied = dict(implied_numerators or {})
    stats = list(dict.fromkeys([*base_cols, *numerator_cols, *implied]))
    _require(df, [*counts, *stats, *implied.values()])
    if row_total is not None:
        parts = [c for c in counts if c != row_total]
        grids = [_build_grid(df, parts, policy, row_total, col_total, remainder=True)]
    else:
        grids = [_build_grid(df, [c], policy, None, col_total, remainder=False) for c in counts]
    for grid in grids if secondary else ():
        _protect(grid)
    withheld, _ = _grid_masks(df, grids)
    stat_mask = _small_base(df, base_cols, policy).reindex(columns=stats, fill_value=False)
    for stat, numerator in implied.items():
        stat_mask[stat] |= policy.is_small(df[numerator].to_numpy(dtype=float, na_value=np.nan))
    for stat, numerator in numerator_cols.items():
        stat_mask[stat] |= withheld[numerator]
        if stat in base_cols:
            stat_mask[stat] |= withheld[base_cols[stat]]
    return _publish(df, grids, policy, stat_mask)


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
