"""Validation rules across tables: orphans, sessions within the episode, session numbers, events.

Rows of the child tables are linked to their participant by one Arrow hash
lookup (:func:`first_positions`); every rule is then vectorised over the
aligned arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa_arrow
import pyarrow.compute as pc

from ._take import take_small_2d
from .problems import ProblemLog, TableData
from .rules_table import before, check_after_extract, day_text, number_text, to_days
from .schema import table_schema
from .textbytes import fixed_width_keys

__all__ = [
    "check_events",
    "check_orphans",
    "check_session_numbers",
    "check_sessions",
    "first_positions",
    "participant_codes",
]


# -- across tables ---------------------------------------------------------------------------


def _arrow_text(values: pd.Series) -> pa_arrow.ChunkedArray:
    """A column as Arrow ``large_string`` chunks (no copy when it is held that way)."""
    if not (pd.api.types.is_string_dtype(values.dtype) and values.dtype != object):
        values = values.astype("str")
    array = pa_arrow.array(values.array)
    if not isinstance(array, pa_arrow.ChunkedArray):
        array = pa_arrow.chunked_array([array])
    if array.type != pa_arrow.large_string():
        array = array.cast(pa_arrow.large_string())
    return array


#: Share of rows starting a run of equal values up to which only each run's first value
#: is looked up.
_RUN_SHARE = 0.5


def _run_lengths(starts: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Positions and lengths of the runs that begin where ``starts`` holds,
    or ``None`` when most rows begin one (looking up each row is then as cheap)."""
    first = np.flatnonzero(starts)
    if len(first) > _RUN_SHARE * len(starts):
        return None
    lengths = np.empty_like(first)  # np.diff(first, append=len(starts)), without a joined copy
    np.subtract(first[1:], first[:-1], out=lengths[:-1])
    lengths[-1:] = len(starts) - first[-1:]
    return first, lengths


def _runs(array: pa_arrow.ChunkedArray) -> tuple[pa_arrow.ChunkedArray, np.ndarray | None]:
    """The first value of each run of equal consecutive values, and each run's length.

    A child table usually lists a participant's rows together (sessions,
    measures), so looking up one value per run instead of one per row saves
    most of the hashing; each run's answer is then repeated over its rows
    (:func:`_spread`). Empty values each start a run of their own. When
    most rows start a run, the column is returned whole (lengths ``None``).
    """
    n = len(array)
    if n < 2:
        return array, None
    same = pc.equal(array[1:], array[:-1]).fill_null(False)
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    starts[1:] = ~same.to_numpy(zero_copy_only=False)
    runs = _run_lengths(starts)
    if runs is None:
        return array, None
    return array.filter(pa_arrow.array(starts)), runs[1]


def _integer_runs(chunks: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray | None]:
    """As :func:`_runs`, for integer keys held in chunks (the first key of
    each run in one array); the chunks themselves when most rows begin a run.
    The chunks are never joined into one column-long array."""
    sizes = [len(keys) for keys in chunks]
    n = sum(sizes)
    if n < 2:
        return chunks, None
    starts = np.empty(n, dtype=bool)
    at, previous = 0, None
    for keys in chunks:
        part = starts[at : at + len(keys)]
        part[0] = previous is None or keys[0] != previous
        np.not_equal(keys[1:], keys[:-1], out=part[1:])
        previous, at = keys[-1], at + len(keys)
    runs = _run_lengths(starts)
    if runs is None:
        return chunks, None
    first, lengths = runs
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    cuts = np.searchsorted(first, bounds)
    heads = [keys[first[cuts[i] : cuts[i + 1]] - bounds[i]] for i, keys in enumerate(chunks)]
    return [np.concatenate(heads)], lengths


def _spread(found: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """Each run's answer over the run's rows (a sequential write, no gather)."""
    return found if lengths is None else np.repeat(found, lengths)


def _fixed_width_positions(
    texts: list[pa_arrow.ChunkedArray], known: pa_arrow.ChunkedArray
) -> list[np.ndarray] | None:
    """:func:`first_positions` through integer keys, when every identifier has
    one byte width of at most 8 (else ``None``)."""
    fixed = [fixed_width_keys(t.chunks) for t in [*texts, known]]
    if any(f is None for f in fixed) or len({w for w, _ in fixed if w is not None}) > 1:
        return None
    keys = [k for _, k in fixed]
    columns, known_keys = keys[:-1], keys[-1]
    runs = [_integer_runs(chunks) for chunks in columns]
    # every table's keys looked up at once, as Arrow views of the key arrays
    heads = pa_arrow.chunked_array(
        [pa_arrow.array(part) for chunks, _ in runs for part in chunks], pa_arrow.uint64()
    )
    known_set = known_keys[0] if len(known_keys) == 1 else np.concatenate(known_keys or [[]])
    found = pc.index_in(heads, value_set=pa_arrow.array(known_set.astype(np.uint64, copy=False)))
    flat = found.fill_null(-1).to_numpy().astype(np.int32, copy=False)
    parts = np.split(flat, np.cumsum([sum(map(len, chunks)) for chunks, _ in runs])[:-1])
    return [_spread(part, lengths) for part, (_, lengths) in zip(parts, runs, strict=True)]


def first_positions(columns: list[pd.Series], lookup: pd.Series) -> list[np.ndarray]:
    """Position in ``lookup`` of the first row equal to each value (-1 for none or empty), int32.

    One Arrow hash lookup for all the columns (the hash table of ``lookup``
    is built once), of one value per run of equal consecutive values: far
    faster than pandas on millions of strings, and each identifier is hashed
    once.
    """
    arrow = [_arrow_text(c) for c in columns]
    known_text = _arrow_text(lookup)
    fixed = _fixed_width_positions(arrow, known_text)
    if fixed is not None:
        return fixed
    texts = [_runs(a) for a in arrow]
    values = pa_arrow.chunked_array(
        [chunk for heads, _ in texts for chunk in heads.chunks], pa_arrow.large_string()
    )
    found = pc.index_in(values, value_set=known_text.combine_chunks(), skip_nulls=True)
    flat = found.fill_null(-1).to_numpy().astype(np.int32, copy=False)
    parts = np.split(flat, np.cumsum([len(heads) for heads, _ in texts])[:-1])
    return [_spread(part, lengths) for part, (_, lengths) in zip(parts, texts, strict=True)]


def participant_codes(ids: pd.Series, positions: np.ndarray, n_participants: int) -> np.ndarray:
    """An integer per distinct ``participant_id`` (-1 for empty), for key checks.

    Known participants get their position in participants (``positions``
    itself when every id is known or empty); unknown ids (orphans) codes
    after those.
    """
    orphan = (positions < 0) & ids.notna().to_numpy()
    if not orphan.any():
        return positions
    codes = positions.astype(np.int64)
    codes[orphan] = n_participants + pd.factorize(ids[orphan])[0]
    return codes


def check_orphans(data: TableData, parent: np.ndarray, log: ProblemLog) -> None:
    """Rule ``orphan``: a child row names no participant."""
    if not len(parent) or parent.min() >= 0:
        return  # every row has its participant
    orphan = (parent < 0) & data.frame["participant_id"].notna().to_numpy()
    log.add_rows(
        data,
        orphan,
        column="participant_id",
        rule="orphan",
        message=(
            "participant_id matches no row of participants; add the participant, correct the "
            "id, or remove the row."
        ),
    )


def _programme_table(
    participants: pd.DataFrame, programmes: Mapping[str, Any], field_fn
) -> np.ndarray:
    """One value per programme category (NaN for unknown), with a last slot for empty."""
    cats = participants["programme"].cat.categories
    out = np.full(len(cats) + 1, np.nan)
    for i, code in enumerate(cats):
        if code in programmes:
            out[i] = field_fn(programmes[code])
    return out


#: Rows per block of :func:`check_session_numbers`.
_BLOCK = 1 << 20


def check_session_numbers(
    data: TableData,
    participants: pd.DataFrame,
    row_programme: np.ndarray,
    programmes: Mapping[str, Any],
    log: ProblemLog,
) -> None:
    """Rule ``session_number``: at most the programme's count of that session type."""
    types = data.frame["session_type"]
    type_codes = types.cat.codes.to_numpy()
    valid = table_schema("sessions").column("session_type").allowed or ()
    # one row per session type (a last row for none), one column per programme
    # (a last column for none): every row's limit in one gather
    table = np.full(
        (len(types.cat.categories) + 1, len(participants["programme"].cat.categories) + 1),
        np.nan,
        dtype=np.float32,  # counts are small whole numbers
    )
    for i, kind in enumerate(types.cat.categories):
        if kind not in valid:
            continue  # reported by the allowed-values rule
        if kind == "review":
            table[i] = _programme_table(participants, programmes, lambda e: e["review"]["count"])
        else:
            table[i] = _programme_table(
                participants, programmes, lambda e, k=kind: e["core"].get(k, 0)
            )
    numbers = data.frame["session_number"]
    found, limits = [np.empty(0, dtype=np.intp)], [np.empty(0, dtype=np.float32)]
    # a block of rows at a time: small temporaries, reused, instead of column-long ones
    for start in range(0, len(numbers), _BLOCK):
        stop = start + _BLOCK
        limit = take_small_2d(table, type_codes[start:stop], row_programme[start:stop])
        # float32: exact to 2**24, and a larger number is above every limit all the same
        number = numbers.iloc[start:stop].to_numpy(dtype=np.float32, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            above = np.flatnonzero(number > limit)
        found.append(above + start)
        limits.append(limit[above])
    positions, limit = np.concatenate(found), np.concatenate(limits)
    if not len(positions):
        return
    cats = participants["programme"].cat.categories
    programme = pd.Series(np.asarray(cats, dtype=object)[row_programme[positions]], index=positions)
    kind = pd.Series(types.iloc[positions].astype(str).to_numpy(), index=positions)
    count = number_text(limit, positions)
    message = (
        "session_number is above the "
        + count
        + " "
        + kind
        + " sessions of programme "
        + programme
        + " in the registry; correct the number or the participant's programme (or register "
        "the programme's count in the evaluation config)."
    )
    log.add_rows(data, positions, column="session_number", rule="session_number", message=message)


#: Whole days up to this size (about 11,000 years) add and subtract exactly in float32.
_EXACT_DAYS = float(2**22)


def _exact_days(*arrays: np.ndarray) -> bool:
    """Whether every day of ``arrays`` lies within :data:`_EXACT_DAYS` (NaN ignored)."""
    for days in arrays:
        if len(days) and (
            np.fmin.reduce(days) < -_EXACT_DAYS or np.fmax.reduce(days) > _EXACT_DAYS
        ):
            return False
    return True


def _suspect_rows(
    parent: np.ndarray, date: np.ndarray, days: list[np.ndarray], due: np.ndarray
) -> np.ndarray | None:
    """The rows of the participants whose sessions may lie outside the episode.

    ``days``: referral, start and end date per participant (days, a last
    slot of NaN for parent -1); ``due``: each row's date less its allowance
    after the end (review sessions), which is after the end exactly when
    the row is. When a child table keeps each participant's rows together,
    the earliest date and the latest due date of each run show whether any
    row of the run can break an episode rule: a row before the referral or
    the start has a run minimum below it, a row after the end a run
    maximum above it. Only the rows of those runs need the per-row test.
    ``None`` (every row) when most rows begin a run.
    """
    n = len(parent)
    if n < 2:
        return None
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(parent[1:], parent[:-1], out=starts[1:])
    runs = _run_lengths(starts)
    if runs is None:
        return None
    first, lengths = runs
    heads = parent[first]
    earliest = np.fmin.reduceat(date, first)  # NaN only when the run has no date
    latest = np.fmax.reduceat(due, first)
    referral, start, end = (d[heads] for d in days)
    with np.errstate(invalid="ignore"):
        suspect = (earliest < referral) | (earliest < start) | (latest > end)
    suspect |= (heads >= 0) & np.isnan(start) & ~np.isnan(earliest)
    if not suspect.any():
        return np.empty(0, dtype=np.int64)
    first, lengths = first[suspect], lengths[suspect]
    # every position of the suspect runs, in order
    shift = np.repeat(first - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return shift + np.arange(len(shift))


def check_sessions(
    data: TableData,
    participants: pd.DataFrame,
    parent: np.ndarray,
    programmes: Mapping[str, Any],
    extract_date: pd.Timestamp,
    log: ProblemLog,
    participant_days: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Rules ``session_number``, ``session_outside_episode`` and ``after_extract``.

    ``participant_days``: participants' date columns as days, when already computed.
    """
    frame = data.frame
    prog_codes = participants["programme"].cat.codes.to_numpy()
    # -1 (no participant, empty programme) indexes the last slot of the programme tables
    row_programme = np.append(prog_codes, -1)[parent]
    check_session_numbers(data, participants, row_programme, programmes, log)

    window = _programme_table(participants, programmes, lambda e: e["review"]["window_days"])
    window = window.astype(np.float32)
    known = participant_days or {}
    # per participant, a last slot of NaN for parent -1
    days = [
        np.append(known[c] if c in known else to_days(participants[c]), np.float32(np.nan))
        for c in ("referral_date", "start_date", "end_date")
    ]
    date = to_days(frame["session_date"])
    is_review = frame["session_type"].eq("review").to_numpy(dtype=bool, na_value=False)
    # days allowed after the end: the review window for review sessions
    # (NaN when the programme has none: such a row is never late), else 0;
    # whole days in float32, so date - allowance > end exactly when date > end + allowance
    # row 0 (not a review): no days allowed; row 1: the programme's review window
    allowances = np.stack([np.zeros_like(window), window])
    allowance_all = take_small_2d(allowances, is_review.view(np.int8), row_programme)
    rows = None
    if _exact_days(date, days[2], window):
        with np.errstate(invalid="ignore"):
            rows = _suspect_rows(parent, date, days, date - allowance_all)
    # the rows that can break an episode rule (every row when rows is None)
    at = slice(None) if rows is None else rows
    owner, day, allowance = parent[at], date[at], allowance_all[at]
    referral, start, end = (d[owner] for d in days)
    attended = frame["attendance"].eq("attended").to_numpy(dtype=bool, na_value=False)[at]

    def positions(found: np.ndarray) -> np.ndarray:
        return found if rows is None else rows[found]

    before(
        data,
        "session_date",
        referral,
        "the participant's referral_date",
        log,
        later_days=day,
        rows=rows,
        rule="session_outside_episode",
        advice="correct the session date or the referral date.",
    )
    with np.errstate(invalid="ignore"):
        early = np.flatnonzero(attended & (day < start))
        late = np.flatnonzero(day > end + allowance)
    if len(early):
        text = day_text(start[early])
        text.index = positions(early)
        message = (
            "attended session before the participant's start_date ("
            + text
            + "); start_date is the first attended session: correct one of the two."
        )
        log.add_rows(
            data,
            positions(early),
            column="session_date",
            rule="session_outside_episode",
            message=message,
        )
    no_start = np.flatnonzero(attended & (owner >= 0) & np.isnan(start) & ~np.isnan(day))
    log.add_rows(
        data,
        positions(no_start),
        column="session_date",
        rule="session_outside_episode",
        message=(
            "attended session of a participant without start_date; fill in start_date "
            "(the first attended session) or correct the attendance."
        ),
    )
    if len(late):
        text = day_text(end[late])
        text.index = positions(late)
        days_allowed = number_text(allowance[late], positions(late))
        extra = (" + " + days_allowed + " days allowed for review sessions").where(
            allowance[late] > 0, ""
        )
        message = (
            "session_date is after the participant's end_date ("
            + text
            + extra
            + "); correct the session date or the end date."
        )
        log.add_rows(
            data,
            positions(late),
            column="session_date",
            rule="session_outside_episode",
            message=message,
        )
    check_after_extract(data, ("session_date",), extract_date, log, days={"session_date": date})


def check_events(data: TableData, extract_date: pd.Timestamp, log: ProblemLog) -> None:
    """Rules ``proven_before_event``, ``disposal_unproven`` (a disposal on an
    event without a ``proven_date``: a sentence or caution proves the
    offence) and ``after_extract``."""
    days = {c: to_days(data.frame[c]) for c in ("event_date", "proven_date")}
    before(
        data,
        "proven_date",
        days["event_date"],
        "event_date",
        log,
        rule="proven_before_event",
        advice="an offence is proven on or after the day it was committed; correct one date.",
        later_days=days["proven_date"],
    )
    frame = data.frame
    if "disposal" in frame:
        unproven = frame["disposal"].notna().to_numpy() & frame["proven_date"].isna().to_numpy()
        log.add_rows(
            data,
            unproven,
            column="disposal",
            rule="disposal_unproven",
            message=(
                "a disposal (sentence, fine or caution) means the offence was proven, but "
                "proven_date is empty; fill in the date it was proven, or empty the disposal."
            ),
        )
    check_after_extract(data, ("event_date", "proven_date"), extract_date, log, days=days)
