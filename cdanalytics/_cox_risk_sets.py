"""Risk sets of the Cox partial likelihood: the rows sorted once, their event times indexed.

:func:`prepare` sorts the rows by (stratum, time, events first)
(:func:`sort_order`; a caller that builds its design matrix in that order
saves a gather of every covariate), so that the tied events of each event
time are a block of consecutive rows, and records in :class:`RiskSets` what
every evaluation of the likelihood in :mod:`cdanalytics._cox` reads: the
event rows and their event times (the distinct (stratum, time) pairs with an
event), the events tied at each, the fraction l/m of each tied event slot
(Efron; 0 for Breslow), the mean case weight of the tied events, the blocks
of rows (the tied events of each event time, and the rows from them to the
next event time) and the last event time at or before each row. Rows of
strata without events contribute nothing and are left out, as in R.

A design of few distinct rows (categorical covariates and counts: a million
people with fifteen such terms have some 18,000) is held as those rows and
the number of each row's among them
(:func:`cdanalytics._stats.distinct_rows`), so that an evaluation passes
over a few vectors of rows but never over rows × terms.

Counting-process rows, at risk on (start, stop] (time-varying covariates,
Andersen & Gill 1982), keep the same sort by stop time; each row also holds
the last event time of its stratum at or before its start, after which it
is at risk.

References
----------
Those of :mod:`cdanalytics._cox`: Efron (1977) for the tied events, Andersen
& Gill (1982) for the counting-process rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._stats import day_sort_key, distinct_rows

__all__ = [
    "CHUNK_VALUES",
    "PATTERN_VALUES",
    "ROWS_PER_PATTERN",
    "RiskSets",
    "prepare",
    "sort_order",
]

#: Values per chunk of X' diag(u) X (in :mod:`cdanalytics._cox`) and of the check of
#: the distinct rows: about 1 MB (8192 rows of 15 terms).
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
