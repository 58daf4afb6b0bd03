"""Vectorised Cox partial likelihood (Efron or Breslow ties, strata, case
weights) and Newton-Raphson; shared by :func:`cdanalytics.reoffending.cox`
and :func:`cdanalytics.matching.matched_cox`.

``statsmodels`` ``PHReg`` computes the same quantities without case weights
(and is a reference the tests check this module against), but prepares its
risk sets with Python loops over rows and iterates over the distinct event
times in Python: on a million people with fifteen terms a fit takes minutes.
Here the rows are sorted once by (stratum, time, events first), so the tied
events of an event time are a block of consecutive rows. Each evaluation of
the likelihood then reads the design matrix three times: x'b, one sparse
product giving Σ r·x over every block of rows (the tied events of each event
time, and the rows between them), and X' diag(u) X accumulated over chunks of
rows that stay in cache. Risk-set sums are reverse cumulative sums of the
block sums (restarting at each stratum); everything else is a sum over the
event slots or the event times, never an array of slots × terms:

    score = Σ_events v_i x_i - Σ_k (S1_k H_k - D1_k B_k)
    I = X' diag(u) X - Σ_k (α_k S1_k S1_k' - β_k (S1_k D1_k' + D1_k S1_k') + γ_k D1_k D1_k')

where r = v·exp(x'b) is a row's risk weight with case weight v; for event
slot s (the l-th of the m events tied at time t_k, with f = l/m for Efron and
0 for Breslow), c_s = S0_k - f·D0_k and v_k is the mean case weight of the m
tied events. S are risk-set sums and D sums over the tied events of r and
r·x; the slot mean is a_s = (S1_k - f·D1_k) / c_s, so that Σ_s v_s a_s and
Σ_s v_s a_s a_s' collapse to the per-time sums H_k = Σ_s v_k/c_s, B_k =
Σ_s v_k f/c_s, α_k = Σ_s v_k/c_s², β_k = Σ_s v_k f/c_s², γ_k = Σ_s v_k f²/c_s².
u_i = r_i (A_i - δ_i B_k(i)), A_i the sum of H over the event times at which
row i is at risk, δ_i its event indicator. The log partial likelihood is
Σ_events v_i x_i'b - Σ_s v_s log c_s, as R's ``coxph`` and lifelines
(``weights_col``) weight Efron's approximation.

A design of few distinct rows (categorical covariates and counts: a million
people with fifteen such terms have some 18,000) is held as those rows and
the number of each row's among them, found once by a random linear
combination of the terms and checked value by value. x'b and exp are then
taken per distinct row and gathered, the block sums read the distinct rows
(which stay in cache) instead of streaming X, and X' diag(u) X is
P' diag(Σu) P over them: each evaluation passes over a few vectors of rows
but never over rows × terms.

Counting-process rows, at risk on (start, stop] (time-varying covariates,
Andersen & Gill 1982), keep the same sort by stop time: the rows of each
stratum that start at or after an event time are in its reverse cumulative
sums but not at risk, so their sums (one more sparse product, over the rows
grouped by entry) are subtracted from S, and the sum of H a row accumulates
runs from its entry to its stop. Right-censored data take the path above
unchanged.

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
from scipy import sparse

from ._stats import day_sort_key, distinct_rows
from .errors import ConvergenceError

MAX_ITER = 30
MAX_HALVINGS = 30
#: Values per chunk of X' diag(u) X: about 1 MB (8192 rows of 15 terms).
CHUNK_VALUES = 2**17
#: A design matrix is held as its distinct rows (:func:`cdanalytics._stats.distinct_rows`)
#: when there are at most this many values in them (4 MB, so that they stay
#: in cache) ...
PATTERN_VALUES = 2**19
#: ... and at most one distinct row per this many rows.
ROWS_PER_PATTERN = 4


@dataclass(frozen=True)
class RiskSets:
    """Rows sorted by (stratum, time, events first), with their event-time
    bookkeeping. Event times are the distinct (stratum, time) pairs with an
    event, numbered k in that order.
    """

    rows: np.ndarray  # original row numbers, in sorted order
    # Covariates of those rows (rows × terms, C-contiguous); None when they
    # are held as distinct rows (``patterns``) and not needed row by row.
    x_rows: np.ndarray | None
    weight: np.ndarray  # case weights of those rows (a read-only view of 1.0 without weights)
    weighted_events: np.ndarray  # Σ over the event rows of v·x (terms)
    event_pos: np.ndarray  # positions (in sorted order) of the event rows
    event_k: np.ndarray  # event time k of each event row
    starts: np.ndarray  # first event slot of each event time
    counts: np.ndarray  # events tied at each event time
    slot_weight: np.ndarray  # v_s: mean case weight of the events tied with slot s
    fraction: np.ndarray  # l/m of each event slot (0 for Breslow)
    event_time: np.ndarray  # time of each event row
    k_stratum: np.ndarray  # stratum of each event time
    block_bounds: np.ndarray  # first row of each block, then the number of rows (int32)
    block_stratum: np.ndarray  # stratum of each block
    block_k: np.ndarray  # block of the tied events of event time k (its first rows)
    columns: np.ndarray | None  # 0, 1, ..., rows - 1 (int32): the blocks' sparse column indices
    # 1 + the last event time k of the row's stratum <= its time (0: none), int32
    bucket_bins: np.ndarray
    # Counting-process (start, stop] data only (None for right-censored data):
    # last event time k of the row's stratum <= its start (-1: none); the row
    # is at risk at the event times after it, up to its last (bucket_bins - 1).
    entry: np.ndarray | None = None
    entry_bins: np.ndarray | None = None  # entry + 1 (int32)
    # A design of few distinct rows (categorical and count covariates): those
    # rows (patterns × terms) and the pattern of each row (int32); None else.
    patterns: np.ndarray | None = None
    pattern: np.ndarray | None = None
    unit_weight: bool = False  # every case weight is 1

    @property
    def x(self) -> np.ndarray:
        """Covariates of the rows, in sorted order (rows × terms)."""
        if self.x_rows is not None:
            return self.x_rows
        return self.patterns[self.pattern]

    @property
    def x_e(self) -> np.ndarray:
        """Covariates of the event rows (events × terms)."""
        if self.x_rows is not None:
            return self.x_rows[self.event_pos]
        return self.patterns[self.pattern[self.event_pos]]


def prepare(
    time: np.ndarray,
    status: np.ndarray,
    exog: np.ndarray,
    stratum: np.ndarray,
    ties: str,
    weight: np.ndarray | None = None,
    entry: np.ndarray | None = None,
) -> RiskSets:
    """Sort the rows by (stratum, time, events first) and index the event
    times. Rows of strata without events contribute nothing and are left
    out, as in R. ``weight``: positive case weights (default 1). ``entry``:
    start times of counting-process rows, at risk on (entry, time] (each
    below its time); ``None`` for right-censored data, at risk from the
    origin. Rows already in that order (as the counting-process caller
    passes them) are neither sorted nor copied."""
    # First, while little else is held: its temporaries are the size of the rows.
    distinct = distinct_rows(exog, PATTERN_VALUES, ROWS_PER_PATTERN, CHUNK_VALUES)
    unit = weight is None
    weight = None if unit else np.asarray(weight, dtype=float)
    event = np.asarray(status) == 1
    stratum = _numeric_strata(np.asarray(stratum))
    order = sort_order(time, event, stratum)
    codes = _run_codes(stratum if order is None else stratum[order])
    d = event if order is None else event[order]
    with_events = (np.bincount(codes, weights=d) > 0)[codes]
    if with_events.all():
        rows = np.arange(len(time)) if order is None else order
        s = codes
    else:
        rows = np.flatnonzero(with_events) if order is None else order[with_events]
        s, d = codes[with_events], d[with_events]
    in_place = order is None and rows.size == len(time)
    t = time if in_place else time[rows]
    # Ties are runs of rows with equal (stratum, time), their events first;
    # event times are the ties with an event; bucket is the last event time
    # at or before a row.
    new_stratum = np.r_[True, s[1:] != s[:-1]]
    new_tie = new_stratum | np.r_[True, t[1:] != t[:-1]]
    tie_first = np.flatnonzero(new_tie)
    tie_has_event = d[tie_first]
    bucket = (np.cumsum(tie_has_event) - 1)[np.cumsum(new_tie) - 1]
    first = tie_first[tie_has_event]
    k_stratum = s[first]
    bucket = np.where((bucket >= 0) & (k_stratum[np.maximum(bucket, 0)] == s), bucket, -1)
    event_pos = np.flatnonzero(d)
    event_k = bucket[event_pos]
    counts = np.bincount(event_k)
    starts = np.cumsum(counts) - counts
    rank = np.arange(event_pos.size) - starts[event_k]
    # Blocks: the tied events of each event time, and the rows from them to
    # the next event time (or the stratum's end); a stratum's rows before
    # its first event time are a block too.
    opens = new_stratum.copy()
    opens[first] = True
    after = first + counts
    opens[after[after < t.size]] = True
    block_first = np.flatnonzero(opens)
    # Without weights, a read-only view of one 1.0: no array of ones.
    ones = np.broadcast_to(np.float64(1.0), t.size)
    w = ones if unit else (weight if in_place else weight[rows])
    if distinct is None:
        patterns = pattern = None
        x = _sorted_rows(exog, None if in_place else rows)
        weighted_events = x.T @ np.where(d, w, 0.0)
    else:
        patterns, pattern = distinct
        if not in_place:
            pattern, patterns = _used_patterns(pattern[rows], patterns)
        # Row by row only for the sums over rows grouped by entry.
        x = None if entry is None else _sorted_rows(exog, None if in_place else rows)
        event_sums = np.bincount(pattern, weights=np.where(d, w, 0.0), minlength=len(patterns))
        weighted_events = patterns.T @ event_sums
    entered = None if entry is None else _entry_buckets(entry[rows], s, first, k_stratum, t)
    return RiskSets(
        rows=rows,
        x_rows=x,
        weight=w,
        weighted_events=weighted_events,
        event_pos=event_pos,
        event_k=event_k,
        starts=starts,
        counts=counts,
        slot_weight=(np.add.reduceat(w[event_pos], starts) / counts)[event_k],
        fraction=rank / counts[event_k] if ties == "efron" else np.zeros(event_pos.size),
        event_time=t[event_pos],
        k_stratum=k_stratum,
        block_bounds=np.r_[block_first, t.size].astype(np.int32),
        block_stratum=s[block_first],
        block_k=np.searchsorted(block_first, first),
        columns=np.arange(t.size, dtype=np.int32) if patterns is None else None,
        bucket_bins=(bucket + 1).astype(np.int32),
        entry=entered,
        # bin 0: rows that start before their stratum's first event time
        entry_bins=None if entered is None else (entered + 1).astype(np.int32),
        patterns=patterns,
        pattern=pattern,
        unit_weight=unit or bool((w == 1).all()),
    )


def _used_patterns(pattern: np.ndarray, patterns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pattern`` renumbered over the patterns it uses (rows of strata
    without events are left out), and those patterns."""
    used = np.bincount(pattern, minlength=len(patterns)) > 0
    if used.all():
        return pattern, patterns
    number = np.cumsum(used, dtype=np.int32) - 1
    return number[pattern], np.ascontiguousarray(patterns[used])


def _numeric_strata(stratum: np.ndarray) -> np.ndarray:
    """Stratum labels as integers in the labels' sorted order (labels that
    are numbers already are kept)."""
    if stratum.dtype.kind in "biuf":
        return stratum
    return pd.factorize(stratum, sort=True)[0]


def sort_order(time: np.ndarray, event: np.ndarray, stratum: np.ndarray) -> np.ndarray | None:
    """Order of the rows by (stratum, time, events first), stable; ``None``
    when they are in that order already. A caller that puts its rows in
    this order before building the design matrix saves :func:`prepare` a
    gather of every covariate."""
    later = ~event
    if time.size < 2:
        return None
    stratum = _numeric_strata(np.asarray(stratum))
    ds, dt = np.diff(stratum), np.diff(time)
    if (ds >= 0).all() and ((ds > 0) | (dt > 0) | ((dt == 0) & (later[1:] >= later[:-1]))).all():
        return None
    key = day_sort_key(time, later, stratum)
    if key is not None:  # a stable radix sort of 16-bit keys: lexsort's order
        return np.argsort(key, kind="stable")
    return np.lexsort((later, time, stratum))


def _run_codes(values: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... numbering the runs of equal sorted values."""
    codes = np.zeros(values.size, dtype=np.int64)
    if values.size and values[0] != values[-1]:
        np.cumsum(values[1:] != values[:-1], out=codes[1:])
    return codes


def _sorted_rows(exog: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """``exog[rows]`` as a C-contiguous float array (``exog`` itself when
    ``rows`` is None and it is one already)."""
    if rows is None:
        return np.ascontiguousarray(exog, dtype=float)
    return np.ascontiguousarray(np.take(exog, rows, axis=0), dtype=float)


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


def _run_sums(bounds: np.ndarray, columns: np.ndarray, values: np.ndarray, x: np.ndarray):
    """Σ values·x[columns] over runs of consecutive values (run j: bounds[j]
    to bounds[j + 1]) as one sparse product: a single pass over ``x`` (the
    rows, ``columns`` 0, 1, ...; or the distinct rows, ``columns`` the
    pattern of each) without a rows × terms temporary."""
    runs = sparse.csr_array((values, columns, bounds), shape=(bounds.size - 1, x.shape[0]))
    return runs @ x


def _bin_sums(bins: np.ndarray, values: np.ndarray, x: np.ndarray, n_bins: int):
    """Σ values·x over the rows of each bin (``bins``: int32 bin of each
    row), as one sparse product with one entry per column: a single pass
    over ``x`` in row order, without sorting the rows by bin."""
    columns = sparse.csc_array(
        (values, bins, np.arange(bins.size + 1, dtype=np.int32)), shape=(n_bins, x.shape[0])
    )
    return columns @ x


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


@dataclass(frozen=True)
class Sums:
    """Risk weights at one coefficient vector and the sums over risk sets."""

    shift: float  # max x'b: risk weights are scaled by exp(-shift)
    risk: np.ndarray  # case weight · exp(x'b - shift), rows in sorted order
    s0: np.ndarray  # Σ r over the risk set of each event time
    s1: np.ndarray  # Σ r·x over the risk set of each event time (times × terms)
    d0: np.ndarray  # Σ r over the tied events of each event time
    d1: np.ndarray  # Σ r·x over the tied events of each event time
    c: np.ndarray  # denominator of each event slot


def sums(rs: RiskSets, beta: np.ndarray) -> Sums:
    """Risk weights, risk-set sums S, tied-event sums D and slot denominators c.

    Σ r and Σ r·x over every block of rows, then reverse cumulative sums of
    those over the blocks of each stratum, taken at the block of each event
    time's tied events (its first rows at risk).
    """
    if rs.patterns is None:
        risk = rs.x_rows @ beta
        shift = float(risk.max())
        risk -= shift
        np.exp(risk, out=risk)
        risk *= rs.weight
        block1 = _run_sums(rs.block_bounds, rs.columns, risk, rs.x_rows)
    else:  # exp(x'b) of each distinct row, then one gather
        linear = rs.patterns @ beta
        shift = float(linear.max())
        risk = np.exp(linear - shift)[rs.pattern]
        if not rs.unit_weight:
            risk *= rs.weight
        block1 = _run_sums(rs.block_bounds, rs.pattern, risk, rs.patterns)
    block0 = np.add.reduceat(risk, rs.block_bounds[:-1])
    k = rs.block_k
    d0, d1 = block0[k], block1[k]
    s0 = _reverse_cumsum_within(block0, rs.block_stratum)[k]
    s1 = _reverse_cumsum_within(block1, rs.block_stratum)[k]
    if rs.entry is not None:  # less the rows not yet at risk
        n_bins = rs.counts.size + 1
        late0 = np.bincount(rs.entry_bins, weights=risk, minlength=n_bins)[1:]
        late1 = _bin_sums(rs.entry_bins, risk, rs.x, n_bins)[1:]
        s0 = s0 - _reverse_cumsum_within(late0, rs.k_stratum)
        s1 = s1 - _reverse_cumsum_within(late1, rs.k_stratum)
    c = s0[rs.event_k] - rs.fraction * d0[rs.event_k]
    return Sums(shift=shift, risk=risk, s0=s0, s1=s1, d0=d0, d1=d1, c=c)


def _per_time(rs: RiskSets, per_slot: np.ndarray) -> np.ndarray:
    return np.add.reduceat(per_slot, rs.starts, axis=0)


def _at_or_before(rs: RiskSets, per_time: np.ndarray) -> np.ndarray:
    """Σ over the event times of each row's stratum at which it is at risk
    (those at or before its time, after its entry); ``per_time`` may have a
    second axis."""
    total = _cumsum_within(per_time, rs.k_stratum)
    total = np.concatenate([np.zeros((1, *total.shape[1:])), total])  # 0: none
    cumulative = total[rs.bucket_bins]
    if rs.entry is not None:  # less the event times at or before the row's start
        cumulative -= total[rs.entry_bins]
    return cumulative


def _gram(rs: RiskSets, u: np.ndarray) -> np.ndarray:
    """X' diag(u) X for u >= 0 (``u`` is clipped at 0 in place): over the
    distinct rows when the design has few (their sums of u, then
    P' diag(Σu) P), else chunk by chunk (each a symmetric rank-k update of
    sqrt(u)·x) so that no rows × terms temporary is made."""
    u = np.maximum(u, 0.0, out=u)
    if rs.patterns is not None:
        total = np.bincount(rs.pattern, weights=u, minlength=len(rs.patterns))
        return (rs.patterns * total[:, None]).T @ rs.patterns
    x = rs.x_rows
    root = np.sqrt(u)
    out = np.zeros((x.shape[1], x.shape[1]))
    chunk = max(1024, CHUNK_VALUES // x.shape[1])
    for lo in range(0, x.shape[0], chunk):
        z = x[lo : lo + chunk] * root[lo : lo + chunk, None]
        out += z.T @ z
    return out


def evaluate(rs: RiskSets, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Log partial likelihood, score vector and information matrix at ``beta``."""
    sm = sums(rs, beta)
    v, f = rs.slot_weight, rs.fraction
    loglik = float(rs.weighted_events @ beta - v @ (np.log(sm.c) + sm.shift))
    hazard = v / sm.c
    h, b = _per_time(rs, hazard), _per_time(rs, hazard * f)
    square = hazard / sm.c
    alpha, beta_, gamma = (_per_time(rs, square * f**j) for j in (0, 1, 2))
    score = rs.weighted_events - (h @ sm.s1 - b @ sm.d1)
    u = _at_or_before(rs, h)
    u *= sm.risk
    u[rs.event_pos] -= sm.risk[rs.event_pos] * b[rs.event_k]
    cross = sm.s1.T @ (beta_[:, None] * sm.d1)
    information = _gram(rs, u) - (
        sm.s1.T @ (alpha[:, None] * sm.s1) - cross - cross.T + sm.d1.T @ (gamma[:, None] * sm.d1)
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


def _time_means(rs: RiskSets, sm: Sums) -> np.ndarray:
    """x̄(t_k): the average of the slot means a = (S1 - f·D1) / c over the
    events tied at k (times × terms)."""
    inverse = 1 / sm.c
    p, q = _per_time(rs, inverse), _per_time(rs, inverse * rs.fraction)
    return (sm.s1 * p[:, None] - sm.d1 * q[:, None]) / rs.counts[:, None]


def schoenfeld(rs: RiskSets, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(event times, Schoenfeld residuals x - x̄(t)) of every event, x̄ the
    average of the slot means a over the tied events (R's Efron residuals)."""
    means = _time_means(rs, sums(rs, beta))
    return rs.event_time, rs.x_e - means[rs.event_k]


def score_residuals(rs: RiskSets, beta: np.ndarray, n: int) -> np.ndarray:
    """Weighted score residuals v_i U_i (n × p, rows in input order; 0 for
    rows of strata without events), with U_i = δ_i (x_i - x̄(t_i)) -
    Σ_s w_i π_is (x_i - a_s), w_i = exp(x_i'b), π_is = v_s/c_s for people at
    risk at slot s, reduced to (1 - f_s) v_s/c_s for the events tied at that
    time (Efron; R's ``coxph`` score residuals, weighted as its ``dfbeta``).
    They sum to the score vector; summed within clusters they give the
    robust variance (Lin & Wei 1989). The sums over slots of π and π·a are
    per event time: H and S1·α - D1·β (B and S1·β - D1·γ for the tied
    events; see the module docstring)."""
    out = np.zeros((n, beta.size))
    sm = sums(rs, beta)
    k, x, x_e, f = rs.event_k, rs.x, rs.x_e, rs.fraction
    hazard = rs.slot_weight / sm.c
    square = hazard / sm.c
    h, b = _per_time(rs, hazard), _per_time(rs, hazard * f)
    alpha, beta_, gamma = (_per_time(rs, square * f**j) for j in (0, 1, 2))
    g = sm.s1 * alpha[:, None] - sm.d1 * beta_[:, None]
    tied_g = sm.s1 * beta_[:, None] - sm.d1 * gamma[:, None]
    w = sm.risk / rs.weight
    compensator = w[:, None] * (x * _at_or_before(rs, h)[:, None] - _at_or_before(rs, g))
    w_e = w[rs.event_pos][:, None]
    compensator[rs.event_pos] -= w_e * (x_e * b[k][:, None] - tied_g[k])
    residual = -compensator
    residual[rs.event_pos] += x_e - _time_means(rs, sm)[k]
    out[rs.rows] = rs.weight[:, None] * residual
    return out
