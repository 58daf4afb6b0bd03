"""Paired-sample statistics computed from grouped aggregates (vectorised).

Every function takes arrays with one element per group (n, means, SDs,
correlation) so that thousands of groups cost one numpy call each.
"""

from __future__ import annotations

import numpy as np
from scipy import special

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
    distribution with ``df`` degrees of freedom (``scipy.special.nctdtr``,
    the CDF of ``scipy.stats.nct``). Both limits of every t are found at
    once (:func:`_decreasing_roots`): bracketed around the normal
    approximation of the noncentral t, then narrowed to a few units in the
    last place. NaN where ``t`` is not finite or ``df < 1``.

    References
    ----------
    Steiger, J. H., & Fouladi, R. T. (1997). Noncentrality interval
    estimation and the evaluation of statistical models. In Harlow, Mulaik &
    Steiger (eds), What if there were no significance tests? Erlbaum.
    """
    t, df = np.asarray(t, dtype=float), np.asarray(df, dtype=float)
    if t.shape != df.shape:
        t, df = np.broadcast_arrays(t, df)
    ok = np.isfinite(t) & (df >= 1)
    low = np.full(t.shape, np.nan)
    high = np.full(t.shape, np.nan)
    if not ok.any():
        return low, high
    k = int(ok.sum())
    tt, dd = t[ok], df[ok]
    tt, dd = np.concatenate([tt, tt]), np.concatenate([dd, dd])  # the lower, then the upper
    target = np.repeat([1 - alpha / 2, alpha / 2], k)
    # P(T <= t | ncp) ~ Phi((t (1 - 1/(4 df)) - ncp) / sqrt(1 + t^2 / (2 df)))
    spread = np.sqrt(1 + tt**2 / (2 * dd))
    guess = tt * (1 - 1 / (4 * dd)) - special.ndtri(target) * spread
    roots = _decreasing_roots(
        lambda x, i: _nct_cdf_minus(x, tt[i], dd[i], target[i]), guess, 0.05 * spread
    )
    low[ok], high[ok] = roots[:k], roots[k:]
    return low, high


# Functions of probabilities are resolved to about this: |f(x)| <= _EPS is a root.
_EPS = float(np.finfo(float).eps)


def _decreasing_roots(f, guess: np.ndarray, step: np.ndarray, max_steps: int = 200) -> np.ndarray:
    """Root of each of a set of decreasing functions, ``f(x, i)`` being the
    values of functions ``i`` at ``x``: a bracket grown from ``guess ±
    step`` (doubling the step), then the Illinois variant of regula falsi
    until the bracket is 4 units in the last place wide (or 1e-300) or
    ``|f|`` is at most the double-precision epsilon (the functions here are
    differences of probabilities, resolved to about that). NaN where no
    bracket is found."""
    lo, hi = guess - step, guess + step
    index = np.arange(guess.size)
    both = f(np.concatenate([lo, hi]), np.concatenate([index, index]))
    f_lo, f_hi = both[: guess.size], both[guess.size :]
    for _ in range(64):  # grow the bracket: f(lo) >= 0 >= f(hi)
        below, above = f_lo < 0, f_hi > 0
        if not (below.any() or above.any()):
            break
        step = np.where(below | above, 2 * step, step)
        hi = np.where(below, lo, hi)
        f_hi = np.where(below, f_lo, f_hi)
        lo = np.where(above, hi, lo)
        f_lo = np.where(above, f_hi, f_lo)
        lo = np.where(below, lo - step, lo)
        hi = np.where(above, hi + step, hi)
        moved = (below | above).nonzero()[0]
        new = f(np.where(below, lo, hi)[moved], moved)
        f_lo[moved] = np.where(below[moved], new, f_lo[moved])
        f_hi[moved] = np.where(above[moved], new, f_hi[moved])
    found = (f_lo >= 0) & (f_hi <= 0)
    root = np.where(np.abs(f_lo) <= _EPS, lo, np.where(np.abs(f_hi) <= _EPS, hi, np.nan))
    side = np.zeros(guess.size, dtype=np.int8)
    for _ in range(max_steps):
        width = hi - lo
        active = (
            found
            & np.isnan(root)
            & (width > np.maximum(4 * np.spacing(np.maximum(np.abs(lo), np.abs(hi))), 1e-300))
        ).nonzero()[0]
        if not active.size:
            break
        a, b, fa, fb = lo[active], hi[active], f_lo[active], f_hi[active]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = b - fb * (b - a) / (fb - fa)
        x = np.where((x > a) & (x < b), x, a + (b - a) / 2)
        fx = f(x, active)
        up = fx > 0  # the root is above x
        root[active] = np.where(np.abs(fx) <= _EPS, x, np.nan)
        s = side[active]
        lo[active] = np.where(up, x, a)
        f_lo[active] = np.where(up, fx, np.where(s == -1, fa / 2, fa))
        hi[active] = np.where(up, b, x)
        f_hi[active] = np.where(up, np.where(s == 1, fb / 2, fb), fx)
        side[active] = np.where(up, 1, -1)
    best = np.where(np.abs(f_lo) <= np.abs(f_hi), lo, hi)
    return np.where(found, np.where(np.isnan(root), best, root), np.nan)


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
        # special.stdtrit / stdtr: what stats.t.ppf / stats.t.sf compute, without
        # the distribution machinery (which costs more than them on a few groups).
        half = special.stdtrit(df, 1 - alpha / 2) * se
        p_value = 2 * special.stdtr(df, -np.abs(t))
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
