"""Reoffending and safety events, and early ends of follow-up."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._params import EVENT_TYPES, RISK_LEVELS
from ._people import NA_DAY, People, categorical
from ._plan import Plan
from ._sessions import Episodes

__all__ = ["Events", "draw_events", "draw_followup_end", "event_sources"]

DAYS_PER_YEAR = 365.25


@dataclass
class Events:
    """Event rows: participant index, type code, event day, proven day, source code."""

    person: np.ndarray
    type: np.ndarray
    day: np.ndarray
    proven: np.ndarray
    source: np.ndarray


def event_sources(plan: Plan) -> list[str]:
    """Source labels, in code order."""
    return sorted(set(plan.params["reoffending"]["sources"].values()))


def anchor_days(people: People) -> np.ndarray:
    """Start of follow-up: start_date for starters, index_date for comparison rows,
    referral_date for everyone else."""
    return np.where(
        people.started, people.start, np.where(people.comparison, people.index, people.referral)
    )


def draw_followup_end(
    rng: np.random.Generator,
    plan: Plan,
    people: People,
    episodes: Episodes,
    last_measure: np.ndarray,
    extract: int,
) -> np.ndarray:
    """followup_end for a share of concluded starters and comparison rows.

    Uniform between the person's last recorded activity (index date, or the
    latest of end_date, session and measure dates) and the extract date.
    """
    p = float(plan.params["reoffending"]["p_followup_end"])
    concluded = people.started & (episodes.end != NA_DAY)
    chosen = (concluded | people.comparison) & (rng.random(people.n) < p)
    anchor = np.maximum.reduce(
        [anchor_days(people), episodes.end, episodes.last_session, last_measure]
    )
    anchor = np.where(chosen, anchor, extract)
    return np.where(
        chosen,
        anchor + np.floor(rng.random(people.n) * (extract - anchor + 1)).astype(np.int64),
        NA_DAY,
    )


def _poisson_times(rng: np.random.Generator, rate_per_day: np.ndarray, duration: np.ndarray):
    """Points of a Poisson process on (0, duration] per person: (person, time)."""
    count = rng.poisson(rate_per_day * duration)
    person = np.repeat(np.arange(count.size), count)
    return person, (1.0 - rng.random(person.size)) * duration[person]


def _delay(rng: np.random.Generator, size: int, delay: dict) -> np.ndarray:
    return float(delay["median_days"]) * np.exp(float(delay["sdlog"]) * rng.standard_normal(size))


def draw_events(
    rng: np.random.Generator, plan: Plan, people: People, followup_end: np.ndarray, extract: int
) -> Events:
    """Offences (a recurrent Poisson process), non-counting events and pre-index events."""
    reoff = plan.params["reoffending"]
    anchor = anchor_days(people)
    obs_end = np.where(followup_end == NA_DAY, extract, followup_end)
    duration = (obs_end - anchor).astype(float)
    hr_risk = np.array([reoff["hr_risk"][r] for r in RISK_LEVELS])[people.risk]
    untreated = (
        reoff["baseline_hazard_per_year"]
        * hr_risk
        * float(reoff["hr_prior_offence"]) ** people.prior
    )
    hr = np.where(people.started, plan.hr_programme[people.prog], 1.0)
    rate = untreated * hr / DAYS_PER_YEAR
    offence_p = np.array([[reoff["offence_type_probabilities"].get(t, 0.0) for t in EVENT_TYPES]])

    # offences after the index date
    person, t = _poisson_times(rng, rate, duration)
    o_type = categorical(rng, np.zeros(person.size, dtype=np.int64), offence_p)
    o_day = anchor[person] + np.ceil(t).astype(np.int64)
    proven = rng.random(person.size) < float(reoff["p_proven"])
    o_proven = anchor[person] + np.ceil(t + _delay(rng, person.size, reoff["proof_delay"])).astype(
        np.int64
    )
    o_proven = np.where(proven & (o_proven <= obs_end[person]), o_proven, NA_DAY)

    # offences in the window before the index date (never counted)
    window = float(reoff["pre_index_window_days"])
    b_person, b_t = _poisson_times(rng, untreated / DAYS_PER_YEAR, np.full(people.n, window))
    b_type = categorical(rng, np.zeros(b_person.size, dtype=np.int64), offence_p)
    b_day = anchor[b_person] - np.ceil(b_t).astype(np.int64)
    b_proven_flag = rng.random(b_person.size) < float(reoff["p_proven"])
    b_proven = anchor[b_person] + np.ceil(
        _delay(rng, b_person.size, reoff["proof_delay"]) - b_t
    ).astype(np.int64)
    b_proven = np.where(b_proven_flag & (b_proven <= obs_end[b_person]), b_proven, NA_DAY)

    # events that are not reoffences
    parts = [(person, o_type, o_day, o_proven), (b_person, b_type, b_day, b_proven)]
    for name, per_year in reoff["non_counting_rate_per_year"].items():
        c_person, c_t = _poisson_times(
            rng, np.full(people.n, float(per_year) / DAYS_PER_YEAR), duration
        )
        c_day = anchor[c_person] + np.ceil(c_t).astype(np.int64)
        c_proven = np.full(c_person.size, NA_DAY, dtype=np.int64)
        if name == "order_breach":
            flag = rng.random(c_person.size) < float(reoff["p_breach_proven"])
            c_proven = c_day + np.ceil(_delay(rng, c_person.size, reoff["proof_delay"])).astype(
                np.int64
            )
            c_proven = np.where(flag & (c_proven <= obs_end[c_person]), c_proven, NA_DAY)
        parts.append(
            (
                c_person,
                np.full(c_person.size, EVENT_TYPES.index(name), dtype=np.int16),
                c_day,
                c_proven,
            )
        )

    e_person = np.concatenate([p[0] for p in parts])
    e_type = np.concatenate([p[1] for p in parts]).astype(np.int16)
    e_day = np.concatenate([p[2] for p in parts])
    e_proven = np.concatenate([p[3] for p in parts])
    order = np.lexsort((e_type, e_day, e_person))
    e_person, e_type, e_day, e_proven = (
        e_person[order],
        e_type[order],
        e_day[order],
        e_proven[order],
    )

    sources = event_sources(plan)
    src = reoff["sources"]
    country = np.array(
        [sources.index(src[plan.params["site_country"].get(site, "nl")]) for site in plan.sites]
    )[people.site[e_person]]
    special = {EVENT_TYPES.index(k): sources.index(v) for k, v in src.items() if k in EVENT_TYPES}
    source = country.copy()
    for code, label in special.items():
        source[e_type == code] = label
    return Events(
        person=e_person, type=e_type, day=e_day, proven=e_proven, source=source.astype(np.int16)
    )
