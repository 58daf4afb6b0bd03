"""Covariate balance before and after matching, as MatchIt's
``summary.matchit`` computes it for the ATT.

Standardised mean differences divide by the standard deviation of the
*treated group before matching* (before and after alike, so they are
comparable); for a binary (0/1) term that SD is ``sqrt(p (1 - p))``,
otherwise the sample SD. Variance ratios (treated / control) are given for
non-binary terms only. Means and variances after matching use the matching
weights (reliability-weights variance, MatchIt's ``wvar``).

References
----------
Austin, P. C. (2009). Balance diagnostics for comparing the distribution of
baseline covariates between treatment groups in propensity-score matched
samples. Statistics in Medicine 28:3083-3107.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .propensity import CovariatePatterns, join_parts

__all__ = ["SMD_DENOMINATOR", "BalanceTerms", "balance_table", "balance_terms"]

SMD_DENOMINATOR = (
    "SD of the treated group before matching (ATT; MatchIt/cobalt default); "
    "sqrt(p(1-p)) for binary terms"
)


def _wmean_var(x: np.ndarray, w: np.ndarray, binary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and variances with weights, as MatchIt's ``wvar``.

    Binary columns: p (1 - p). Others: reliability-weights variance
    ``sum(w (x - m)^2) / (1 - sum(w^2))`` with w normalised to sum 1
    (equals the n - 1 sample variance when all weights are equal).
    ``x`` is overwritten (by the squared deviations: no copies of it).
    """
    w = w / w.sum()
    mean = w @ x
    np.subtract(x, mean, out=x)
    np.square(x, out=x)  # (x - mean) ** 2, value for value
    with np.errstate(divide="ignore", invalid="ignore"):  # a single unit: NaN
        var = (w @ x) / (1.0 - np.sum(w**2))
    var = np.where(binary, mean * (1 - mean), var)
    return mean, var


class BalanceTerms(NamedTuple):
    """The balance terms of every row, kept by covariate pattern: column 0
    the propensity score, then each covariate's design columns (every level
    of a categorical one). :meth:`rows` makes the terms of some rows."""

    ps: np.ndarray
    per_pattern: np.ndarray
    codes: np.ndarray

    def rows(self, mask: np.ndarray) -> np.ndarray:
        """The terms of the rows in ``mask`` (one row each, C order)."""
        k, width = self.per_pattern.shape
        # each pattern's row (a 0 where the score goes) as one opaque item:
        # one copy per row instead of one per value
        table = np.zeros((k, 1 + width))
        table[:, 1:] = self.per_pattern
        item = table.view(np.dtype((np.void, table.itemsize * (1 + width)))).ravel()
        x = item[self.codes[mask]].view("float64").reshape(-1, 1 + width)
        x[:, 0] = self.ps[mask]
        return x

    def binary(self) -> np.ndarray:
        """Whether each term takes the values 0 and 1 only."""
        ps = np.all((self.ps == 0) | (self.ps == 1))
        pattern = np.all((self.per_pattern == 0) | (self.per_pattern == 1), axis=0)
        return np.r_[ps, pattern]


def balance_table(
    terms: BalanceTerms,
    levels: list[tuple[str, Any]],
    treated: np.ndarray,
    weights: np.ndarray,
) -> pd.DataFrame:
    """The balance table of the ``terms`` (named by ``levels``;
    :func:`balance_terms`) before and after matching (``weights``)."""
    binary = terms.binary()
    t_m = treated & (weights > 0)
    c_m = ~treated & (weights > 0)
    x = terms.rows(treated)
    mt0, vt0 = _wmean_var(x, np.ones(len(x)), binary)
    x = terms.rows(~treated)
    mc0, vc0 = _wmean_var(x, np.ones(len(x)), binary)
    mt1, vt1 = _wmean_var(terms.rows(t_m), weights[t_m], binary)
    mc1, vc1 = _wmean_var(terms.rows(c_m), weights[c_m], binary)
    sd = np.sqrt(vt0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame(
            {
                "covariate": [c for c, _ in levels],
                "level": pd.array([lv for _, lv in levels], dtype="string"),
                "binary": binary,
                "mean_treated_before": mt0,
                "mean_control_before": mc0,
                "mean_treated": mt1,
                "mean_control": mc1,
                "sd_denominator": sd,
                "smd_before": (mt0 - mc0) / sd,
                "smd_after": (mt1 - mc1) / sd,
                "var_ratio_before": np.where(binary, np.nan, vt0 / vc0),
                "var_ratio_after": np.where(binary, np.nan, vt1 / vc1),
            }
        )
    return out


def balance_terms(
    ps: np.ndarray, patterns: CovariatePatterns
) -> tuple[BalanceTerms, list[tuple[str, Any]]]:
    """Balance terms of every row: the propensity score, then each covariate
    (every level of a categorical one, as MatchIt's summary shows them),
    from the rows' covariate ``patterns``
    (:func:`~cdanalytics.matching.propensity.covariate_patterns`). Returns
    the terms and their (covariate, level) names."""
    per_pattern = join_parts(patterns.parts, drop_first=False).to_numpy(dtype="float64")
    levels: list[tuple[str, Any]] = [("propensity_score", None)]
    for col, _, names in patterns.parts:
        if names is None:
            levels.append((col, None))
        else:
            levels.extend((col, lv) for lv in names)
    return BalanceTerms(ps, per_pattern, patterns.codes), levels
