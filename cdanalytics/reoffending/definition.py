"""What counts as proven reoffending, and one row of outcomes per person.

The definition follows the UK Ministry of Justice proven-reoffending measure
used by the Justice Data Lab: an offence *committed* within a fixed window
after the index date counts when it is *proven* (conviction or caution)
within the window or a further waiting period; breaches of order conditions
are not reoffences; a person whose window plus waiting period is not over by
the end of observation is "not yet eligible" and never counted as a
non-reoffender.

References
----------
Ministry of Justice (2014). Justice Data Lab statistics: methodology.
Ministry of Justice. Proven reoffending statistics: definitions and
measurement (gov.uk, "further breakdowns for serious proven re-offending").
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._dates import day_numbers
from ..errors import AnalysisError, ConfigError, DataQualityWarning
from ..io.export import Export
from ..io.schema import contract_values

__all__ = [
    "COUNTABLE_EVENT_TYPES",
    "DISPOSALS",
    "INDEX_OPTIONS",
    "OUTCOME_COLUMNS",
    "SERIOUSNESS_LEVELS",
    "SURVIVAL_COLUMNS",
    "ReoffendingDefinition",
    "person_outcomes",
]

log = logging.getLogger(__name__)

#: Event types of the export contract (``data/schemas/events.yaml``).
EVENT_TYPES: tuple[str, ...] = contract_values("events", "event_type")
#: Seriousness levels of the export contract, least serious first (the WODC's).
SERIOUSNESS_LEVELS: tuple[str, ...] = contract_values("events", "seriousness")
#: Disposals of the export contract.
DISPOSALS: tuple[str, ...] = contract_values("events", "disposal")
#: Event types counted by default: offences, never breaches or incidents.
COUNTABLE_EVENT_TYPES: tuple[str, ...] = ("dv_offence", "violent_offence", "other_offence")
#: Breaches of order conditions are recorded but never count as reoffences.
NEVER_COUNTED: tuple[str, ...] = ("order_breach",)
#: Values of :attr:`ReoffendingDefinition.index` (the evaluation config's
#: ``reoffending.index``).
INDEX_OPTIONS: tuple[str, ...] = ("index_date", "start_date", "referral_date", "end_date")

#: Columns :func:`person_outcomes` appends to the participant columns (whose
#: ``index_date`` it overwrites with the index date used).
OUTCOME_COLUMNS: list[str] = [
    "observation_end",
    "in_cohort",
    "window_end",
    "window_eligible_from",
    "window_eligible",
    "reoffended_in_window",
    "n_offences_in_window",
    "days_to_first",
    "duration_days",
    "event",
]
#: Columns the survival analyses and Cox models need: any table with them
#: (for example a matched sample) can be analysed.
SURVIVAL_COLUMNS: tuple[str, ...] = ("duration_days", "event")

_ATTR = "reoffending_definition"
_PROOF_ATTR = "reoffending_proof_applied"


@dataclass(frozen=True)
class ReoffendingDefinition:
    """The proven-reoffending measure: which offences, from when, for how long.

    Attributes
    ----------
    event_types
        Event types that count as reoffences. Default: ``dv_offence``,
        ``violent_offence``, ``other_offence``. ``order_breach`` is refused
        with a :class:`~cdanalytics.errors.ConfigError`: breaches of order
        conditions are never reoffences.
    index
        Start of follow-up for programme rows: ``"index_date"`` (default: the
        row's ``index_date``, else its ``start_date``), ``"start_date"``,
        ``"referral_date"`` or ``"end_date"``. Comparison rows
        (``group == "comparison"``) have no programme dates and always use
        their ``index_date``.
    window_months
        Length of the fixed window in calendar months (default 12; 24 for
        the two-year measure). An offence counts when committed on or after
        the index date and before ``index + window_months``.
    waiting_months
        Extra calendar months allowed for the offence to be proven (default
        6). It applies when proof dates are used (see ``require_proof``): the
        offence must be proven before ``index + window_months +
        waiting_months``.
    require_proof
        ``None`` (default): use proof dates when the export has any
        ``proven_date``; then an offence without a ``proven_date`` is not
        (yet) proven and does not count. ``True``: always require proof.
        ``False``: count offences by ``event_date`` alone, with no waiting
        period.
    violent_only
        Count only the violent types in ``violent_event_types`` (among
        ``event_types``): the violent-only variant.
    violent_event_types
        Event types that are violent offences. Default ``dv_offence`` and
        ``violent_offence`` (domestic-abuse offences are counted as violence
        against the person); override when a site records non-violent
        domestic-abuse offences under ``dv_offence``.
    seriousness
        ``None`` (default) or ``"general"``: every offence counts, whatever
        its seriousness (general reoffending); ``"serious"``: only offences
        recorded as serious or very serious; ``"very_serious"``: only very
        serious ones (the WODC Recidivemonitor's variants, on the events'
        ``seriousness`` column). Offences with no recorded seriousness do not
        count under the last two (a :class:`~cdanalytics.errors.DataQualityWarning`
        says how many).
    disposal
        ``None`` (default): any disposal, or none. A disposal or several
        (``"custody"``, ``("custody", "community_sentence")``): only offences
        disposed of so count, for example ``disposal="custody"`` for
        "reoffending leading to custody" (the events' ``disposal`` column).

    Notes
    -----
    Months are calendar months added with :class:`pandas.DateOffset`, so a
    12-month window is 365 or 366 days, and an index date of 31 January plus
    one month is 28 (or 29) February.
    """

    event_types: tuple[str, ...] = COUNTABLE_EVENT_TYPES
    index: Literal["index_date", "start_date", "referral_date", "end_date"] = "index_date"
    window_months: int = 12
    waiting_months: int = 6
    require_proof: bool | None = None
    violent_only: bool = False
    violent_event_types: tuple[str, ...] = ("dv_offence", "violent_offence")
    seriousness: Literal["general", "serious", "very_serious"] | None = None
    disposal: str | tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("event_types", "violent_event_types"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(value))
            _check_event_types(name, getattr(self, name))
        if not self.event_types:
            raise ConfigError("event_types is empty: name at least one offence type to count.")
        if self.index not in INDEX_OPTIONS:
            raise ConfigError(f"index {self.index!r} is not one of {', '.join(INDEX_OPTIONS)}.")
        for name, minimum in (("window_months", 1), ("waiting_months", 0)):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | np.integer)
                or value < minimum
            ):
                raise ConfigError(f"{name} must be a whole number of months >= {minimum}.")
        if self.require_proof not in (None, True, False):
            raise ConfigError("require_proof must be None, True or False.")
        if self.seriousness is not None and self.seriousness not in SERIOUSNESS_LEVELS:
            raise ConfigError(
                f"seriousness {self.seriousness!r} is not one of {', '.join(SERIOUSNESS_LEVELS)}."
            )
        if self.disposal is not None:
            disposal = (self.disposal,) if isinstance(self.disposal, str) else tuple(self.disposal)
            unknown = [d for d in disposal if d not in DISPOSALS]
            if not disposal or unknown:
                raise ConfigError(
                    f"disposal must name one or more of {', '.join(DISPOSALS)}"
                    + (f"; unknown: {', '.join(map(repr, unknown))}." if unknown else ".")
                )
            object.__setattr__(self, "disposal", disposal)
        if self.violent_only and not self.counted_event_types:
            raise ConfigError(
                "violent_only: none of event_types is in violent_event_types, so nothing counts."
            )

    @property
    def counted_event_types(self) -> tuple[str, ...]:
        """Event types that count under this definition."""
        if self.violent_only:
            return tuple(t for t in self.event_types if t in self.violent_event_types)
        return self.event_types

    @property
    def counted_seriousness(self) -> tuple[str, ...] | None:
        """Seriousness levels that count (``None``: any, recorded or not)."""
        if self.seriousness in (None, "general"):
            return None
        return SERIOUSNESS_LEVELS[SERIOUSNESS_LEVELS.index(self.seriousness) :]

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> ReoffendingDefinition:
        """The definition from the evaluation config's ``reoffending`` section.

        Keys that are not fields of the definition (``horizons_months``,
        ``cox_covariates``, ``matching``) are ignored.
        """
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in section.items() if k in names})


def _check_event_types(name: str, types: Sequence[str]) -> None:
    breaches = [t for t in types if t in NEVER_COUNTED]
    if breaches:
        raise ConfigError(
            f"{name}: breaches of order conditions ({', '.join(breaches)}) never count as "
            "reoffences (Ministry of Justice proven-reoffending definition)."
        )
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise ConfigError(
            f"{name}: unknown event type(s) {', '.join(map(repr, unknown))}; "
            f"the export contract allows {', '.join(EVENT_TYPES)}."
        )


def person_outcomes(
    export: Export, definition: ReoffendingDefinition | None = None
) -> pd.DataFrame:
    """One row per participant with the reoffending outcomes of ``definition``.

    Parameters
    ----------
    export
        A loaded export.
    definition
        The reoffending measure; default :class:`ReoffendingDefinition()`.

    Returns
    -------
    pandas.DataFrame
        Every participant column, in the participants table's row order, with
        ``index_date`` replaced by the index date used, followed by
        :data:`OUTCOME_COLUMNS`:

        ``observation_end``
            End of observation: the earlier of ``followup_end`` and the
            manifest's ``extract_date``.
        ``in_cohort``
            The person has an index date on or before ``observation_end``
            (people who never started have none and are followed up for
            nothing). Every other outcome is missing when False.
        ``window_end``
            ``index_date + window_months`` (exclusive end of the window).
        ``window_eligible_from``
            ``index_date + (window_months + waiting_months)`` when proof dates
            are used, else ``window_end``.
        ``window_eligible``
            ``window_eligible_from <= observation_end``: the fixed window and
            its waiting period are over. People in the cohort who are not
            eligible are "not yet eligible".
        ``reoffended_in_window`` (nullable boolean), ``n_offences_in_window`` (``Int64``)
            Whether / how many counted offences were committed in
            ``[index_date, window_end)`` and (with proof) proven before
            ``window_eligible_from``. Missing unless ``window_eligible``.
        ``days_to_first`` (``Int64``)
            Days from the index date to the first such offence; missing for
            non-reoffenders and people not eligible.
        ``duration_days`` (float), ``event`` (nullable boolean)
            Time-to-event data for survival analysis: days from the index date
            to the first counted offence committed on or after it, or to
            ``observation_end`` (censored, ``event`` False). With proof dates
            an offence counts here only if proven by ``observation_end``, and
            it is dated by its ``event_date`` (offence date, as the WODC
            Recidivemonitor does). Offences committed shortly before the
            extract are therefore undercounted while awaiting proof; the
            fixed-window measure's waiting period avoids this.

        ``attrs`` holds the definition and whether proof dates were used.

    Raises
    ------
    AnalysisError
        Duplicate participant ids, or events of counted types for unknown
        participants or without an ``event_date``.
    """
    definition = definition or ReoffendingDefinition()
    participants = export.participants
    events = export.events
    if not participants["participant_id"].is_unique:
        raise AnalysisError("participants: participant_id is not unique.")
    extract = pd.Timestamp(export.extract_date)
    index = _index_dates(participants, definition)
    followup_end = participants["followup_end"]
    observation_end = followup_end.where(followup_end < extract, extract)
    in_cohort = (index.notna() & (index <= observation_end)).to_numpy()
    _warn_late_index(index, observation_end)

    proof = definition.require_proof
    if proof is None:
        proof = bool(events["proven_date"].notna().any())
    window_end = index + pd.DateOffset(months=definition.window_months)
    eligible_from = (
        index + pd.DateOffset(months=definition.window_months + definition.waiting_months)
        if proof
        else window_end
    )
    eligible = in_cohort & (eligible_from <= observation_end).to_numpy()

    index_day = day_numbers(index)
    end_day = day_numbers(observation_end)
    window_day = day_numbers(window_end)
    eligible_day = day_numbers(eligible_from)

    chosen = _counted_mask(events, definition)
    counted = events[chosen]
    # rows of participants: the export's one lookup of the identifiers, not a new hash
    pos = export.participant_rows("events")[chosen]
    if (pos < 0).any():
        raise AnalysisError(
            f"events: {(pos < 0).sum()} counted event(s) name participants missing from "
            "the participants table."
        )
    event_day = day_numbers(counted["event_date"])
    if np.isnan(event_day).any():
        raise AnalysisError("events: counted events without an event_date.")
    proven_day = day_numbers(counted["proven_date"])
    on_or_after = in_cohort[pos] & (event_day >= index_day[pos])
    # NaN comparisons are False: unproven offences never count when proof is used.
    in_survival = on_or_after & (event_day <= end_day[pos])
    in_window = on_or_after & eligible[pos] & (event_day < window_day[pos])
    if proof:
        in_survival &= proven_day <= end_day[pos]
        in_window &= proven_day < eligible_day[pos]

    n = len(participants)
    n_window = np.bincount(pos[in_window], minlength=n)
    first_window = _first_day(pos[in_window], event_day[in_window], n)
    first_event = _first_day(pos[in_survival], event_day[in_survival], n)
    has_event = ~np.isnan(first_event)

    # copy-on-write (pandas 3): the columns added below never reach the export's
    # table, and its own columns are shared rather than copied
    out = participants.copy(deep=False)
    out["index_date"] = index
    out["observation_end"] = observation_end
    out["in_cohort"] = in_cohort
    out["window_end"] = window_end.where(in_cohort)
    out["window_eligible_from"] = eligible_from.where(in_cohort)
    out["window_eligible"] = eligible
    out["reoffended_in_window"] = pd.array(n_window > 0, dtype="boolean")
    out["n_offences_in_window"] = pd.array(n_window, dtype="Int64")
    out["days_to_first"] = pd.array(first_window - index_day, dtype="Int64")
    for column in ("reoffended_in_window", "n_offences_in_window", "days_to_first"):
        out[column] = out[column].mask(~eligible)
    out["duration_days"] = np.where(
        in_cohort, np.where(has_event, first_event, end_day) - index_day, np.nan
    )
    out["event"] = pd.array(has_event, dtype="boolean")
    out["event"] = out["event"].mask(~in_cohort)
    out.attrs[_ATTR] = definition
    out.attrs[_PROOF_ATTR] = proof
    return out


def _counted_mask(events: pd.DataFrame, definition: ReoffendingDefinition) -> np.ndarray:
    """Which events are of the counted types, seriousness and disposals (boolean array).

    Raises
    ------
    AnalysisError
        The definition selects on seriousness or disposal but no event of a
        counted type records one.
    """
    chosen = events["event_type"].isin(definition.counted_event_types).to_numpy(dtype=bool)
    selections = (
        ("seriousness", definition.counted_seriousness),
        ("disposal", definition.disposal),
    )
    for column, values in selections:
        if values is None:
            continue
        n_counted = int(chosen.sum())
        if column in events:
            recorded = events[column].notna().to_numpy(dtype=bool)
            picked = events[column].isin(list(values)).to_numpy(dtype=bool)
        else:
            recorded = picked = np.zeros(len(events), dtype=bool)
        unrecorded = int((chosen & ~recorded).sum())
        if n_counted and unrecorded == n_counted:
            raise AnalysisError(
                f"the definition selects on {column} ({', '.join(values)}), but no offence "
                f"in the events records a {column}."
            )
        if unrecorded:
            warnings.warn(
                f"{unrecorded} of {n_counted} offences have no {column} recorded; they do "
                f"not count as {' or '.join(values)}.",
                DataQualityWarning,
                stacklevel=3,
            )
        chosen = chosen & picked
    return chosen


def _index_dates(participants: pd.DataFrame, definition: ReoffendingDefinition) -> pd.Series:
    """The index date of each row under ``definition.index`` (see its docstring)."""
    own = participants["index_date"]
    if definition.index == "index_date":
        return own.fillna(participants["start_date"])
    comparison = (participants["group"] == "comparison").fillna(False).to_numpy()
    return participants[definition.index].where(~comparison, own)


def _warn_late_index(index: pd.Series, observation_end: pd.Series) -> None:
    late = int((index > observation_end).sum())
    if late:
        log.warning(
            "%d participant(s) have an index date after their end of observation "
            "(followup_end or extract_date); they are outside the reoffending cohort.",
            late,
        )


def _first_day(pos: np.ndarray, day: np.ndarray, n: int) -> np.ndarray:
    """Earliest ``day`` per position ``pos`` in ``range(n)``; NaN where none."""
    first = np.full(n, np.inf)
    np.minimum.at(first, pos, day)
    first[np.isinf(first)] = np.nan
    return first


def resolve_outcomes(
    data: Export | pd.DataFrame,
    definition: ReoffendingDefinition | None = None,
    required: Sequence[str] = OUTCOME_COLUMNS,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """People in the cohort, from an export or an outcome table.

    ``columns``: keep only these columns (and the ``required`` ones), so
    that leaving out the people outside the cohort copies no others.

    An export goes through :func:`person_outcomes`. A table is used as it is
    (it may be a subset, for example a matched sample) when it has the
    ``required`` columns; ``definition`` must then be ``None`` or the one it
    was made with. Rows with ``in_cohort`` False are left out (they have no
    follow-up); a table without ``in_cohort`` is taken as all in the cohort.

    Raises
    ------
    ConfigError
        Neither an export nor a table with the required columns, or a
        definition that differs from the table's.
    AnalysisError
        Rows in the cohort with missing or negative ``duration_days`` or
        missing ``event``, when these are required.
    """
    if isinstance(data, Export):
        outcomes = person_outcomes(data, definition)
    elif isinstance(data, pd.DataFrame):
        missing = [c for c in required if c not in data.columns]
        if missing:
            raise ConfigError(
                f"the table lacks column(s) {', '.join(missing)}: pass an Export or the "
                "table returned by person_outcomes."
            )
        made_with = data.attrs.get(_ATTR)
        if definition is not None and definition != made_with:
            raise ConfigError(
                "definition differs from the one the outcome table was made with; call "
                "person_outcomes(export, definition) again instead."
            )
        outcomes = data
    else:
        raise ConfigError(
            f"expected an Export or the table from person_outcomes, got {type(data).__name__}."
        )
    if columns is not None:
        unknown = [c for c in columns if c not in outcomes.columns]
        if unknown:  # the callers' own messages name them
            columns = [c for c in columns if c not in unknown]
        keep = list(dict.fromkeys([*columns, *required, "in_cohort"]))
        outcomes = outcomes[[c for c in keep if c in outcomes.columns]]
    if "in_cohort" in outcomes.columns:
        in_cohort = outcomes["in_cohort"].to_numpy(dtype=bool)
        if not in_cohort.all():
            outcomes = outcomes.loc[in_cohort]
    survival = [c for c in ("duration_days", "event") if c in required]
    gaps = outcomes[survival].isna().any(axis=1)
    if gaps.any():
        raise AnalysisError(f"{int(gaps.sum())} row(s) in the cohort lack duration_days or event.")
    if "duration_days" in survival and (outcomes["duration_days"] < 0).any():
        raise AnalysisError("duration_days must not be negative (follow-up ends before it starts).")
    return outcomes
