"""The reshaping behind :func:`~cdanalytics.prepost.score_table`: the long
``measures`` table made into one row per participant, instrument, scale and
informant with one score column per timepoint.

Every measures row gets one integer key (its instrument, scale, informant
and timepoint levels); a count per key says which instrument × scale ×
informant series and timepoints are kept, and a small table turns each key
into the row's cell of a (timepoint × participant × series) grid, into which
the scores are written. Rows not kept (other timepoints or instruments) go
to a spare plane of the grid instead of being cut out of the columns first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, ExportValidationError, InsufficientDataError
from ..io.export import Export
from ..registry import scale_info

#: Columns that identify one outcome series.
SCALE_KEYS: list[str] = ["instrument", "scale", "informant"]


@dataclass(frozen=True)
class Reshaped:
    """A score table and how its rows were laid out.

    ``row_combo`` is the number of the instrument × scale × informant series
    of each row (0, 1, ... in the category order of the three columns: the
    group numbers of :func:`~cdanalytics.prepost._grouping.group_numbers` by
    those keys), in the smallest integer type that holds them. ``groups``
    keeps the group numbers the analyses asked of the table, with the keys
    of each group (:func:`~cdanalytics.prepost._grouping.layout_groups`).
    ``tiled``: every participant has a row of every series (the rows are
    the series in turn, participant by participant).
    """

    table: pd.DataFrame
    row_combo: np.ndarray
    n_combo: int
    tiled: bool = False
    groups: dict[tuple[str, ...], tuple[np.ndarray, dict[str, Any]]] = field(default_factory=dict)


def reshape_scores(
    export: Export,
    by: list[str],
    subset: list[str] | None,
    timepoints: tuple[str, ...],
    subjects: str,
    registry: Callable[[], Mapping[str, Any]],
) -> Reshaped:
    """The work of :func:`score_table` (its arguments checked by it;
    ``registry()`` gives the instrument registry, asked only when needed)."""
    measures = export.measures
    n_rows = len(measures)
    n_tp = len(timepoints)
    tp_codes, tp_labels = category_codes(measures["timepoint"])
    # Level of each timepoint category (0: missing) -> its place in
    # ``timepoints``, n_tp for a timepoint not kept.
    tp_place = np.array(
        [n_tp] + [timepoints.index(x) if x in timepoints else n_tp for x in map(str, tp_labels)],
        dtype=np.intp,
    )
    n_tpl = len(tp_place)
    key_columns = [measures[k] for k in SCALE_KEYS]
    keys = [category_codes(column) for column in key_columns]
    categories = [labels for _, labels in keys]
    levels = [len(c) + 1 for c in categories]  # the last level of each: missing
    n_all = math.prod(levels)
    # The levels combined in place in the smallest integer type that holds
    # them (fewer bytes to pass over); bincount and indexing take it a block
    # of rows at a time (:func:`_blocks`), so that no array of the platform
    # integer is made for all rows.
    n_key = n_all * n_tpl
    many = n_key > 4 * n_rows + 65536  # many series: number those present
    small = np.int16 if n_key < 2**15 else np.int32 if n_key < 2**31 else np.intp
    key = keys[0][0].astype(np.intp if many else small)
    for j, ((codes, _), size) in enumerate(zip(keys, levels, strict=True)):
        if j:
            key *= size
            key += codes
        if codes.min(initial=0) < 0:  # missing: the last level
            key[codes < 0] += size
    if many:
        key, uniques = pd.factorize(key, sort=True)
        uniques = np.asarray(uniques, dtype=np.intp)
    else:
        uniques = np.arange(n_all, dtype=np.intp)
    n_u = len(uniques)
    key *= n_tpl
    key += tp_codes
    key += 1  # a missing timepoint (code -1) is level 0
    counts = bincount(key, minlength=n_u * n_tpl).reshape(n_u, n_tpl)
    # The level of each key column in each series present.
    series_levels = []
    rest = uniques
    for size in reversed(levels):
        series_levels.append(rest % size)
        rest = rest // size
    series_levels.reverse()
    kept_tp = tp_place < n_tp
    wanted = np.ones(n_u, dtype=bool)
    if subset is not None:
        names = np.array([str(x) in subset for x in categories[0]] + [False])
        wanted = names[series_levels[0]]
    series_counts = counts[:, kept_tp].sum(axis=1)
    kept_series = wanted & (series_counts > 0)
    n_kept = int(series_counts[kept_series].sum())
    if not n_kept:
        raise InsufficientDataError(f"No measures at timepoints {list(timepoints)}.")
    participants = export.participants
    rows = participant_rows(export, by)
    n_people = len(export.participants)
    kept_u = kept_series.nonzero()[0]
    n_combo = len(kept_u)
    rank = np.zeros(n_u, dtype=np.intp)
    rank[kept_u] = np.arange(n_combo)
    spare = n_kept < n_rows
    # Place of each (series, timepoint) level in a person's part of the grid,
    # n_combo * n_tp where not kept.
    place = np.where(
        kept_series[:, None] & kept_tp[None, :],
        tp_place[None, :] * n_combo + rank[:, None],
        n_combo * n_tp,
    ).ravel()
    # The people with a measure kept, numbered in order (the grid has rows for
    # them only: about half the participants of a large export have none),
    # unless the scores kept fill at least half of a grid of every participant
    # (one pass over the rows less; people without scores then have only
    # empty slots, left out below as any empty slot is).
    number: np.ndarray | None = None  # None: every participant is his own number
    n_measured = n_people
    if 2 * n_kept < n_tp * n_combo * n_people:
        measured = np.zeros(n_people, dtype=bool)
        for block in _blocks(n_rows):
            measured[rows[block][place[key[block]] < n_combo * n_tp]] = True
        people = np.flatnonzero(measured)
        del measured
        n_measured = len(people)
        number = np.zeros(n_people, dtype=np.intp)  # 0 for the others: their rows are not kept
        number[people] = np.arange(n_measured)
    # Cells of the grid: (timepoint place, person, series rank), the order
    # of the table's rows within each timepoint. A row not kept gets a cell
    # past the grid (n_real and beyond) and is not written.
    size = n_measured * n_combo
    n_real = n_tp * size
    lookup = np.where(place < n_combo * n_tp, (place // n_combo) * size + place % n_combo, n_real)
    del place
    if rows.min(initial=0) < 0:
        known = rows[lookup[key] < n_real] if spare else rows
        unknown = int((known < 0).sum())
        if unknown:
            raise ExportValidationError(
                f"{unknown} measures row(s) name a participant_id that is not in "
                "participants; validate the export with `cdanalytics validate` first."
            )
        rows = np.maximum(rows, 0)  # the unknown ones are not kept: the spare plane
    empty = [
        k
        for k, level, size_k in zip(SCALE_KEYS, series_levels, levels, strict=True)
        if (level[kept_u] == size_k - 1).any()
    ]
    scores = np.asarray(measures["score"].array, dtype=float)
    # A NaN makes the sum NaN (one pass, no mask); then look at the rows kept.
    if np.isnan(np.add.reduce(scores)) and (
        np.isnan(scores[lookup[key] < n_real] if spare else scores).any()
    ):
        empty.append("score")
    if empty:
        raise ExportValidationError(
            f"measures has empty {', '.join(empty)} values; the export contract requires "
            "them. Load the export with the validator."
        )
    # The scores written into their cells a block of rows at a time, the
    # cells made in small buffers: on a fresh process, memory used again
    # costs less than new pages.
    values = np.empty(n_real + spare)  # rows not kept: all into the last cell
    values.fill(np.nan)
    cell = np.empty(min(n_rows, _BLOCK), dtype=np.intp)
    step = np.empty_like(cell)
    for block in _blocks(n_rows):
        part, person = cell[: block.stop - block.start], step[: block.stop - block.start]
        np.take(lookup, key[block], out=part, mode="clip")  # in range: clip is unbuffered
        np.multiply(rows[block] if number is None else number[rows[block]], n_combo, out=person)
        part += person
        if spare:
            np.minimum(part, n_real, out=part)
        values[part] = scores[block]
    del cell, step
    missing = np.isnan(values[:n_real])
    if n_real - np.count_nonzero(missing) < n_kept:  # cells with several scores
        values = _several_per_cell(
            measures,
            keys,
            categories,
            lookup[key] + (rows if number is None else number[rows]) * n_combo,
            scores,
            n_real,
            subjects,
            registry,
        )
        missing = np.isnan(values)
    del key
    # Rows: the (person, series) slots with a score at one of the timepoints.
    empty_slot = missing[:size] if n_tp == 1 else missing.reshape(n_tp, size).all(axis=0)
    del missing
    # every participant has every series: no rows to drop
    every = n_measured == n_people and not empty_slot.any()
    if every:
        planes = [values[j * size : (j + 1) * size] for j in range(n_tp)]
        row_person = np.repeat(np.arange(n_people, dtype=np.int32), n_combo)
        row_combo = tile(np.arange(n_combo, dtype=code_dtype(n_combo)), n_people)
    else:
        slots = np.flatnonzero(~empty_slot)
        del empty_slot
        planes = [values[j * size : (j + 1) * size][slots] for j in range(n_tp)]
        del values  # the grid, once its rows are taken (each step's memory goes first)
        row_person, row_combo = np.divmod(slots, n_combo)
        del slots
        if number is not None:  # else the people are every participant, in order
            row_person = people[row_person]
    columns: dict[str, Any] = {
        "participant_id": participants["participant_id"].array.take(row_person)
    }
    for col in by:
        columns[col] = _per_row(participants[col].array, row_person, n_combo if every else 0)
    for name, column, labels, level in zip(
        SCALE_KEYS, key_columns, categories, series_levels, strict=True
    ):
        used_codes = level[kept_u]
        used = np.bincount(used_codes).nonzero()[0]  # the distinct codes, sorted
        remap = np.full(len(labels) + 1, -1, dtype=np.int32)
        remap[used] = np.arange(len(used))
        per_series = remap[used_codes].astype(code_dtype(len(used)))
        codes = tile(per_series, n_people) if every else per_series[row_combo]
        source = column.dtype
        if (
            len(used) == len(labels)
            and isinstance(source, pd.CategoricalDtype)
            and not source.ordered
        ):  # the categories of the measures, all in use
            columns[name] = pd.Categorical.from_codes(codes, dtype=source, validate=False)
        else:
            columns[name] = pd.Categorical.from_codes(
                codes, categories=labels[used], validate=False
            )
    for tp, plane in zip(timepoints, planes, strict=True):
        columns[tp] = plane
    if "exit_status" not in by:
        columns["exit_status"] = _per_row(
            participants["exit_status"].array, row_person, n_combo if every else 0
        )
    # One frame from the finished columns (inserting them one by one costs
    # more than the reshaping on small exports).
    table = pd.DataFrame(columns, copy=False)
    # Kept with the table while the export lives: in few bytes, read-only.
    row_combo = row_combo.astype(code_dtype(n_combo), copy=False)
    row_combo.flags.writeable = False
    return Reshaped(table, row_combo, n_combo, tiled=every)


#: Rows of the measures handled at a time where a platform integer per row is needed.
_BLOCK = 1 << 14


def _blocks(n: int) -> list[slice]:
    """Consecutive slices of at most :data:`_BLOCK` of ``range(n)``."""
    return [slice(start, min(start + _BLOCK, n)) for start in range(0, n, _BLOCK)]


def bincount(values: np.ndarray, minlength: int) -> np.ndarray:
    """``np.bincount(values, minlength=minlength)`` of integers of any integer
    type in ``[0, minlength)``, counted a block of rows (:func:`_blocks`) at a
    time when they are not platform integers (``np.bincount`` takes a copy of
    them as such)."""
    if values.dtype == np.intp or len(values) <= _BLOCK:
        return np.bincount(values, minlength=minlength)
    counts = np.zeros(minlength, dtype=np.intp)
    for block in _blocks(len(values)):
        counts += np.bincount(values[block], minlength=minlength)
    return counts


def tile(values: np.ndarray, times: int) -> np.ndarray:
    """``np.tile`` of a 1-d array: the values ``times`` times over."""
    return values[np.newaxis, :].repeat(times, axis=0).reshape(-1)


def _per_row(values: Any, row_person: np.ndarray, repeat: int) -> Any:
    """A participants column for the rows of the table: each value ``repeat``
    times in turn when every participant has ``repeat`` rows (the codes of a
    categorical repeated, no lookup), else taken by ``row_person``."""
    if repeat and isinstance(values, pd.Categorical):
        codes = np.repeat(values.codes, repeat)
        return pd.Categorical.from_codes(codes, dtype=values.dtype, validate=False)
    return values.take(row_person)


def _several_per_cell(
    measures: pd.DataFrame,
    keys: list[tuple[np.ndarray, pd.Index]],
    categories: list[pd.Index],
    cell: np.ndarray,
    scores: np.ndarray,
    n_cells: int,
    subjects: str,
    registry: Callable[[], Mapping[str, Any]],
) -> np.ndarray:
    """The grid of scores when some cell has several: one per subject
    (``subject_id``), combined by the ``subjects`` rule; an error for a true
    duplicate (same subject, or no subject ids)."""
    kept = cell < n_cells
    every = bool(kept.all())
    cell = cell if every else cell[kept]
    scores = scores if every else scores[kept]
    subject = subject_codes(measures, None if every else kept)
    if subject is None or pd.DataFrame({"cell": cell, "subject": subject}).duplicated().any():
        raise ExportValidationError(
            "measures has more than one score for the same participant, instrument, scale, "
            "informant, timepoint and subject; the export contract requires that key to be "
            "unique."
        )
    sign = np.ones(len(scores))
    if subjects == "worst":
        codes = [c if every else c[kept] for c, _ in keys[:2]]
        sign = _worse_sign(
            codes[0],
            categories[0],
            codes[1],
            categories[1],
            registry(),
        )
    values = _combine(cell, scores * sign, n_cells, subjects)
    cell_sign = np.ones(n_cells)
    cell_sign[cell] = sign
    values *= cell_sign
    return values


def participant_rows(export: Export, by: Sequence[str]) -> np.ndarray:
    """Row of ``export.participants`` of each measures row (-1: unknown id),
    from the export's one lookup of the identifiers
    (:meth:`Export.participant_rows`); a clear error for unknown ``by`` columns."""
    columns = export.participants.columns
    missing = [c for c in by if c not in columns or c == "participant_id"]
    if missing:
        raise ConfigError(
            f"Cannot group by {missing}: not a column of the participants table "
            f"(columns: {', '.join(map(str, columns))})."
        )
    return export.participant_rows("measures")


def category_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Category code of each value (-1: missing) and the categories, read
    from a categorical column without a copy (``pd.Categorical(values)``'s
    otherwise)."""
    array = values.array
    if not isinstance(array, pd.Categorical):
        array = pd.Categorical(values)
    return array.codes, array.categories


def code_dtype(n_categories: int) -> type:
    """The integer type pandas keeps the codes of so many categories in."""
    return np.int8 if n_categories < 127 else np.int16 if n_categories < 32767 else np.int32


def subject_codes(measures: pd.DataFrame, subset: np.ndarray | None) -> np.ndarray | None:
    """Code of each row's ``subject_id`` (0: empty; the rows of ``subset``),
    or None when no row names a subject."""
    if "subject_id" not in measures.columns:
        return None
    values = measures["subject_id"] if subset is None else measures["subject_id"][subset]
    if not values.notna().any():
        return None
    return pd.factorize(values)[0].astype(np.int64) + 1


def _worse_sign(
    instrument: np.ndarray,
    instruments: pd.Index,
    scale: np.ndarray,
    scales: pd.Index,
    registry: Mapping[str, Any],
) -> np.ndarray:
    """+1 for rows whose scale is higher_worse, -1 for higher_better (rows
    given by the category codes of instrument and scale)."""
    n_scale = len(scales)
    pair = instrument.astype(np.int64) * n_scale + scale
    pairs, inverse = np.unique(pair, return_inverse=True)
    signs = np.array(
        [
            1.0
            if scale_info(str(instruments[p // n_scale]), str(scales[p % n_scale]), registry)[
                "direction"
            ]
            == "higher_worse"
            else -1.0
            for p in pairs
        ]
    )
    return signs[inverse]


def _combine(cell: np.ndarray, scores: np.ndarray, size: int, rule: str) -> np.ndarray:
    """Mean (``"mean"``) or maximum (``"worst"``, scores already signed) of the
    scores of each cell; NaN for empty cells."""
    counts = np.bincount(cell, minlength=size)
    out = np.full(size, np.nan)
    if rule == "mean":
        sums = np.bincount(cell, weights=scores, minlength=size)
        np.divide(sums, counts, out=out, where=counts > 0)
        return out
    top = pd.Series(scores).groupby(cell, sort=False).max()
    out[top.index.to_numpy()] = top.to_numpy()
    return out
