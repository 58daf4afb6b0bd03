"""Paired-sample statistics computed from grouped aggregates (vectorised).

Every function takes arrays with one element per group (n, means, SDs,
correlation) so that thousands of groups cost one numpy call each.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats
from scipy.optimize import elementwise

__all__ = ["hedges_j", "noncentral_t_ci", "paired_statistics"]

#: Conventions of the effect sizes returned by :func:`paired_statistics`.
EFFECT_SIZE_CONVENTIONS: dict[str, str] = {
    "d_z": (
        "Cohen's d_z = mean change / SD of the changes (Cohen 1988); exact CI by inverting "
        "the noncentral t distribution of the paired t statistic (Steiger & Fouladi 1997)."
    ),
    "g_av": (
        "Hedges' g_av = J x mean change / ((SD_pre + SD_post) / 2) (d_av of Cumming 2012 and "
        "Lakens 2013); J = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2)) with df = n - 1, the "
        "exact small-sample correction (Hedges 1981). CI: the noncentrality limits of the "
        "paired t statistic rescaled to the g_av metric (Algina & Keselman 2003), times J."
    ),
    "t": "Paired t-test of mean change = 0, two-sided, df = n - 1.",
    "change": "Change = second timepoint - first timepoint (post - pre), in raw score units.",
}


def hedges_j(df: np.ndarray) -> np.ndarray:
    """Exact small-sample bias correction of a standardised mean difference.

    ``J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df - 1)/2))``; NaN where
    ``df < 2``. Close to ``1 - 3 / (4 df - 1)`` for moderate df.

    References
    ----------
    Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect
    size and related estimators. J Educ Stat 6:107-128.
    """
    df = np.asarray(df, dtype=float)
    safe = np.where(df >= 2, df, 2.0)
    j = np.exp(special.gammaln(safe / 2) - special.gammaln((safe - 1) / 2)) / np.sqrt(safe / 2)
    return np.where(df >= 2, j, np.nan)


def _nct_cdf_minus(ncp: np.ndarray, t: np.ndarray, df: np.ndarray, target: np.ndarray):
    """``P(T <= t | ncp) - target``; where scipy returns NaN far in a tail the
    probability is 0 (ncp above t) or 1 (ncp below t). ``special.nctdtr`` is
    what ``stats.nct.cdf`` computes, without its argument checks (``df >= 1``
    and a finite ``ncp`` here), which cost more than the function on a few
    groups at each of the root finder's steps."""
    cdf = special.nctdtr(df, ncp, t)
    cdf = np.where(np.isnan(cdf), np.where(ncp > t, 0.0, 1.0), cdf)
    return cdf - target


def noncentral_t_ci(
    t: np.ndarray, df: np.ndarray, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Confidence limits of the noncentrality parameter of an observed t.

    The lower limit solves ``P(T <= t | ncp) = 1 - alpha/2`` and the upper
    ``P(T <= t | ncp) = alpha/2``, where ``T`` has a noncentral t
    distribution with ``df`` degrees of freedom (``scipy.stats.nct``); roots
    are bracketed and then found elementwise by Chandrupatla's method
    (``scipy.optimize.elementwise.bracket_root`` and ``find_root``). NaN where ``t`` is not
    finite or ``df < 1``.

    References
    ----------
    Steiger, J. H., & Fouladi, R. T. (1997). Noncentrality interval
    estimation and the evaluation of statistical models. In Harlow, Mulaik &
    Steiger (eds), What if there were no significance tests? Erlbaum.
    """
    t, df = np.broadcast_arrays(np.asarray(t, dtype=float), np.asarray(df, dtype=float))
    ok = np.isfinite(t) & (df >= 1)
    low = np.full(t.shape, np.nan)
    high = np.full(t.shape, np.nan)
    if not ok.any():
        return low, high
    tt, dd = t[ok], df[ok]
    tol = {"xatol": 1e-12, "xrtol": 1e-12}
    for out, target in ((low, 1 - alpha / 2), (high, alpha / 2)):
        args = (tt, dd, np.full(tt.shape, target))
        found = elementwise.bracket_root(_nct_cdf_minus, tt - 1.0, tt + 1.0, args=args)
        res = elementwise.find_root(_nct_cdf_minus, found.bracket, args=args, tolerances=tol)
        out[ok] = np.where(found.success & res.success, res.x, np.nan)
    return low, high


def paired_statistics(
    n: np.ndarray,
    mean_pre: np.ndarray,
    sd_pre: np.ndarray,
    mean_post: np.ndarray,
    sd_post: np.ndarray,
    sd_change: np.ndarray,
    alpha: float = 0.05,
) -> dict[str, np.ndarray]:
    """Paired t-test and effect sizes from per-group aggregates of paired scores.

    Parameters
    ----------
    n
        Number of pairs.
    mean_pre, sd_pre, mean_post, sd_post
        Means and SDs (``ddof=1``) of the first and second score of the pairs.
    sd_change
        SD (``ddof=1``) of the changes (second - first).
    alpha
        1 - confidence level.

    Returns
    -------
    dict of arrays
        ``mean_change``, ``change_ci_low``, ``change_ci_high``, ``t``, ``df``,
        ``p_value``, ``d_z``, ``d_z_ci_low``, ``d_z_ci_high``, ``g_av``,
        ``g_av_ci_low``, ``g_av_ci_high``; conventions in
        :data:`EFFECT_SIZE_CONVENTIONS`. NaN where n is too small (t needs
        n >= 2, g_av n >= 3) or the changes have no spread.

    References
    ----------
    Algina, J., & Keselman, H. J. (2003). Approximate confidence intervals
    for effect sizes. Educ Psychol Meas 63:537-553.
    Lakens, D. (2013). Calculating and reporting effect sizes to facilitate
    cumulative science. Front Psychol 4:863.
    """
    n = np.asarray(n, dtype=float)
    mean_change = np.asarray(mean_post, dtype=float) - np.asarray(mean_pre, dtype=float)
    sd_change = np.asarray(sd_change, dtype=float)
    df = np.where(n >= 2, n - 1, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = sd_change / np.sqrt(n)
        t = np.where(se > 0, mean_change / se, np.nan)
        half = stats.t.ppf(1 - alpha / 2, df) * se
        p_value = 2 * stats.t.sf(np.abs(t), df)
        d_z = np.where(sd_change > 0, mean_change / sd_change, np.nan)
        lam_low, lam_high = noncentral_t_ci(t, df, alpha)
        sqrt_n = np.sqrt(n)
        sd_av = (np.asarray(sd_pre, dtype=float) + np.asarray(sd_post, dtype=float)) / 2
        j = hedges_j(df)
        to_av = np.where(sd_av > 0, se / sd_av, np.nan)
        g_av = np.where(sd_av > 0, j * mean_change / sd_av, np.nan)
    return {
        "mean_change": mean_change,
        "change_ci_low": mean_change - half,
        "change_ci_high": mean_change + half,
        "t": t,
        "df": df,
        "p_value": p_value,
        "d_z": d_z,
        "d_z_ci_low": lam_low / sqrt_n,
        "d_z_ci_high": lam_high / sqrt_n,
        "g_av": g_av,
        "g_av_ci_low": j * lam_low * to_av,
        "g_av_ci_high": j * lam_high * to_av,
    }
