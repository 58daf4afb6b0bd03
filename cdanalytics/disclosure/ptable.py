"""Perturbation tables (ptables) for the cell key method.

A ptable gives, for each true cell count ``i``, the probabilities of the
integer noises ``d`` added to it. :class:`PerturbationTable` builds one from
three parameters, the design of the ``ptable`` R package (Enderle, Giessing &
Tent 2018), following Marley & Leaver (2011) and Giessing (2016):

- ``D``: maximum noise, ``|d| <= D``;
- ``V``: noise variance, ``E[d**2] = V`` in every row where it is attainable;
- ``js``: small counts ``1, ..., js`` are never published: a perturbed count
  is ``0`` or above ``js`` (so a true count of 1 or 2 is never shown as
  itself when ``js = 2``).

Construction
------------
For a true count ``i >= 1`` the allowed noises are the ``d`` with
``|d| <= D`` whose result ``j = i + d`` is ``0`` or above ``js`` (never
negative, never in ``1..js``). Among the distributions on those noises with
mean exactly 0 (unbiased in every row) and variance ``V``, the row is the one
of maximum entropy, ``p(d) ∝ exp(a d + b d**2)``, found by Newton's method on
the convex dual. Where ``V`` cannot be reached with mean 0 (near 0 and
``js``, for example ``i = 1, js = 2``, whose noises are ``-1, +2, +3``), the
row takes the nearest attainable variance, which is reached by a single
two-point distribution; :attr:`PerturbationTable.summary` shows each row's
variance. A true count of 0 is never perturbed (an empty cell has no
members, hence no cell key). From ``i = js + D + 1`` on every noise in
``-D..D`` is allowed and the rows are identical, so the table stores rows
``0 .. js + D + 1`` and larger counts use the last one (as the ONS reuses
its rows 501-750).

Lookup
------
A cell key is a uniform integer in ``[0, big_n)``. Each row's probabilities
are turned into integer shares of ``big_n`` (largest remainders, then the
fewest moves of one unit between neighbouring noises that make the mean
exactly 0), laid out as consecutive key intervals in order of noise; the
noise of a cell is the one whose interval holds its key. The realised
probabilities are those shares divided by ``big_n``: exactly unbiased, with a
variance within a few ``D**2 / big_n`` of the design.

References
----------
Marley, J. K. & Leaver, V. L. (2011). A method for confidentialising
user-defined tables: statistical properties and a risk-utility analysis.
ISI World Statistics Congress, Dublin.
Giessing, S. (2016). Computational issues in the design of transition
probabilities and disclosure risk estimation for additive noise. Privacy in
Statistical Databases, LNCS 9867, 237-251.
Enderle, T., Giessing, S. & Tent, R. (2018). Designing confidentiality on the
fly methodology: three aspects. Privacy in Statistical Databases, LNCS 11126,
28-42; R package ``ptable`` (CRAN, sdcTools).
Office for National Statistics (2023). Cell key perturbation: method
specification (ONSdigital/cell-key-perturbation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from cdanalytics.errors import ConfigError

__all__ = ["DEFAULT_BIG_N", "PerturbationTable", "check_big_n"]

#: Default cell-key range: keys are integers in ``[0, 2**32)``.
DEFAULT_BIG_N = 2**32
_MIN_BIG_N = 2**8
_MAX_BIG_N = 2**32


def check_big_n(big_n: int) -> int:
    """``big_n`` as an int, if it is a power of two from 256 to 2**32.

    A power of two makes a sum of keys modulo ``big_n`` exact even where a
    64-bit sum wraps; the upper bound keeps sums of millions of keys exact.

    Raises
    ------
    ConfigError
        Otherwise.
    """
    ok = isinstance(big_n, int | np.integer) and not isinstance(big_n, bool)
    if not ok or not _MIN_BIG_N <= big_n <= _MAX_BIG_N or big_n & (big_n - 1):
        raise ConfigError(f"big_n must be a power of two from 2**8 to 2**32, got {big_n!r}")
    return int(big_n)


def _two_point(noises: np.ndarray, low: int, high: int) -> np.ndarray:
    """The mean-zero distribution on the two noises ``low < 0 < high``."""
    p = np.zeros(len(noises))
    p[noises == low] = high / (high - low)
    p[noises == high] = -low / (high - low)
    return p


def _max_entropy(noises: np.ndarray, variance: float) -> np.ndarray:
    """Maximum-entropy distribution on ``noises`` with mean 0 and the variance.

    Damped Newton on the convex dual ``log sum exp(a d + b d^2) - b V``; the
    variance must lie strictly inside the attainable range.
    """
    d = noises.astype(float)
    feats = np.stack([d, d**2])
    target = np.array([0.0, variance])

    def dual(theta: np.ndarray) -> float:
        return float(logsumexp(theta @ feats) - theta[1] * variance)

    theta = np.zeros(2)
    for _ in range(200):
        p = np.exp(theta @ feats - logsumexp(theta @ feats))
        grad = feats @ p - target
        if np.max(np.abs(grad)) < 1e-14:
            break
        centred = feats - (feats @ p)[:, None]
        hess = (centred * p) @ centred.T
        step = np.linalg.solve(hess, grad)
        t, now = 1.0, dual(theta)
        while dual(theta - t * step) > now - 1e-4 * t * (grad @ step) and t > 1e-12:
            t /= 2
        theta = theta - t * step
    p = np.exp(theta @ feats - logsumexp(theta @ feats))
    if np.max(np.abs(feats @ p - target)) > 1e-9:
        raise ConfigError(
            f"could not build a ptable row with variance {variance} on the noises "
            f"{noises.tolist()}; choose V further from its attainable limits"
        )
    return p


def _allowed(count: int, D: int, js: int) -> np.ndarray:
    """Which noises ``-D..D`` a true count may get (0 gets only 0)."""
    result = count + np.arange(-D, D + 1)
    if count == 0:
        return result == 0
    return (result == 0) | (result > js)


def _row(count: int, D: int, V: float, js: int) -> tuple[np.ndarray, float]:
    """Probabilities of the noises ``-D..D`` for a true count, and the row's variance."""
    noises = np.arange(-D, D + 1)
    allowed = _allowed(count, D, js)
    if count == 0:
        return allowed.astype(float), 0.0
    support = noises[allowed]
    below, above = support[support < 0], support[support > 0]
    v_min = 0.0 if 0 in support else float(-below.max() * above.min())
    v_max = float(-below.min() * above.max())
    p = np.zeros(len(noises))
    if v_min >= V:
        p[allowed] = (
            (support == 0).astype(float)
            if v_min == 0
            else _two_point(support, below.max(), above.min())
        )
        return p, v_min
    if v_max <= V:
        p[allowed] = _two_point(support, below.min(), above.max())
        return p, v_max
    p[allowed] = _max_entropy(support, V)
    return p, float(V)


def _shares(p: np.ndarray, noises: np.ndarray, allowed: np.ndarray, big_n: int) -> np.ndarray:
    """Integer shares of ``big_n`` close to ``p * big_n``, with exactly zero mean noise.

    Largest remainders first; then the fewest one-unit moves (from a noise
    that has shares to any allowed noise) that bring the total noise to 0,
    by breadth-first search over the total (a handful of units at most).
    """
    raw = p * big_n
    shares = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - shares), kind="stable")
    shares[order[: big_n - int(shares.sum())]] += 1
    excess = int(shares @ noises)
    loaded = np.argsort(-shares, kind="stable")[: int((shares > 0).sum())]
    moves = [(x, y) for x in loaded for y in np.flatnonzero(allowed) if x != y]
    bound = abs(excess) + len(noises)
    paths: dict[int, list] = {excess: []}
    seen = {excess}
    while 0 not in paths:
        reached: dict[int, list] = {}
        for total, path in paths.items():
            for x, y in moves:
                after = total + int(noises[y] - noises[x])
                if abs(after) <= bound and after not in seen:
                    seen.add(after)
                    reached[after] = [*path, (x, y)]
        if not reached:
            raise ConfigError("cannot make this ptable row exactly unbiased; use a larger big_n")
        paths = reached
    for x, y in paths[0]:
        shares[x] -= 1
        shares[y] += 1
    if (shares < 0).any():
        raise ConfigError("big_n is too small for this ptable; use a larger big_n")
    return shares


@dataclass(frozen=True)
class PerturbationTable:
    """Noise distributions for the cell key method, by true count.

    Build one with :meth:`from_parameters`; see the module docstring for the
    construction and the references.

    Attributes
    ----------
    D, V, js, big_n
        The parameters (maximum noise, noise variance, largest count never
        published, cell-key range).
    probabilities
        Array ``(js + D + 2, 2 D + 1)``: row ``i`` is the designed distribution
        of the noises ``-D..D`` for a true count ``i`` (the last row serves
        every larger count).
    shares
        The same rows as integer shares of ``big_n`` (what the lookup uses).
    variances
        The variance each designed row attains (``V`` where attainable).
    """

    D: int
    V: float
    js: int
    big_n: int
    probabilities: np.ndarray = field(repr=False)
    shares: np.ndarray = field(repr=False)
    variances: np.ndarray = field(repr=False)

    @classmethod
    def from_parameters(
        cls, D: int = 3, V: float = 1.0, js: int = 2, big_n: int = DEFAULT_BIG_N
    ) -> PerturbationTable:
        """The maximum-entropy ptable with maximum noise ``D``, variance ``V``.

        Parameters
        ----------
        D
            Maximum absolute noise, at least ``js + 1`` (so that a count
            ``1..js`` can move to a publishable value on either side).
        V
            Noise variance, ``0 < V < D**2``.
        js
            Published counts are never in ``1..js`` (0 publishes every count).
        big_n
            Cell keys are integers in ``[0, big_n)``; a power of two.

        Returns
        -------
        PerturbationTable

        Raises
        ------
        ConfigError
            When a parameter is out of range.

        References
        ----------
        Enderle, Giessing & Tent (2018); ``ptable::create_cnt_ptable``.
        """
        big_n = check_big_n(big_n)
        for name, value in (("D", D), ("js", js)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ConfigError(f"cell key parameter {name} must be a whole number")
        if js < 0 or js >= D:
            raise ConfigError(f"cell key parameters need 0 <= js < D, got js={js}, D={D}")
        if not 0 < float(V) < D**2:
            raise ConfigError(f"cell key variance V must be in (0, D**2 = {D**2}), got {V!r}")
        noises = np.arange(-D, D + 1)
        rows = [_row(i, int(D), float(V), int(js)) for i in range(js + D + 2)]
        probabilities = np.array([p for p, _ in rows])
        shares = np.array(
            [
                _shares(p, noises, _allowed(i, int(D), int(js)), big_n)
                for i, p in enumerate(probabilities)
            ]
        )
        for array in (probabilities, shares):
            array.setflags(write=False)
        variances = np.array([v for _, v in rows])
        variances.setflags(write=False)
        return cls(int(D), float(V), int(js), big_n, probabilities, shares, variances)

    @property
    def noises(self) -> np.ndarray:
        """The noise of each column: ``-D .. D``."""
        return np.arange(-self.D, self.D + 1)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per stored count: realised mean and variance, chance of no change.

        ``count`` is the true count (the last row stands for it and every
        larger count); ``variance`` is the designed variance, ``mean`` and
        ``realised_variance`` those of the integer shares the lookup uses,
        ``p_unchanged`` the chance the count is published as itself and
        ``p_zero`` the chance it is published as 0.
        """
        realised = self.shares / self.big_n
        index = np.arange(len(self.shares))
        zero = index[:, None] + self.noises[None, :] == 0
        return pd.DataFrame(
            {
                "count": index,
                "mean": realised @ self.noises,
                "variance": self.variances,
                "realised_variance": realised @ self.noises**2,
                "p_unchanged": realised[:, self.D],
                "p_zero": np.where(zero, realised, 0.0).sum(axis=1),
            }
        )

    def row_of(self, counts: np.ndarray) -> np.ndarray:
        """Row index for each true count (counts beyond the table use the last row)."""
        return np.minimum(np.asarray(counts, dtype=np.int64), len(self.shares) - 1)

    def noise(self, counts: np.ndarray, cell_keys: np.ndarray) -> np.ndarray:
        """The noise for each (true count, cell key) pair.

        Parameters
        ----------
        counts
            Non-negative true counts.
        cell_keys
            Integers in ``[0, big_n)``, one per count.

        Returns
        -------
        numpy.ndarray
            Integer noises; ``counts + noise`` is never negative and never in
            ``1..js``.

        Raises
        ------
        ConfigError
            When a count is negative or a key is out of range.
        """
        counts = np.asarray(counts, dtype=np.int64)
        keys = np.asarray(cell_keys, dtype=np.int64)
        if counts.shape != keys.shape:
            raise ConfigError("counts and cell keys must have the same length")
        if (counts < 0).any() or (keys < 0).any() or (keys >= self.big_n).any():
            raise ConfigError(f"counts must be >= 0 and cell keys in [0, {self.big_n})")
        upper = np.cumsum(self.shares, axis=1)[self.row_of(counts)]
        column = (upper <= keys[:, None]).sum(axis=1)
        return self.noises[column]
