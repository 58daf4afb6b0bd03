"""Completion stage by stage, and the whole programme defined from the stages.

The stages of each programme come from the registry (see
:mod:`cdanalytics.stages`): the Caledonian System's pre-group, group and
maintenance stages, BORG's group and individual strands, Caring Dads' group
and review stages; a programme without stages has one stage, ``core``.

Definitions
-----------
Stage sessions
    A participant's sessions whose ``session_type`` the stage lists, in the
    order of ``session_date`` then ``session_number``; position 1 is the first
    of them. The stage's last session is position ``n_sessions``.
Entered
    At least one session of the stage attended.
Completed
    At least ``n_needed = ceil(min_share * n_sessions)`` sessions of the stage
    attended and, when the stage's rule says so, its last session attended.
Potential completer of a stage
    A starter whose start lies at least ``potential_after_days`` before the
    extract date or (with ``closed_cases``) whose case is closed without
    completing (an ``end_date`` or a final exit status, other than
    ``completed``: a man who completed the core sessions may still be in his
    maintenance or review stage), after the Caledonian evaluation (Ipsos MORI
    2016), which counted only orders old enough to have finished.
Reached, progressed
    Stages of the same ``order`` are parallel strands; a stage of order ``L``
    is *reached* by a starter who completed every stage of the orders before
    ``L`` (every starter reaches the stages of the first order), and
    *progressed* through by one who reached it and completed it. The
    transition probability of a stage is progressed / reached.
Whole-programme completion (stage-based)
    Completing every ``required`` stage. Among people with a clear outcome
    (potential completers of every required stage) it equals the product of
    the transitions of the orders computed among those same people, because
    each order's "completed every stage up to here" is a subset of the one
    before (the product telescopes); :func:`programme_completion_from_stages`
    reports both. It can differ from the exit status of
    :mod:`cdanalytics.engagement` (the registry's core completion rule), which
    does not look at maintenance or review stages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._dates import day_numbers
from .._groups import group_by
from .._lookup import codes_in, index_type
from ..errors import ConfigError
from ..io.export import Export
from ..stages import check_stages, stage_table
from ._blocks import block_codes, participant_blocks
from ._family import (
    add_rate,
    episode_lookup,
    family_docs,
    grouping,
    per_stage_row,
    prepared_from,
)
from ._prepare import EngagementData
from ._sessions import _ATTENDANCE, _SESSION_TYPES, _sequence_order
from ._stage_paths import any_by, people_of, stage_paths

__all__ = [
    "PROGRESS_COLUMNS",
    "per_stage_row",
    "programme_codes",
    "programme_completion_from_stages",
    "stage_completion",
    "stage_progress",
]

By = str | Sequence[str] | None

#: Columns of :func:`stage_progress` after the participant id and programme.
PROGRESS_COLUMNS: tuple[str, ...] = (
    "stage",
    "order",
    "required",
    "n_sessions",
    "n_needed",
    "n_scheduled",
    "n_attended",
    "attended_last",
    "entered",
    "completed",
    "reached",
    "progressed",
    "potential_completer",
)


def _stages_of(prepared: EngagementData, present: list[str]) -> pd.DataFrame:
    """Stage table of the programmes in the export, checked against the contract."""
    for code in present:
        check_stages(code, prepared.registry[code], _SESSION_TYPES)
    table = stage_table({code: prepared.registry[code] for code in present})
    table["local"] = table.groupby("programme", sort=False).cumcount()
    return table


@family_docs
def stage_progress(
    export: Export,
    *,
    programmes: Mapping[str, Any] | None = None,
    closed_cases: bool = True,
    prepared: EngagementData | None = None,
) -> pd.DataFrame:
    """Each starter's progress through each stage of their programme.

    Parameters
    ----------
    {export}
    {programmes}
    closed_cases
        Count a case closed without completing as a potential completer of
        every stage before the stage's ``potential_after_days`` have passed.
    {prepared}

    Returns
    -------
    DataFrame
        One row per starter and stage of their programme, in the order of the
        prepared episodes then of the stages: ``participant_id, programme``
        then :data:`PROGRESS_COLUMNS`: ``n_scheduled`` / ``n_attended``
        sessions of the stage recorded / attended, ``attended_last``
        (position ``n_sessions`` attended), ``entered``, ``completed``,
        ``reached``, ``progressed`` and ``potential_completer`` as in the
        module docstring. Booleans are NumPy bool.

    Raises
    ------
    ConfigError
        A stage in the registry is malformed (the message names the key).
    AnalysisError
        Sessions name unknown participants or hold values outside the contract.
    """
    prepared = prepared_from(export, programmes, prepared)
    ep = prepared.episodes
    start_rows = np.flatnonzero(ep["started"].to_numpy(dtype=bool))
    present, prog = programme_codes(ep["programme"])
    table = _stages_of(prepared, present)
    width = int(table["local"].max()) + 1 if len(table) else 1

    # stage_of[programme, session type] -> local stage index (-1: in no stage)
    stage_of = np.full((len(present), len(_SESSION_TYPES)), -1, dtype=np.int16)
    cell = np.full((len(present), width), -1, dtype=np.int64)
    for row in table.itertuples():
        p = present.index(row.programme)
        cell[p, row.local] = row.Index
        for session_type in row.session_types:
            stage_of[p, _SESSION_TYPES.index(session_type)] = row.local

    n_slots = len(ep) * width
    scheduled, n_att, attended_last_of = _slot_counts(
        export, stage_of, prog, _n_at(table, cell), n_slots
    )

    # one row per starter x stage of their programme (its stages are local 0, 1, ...)
    per = (cell >= 0).sum(axis=1)[prog[start_rows]]
    ep_rows = np.repeat(start_rows, per)
    loc = np.arange(len(ep_rows))
    loc -= np.repeat(np.cumsum(per) - per, per)
    stage_row = cell[prog[ep_rows], loc]
    del per

    def column(name: str, dtype: Any = None) -> np.ndarray:  # the stage's value per row
        return table[name].to_numpy(dtype=dtype)[stage_row]

    n_sessions = column("n_sessions", np.int64)
    last_slot = ep_rows * width + loc
    del loc
    attended_last = attended_last_of[last_slot]
    n_attended = n_att[last_slot].astype(np.int64)
    needed = column("n_needed", np.int64)
    completed = (n_attended >= needed) & (attended_last | ~column("require_last", bool))

    extract = day_numbers(pd.Series([prepared.extract_date]))[0]
    start = day_numbers(ep["start"])[ep_rows]
    due = start + column("potential_after_days", float) <= extract
    del start
    left = (
        ep["case_closed"].to_numpy(dtype=bool) & (ep["exit_status_used"] != "completed").to_numpy()
    )
    closed = left[ep_rows] & closed_cases
    stage_order = column("order", np.int64)
    reached, progressed = stage_paths(ep_rows, stage_order, completed)
    out = pd.DataFrame(
        {
            "participant_id": ep["participant_id"].array.take(ep_rows),
            "programme": ep["programme"].array.take(ep_rows),
            "stage": column("stage"),
            "order": stage_order,
            "required": column("required", bool),
            "n_sessions": n_sessions,
            "n_needed": needed,
            "n_scheduled": scheduled[last_slot].astype(np.int64),
            "n_attended": n_attended,
            "attended_last": attended_last,
            "entered": n_attended > 0,
            "completed": completed,
            "reached": reached,
            "progressed": progressed,
            "potential_completer": due | closed,
        },
        copy=False,  # the arrays are this function's own: no consolidated copy
    )
    out.attrs["episode_row"] = ep_rows
    out.attrs["stage_row"] = stage_row  # the row's programme and stage, numbered
    out.attrs["n_episodes"] = len(ep)
    out.attrs["closed_cases"] = bool(closed_cases)
    return out


def progress_for(
    export: Export,
    prepared: EngagementData,
    closed_cases: bool,
    progress: pd.DataFrame | None,
) -> pd.DataFrame:
    """``progress`` checked against ``prepared`` and ``closed_cases``, or computed."""
    if progress is None:
        return stage_progress(export, closed_cases=closed_cases, prepared=prepared)
    attrs = getattr(progress, "attrs", {})
    if "episode_row" not in attrs or attrs.get("n_episodes") != len(prepared.episodes):
        raise ConfigError(
            "progress= is not the stage_progress of this prepared export; make it with "
            "stage_progress(export, prepared=prepared)."
        )
    if attrs.get("closed_cases") != bool(closed_cases):
        raise ConfigError(
            f"progress= was made with closed_cases={attrs.get('closed_cases')}, but "
            f"closed_cases={bool(closed_cases)} was asked for."
        )
    return progress


def _n_at(table: pd.DataFrame, cell: np.ndarray) -> np.ndarray:
    """Number of sessions of each programme's local stage (``[programme, local]``;
    0 where the programme has no such stage)."""
    sizes = np.zeros(cell.shape, dtype=np.int64)
    valid = cell >= 0
    sizes[valid] = table["n_sessions"].to_numpy(dtype=np.int64)[cell[valid]]
    return sizes


def programme_codes(programme: pd.Series) -> tuple[list[str], np.ndarray]:
    """The programme codes present (sorted text) and each row's position among
    them (-1: missing), as ``sorted(map(str, programme.astype("object").dropna()
    .unique()))`` and the codes of a categorical of them; a categorical column is
    read from its own codes (no text object per row)."""
    array = programme.array
    if not isinstance(array, pd.Categorical) or not all(
        isinstance(c, str) for c in array.categories
    ):
        present = sorted(map(str, programme.astype("object").dropna().unique()))
        codes = pd.Categorical(programme.astype("object"), categories=present).codes
        return present, np.asarray(codes)
    codes = np.asarray(array.codes)
    used = np.bincount(codes[codes >= 0], minlength=len(array.categories)) > 0
    present = sorted(array.categories[used])
    return present, codes_in(programme, present)


def _slot_counts(
    export: Export, stage_of: np.ndarray, prog: np.ndarray, sizes: np.ndarray, n_slots: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sessions recorded and attended, and whether the last one is attended, of
    every slot (episode x local stage, flat: ``episode * width + local``).

    A stage's sessions are ordered by date then session number (ties in table
    order) and its last session is position ``n_sessions`` (``sizes``) in that
    order. The sessions are read in blocks of whole participants
    (:func:`._blocks.participant_blocks`): each block's slots are its own, so
    its counts are written beside the others' and its sort is the whole
    table's sort restricted to its participants.
    """
    width = sizes.shape[1]
    sessions = export.sessions
    rows, episode = episode_lookup(export, "sessions")
    type_code = block_codes(sessions["session_type"], _SESSION_TYPES, "sessions.session_type")
    attendance = block_codes(sessions["attendance"], _ATTENDANCE, "sessions.attendance")
    dates = sessions["session_date"].to_numpy()
    if dates.dtype.kind != "M":  # text or objects: converted once, not per block
        dates = day_numbers(sessions["session_date"])
    numbers = sessions["session_number"].array
    index = index_type(max(n_slots, len(sessions)))
    scheduled = np.zeros(n_slots, dtype=index)
    attended_n = np.zeros(n_slots, dtype=index)
    attended_last = np.zeros(n_slots, dtype=bool)
    # stage and stage size by (programme, session type), flat, with a last row and
    # column of -1 / 0 that an episode or type code of -1 reads (no masks per row)
    n_types = stage_of.shape[1] + 1
    stage_at = np.full((len(stage_of) + 1, n_types), -1, dtype=np.int16)
    stage_at[:-1, :-1] = stage_of
    size_at = np.zeros(stage_at.shape, dtype=np.int64)
    size_at[:-1, :-1] = np.take_along_axis(sizes, np.maximum(stage_of, 0), axis=1)
    stage_at, size_at = stage_at.ravel(), size_at.ravel()
    row_of = np.append(prog, len(stage_of)).astype(np.int32) * n_types  # [-1]: the last row
    for block in participant_blocks(rows):
        p = episode[rows[block]]
        code = row_of[p]
        code += type_code(block)  # type -1: the last column of the row before (-1)
        keep = np.flatnonzero(stage_at[code] >= 0)
        if len(keep) == 0:
            continue
        p, code = p[keep], code[keep]
        low = int(p[0])  # the block's episodes come in order
        span = (int(p[-1]) - low + 1) * width
        slot = p.astype(np.int64)
        del p
        slot -= low
        slot *= width
        slot += stage_at[code]
        n_at = size_at[code]
        del code
        day = dates[block][keep]
        day = (day_numbers(day) if day.dtype.kind == "M" else day).astype(np.int32)
        number = numbers[block].to_numpy(dtype=np.int32, na_value=0)[keep]
        attended = attendance(block)[keep] == 0
        order = _sequence_order(slot, day, np.zeros(len(slot), dtype=np.int8), number)
        del day, number
        if order is not None:
            slot, attended, n_at = slot[order], attended[order], n_at[order]
        counts = np.bincount(slot, minlength=span)
        position = np.arange(1, len(slot) + 1, dtype=np.int64)
        position -= (np.cumsum(counts) - counts)[slot]
        hit = attended & (position == n_at)
        where = slice(low * width, low * width + span)
        scheduled[where] += counts.astype(index)
        attended_n[where] += np.bincount(slot[attended], minlength=span).astype(index)
        attended_last[where] |= np.bincount(slot[hit], minlength=span) > 0
        del keep, slot, attended, n_at, counts, position, hit, order  # before the next block's
    return scheduled, attended_n, attended_last


def _group_sums(
    progress: pd.DataFrame, episodes: pd.DataFrame, keys: list[str], columns: dict[str, Any]
) -> pd.DataFrame:
    rows = progress.attrs["episode_row"]
    stages = per_stage_row(progress, columns) if keys == ["programme"] else None
    if stages is not None:  # sum the counts of each stage (a row each), not every row
        first, columns = stages
        progress = progress.iloc[first]
    frame = pd.DataFrame(
        {
            **{k: episodes[k].to_numpy()[rows] for k in keys if k != "programme"},
            "programme": progress["programme"].to_numpy(),
            "stage": progress["stage"].to_numpy(),
            "order": progress["order"].to_numpy(),
            **columns,
        }
    )
    for k in keys:
        if k != "programme" and isinstance(episodes[k].dtype, pd.CategoricalDtype):
            frame[k] = pd.Categorical(frame[k], dtype=episodes[k].dtype)
    names = ["programme", *[k for k in keys if k != "programme"]]
    out = group_by(frame, [*names, "order", "stage"])[list(columns)].sum().astype(np.int64)
    return out.reset_index()


@family_docs
def stage_completion(
    export: Export,
    by: By = "programme",
    *,
    programmes: Mapping[str, Any] | None = None,
    closed_cases: bool = True,
    alpha: float = 0.05,
    prepared: EngagementData | None = None,
    progress: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Stage funnel: entry, completion and transition of every stage, with Wilson CIs.

    Parameters
    ----------
    {export}
    {by}
    {programmes}
    closed_cases
        Count closed cases as potential completers before
        ``potential_after_days`` (``False``: only time elapsed, which does
        not over-represent early leavers among recent starters).
    {alpha}
    {prepared}
    {progress}

    Returns
    -------
    DataFrame
        One row per programme, group and stage, sorted by ``order``:
        ``programme, <by>..., order, stage, name_en, name_nl, required``;
        counts among the stage's potential completers ``n_potential``
        (starters who are potential completers of the stage), ``n_entered``,
        ``n_completed``, ``n_reached``, ``n_progressed``; proportions (0-1)
        with Wilson intervals ``<name>_ci_low`` / ``<name>_ci_high``:
        ``completion_of_entered`` (n_completed / n_entered),
        ``completion_of_starters`` (n_completed / n_potential),
        ``transition`` (n_progressed / n_reached: the stage transition
        probability) and ``through_stage`` (n_progressed / n_potential: share
        of starters who completed this stage and every earlier one; the
        Caledonian evaluation's 82% -> 48% -> 32%).

    References
    ----------
    Ipsos MORI (2016). Evaluation of the Caledonian System. Scottish Government.
    Wilson, E. B. (1927). JASA 22:209-212.
    """
    prepared = prepared_from(export, programmes, prepared)
    keys = grouping(by, prepared)
    progress = progress_for(export, prepared, closed_cases, progress)
    potential = progress["potential_completer"].to_numpy()
    out = _group_sums(
        progress,
        prepared.episodes,
        keys,
        {
            "n_potential": potential,
            "n_entered": potential & progress["entered"].to_numpy(),
            "n_completed": potential & progress["completed"].to_numpy(),
            "n_reached": potential & progress["reached"].to_numpy(),
            "n_progressed": potential & progress["progressed"].to_numpy(),
        },
    )
    names = stage_table(prepared.registry).set_index(["programme", "stage"])
    index = pd.MultiIndex.from_arrays([out["programme"].astype(str), out["stage"].astype(str)])
    for column in ("name_en", "name_nl", "required"):
        out.insert(
            out.columns.get_loc("stage") + 1, column, names[column].reindex(index).to_numpy()
        )
    out = out[[*keys, "order", "stage", "name_en", "name_nl", "required", *out.columns[-5:]]]
    add_rate(out, "completion_of_entered", "n_completed", "n_entered", alpha)
    add_rate(out, "completion_of_starters", "n_completed", "n_potential", alpha)
    add_rate(out, "transition", "n_progressed", "n_reached", alpha)
    add_rate(out, "through_stage", "n_progressed", "n_potential", alpha)
    return out


@family_docs
def programme_completion_from_stages(
    export: Export,
    by: By = "programme",
    *,
    programmes: Mapping[str, Any] | None = None,
    closed_cases: bool = True,
    alpha: float = 0.05,
    prepared: EngagementData | None = None,
    progress: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Whole-programme completion defined from the stages, counted and as a product.

    Among people with a clear outcome (starters who are potential completers
    of every ``required`` stage), completion is counted directly (every
    required stage completed) and computed as the product over the orders of
    required stages of the transition "completed every required stage up to
    this order, given every one before"; the two agree exactly (see the
    module docstring).

    Parameters
    ----------
    {export}
    {by}
    {programmes}
    closed_cases
        As for :func:`stage_completion`.
    {alpha}
    {prepared}
    {progress}

    Returns
    -------
    DataFrame
        One row per programme and group: ``programme, <by>..., n_started,
        n_clear_outcome, n_completed, completion`` (n_completed /
        n_clear_outcome) with ``completion_ci_low`` / ``completion_ci_high``
        (Wilson), ``completion_from_stages`` (the product of the
        transitions) and ``transitions`` (the factors, in order, as text).
    """
    prepared = prepared_from(export, programmes, prepared)
    keys = grouping(by, prepared)
    progress = progress_for(export, prepared, closed_cases, progress)
    rows = progress.attrs["episode_row"][progress["required"].to_numpy()]
    progress = progress[progress["required"].to_numpy()]
    people, person = people_of(rows)
    n_orders = int(progress["order"].max()) + 1 if len(progress) else 1
    order = progress["order"].to_numpy()
    not_clear = ~progress["potential_completer"].to_numpy()
    clear = ~any_by(person, np.zeros(len(person), dtype=np.int64), not_clear, (len(people), 1))[
        :, 0
    ]
    missed = any_by(person, order, ~progress["completed"].to_numpy(), (len(people), n_orders))
    has_order = np.zeros(n_orders, dtype=bool)
    has_order[np.unique(order)] = True
    done = np.logical_and.accumulate(~missed, axis=1)
    ep = prepared.episodes
    frame = pd.DataFrame({k: ep[k].to_numpy()[people] for k in keys})
    for k in keys:
        if isinstance(ep[k].dtype, pd.CategoricalDtype):
            frame[k] = pd.Categorical(frame[k], dtype=ep[k].dtype)
    frame["n_clear_outcome"] = clear
    frame["n_completed"] = clear & done[:, -1]
    levels = np.flatnonzero(has_order)
    for level in levels:
        frame[f"_done{level}"] = clear & done[:, level]
    grouped = group_by(frame, keys)
    out = grouped[["n_clear_outcome", "n_completed"]].sum().astype(np.int64)
    starters = ep.loc[ep["started"].to_numpy(dtype=bool), keys]
    out.insert(0, "n_started", group_by(starters, keys).size().reindex(out.index).fillna(0))
    out["n_started"] = out["n_started"].astype(np.int64)
    out = out.reset_index()
    add_rate(out, "completion", "n_completed", "n_clear_outcome", alpha)
    sums = grouped[[f"_done{level}" for level in levels]].sum().to_numpy(dtype=float)
    base = np.column_stack([out["n_clear_outcome"].to_numpy(dtype=float), sums[:, :-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        factors = sums / base
    out["completion_from_stages"] = np.where(
        out["n_clear_outcome"].to_numpy() > 0,
        np.prod(np.nan_to_num(factors, nan=0.0), axis=1),
        np.nan,
    )
    present = out["programme"].astype(str).to_numpy()
    own = progress.groupby("programme")["order"].unique()
    levels_of = {code: set(map(int, own[code])) for code in own.index}
    out["transitions"] = [
        " x ".join(
            "n/a" if np.isnan(f) else f"{f:.4f}"
            for level, f in zip(levels, row, strict=True)
            if level in levels_of.get(code, ())
        )
        for code, row in zip(present, factors, strict=True)
    ]
    return out
