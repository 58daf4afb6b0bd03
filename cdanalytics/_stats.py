"""Small statistical helpers shared by the analysis modules."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import special, stats

__all__ = [
    "KaplanMeier",
    "counts_by_time",
    "day_sort_key",
    "distinct_rows",
    "distinct_times",
    "kaplan_meier",
    "kaplan_meier_groups",
    "logrank_statistic",
    "survival_at",
    "survival_ci",
    "wilson_ci",
]

#: Whole-number times spanning at most this many values per row are ranked
#: by counting (``np.bincount``) instead of sorting.
_COUNTING_SPAN_PER_ROW = 4


class SurvivalFit(Protocol):
    """A fitted Kaplan-Meier curve: :class:`KaplanMeier`, or statsmodels'
    ``SurvfuncRight``."""

    surv_times: np.ndarray
    surv_prob: np.ndarray
    surv_prob_se: np.ndarray


def wilson_ci(count, nobs, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for binomial proportions, vectorised.

    Parameters
    ----------
    count, nobs
        Array-likes of successes and trials. Where ``nobs`` is 0 both limits
        are NaN.
    alpha
        1 - confidence level.

    Returns
    -------
    (ci_low, ci_high)
        Arrays of the lower and upper limits.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and
    statistical inference. JASA 22:209-212. The arithmetic of
    ``statsmodels.stats.proportion.proportion_confint(method="wilson")``,
    operation for operation (the same limits to the last bit, without its
    per-call argument handling).
    """
    count = np.asarray(count, dtype=float)
    nobs = np.asarray(nobs, dtype=float)
    safe = np.where(nobs > 0, nobs, 1.0)
    crit = -special.ndtri(alpha / 2.0)  # stats.norm.isf(alpha / 2), as statsmodels
    crit2 = crit**2
    share = count / safe
    denom = 1 + crit2 / safe
    center = (share + crit2 / (2 * safe)) / denom
    dist = crit * np.sqrt(share * (1.0 - share) / safe + crit2 / (4.0 * safe**2))
    dist /= denom
    empty = nobs <= 0
    # Rounding noise (about 1e-17) at the bounds 0 and 1 clipped, as statsmodels does.
    low, high = np.clip(center - dist, 0.0, 1.0), np.clip(center + dist, 0.0, 1.0)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def survival_at(fit: SurvivalFit, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier S(t) and its Greenwood standard error at times ``t``.

    The right-continuous step function of a fitted :class:`KaplanMeier`
    (or ``statsmodels.duration.survfunc.SurvfuncRight``): 1 (standard error 0)
    before the first event time. The standard error is that of S itself,
    S·sqrt(sum d/(n(n - d))), R's ``std.err`` in ``summary(survfit)``; NaN
    where S = 0 (the sum is infinite), as R prints.
    """
    pos = np.searchsorted(fit.surv_times, t, side="right")
    return np.r_[1.0, fit.surv_prob][pos], np.r_[0.0, fit.surv_prob_se][pos]


def survival_ci(
    surv: np.ndarray, se: np.ndarray, conf_type: str = "log-log", alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise (lower, upper) limits of S(t) from Greenwood's standard error.

    ``log``: S·exp(±z·σ); ``log-log``: exp(-exp(log(-log S) ± z·σ/|log S|));
    ``plain``: S ± z·se, where σ = se/S is the standard error of log S (R's
    ``survfit`` ``conf.type``). Where S = 1 (before the first event) both
    limits are 1. Where S = 0 the interval is undefined and both limits are
    NaN, as R gives (Greenwood's variance of log S is infinite there, and
    log(-log S) is not defined); ``survival_at`` gives a NaN standard error
    there, which the ``log`` and ``plain`` transforms carry through.

    References
    ----------
    Kalbfleisch, J. D. & Prentice, R. L. (2002). The Statistical Analysis of
    Failure Time Data, 2nd ed., section 1.4.
    """
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = se / surv
        if conf_type == "log":
            low = surv * np.exp(-z * sigma)
            high = np.minimum(surv * np.exp(z * sigma), 1.0)
        elif conf_type == "log-log":
            log_s = np.log(surv)
            spread = z * sigma / np.abs(log_s)
            low = np.exp(-np.exp(np.log(-log_s) + spread))
            high = np.exp(-np.exp(np.log(-log_s) - spread))
            low = np.where(surv == 0, np.nan, low)
            high = np.where(surv == 0, np.nan, high)
        else:
            low = np.clip(surv - z * se, 0.0, 1.0)
            high = np.clip(surv + z * se, 0.0, 1.0)
    at_one = surv == 1
    return np.where(at_one, 1.0, low), np.where(at_one, 1.0, high)


def distinct_times(time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, index of each value among them): what
    ``np.unique(time, return_inverse=True)`` gives. Whole numbers in a span
    of at most a few per value (days of follow-up) are counted in one pass
    with ``np.bincount`` instead of sorted."""
    time = np.asarray(time, dtype=float)
    days = _day_offsets(time)
    if days is None:
        return np.unique(time, return_inverse=True)
    low, span, offset = days
    present = np.bincount(offset, minlength=span + 1) > 0
    rank = np.cumsum(present) - 1
    return low + np.flatnonzero(present), rank[offset]


def _day_offsets(time: np.ndarray) -> tuple[float, int, np.ndarray] | None:
    """(lowest value, highest - lowest, each value - lowest as integers) when
    the values are whole numbers in a span of at most a few per value;
    ``None`` otherwise."""
    if time.size:
        low, high = time.min(), time.max()
        span = high - low
        if (
            np.isfinite(span)
            and span <= _COUNTING_SPAN_PER_ROW * time.size + 1024
            and max(-low, high) < 2**52
        ):
            offset = time.astype(np.intp)  # exact for whole numbers below 2**52
            if (offset == time).all():
                offset -= int(low)
                return low, int(span), offset
    return None


def counts_by_time(
    time: np.ndarray,
    status: np.ndarray,
    group: np.ndarray | None = None,
    n_groups: int = 1,
    max_cells: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(sorted distinct times, rows and events of each group at each time):
    ``times``, then two arrays of times × groups (rows as integers, events
    as floats: the sums of ``status``, 0/1 or boolean), from one ``np.bincount`` each over
    the (time, group) cells, whole days counted without sorting (see
    :func:`distinct_times`). ``group``: 0..n_groups-1 of each row (``None``
    with one group). ``None`` when the cells would outnumber ``max_cells``."""
    time, status = np.asarray(time, dtype=float), np.asarray(status)
    days = _day_offsets(time)
    if days is None:
        times, cell = np.unique(time, return_inverse=True)
        width = times.size
    else:
        low, span, cell = days
        width = span + 1
    size = width * n_groups
    if max_cells is not None and size > max_cells:
        return None
    if n_groups > 1:
        cell *= n_groups
        cell += group
    n_all = np.bincount(cell, minlength=size).reshape(width, n_groups)
    if status.dtype == bool:  # the events' cells counted: no float copy of every row
        n_events = np.bincount(cell[status], minlength=size).astype(float)
    else:
        n_events = np.bincount(cell, weights=status, minlength=size)
    n_events = n_events.reshape(width, n_groups)
    if days is not None:  # only the days someone's follow-up ends
        seen = np.flatnonzero(n_all.any(axis=1))
        times, n_all, n_events = low + seen, n_all[seen], n_events[seen]
    return times, n_all, n_events


def day_sort_key(time: np.ndarray, later: np.ndarray, stratum: np.ndarray) -> np.ndarray | None:
    """(stratum, time, later) as one 16-bit key in the same order, so that
    a stable sort of it (a radix sort) gives ``np.lexsort((later, time,
    stratum))``'s order; when the times are whole numbers (days), the strata
    integers and strata × times × 2 fit in 16 bits; ``None`` otherwise."""
    if stratum.dtype.kind not in "biu" or time.dtype.kind != "f" or time.size == 0:
        return None
    low, high = time.min(), time.max()
    first, last = int(stratum.min()), int(stratum.max())
    if not np.isfinite(high - low) or (last - first + 1) * 2 * (high - low + 1) > 2**16:
        return None
    work = np.floor(time)
    if not (work == time).all():
        return None
    np.subtract(time, low, out=work)
    key = work.astype(np.uint16)
    key <<= 1
    key |= later
    if last > first:
        key += (stratum - first).astype(np.uint16) * np.uint16(2 * (high - low + 1))
    return key


def distinct_rows(
    exog: np.ndarray, max_values: int, rows_per_pattern: int, chunk_values: int = 2**17
) -> tuple[np.ndarray, np.ndarray] | None:
    """(the distinct rows of ``exog`` in order of first appearance, the
    number of each row's among them as int32) when they are few: at most
    ``max_values`` values in them and one per ``rows_per_pattern`` rows;
    ``None`` otherwise (also with NaN). Rows are told apart by a random
    linear combination of their values, then checked value by value (in
    chunks of about ``chunk_values``) against the distinct row they were
    given, ``None`` if any differs: the result is exact."""
    exog = np.asarray(exog, dtype=float)
    n, p = exog.shape
    most = min(n // rows_per_pattern, max_values // max(p, 1))
    if most < 1:
        return None
    combination = np.random.default_rng(16).uniform(1.0, 2.0, p)
    if pd.unique(exog[: 2 * most + 1] @ combination).size > most:  # many in the first rows
        return None
    codes, distinct = pd.factorize(exog @ combination)
    if distinct.size > most or codes.size == 0 or codes.min() < 0:  # many, or NaN
        return None
    # Codes are numbered in order of first appearance.
    first = np.flatnonzero(np.r_[True, codes[1:] > np.maximum.accumulate(codes)[:-1]])
    patterns = np.ascontiguousarray(exog[first])
    chunk = max(1024, chunk_values // max(p, 1))
    for lo in range(0, n, chunk):
        if not np.array_equal(exog[lo : lo + chunk], patterns[codes[lo : lo + chunk]]):
            return None
    return patterns, codes.astype(np.int32)


@dataclass(frozen=True)
class KaplanMeier:
    """Kaplan-Meier estimate of one group.

    Attributes
    ----------
    times
        Distinct follow-up times (events or censorings), sorted.
    n_at_risk, n_events, n_all
        At each of ``times``: people still observed just before it, first
        events at it, and everybody whose follow-up ends at it.
    surv_times, surv_prob, surv_prob_se
        The event times (``times`` with an event), S(t) there and its
        Greenwood standard error (that of S), as statsmodels'
        ``SurvfuncRight``, so :func:`survival_at` reads either.
    """

    times: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray
    n_all: np.ndarray
    surv_times: np.ndarray
    surv_prob: np.ndarray
    surv_prob_se: np.ndarray

    def counts_at(self, t: np.ndarray) -> dict[str, np.ndarray]:
        """At risk at ``t`` (time >= t, R's convention) and events and
        censorings by ``t`` (time <= t)."""
        before = np.r_[0, np.cumsum(self.n_all)]
        events = np.r_[0, np.cumsum(self.n_events)]
        left = np.searchsorted(self.times, t, side="left")
        right = np.searchsorted(self.times, t, side="right")
        return {
            "n_at_risk": before[-1] - before[left],
            "n_events": events[right],
            "n_censored": before[right] - events[right],
        }


def kaplan_meier(time: np.ndarray, status: np.ndarray) -> KaplanMeier:
    """Kaplan-Meier estimate and Greenwood standard error of right-censored
    ``time`` (``status`` 1: event, 0: censored), from one pass of counts
    over the distinct times.

    The arithmetic is statsmodels' ``SurvfuncRight`` (S as the exponential
    of the cumulative sum of log(1 - d/n), 0 where d = n; Greenwood's
    standard error S·sqrt(Σ d/(n(n - d))), NaN where S = 0), which the tests
    compare it with, and lifelines' ``KaplanMeierFitter``.

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from
    incomplete observations. JASA 53:457-481.
    """
    times, n_all, n_events = counts_by_time(time, status)
    return _kaplan_meier_counts(times, n_all[:, 0], n_events[:, 0].astype(np.int64))


def kaplan_meier_groups(
    time: np.ndarray, status: np.ndarray, group: np.ndarray, n_groups: int
) -> list[KaplanMeier]:
    """:func:`kaplan_meier` of each group 0..n_groups-1 (``group``: the
    group of each row; a group without rows gets a fit without times), the
    same numbers: the people and events of every
    (time, group) are counted in one ``np.bincount`` each
    (:func:`counts_by_time`), instead of gathering each group's rows. When
    that would be far more cells than rows (many groups of continuous
    times), each group is gathered and fitted alone."""
    time = np.asarray(time, dtype=float)
    counts = counts_by_time(time, status, group, n_groups, max_cells=4 * time.size + 2**20)
    if counts is None:
        order = np.argsort(group, kind="stable")
        bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
        return [
            kaplan_meier(time[order[lo:hi]], status[order[lo:hi]])
            for lo, hi in itertools.pairwise(bounds)
        ]
    times, n_all, n_events = counts
    n_events = n_events.astype(np.int64)
    fits = []
    for g in range(n_groups):
        seen = np.flatnonzero(n_all[:, g])
        fits.append(_kaplan_meier_counts(times[seen], n_all[seen, g], n_events[seen, g]))
    return fits


def _kaplan_meier_counts(times: np.ndarray, n_all: np.ndarray, n_events: np.ndarray) -> KaplanMeier:
    """The estimate from the people (``n_all``) and events whose follow-up
    ends at each of the sorted distinct ``times``."""
    n_at_risk = np.cumsum(n_all[::-1])[::-1]
    keep = np.flatnonzero(n_events > 0)
    d, n = n_events[keep].astype(float), n_at_risk[keep].astype(float)
    surv = 1 - d / n
    zero = surv < 1e-16
    surv[zero] = 1e-16
    surv = np.exp(np.cumsum(np.log(surv)))
    surv[zero] = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = d / np.clip(n * (n - d), 1e-12, np.inf)
    greenwood[n == d] = np.nan
    se = np.sqrt(np.cumsum(greenwood))
    finite = np.isfinite(se) | (surv != 0)
    se[finite] *= surv[finite]
    se[~finite] = np.nan
    return KaplanMeier(
        times=times,
        n_at_risk=n_at_risk,
        n_events=n_events,
        n_all=n_all,
        surv_times=times[keep],
        surv_prob=surv,
        surv_prob_se=se,
    )


def logrank_statistic(
    time: np.ndarray, status: np.ndarray, group: np.ndarray, stratum: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Log-rank chi-square statistic of groups 0..G-1 (summed over strata)
    and the expected events of each group under equal hazards.

    At each distinct time of a stratum with n people at risk (n_g in group
    g) and d events: O - E = Σ (d_g - d·n_g/n) and the variance
    Σ d (n - d)/(n - 1) · (n_g/n)(δ_gh - n_h/n) over times with n > 1,
    for groups 1..G-1; statistic (O - E)' V⁻¹ (O - E). The arithmetic of
    statsmodels' ``survdiff`` (R's ``survdiff``), with every group counted
    in one ``np.bincount`` instead of a pass per group.

    References
    ----------
    Mantel, N. (1966). Evaluation of survival data and two new rank order
    statistics arising in its consideration. Cancer Chemotherapy Reports
    50:163-170.
    """
    n_groups = int(group.max()) + 1
    difference = np.zeros(n_groups - 1)
    variance = np.zeros((n_groups - 1, n_groups - 1))
    expected = np.zeros(n_groups)
    parts = [slice(None)] if stratum is None else [stratum == s for s in np.unique(stratum)]
    for rows in parts:
        _, at_time, events = counts_by_time(time[rows], status[rows], group[rows], n_groups)
        n = np.cumsum(at_time[::-1], axis=0)[::-1].astype(float)  # at risk
        total, d = n.sum(axis=1), events.sum(axis=1)
        expected += (d[:, None] * n / total[:, None]).sum(axis=0)
        share = n / np.clip(total, 1e-10, np.inf)[:, None]
        used = total > 1
        share, d, events, total = share[used], d[used], events[used], total[used]
        difference += (events[:, 1:] - share[:, 1:] * d[:, None]).sum(axis=0)
        scale = d * (total - d) / np.clip(total - 1, 1e-10, np.inf)
        weighted = share[:, 1:] * scale[:, None]
        variance += np.diag(weighted.sum(axis=0)) - weighted.T @ share[:, 1:]
    statistic = float(difference @ np.linalg.solve(variance, difference))
    return statistic, expected
