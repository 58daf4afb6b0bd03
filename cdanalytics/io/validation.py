"""Validation of a typed export: the contract's rules, the problem list and quarantine.

Every rule is vectorised over whole columns and every rule runs on every
table, so one run finds every problem (lazy validation). Each problem names
the table, the source file, the row number a person sees in that file, the
column, the offending value (as text), the rule and a sentence saying what to
do. Tables holding a column that looks like a direct identifier are refused
before validation (:mod:`cdanalytics.io.privacy`), so a problem never echoes
an identifier.

Problem types and the bounded problem log live in :mod:`cdanalytics.io.problems`
and :mod:`cdanalytics.io.validation_report`, the rules in
:mod:`cdanalytics.io.rules_table` and :mod:`cdanalytics.io.rules_cross`; this
module runs them in order (:func:`validate_tables`). At most
``max_problems_per_rule`` problems of each rule and table are listed in full
(default 1,000); the others are counted exactly and their rows still
quarantined.

Rules
-----
While reading (:mod:`cdanalytics.io.typed`): ``excel_error`` (``#DIV/0!``, ...),
``control_character``, ``thousands_separator`` (a count such as ``1,000``
without a declared ``number_format``), ``before_1900``; in the manifest
``after_today`` (extract date), ``type``/``range`` (``schema_version``).
Per column (the pandera schema, from ``data/schemas``): ``type`` (unreadable value),
``not_null``, ``allowed``, ``range``; ``missing_column``; per table:
``unique`` (every row of a duplicated key), ``required_when``
(``referral_date`` on programme rows, ``index_date`` on comparison rows);
registry rules: ``scale`` (a scale of the row's instrument), ``score_range``
(within the instrument scale's range), ``session_number`` (at most the
programme's count of that session type; review sessions: the registry's
``review.count``); across tables: ``orphan`` (``participant_id`` not in
participants), ``date_order`` (``referral_date`` <= ``start_date`` <=
``end_date``), ``session_outside_episode``, ``after_extract`` (no date after
the extract date, except ``followup_end``), ``proven_before_event``,
``disposal_unproven`` (a ``disposal`` on an event without a ``proven_date``).

Sessions and the episode: every session lies on or after ``referral_date``
and on or before ``end_date`` (review sessions: up to the programme's
``review.window_days`` after it; no end while the episode is ongoing, when
the extract date bounds it); *attended* sessions lie on or after
``start_date`` (the first attended session) and need one. Missed sessions
before the start are allowed: someone booked for session 1 who first came to
session 2 starts at session 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .export import FAMILY_TABLES, TABLES
from .problems import (
    PROBLEM_COLUMNS,
    TABLE_COLUMNS,
    TYPE_WORDS,
    Problem,
    ProblemLog,
    TableData,
)
from .rules_cross import (
    check_events,
    check_orphans,
    check_sessions,
    first_positions,
    participant_codes,
)
from .rules_table import (
    PARTICIPANT_DATES,
    check_after_extract,
    check_columns,
    check_key,
    check_measures,
    check_participant_dates,
    check_required_when,
    to_days,
)
from .validation_report import ValidationReport

__all__ = [
    "PROBLEM_COLUMNS",
    "TABLE_COLUMNS",
    "TYPE_WORDS",
    "Problem",
    "ProblemLog",
    "TableData",
    "ValidationReport",
    "first_positions",
    "participant_codes",
    "validate_tables",
]


def validate_tables(
    tables: Mapping[str, TableData],
    *,
    extract_date: pd.Timestamp,
    programmes: Mapping[str, Any],
    instruments: Mapping[str, Any],
    log: ProblemLog,
) -> dict[str, np.ndarray]:
    """Run every rule on typed tables, adding problems to ``log``.

    Parameters
    ----------
    tables
        Every table of :data:`~cdanalytics.io.export.TABLES`, typed, with all
        contract columns present.
    extract_date
        The manifest's extract date (``NaT`` skips the rules that need it).
    programmes, instruments
        Resolved registries.
    log
        Receives the problems.

    Returns
    -------
    dict
        Table name to the position in participants of each row's participant
        (-1 when none), for the child tables (and ``services`` when in
        ``tables``: every table's identifiers are looked up together, once);
        used to quarantine the rows of a quarantined participant.
    """
    participants = tables["participants"]
    known = participants.frame["participant_id"]
    linked = [name for name in (*TABLES, *FAMILY_TABLES) if name in tables]
    ids = {name: tables[name].frame["participant_id"] for name in linked}
    positions = dict(zip(linked, first_positions(list(ids.values()), known), strict=True))
    parents = {name: positions[name] for name in linked[1:]}
    codes = {name: participant_codes(ids[name], positions[name], len(known)) for name in TABLES}
    for name in TABLES:
        data = tables[name]
        check_columns(data, programmes=programmes, instruments=instruments, log=log)
        if name != "participants":
            check_orphans(data, parents[name], log)
        check_key(data, id_codes=codes[name], log=log)
        check_required_when(data, log)
    days = {c: to_days(participants.frame[c]) for c in PARTICIPANT_DATES}  # once for all rules
    check_participant_dates(participants, extract_date, log, days=days)
    check_sessions(
        tables["sessions"],
        participants.frame,
        parents["sessions"],
        programmes,
        extract_date,
        log,
        participant_days=days,
    )
    check_measures(tables["measures"], instruments, log)
    check_after_extract(tables["measures"], ("measured_on",), extract_date, log)
    check_events(tables["events"], extract_date, log)
    return parents
