"""Dose-response without immortal time: attendance as a time-varying covariate.

"Does attending more sessions reduce reoffending?" A model of reoffending
from the index date on the share of sessions attended in the end is biased
by immortal time: a man has to stay out of trouble long enough to attend many
sessions, so the sessions he attends *after* a period without reoffending are
credited with that period. Here follow-up is split at every day a session is
attended into counting-process intervals (start, stop], each carrying the
number of sessions attended up to its start, and a Cox model is fitted to
them (Andersen & Gill 1982): at each reoffence, the man who reoffended is
compared with the men at risk on the same day by the sessions each had
attended by then. :mod:`.landmark` answers the same question from a fixed
landmark date.

References
----------
Andersen, P. K. & Gill, R. D. (1982). Cox's regression model for counting
processes: a large sample study. Annals of Statistics 10:1100-1120.
Suissa, S. (2008). Immortal time bias in pharmacoepidemiology. American
Journal of Epidemiology 167:492-499.
Therneau, T. M. & Grambsch, P. M. (2000). Modeling Survival Data: Extending
the Cox Model, chapter 3.7 (time-dependent covariates). Springer.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .. import _cox
from .._dates import day_numbers
from .._groups import by_columns, group_by
from .._lookup import index_type, kept_values, rows_in
from ..errors import (
    AnalysisError,
    ConfigError,
    ConvergenceError,
    ExportValidationError,
    InsufficientDataError,
    StatisticalWarning,
)
from ..io.export import Export
from ._cox_design import cox_design
from .cox import (
    TIES,
    _convergence_message,
    _hazard_ratios_in_brief,
    _summary_and_tests,
)
from .definition import (
    SURVIVAL_COLUMNS,
    ReoffendingDefinition,
    resolve_outcomes,
)

__all__ = [
    "ATTENDANCE_TERM",
    "INTERVAL_COLUMNS",
    "TimeVaryingCoxResult",
    "attendance_intervals",
    "cox_time_varying",
]

#: Name of the time-varying attendance term (sessions attended so far).
ATTENDANCE_TERM = "sessions_attended"
#: Columns of :func:`attendance_intervals`.
INTERVAL_COLUMNS: list[str] = ["participant_id", "start", "stop", "event", ATTENDANCE_TERM]


@dataclass
class Intervals:
    """Counting-process intervals as arrays (one entry per interval);
    :func:`_sorted_risk_sets` consumes them (sets the arrays to ``None``)."""

    person: np.ndarray  # row of the person in the cohort table
    start: np.ndarray
    stop: np.ndarray
    event: np.ndarray  # 1.0 on the interval that ends in the first reoffence
    attended: np.ndarray  # sessions attended up to (and on) the interval's start day
    n_left_out: int  # people with no follow-up time (reoffence or censoring on day 0)


def _cohort_rows(cohort: pd.DataFrame, sessions: pd.DataFrame, export: Export | None) -> np.ndarray:
    """Row in ``cohort`` of each session's participant (-1: not in the cohort).

    When ``sessions`` is the table of ``export`` and every person of the
    cohort is one of its participants, the sessions' participant rows that
    the load made are looked up through the participants (one hash of the
    participants' identifiers, not of every session's); otherwise every
    session's identifier is looked up in the cohort's. Both give each
    session the cohort row of the identifier it names.
    """
    if export is not None and sessions is export.sessions:
        try:
            rows = export.participant_rows("sessions")
        except ExportValidationError:  # duplicate identifiers: looked up directly
            rows = None
        if rows is not None:
            people = export.participants["participant_id"]
            of_person = rows_in(cohort["participant_id"], people, index_type(len(cohort)))
            if int((of_person >= 0).sum()) == len(cohort):
                # row -1 (no participant): the -1, in the positions' own type
                return np.append(of_person, of_person.dtype.type(-1))[rows]
    return rows_in(cohort["participant_id"], sessions["participant_id"], index_type(len(cohort)))


def attended_days(
    cohort: pd.DataFrame,
    sessions: pd.DataFrame,
    session_types: Sequence[str] | None,
    export: Export | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(row of the person in ``cohort``, day from his index date) of every
    attended session of the chosen types; sessions of people outside the
    cohort or without a date are left out. With the ``export`` whose table
    ``sessions`` is, its participant lookup serves (:func:`_cohort_rows`)."""
    index_day = day_numbers(cohort["index_date"])
    attended = (sessions["attendance"] == "attended").fillna(False).to_numpy(dtype=bool)
    if session_types is not None:
        chosen_type = sessions["session_type"].isin(list(session_types))
        attended = attended & chosen_type.fillna(False).to_numpy(dtype=bool)
    # looked up as whole columns (no copy of the chosen rows' identifiers); the rows
    # of the cohort's attended sessions kept, in int32 when the cohort fits
    found = _cohort_rows(cohort, sessions, export)
    chosen = attended & (found >= 0)
    del attended
    # their days from the index date only (a million participants have ~7M
    # sessions), read from the column's array a block of sessions at a time: no
    # Series of the chosen rows, no column-long copy of their dates or index days
    dates = sessions["session_date"].to_numpy()
    day = kept_values(
        lambda rows: day_numbers(dates[rows]) - index_day[found[rows]], chosen, np.float64
    )
    pos = found[chosen].astype(index_type(len(cohort)), copy=False)
    del chosen
    dated = ~np.isnan(day)
    return (pos, day) if dated.all() else (pos[dated], day[dated])


def split_at_sessions(
    cohort: pd.DataFrame, sessions: pd.DataFrame, session_types: Sequence[str] | None
) -> Intervals:
    """Split each person's follow-up (0, duration_days] at the days (from the
    index date) on which sessions were attended. Sessions on or before the
    index date count from the start; a session on the day of a reoffence is
    not counted for it (the order within a day is unknown); sessions after the
    end of follow-up are ignored. Vectorised: one sort of the sessions."""
    n = len(cohort)
    duration = cohort["duration_days"].to_numpy(dtype=float)
    pos, day = attended_days(cohort, sessions, session_types)
    baseline = np.bincount(pos[day <= 0], minlength=n).astype(float)
    inside = (day > 0) & (day < duration[pos])
    pos, day = pos[inside], day[inside]
    # One sort of (person, day) pairs; days from dates are whole numbers.
    span = int(day.max()) + 1 if day.size else 1
    pairs, split_count = np.unique(
        pos.astype(np.int64) * span + day.astype(np.int64), return_counts=True
    )
    split_pos, split_day = pairs // span, (pairs % span).astype(float)
    split_count = split_count.astype(float)

    n_splits = np.bincount(split_pos, minlength=n)
    rows = 1 + n_splits
    offset = np.cumsum(rows) - rows
    rank = np.arange(split_pos.size) - (np.cumsum(n_splits) - n_splits)[split_pos]
    split_row = offset[split_pos] + 1 + rank
    total = int(rows.sum())
    person = np.repeat(np.arange(n), rows)
    start = np.zeros(total)
    start[split_row] = split_day
    last = offset + n_splits
    stop = np.r_[start[1:], 0.0]
    stop[last] = duration
    increment = np.zeros(total)
    increment[offset] = baseline
    increment[split_row] = split_count
    running = np.cumsum(increment)
    count = running - (running[offset] - increment[offset])[person]
    event = np.zeros(total)
    event[last] = cohort["event"].to_numpy(dtype=float)
    keep = stop > start  # people with no follow-up time have one empty interval
    return Intervals(
        person=person[keep],
        start=start[keep],
        stop=stop[keep],
        event=event[keep],
        attended=count[keep],
        n_left_out=int((duration <= 0).sum()),
    )


def _cohort_and_sessions(
    data: Export | pd.DataFrame,
    sessions: pd.DataFrame | None,
    definition: ReoffendingDefinition | None,
    required: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The people in the cohort and the sessions table to count from."""
    if sessions is None:
        if not isinstance(data, Export):
            raise ConfigError("pass sessions= (the sessions table) with an outcome table.")
        sessions = data.sessions
    cohort = resolve_outcomes(data, definition, (*SURVIVAL_COLUMNS, *required))
    missing = [c for c in ("participant_id", "session_date", "attendance") if c not in sessions]
    if missing:
        raise ConfigError(f"sessions lacks column(s) {', '.join(missing)}.")
    if cohort["index_date"].isna().any():
        raise AnalysisError("people in the cohort without an index_date.")
    if not cohort["participant_id"].is_unique:
        raise AnalysisError("participant_id is not unique among the people in the cohort.")
    return cohort, sessions


def attendance_intervals(
    data: Export | pd.DataFrame,
    sessions: pd.DataFrame | None = None,
    *,
    session_types: Sequence[str] | None = None,
    definition: ReoffendingDefinition | None = None,
) -> pd.DataFrame:
    """Follow-up split into (start, stop] intervals at each attended session.

    Parameters
    ----------
    data
        An export, or the table from :func:`person_outcomes` (or a subset of
        it, for example programme participants only).
    sessions
        The sessions table (default: the export's); needed with a table.
    session_types
        Count only these session types (for example ``["group"]``);
        default every type.
    definition
        The reoffending measure when ``data`` is an export.

    Returns
    -------
    pandas.DataFrame
        :data:`INTERVAL_COLUMNS`, one row per interval in person order:
        ``start`` and ``stop`` in days from the index date (at risk on
        (start, stop]), ``event`` True on the interval that ends in the first
        reoffence, ``sessions_attended`` the sessions attended up to and on
        the day the interval starts (sessions on or before the index date
        count from day 0; one on the day of a reoffence does not count for
        it). People with no follow-up time are left out.
    """
    cohort, sessions = _cohort_and_sessions(data, sessions, definition, ("index_date",))
    parts = split_at_sessions(cohort, sessions, session_types)
    return pd.DataFrame(
        {
            "participant_id": cohort["participant_id"].to_numpy()[parts.person],
            "start": parts.start,
            "stop": parts.stop,
            "event": parts.event.astype(bool),
            ATTENDANCE_TERM: parts.attended.astype(np.int64),
        }
    )


@dataclass(frozen=True)
class TimeVaryingCoxResult:
    """A Cox model with attendance as a time-varying covariate.

    Attributes
    ----------
    summary
        :data:`~cdanalytics.reoffending.COX_COLUMNS`, the first row the
        ``sessions_attended`` term: its hazard ratio is the change in the
        hazard of reoffending per extra session attended so far. Model-based
        standard errors (each person's intervals do not overlap and he has at
        most one event, so they need no clustering).
    tests
        Likelihood-ratio, Wald and score tests that every coefficient is 0
        (:data:`~cdanalytics.reoffending.TEST_COLUMNS`).
    n, n_intervals, n_events
        People, (start, stop] intervals and first reoffences in the model.
    n_left_out
        People in the cohort with no follow-up time (reoffending or
        censored on the index date), left out.
    loglik, loglik_null
        Log partial likelihood at the estimate and at 0.
    ties, covariates, strata, session_types, references
        What the model was fitted with (``covariates`` are the fixed ones).
    """

    summary: pd.DataFrame
    tests: pd.DataFrame
    n: int
    n_intervals: int
    n_events: int
    n_left_out: int
    loglik: float
    loglik_null: float
    ties: str
    covariates: tuple[str, ...]
    strata: tuple[str, ...]
    session_types: tuple[str, ...] | None
    references: dict[str, object]

    def __repr__(self) -> str:
        """Shape and key figures: people, intervals, events and the first hazard ratios."""
        n_terms, shown = _hazard_ratios_in_brief(self.summary)
        return (
            f"<cdanalytics.TimeVaryingCoxResult: {n_terms} fitted on {self.n:,} people"
            f" ({self.n_intervals:,} intervals) with {self.n_events:,} first reoffences"
            f" ({self.ties} ties; {self.n_left_out:,} left out); {shown}>"
        )


def _sorted_risk_sets(
    parts: Intervals, fixed: np.ndarray, person_stratum: np.ndarray, ties: str
) -> _cox.RiskSets:
    """The engine's risk sets of the intervals, with attendance and the fixed
    covariates ``fixed`` (people × terms).

    Intervals without an event that agree in everything the partial
    likelihood sees (stratum, fixed covariates, start, stop, attendance) are
    merged into one row whose case weight is their number: the weighted
    risk-set sums are the same sums, so the fit is the same. Events are never
    merged (with Efron's approximation each tied event is a term of its own).
    Merging is skipped when most people have a covariate profile of their
    own. The rows are then sorted by (stratum, stop, events first), the
    engine's own order, so that it neither sorts nor copies them, and the
    covariates are gathered from the small per-profile table into the
    row-major design the engine reads.
    """
    keys = pd.DataFrame(np.column_stack([person_stratum, fixed]))
    profile_of = keys.groupby(list(keys.columns), sort=False).ngroup().to_numpy()
    n_profiles = int(profile_of.max()) + 1
    first = np.empty(n_profiles, dtype=np.int64)  # a person of each profile
    first[profile_of[::-1]] = np.arange(len(profile_of))[::-1]
    profile = profile_of[parts.person]
    start, stop, event, attended = parts.start, parts.stop, parts.event, parts.attended
    # Consumed: each array is freed as soon as its sorted or merged copy replaces it.
    parts.person = parts.start = parts.stop = parts.event = parts.attended = None
    weight = None
    if 2 * n_profiles <= len(profile_of):
        quiet = event == 0
        merged = pd.DataFrame(
            {"p": profile[quiet], "a": start[quiet], "b": stop[quiet], "c": attended[quiet]}
        ).value_counts(sort=False)
        rows = merged.index
        loud = ~quiet

        def join(level: int, values: np.ndarray) -> np.ndarray:
            return np.r_[rows.get_level_values(level).to_numpy(), values[loud]]

        profile = join(0, profile)
        start, stop, attended = join(1, start), join(2, stop), join(3, attended)
        event = np.r_[np.zeros(len(merged)), event[loud]]
        weight = np.r_[merged.to_numpy(dtype=float), np.ones(int(loud.sum()))]
    stratum = person_stratum[first][profile]
    order = np.lexsort((event != 1, stop, stratum))
    profile = profile[order]
    exog = np.empty((order.size, 1 + fixed.shape[1]))
    exog[:, 0] = attended[order]
    del attended
    for j in range(fixed.shape[1]):
        exog[:, j + 1] = fixed[first, j][profile]
    del profile
    stop, event, stratum, start = stop[order], event[order], stratum[order], start[order]
    weight = None if weight is None else weight[order]
    del order
    return _cox.prepare(stop, event, exog, stratum, ties, weight=weight, entry=start)


def cox_time_varying(
    data: Export | pd.DataFrame,
    covariates: Sequence[str] = (),
    *,
    sessions: pd.DataFrame | None = None,
    session_types: Sequence[str] | None = None,
    ties: Literal["efron", "breslow"] = "efron",
    strata: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    definition: ReoffendingDefinition | None = None,
) -> TimeVaryingCoxResult:
    """Cox model of time to first reoffence with sessions attended so far as
    a time-varying covariate.

    Parameters
    ----------
    data
        An export, or the table from :func:`person_outcomes` (or a subset:
        dose-response is usually asked among programme participants only;
        comparison rows have no sessions and stay at 0).
    covariates
        Fixed covariates measured at the index date (coded as in
        :func:`~cdanalytics.reoffending.cox`); they must be complete.
    sessions
        The sessions table (default: the export's); needed with a table.
    session_types
        Count only these session types; default every type.
    ties
        ``"efron"`` (default, as R's ``coxph`` and lifelines'
        ``CoxTimeVaryingFitter``) or ``"breslow"``.
    strata
        Column(s) defining strata with their own baseline hazards.
    alpha
        1 - confidence level of the hazard-ratio intervals.
    definition
        The reoffending measure when ``data`` is an export.

    Returns
    -------
    TimeVaryingCoxResult

    Raises
    ------
    AnalysisError
        Missing covariate values, or covariates that do not vary or are
        collinear (with attendance too).
    InsufficientDataError
        No first reoffences with follow-up time.
    ConvergenceError
        The fit did not converge.

    References
    ----------
    Andersen, P. K. & Gill, R. D. (1982). Cox's regression model for
    counting processes: a large sample study. Annals of Statistics
    10:1100-1120.
    """
    if ties not in TIES:
        raise ConfigError(f"ties must be one of {', '.join(TIES)}.")
    cohort, sessions = _cohort_and_sessions(data, sessions, definition, ("index_date",))
    covariates = by_columns(covariates, cohort)
    if len(set(covariates)) != len(covariates) or ATTENDANCE_TERM in covariates:
        raise ConfigError(f"covariates must name each column once, not {ATTENDANCE_TERM!r}.")
    strata_keys = by_columns(strata, cohort)
    gaps = cohort[[*covariates, *strata_keys]].isna().any(axis=1)
    if gaps.any():
        raise AnalysisError(
            f"cox_time_varying: {int(gaps.sum())} people have missing covariate or stratum "
            "values; impute them or leave those people out."
        )
    parts = split_at_sessions(cohort, sessions, session_types)
    n_left_out = parts.n_left_out
    if n_left_out:
        warnings.warn(
            f"cox_time_varying: left out {n_left_out} people with no follow-up time "
            "(reoffence or censoring on the index date).",
            StatisticalWarning,
            stacklevel=2,
        )
    if parts.event.sum() == 0:
        raise InsufficientDataError("cox_time_varying: no reoffences after the index date.")
    terms: list[str] = [ATTENDANCE_TERM]
    references: dict[str, object] = {}
    fixed = np.empty((len(cohort), 0))
    if covariates:
        fixed, fixed_terms, references = cox_design(cohort, covariates, {})
        terms.extend(fixed_terms)
    person_stratum = group_by(cohort, strata_keys).ngroup().to_numpy()
    n_intervals, n_events = int(parts.start.size), int(parts.event.sum())
    risk_sets = _sorted_risk_sets(parts, fixed, person_stratum, ties)
    params, loglik, information, (loglik_null, score0, information0) = _cox.fit(
        risk_sets, len(terms), _convergence_message(terms)
    )
    cov = np.linalg.inv(information)
    if not np.isfinite(np.sqrt(np.diag(cov))).all():
        raise ConvergenceError(_convergence_message(terms))
    summary, tests = _summary_and_tests(
        terms, params, cov, loglik - loglik_null, (score0, information0), alpha
    )
    return TimeVaryingCoxResult(
        summary=summary,
        tests=tests,
        n=len(cohort) - n_left_out,
        n_intervals=n_intervals,
        n_events=n_events,
        n_left_out=n_left_out,
        loglik=float(loglik),
        loglik_null=float(loglik_null),
        ties=ties,
        covariates=tuple(covariates),
        strata=tuple(strata_keys),
        session_types=None if session_types is None else tuple(session_types),
        references=references,
    )
