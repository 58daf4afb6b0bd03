"""The imputed change's sums, one imputation model at a time.

:func:`cdanalytics.prepost.change` with ``missing="impute"`` pools, per group,
the mean change and its variance over the ``m`` completed data sets. This
module sums them straight from each model's draws
(:func:`.impute._group_draws`, the same random draws in the same order as
:func:`~cdanalytics.prepost.impute_second_scores`), so the ``(m, rows)``
table of completed scores is never made.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from ._grouping import grouped_moments
from .impute import _check_m, _group_draws, _GroupDraws

__all__: list[str] = []


def _imputed_moments(
    wide: pd.DataFrame,
    first: str,
    second: str,
    predictors: pd.DataFrame,
    codes: np.ndarray,
    n_groups: int,
    m: int,
    seed: int | None,
    series: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per imputation and group of ``codes``: the mean change, its squared
    standard error and the mean second score of the rows with a first score,
    with the second scores imputed as :func:`impute_second_scores` does.

    The groups of ``codes`` lie within those of the imputation model (they
    are made by the same instrument, scale and informant and maybe more
    columns). Each is summed in row order as one ``np.bincount`` over all
    rows would (the same additions in the same order), one imputation group
    at a time, so the ``(m, rows)`` table of completed scores is never made.
    ``series``: the imputation models' own group numbers (instrument × scale ×
    informant) when the caller has them.

    Returns
    -------
    dict
        ``n`` (rows with a first score per group, float), ``estimates``,
        ``variances``, ``post_means`` (each ``(m, n_groups)``), ``mean_pre``
        (the mean first score per group, as :func:`grouped_moments` of the
        first scores gives it) and ``imputed`` (rows whose second score was
        imputed).
    """
    _check_m(m)
    x = wide[first].to_numpy(dtype=float)
    y = wide[second].to_numpy(dtype=float)
    has_x = ~np.isnan(x)
    n = np.bincount(codes[has_x], minlength=n_groups).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 where a group is empty
        estimates = np.zeros((m, n_groups)) / np.where(n > 0, 1.0, 0.0)
    variances = np.full((m, n_groups), np.nan)
    post_means = np.zeros((m, n_groups))
    with np.errstate(divide="ignore", invalid="ignore"):  # NaN where a group is empty
        mean_pre = np.zeros(n_groups) / np.where(n > 0, 1.0, 0.0)
    done = np.zeros(len(y), dtype=bool)

    def moments(rows: np.ndarray, completions: Iterable[tuple[int | slice, np.ndarray]]) -> None:
        """Fill the imputations ``at`` of the groups of ``rows`` from their
        completed second scores."""
        group = codes[rows]  # whole groups: they lie within the imputation models' groups
        present = np.bincount(group, minlength=n_groups) > 0
        first_scores = x[rows]
        total = np.bincount(group, weights=first_scores, minlength=n_groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_pre[present] = (total / n)[present]
        for at, scores in completions:
            _, mean, sd = grouped_moments(group, n_groups, scores - first_scores)
            with np.errstate(divide="ignore", invalid="ignore"):
                estimates[at, present] = mean[present]
                variances[at, present] = (sd**2 / n)[present]
            total = np.bincount(group, weights=scores, minlength=n_groups)
            post_means[at, present] = (total / np.maximum(n, 1))[present]

    def completed(part: _GroupDraws) -> Iterator[tuple[int, np.ndarray]]:
        scores = y[part.rows]
        where = np.flatnonzero(part.target)
        for j in range(m):
            scores[where] = part.draws[:, j]
            yield j, scores

    for part in _group_draws(wide, first, second, predictors, m, seed, series):
        done[part.rows] = True
        moments(part.rows, completed(part))
        del part  # its draws go before the next model's are made
    rest = np.flatnonzero(has_x & ~done)  # groups with nothing to impute: the same every time
    if len(rest):
        moments(rest, [(slice(None), y[rest])])
    return {
        "n": n,
        "estimates": estimates,
        "variances": variances,
        "post_means": post_means,
        "mean_pre": mean_pre,
        "imputed": has_x & np.isnan(y),
    }
