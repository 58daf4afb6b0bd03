"""Review sessions and the evaluation meeting: who came back, when, and what it concluded.

Caring Dads ends with two review sessions, the second about five months after
the last group session, and a formal evaluation meeting with child
protection and the parents; the Caledonian System's maintenance sessions are
review sessions too. A programme has review sessions when its registry entry
says so (``review.count`` above 0).

Definitions
-----------
Due for review
    A participant whose exit status used is ``completed`` (only completers
    are offered reviews) and whose last attended core session lies at least
    ``review.window_days`` before the extract date, so every review could
    have taken place.
Review k
    The participant's k-th session of type ``review`` in order of
    ``session_date`` then ``session_number``; attended when its attendance
    is ``attended``.
Timing
    Days from the last attended core session (the last group session for a
    group programme) to the attended review.
Evaluation outcome
    The ``evaluation_outcome`` column of participants (``positive``,
    ``concerns``, ``not_held``); empty is ``not_recorded``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._dates import day_numbers
from .._groups import group_by
from .._lookup import codes_in
from ..io.export import Export
from ..io.schema import contract_values
from ._blocks import block_codes, participant_blocks
from ._family import (
    add_rate,
    episode_lookup,
    facts_for,
    family_docs,
    grouping,
    prepared_from,
)
from ._prepare import EngagementData, contract_column
from ._sessions import _ATTENDANCE, _SESSION_TYPES, _sequence_order

__all__ = ["EVALUATION_OUTCOMES", "evaluation_outcomes", "review_attendance", "review_facts"]

By = str | Sequence[str] | None
#: Outcomes of the evaluation meeting in the contract, then ``not_recorded``.
EVALUATION_OUTCOMES: tuple[str, ...] = (
    *contract_values("participants", "evaluation_outcome"),
    "not_recorded",
)


@family_docs
def review_facts(
    export: Export,
    *,
    programmes: Mapping[str, Any] | None = None,
    prepared: EngagementData | None = None,
) -> pd.DataFrame:
    """One row per completer and review session of a programme with reviews.

    Parameters
    ----------
    {export}
    {programmes}
    {prepared}

    Returns
    -------
    DataFrame
        ``participant_id, programme, review`` (1..``review.count``),
        ``due`` (due for review, see the module docstring), ``attended``
        (bool), ``days_after_core`` (days from the last attended core session
        to the review when attended, else NaN), ``evaluation_outcome``; one
        row per completer of a programme with review sessions and per review
        number, whether or not a session was recorded. Reviews beyond the
        registry's count are left out.
    """
    prepared = prepared_from(export, programmes, prepared)
    ep = prepared.episodes
    registry = prepared.registry
    known = list(registry)
    prog = codes_in(ep["programme"], known)
    reviews = [registry[c].get("review") or {} for c in known]
    count_of = np.array([int(r.get("count", 0)) for r in reviews] + [0], dtype=np.int64)
    window_of = np.array([float(r.get("window_days", 0)) for r in reviews] + [0.0])
    n_reviews, window = count_of[prog], window_of[prog]  # code -1 (no programme): the 0 at the end
    codes = ep["programme"].array
    completer = (ep["exit_status_used"] == "completed").to_numpy() & (n_reviews > 0)

    last_core, owner, rev_day, rev_attended = _review_sessions(export, len(ep))
    counts = np.bincount(owner, minlength=len(ep))
    position = np.arange(len(owner)) - (np.cumsum(counts) - counts)[owner] + 1

    # one slot per completer and review number, in that order: the rows of the result
    slots_per = np.where(completer, n_reviews, 0)
    first_slot = np.cumsum(slots_per) - slots_per
    person = np.repeat(np.arange(len(ep)), slots_per)
    review = np.arange(len(person)) - first_slot[person] + 1
    keep = (position <= n_reviews[owner]) & completer[owner]
    slot = first_slot[owner[keep]] + position[keep] - 1
    slot_att = np.zeros(len(person), dtype=bool)
    slot_day = np.full(len(person), np.nan)
    slot_att[slot] = rev_attended[keep]
    slot_day[slot] = np.where(rev_attended[keep], rev_day[keep], np.nan)
    extract = day_numbers(pd.Series([prepared.extract_date]))[0]
    due = last_core + window <= extract
    # the outcome's labels, shared by the rows (not a text object per episode)
    outcome = pd.Categorical(contract_column(ep, "evaluation_outcome"))
    labels = np.array([*outcome.categories, "not_recorded"], dtype=object)  # code -1: last
    out = pd.DataFrame(
        {
            "participant_id": ep["participant_id"].array.take(person),
            "programme": codes.take(person),
            "review": review,
            "due": due[person],
            "attended": slot_att,
            "days_after_core": slot_day - last_core[person],
            "evaluation_outcome": labels[np.asarray(outcome.codes)[person]],
        },
        copy=False,  # the arrays are this function's own: no consolidated copy
    )
    out.attrs["episode_row"] = person
    return out


def _review_sessions(
    export: Export, n_episodes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The day of each episode's last attended core session (NaN: none; core is
    every type but review) and the review sessions of programme participants in
    order of episode, date, session number and table row: their episode row, day
    and whether attended.

    The sessions are read in blocks of whole participants
    (:func:`._blocks.participant_blocks`), so the days, codes and masks of
    every session are made a block at a time.
    """
    sessions = export.sessions
    rows, episode = episode_lookup(export, "sessions")
    type_code = block_codes(sessions["session_type"], _SESSION_TYPES, "sessions.session_type")
    attendance = block_codes(sessions["attendance"], _ATTENDANCE, "sessions.attendance")
    review = _SESSION_TYPES.index("review")
    dates = sessions["session_date"].to_numpy()
    if dates.dtype.kind != "M":  # text or objects: converted once, not per block
        dates = day_numbers(sessions["session_date"])
    numbers = sessions["session_number"].array
    last_core = np.full(n_episodes, -np.inf)
    parts: list[tuple[np.ndarray, ...]] = []
    for block in participant_blocks(rows):
        pidx = episode[rows[block]]
        is_review = type_code(block) == review
        attended = attendance(block) == 0
        day = dates[block]
        if day.dtype.kind == "M":
            day = day_numbers(day)
        core = np.flatnonzero((pidx >= 0) & ~is_review & attended & ~np.isnan(day))
        if len(core):  # the block's episodes come in order: the latest day of each run
            owner = pidx[core]
            first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
            last_core[owner[first]] = np.maximum.reduceat(day[core], first)
            del owner, first
        rev = np.flatnonzero((pidx >= 0) & is_review)
        number = numbers[block][rev].to_numpy(dtype=float, na_value=np.nan)
        parts.append((pidx[rev], day[rev], number, attended[rev]))
        del pidx, is_review, attended, day, core, rev, number  # before the next block's
    last_core[np.isneginf(last_core)] = np.nan
    if parts:
        owner, day, number, attended = (np.concatenate(c) for c in zip(*parts, strict=True))
    else:
        owner, day, number = (np.zeros(0, dtype=episode.dtype), np.zeros(0), np.zeros(0))
        attended = np.zeros(0, dtype=bool)
    order = _review_order(owner, day, number)
    if order is None:
        return last_core, owner, day, attended
    return last_core, owner[order], day[order], attended[order]


def _review_order(owner: np.ndarray, day: np.ndarray, number: np.ndarray) -> np.ndarray | None:
    """``np.lexsort((number, day, owner))``, or None when the rows are in that order
    already; whole days and numbers are packed into one key for the check and the
    sort (:func:`._sessions._sequence_order`, the same stable order)."""
    whole = np.isfinite(day).all() and np.isfinite(number).all()
    if not whole or not ((day == np.floor(day)).all() and (number == np.floor(number)).all()):
        return np.lexsort((number, day, owner))
    days, numbers = day.astype(np.int64), number.astype(np.int64)
    return _sequence_order(owner, days, np.zeros(len(owner), dtype=np.int8), numbers)


def _with_keys(facts: pd.DataFrame, prepared: EngagementData, keys: list[str]) -> pd.DataFrame:
    ep = prepared.episodes
    extra = [k for k in keys if k != "programme"]
    if not extra:
        return facts
    lookup = ep.set_index("participant_id")[extra]
    return facts.join(lookup, on="participant_id")


@family_docs
def review_attendance(
    export: Export,
    by: By = "programme",
    *,
    programmes: Mapping[str, Any] | None = None,
    alpha: float = 0.05,
    prepared: EngagementData | None = None,
    facts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Attendance and timing of each review session among completers due for review.

    Parameters
    ----------
    {export}
    {by}
    {programmes}
    {alpha}
    {prepared}
    {facts}

    Returns
    -------
    DataFrame
        One row per programme with review sessions, group and review
        (``1``, ``2``, ... then ``all``): ``programme, <by>..., review,
        n_due, n_attended, attended`` (proportion, n_attended / n_due) with
        ``attended_ci_low`` / ``attended_ci_high``, and the timing of the
        attended reviews in days after the last attended core session:
        ``days_median``, ``days_q1``, ``days_q3`` (NaN when none attended).
        ``all`` counts the people who attended every review.
    """
    prepared = prepared_from(export, programmes, prepared)
    keys = grouping(by, prepared)
    facts, rows = facts_for(facts, prepared, lambda: review_facts(export, prepared=prepared))
    due = facts["due"].to_numpy()
    person = rows[due]
    facts = _with_keys(facts, prepared, keys)[due]
    missed = np.bincount(person[~facts["attended"].to_numpy()], minlength=len(prepared.episodes))
    first = np.r_[True, person[1:] != person[:-1]] if len(person) else np.zeros(0, dtype=bool)
    whole = facts.loc[first].assign(
        review="all", attended=missed[person[first]] == 0, days_after_core=np.nan
    )
    labels = [str(i) for i in range(1, int(facts["review"].max()) + 1)] if len(facts) else []
    long = pd.concat([facts.assign(review=facts["review"].astype(str)), whole])
    long["review"] = pd.Categorical(long["review"], categories=[*labels, "all"], ordered=True)
    long["n_due"] = 1
    grouped = group_by(long, [*keys, "review"])
    out = grouped.agg(n_due=("n_due", "sum"), n_attended=("attended", "sum"))
    days = grouped["days_after_core"]
    out["days_median"] = days.median()
    out["days_q1"] = days.quantile(0.25)
    out["days_q3"] = days.quantile(0.75)
    out = out.reset_index()
    out[["n_due", "n_attended"]] = out[["n_due", "n_attended"]].astype(np.int64)
    add_rate(out, "attended", "n_attended", "n_due", alpha)
    timing = ["days_median", "days_q1", "days_q3"]
    return out[[c for c in out.columns if c not in timing] + timing]


@family_docs
def evaluation_outcomes(
    export: Export,
    by: By = "programme",
    *,
    programmes: Mapping[str, Any] | None = None,
    alpha: float = 0.05,
    prepared: EngagementData | None = None,
    facts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """What the evaluation meeting concluded, among completers due for review.

    Parameters
    ----------
    {export}
    {by}
    {programmes}
    {alpha}
    {prepared}
    {facts}

    Returns
    -------
    DataFrame
        One row per programme with review sessions in which some
        participant has a recorded outcome, group and outcome of
        :data:`EVALUATION_OUTCOMES` (every outcome listed, zero counts
        included; empty when no outcome is recorded anywhere): ``programme,
        <by>..., evaluation_outcome, n, n_due, share`` (n / n_due) with
        ``share_ci_low`` / ``share_ci_high`` (Wilson), and
        ``share_recorded`` (n / completers with a recorded outcome; NaN for
        ``not_recorded``).
    """
    prepared = prepared_from(export, programmes, prepared)
    keys = grouping(by, prepared)
    facts = facts_for(facts, prepared, lambda: review_facts(export, prepared=prepared))[0]
    facts = _with_keys(facts, prepared, keys)
    people = facts[(facts["review"] == 1).to_numpy() & facts["due"].to_numpy()]
    with_meeting = people.loc[people["evaluation_outcome"] != "not_recorded", "programme"].unique()
    people = people[people["programme"].isin(with_meeting).to_numpy()]
    people = people.assign(
        evaluation_outcome=pd.Categorical(
            people["evaluation_outcome"], categories=list(EVALUATION_OUTCOMES)
        )
    )
    counts = (
        people.groupby([*keys, "evaluation_outcome"], observed=False, dropna=False)
        .size()
        .rename("n")
        .reset_index()
    )
    totals = people.groupby(keys, observed=True, dropna=False).size().rename("n_due")
    counts = counts.merge(totals.reset_index(), on=keys, how="inner")
    recorded = counts["evaluation_outcome"] != "not_recorded"
    n_recorded = (
        counts.assign(r=np.where(recorded, counts["n"], 0)).groupby(keys, dropna=False)["r"]
    ).transform("sum")
    add_rate(counts, "share", "n", "n_due", alpha)
    k = counts["n"].to_numpy(dtype=float)
    base = n_recorded.to_numpy(dtype=float)
    counts["share_recorded"] = np.where(
        recorded & (base > 0), k / np.where(base > 0, base, 1.0), np.nan
    )
    counts[["n", "n_due"]] = counts[["n", "n_due"]].astype(np.int64)
    return counts.reset_index(drop=True)
