"""The (stratified) log-rank test of equal time to first reoffence between groups.

Observed first reoffences of each group are compared with those expected if
every group shared one hazard: at each event time a group expects its share
of the risk set of that time's reoffences; with strata, observed and
expected are summed over the strata (R's ``survdiff``).

References
----------
Mantel, N. (1966). Evaluation of survival data and two new rank order
statistics arising in its consideration. Cancer Chemotherapy Reports
50:163-170.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._groups import group_by
from .._stats import logrank_statistic
from ..errors import ConfigError, InsufficientDataError
from ..io.export import Export
from ._survival_groups import group_codes, single_category, survival_frame
from .definition import ReoffendingDefinition

__all__ = ["LOGRANK_COLUMNS", "LogrankResult", "logrank"]

#: Columns of :attr:`LogrankResult.summary` after the grouping columns.
LOGRANK_COLUMNS: list[str] = ["n", "observed", "expected"]


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
    frame, keys, time, status = survival_frame(data, by, definition, extra=strata_keys)
    codes, names = group_codes(frame, keys)
    n_groups = len(names)
    if n_groups < 2:
        raise InsufficientDataError("logrank needs at least two groups with follow-up.")
    if status.sum() == 0:
        raise InsufficientDataError("logrank: nobody reoffended, so there is nothing to compare.")
    stratum = group_codes(frame, strata_keys)[0] if strata_keys else None
    statistic, expected = logrank_statistic(time, status, codes, stratum)
    observed = np.bincount(codes, weights=status, minlength=n_groups)
    if single_category(frame, keys):
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
