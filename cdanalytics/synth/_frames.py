"""Assemble the generated arrays into the four tables of an :class:`Export`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..io.export import Export, Manifest
from ._events import Events, event_sources
from ._measures import Measures, Slot
from ._params import (
    AGE_BANDS,
    ATTENDANCE,
    EVALUATION_OUTCOMES,
    EVENT_TYPES,
    EXIT_STATUSES,
    INFORMANTS,
    LEGAL_FRAMEWORKS,
    REFERRAL_SOURCES,
    RISK_LEVELS,
    SESSION_TYPES,
    TIMEPOINTS,
)
from ._people import NA_DAY, People
from ._plan import Plan
from ._sessions import Episodes, exit_reason_categories

__all__ = ["build_export", "participant_ids"]


def participant_ids(n: int) -> pa.Array:
    """Pseudonymous identifiers P0000001, P0000002, ... (at least 7 digits)."""
    width = max(7, len(str(n)))
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width, "0")
    return pc.binary_join_element_wise("P", digits, "")


def _dates(days: np.ndarray) -> pd.Series:
    out = np.where(days == NA_DAY, np.iinfo(np.int64).min, days).astype("datetime64[D]")
    return pd.Series(out.astype("datetime64[s]"))


def _cat(codes: np.ndarray, categories, ordered: bool = False) -> pd.Categorical:
    return pd.Categorical.from_codes(
        np.asarray(codes, dtype=np.int64), categories=list(categories), ordered=ordered
    )


def _ids(ids: pa.Array, person: np.ndarray) -> pd.Series:
    return pd.Series(pd.array(ids.take(pa.array(person)), dtype="str"))


def _participants(
    plan: Plan, ids: pa.Array, people: People, episodes: Episodes, followup_end: np.ndarray
) -> pd.DataFrame:
    n = people.n
    comp = people.comparison
    cohort_years = np.unique(people.cohort_year)
    cohort = np.searchsorted(cohort_years, people.cohort_year)
    flags = {}
    for name in ("assessed", "eligible"):
        value = getattr(people, name)
        flags[name] = pd.arrays.BooleanArray(value == 1, value < 0)
    return pd.DataFrame(
        {
            "participant_id": _ids(ids, np.arange(n)),
            "programme": _cat(people.prog, plan.programmes),
            "site": _cat(people.site, plan.sites),
            "group": _cat(comp.astype(np.int64), ["programme", "comparison"]),
            "cohort": _cat(cohort, [str(y) for y in cohort_years]),
            "referral_date": _dates(people.referral),
            "referral_source": _cat(people.source, REFERRAL_SOURCES),
            "legal_framework": _cat(people.framework, LEGAL_FRAMEWORKS),
            "assessed": flags["assessed"],
            "eligible": flags["eligible"],
            "exclusion_reason": _cat(people.exclusion, plan.exclusion_reasons),
            "start_date": _dates(people.start),
            "end_date": _dates(episodes.end),
            "exit_status": _cat(episodes.recorded, EXIT_STATUSES),
            "exit_reason": _cat(episodes.reason, exit_reason_categories(plan)),
            "index_date": _dates(people.index),
            "followup_end": _dates(followup_end),
            "age_band": _cat(people.age, AGE_BANDS),
            "ethnicity_group": _cat(people.ethnicity, plan.ethnicities),
            "risk_level": _cat(people.risk, RISK_LEVELS, ordered=True),
            "prior_offences": pd.array(people.prior, dtype="Int64"),
            "n_children": pd.array(people.children, dtype="Int64"),
            **(
                {}
                if episodes.evaluation is None
                else {"evaluation_outcome": _cat(episodes.evaluation, EVALUATION_OUTCOMES)}
            ),
        }
    )


def build_export(
    plan: Plan,
    people: People,
    episodes: Episodes,
    measures: Measures,
    slots: list[Slot],
    events: Events,
    followup_end: np.ndarray,
    extract: pd.Timestamp,
    description: str,
) -> Export:
    """The generated data as an in-memory :class:`Export` (dtypes as the loader makes them)."""
    ids = participant_ids(people.n)
    sessions = pd.DataFrame(
        {
            "participant_id": _ids(ids, episodes.s_person),
            "session_type": _cat(episodes.s_type, SESSION_TYPES),
            "session_number": pd.array(episodes.s_number.astype(np.int64), dtype="Int64"),
            "session_date": _dates(episodes.s_day),
            "attendance": _cat(episodes.s_attendance, ATTENDANCE),
        }
    )
    scales = sorted({s.scale for s in slots})
    measure_frame = pd.DataFrame(
        {
            "participant_id": _ids(ids, measures.person),
            "instrument": _cat(
                np.array([list(plan.instruments).index(s.instrument) for s in slots])[
                    measures.slot
                ],
                list(plan.instruments),
            ),
            "scale": _cat(np.array([scales.index(s.scale) for s in slots])[measures.slot], scales),
            "informant": _cat(
                np.array([INFORMANTS.index(s.informant) for s in slots])[measures.slot], INFORMANTS
            ),
            "timepoint": _cat(measures.timepoint, TIMEPOINTS, ordered=True),
            "measured_on": _dates(measures.day),
            "score": measures.score.astype(np.float64),
        }
    )
    if measures.subject is not None:
        # pseudonymous child ids: "<participant>-C<k>", empty for a measure about no child
        pid = measure_frame["participant_id"].astype("str")
        child = pd.Series(measures.subject, dtype="int64")
        measure_frame["subject_id"] = (pid + "-C" + child.astype("str")).where(child > 0)
    event_frame = pd.DataFrame(
        {
            "participant_id": _ids(ids, events.person),
            "event_date": _dates(events.day),
            "event_type": _cat(events.type, EVENT_TYPES),
            "proven_date": _dates(events.proven),
            "source": _cat(events.source, event_sources(plan)),
        }
    )
    return Export(
        participants=_participants(plan, ids, people, episodes, followup_end),
        sessions=sessions,
        measures=measure_frame,
        events=event_frame,
        manifest=Manifest(
            extract_date=extract,
            schema_version=1,
            source_system="cdanalytics synth",
            description=description,
        ),
    )
