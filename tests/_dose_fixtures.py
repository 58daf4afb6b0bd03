"""Synthetic programme cohorts with a known per-session effect on reoffending.

Every man starts on his index date, is offered 12 weekly group sessions
(days 0, 7, ..., 77) and attends each with his own probability (drawn from
Beta(2, 2), unrelated to his risk), so dose has no effect on when follow-up
starts. His hazard of reoffending is ``base_hazard · exp(beta · c(t))`` with
c(t) the sessions attended before day t; a man who reoffends attends no
session from that day on (arrested or excluded), which is what makes the
naive model (total sessions attended, from the index date) biased by
immortal time. Follow-up ends ``followup_days`` after the index date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SESSION_DAYS = np.arange(12) * 7
INDEX_DATE = pd.Timestamp("2023-01-02")


def dose_cohort(
    n: int,
    beta: float,
    *,
    seed: int,
    base_hazard: float = 0.8 / 365,
    followup_days: int = 730,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(outcome table, sessions table) of ``n`` men; see the module docstring.

    The outcome table has the columns the reoffending analyses need
    (``participant_id``, ``index_date``, ``in_cohort``, ``duration_days``,
    ``event``) plus ``sessions_total`` (all sessions attended: the naive dose).
    """
    rng = np.random.default_rng(seed)
    propensity = rng.beta(2, 2, n)
    attends = rng.random((n, SESSION_DAYS.size)) < propensity[:, None]
    # After session j (from day SESSION_DAYS[j], exclusive) the count is cumsum[:, j].
    count = np.cumsum(attends, axis=1)
    edges = np.r_[SESSION_DAYS, followup_days].astype(float)
    rates = base_hazard * np.exp(beta * count)  # hazard on (edges[j], edges[j + 1]]
    widths = np.diff(edges)
    cumulative = np.c_[np.zeros(n), np.cumsum(rates * widths, axis=1)]
    target = rng.exponential(size=n)
    piece = (cumulative <= target[:, None]).sum(axis=1) - 1  # last edge below the target
    event = piece < SESSION_DAYS.size
    piece = np.minimum(piece, SESSION_DAYS.size - 1)
    rows = np.arange(n)
    time = edges[piece] + (target - cumulative[rows, piece]) / rates[rows, piece]
    # Whole days, at least 1; censored at the end of follow-up.
    duration = np.where(event, np.maximum(np.ceil(time), 1), followup_days)
    attends &= SESSION_DAYS[None, :] < duration[:, None]
    ids = np.char.add("P", np.arange(n).astype(str))
    people = pd.DataFrame(
        {
            "participant_id": ids,
            "index_date": INDEX_DATE,
            "in_cohort": True,
            "duration_days": duration.astype(float),
            "event": event,
            "sessions_total": attends.sum(axis=1),
        }
    )
    sessions = pd.DataFrame(
        {
            "participant_id": np.repeat(ids, SESSION_DAYS.size),
            "session_type": "group",
            "session_number": np.tile(np.arange(1, SESSION_DAYS.size + 1), n),
            "session_date": INDEX_DATE + pd.to_timedelta(np.tile(SESSION_DAYS, n), unit="D"),
            "attendance": np.where(attends.ravel(), "attended", "unexcused"),
        }
    )
    return people, sessions
