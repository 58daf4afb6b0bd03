"""Cumulative reoffending by Kaplan-Meier: horizons, the whole curve, median times.

Follow-up differs between people (early starters are observed for longer),
so cumulative reoffending at a horizon is estimated as ``1 - S(t)`` from the
Kaplan-Meier estimate ``S`` of the time to the first counted offence, with
people censored at their end of observation, rather than as a crude
proportion.

The numbers at risk at the horizons are :mod:`.at_risk`'s and the log-rank
test is :mod:`.log_rank`'s; both are also importable from here.

References
----------
Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete
observations. JASA 53:457-481.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .._groups import group_labels
from .._stats import KaplanMeier, survival_at, survival_ci
from ..errors import ConfigError
from ..io.export import Export
from ._survival_groups import kaplan_meier_fits, survival_frame
from .at_risk import (
    AT_RISK_COLUMNS,
    DAYS_PER_MONTH,
    DEFAULT_HORIZONS_MONTHS,
    at_risk_table,
    horizon_days,
)
from .definition import ReoffendingDefinition
from .log_rank import LOGRANK_COLUMNS, LogrankResult, logrank

__all__ = [
    "AT_RISK_COLUMNS",
    "CONF_TYPES",
    "CURVE_COLUMNS",
    "DAYS_PER_MONTH",
    "DEFAULT_HORIZONS_MONTHS",
    "HORIZON_COLUMNS",
    "LOGRANK_COLUMNS",
    "MEDIAN_COLUMNS",
    "CumulativeReoffending",
    "LogrankResult",
    "at_risk_table",
    "cumulative_reoffending",
    "logrank",
]

#: Transforms for pointwise confidence intervals of S(t) (R's ``conf.type``).
CONF_TYPES: tuple[str, ...] = ("log-log", "log", "plain")

#: Columns of :attr:`CumulativeReoffending.horizons` after the grouping columns.
HORIZON_COLUMNS: list[str] = [*AT_RISK_COLUMNS, "cumulative", "std_err", "ci_low", "ci_high"]
#: Columns of :attr:`CumulativeReoffending.curve` after the grouping columns.
CURVE_COLUMNS: list[str] = [
    "time_days",
    "time_months",
    "n_at_risk",
    "n_events",
    "n_censored",
    "survival",
    "cumulative",
    "std_err",
    "ci_low",
    "ci_high",
]
#: Columns of :attr:`CumulativeReoffending.medians` after the grouping columns.
MEDIAN_COLUMNS: list[str] = [
    "n",
    "n_events",
    "median_days",
    "median_ci_low",
    "median_ci_high",
]


@dataclass(frozen=True)
class CumulativeReoffending:
    """Kaplan-Meier cumulative reoffending per group.

    Attributes
    ----------
    horizons
        One row per group and horizon: the grouping columns, then
        :data:`HORIZON_COLUMNS`: the :func:`at_risk_table` counts, and
        ``cumulative`` = 1 - S(t) with its Greenwood standard error
        ``std_err`` (that of S(t), R's ``std.err`` of ``summary(survfit)``)
        and its pointwise interval ``ci_low``, ``ci_high``. NaN beyond the
        group's longest follow-up (the curve is not defined there). Where
        S(t) = 0 (everyone still observed has reoffended) the standard error
        and the interval are NaN, as in R.
    curve
        The whole step function: one row per group and distinct follow-up
        time (event or censoring), starting at time 0; columns
        :data:`CURVE_COLUMNS`. ``n_at_risk`` is the number still observed
        just before ``time_days``; ``n_events`` and ``n_censored`` happen at
        ``time_days``; the estimates hold from ``time_days`` on.
    medians
        One row per group: :data:`MEDIAN_COLUMNS`. The median time to
        reoffending in days where cumulative reoffending reaches 50%, else
        NaN, with the interval read off the confidence band (R's
        ``print.survfit`` rule, including its midpoint rule when S(t) is
        exactly 0.5 over an interval).
    conf_type, alpha
        The interval transform and 1 - confidence level used.
    """

    horizons: pd.DataFrame
    curve: pd.DataFrame
    medians: pd.DataFrame
    conf_type: str
    alpha: float

    def __repr__(self) -> str:
        """Shape and key figures: groups, horizons, steps of the curve, the interval."""
        keys = [c for c in self.horizons.columns if c not in HORIZON_COLUMNS]
        groups = len(self.horizons[keys].drop_duplicates()) if keys else 1
        horizons = self.horizons["horizon_months"].nunique()
        by = f" by {', '.join(keys)[:60]}" if keys else ""
        return (
            f"<cdanalytics.CumulativeReoffending: {groups:,} group(s){by}, {horizons} horizons,"
            f" curve of {len(self.curve):,} steps; {1 - self.alpha:.0%} {self.conf_type}"
            " intervals>"
        )

    @property
    def summary(self) -> pd.DataFrame:
        """The horizons table."""
        return self.horizons


def _median_time(times: np.ndarray, surv: np.ndarray) -> float:
    """First time S(t) <= 0.5, with R's midpoint rule when S is exactly 0.5.

    Mirrors ``minmin`` in R's ``print.survfit``: when S(t) equals 0.5 (to
    within sqrt(machine epsilon)) the median is the midpoint between t and
    the next time S drops below 0.5.
    """
    tolerance = np.sqrt(np.finfo(float).eps)
    keep = ~np.isnan(surv) & (surv < 0.5 + tolerance)
    if not keep.any():
        return np.nan
    t, y = times[keep], surv[keep]
    lower = y < y[0]
    if abs(y[0] - 0.5) < tolerance and lower.any():
        return float((t[0] + t[np.argmax(lower)]) / 2)
    return float(t[0])


def cumulative_reoffending(
    data: Export | pd.DataFrame,
    by: str | Sequence[str] | None = None,
    *,
    horizons_months: Sequence[float] = DEFAULT_HORIZONS_MONTHS,
    conf_type: Literal["log-log", "log", "plain"] = "log-log",
    alpha: float = 0.05,
    definition: ReoffendingDefinition | None = None,
) -> CumulativeReoffending:
    """Kaplan-Meier cumulative reoffending (1 - S(t)) per group, with 95% CIs.

    Parameters
    ----------
    data
        An export, or the table from :func:`person_outcomes`.
    by
        Grouping column(s), or ``None`` for one overall curve.
    horizons_months
        Horizons for the horizons table (months × 365.25 / 12 days).
    conf_type
        Transform of the pointwise interval: ``"log-log"`` (default; the
        interval for log(-log S), which stays inside [0, 1] and behaves well
        at the small cumulative proportions typical early in follow-up; as
        R's ``conf.type = "log-log"``, lifelines and Stata), ``"log"`` (R's
        default) or ``"plain"``.
    alpha
        1 - confidence level.
    definition
        The reoffending measure when ``data`` is an export.

    Returns
    -------
    CumulativeReoffending
        ``horizons``, ``curve`` and ``medians`` tables (see the class).

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from
    incomplete observations. JASA 53:457-481. Greenwood's variance;
    Kalbfleisch, J. D. & Prentice, R. L. (2002). The Statistical Analysis of
    Failure Time Data, 2nd ed. Estimates by :func:`cdanalytics._stats.kaplan_meier`
    (statsmodels' ``SurvfuncRight`` arithmetic in one counting pass).

    Examples
    --------
    Eight people followed for up to a year; ``event`` marks a first
    reoffence at ``duration_days``, otherwise follow-up ended then. By hand,
    S(30) = 7/8, S(60) = 7/8 x 6/7, S(90) = S(60) x 4/5 and
    S(200) = S(90) x 2/3 (the censored people leave the risk set):

    >>> import pandas as pd
    >>> people = pd.DataFrame({
    ...     "duration_days": [30, 60, 60, 90, 120, 200, 365, 365],
    ...     "event": [1, 1, 0, 1, 0, 1, 0, 0],
    ... })
    >>> km = cumulative_reoffending(people, horizons_months=[3, 7])
    >>> km.curve[["time_days", "n_at_risk", "n_events", "cumulative"]].round(3).values.tolist()
    [[0.0, 8.0, 0.0, 0.0], [30.0, 8.0, 1.0, 0.125], [60.0, 7.0, 1.0, 0.25],
     [90.0, 5.0, 1.0, 0.4], [120.0, 4.0, 0.0, 0.4], [200.0, 3.0, 1.0, 0.6],
     [365.0, 2.0, 0.0, 0.6]]
    >>> [round(1 - s, 3) for s in (7 / 8, 7 / 8 * 6 / 7, 7 / 8 * 6 / 7 * 4 / 5, 0.6 * 2 / 3)]
    [0.125, 0.25, 0.4, 0.6]
    >>> km.horizons[["horizon_days", "cumulative"]].round(3).values.tolist()
    [[91.312, 0.4], [213.062, 0.6]]
    """
    if conf_type not in CONF_TYPES:
        raise ConfigError(f"conf_type must be one of {', '.join(CONF_TYPES)}.")
    days = horizon_days(horizons_months)
    frame, keys, all_time, all_status = survival_frame(data, by, definition)
    horizons, curves, medians = [], [], []
    for name, fit in kaplan_meier_fits(frame, keys, all_time, all_status):
        labels = group_labels(keys, name)
        n = int(fit.n_all.sum())

        surv, se = survival_at(fit, days)
        low, high = survival_ci(surv, se, conf_type, alpha)
        beyond = days > fit.times[-1]
        horizons.append(
            pd.DataFrame(
                {
                    **labels,
                    "horizon_months": np.asarray(horizons_months, dtype=float),
                    "horizon_days": days,
                    **fit.counts_at(days),
                    "cumulative": np.where(beyond, np.nan, 1 - surv),
                    "std_err": np.where(beyond, np.nan, se),
                    "ci_low": np.where(beyond, np.nan, 1 - high),
                    "ci_high": np.where(beyond, np.nan, 1 - low),
                }
            )
        )

        curve = _curve(fit, n, conf_type, alpha)
        curves.append(curve.assign(**labels))
        medians.append(
            {
                **labels,
                "n": n,
                "n_events": int(fit.n_events.sum()),
                "median_days": _median_time(
                    curve["time_days"].to_numpy(), curve["survival"].to_numpy()
                ),
                # The lower survival limit (1 - ci_high) crosses 0.5 first.
                "median_ci_low": _median_time(
                    curve["time_days"].to_numpy(), 1 - curve["ci_high"].to_numpy()
                ),
                "median_ci_high": _median_time(
                    curve["time_days"].to_numpy(), 1 - curve["ci_low"].to_numpy()
                ),
            }
        )
    return CumulativeReoffending(
        horizons=pd.concat(horizons, ignore_index=True)[[*keys, *HORIZON_COLUMNS]],
        curve=pd.concat(curves, ignore_index=True)[[*keys, *CURVE_COLUMNS]],
        medians=pd.DataFrame(medians, columns=[*keys, *MEDIAN_COLUMNS]),
        conf_type=conf_type,
        alpha=alpha,
    )


def _curve(fit: KaplanMeier, n: int, conf_type: str, alpha: float) -> pd.DataFrame:
    """The step function at every distinct follow-up time, from time 0."""
    times, n_events, n_all, n_at_risk = fit.times, fit.n_events, fit.n_all, fit.n_at_risk
    if times[0] > 0:
        times = np.concatenate([[0.0], times])
        n_events = np.concatenate([[0], n_events])
        n_all = np.concatenate([[0], n_all])
        n_at_risk = np.concatenate([[n], n_at_risk])
    surv, se = survival_at(fit, times)
    low, high = survival_ci(surv, se, conf_type, alpha)
    return pd.DataFrame(
        {
            "time_days": times,
            "time_months": times / DAYS_PER_MONTH,
            "n_at_risk": n_at_risk,
            "n_events": n_events,
            "n_censored": n_all - n_events,
            "survival": surv,
            "cumulative": 1 - surv,
            "std_err": se,
            "ci_low": 1 - high,
            "ci_high": 1 - low,
        }
    )
