"""Vectorised Cox partial likelihood (Efron or Breslow ties, strata, case
weights) and Newton-Raphson; shared by :func:`cdanalytics.reoffending.cox`
and :func:`cdanalytics.matching.matched_cox`.

``statsmodels`` ``PHReg`` computes the same quantities without case weights
(and is a reference the tests check this module against), but prepares its
risk sets with Python loops over rows and iterates over the distinct event
times in Python: on a million people with fifteen terms a fit takes minutes.
Here the rows are sorted by (stratum, time), every sum over risk sets is a
reverse cumulative sum (restarting at each stratum) over the blocks of rows
between consecutive event times, and the information matrix is three matrix
products:

    I = X' diag(r·A) X - X_e' diag(r_e·B) X_e - Σ_s v_s a_s a_s'

where r = v·exp(x'b) is a row's risk weight with case weight v; for event
slot s (the l-th of the m events tied at time t_k, with f = l/m for Efron and
0 for Breslow), c_s = S0_k - f·D0_k, a_s = (S1_k - f·D1_k) / c_s and v_s is
the mean case weight of the m tied events; A is the cumulative sum over the
stratum's event times of Σ_s v_s/c_s up to each row's time, and
B_k = Σ_s v_s f/c_s. S are risk-set sums and D sums over the tied events of
r, r·x and r·x x'. The log partial likelihood is
Σ_events v_i x_i'b - Σ_s v_s log c_s, as R's ``coxph`` and lifelines
(``weights_col``) weight Efron's approximation.

References
----------
Efron, B. (1977). The efficiency of Cox's likelihood function for censored
data. JASA 72:557-565.
Counting-process rows, at risk on (start, stop] (time-varying covariates,
Andersen & Gill 1982), keep the same sort by stop time: the rows of each
stratum that start at or after an event time are in its reverse cumulative
sums but not at risk, so their sums (one more cumulative sum over the event
times by each row's entry) are subtracted from S, and the sum of v_s/c_s a
row accumulates runs from its entry to its stop. Right-censored data take the
path above unchanged.

References
----------
Efron, B. (1977). The efficiency of Cox's likelihood function for censored
data. JASA 72:557-565.
Andersen, P. K. & Gill, R. D. (1982). Cox's regression model for counting
processes: a large sample study. Annals of Statistics 10:1100-1120.
Therneau, T. M. & Grambsch, P. M. (2000). Modeling Survival Data: Extending
the Cox Model, chapters 3, 4 and 7 (score and Schoenfeld residuals, case
weights).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ConvergenceError

MAX_ITER = 30
MAX_HALVINGS = 30


@dataclass(frozen=True)
class RiskSets:
    """Rows sorted by (stratum, time), with their event-time bookkeeping.

    Event times are the distinct (stratum, time) pairs with an event,
    numbered k in that order.
    """

    rows: np.ndarray  # original row numbers, in sorted order
    xt: np.ndarray  # covariates of those rows, transposed (terms × rows, contiguous)
    weight: np.ndarray  # case weights of those rows
    x_e: np.ndarray  # covariates of the event rows (events × terms)
    bucket: np.ndarray  # last event time k of the row's stratum <= its time (-1: none)
    event_pos: np.ndarray  # positions (in sorted order) of the event rows
    event_k: np.ndarray  # event time k of each event row
    starts: np.ndarray  # first event slot of each event time
    counts: np.ndarray  # events tied at each event time
    slot_weight: np.ndarray  # v_s: mean case weight of the events tied with slot s
    fraction: np.ndarray  # l/m of each event slot (0 for Breslow)
    event_time: np.ndarray  # time of each event row
    k_stratum: np.ndarray  # stratum of each event time
    block_starts: np.ndarray  # first row of each block (a stratum start or an event time)
    block_stratum: np.ndarray  # stratum of each block
    block_k: np.ndarray  # block whose first row is the first at risk at event time k
    # Counting-process (start, stop] data only (None for right-censored data):
    # last event time k of the row's stratum <= its start (-1: none); the row
    # is at risk at the event times after it, up to ``bucket``.
    entry: np.ndarray | None = None


@dataclass(frozen=True)
class Terms:
    """Quantities at one coefficient vector."""

    eta: np.ndarray
    shift: float
    w: np.ndarray  # exp(eta - shift)
    risk: np.ndarray  # case weight · w
    c: np.ndarray
    a: np.ndarray


def prepare(
    time: np.ndarray,
    status: np.ndarray,
    exog: np.ndarray,
    stratum: np.ndarray,
    ties: str,
    weight: np.ndarray | None = None,
    entry: np.ndarray | None = None,
) -> RiskSets:
    """Sort the rows by (stratum, time) and index the event times. Rows of
    strata without events contribute nothing and are left out, as in R.
    ``weight``: positive case weights (default 1). ``entry``: start times of
    counting-process rows, at risk on (entry, time] (each below its time);
    ``None`` for right-censored data, at risk from the origin."""
    weight = np.ones(len(time)) if weight is None else np.asarray(weight, dtype=float)
    order = np.lexsort((time, stratum))
    codes = pd.factorize(stratum[order])[0]  # strata numbered in sorted order
    with_events = (np.bincount(codes, weights=status[order] == 1) > 0)[codes]
    rows = order[with_events]
    t, s, d = time[rows], codes[with_events], status[rows] == 1
    # Ties are runs of rows with equal (stratum, time); event times are the
    # ties with an event; bucket is the last event time at or before a row.
    new_stratum = np.r_[True, s[1:] != s[:-1]]
    new_tie = new_stratum | np.r_[True, t[1:] != t[:-1]]
    tie = np.cumsum(new_tie) - 1
    tie_has_event = np.bincount(tie, weights=d) > 0
    bucket = (np.cumsum(tie_has_event) - 1)[tie]
    first = np.flatnonzero(new_tie)[tie_has_event]
    k_stratum = s[first]
    bucket = np.where((bucket >= 0) & (k_stratum[np.maximum(bucket, 0)] == s), bucket, -1)
    event_pos = np.flatnonzero(d)
    event_k = bucket[event_pos]
    counts = np.bincount(event_k)
    starts = np.cumsum(counts) - counts
    rank = np.arange(event_pos.size) - starts[event_k]
    # Blocks of rows that enter and leave risk sets together.
    opens_block = new_stratum.copy()
    opens_block[first] = True
    block_starts = np.flatnonzero(opens_block)
    w = weight[rows]
    entered = None if entry is None else _entry_buckets(entry[rows], s, first, k_stratum, t)
    return RiskSets(
        rows=rows,
        xt=_transposed_rows(exog, rows),
        weight=w,
        x_e=exog[rows[event_pos]],
        bucket=bucket,
        event_pos=event_pos,
        event_k=event_k,
        starts=starts,
        counts=counts,
        slot_weight=(np.add.reduceat(w[event_pos], starts) / counts)[event_k],
        fraction=rank / counts[event_k] if ties == "efron" else np.zeros(event_pos.size),
        event_time=t[event_pos],
        k_stratum=k_stratum,
        block_starts=block_starts,
        block_stratum=s[block_starts],
        block_k=np.searchsorted(block_starts, first),
        entry=entered,
    )


def _transposed_rows(exog: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``exog[rows].T`` as a contiguous (terms × rows) array; a column-major
    ``exog`` (as the counting-process callers pass) is gathered in one step."""
    if exog.flags.f_contiguous and not exog.flags.c_contiguous:
        return exog.T.take(rows, axis=1)
    return np.ascontiguousarray(exog[rows].T)


def _entry_buckets(
    start: np.ndarray, stratum: np.ndarray, first: np.ndarray, k_stratum: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """The last event time k of each row's stratum at or before its start
    (-1: none), so a row starting at t_k is not at risk at t_k. One stratum:
    a binary search of the event times; several: one sort of the event times
    with the starts, event times first at equal (stratum, time)."""
    n_times = first.size
    if k_stratum[0] == k_stratum[-1] and (stratum == k_stratum[0]).all():
        return np.searchsorted(t[first], start, side="right") - 1
    key_stratum = np.r_[k_stratum, stratum]
    key_time = np.r_[t[first], start]
    is_start = np.r_[np.zeros(n_times, dtype=bool), np.ones(start.size, dtype=bool)]
    order = np.lexsort((is_start, key_time, key_stratum))
    k = np.cumsum(~is_start[order]) - 1
    bucket = np.empty(start.size, dtype=np.int64)
    bucket[order[is_start[order]] - n_times] = k[is_start[order]]
    same = (bucket >= 0) & (k_stratum[np.maximum(bucket, 0)] == stratum)
    return np.where(same, bucket, -1)


def _entered_after(rs: RiskSets, values: np.ndarray) -> np.ndarray:
    """Σ of ``values`` (rows, or terms × rows) over the rows of each event
    time's stratum that start at or after it (times, or times × terms): they
    are in the reverse cumulative sums by stop time but not yet at risk."""
    bins = rs.entry + 1  # bin 0: rows that start before their stratum's first event time
    n_bins = rs.counts.size + 1
    if values.ndim == 1:
        per_time = np.bincount(bins, weights=values, minlength=n_bins)[1:]
    else:
        per_time = np.column_stack(
            [np.bincount(bins, weights=row, minlength=n_bins)[1:] for row in values]
        )
    return _reverse_cumsum_within(per_time, rs.k_stratum)


def _cumsum_within(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Cumulative sums along axis 0 restarting at each new ``segment`` code
    (codes are contiguous). pandas sums each segment on its own, so a small
    late stratum does not lose precision to the totals of earlier ones."""
    if segment[0] == segment[-1]:
        return np.cumsum(values, axis=0)
    frame = pd.DataFrame(values) if values.ndim == 2 else pd.Series(values)
    return frame.groupby(segment, sort=False).cumsum(skipna=False).to_numpy()


def _reverse_cumsum_within(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    return _cumsum_within(values[::-1], segment[::-1])[::-1]


def terms(rs: RiskSets, beta: np.ndarray) -> Terms:
    """Risk weights (scaled by exp(-max x'b)), slot denominators c and means a.

    Risk-set sums at event time k add the rows of its stratum from its first
    row on: sums over the blocks between consecutive event times, then a
    reverse cumulative sum over the blocks of each stratum.
    """
    eta = beta @ rs.xt
    shift = float(eta.max())
    w = np.exp(eta - shift)
    risk = rs.weight * w
    weighted_x = rs.xt * risk
    s0 = _reverse_cumsum_within(np.add.reduceat(risk, rs.block_starts), rs.block_stratum)
    s1 = _reverse_cumsum_within(
        np.add.reduceat(weighted_x, rs.block_starts, axis=1).T, rs.block_stratum
    )
    r_e = risk[rs.event_pos]
    d0 = np.add.reduceat(r_e, rs.starts)
    d1 = np.add.reduceat(r_e[:, None] * rs.x_e, rs.starts, axis=0)
    k, f, block = rs.event_k, rs.fraction, rs.block_k[rs.event_k]
    s0, s1 = s0[block], s1[block]
    if rs.entry is not None:
        s0 = s0 - _entered_after(rs, risk)[k]
        s1 = s1 - _entered_after(rs, weighted_x)[k]
    c = s0 - f * d0[k]
    a = (s1 - f[:, None] * d1[k]) / c[:, None]
    return Terms(eta=eta, shift=shift, w=w, risk=risk, c=c, a=a)


def _hazard_at_or_before(rs: RiskSets, per_slot: np.ndarray) -> np.ndarray:
    """Σ over the slots of each row's stratum at or before its time (0 before
    the stratum's first event time); ``per_slot`` may have a second axis."""
    per_time = np.add.reduceat(per_slot, rs.starts, axis=0)
    total = _cumsum_within(per_time, rs.k_stratum)
    cumulative = total[np.maximum(rs.bucket, 0)]
    at_risk = rs.bucket >= 0
    if rs.entry is not None:  # less the event times at or before the row's start
        entered = rs.entry >= 0
        before = total[np.maximum(rs.entry, 0)]
        cumulative = cumulative - before * (entered[:, None] if per_slot.ndim == 2 else entered)
    return cumulative * (at_risk[:, None] if per_slot.ndim == 2 else at_risk)


def evaluate(rs: RiskSets, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Log partial likelihood, score vector and information matrix at ``beta``."""
    tm = terms(rs, beta)
    x_e, v, f, k = rs.x_e, rs.slot_weight, rs.fraction, rs.event_k
    v_e = rs.weight[rs.event_pos]
    loglik = float(v_e @ tm.eta[rs.event_pos] - v @ (np.log(tm.c) + tm.shift))
    score = v_e @ x_e - v @ tm.a
    risk = tm.risk * _hazard_at_or_before(rs, v / tm.c)
    tied = tm.risk[rs.event_pos] * np.bincount(k, weights=v * f / tm.c)[k]
    information = (
        (rs.xt * risk) @ rs.xt.T - (x_e * tied[:, None]).T @ x_e - (tm.a * v[:, None]).T @ tm.a
    )
    return loglik, score, information


def fit(
    rs: RiskSets, p: int, message: str
) -> tuple[np.ndarray, float, np.ndarray, tuple[float, np.ndarray, np.ndarray]]:
    """Maximise the partial likelihood by Newton-Raphson from b = 0, halving
    steps that lower it (as R's ``coxph``); converged when every step is below
    1e-9 · (1 + |b|).

    Returns
    -------
    (beta, loglik, information, (loglik, score, information) at 0)

    Raises
    ------
    ConvergenceError
        No convergence in 30 iterations (a coefficient heading to infinity
        takes steps of about 1 for ever), a singular information matrix, or
        non-finite values; with ``message``.
    """
    beta = np.zeros(p)
    at_zero = current = evaluate(rs, beta)
    with np.errstate(all="ignore"):
        for _ in range(MAX_ITER):
            loglik, score, information = current
            try:
                step = np.linalg.solve(information, score)
            except np.linalg.LinAlgError as exc:
                raise ConvergenceError(message) from exc
            for _ in range(MAX_HALVINGS):
                candidate = evaluate(rs, beta + step)
                if np.isfinite(candidate[0]) and candidate[0] >= loglik - 1e-12 * abs(loglik):
                    break
                step = step / 2
            else:
                raise ConvergenceError(message)
            beta, current = beta + step, candidate
            if np.all(np.abs(step) <= 1e-9 * (1 + np.abs(beta))):
                break
        else:
            raise ConvergenceError(message)
    loglik, _, information = current
    if not (np.isfinite(beta).all() and np.isfinite(information).all()):
        raise ConvergenceError(message)
    return beta, loglik, information, at_zero


def _slot_means(rs: RiskSets, tm: Terms) -> np.ndarray:
    """x̄(t_k): the average of the slot means a over the events tied at k."""
    return np.add.reduceat(tm.a, rs.starts, axis=0) / rs.counts[:, None]


def schoenfeld(rs: RiskSets, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(event times, Schoenfeld residuals x - x̄(t)) of every event, x̄ the
    average of the slot means a over the tied events (R's Efron residuals)."""
    means = _slot_means(rs, terms(rs, beta))
    return rs.event_time, rs.x_e - means[rs.event_k]


def score_residuals(rs: RiskSets, beta: np.ndarray, n: int) -> np.ndarray:
    """Weighted score residuals v_i U_i (n × p, rows in input order; 0 for
    rows of strata without events), with U_i = δ_i (x_i - x̄(t_i)) -
    Σ_s w_i π_is (x_i - a_s), w_i = exp(x_i'b), π_is = v_s/c_s for people at
    risk at slot s, reduced to (1 - f_s) v_s/c_s for the events tied at that
    time (Efron; R's ``coxph`` score residuals, weighted as its ``dfbeta``).
    They sum to the score vector; summed within clusters they give the
    robust variance (Lin & Wei 1989)."""
    out = np.zeros((n, beta.size))
    tm = terms(rs, beta)
    k, x, x_e = rs.event_k, rs.xt.T, rs.x_e
    hazard = rs.slot_weight / tm.c
    h = _hazard_at_or_before(rs, hazard)
    g = _hazard_at_or_before(rs, tm.a * hazard[:, None])
    compensator = tm.w[:, None] * (x * h[:, None] - g)
    tied = rs.fraction * hazard
    tied_h = np.bincount(k, weights=tied)[k]
    tied_g = np.add.reduceat(tm.a * tied[:, None], rs.starts, axis=0)[k]
    compensator[rs.event_pos] -= tm.w[rs.event_pos][:, None] * (x_e * tied_h[:, None] - tied_g)
    residual = -compensator
    residual[rs.event_pos] += x_e - _slot_means(rs, tm)[k]
    out[rs.rows] = rs.weight[:, None] * residual
    return out
