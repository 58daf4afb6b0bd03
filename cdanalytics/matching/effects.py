"""Effect of the programme on any participant-level outcome in the matched
sample: difference with a cluster-robust confidence interval. (The report
words it in the Justice Data Lab's manner:
:func:`cdanalytics.report.wording.matched_effect_statement`.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.regression.linear_model import WLS

from ..errors import AnalysisError, ConfigError, InsufficientDataError
from .nearest import MatchResult

__all__ = ["MatchedEffect", "long_form", "matched_effect"]


def _span(values: np.ndarray) -> tuple[int, int] | None:
    """(lowest, highest) of whole numbers (within int64) spread over a range of
    at most 16 places per value, else ``None``."""
    kind = values.dtype.kind
    if len(values) == 0 or kind not in "iu" or (kind == "u" and values.dtype.itemsize >= 8):
        return None
    lo, hi = int(values.min()), int(values.max())
    return (lo, hi) if hi - lo < 16 * len(values) else None


def _positions(index: pd.Index, labels: pd.Series) -> np.ndarray:
    """``index.get_indexer(labels)``; for unique whole numbers within a short
    range by a table of their places (no hash table of the labels)."""
    values = index.to_numpy()
    span = _span(values)
    wanted = labels.to_numpy()
    if span is not None and _span(wanted) is not None:
        lo, hi = span
        table = np.full(hi - lo + 1, -1, dtype=np.intp)
        table[values - lo] = np.arange(len(values))
        if np.count_nonzero(table >= 0) == len(values):  # unique, as get_indexer needs
            wanted = wanted.astype(np.int64, copy=False)
            inside = (wanted >= lo) & (wanted <= hi)
            at = np.full(len(wanted), -1, dtype=np.intp)
            at[inside] = table[wanted[inside] - lo]
            return at
    return index.get_indexer(labels)


def _n_distinct(labels: pd.Series) -> int:
    """``labels.nunique()``; for whole numbers within a short range by marking
    their places (no hash table)."""
    values = labels.to_numpy()
    span = _span(values)
    if span is None:
        return int(labels.nunique())
    seen = np.zeros(span[1] - span[0] + 1, dtype=bool)
    seen[values - span[0]] = True
    return int(np.count_nonzero(seen))


def long_form(result: MatchResult, columns: list[str]) -> pd.DataFrame:
    """One row per (subclass, unit): treated weight 1, each control
    1 / (controls in its subclass) - MatchIt's ``get_matches()``. Weighted
    means equal those with MatchIt's matching weights."""
    missing = [c for c in columns if c not in result.matched.columns]
    if missing:
        raise AnalysisError(f"column(s) not in the matched data: {', '.join(missing)}")
    pairs = result.pairs
    subclass = pairs["subclass"].to_numpy()
    _, first, inverse, k = np.unique(
        subclass, return_index=True, return_inverse=True, return_counts=True
    )
    first = np.sort(first)  # each subclass's first pair, in the pairs' order
    parts = [
        pd.DataFrame(
            {
                "subclass": subclass[first],
                "unit": pairs["treated_index"].to_numpy()[first],
                "treated": 1.0,
                "pair_weight": 1.0,
            }
        ),
        pd.DataFrame(
            {
                "subclass": subclass,
                "unit": pairs["control_index"].to_numpy(),
                "treated": 0.0,
                "pair_weight": 1.0 / k[inverse],
            }
        ),
    ]
    long = pd.concat(parts, ignore_index=True)
    matched = result.matched
    at = _positions(matched.index, long["unit"])
    if (at < 0).any():
        raise AnalysisError("the pairs name people who are not in the matched data")
    for col in columns:
        values = matched[col].take(at)
        missing = values.isna().to_numpy()
        n_na = long.loc[missing, "unit"].nunique() if missing.any() else 0
        if n_na:
            raise AnalysisError(
                f"'{col}' is missing for {n_na} matched people. Match only people whose "
                "outcome is observed (for a fixed-window rate: filter to those eligible "
                "before matching), so that no one is dropped after matching"
            )
        long[col] = values.to_numpy()
    return long


def _clusters(long: pd.DataFrame, replace: bool) -> np.ndarray:
    """Cluster labels: subclass; with replacement also the unit (two-way)."""
    sub = long["subclass"].to_numpy()
    if not replace:
        return sub
    unit = pd.factorize(long["unit"])[0]
    return np.column_stack([sub, unit])


@dataclass(frozen=True)
class MatchedEffect:
    """Difference treated - comparison on the matched sample.

    ``summary`` has one row: ``outcome``, ``kind``, ``n_treated``,
    ``n_control`` (matched people), ``mean_treated``, ``mean_control``
    (weighted), ``difference``, ``se``, ``ci_low``, ``ci_high``, ``p_value``,
    and for binary outcomes also ``rate_treated``, ``rate_control`` (shares
    between 0 and 1, like every rate of the package: ``difference`` and its
    interval are then differences of shares, shown as percentage points only
    when formatted) and ``per_100_treated``, ``per_100_control`` (of any 100
    typical people).
    ``alpha`` is 1 - the confidence level of ``ci_low`` / ``ci_high``.
    """

    summary: pd.DataFrame
    alpha: float = 0.05

    def __repr__(self) -> str:
        """Key figures: the outcome, the difference with its interval and p-value, people."""
        if self.summary.empty:
            return "<cdanalytics.MatchedEffect: no estimate>"
        row = self.summary.iloc[0]
        return (
            f"<cdanalytics.MatchedEffect: {str(row['outcome'])[:40]} ({row['kind']}),"
            f" difference {row['difference']:.3g} ({row['ci_low']:.3g} to {row['ci_high']:.3g}),"
            f" p = {row['p_value']:.3g}; {int(row['n_treated']):,} programme and"
            f" {int(row['n_control']):,} comparison people>"
        )


def matched_effect(
    result: MatchResult,
    outcome: str,
    *,
    kind: Literal["binary", "numeric"] = "binary",
    alpha: float = 0.05,
) -> MatchedEffect:
    """Effect of the programme on a participant-level outcome, matched sample.

    Parameters
    ----------
    result
        From :func:`match`.
    outcome
        Column of the matched data: a 0/1 (or boolean) indicator for
        ``kind="binary"`` (for example ``reoffended_in_window``), any number
        for ``kind="numeric"`` (for example a count of offences).
    kind
        ``"binary"`` reports rates and their difference (shares; the
        report words them in percentage points);
        ``"numeric"`` the difference in means.
    alpha
        1 - confidence level.

    Returns
    -------
    MatchedEffect

    Notes
    -----
    Estimate: the difference of matching-weighted means, i.e. the coefficient
    of treatment in a weighted least-squares regression of the outcome on
    treatment over the matched pairs (a linear probability model for binary
    outcomes). Standard error: cluster-robust (CR1, Stata/``sandwich::vcovCL``
    small-sample factor) by subclass, so that each matched set counts as one
    independent unit; with replacement clustered two-way by subclass and
    person, since a control can sit in several sets (Austin & Cafri 2020).
    Normal-theory 95% CI and two-sided p-value.

    References
    ----------
    Austin, P. C. (2011). An introduction to propensity score methods for
    reducing the effects of confounding in observational studies.
    Multivariate Behavioral Research 46:399-424. Austin, P. C. & Cafri, G.
    (2020). Variance estimation when using propensity-score matching with
    replacement with survival or time-to-event outcomes. Statistics in
    Medicine 39:1623-1640. Ministry of Justice, Justice Data Lab
    methodology (percentage-point differences, "for any 100 typical people").

    Examples
    --------
    The pairs of the :func:`match` example: 1 of the 3 programme people
    reoffended against 3 of their 3 matched comparison people, a difference
    of 1/3 - 3/3 = -2/3:

    >>> import pandas as pd
    >>> people = pd.DataFrame({
    ...     "group": ["programme"] * 3 + ["comparison"] * 5,
    ...     "ps": [0.30, 0.50, 0.70, 0.10, 0.32, 0.48, 0.66, 0.90],
    ...     "prior_offences": [1, 2, 3, 0, 1, 2, 3, 5],
    ...     "reoffended": [0, 1, 0, 0, 1, 1, 1, 1],
    ... }, index=["t1", "t2", "t3", "c1", "c2", "c3", "c4", "c5"])
    >>> from cdanalytics.matching import match
    >>> pairs = match(people, covariates=["prior_offences"], score="ps", caliper=None)
    >>> effect = matched_effect(pairs, "reoffended").summary.iloc[0]
    >>> [round(float(effect[c]), 4) for c in ("mean_treated", "mean_control", "difference")]
    [0.3333, 1.0, -0.6667]
    """
    if kind not in ("binary", "numeric"):
        raise ConfigError(f"kind must be 'binary' or 'numeric', not {kind!r}")
    long = long_form(result, [outcome])
    y = long[outcome]
    if kind == "binary":
        if pd.api.types.is_bool_dtype(y):
            y = y.astype("float64")
        y = pd.to_numeric(y, errors="coerce")
        if not y.isin([0.0, 1.0]).all():
            raise AnalysisError(f"'{outcome}' must be 0/1 or True/False for kind='binary'")
    elif not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        raise AnalysisError(f"'{outcome}' must be numeric for kind='numeric'")
    y = y.to_numpy(dtype="float64")
    x = long["treated"].to_numpy()
    w = long["pair_weight"].to_numpy()
    if np.ptp(y) == 0:
        raise InsufficientDataError(
            f"'{outcome}' takes the same value for every matched person; no difference "
            "can be estimated"
        )
    design = np.column_stack([np.ones(len(y)), x])
    fit = WLS(y, design, weights=w).fit(
        cov_type="cluster", cov_kwds={"groups": _clusters(long, result.settings["replace"])}
    )
    diff = float(fit.params[1])
    se = float(fit.bse[1])
    z = stats.norm.ppf(1 - alpha / 2)
    ci_low, ci_high = diff - z * se, diff + z * se
    p = float(2 * stats.norm.sf(abs(diff / se)))
    mean_c = float(fit.params[0])
    mean_t = mean_c + diff
    n_t = _n_distinct(long.loc[long["treated"] == 1, "unit"])
    n_c = _n_distinct(long.loc[long["treated"] == 0, "unit"])
    row = {
        "outcome": outcome,
        "kind": kind,
        "n_treated": n_t,
        "n_control": n_c,
        "mean_treated": mean_t,
        "mean_control": mean_c,
        "difference": diff,
        "se": se,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "p_value": p,
    }
    if kind == "binary":
        row |= {
            "rate_treated": mean_t,
            "rate_control": mean_c,
            "per_100_treated": round(100 * mean_t),
            "per_100_control": round(100 * mean_c),
        }
    return MatchedEffect(summary=pd.DataFrame([row]), alpha=alpha)
