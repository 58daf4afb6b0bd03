"""Small statistical helpers shared by the analysis modules."""

from __future__ import annotations

import numpy as np
from statsmodels.stats.proportion import proportion_confint

__all__ = ["wilson_ci"]


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
    statistical inference. JASA 22:209-212. Computed by
    ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.
    """
    count = np.asarray(count, dtype=float)
    nobs = np.asarray(nobs, dtype=float)
    safe = np.where(nobs > 0, nobs, 1.0)
    low, high = proportion_confint(count, safe, alpha=alpha, method="wilson")
    empty = nobs <= 0
    # statsmodels leaves rounding noise (about 1e-17) at the bounds 0 and 1.
    low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)
