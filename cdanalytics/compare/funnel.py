"""Funnel-plot control limits, exact limits of observed/expected ratios, and overdispersion.

A funnel plot shows each unit's indicator (a proportion, or an
observed/expected ratio after case-mix adjustment) against its precision
(the number of people, or the expected count), with control limits around
the target that narrow as the precision grows (Spiegelhalter 2005). Units
outside the 99.8% limits differ from the target by more than chance would
make likely.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy import stats

from ..errors import ConfigError

__all__ = [
    "FUNNEL_LEVELS",
    "funnel_limits",
    "overdispersion",
    "poisson_ratio_ci",
    "ratio_z_scores",
]

#: Control-limit coverages drawn by default: about 2 and 3 standard deviations.
FUNNEL_LEVELS: tuple[float, ...] = (0.95, 0.998)

Kind = Literal["ratio", "proportion"]


def _interpolated_quantile(p: float, dist, size: np.ndarray) -> np.ndarray:
    """Spiegelhalter's (2005, appendix A.1.1) continuous quantile of a discrete
    distribution: r - alpha with r the p-quantile and
    alpha = (F(r) - p) / (F(r) - F(r - 1))."""
    r = dist.ppf(p)
    f_r = dist.cdf(r)
    f_below = dist.cdf(r - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(f_r > f_below, (f_r - p) / (f_r - f_below), 0.0)
    return np.where(size > 0, r - alpha, np.nan)


def funnel_limits(
    precision: Sequence[float] | np.ndarray,
    target: float,
    *,
    kind: Kind = "ratio",
    levels: Sequence[float] = FUNNEL_LEVELS,
    phi: float = 1.0,
) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """Lower and upper funnel limits at each precision.

    Parameters
    ----------
    precision
        Expected counts (``kind="ratio"``: the indicator is observed /
        expected) or denominators (``kind="proportion"``: the indicator is
        a proportion of that many people).
    target
        The indicator's target: 1 for a ratio to a case-mix expectation, the
        overall proportion for proportions.
    kind
        ``"ratio"`` (Poisson counts) or ``"proportion"`` (binomial counts).
    levels
        Two-sided coverages of the limits (0.95 and 0.998 by default).
    phi
        Multiplicative overdispersion factor (:func:`overdispersion`). With
        1 (default) the limits are the exact ones, interpolated between the
        integers (Spiegelhalter 2005, appendix A.1.1); above 1 they are the
        normal-approximation limits with the variance inflated by ``phi``,
        ``target ± z sqrt(phi V(target) / precision)`` (section 4.2;
        V = target for a Poisson ratio, target (1 - target) for a
        proportion), with a ratio's lower limit kept at 0 or above.

    Returns
    -------
    dict
        Level -> (lower limits, upper limits), arrays like ``precision``
        (NaN where the precision is 0 or missing).

    References
    ----------
    Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional
    performance. Statistics in Medicine 24:1185-1202.

    Examples
    --------
    With overdispersion (``phi`` above 1) the limits are the normal ones:
    for a target proportion of 0.2, 100 people and ``phi = 2``, the 95%
    limits are 0.2 ± 1.96 x sqrt(2 x 0.2 x 0.8 / 100) = 0.2 ± 0.111:

    >>> import math
    >>> limits = funnel_limits([100, 400], 0.2, kind="proportion", phi=2.0, levels=[0.95])
    >>> low, high = limits[0.95]
    >>> low.round(4).tolist(), high.round(4).tolist()
    ([0.0891, 0.1446], [0.3109, 0.2554])
    >>> half = [1.959964 * math.sqrt(2 * 0.2 * 0.8 / n) for n in (100, 400)]
    >>> [round(0.2 - h, 4) for h in half], [round(0.2 + h, 4) for h in half]
    ([0.0891, 0.1446], [0.3109, 0.2554])
    """
    size = np.asarray(precision, dtype=float)
    if kind not in ("ratio", "proportion"):
        raise ConfigError(f"kind must be 'ratio' or 'proportion', not {kind!r}.")
    if not np.isfinite(phi) or phi <= 0:
        raise ConfigError(f"phi must be a positive number, not {phi!r}.")
    if kind == "proportion" and not 0 < target < 1:
        raise ConfigError("A proportion's target must be between 0 and 1.")
    if kind == "ratio" and not target > 0:
        raise ConfigError("A ratio's target must be above 0.")
    ok = np.isfinite(size) & (size > 0)
    safe = np.where(ok, size, 1.0)
    out: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    for level in levels:
        if not 0 < level < 1:
            raise ConfigError(f"Funnel levels must be between 0 and 1, not {level!r}.")
        tail = (1 - level) / 2
        if phi != 1.0:
            variance = target if kind == "ratio" else target * (1 - target)
            half = stats.norm.ppf(1 - tail) * np.sqrt(phi * variance / safe)
            low, high = target - half, target + half
            low = np.maximum(low, 0.0) if kind == "ratio" else np.clip(low, 0.0, 1.0)
            high = high if kind == "ratio" else np.clip(high, 0.0, 1.0)
        else:
            if kind == "ratio":
                dist = stats.poisson(target * safe)
            else:
                dist = stats.binom(np.round(safe).astype(np.int64), target)
            low = _interpolated_quantile(tail, dist, safe) / safe
            high = _interpolated_quantile(1 - tail, dist, safe) / safe
            low = np.maximum(low, 0.0)
        out[level] = (np.where(ok, low, np.nan), np.where(ok, high, np.nan))
    return out


def poisson_ratio_ci(
    observed: Sequence[float] | np.ndarray,
    expected: Sequence[float] | np.ndarray,
    alpha: float = 0.05,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) confidence limits of observed / expected.

    The observed count is taken as Poisson and the expected count as known:
    ``chi2(alpha/2; 2 O) / (2 E)`` and ``chi2(1 - alpha/2; 2 O + 2) / (2 E)``
    (lower limit 0 when O = 0). Ulm (1990) gives the same limits through the
    gamma distribution.

    References
    ----------
    Garwood, F. (1936). Fiducial limits for the Poisson distribution.
    Biometrika 28:437-442. Ulm, K. (1990). A simple method to calculate the
    confidence interval of a standardized mortality ratio. American Journal
    of Epidemiology 131:373-375.
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(o > 0, stats.chi2.ppf(alpha / 2, 2 * o) / 2, 0.0) / e
        high = stats.chi2.ppf(1 - alpha / 2, 2 * o + 2) / 2 / e
    bad = ~(np.isfinite(e) & (e > 0))
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def ratio_z_scores(
    observed: np.ndarray, precision: np.ndarray, target: float, kind: Kind = "ratio"
) -> np.ndarray:
    """Standardised differences from the target (Spiegelhalter 2005, section 4.1).

    ``ratio``: ``(O/E - target) / sqrt(target / E)``; ``proportion``:
    ``(y - target) / sqrt(target (1 - target) / n)`` with ``y`` the
    observed proportion.
    """
    o = np.asarray(observed, dtype=float)
    n = np.asarray(precision, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = o / n
        variance = target if kind == "ratio" else target * (1 - target)
        return (y - target) / np.sqrt(variance / n)


def overdispersion(z: Sequence[float] | np.ndarray, winsor: float = 0.1) -> tuple[float, float]:
    """Multiplicative overdispersion factor from winsorised z-scores.

    The z-scores below their ``winsor`` quantile are set to it, and those
    above the ``1 - winsor`` quantile to that (10% each way by default);
    ``phi = mean(z^2)`` over the I units (Spiegelhalter 2005, section 4.2).
    Under no overdispersion ``I phi`` is about chi-square on I - 1 degrees
    of freedom (the target is estimated); the p-value of that test is
    returned beside ``phi``. Use ``max(phi, 1)`` in :func:`funnel_limits`
    when the test suggests overdispersion.

    Returns
    -------
    (phi, p_value)
    """
    values = np.asarray(z, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return np.nan, np.nan
    low, high = np.quantile(values, [winsor, 1 - winsor])
    clipped = np.clip(values, low, high)
    phi = float(np.mean(clipped**2))
    p_value = float(stats.chi2.sf(len(values) * phi, len(values) - 1))
    return phi, p_value
