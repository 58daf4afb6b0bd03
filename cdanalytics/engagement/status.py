"""Exit status as recorded and as derived from attendance, and who is a potential completer.

Split from :mod:`._prepare`, which builds the prepared episodes these read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..io.export import Export
from ._prepare import EXIT_STATUSES, EngagementData, as_engagement_data, shared_parameters

__all__ = [
    "FINDINGS",
    "derive_exit_status",
    "exit_status_disagreements",
    "is_potential",
    "potential_completers",
]


@shared_parameters
def derive_exit_status(
    data: Export | EngagementData, *, programmes: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Recorded, derived and used exit status of every programme participant.

    Parameters
    ----------
    {data}
    {programmes}

    Returns
    -------
    DataFrame
        ``participant_id, programme, exit_status_recorded, exit_status_derived,
        exit_status_used, exit_status_source, rule_met, n_core_attended,
        n_core_needed, attended_last_core``; one row per programme participant.
        The derivation is described in the module docstring.
    """
    ep = as_engagement_data(data, programmes).episodes
    return ep[
        [
            "participant_id",
            "programme",
            "exit_status_recorded",
            "exit_status_derived",
            "exit_status_used",
            "exit_status_source",
            "rule_met",
            "n_core_attended",
            "n_core_needed",
            "attended_last_core",
        ]
    ]  # a new frame (copy-on-write): a caller's edits never reach the episodes


#: Data-quality findings when a recorded exit status contradicts attendance.
FINDINGS: dict[str, str] = {
    "recorded_completed_rule_not_met": "recorded as completed, but attendance does not meet "
    "the completion rule",
    "recorded_not_started_but_attended": "recorded as not started, but core sessions were attended",
    "rule_met_not_recorded_completed": "attendance meets the completion rule, but the recorded "
    "status is not completed",
    "recorded_ongoing_but_closed_or_overdue": "recorded as ongoing, but the case has an end "
    "date or is past its expected end without meeting the rule",
}


@shared_parameters
def exit_status_disagreements(
    data: Export | EngagementData, *, programmes: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Participants whose recorded exit status contradicts their attendance.

    The recorded status is always the one used; these rows are data-quality
    findings for the site to check. Pairs the derivation cannot judge are not
    findings: a recorded ``excluded`` or ``transferred`` against a derived
    ``dropped_out`` or ``ongoing``; a recorded ``ongoing`` with the rule met
    (review sessions may follow); a recorded ``dropped_out`` before the
    expected end.

    Parameters
    ----------
    {data}
    {programmes}

    Returns
    -------
    DataFrame
        ``participant_id, programme, site, exit_status_recorded,
        exit_status_derived, finding, description, n_core_attended,
        n_core_needed, attended_last_core, completion_rule``; ``finding`` is a
        key of :data:`FINDINGS` and ``description`` its sentence.
    """
    prepared = as_engagement_data(data, programmes)
    ep = prepared.episodes
    rec = ep["exit_status_recorded"]
    der = ep["exit_status_derived"]
    both = (rec.notna() & der.notna()).to_numpy()
    rec_is = {s: (rec == s).to_numpy() & both for s in EXIT_STATUSES}
    finding = np.select(
        [
            rec_is["completed"] & (der != "completed").to_numpy(),
            rec_is["not_started"] & (ep["n_core_attended"] > 0).to_numpy(),
            (der == "completed").to_numpy() & both & ~rec_is["completed"] & ~rec_is["ongoing"],
            rec_is["ongoing"] & (der == "dropped_out").to_numpy(),
        ],
        range(len(FINDINGS)),  # each finding's code (not a text per row: 144 bytes each)
        default=-1,
    )
    rows = finding >= 0
    out = ep.loc[
        rows,
        ["participant_id", "programme", "site", "exit_status_recorded", "exit_status_derived"],
    ]  # a new frame (copy-on-write): nothing written here reaches the episodes
    out["finding"] = pd.Categorical.from_codes(finding[rows], categories=list(FINDINGS))
    out["description"] = out["finding"].map(FINDINGS).astype("str")
    for column in ("n_core_attended", "n_core_needed", "attended_last_core"):
        out[column] = ep.loc[rows, column]
    out["completion_rule"] = out["programme"].astype("str").map(prepared.rule_texts())
    return out.reset_index(drop=True)


@shared_parameters
def potential_completers(
    data: Export | EngagementData,
    *,
    programmes: Mapping[str, Any] | None = None,
    closed_cases: bool = True,
) -> pd.DataFrame:
    """Which starters are potential completers, and why.

    Parameters
    ----------
    {data}
    {programmes}
    closed_cases
        Count a closed case (an ``end_date`` or a final exit status) as a
        potential completer even before its expected end, as the Caledonian
        evaluation did. ``False`` keeps only starters whose expected end is on
        or before the extract date; recent early leavers then do not pull the
        completion rate down.

    Returns
    -------
    DataFrame
        One row per starter: ``participant_id, programme, start, expected_end,
        due_by_extract, case_closed, potential_completer, basis`` with
        ``basis`` one of ``time_elapsed``, ``case_closed``, ``not_yet``.

    References
    ----------
    Ipsos MORI (2016). Evaluation of the Caledonian System. Scottish Government.
    """
    ep = as_engagement_data(data, programmes).episodes
    starters = ep.loc[ep["started"]]
    out = starters[
        ["participant_id", "programme", "start", "expected_end", "due_by_extract", "case_closed"]
    ]  # a new frame (copy-on-write): nothing written here reaches the episodes
    out["potential_completer"] = is_potential(starters, closed_cases)
    out["basis"] = pd.Categorical(
        np.select(
            [starters["due_by_extract"], starters["case_closed"] & closed_cases],
            ["time_elapsed", "case_closed"],
            default="not_yet",
        ),
        categories=["time_elapsed", "case_closed", "not_yet"],
    )
    return out.reset_index(drop=True)


def is_potential(episodes: pd.DataFrame, closed_cases: bool) -> np.ndarray:
    """Boolean potential-completer flag of each episode row."""
    due = episodes["due_by_extract"].to_numpy()
    if closed_cases:
        return due | episodes["case_closed"].to_numpy()
    return due
