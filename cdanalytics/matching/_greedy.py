"""The greedy nearest-neighbour matching loops (see the package notes).

Both functions take the units as :class:`SortedUnits` and return arrays
(treated position, control position, pass number starting at 0).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "SortedUnits",
    "greedy_with_replacement",
    "greedy_without_replacement",
    "tied_controls",
    "treated_order",
]


class SortedUnits(NamedTuple):
    """Treated and control units placed in one list sorted by (exact stratum,
    distance, row).

    Controls are indexed 0..m-1 in that order; ``left0[t]`` is the index of
    the last control sorted before treated unit ``t`` (-1 if none). ``d_*``
    are the matching distances, ``c_*`` the caliper scores and ``s_*`` the
    exact strata of the treated (``_t``) and control (``_c``) units;
    ``width`` is the absolute caliper width.
    """

    left0: np.ndarray
    d_t: np.ndarray
    c_t: np.ndarray
    s_t: np.ndarray
    d_c: np.ndarray
    c_c: np.ndarray
    s_c: np.ndarray
    width: float


def greedy_without_replacement(
    units: SortedUnits, order: np.ndarray, ratio: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sequential greedy matching, treated units choosing in ``order``.

    When many treated units share a score and choose one after another (the
    order sorts by score), the equivalent :func:`greedy_by_runs` does it a
    run of equal scores at a time; otherwise :func:`greedy_one_by_one`.
    """
    groups = _tied_groups(units, order)
    if groups is not None:
        return greedy_by_runs(units, order, ratio, groups)
    return greedy_one_by_one(units, order, ratio)


def greedy_one_by_one(
    units: SortedUnits, order: np.ndarray, ratio: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sequential greedy matching, treated units choosing in ``order``, one by one.

    ``right[j]`` leads to the first available control at or after j (m: none);
    ``left[j + 1]`` to the last available at or before j (0: none); both are
    union-find look-ups with path halving, written out in the loop (as are the
    treated units' values, taken in ``order`` beforehand): the loop runs once
    per treated unit and pass, so its every step counts.
    """
    m = len(units.d_c)
    right = list(range(m + 1))
    left = list(range(m + 1))
    dc, cc, sc = units.d_c.tolist(), units.c_c.tolist(), units.s_c.tolist()
    width = units.width
    chosen = order.tolist()
    treated = list(
        zip(
            chosen,
            (units.left0[order] + 1).tolist(),
            units.d_t[order].tolist(),
            units.c_t[order].tolist(),
            units.s_t[order].tolist(),
            strict=True,
        )
    )
    out_t: list[int] = []
    out_c: list[int] = []
    out_r: list[int] = []
    inf = float("inf")
    for r in range(ratio):
        for t, start, d, c, stratum in treated:
            lo = start  # _find(left, start) - 1
            while left[lo] != lo:
                left[lo] = left[left[lo]]
                lo = left[lo]
            lo -= 1
            hi = start  # _find(right, start)
            while right[hi] != hi:
                right[hi] = right[right[hi]]
                hi = right[hi]
            dist_l = inf
            if lo >= 0 and sc[lo] == stratum and abs(cc[lo] - c) <= width:
                dist_l = abs(dc[lo] - d)
            dist_r = inf
            if hi < m and sc[hi] == stratum and abs(cc[hi] - c) <= width:
                dist_r = abs(dc[hi] - d)
            if dist_l == inf and dist_r == inf:
                continue
            k = lo if dist_l <= dist_r else hi
            right[k] = k + 1
            left[k + 1] = k
            out_t.append(t)
            out_c.append(k)
            out_r.append(r)
    return np.array(out_t, dtype=np.int64), np.array(out_c, dtype=np.int64), np.array(out_r)


def _tied_groups(units: SortedUnits, order: np.ndarray) -> np.ndarray | None:
    """Start of each group (units with equal stratum and score, one after
    another in ``order``) when :func:`greedy_by_runs` applies: each group's
    units choose in sorted-list order, equal scores have equal caliper
    scores, and the groups are few (at most one per 16 treated units: the
    order sorts by score). ``None`` otherwise."""
    n = len(order)
    d_t, c_t, s_t = units.d_t[order], units.c_t[order], units.s_t[order]
    if n == 0 or not units.width >= 0:  # a NaN caliper width: one by one
        return None
    if not (np.all(np.isfinite(c_t)) and np.all(np.isfinite(units.c_c))):
        return None  # an infinite caliper score is no distance 0 from itself
    start = np.r_[True, (d_t[1:] != d_t[:-1]) | (s_t[1:] != s_t[:-1])]
    if 16 * int(start.sum()) > n:
        return None
    # within a group: sorted-list order (left0 never decreases) and one caliper score
    group = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    if np.any(np.diff(units.left0[order])[~start[1:]] < 0):
        return None
    if np.any(c_t != c_t[first][group]):
        return None
    # controls of equal (stratum, score) share one caliper score too
    d_c, c_c, s_c = units.d_c, units.c_c, units.s_c
    tie = (d_c[1:] == d_c[:-1]) & (s_c[1:] == s_c[:-1])
    if np.any(c_c[1:][tie] != c_c[:-1][tie]):
        return None
    return first


def greedy_by_runs(
    units: SortedUnits, order: np.ndarray, ratio: int, first: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`greedy_one_by_one`, a group of treated units with equal
    (stratum, score) at a time (``first``: where each group starts in ``order``).

    The controls with the group's own score (its "run") are at distance 0:
    a unit takes the nearest still-free one on its left in the run, else the
    nearest on its right, as one by one. Taken in order, that is bracket
    matching: a run's free controls open, the group's units close (at their
    places in the sorted list); a unit with a free control on its left takes
    the latest (last in, first out), one without takes the first free control
    after it (first in, first out). Both are matched by the running balance
    of opens and closes, vectorised. A unit left without a control of its
    run ("overflow") finds none free in the run: all of the group's overflow
    units face the same nearest free controls below and above the run, and
    take them one by one in order of distance (the lower one on a tie), up to
    the first outside the caliper or the stratum on either side: a merge of
    the two sides. Units of other groups take nothing in this run meanwhile
    (their own run first, else outside it), so a group at a time is the
    sequential result exactly (checked against :func:`greedy_one_by_one` in
    the tests).
    """
    left0, d_t, c_t, s_t, d_c, c_c, s_c, width = units
    m = len(d_c)
    taken = np.zeros(m, dtype=bool)
    # the run of controls with each group's (stratum, score): [run_lo, run_hi)
    new_run = np.r_[True, (d_c[1:] != d_c[:-1]) | (s_c[1:] != s_c[:-1])]
    run_start = np.flatnonzero(new_run)
    run_id = np.cumsum(new_run) - 1
    run_end = np.r_[run_start[1:], m]
    # stratum bounds of the controls: [stratum_lo, stratum_hi) for each control
    new_stratum = np.r_[True, s_c[1:] != s_c[:-1]]
    stratum_start = np.flatnonzero(new_stratum)
    stratum_id = np.cumsum(new_stratum) - 1
    stratum_end = np.r_[stratum_start[1:], m]
    places = left0[order] + 1  # each unit's place: controls sorted before it
    bounds = np.r_[first, len(order)]
    out_t: list[np.ndarray] = []
    out_c: list[np.ndarray] = []
    out_r: list[np.ndarray] = []
    for r in range(ratio):
        for g in range(len(first)):
            i0, i1 = bounds[g], bounds[g + 1]
            who = order[i0:i1]
            place = places[i0:i1]
            d, c, stratum = d_t[who[0]], c_t[who[0]], s_t[who[0]]
            p0 = place[0]
            if p0 > 0 and d_c[p0 - 1] == d and s_c[p0 - 1] == stratum:
                lo, hi = run_start[run_id[p0 - 1]], run_end[run_id[p0 - 1]]
            elif p0 < m and d_c[p0] == d and s_c[p0] == stratum:
                lo, hi = run_start[run_id[p0]], run_end[run_id[p0]]
            else:
                lo = hi = p0
            free = lo + np.flatnonzero(~taken[lo:hi])
            if len(free):
                unit, control = _bracket_matching(free, place)
                taken[control] = True
                out_t.append(who[unit])
                out_c.append(control)
                out_r.append(np.full(len(unit), r))
                rest = np.ones(len(who), dtype=bool)
                rest[unit] = False
                left_over = who[rest]
            else:
                left_over = who
            if not len(left_over):
                continue
            k = len(left_over)
            # the stratum's controls below and above the run
            same_below = lo > 0 and s_c[lo - 1] == stratum
            same_above = hi < m and s_c[hi] == stratum
            s_lo = stratum_start[stratum_id[lo - 1]] if same_below else lo
            s_hi = stratum_end[stratum_id[hi]] if same_above else hi
            below = _free_near(taken, lo, s_lo, k, step=-1)
            above = _free_near(taken, hi, s_hi, k, step=1)
            below = below[: _within(np.abs(c_c[below] - c), width)]
            above = above[: _within(np.abs(c_c[above] - c), width)]
            candidates = np.concatenate((below, above))
            distance = np.abs(d_c[candidates] - d)
            side = np.arange(len(candidates)) >= len(below)
            nearest = candidates[np.lexsort((side, distance))][:k]
            taken[nearest] = True
            out_t.append(left_over[: len(nearest)])
            out_c.append(nearest)
            out_r.append(np.full(len(nearest), r))
    if not out_t:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    return (
        np.concatenate(out_t).astype(np.int64),
        np.concatenate(out_c).astype(np.int64),
        np.concatenate(out_r),
    )


def _within(gap: np.ndarray, width: float) -> int:
    """How many of ``gap`` (in order) come before the first beyond ``width``."""
    beyond = np.flatnonzero(~(gap <= width))
    return int(beyond[0]) if len(beyond) else len(gap)


def _free_near(taken: np.ndarray, at: int, bound: int, k: int, *, step: int) -> np.ndarray:
    """Up to ``k`` free controls nearest ``at`` on one side: below it
    (``step=-1``: ``at - 1`` down to ``bound``) or from it up (``step=1``:
    ``at`` up to ``bound - 1``), nearest first."""
    size = 2 * k + 16
    while True:
        if step < 0:
            lo = max(bound, at - size)
            found = lo + np.flatnonzero(~taken[lo:at])[::-1]
            done = lo == bound
        else:
            hi = min(bound, at + size)
            found = at + np.flatnonzero(~taken[at:hi])
            done = hi == bound
        if len(found) >= k or done:
            return found[:k]
        size *= 4


def _bracket_matching(free: np.ndarray, place: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The controls ``free`` (ascending) of one run taken by units at
    ``place`` (ascending; in the order they choose), each taking the latest
    free control before its place, else the first free one from its place
    on. Returns (unit, control) of the units that got one."""
    n_open, n_close = len(free), len(place)
    n = min(n_open, n_close)
    if place[-1] <= free[0]:  # every free control after every unit: first in, first out
        return np.arange(n), free[:n]
    if place[0] > free[-1]:  # every free control before every unit: last in, first out
        return np.arange(n), free[::-1][:n]
    # events in list order: a control j at 2j + 1, a unit at place p at 2p (before j = p)
    key = np.concatenate((2 * free + 1, 2 * place))
    is_open = np.zeros(n_open + n_close, dtype=bool)
    is_open[:n_open] = True
    ident = np.concatenate((free, np.arange(n_close)))
    events = np.argsort(key, kind="stable")
    is_open, ident = is_open[events], ident[events]
    delta = np.where(is_open, 1, -1)
    after = np.cumsum(delta)
    before = after - delta
    # last in, first out: a unit with free controls on its left (balance > 0)
    # takes the control that brought the balance to the level it leaves
    push = is_open & (before >= 0)
    pop = ~is_open & (before >= 1)
    level = np.where(push, after, before)
    stack = np.flatnonzero(push | pop)
    stack = stack[np.lexsort((stack, level[stack]))]
    pops = np.flatnonzero(pop[stack])
    unit_lifo, control_lifo = ident[stack[pops]], ident[stack[pops - 1]]
    # first in, first out: units with none on their left (balance <= 0) wait;
    # each later free control goes to the earliest waiting unit of the
    # current stretch below zero
    wait = ~is_open & (before <= 0)
    serve = is_open & (before <= -1)
    stretch = np.cumsum(~is_open & (before == 0))
    waiting, served = np.flatnonzero(wait), np.flatnonzero(serve)
    rank_w = np.arange(len(waiting)) - np.searchsorted(stretch[waiting], stretch[waiting])
    rank_s = np.arange(len(served)) - np.searchsorted(stretch[served], stretch[served])
    # stretches ascend along the events: the k-th served of a stretch meets its k-th waiting
    key_w = stretch[waiting] * (n_close + 1) + rank_w
    key_s = stretch[served] * (n_close + 1) + rank_s
    unit_fifo = ident[waiting[np.searchsorted(key_w, key_s)]]
    control_fifo = ident[served]
    return np.concatenate((unit_lifo, unit_fifo)), np.concatenate((control_lifo, control_fifo))


def greedy_with_replacement(
    units: SortedUnits, ratio: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised k-nearest matching with replacement (order-free)."""
    left0, d_t, c_t, s_t, d_c, c_c, s_c, width = units
    m = len(d_c)
    lo = left0.copy()
    hi = left0 + 1
    active = np.ones(len(d_t), dtype=bool)
    out_t, out_c, out_r = [], [], []
    for r in range(ratio):
        lo_i = np.clip(lo, 0, m - 1)
        hi_i = np.clip(hi, 0, m - 1)
        ok_l = (lo >= 0) & (s_c[lo_i] == s_t) & (np.abs(c_c[lo_i] - c_t) <= width)
        ok_r = (hi < m) & (s_c[hi_i] == s_t) & (np.abs(c_c[hi_i] - c_t) <= width)
        dist_l = np.where(ok_l, np.abs(d_c[lo_i] - d_t), np.inf)
        dist_r = np.where(ok_r, np.abs(d_c[hi_i] - d_t), np.inf)
        take_l = ok_l & (dist_l <= dist_r)
        took = active & (ok_l | ok_r)
        chosen = np.where(take_l, lo_i, hi_i)
        idx = np.flatnonzero(took)
        out_t.append(idx)
        out_c.append(chosen[idx])
        out_r.append(np.full(len(idx), r))
        lo = np.where(took & take_l, lo - 1, lo)
        hi = np.where(took & ~take_l, hi + 1, hi)
        active = took
    return np.concatenate(out_t), np.concatenate(out_c), np.concatenate(out_r)


def tied_controls(
    units: SortedUnits, t: np.ndarray, c: np.ndarray, r: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The controls tied with each treated unit's last match (Abadie & Imbens
    2006): every other control of its stratum, within the caliper, at exactly
    the distance of its k-th (last) match, found by stepping outwards from
    the matched window over runs of controls with equal score. Returns the
    extra (treated, control, pass) triples, pass that of the last match."""
    _, d_t, c_t, s_t, d_c, c_c, s_c, width = units
    m = len(d_c)
    # Runs of controls with equal (stratum, score): first and last index of each.
    new_run = np.r_[True, (d_c[1:] != d_c[:-1]) | (s_c[1:] != s_c[:-1])]
    run_id = np.cumsum(new_run) - 1
    starts = np.flatnonzero(new_run)
    run_first = starts[run_id]
    run_last = np.r_[starts[1:] - 1, m - 1][run_id]
    units_t = np.unique(t)
    # Matched window of each matched treated unit and the distance of its last match.
    lo = np.full(len(d_t), m, dtype=np.int64)
    hi = np.full(len(d_t), -1, dtype=np.int64)
    np.minimum.at(lo, t, c)
    np.maximum.at(hi, t, c)
    reach = np.zeros(len(d_t))
    np.maximum.at(reach, t, np.abs(d_c[c] - d_t[t]))
    final_pass = np.zeros(len(d_t), dtype=np.int64)
    np.maximum.at(final_pass, t, r)
    out_t, out_c = [], []
    for step, bound in ((-1, lo[units_t] - 1), (1, hi[units_t] + 1)):
        frontier = bound
        active = np.ones(len(units_t), dtype=bool)
        while active.any():
            j = np.clip(frontier, 0, m - 1)
            tt = units_t
            active &= (
                (frontier >= 0)
                & (frontier < m)
                & (s_c[j] == s_t[tt])
                & (np.abs(c_c[j] - c_t[tt]) <= width)
                & (np.abs(d_c[j] - d_t[tt]) == reach[tt])
            )
            idx = np.flatnonzero(active)
            if not idx.size:
                break
            # The rest of the frontier control's run, away from the window.
            first = run_first[j[idx]] if step < 0 else j[idx]
            final = j[idx] if step < 0 else run_last[j[idx]]
            lengths = final - first + 1
            out_t.append(np.repeat(tt[idx], lengths))
            offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            out_c.append(np.repeat(first, lengths) + offsets)
            if step < 0:
                frontier[idx] = first - 1
            else:
                frontier[idx] = final + 1
    if not out_t:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    tied_t = np.concatenate(out_t)
    return tied_t, np.concatenate(out_c), final_pass[tied_t]


def treated_order(d_t: np.ndarray, m_order: str, seed: int | None) -> np.ndarray:
    """Order in which treated units choose (MatchIt's ``m.order``); ties keep row order."""
    if m_order == "largest":
        return np.argsort(-d_t, kind="stable")
    if m_order == "smallest":
        return np.argsort(d_t, kind="stable")
    if m_order == "random":
        return np.random.default_rng(seed).permutation(len(d_t))
    return np.arange(len(d_t))
