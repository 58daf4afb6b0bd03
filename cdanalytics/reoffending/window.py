"""Fixed-window proven-reoffending measures per group (rate, frequency, timing)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._groups import by_columns, group_by
from .._stats import wilson_ci
from ..io.export import Export
from .definition import ReoffendingDefinition, resolve_outcomes

__all__ = ["FIXED_WINDOW_COLUMNS", "fixed_window"]

#: Columns of :func:`fixed_window` after the grouping columns.
FIXED_WINDOW_COLUMNS: list[str] = [
    "n_in_cohort",
    "n_eligible",
    "n_not_yet_eligible",
    "n_reoffenders",
    "rate",
    "ci_low",
    "ci_high",
    "per_100",
    "per_100_ci_low",
    "per_100_ci_high",
    "n_offences",
    "offences_per_person",
    "offences_per_reoffender",
    "mean_days_to_first",
    "median_days_to_first",
]

_REQUIRED = (
    "in_cohort",
    "window_eligible",
    "reoffended_in_window",
    "n_offences_in_window",
    "days_to_first",
)


def fixed_window(
    data: Export | pd.DataFrame,
    by: str | Sequence[str] | None = None,
    *,
    definition: ReoffendingDefinition | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Proven-reoffending rate, frequency and time to first reoffence per group.

    Only people whose window and waiting period are over (``window_eligible``
    in :func:`~cdanalytics.reoffending.person_outcomes`) are counted; the rest
    of the cohort is reported as not yet eligible, never as non-reoffenders.

    Parameters
    ----------
    data
        An export, or the table from :func:`person_outcomes` (or a subset of it).
    by
        Column name(s) to group by, or ``None`` for one overall row. Missing
        values form their own group.
    definition
        The reoffending measure when ``data`` is an export (default
        :class:`ReoffendingDefinition()`).
    alpha
        1 - confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, then :data:`FIXED_WINDOW_COLUMNS`:
        ``n_in_cohort`` (people with an index date), ``n_eligible``,
        ``n_not_yet_eligible``, ``n_reoffenders`` (eligible people with at least
        one counted offence), ``rate`` = n_reoffenders / n_eligible with the
        Wilson score interval ``ci_low``, ``ci_high``; ``per_100*`` the same
        "for every 100 people" (× 100); ``n_offences`` counted offences of the
        eligible, ``offences_per_person`` (per eligible person) and
        ``offences_per_reoffender``; ``mean_days_to_first`` and
        ``median_days_to_first`` among reoffenders. Ratios are NaN on a base
        of 0.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and
    statistical inference. JASA 22:209-212.
    Ministry of Justice (2014). Justice Data Lab statistics: methodology.

    Examples
    --------
    A table in the shape :func:`person_outcomes` gives: six people, five of
    them past their window and waiting period, two of whom reoffended (three
    offences between them). The rate is 2 of 5 with Wilson's interval,
    checked against statsmodels:

    >>> import pandas as pd
    >>> from statsmodels.stats.proportion import proportion_confint
    >>> people = pd.DataFrame({
    ...     "in_cohort": True,
    ...     "window_eligible": [True, True, True, True, True, False],
    ...     "reoffended_in_window": [True, False, False, True, False, False],
    ...     "n_offences_in_window": [2, 0, 0, 1, 0, 0],
    ...     "days_to_first": [40, None, None, 100, None, None],
    ... })
    >>> row = fixed_window(people).iloc[0]
    >>> [int(row[c]) for c in ("n_eligible", "n_not_yet_eligible", "n_reoffenders", "n_offences")]
    [5, 1, 2, 3]
    >>> [round(float(row[c]), 4) for c in ("rate", "ci_low", "ci_high")]
    [0.4, 0.1176, 0.7693]
    >>> [round(x, 4) for x in (2 / 5, *proportion_confint(2, 5, method="wilson"))]
    [0.4, 0.1176, 0.7693]
    >>> float(row["offences_per_person"]), float(row["mean_days_to_first"])
    (0.6, 70.0)
    """
    cohort = resolve_outcomes(data, definition, _REQUIRED)
    keys = by_columns(by, cohort)
    frame = cohort[keys].assign(
        eligible=cohort["window_eligible"].to_numpy(dtype=bool),
        reoffender=cohort["reoffended_in_window"].fillna(False).to_numpy(dtype=bool),
        offences=cohort["n_offences_in_window"].fillna(0).to_numpy(dtype=float),
        days=cohort["days_to_first"].astype("Float64").to_numpy(dtype=float, na_value=float("nan")),
    )
    table = group_by(frame, keys).agg(
        n_in_cohort=("eligible", "size"),
        n_eligible=("eligible", "sum"),
        n_reoffenders=("reoffender", "sum"),
        n_offences=("offences", "sum"),
        mean_days_to_first=("days", "mean"),
        median_days_to_first=("days", "median"),
    )
    table = table.reset_index(drop=not keys)
    n_eligible = table["n_eligible"].to_numpy(dtype=float)
    n_reoffenders = table["n_reoffenders"].to_numpy(dtype=float)
    low, high = wilson_ci(n_reoffenders, n_eligible, alpha=alpha)
    rate = _ratio(n_reoffenders, n_eligible)
    table = table.assign(
        n_not_yet_eligible=table["n_in_cohort"] - table["n_eligible"],
        rate=rate,
        ci_low=low,
        ci_high=high,
        per_100=100 * rate,
        per_100_ci_low=100 * low,
        per_100_ci_high=100 * high,
        n_offences=table["n_offences"].astype("int64"),
        offences_per_person=_ratio(table["n_offences"].to_numpy(dtype=float), n_eligible),
        offences_per_reoffender=_ratio(table["n_offences"].to_numpy(dtype=float), n_reoffenders),
    )
    return table[[*keys, *FIXED_WINDOW_COLUMNS]]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0."""
    out = np.full(len(denominator), np.nan)
    return np.divide(numerator, denominator, out=out, where=denominator > 0)
