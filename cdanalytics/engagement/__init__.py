"""Engagement outcomes: referral-to-completion flow, completion, dropout, attendance.

Definitions (core session sequence, completion rule, derived exit status,
potential completers) are in :mod:`cdanalytics.engagement._prepare`; the
grouped outcomes in :mod:`cdanalytics.engagement.outcomes`; the dropout model
in :mod:`cdanalytics.engagement.model`.

Typical use::

    from cdanalytics import engagement as eng
    data = eng.prepare_engagement(export)          # once per export
    eng.completion(data, by=["programme", "site"])
    eng.retention(data, by="programme")
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:  # imported on first use, see cdanalytics._lazy
    from ._prepare import (
        CLEAR_OUTCOMES,
        EXIT_STATUSES,
        FINAL_STATUSES,
        FINDINGS,
        STAGES,
        EngagementData,
        derive_exit_status,
        exit_status_disagreements,
        potential_completers,
        prepare_engagement,
    )
    from .model import DropoutModel, dropout_model
    from .outcomes import (
        attendance,
        attendance_summary,
        completion,
        dropout,
        dropout_timing,
        flow,
        flow_exits,
        retention,
        waiting_times,
    )

__all__ = [
    "CLEAR_OUTCOMES",
    "EXIT_STATUSES",
    "FINAL_STATUSES",
    "FINDINGS",
    "STAGES",
    "DropoutModel",
    "EngagementData",
    "attendance",
    "attendance_summary",
    "completion",
    "derive_exit_status",
    "dropout",
    "dropout_model",
    "dropout_timing",
    "exit_status_disagreements",
    "flow",
    "flow_exits",
    "potential_completers",
    "prepare_engagement",
    "retention",
    "waiting_times",
]

__getattr__, __dir__ = lazy_exports(__name__)
