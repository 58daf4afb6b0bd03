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

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from ._grid import _build_grid, _protect, _require
from .cellnoise import protect_perturbed
from .policy import DisclosurePolicy
from .protected import SuppressedTable, _grid_arrays, _publish

__all__ = ["protect_frame", "protect_statistics", "suppress_counts"]


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

    Examples
    --------
    A two-way table at threshold 10. South's 4 completers are withheld
    (primary, shown ``<10``); with the row and column totals known, 4 would
    come back from South's 11 or East's 12, so those are withheld too, and
    then East's 20, else 12 would come back from East's total
    (complementary cells, shown ``[c]``). North's row is whole:

    >>> import pandas as pd
    >>> from cdanalytics.disclosure import DisclosurePolicy
    >>> table = pd.DataFrame({"site": ["North", "South", "East"],
    ...                       "completed": [25, 4, 12], "dropped_out": [15, 11, 20]})
    >>> out = suppress_counts(table, ["completed", "dropped_out"], DisclosurePolicy(threshold=10))
    >>> out.display.values.tolist()
    [['North', '25', '15'], ['South', '<10', '[c]'], ['East', '[c]', '[c]']]
    >>> out.primary["completed"].tolist()
    [False, True, False]
    """
    count_cols = list(count_cols)
    _require(table, [*count_cols, *([row_total] if row_total is not None else [])])
    grid = _build_grid(table, count_cols, policy, row_total, col_total, remainder=False)
    _protect(grid)
    return _publish(table, [grid], policy)


def _small_base(
    frame: pd.DataFrame, base_cols: Mapping[Hashable, Hashable], policy: DisclosurePolicy
) -> dict[Hashable, np.ndarray]:
    """Statistic column -> its rows on a base below the threshold or unknown (True).

    Each base column is read once, however many statistics rest on it.
    """
    small = {
        base: (frame[base].astype("Float64") < policy.threshold).fillna(True).to_numpy(dtype=bool)
        for base in dict.fromkeys(base_cols.values())
    }
    return {stat: small[base] for stat, base in base_cols.items()}


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
    table: str = "",
    key_columns: Sequence[Hashable] = (),
    rates: Mapping[Hashable, tuple] | None = None,
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
    table, key_columns, rates
        Used by the cell key method only (``policy.method == "cell_key"``,
        :func:`~cdanalytics.disclosure.cellnoise.protect_perturbed`): the
        table's name and label columns (the cells' identity; default: all
        other columns) and ``rate -> (numerator, base, ci_low, ci_high,
        scale)`` recomputed from perturbed counts. Totals need not add up.

    Returns
    -------
    SuppressedTable

    Raises
    ------
    ConfigError
        If a named column or row is missing or the index is not unique.
    AnalysisError
        If counts are missing, negative or fractional, or parts exceed the total.

    Examples
    --------
    A completion table at threshold 10. South's 6 potential completers and 4
    completers are small; each count column is a one-way table whose total
    is known, so the next smallest count of each column (East's 30 and 12)
    is withheld with it, and a rate whose base or numerator is withheld goes
    too:

    >>> import pandas as pd
    >>> from cdanalytics.disclosure import DisclosurePolicy
    >>> result = pd.DataFrame({"site": ["North", "South", "East"],
    ...                        "n_potential": [40, 6, 30], "n_completed": [25, 4, 12]})
    >>> result["rate"] = result["n_completed"] / result["n_potential"]
    >>> out = protect_frame(result, DisclosurePolicy(threshold=10),
    ...                     base_cols={"rate": "n_potential"},
    ...                     numerator_cols={"rate": "n_completed"})
    >>> out.display[["n_potential", "n_completed"]].values.tolist()
    [['40', '25'], ['<10', '<10'], ['[c]', '[c]']]
    >>> out.published["rate"].tolist()
    [0.625, nan, nan]
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
    if policy.method == "cell_key":
        labels = list(key_columns) or [c for c in df.columns if c not in {*counts, *stats}]
        published, mask, primary = protect_perturbed(
            df,
            policy,
            table=table,
            key_columns=labels,
            count_cols=counts,
            base_cols=base_cols,
            numerator_cols=numerator_cols,
            implied=implied,
            rates=dict(rates or {}),
        )
        return SuppressedTable(published, mask, primary, policy)
    if row_total is not None:
        parts = [c for c in counts if c != row_total]
        grids = [_build_grid(df, parts, policy, row_total, col_total, remainder=True)]
    else:
        grids = [_build_grid(df, [c], policy, None, col_total, remainder=False) for c in counts]
    for grid in grids if secondary else ():
        _protect(grid)
    masks = _grid_arrays(df, grids)
    withheld = dict(zip(df.columns, masks[0].T, strict=True))  # column -> its withheld rows
    small_base = _small_base(df, base_cols, policy)
    none = np.zeros(len(df), dtype=bool)
    stat_mask = {stat: small_base.get(stat, none) for stat in stats}
    for stat, numerator in implied.items():
        stat_mask[stat] = stat_mask[stat] | policy.is_small(
            df[numerator].to_numpy(dtype=float, na_value=np.nan)
        )
    for stat, numerator in numerator_cols.items():
        stat_mask[stat] = stat_mask[stat] | withheld[numerator]
        if stat in base_cols:
            stat_mask[stat] = stat_mask[stat] | withheld[base_cols[stat]]
    return _publish(df, grids, policy, stat_mask, masks)
