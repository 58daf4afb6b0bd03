"""Agreement coefficients from count arrays, vectorised over leading axes.

The array functions behind :mod:`~cdanalytics.practice.agreement`, public so
that tests and notebooks can check them against published tables.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = [
    "KAPPA_WEIGHTS",
    "agreement_weights",
    "alpha_from_counts",
    "fleiss_from_counts",
    "kappa_from_table",
]

#: Weightings of Cohen's kappa: unweighted, linear (Cicchetti & Allison 1971)
#: and quadratic (Fleiss & Cohen 1973) agreement weights.
KAPPA_WEIGHTS: tuple[str, ...] = ("unweighted", "linear", "quadratic")


def agreement_weights(n_levels: int, weights: str = "unweighted") -> np.ndarray:
    """Agreement weights w_ij (1 on the diagonal) for an ordinal scale of ``n_levels``.

    ``linear``: 1 - |i - j| / (K - 1); ``quadratic``: 1 - (i - j)^2 / (K - 1)^2;
    ``unweighted``: the identity.

    References
    ----------
    Cicchetti, D. V. & Allison, T. (1971). A new procedure for assessing
    reliability of scoring EEG sleep recordings. American Journal of EEG
    Technology 11:101-109.
    Fleiss, J. L. & Cohen, J. (1973). The equivalence of weighted kappa and
    the intraclass correlation coefficient as measures of reliability.
    Educational and Psychological Measurement 33:613-619.

    Examples
    --------
    >>> agreement_weights(3, "quadratic")[0].tolist()
    [1.0, 0.75, 0.0]
    """
    if weights not in KAPPA_WEIGHTS:
        raise ConfigError(f"weights must be one of {', '.join(KAPPA_WEIGHTS)}, not {weights!r}.")
    gap = np.abs(np.subtract.outer(np.arange(n_levels), np.arange(n_levels))) / (n_levels - 1)
    if weights == "linear":
        return 1.0 - gap
    if weights == "quadratic":
        return 1.0 - gap**2
    return np.eye(n_levels)


def kappa_from_table(table: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cohen's (weighted) kappa and its large-sample standard error.

    Parameters
    ----------
    table
        Counts ``[..., K, K]``: first reader's level by second reader's.
    w
        Agreement weights ``[..., K, K]`` (broadcast against ``table``); the
        identity gives Cohen's unweighted kappa.

    Returns
    -------
    (kappa, se, p_observed, p_expected, n)
        Arrays over the leading axes. ``se`` is the non-null asymptotic
        standard error of Fleiss, Cohen & Everitt (1969), for intervals.

    References
    ----------
    Cohen, J. (1960). A coefficient of agreement for nominal scales.
    Educational and Psychological Measurement 20:37-46.
    Cohen, J. (1968). Weighted kappa. Psychological Bulletin 70:213-220.
    Fleiss, J. L., Cohen, J. & Everitt, B. S. (1969). Large sample standard
    errors of kappa and weighted kappa. Psychological Bulletin 72:323-327.

    Examples
    --------
    Two readers agree on 20 + 15 of 50 files (p_o = 0.7); chance agreement
    from the margins is 0.5 x 0.6 + 0.5 x 0.4 = 0.5, so kappa =
    (0.7 - 0.5) / (1 - 0.5) = 0.4, as statsmodels also finds:

    >>> from statsmodels.stats.inter_rater import cohens_kappa
    >>> kappa, se, *_ = kappa_from_table(np.array([[20, 5], [10, 15]]), np.eye(2))
    >>> round(float(kappa), 3)
    0.4
    >>> round(float(cohens_kappa(np.array([[20, 5], [10, 15]])).kappa), 3)
    0.4
    """
    table = np.asarray(table, dtype=float)
    n = table.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = table / n[..., None, None]
        rows, cols = p.sum(axis=-1), p.sum(axis=-2)
        p_o = (w * p).sum(axis=(-2, -1))
        p_e = (w * rows[..., :, None] * cols[..., None, :]).sum(axis=(-2, -1))
        kappa = (p_o - p_e) / (1 - p_e)
        w_row = (w * cols[..., None, :]).sum(axis=-1)  # w̄_i. = Σ_j p_.j w_ij
        w_col = (w * rows[..., :, None]).sum(axis=-2)  # w̄_.j = Σ_i p_i. w_ij
        k = kappa[..., None, None]
        inner = (w - (w_row[..., :, None] + w_col[..., None, :]) * (1 - k)) ** 2
        var = ((p * inner).sum(axis=(-2, -1)) - (kappa - p_e * (1 - kappa)) ** 2) / (
            n * (1 - p_e) ** 2
        )
    return kappa, np.sqrt(np.maximum(var, 0.0)), p_o, p_e, n


def fleiss_from_counts(counts: np.ndarray) -> tuple[float, float, float]:
    """Fleiss' kappa for m readers per subject, with two standard errors.

    Parameters
    ----------
    counts
        ``[subjects, categories]``: how many of the m readers put each
        subject in each category (every row sums to the same m >= 2).

    Returns
    -------
    (kappa, se_null, se_jackknife)
        ``se_null`` is the standard error under no agreement beyond chance
        (Fleiss, Nee & Landis 1979, correcting Fleiss 1971), for testing
        kappa = 0. ``se_jackknife`` is the delete-one-subject jackknife
        (Efron & Tibshirani 1993, ch. 11), valid away from 0, for intervals;
        computed in closed form, no loop over subjects.

    References
    ----------
    Fleiss, J. L. (1971). Measuring nominal scale agreement among many
    raters. Psychological Bulletin 76:378-382.
    Fleiss, J. L., Nee, J. C. M. & Landis, J. R. (1979). Large sample
    variance of kappa in the case of different sets of raters.
    Psychological Bulletin 86:974-977.
    Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap.

    Examples
    --------
    >>> kappa, _, _ = fleiss_from_counts(np.array([[3, 0], [0, 3], [2, 1], [3, 0]]))
    >>> round(kappa, 3)
    0.625
    """
    counts = np.asarray(counts, dtype=float)
    n_sub = counts.shape[0]
    m = counts.sum(axis=1)
    if n_sub < 2 or np.any(m != m[0]) or m[0] < 2:
        raise ConfigError("Fleiss' kappa needs two or more subjects with the same m >= 2 readers.")
    m = m[0]
    agree = ((counts**2).sum(axis=1) - m) / (m * (m - 1))  # P_i
    totals = counts.sum(axis=0)

    def kappa_of(p_bar: np.ndarray, p_j: np.ndarray) -> np.ndarray:
        p_e = (p_j**2).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (p_bar - p_e) / (1 - p_e)

    p_j = totals / (n_sub * m)
    kappa = float(kappa_of(agree.mean(), p_j))
    pq = p_j * (1 - p_j)
    with np.errstate(invalid="ignore", divide="ignore"):
        se_null = np.sqrt(2 / (n_sub * m * (m - 1))) * (
            np.sqrt(pq.sum() ** 2 - (pq * (1 - 2 * p_j)).sum()) / pq.sum()
        )
    loo = kappa_of((agree.sum() - agree) / (n_sub - 1), (totals - counts) / ((n_sub - 1) * m))
    se_jack = np.sqrt((n_sub - 1) / n_sub * ((loo - loo.mean()) ** 2).sum())
    return kappa, float(se_null), float(se_jack)


def alpha_from_counts(
    counts: np.ndarray, level: Literal["nominal", "ordinal", "interval"] = "ordinal"
) -> tuple[float, float]:
    """Krippendorff's alpha from the values-by-units matrix, with a jackknife SE.

    Parameters
    ----------
    counts
        ``[units, values]``: how many readers gave each unit each value
        (values in scale order). Units with fewer than two readings are not
        pairable and are left out, as in Krippendorff (2011).
    level
        Metric: ``nominal`` (any difference counts 1), ``ordinal`` (the
        rank metric over the observed value frequencies) or ``interval``
        (squared difference of the value positions).

    Returns
    -------
    (alpha, se_jackknife)
        Alpha = 1 - (n - 1) Σ o_ck δ²_ck / Σ n_c n_k δ²_ck, from the
        coincidence matrix o; the delete-one-unit jackknife standard error
        (ordinal metric recomputed from each left-out margin), computed once
        per distinct pattern of counts, no loop over units.

    References
    ----------
    Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability.
    Departmental Papers (ASC), University of Pennsylvania, 43.
    Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap.

    Examples
    --------
    >>> counts = np.array([[2, 0], [0, 2], [1, 1], [2, 0]])
    >>> round(alpha_from_counts(counts, "nominal")[0], 3)
    0.533
    """
    counts = np.asarray(counts, dtype=np.int64)
    counts = counts[counts.sum(axis=1) >= 2]
    n_u = len(counts)
    if n_u < 2:
        return float("nan"), float("nan")
    # Units with the same counts leave out the same amount: work on the
    # distinct patterns, weighted by how often each occurs.
    base, k = int(counts.max()) + 1, counts.shape[1]
    if k * np.log2(base) < 62:  # one integer per pattern
        code = counts @ (base ** np.arange(k, dtype=np.int64))
        which, uniques = pd.factorize(code)
        patterns = (uniques[:, None] // base ** np.arange(k, dtype=np.int64)) % base
    else:
        patterns, which = np.unique(counts, axis=0, return_inverse=True)
    freq = np.bincount(which.ravel()).astype(float)
    patterns = patterns.astype(float)
    m = patterns.sum(axis=1)
    per_unit = (
        patterns[:, :, None] * patterns[:, None, :]
        - patterns[:, :, None] * np.eye(len(patterns[0]))
    ) / (m - 1)[:, None, None]
    coinc = np.einsum("p,pck->ck", freq, per_unit)
    margin = coinc.sum(axis=1)
    alpha = _alpha(coinc[None], margin[None], level)[0]
    loo = _alpha(coinc[None] - per_unit, margin[None] - patterns, level)
    centre = (freq * loo).sum() / n_u
    se = np.sqrt((n_u - 1) / n_u * (freq * (loo - centre) ** 2).sum())
    return float(alpha), float(se)


def _alpha(coinc: np.ndarray, margin: np.ndarray, level: str) -> np.ndarray:
    """Alpha for stacked coincidence matrices ``[b, K, K]`` and margins ``[b, K]``."""
    k = margin.shape[-1]
    lo = np.minimum.outer(np.arange(k), np.arange(k))
    hi = np.maximum.outer(np.arange(k), np.arange(k))
    if level == "nominal":
        delta = np.broadcast_to(1.0 - np.eye(k), coinc.shape)
    elif level == "interval":
        delta = np.broadcast_to((hi - lo).astype(float) ** 2, coinc.shape)
    elif level == "ordinal":
        cum = np.concatenate([np.zeros((len(margin), 1)), np.cumsum(margin, axis=1)], axis=1)
        span = cum[:, hi + 1] - cum[:, lo]  # Σ_{g=c}^{k} n_g
        delta = (span - (margin[:, lo] + margin[:, hi]) / 2) ** 2
    else:
        raise ConfigError(f"level must be nominal, ordinal or interval, not {level!r}.")
    n = margin.sum(axis=1)
    expected = np.einsum("bc,bk,bck->b", margin, margin, delta)
    observed = (coinc * delta).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - (n - 1) * observed / expected
