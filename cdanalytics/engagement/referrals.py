"""The referral-to-completion flow per group, and who left at which step and why.

Same conventions as :mod:`.outcomes` (``data``, ``by``, groups sorted, a
missing group value a group of its own, comparison rows left out).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .._groups import group_by
from ._prepare import EXIT_STATUSES, STAGES, contract_column, shared_parameters
from .outcomes import By, Data, _counts, _prepared, _rules, _unique

__all__ = ["flow", "flow_exits"]


@shared_parameters
def flow(data: Data, by: By = None, *, programmes: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Referral-to-completion flow: how many reached each step.

    A person who started counts as assessed and eligible; a missing
    ``assessed`` counts as assessed when eligibility was recorded; a missing
    ``eligible`` counts as not eligible unless the person started. Completed
    uses the exit status used (recorded, else derived).

    Parameters
    ----------
    {data}
    {by}
    {programmes}

    Returns
    -------
    DataFrame
        ``<by>..., n_referred, n_assessed, n_eligible, n_started, n_completed,
        completion_rule``; one row per group. :func:`flow_exits` gives who left
        at each step and why.

    Examples
    --------
    A synthetic export of 200 rows, 140 of them programme referrals (the rest
    are comparison people, who are left out). Each step counted by hand:

    >>> from cdanalytics.synth import generate
    >>> export, _ = generate(200, seed=1)
    >>> referred = export.participants.query("group == 'programme'")
    >>> [len(referred), int(referred["assessed"].sum()), int(referred["eligible"].sum()),
    ...  int(referred["start_date"].notna().sum())]
    [140, 121, 103, 84]
    >>> steps = flow(export)
    >>> steps[["n_referred", "n_assessed", "n_eligible", "n_started"]].iloc[0].tolist()
    [140, 121, 103, 84]
    """
    prepared, ep, keys = _prepared(data, by, programmes)
    stage = ep["stage_reached"].cat.codes.to_numpy()
    columns = {f"n_{name}": stage >= i for i, name in enumerate(STAGES)}
    return _counts(prepared, keys, columns)


_FIXED_REASONS = (
    "awaiting_assessment",
    "assessment_not_recorded",
    "not_assessed",
    "eligibility_not_recorded",
    "not_eligible",
    "awaiting_start",
    *EXIT_STATUSES,
    "unknown",
)


def _exit_reasons(ep: pd.DataFrame) -> pd.Categorical:
    """Reason for leaving at the last step reached (missing for completers), vectorised."""
    recorded = {
        name: pd.Categorical(contract_column(ep, name))
        for name in ("exit_reason", "exclusion_reason")
    }
    labels = list(
        dict.fromkeys(
            [*_FIXED_REASONS, *(str(c) for cat in recorded.values() for c in cat.categories)]
        )
    )
    code = {}
    for name, cat in recorded.items():
        lut = np.array([labels.index(str(c)) for c in cat.categories] + [-1], dtype=np.int64)
        code[name] = lut[np.asarray(cat.codes)]  # code -1 picks the trailing -1
    fixed = {label: labels.index(label) for label in _FIXED_REASONS}
    stage = ep["stage_reached"].cat.codes.to_numpy()
    used = ep["exit_status_used"].cat.codes.to_numpy()
    ongoing = used == EXIT_STATUSES.index("ongoing")
    status = np.where(used >= 0, used + fixed[EXIT_STATUSES[0]], fixed["unknown"])
    exit_reason, exclusion = code["exit_reason"], code["exclusion_reason"]
    unrecorded = {
        name: np.asarray(pd.isna(contract_column(ep, name))) for name in ("assessed", "eligible")
    }
    referred, assessed, eligible = (stage == STAGES.index(s) for s in STAGES[:3])
    reason = np.select(
        [
            referred & (exit_reason >= 0),
            referred & ongoing,
            referred & unrecorded["assessed"],
            referred,
            assessed & (exclusion >= 0),
            assessed & (exit_reason >= 0),
            assessed & unrecorded["eligible"],
            assessed,
            eligible & (exit_reason >= 0),
            eligible & ongoing,
            eligible,
            stage == STAGES.index("started"),
        ],
        [
            exit_reason,
            fixed["awaiting_assessment"],
            fixed["assessment_not_recorded"],
            fixed["not_assessed"],
            exclusion,
            exit_reason,
            fixed["eligibility_not_recorded"],
            fixed["not_eligible"],
            exit_reason,
            fixed["awaiting_start"],
            fixed["not_started"],
            status,
        ],
        default=-1,
    )
    return pd.Categorical.from_codes(reason, categories=labels)


@shared_parameters
def flow_exits(
    data: Data, by: By = None, *, programmes: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Who left the referral-to-completion flow at each step, and why (CONSORT-style).

    ``stage`` is the last step a person reached. The reason is, after
    ``referred``: the recorded ``exit_reason``, else ``awaiting_assessment``
    (status ongoing), ``assessment_not_recorded`` or ``not_assessed``; after
    ``assessed``: ``exclusion_reason``, else ``exit_reason``, else
    ``eligibility_not_recorded`` or ``not_eligible``; after ``eligible``:
    ``exit_reason``, else ``awaiting_start`` (status ongoing) or
    ``not_started``; after ``started``: the exit status used (``dropped_out``,
    ``excluded``, ``transferred``, ``ongoing``, or ``unknown`` when neither
    recorded nor derivable).

    Parameters
    ----------
    {data}
    {by}
    {programmes}

    Returns
    -------
    DataFrame
        ``<by>..., stage, reason, n_left, completion_rule``; one row per group,
        stage and reason, stages in flow order, reasons by count (largest
        first). The ``n_left`` of a group add up to ``n_referred - n_completed``
        of :func:`flow`.
    """
    prepared, ep, keys = _prepared(data, by, programmes)
    reason = _exit_reasons(ep)
    left = np.asarray(reason.codes) >= 0
    frame = ep.loc[left, _unique([*keys, "programme", "stage_reached"])].copy()
    frame["reason"] = reason[left]
    frame = frame.rename(columns={"stage_reached": "stage"})
    grouped = group_by(frame, [*keys, "stage", "reason"])
    out = grouped.size().rename("n_left").to_frame()
    out["completion_rule"] = _rules(prepared, grouped)
    out = out.reset_index()
    out["stage"] = out["stage"].cat.remove_unused_categories()
    return out.sort_values(
        [*keys, "stage", "n_left", "reason"], ascending=[True] * (len(keys) + 1) + [False, True]
    ).reset_index(drop=True)
