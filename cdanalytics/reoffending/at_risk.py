"""Numbers at risk, reoffences and censorings at follow-up horizons.

A horizon of m months is m × 365.25 / 12 days after the index date
(:func:`horizon_days`). :func:`at_risk_table` counts, per group, the people
still observed at each horizon (follow-up time >= horizon, as R's
``summary(survfit, times=)``) and the first reoffences and censorings up to
it: the numbers printed beneath a Kaplan-Meier curve
(:func:`cdanalytics.reoffending.cumulative_reoffending`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._groups import group_labels
from ..errors import ConfigError
from ..io.export import Export
from ._survival_groups import kaplan_meier_fits, survival_frame
from .definition import ReoffendingDefinition

__all__ = [
    "AT_RISK_COLUMNS",
    "DAYS_PER_MONTH",
    "DEFAULT_HORIZONS_MONTHS",
    "at_risk_table",
    "horizon_days",
]

#: Horizons (months after the index date) reported by default.
DEFAULT_HORIZONS_MONTHS: tuple[float, ...] = (6, 12, 24)
#: Days in an average calendar month: a horizon of m months is m × 365.25 / 12 days.
DAYS_PER_MONTH: float = 365.25 / 12

#: Columns of :func:`at_risk_table` after the grouping columns.
AT_RISK_COLUMNS: list[str] = [
    "horizon_months",
    "horizon_days",
    "n_at_risk",
    "n_events",
    "n_censored",
]


def horizon_days(horizons_months: Sequence[float]) -> np.ndarray:
    """Horizons in days: months × 365.25 / 12."""
    months = np.asarray(horizons_months, dtype=float)
    if months.ndim != 1 or (months < 0).any() or np.isnan(months).any():
        raise ConfigError("horizons_months must be a list of numbers >= 0.")
    return months * DAYS_PER_MONTH


def at_risk_table(
    data: Export | pd.DataFrame,
    by: str | Sequence[str] | None = None,
    *,
    horizons_months: Sequence[float] = DEFAULT_HORIZONS_MONTHS,
    definition: ReoffendingDefinition | None = None,
) -> pd.DataFrame:
    """Numbers at risk, events and censored at each horizon, per group.

    Parameters
    ----------
    data
        An export, or the table from :func:`person_outcomes`.
    by
        Grouping column(s), or ``None`` for one overall group.
    horizons_months
        Horizons in months after the index date (converted to days as months ×
        365.25 / 12).
    definition
        The reoffending measure when ``data`` is an export.

    Returns
    -------
    pandas.DataFrame
        One row per group and horizon: the ``by`` columns, then
        :data:`AT_RISK_COLUMNS`. ``n_at_risk`` counts people still observed
        at the horizon (follow-up time >= horizon, as R's
        ``summary(survfit, times=)``); ``n_events`` and ``n_censored`` are
        cumulative counts of first reoffences and censorings up to and
        including the horizon. With whole-day follow-up times and the default
        (non-whole-day) horizons the three add up to the group size.
    """
    days = horizon_days(horizons_months)
    frame, keys, time, status = survival_frame(data, by, definition)
    rows = []
    for name, fit in kaplan_meier_fits(frame, keys, time, status):
        counts = fit.counts_at(days)
        rows.append(
            pd.DataFrame(
                {
                    **group_labels(keys, name),
                    "horizon_months": np.asarray(horizons_months, dtype=float),
                    "horizon_days": days,
                    **counts,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)[[*keys, *AT_RISK_COLUMNS]]
