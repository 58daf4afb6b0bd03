"""Engagement outcomes: referral-to-completion flow, completion, dropout, attendance.

Definitions (core session sequence, completion rule, derived exit status,
potential completers) are in :mod:`cdanalytics.engagement._prepare`; the
grouped outcomes in :mod:`cdanalytics.engagement.outcomes`; the dropout model
in :mod:`cdanalytics.engagement.model`; completion stage by stage in
:mod:`cdanalytics.engagement.stages`; review sessions and the evaluation
meeting in :mod:`cdanalytics.engagement.reviews`; reach of the partner and
children's services in :mod:`cdanalytics.engagement.services`.

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
        STAGES,
        EngagementData,
        prepare_engagement,
    )
    from .model import DropoutModel, dropout_model
    from .outcomes import (
        COMPLETION_CLEAR_COLUMNS,
        COMPLETION_COLUMNS,
        DROPOUT_COLUMNS,
        EARLY_DROPOUT_BEFORE,
        EARLY_DROPOUT_COLUMNS,
        completion,
        dropout,
        dropout_timing,
        retention,
    )
    from .participation import attendance, attendance_summary, waiting_times
    from .referrals import flow, flow_exits
    from .reviews import evaluation_outcomes, review_attendance, review_facts
    from .services import partner_contact_by_completion, service_reach
    from .stages import programme_completion_from_stages, stage_completion, stage_progress
    from .status import (
        FINDINGS,
        derive_exit_status,
        exit_status_disagreements,
        potential_completers,
    )

__all__ = [
    "CLEAR_OUTCOMES",
    "COMPLETION_CLEAR_COLUMNS",
    "COMPLETION_COLUMNS",
    "DROPOUT_COLUMNS",
    "EARLY_DROPOUT_BEFORE",
    "EARLY_DROPOUT_COLUMNS",
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
    "evaluation_outcomes",
    "exit_status_disagreements",
    "flow",
    "flow_exits",
    "partner_contact_by_completion",
    "potential_completers",
    "prepare_engagement",
    "programme_completion_from_stages",
    "retention",
    "review_attendance",
    "review_facts",
    "service_reach",
    "stage_completion",
    "stage_progress",
    "waiting_times",
]

__getattr__, __dir__ = lazy_exports(__name__)
