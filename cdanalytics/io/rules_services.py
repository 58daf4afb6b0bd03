"""Validation rules of the optional ``services`` table (partner and children's services).

``services`` (``data/schemas/services.yaml``) has one row per participant and
service, keyed by ``participant_id`` like ``sessions``: a row of a
quarantined participant is quarantined with him. Beside the per-column rules
every table gets (:func:`~cdanalytics.io.rules_table.check_columns`, keys,
required-when) its rules are:

- ``orphan``: ``participant_id`` is not in participants;
- ``date_order``: a step dated before the step it follows
  (``offered`` <= ``contacted`` <= ``accepted`` <= ``engaged``; an empty
  step is skipped, so ``contacted`` is compared with ``offered`` when both
  are recorded);
- ``before_referral``: the first recorded step is before the man's
  ``referral_date`` (a service is offered because of the referral);
- ``after_extract``: a step after the extract date.

The free-text ``source`` column keeps only codes unless the mapping declares
it safe (:mod:`cdanalytics.io.privacy.freetext`), and every column passes
the identifier guard like any other table's.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .problems import ProblemLog, TableData
from .rules_cross import check_orphans, first_positions, participant_codes
from .rules_table import (
    before,
    check_after_extract,
    check_columns,
    check_key,
    check_required_when,
    to_days,
)

__all__ = ["SERVICE_DATES", "validate_services"]

#: The steps of a service, in the order they happen (date columns of ``services``).
SERVICE_DATES: tuple[str, ...] = ("offered", "contacted", "accepted", "engaged")


def _check_step_order(data: TableData, days: np.ndarray, log: ProblemLog) -> None:
    """Rule ``date_order``: each recorded step on or after the last recorded step before it."""
    latest = np.full(len(days), np.nan, dtype=np.float32)
    for k, step in enumerate(SERVICE_DATES):
        if k:
            before(
                data,
                step,
                latest,
                "an earlier step of the service",
                log,
                rule="date_order",
                advice=(f"a service is {', then '.join(SERVICE_DATES)}; correct one of the dates."),
            )
        latest = np.fmax(latest, days[:, k])


def _check_referral(
    data: TableData, days: np.ndarray, referral: np.ndarray, log: ProblemLog
) -> None:
    """Rule ``before_referral``: the first recorded step is before the man's referral."""
    recorded = ~np.isnan(days)
    first = np.where(recorded.any(axis=1), recorded.argmax(axis=1), -1)
    for k, step in enumerate(SERVICE_DATES):
        earlier = np.where(first == k, referral, np.nan)
        before(
            data,
            step,
            earlier,
            "the man's referral_date",
            log,
            rule="before_referral",
            advice=(
                "a partner or children's service follows the man's referral; correct the "
                "date, or the participant_id if the row belongs to another man."
            ),
        )


def validate_services(
    tables: Mapping[str, TableData],
    *,
    extract_date: pd.Timestamp,
    log: ProblemLog,
    parent: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Run every rule on the typed ``services`` table, adding problems to ``log``.

    Parameters
    ----------
    tables
        ``participants`` and ``services``, typed (``services`` empty when absent).
    extract_date
        The manifest's extract date (``NaT`` skips ``after_extract``).
    log
        Receives the problems.
    parent
        The position in participants of each service row's participant
        (-1 when none), when already looked up with the other tables'
        (:func:`~cdanalytics.io.validation.validate_tables`); else looked up here.

    Returns
    -------
    dict
        ``{"services": positions}``: the position in participants of each
        service row's participant (-1 when none), to quarantine the rows of
        a quarantined participant.
    """
    participants, data = tables["participants"], tables["services"]
    known = participants.frame["participant_id"]
    ids = data.frame["participant_id"]
    if parent is None:
        (parent,) = first_positions([ids], known)
    check_columns(data, programmes={}, instruments={}, log=log)
    check_orphans(data, parent, log)
    check_key(data, id_codes=participant_codes(ids, parent, len(known)), log=log)
    check_required_when(data, log)
    if len(data.frame):
        days = np.column_stack([to_days(data.frame[c]) for c in SERVICE_DATES])
        _check_step_order(data, days, log)
        referral = np.append(to_days(participants.frame["referral_date"]), np.nan)[parent]
        _check_referral(data, days, referral, log)
    check_after_extract(data, SERVICE_DATES, extract_date, log)
    return {"services": parent}
