"""Family outcomes of audited cases by period and training, with Wilson CIs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._stats import wilson_ci
from ..errors import AnalysisError
from ._data import check_by, tool_entry

__all__ = ["FAMILY_COLUMNS", "FAMILY_OUTCOME_KEYS", "family_outcomes"]

#: Columns a family_outcomes table needs besides its outcome columns: one row
#: per case and period (``trained``: the team had training by the period).
#: Outcome columns (named in the tool's ``family_outcomes`` in the registry,
#: by default ``child_with_non_offending_parent`` at case closure,
#: ``removed_into_care``, ``re_referral_12m`` within 12 months of closure and
#: ``perpetrator_engaged`` with services) are true/false, empty when not
#: known; dates such as ``closure_date`` may be present and are not used here.
FAMILY_OUTCOME_KEYS: tuple[str, ...] = ("case_id", "team", "period", "trained")

#: Columns of :func:`family_outcomes` after the grouping columns.
FAMILY_COLUMNS: list[str] = [
    "outcome",
    "direction",
    "n_cases",
    "n_unknown",
    "n_yes",
    "share",
    "ci_low",
    "ci_high",
]


def family_outcomes(
    outcomes: pd.DataFrame,
    by: Sequence[str] = ("period", "trained"),
    tool: str = "safe_and_together",
    alpha: float = 0.05,
    registry: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Share of cases with each family outcome, by period and training.

    Parameters
    ----------
    outcomes
        One row per case and period: :data:`FAMILY_OUTCOME_KEYS` and the
        tool's outcome columns (true/false/empty; those absent are skipped).
    by
        Grouping columns among ``team``, ``period`` and ``trained``.
    tool, registry
        Audit tool whose ``family_outcomes`` (labels, directions) apply.
    alpha
        1 - confidence level of the Wilson intervals.

    Returns
    -------
    pandas.DataFrame
        One row per group and outcome (registry order): the ``by`` columns
        then :data:`FAMILY_COLUMNS`. ``n_cases`` cases with the outcome
        known, ``n_unknown`` with it empty (not in the denominator),
        ``n_yes``, ``share`` and its Wilson interval. ``direction`` says
        whether a higher share is better (``removed_into_care`` and
        ``re_referral_12m`` are lower_better). Raw counts: pass them through
        disclosure control before publishing.

    References
    ----------
    Wilson, E. B. (1927). JASA 22:209-212.
    Safe & Together Institute (outcomes: safety, well-being, permanency
    with the non-offending parent).

    Examples
    --------
    >>> fam = pd.DataFrame({"case_id": ["C1", "C2", "C3"], "team": "T1",
    ...     "period": "follow_up", "trained": True,
    ...     "removed_into_care": [False, True, None]})
    >>> family_outcomes(fam)[["outcome", "n_cases", "n_unknown", "n_yes"]].to_dict("records")
    [{'outcome': 'removed_into_care', 'n_cases': 2, 'n_unknown': 1, 'n_yes': 1}]
    """
    by = check_by(by, "family_outcomes")
    missing = [c for c in FAMILY_OUTCOME_KEYS if c not in outcomes.columns]
    if missing:
        raise AnalysisError(f"The family_outcomes table lacks column(s) {', '.join(missing)}.")
    known = tool_entry(tool, registry)["family_outcomes"]
    present = [c for c in known if c in outcomes.columns]
    if not present:
        raise AnalysisError(
            f"The family_outcomes table has none of the outcome columns {', '.join(known)}."
        )
    long = outcomes.melt(id_vars=by, value_vars=present, var_name="outcome", value_name="yes")
    long["outcome"] = pd.Categorical(long["outcome"], categories=present, ordered=True)
    value = long["yes"]
    is_known = value.notna().to_numpy()
    flags = value[is_known].astype(bool).to_numpy()
    long["known"] = is_known
    long["yes"] = False
    long.loc[is_known, "yes"] = flags
    counts = long.groupby([*by, "outcome"], sort=True, observed=True).agg(
        n_rows=("known", "size"), n_cases=("known", "sum"), n_yes=("yes", "sum")
    )
    counts = counts.reset_index()
    low, high = wilson_ci(counts["n_yes"], counts["n_cases"], alpha)
    out = counts[by].copy()
    out["outcome"] = counts["outcome"].astype(str)
    out["direction"] = out["outcome"].map({k: v["direction"] for k, v in known.items()})
    out["n_cases"] = counts["n_cases"].astype(np.int64)
    out["n_unknown"] = (counts["n_rows"] - counts["n_cases"]).astype(np.int64)
    out["n_yes"] = counts["n_yes"].astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share"] = out["n_yes"] / out["n_cases"].where(out["n_cases"] > 0)
    out["ci_low"], out["ci_high"] = low, high
    return out.reset_index(drop=True)
