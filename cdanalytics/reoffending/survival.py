"""Cumulative reoffending by Kaplan-Meier, numbers at risk, and the log-rank test.

Follow-up differs between people (early starters are observed for longer),
so cumulative reoffending at a horizon is estimated as ``1 - S(t)`` from the
Kaplan-Meier estimate ``S`` of the time to the first counted offence, with
people censored at their end of observation, rather than as a crude
proportion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from .._groups import by_columns, group_by, group_labels
from .._stats import survival_at, survival_ci
from ..errors import ConfigError, InsufficientDataError
from ..io.export import Export
from .definition import (
    SURVIVAL_COLUMNS,
    ReoffendingDefinition,
    resolve_outcomes,
)

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

#: Horizons (months after the index date) reported by default.
DEFAULT_HORIZONS_MONTHS: tuple[float, ...] = (6, 12, 24)
#: Days in an average calendar month: a horizon of m months is m × 365.25 / 12 days.
DAYS_PER_MONTH: float = 365.25 / 12
#: Transforms for pointwise confidence intervals of S(t) (R's ``conf.type``).
CONF_TYPES: tuple[str, ...] = ("log-log", "log", "plain")

#: Columns of :func:`at_risk_table` after the grouping columns.
AT_RISK_COLUMNS: list[str] = [
    "horizon_months",
    "horizon_days",
    "n_at_risk",
    "n_events",
    "n_censored",
]
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
#: Columns of :attr:`LogrankResult.summary` after the grouping columns.
LOGRANK_COLUMNS: list[str] = ["n", "observed", "expected"]


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


@dataclass(frozen=True)
class LogrankResult:
    """A (stratified) log-rank test of equal time to reoffending between groups.

    Attributes
    ----------
    statistic, df, p_value
        The chi-square statistic, its degrees of freedom (groups - 1) and
        p-value.
    summary
        One row per group: the grouping columns, then ``n``, ``observed``
        events and ``expected`` events under the null (summed over strata),
        as in R's ``survdiff``.
    strata
        Columns the test was stratified by.
    """

    statistic: float
    df: int
    p_value: float
    summary: pd.DataFrame
    strata: tuple[str, ...] = ()

    def __repr__(self) -> str:
        """Shape and key figures: the test, groups, people and events."""
        strata = f"; stratified by {', '.join(self.strata)[:60]}" if self.strata else ""
        people = int(self.summary["n"].sum()) if "n" in self.summary else 0
        events = float(self.summary["observed"].sum()) if "observed" in self.summary else 0.0
        return (
            f"<cdanalytics.LogrankResult: chi-square {self.statistic:.4g} on {self.df} df,"
            f" p = {self.p_value:.3g}; {len(self.summary):,} groups, {people:,} people,"
            f" {events:,.0f} events{strata}>"
        )


def horizon_days(horizons_months: Sequence[float]) -> np.ndarray:
    """Horizons in days: months × 365.25 / 12."""
    months = np.asarray(horizons_months, dtype=float)
    if months.ndim != 1 or (months < 0).any() or np.isnan(months).any():
        raise ConfigError("horizons_months must be a list of numbers >= 0.")
    return months * DAYS_PER_MONTH


def _survival_frame(
    data: Export | pd.DataFrame,
    by: str | Sequence[str] | None,
    definition: ReoffendingDefinition | None,
    extra: Sequence[str] = (),
) -> tuple[pd.DataFrame, list[str]]:
    """Cohort rows with ``time`` and ``status`` (float) and the ``by`` columns."""
    cohort = resolve_outcomes(data, definition, SURVIVAL_COLUMNS)
    keys = by_columns(by, cohort)
    extra = by_columns(list(extra), cohort)
    if set(keys) & set(extra):
        raise ConfigError("a column cannot be both a group (by) and a stratum.")
    frame = cohort[[*keys, *extra]].assign(
        time=cohort["duration_days"].to_numpy(dtype=float),
        status=cohort["event"].to_numpy(dtype=float),
    )
    if frame.empty:
        raise InsufficientDataError("nobody is in the reoffending cohort (no follow-up).")
    return frame, keys


def _counts_at(time: np.ndarray, status: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """At risk at ``t`` (time >= t, R's convention) and events/censored by ``t``."""
    all_sorted = np.sort(time)
    event_sorted = np.sort(time[status == 1])
    censored_sorted = np.sort(time[status == 0])
    return {
        "n_at_risk": len(time) - np.searchsorted(all_sorted, t, side="left"),
        "n_events": np.searchsorted(event_sorted, t, side="right"),
        "n_censored": np.searchsorted(censored_sorted, t, side="right"),
    }


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
    frame, keys = _survival_frame(data, by, definition)
    rows = []
    for name, part in group_by(frame, keys):
        counts = _counts_at(part["time"].to_numpy(), part["status"].to_numpy(), days)
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
    Failure Time Data, 2nd ed. Estimates by
    ``statsmodels.duration.survfunc.SurvfuncRight``.
    """
    if conf_type not in CONF_TYPES:
        raise ConfigError(f"conf_type must be one of {', '.join(CONF_TYPES)}.")
    days = horizon_days(horizons_months)
    frame, keys = _survival_frame(data, by, definition)
    horizons, curves, medians = [], [], []
    for name, part in group_by(frame, keys):
        labels = group_labels(keys, name)
        time = part["time"].to_numpy()
        status = part["status"].to_numpy()
        fit = SurvfuncRight(time, status)

        surv, se = survival_at(fit, days)
        low, high = survival_ci(surv, se, conf_type, alpha)
        beyond = days > time.max()
        horizons.append(
            pd.DataFrame(
                {
                    **labels,
                    "horizon_months": np.asarray(horizons_months, dtype=float),
                    "horizon_days": days,
                    **_counts_at(time, status, days),
                    "cumulative": np.where(beyond, np.nan, 1 - surv),
                    "std_err": np.where(beyond, np.nan, se),
                    "ci_low": np.where(beyond, np.nan, 1 - high),
                    "ci_high": np.where(beyond, np.nan, 1 - low),
                }
            )
        )

        curve = _curve(time, status, fit, conf_type, alpha)
        curves.append(curve.assign(**labels))
        medians.append(
            {
                **labels,
                "n": len(time),
                "n_events": int(status.sum()),
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


def _curve(
    time: np.ndarray, status: np.ndarray, fit: SurvfuncRight, conf_type: str, alpha: float
) -> pd.DataFrame:
    """The step function at every distinct follow-up time, from time 0."""
    times, inverse = np.unique(time, return_inverse=True)
    n_events = np.bincount(inverse, weights=status).astype(np.int64)
    n_all = np.bincount(inverse)
    n_at_risk = np.cumsum(n_all[::-1])[::-1]
    if times[0] > 0:
        times = np.concatenate([[0.0], times])
        n_events = np.concatenate([[0], n_events])
        n_all = np.concatenate([[0], n_all])
        n_at_risk = np.concatenate([[len(time)], n_at_risk])
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


def logrank(
    data: Export | pd.DataFrame,
    by: str | Sequence[str] = "group",
    *,
    strata: str | Sequence[str] | None = None,
    definition: ReoffendingDefinition | None = None,
) -> LogrankResult:
    """Log-rank test of equal time to first reoffence across groups.

    Parameters
    ----------
    data
        An export, or the table from :func:`person_outcomes`.
    by
        Column(s) whose combinations are the groups compared (default
        ``"group"``: programme against comparison).
    strata
        Column(s) to stratify by: observed and expected events are summed
        over strata (R's ``survdiff(... + strata(x))``).
    definition
        The reoffending measure when ``data`` is an export.

    Returns
    -------
    LogrankResult

    Raises
    ------
    InsufficientDataError
        Fewer than two groups, or no events.

    References
    ----------
    Mantel, N. (1966). Evaluation of survival data and two new rank order
    statistics arising in its consideration. Cancer Chemotherapy Reports
    50:163-170. Statistic by ``statsmodels.duration.survfunc.survdiff``.
    """
    if by is None:
        raise ConfigError("logrank needs by=: the column(s) defining the groups to compare.")
    strata_keys = [] if strata is None else ([strata] if isinstance(strata, str) else list(strata))
    frame, keys = _survival_frame(data, by, definition, extra=strata_keys)
    groups = group_by(frame, keys)
    codes = groups.ngroup().to_numpy()
    n_groups = groups.ngroups
    if n_groups < 2:
        raise InsufficientDataError("logrank needs at least two groups with follow-up.")
    time = frame["time"].to_numpy()
    status = frame["status"].to_numpy()
    if status.sum() == 0:
        raise InsufficientDataError("logrank: nobody reoffended, so there is nothing to compare.")
    stratum = group_by(frame, strata_keys).ngroup().to_numpy()
    statistic, _ = survdiff(time, status, codes, strata=stratum if strata_keys else None)

    observed = np.bincount(codes, weights=status, minlength=n_groups)
    expected = np.zeros(n_groups)
    for s in np.unique(stratum):
        rows = stratum == s
        expected += _expected_events(time[rows], status[rows], codes[rows], n_groups)
    summary = groups.size().reset_index(name="n") if keys else pd.DataFrame({"n": [len(frame)]})
    summary = summary.assign(observed=observed, expected=expected)
    return LogrankResult(
        statistic=float(statistic),
        df=n_groups - 1,
        p_value=float(stats.chi2.sf(statistic, n_groups - 1)),
        summary=summary[[*keys, *LOGRANK_COLUMNS]],
        strata=tuple(strata_keys),
    )


def _expected_events(
    time: np.ndarray, status: np.ndarray, codes: np.ndarray, n_groups: int
) -> np.ndarray:
    """Expected events per group under equal hazards: sum over times of d·n_g/n."""
    times, inverse = np.unique(time, return_inverse=True)
    n_times = len(times)
    at_time = np.bincount(inverse * n_groups + codes, minlength=n_times * n_groups)
    at_risk = np.cumsum(at_time.reshape(n_times, n_groups)[::-1], axis=0)[::-1]
    deaths = np.bincount(inverse, weights=status, minlength=n_times)
    return (deaths[:, None] * at_risk / at_risk.sum(axis=1, keepdims=True)).sum(axis=0)
