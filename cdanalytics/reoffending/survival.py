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
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from .._groups import by_columns, group_by, group_labels
from .._stats import (
    KaplanMeier,
    kaplan_meier_groups,
    logrank_statistic,
    survival_at,
    survival_ci,
)
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
) -> tuple[pd.DataFrame, list[str], np.ndarray, np.ndarray]:
    """(the ``by`` and ``extra`` columns of the cohort rows, the ``by``
    names, their follow-up ``time`` (float) and ``status``: boolean for a
    boolean ``event`` column (the outcome table's), else float)."""
    names = [by] if isinstance(by, str) else list(by or [])
    names += [extra] if isinstance(extra, str) else list(extra)
    cohort = resolve_outcomes(data, definition, SURVIVAL_COLUMNS, columns=names)
    keys = by_columns(by, cohort)
    extra = by_columns(list(extra), cohort)
    if set(keys) & set(extra):
        raise ConfigError("a column cannot be both a group (by) and a stratum.")
    if cohort.empty:
        raise InsufficientDataError("nobody is in the reoffending cohort (no follow-up).")
    time = cohort["duration_days"].to_numpy(dtype=float)
    event = cohort["event"]
    status = event.to_numpy(dtype=bool if pd.api.types.is_bool_dtype(event.dtype) else float)
    return cohort[[*keys, *extra]], keys, time, status


def _single_category(frame: pd.DataFrame, keys: list[str]) -> bool:
    """Whether the groups are the levels of one categorical column."""
    return len(keys) == 1 and isinstance(frame[keys[0]].dtype, pd.CategoricalDtype)


def _group_codes(
    frame: pd.DataFrame, keys: list[str], *, maybe_empty: bool = False
) -> tuple[np.ndarray, list[Any]]:
    """(group 0..G-1 of each row, the G group names), in :func:`group_by`'s
    order (sorted, only groups present, missing values a group of their own
    after the others); one group of all rows (name ``None``) without
    ``keys``. The groups of one categorical column are read from its codes
    (no grouping of the rows); other keys go through :func:`group_by`.
    ``maybe_empty``: a categorical column without missing values may give
    every level, present or not, as is (the caller drops the empty ones)."""
    if not keys:
        return np.zeros(len(frame), dtype=np.intp), [None]
    if _single_category(frame, keys):
        column = frame[keys[0]]
        levels = column.cat.categories
        codes = column.cat.codes.to_numpy()  # -1: missing, read as the last of levels + 1
        if codes.size and codes.min() >= 0:
            if maybe_empty:
                return codes, list(levels)
            seen = np.flatnonzero(np.bincount(codes, minlength=levels.size))
            if seen.size == levels.size:  # every level, none missing: the codes are the groups
                return codes, list(levels)
        seen = np.flatnonzero(np.bincount(codes + 1, minlength=levels.size + 1))
        seen = np.r_[seen[seen > 0], seen[:1][seen[:1] == 0]] - 1  # missing (-1) last
        dense = np.zeros(levels.size + 1, dtype=np.min_scalar_type(levels.size))
        dense[seen] = np.arange(seen.size)
        names = [levels[i] if i >= 0 else np.nan for i in seen]
        return dense[codes], names
    indices = group_by(frame, keys).indices
    codes = np.empty(len(frame), dtype=np.intp)
    for code, rows in enumerate(indices.values()):
        codes[rows] = code
    return codes, list(indices)


def _fits(
    frame: pd.DataFrame, keys: list[str], time: np.ndarray, status: np.ndarray
) -> list[tuple[Any, KaplanMeier]]:
    """(group name, its Kaplan-Meier fit) of each group, in :func:`group_by`'s order."""
    codes, names = _group_codes(frame, keys, maybe_empty=True)
    fits = kaplan_meier_groups(time, status, codes, len(names))
    return [(name, fit) for name, fit in zip(names, fits, strict=True) if fit.times.size]


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
    frame, keys, time, status = _survival_frame(data, by, definition)
    rows = []
    for name, fit in _fits(frame, keys, time, status):
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
    frame, keys, all_time, all_status = _survival_frame(data, by, definition)
    horizons, curves, medians = [], [], []
    for name, fit in _fits(frame, keys, all_time, all_status):
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
    50:163-170. Statistic by :func:`cdanalytics._stats.logrank_statistic`
    (the arithmetic of statsmodels' ``survdiff``).

    Examples
    --------
    Programme and comparison people alternate in this table. The expected
    comparison reoffences sum the comparison share of each risk set over the
    four event days: 4/8 + 4/7 + 3/5 + 2/3 = 2.338 (3 observed). scipy's
    log-rank test gives the same chi-square (the square of its z) and p-value:

    >>> import numpy as np
    >>> import pandas as pd
    >>> from scipy import stats
    >>> people = pd.DataFrame({
    ...     "duration_days": [30, 60, 60, 90, 120, 200, 365, 365],
    ...     "event": [1, 1, 0, 1, 0, 1, 0, 0],
    ...     "group": ["programme", "comparison"] * 4,
    ... })
    >>> result = logrank(people, "group")
    >>> result.summary[["group", "observed", "expected"]].round(3).values.tolist()
    [['comparison', 3.0, 2.338], ['programme', 1.0, 1.662]]
    >>> round(4 / 8 + 4 / 7 + 3 / 5 + 2 / 3, 3)
    2.338
    >>> round(float(result.statistic), 4), round(float(result.p_value), 4)
    (0.4577, 0.4987)
    >>> def censored(g):
    ...     rows = people[people["group"] == g]
    ...     days, event = rows["duration_days"], rows["event"] == 1
    ...     return stats.CensoredData(uncensored=days[event], right=days[~event])
    >>> check = stats.logrank(censored("programme"), censored("comparison"))
    >>> round(float(check.statistic) ** 2, 4), round(float(check.pvalue), 4)
    (0.4577, 0.4987)
    """
    if by is None:
        raise ConfigError("logrank needs by=: the column(s) defining the groups to compare.")
    strata_keys = [] if strata is None else ([strata] if isinstance(strata, str) else list(strata))
    frame, keys, time, status = _survival_frame(data, by, definition, extra=strata_keys)
    codes, names = _group_codes(frame, keys)
    n_groups = len(names)
    if n_groups < 2:
        raise InsufficientDataError("logrank needs at least two groups with follow-up.")
    if status.sum() == 0:
        raise InsufficientDataError("logrank: nobody reoffended, so there is nothing to compare.")
    stratum = _group_codes(frame, strata_keys)[0] if strata_keys else None
    statistic, expected = logrank_statistic(time, status, codes, stratum)
    observed = np.bincount(codes, weights=status, minlength=n_groups)
    if _single_category(frame, keys):
        column = frame[keys[0]]
        sizes = np.bincount(codes, minlength=n_groups)
        summary = pd.DataFrame({keys[0]: pd.Categorical(names, dtype=column.dtype), "n": sizes})
    else:
        summary = group_by(frame, keys).size().reset_index(name="n")
    summary = summary.assign(observed=observed, expected=expected)
    return LogrankResult(
        statistic=float(statistic),
        df=n_groups - 1,
        p_value=float(stats.chi2.sf(statistic, n_groups - 1)),
        summary=summary[[*keys, *LOGRANK_COLUMNS]],
        strata=tuple(strata_keys),
    )
