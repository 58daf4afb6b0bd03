"""Small statistical helpers shared by the analysis modules."""

from __future__ import annotations

import numpy as np
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight
from statsmodels.stats.proportion import proportion_confint

__all__ = ["survival_at", "survival_ci", "wilson_ci"]


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


def survival_at(fit: SurvfuncRight, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier S(t) and its Greenwood standard error at times ``t``.

    The right-continuous step function of a fitted
    ``statsmodels.duration.survfunc.SurvfuncRight``: 1 (standard error 0)
    before the first event time. The standard error is that of S itself,
    S·sqrt(sum d/(n(n - d))), R's ``std.err`` in ``summary(survfit)``; NaN
    where S = 0 (the sum is infinite), as R prints.
    """
    pos = np.searchsorted(fit.surv_times, t, side="right")
    return np.r_[1.0, fit.surv_prob][pos], np.r_[0.0, fit.surv_prob_se][pos]


def survival_ci(
    surv: np.ndarray, se: np.ndarray, conf_type: str = "log-log", alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise (lower, upper) limits of S(t) from Greenwood's standard error.

    ``log``: S·exp(±z·σ); ``log-log``: exp(-exp(log(-log S) ± z·σ/|log S|));
    ``plain``: S ± z·se, where σ = se/S is the standard error of log S (R's
    ``survfit`` ``conf.type``). Where S = 1 (before the first event) both
    limits are 1. Where S = 0 the interval is undefined and both limits are
    NaN, as R gives (Greenwood's variance of log S is infinite there, and
    log(-log S) is not defined); ``survival_at`` gives a NaN standard error
    there, which the ``log`` and ``plain`` transforms carry through.

    References
    ----------
    Kalbfleisch, J. D. & Prentice, R. L. (2002). The Statistical Analysis of
    Failure Time Data, 2nd ed., section 1.4.
    """
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = se / surv
        if conf_type == "log":
            low = surv * np.exp(-z * sigma)
            high = np.minimum(surv * np.exp(z * sigma), 1.0)
        elif conf_type == "log-log":
            log_s = np.log(surv)
            spread = z * sigma / np.abs(log_s)
            low = np.exp(-np.exp(np.log(-log_s) + spread))
            high = np.exp(-np.exp(np.log(-log_s) - spread))
            low = np.where(surv == 0, np.nan, low)
            high = np.where(surv == 0, np.nan, high)
        else:
            low = np.clip(surv - z * se, 0.0, 1.0)
            high = np.clip(surv + z * se, 0.0, 1.0)
    at_one = surv == 1
    return np.where(at_one, 1.0, low), np.where(at_one, 1.0, high)
