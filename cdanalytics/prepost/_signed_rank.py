"""Wilcoxon signed-rank test of many groups at once (:func:`_wilcoxon`)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import special, stats

from ._grouping import split_by_group

ZeroMethod = Literal["wilcox", "pratt", "zsplit"]


def _wilcoxon(
    codes: np.ndarray,
    n_groups: int,
    changes: np.ndarray,
    zero_method: ZeroMethod,
    correction: bool,
    method: str,
    sizes: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Wilcoxon signed-rank statistic and p-value per group: the groups
    scipy tests by the normal approximation all at once
    (:func:`_wilcoxon_asymptotic`), the others by scipy, one call each.
    ``sizes``: the number of rows of each group, if the caller has counted
    them."""
    statistic = np.full(n_groups, np.nan)
    p_value = np.full(n_groups, np.nan)
    if sizes is None:
        sizes = np.bincount(codes, minlength=n_groups)
    together = np.zeros(n_groups, dtype=bool)
    if zero_method == "wilcox" and method in ("auto", "asymptotic"):
        # scipy's "auto" takes the normal approximation above 50 pairs.
        together = sizes > (0 if method == "asymptotic" else 50)
        if together.any():
            if together[sizes > 0].all():  # usual on large data: no rows to pick
                stat, p = _wilcoxon_asymptotic(codes, n_groups, changes, correction, sizes)
            else:
                rows = together[codes]
                stat, p = _wilcoxon_asymptotic(codes[rows], n_groups, changes[rows], correction)
            statistic[together], p_value[together] = stat[together], p[together]
    alone = np.flatnonzero(~together & (sizes > 0))
    if alone.size:
        rows = (~together)[codes]
        parts = split_by_group(codes[rows], n_groups, changes[rows])
        for g in alone:
            d = parts[g]
            if np.count_nonzero(d) == 0:
                continue
            if _by_sign_flips(d, zero_method, method):
                statistic[g], p_value[g] = _wilcoxon_sign_flips(d)
                continue
            res = stats.wilcoxon(d, zero_method=zero_method, correction=correction, method=method)
            statistic[g] = res.statistic
            p_value[g] = res.pvalue
    return statistic, p_value


def _by_sign_flips(d: np.ndarray, zero_method: ZeroMethod, method: str) -> bool:
    """Whether scipy's ``wilcoxon(d, method="auto")`` (zeros dropped) would run
    its exact permutation test: at most 13 pairs, with a zero change or tied
    sizes (:func:`_wilcoxon_sign_flips` gives its answer without the 2^n sums)."""
    if zero_method != "wilcox" or method != "auto" or len(d) > 13:
        return False
    sizes = np.abs(d[d != 0])
    return len(sizes) < len(d) or len(np.unique(sizes)) < len(sizes)


def _wilcoxon_sign_flips(d: np.ndarray) -> tuple[float, float]:
    """Two-sided exact Wilcoxon signed-rank test by the distribution of R+ over
    all 2^n sign flips, zero changes dropped: the statistic min(R+, R-) and
    the p-value 2 min(P(R+ <= r), P(R+ >= r)), capped at 1, that scipy's
    ``wilcoxon(method="auto")`` gets from ``permutation_test`` by summing every
    flip. Ranks are average ranks of |d|, multiples of 1/2: doubled, they are
    integers, and the counts of each sum come from a subset-sum recursion
    (as in Hollander, Wolfe and Chicken 2014, ch. 3, for the untied case);
    every count over 2^n is exact in floating point, so the p-value is
    scipy's to the last bit. A zero change flips to itself, so it doubles
    every count and leaves each share as it is.
    """
    nonzero = d[d != 0]
    ranks = stats.rankdata(np.abs(nonzero))  # average ranks of ties
    r_plus = float(ranks[nonzero > 0].sum())
    r_minus = float(ranks[nonzero < 0].sum())
    doubled = np.rint(2 * ranks).astype(np.int64)
    counts = np.zeros(int(doubled.sum()) + 1)
    counts[0] = 1.0
    for k in doubled:  # subsets with or without this change positive
        counts[k:] = counts[k:] + counts[: len(counts) - k]
    observed = round(2 * r_plus)
    total = 2.0 ** len(nonzero)
    below, above = counts[: observed + 1].sum() / total, counts[observed:].sum() / total
    return min(r_plus, r_minus), min(1.0, 2 * min(below, above))


def _wilcoxon_asymptotic(
    codes: np.ndarray,
    n_groups: int,
    changes: np.ndarray,
    correction: bool,
    sizes: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided Wilcoxon signed-rank test of every group by the normal
    approximation, zero changes dropped (``zero_method="wilcox"``), from one
    sort of (group, |change|) (:func:`_sorted_by_group_and_size`): scipy's
    ``wilcoxon(method="asymptotic")`` arithmetic (average ranks of ties, the
    tie term Σ (t³ - t) / 48 in the variance, continuity correction 0.5 /
    se). NaN for groups without a nonzero change. ``sizes``: the number
    of rows of each group, if the caller has counted them."""
    nonzero = changes != 0
    if not nonzero.all():
        codes, changes = codes[nonzero], changes[nonzero]
        sizes = None  # fewer rows than counted
    del nonzero
    codes, new_run, positive = _sorted_by_group_and_size(codes, n_groups, changes)
    size = np.bincount(codes, minlength=n_groups) if sizes is None else sizes
    count = size.astype(float)
    first = np.cumsum(size) - size  # first position of each group
    start = first.astype(float)
    # Ranks are multiples of 1/2, so these sums are exact in any order: R+
    # from the positive changes, R- the rest of n (n + 1) / 2.
    if new_run.all():  # no ties: rank = 1-based position in the group
        del new_run
        # R+ = sum over the positive changes of (position + 1), less the
        # group's start for each of them: integers, summed exactly as
        # running totals of the positions of the positive changes (sorted
        # by group, so each group's are one run of them).
        position = positive.nonzero()[0]
        del positive
        begin = np.searchsorted(position, first)  # first positive change of each group
        end = np.empty_like(begin)
        end[:-1] = begin[1:]
        end[-1:] = position.size
        n_positive = end - begin
        # running[i]: the sum of the first i positions
        running = np.empty(position.size + 1, dtype=position.dtype)
        running[0] = 0
        np.cumsum(position, out=running[1:])
        total = running[end] - running[begin]
        r_plus = (total + n_positive).astype(float)
        r_plus -= start * n_positive
        ties = np.zeros(n_groups)
    else:
        run_first = new_run.nonzero()[0]
        bounds = np.concatenate((run_first, [codes.size]))
        run_length = bounds[1:] - bounds[:-1]
        run_group = codes[run_first]
        # Average rank of a run: its first rank (1-based in its group) + (t - 1) / 2,
        # times the positive changes in it.
        run_rank = run_first - start[run_group] + 1 + (run_length - 1) / 2
        run_rank *= np.add.reduceat(positive, run_first, dtype=np.int64)
        r_plus = np.bincount(run_group, weights=run_rank, minlength=n_groups)
        tied = run_length > 1
        t = run_length[tied].astype(float)
        ties = np.bincount(run_group[tied], weights=t * t * t - t, minlength=n_groups)
    r_minus = count * (count + 1.0) / 2 - r_plus
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = count * (count + 1.0) * 0.25
        se = np.sqrt((count * (count + 1.0) * (2.0 * count + 1.0) - ties / 2) / 24)
        z = (r_plus - mean) / se
        if correction:
            z = z - np.sign(z) * 0.5 / se
    p_value = np.clip(2 * special.ndtr(-np.abs(z)), 0, 1)
    statistic = np.minimum(r_plus, r_minus)
    empty = count == 0
    return np.where(empty, np.nan, statistic), np.where(empty, np.nan, p_value)


def _sorted_by_group_and_size(
    codes: np.ndarray, n_groups: int, changes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The changes sorted by group, then by absolute size: the group of each
    (sorted), whether each starts a run of equal (group, size), and whether
    it is positive. ``codes`` is left as it was (when they are platform
    integers, they are shifted in place and back).

    The sizes of nonzero finite changes are positive doubles, whose bit
    patterns read as integers sort as the numbers do; when the group, the
    bit pattern less the smallest one, and the sign fit in 63 bits, one
    integer key holds all three and a plain sort (no permutation) orders
    them. Otherwise a sort by size and then a stable one by group."""
    size = np.abs(changes)
    if size.size == 0:
        return codes, np.zeros(0, dtype=bool), changes > 0
    bits = size.view(np.int64)
    low, high = int(bits.min()), int(bits.max())
    size_bits = (high - low).bit_length()
    group_bits = max(int(n_groups) - 1, 1).bit_length()
    # Bit patterns from 0x7FF0... up are infinities and NaNs.
    if high < 0x7FF0000000000000 and size_bits + group_bits + 1 <= 63:
        # (group << size_bits) + (bits - low), made in the sizes' buffer: the
        # low bits are free. Platform-integer groups of the caller's are
        # shifted in place and back (no array of their own).
        key = bits
        key -= low
        if codes.dtype == np.int64 and codes.flags.writeable:
            codes <<= size_bits
            key += codes
            codes >>= size_bits
        else:
            key += codes.astype(np.int64) << size_bits
        key <<= 1
        key |= changes > 0
        key.sort()
        positive = np.empty(key.size, dtype=bool)
        np.bitwise_and(key, 1, out=positive, casting="unsafe")
        key >>= 1
        new_run = np.empty(key.size, dtype=bool)
        new_run[0] = True
        np.not_equal(key[1:], key[:-1], out=new_run[1:])
        key >>= size_bits
        return key, new_run, positive
    positive = changes > 0
    order = np.argsort(size)
    order = order[np.argsort(codes[order], kind="stable")]
    codes, size = codes[order], size[order]
    new_run = np.r_[True, (codes[1:] != codes[:-1]) | (size[1:] != size[:-1])]
    return codes, new_run, positive[order]
