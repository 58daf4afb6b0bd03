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
