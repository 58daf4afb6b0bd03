"""Attrition: do participants lost before the second measurement differ at baseline?"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..io.export import Export
from ._data import SCALE_KEYS, as_list, check_timepoints, select_scores
from ._grouping import group_codes, grouped_moments

__all__ = ["ATTRITION_COLUMNS", "attrition", "welch_test"]

#: Columns of :func:`attrition` after the grouping columns.
ATTRITION_COLUMNS: list[str] = [
    *SCALE_KEYS,
    "comparison",
    "level_a",
    "level_b",
    "n_a",
    "mean_a",
    "sd_a",
    "n_b",
    "mean_b",
    "sd_b",
    "mean_difference",
    "smd",
    "t",
    "df",
    "p_value",
]


def welch_test(
    n_a: np.ndarray,
    mean_a: np.ndarray,
    sd_a: np.ndarray,
    n_b: np.ndarray,
    mean_b: np.ndarray,
    sd_b: np.ndarray,
) -> dict[str, np.ndarray]:
    """Welch's unequal-variance t-test and Cohen's d_s from group aggregates.

    Returns ``mean_difference`` (a - b), ``smd`` (difference / pooled SD,
    ``sqrt(((n_a - 1) sd_a² + (n_b - 1) sd_b²) / (n_a + n_b - 2))``), ``t``,
    ``df`` (Welch-Satterthwaite) and the two-sided ``p_value``; NaN where a
    group has fewer than 2 members.

    References
    ----------
    Welch, B. L. (1947). The generalization of Student's problem when
    several different population variances are involved. Biometrika
    34:28-35. Cohen, J. (1988). Statistical power analysis for the
    behavioral sciences, 2nd ed.
    """
    n_a, n_b = np.asarray(n_a, dtype=float), np.asarray(n_b, dtype=float)
    va, vb = np.asarray(sd_a, dtype=float) ** 2, np.asarray(sd_b, dtype=float) ** 2
    diff = np.asarray(mean_a, dtype=float) - np.asarray(mean_b, dtype=float)
    ok = (n_a >= 2) & (n_b >= 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = np.sqrt(((n_a - 1) * va + (n_b - 1) * vb) / (n_a + n_b - 2))
        qa, qb = va / n_a, vb / n_b
        se = np.sqrt(qa + qb)
        t = np.where(ok & (se > 0), diff / se, np.nan)
        df = np.where(ok, (qa + qb) ** 2 / (qa**2 / (n_a - 1) + qb**2 / (n_b - 1)), np.nan)
        smd = np.where(ok & (pooled > 0), diff / pooled, np.nan)
    return {
        "mean_difference": np.where((n_a >= 1) & (n_b >= 1), diff, np.nan),
        "smd": smd,
        "t": t,
        "df": df,
        "p_value": 2 * stats.t.sf(np.abs(t), df),
    }


def attrition(
    data: Export | pd.DataFrame,
    by: str | Sequence[str] | None = None,
    subset: Sequence[str] | None = None,
    timepoints: Sequence[str] = ("pre", "post"),
) -> pd.DataFrame:
    """Baseline scores of those retained and those lost, per group and scale.

    Two comparisons of the first-timepoint (baseline) score, among
    participants who have one:

    - ``comparison = "second_score"``: ``level_a = "present"`` (a score at
      the second timepoint) vs ``level_b = "missing"``;
    - ``comparison = "exit_status"``: ``completed`` vs ``dropped_out``
      (participants' ``exit_status``; other or missing statuses are in
      neither level).

    Parameters
    ----------
    data
        A loaded export, or a :func:`score_table` made from one (with the
        same ``by``) to share the reshaping between analyses.
    by
        Participant column(s) to group by; ``None`` for overall.
    subset
        Instrument codes to analyse; ``None`` for all in the export.
    timepoints
        Baseline and the later timepoint, default ``("pre", "post")``.

    Returns
    -------
    pandas.DataFrame
        Two rows per group × instrument × scale × informant: the ``by``
        columns then :data:`ATTRITION_COLUMNS`. ``n_*``, ``mean_*``, ``sd_*``
        describe the baseline score of levels a and b; ``mean_difference`` is
        a - b, ``smd`` the difference over the pooled SD (Cohen's d_s), and
        ``t``, ``df``, ``p_value`` Welch's t-test (:func:`welch_test`).

    Examples
    --------
    The scores of the :func:`change` example: the five fathers with a post
    score had a mean baseline of (20 + 18 + 25 + 15 + 22) / 5 = 20, the one
    without it 19 (a single score has no SD, so no test):

    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "participant_id": ["a", "b", "c", "d", "e", "f"],
    ...     "instrument": "sdq", "scale": "total", "informant": "father",
    ...     "pre": [20.0, 18.0, 25.0, 15.0, 22.0, 19.0],
    ...     "post": [14.0, 17.0, 19.0, 15.0, 16.0, None],
    ...     "exit_status": ["completed"] * 5 + ["dropped_out"],
    ... })
    >>> out = attrition(scores)
    >>> out[["comparison", "level_a", "level_b", "n_a", "mean_a", "n_b", "mean_b"]].values.tolist()
    [['second_score', 'present', 'missing', 5, 20.0, 1, 19.0],
     ['exit_status', 'completed', 'dropped_out', 5, 20.0, 1, 19.0]]
    """
    by = as_list(by)
    first, second = check_timepoints(timepoints, size=2)
    wide = select_scores(data, (first, second), by, subset)
    codes, groups = group_codes(wide, [*by, *SCALE_KEYS])
    n_groups = len(groups)
    base = wide[first].to_numpy()
    has_base = ~np.isnan(base)
    has_later = ~np.isnan(wide[second].to_numpy())
    status = wide["exit_status"]
    comparisons = [
        ("second_score", "present", "missing", has_later, ~has_later),
        (
            "exit_status",
            "completed",
            "dropped_out",
            status.eq("completed").fillna(False).to_numpy(bool),
            status.eq("dropped_out").fillna(False).to_numpy(bool),
        ),
    ]
    parts = []
    for name, level_a, level_b, in_a, in_b in comparisons:
        n_a, mean_a, sd_a = grouped_moments(codes[has_base & in_a], n_groups, base[has_base & in_a])
        n_b, mean_b, sd_b = grouped_moments(codes[has_base & in_b], n_groups, base[has_base & in_b])
        part = groups.assign(comparison=name, level_a=level_a, level_b=level_b)
        part["n_a"], part["mean_a"], part["sd_a"] = n_a.astype(np.int64), mean_a, sd_a
        part["n_b"], part["mean_b"], part["sd_b"] = n_b.astype(np.int64), mean_b, sd_b
        for key, value in welch_test(n_a, mean_a, sd_a, n_b, mean_b, sd_b).items():
            part[key] = value
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values([*by, *SCALE_KEYS], kind="stable").reset_index(drop=True)
    return out[[*by, *ATTRITION_COLUMNS]]
