"""Change between periods in trained and untrained teams: difference in differences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import AnalysisError, InsufficientDataError
from ._data import Reading, file_readings, item_table, prepare_audits

__all__ = ["CHANGE_COLUMNS", "CONTRASTS", "change"]

#: Contrasts of :func:`change`, one row each per item.
CONTRASTS: tuple[str, ...] = ("untrained", "trained", "difference")

#: Columns of :func:`change`.
CHANGE_COLUMNS: list[str] = [
    "item",
    "group",
    "direction",
    "contrast",
    "period_from",
    "period_to",
    "n_files",
    "n_teams",
    "share_from",
    "share_to",
    "estimate",
    "se",
    "df",
    "ci_low",
    "ci_high",
    "p_value",
]

# Cells: 2 * arm (0 untrained, 1 trained) + period (0 from, 1 to).
_WEIGHTS = np.array(
    [
        [-1.0, 1.0, 0.0, 0.0],  # untrained: change in untrained teams
        [0.0, 0.0, -1.0, 1.0],  # trained: change in trained teams
        [1.0, -1.0, -1.0, 1.0],  # difference: difference in differences
    ]
)


def change(
    audits: pd.DataFrame,
    periods: Sequence[str] | None = None,
    tool: str = "safe_and_together",
    reading: Reading = "first",
    alpha: float = 0.05,
    registry: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Change in the share met between two periods, trained against untrained teams.

    A team is *trained* (its arm) when any of its files has ``trained``
    true, so the arms are fixed and the baseline of the trained arm is its
    own pre-training period. Per item, with one reading per file
    (``reading``), the model is the linear probability model with one mean
    per cell (arm x period), fitted by least squares: its estimates are the
    cell shares, and the contrasts are

    - ``untrained``: share_to - share_from in untrained teams,
    - ``trained``: the same in trained teams,
    - ``difference``: trained change minus untrained change (the
      difference in differences, the training effect under parallel
      trends).

    Standard errors are cluster-robust by team (CR1: the sandwich with
    factor G/(G-1)·(N-1)/(N-K), K = 4), intervals and p-values use
    Student's t with G - 1 degrees of freedom (G teams with a reading of
    the item). This equals statsmodels ``OLS(...).fit(cov_type="cluster")``
    and is computed in closed form from per-team cell sums, with no loop
    over items or rows.

    Why a linear probability model: the estimand managers read is a
    difference of proportions (percentage points), which the saturated
    identity-link model estimates exactly with no fitted value outside
    [0, 1]; a logit-link GEE would estimate an odds-ratio interaction
    instead. With an independence working correlation GEE gives the same
    point estimates; the cluster-robust sandwich already allows any
    correlation within a team.

    Parameters
    ----------
    audits
        Long audit table (see :func:`~cdanalytics.practice.shares`).
    periods
        The two periods compared, (from, to). Default: the two periods of
        the table in sorted order (``baseline`` < ``follow_up``,
        ``2024Q1`` < ``2025Q1``); needed when there are more than two.
    tool, reading, alpha, registry
        As for :func:`~cdanalytics.practice.shares`.

    Returns
    -------
    pandas.DataFrame
        :data:`CHANGE_COLUMNS`, three rows per item (:data:`CONTRASTS`).
        ``share_from``/``share_to`` are the arm's shares (NaN on the
        ``difference`` row); ``n_files`` and ``n_teams`` count the rows'
        files and teams. Estimates are NaN where a cell has no file.

    Raises
    ------
    InsufficientDataError
        Fewer than two teams in an arm (no cluster-robust variance).

    References
    ----------
    Angrist, J. D. & Pischke, J.-S. (2009). Mostly Harmless Econometrics,
    sections 3.1.3 (linear probability model) and 5.2 (differences in
    differences). Princeton University Press.
    Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide to
    cluster-robust inference. Journal of Human Resources 50(2):317-372
    (CR1 and G - 1 degrees of freedom).

    Examples
    --------
    >>> rows = [(f"{t}{k}", t, p, tr and p == "follow_up", int(k < met))
    ...         for t, tr, base, post in [("A", True, 1, 3), ("B", True, 2, 3),
    ...                                   ("C", False, 1, 1), ("D", False, 2, 2)]
    ...         for p, met in [("baseline", base), ("follow_up", post)]
    ...         for k in range(4)]
    >>> audits = pd.DataFrame(rows, columns=["case_id", "team", "period", "trained", "met"])
    >>> audits = audits.assign(case_id=audits["case_id"] + audits["period"],
    ...     reader_id="R1", item="cc1_coercive_control", score=2 * audits.pop("met"))
    >>> out = change(audits)
    >>> out[["contrast", "estimate"]].round(3).to_dict("list")
    {'contrast': ['untrained', 'trained', 'difference'], 'estimate': [0.0, 0.375, 0.375]}
    """
    prepared = prepare_audits(audits, tool, registry)
    files = file_readings(prepared, reading)
    period_from, period_to = _two_periods(files["period"], periods)
    arm = files.groupby("team", sort=False)["trained"].transform("any").to_numpy()
    files = files.assign(arm=arm)
    for label, flag in (("trained", True), ("untrained", False)):
        n_teams = files.loc[files["arm"] == flag, "team"].nunique()
        if n_teams < 2:
            raise InsufficientDataError(
                f"change needs at least two {label} teams for team-clustered intervals; "
                f"the audits have {n_teams}."
            )
    files = files[files["period"].isin([period_from, period_to])]
    items = item_table(tool, registry)
    n_items = len(items)
    team = pd.factorize(files["team"])[0]
    n_team = team.max() + 1
    cell = 2 * files["arm"].to_numpy(dtype=np.int64) + (files["period"] == period_to).to_numpy()
    flat = (files["item_code"].to_numpy().astype(np.int64) * n_team + team) * 4 + cell
    size = n_items * n_team * 4
    n_gc = np.bincount(flat, minlength=size).reshape(n_items, n_team, 4).astype(float)
    m_gc = np.bincount(flat, weights=files["met"].to_numpy(dtype=float), minlength=size)
    m_gc = m_gc.reshape(n_items, n_team, 4)
    n_c, m_c = n_gc.sum(axis=1), m_gc.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_c = m_c / n_c  # items x 4
        resid = (m_gc - n_gc * p_c[:, None, :]) / n_c[:, None, :]  # items x teams x 4
    resid = np.nan_to_num(resid)
    estimate = p_c @ _WEIGHTS.T  # items x contrasts
    score = np.einsum("igc,kc->ikg", resid, _WEIGHTS)  # items x contrasts x teams
    involved = n_gc @ np.abs(_WEIGHTS.T)  # items x teams x contrasts: files in the contrast
    n_files = involved.sum(axis=1)
    n_teams = (involved > 0).sum(axis=1)
    g_all = (n_gc.sum(axis=2) > 0).sum(axis=1)[:, None]  # teams with the item
    n_all = n_c.sum(axis=1)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = g_all / (g_all - 1) * (n_all - 1) / (n_all - 4)
        se = np.sqrt(factor * (score**2).sum(axis=2))
        df = (g_all - 1).astype(float) * np.ones_like(estimate)
        t_crit = stats.t.ppf(1 - alpha / 2, df)
        p_value = 2 * stats.t.sf(np.abs(estimate / se), df)
    share_from = np.column_stack([p_c[:, 0], p_c[:, 2], np.full(n_items, np.nan)])
    share_to = np.column_stack([p_c[:, 1], p_c[:, 3], np.full(n_items, np.nan)])
    k = len(CONTRASTS)
    out = pd.DataFrame(
        {
            "item": np.repeat(items["item"].to_numpy(), k),
            "group": np.repeat(items["group"].to_numpy(), k),
            "direction": np.repeat(items["direction"].to_numpy(), k),
            "contrast": np.tile(CONTRASTS, n_items),
            "period_from": period_from,
            "period_to": period_to,
            "n_files": n_files.ravel().astype(np.int64),
            "n_teams": n_teams.ravel().astype(np.int64),
            "share_from": share_from.ravel(),
            "share_to": share_to.ravel(),
            "estimate": estimate.ravel(),
            "se": se.ravel(),
            "df": df.ravel(),
            "ci_low": (estimate - t_crit * se).ravel(),
            "ci_high": (estimate + t_crit * se).ravel(),
            "p_value": p_value.ravel(),
        }
    )
    present = np.repeat(n_c.sum(axis=1) > 0, k)
    return out[present].reset_index(drop=True)[CHANGE_COLUMNS]


def _two_periods(period: pd.Series, periods: Sequence[str] | None) -> tuple[Any, Any]:
    """The (from, to) periods compared, checked against the table."""
    present = sorted(pd.unique(period))
    if periods is None:
        if len(present) != 2:
            raise AnalysisError(
                f"The audits cover {len(present)} periods ({', '.join(map(str, present))}); "
                "say which two to compare with periods=(from, to)."
            )
        return present[0], present[1]
    if len(periods) != 2 or not set(periods) <= set(present):
        raise AnalysisError(
            f"periods must be two of the audit periods ({', '.join(map(str, present))}), "
            f"not {list(periods)!r}."
        )
    return periods[0], periods[1]
