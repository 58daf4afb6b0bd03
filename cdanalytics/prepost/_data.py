"""Shared data preparation of the pre/post analyses.

Turns the long ``measures`` table into one row per participant, instrument,
scale and informant with one score column per timepoint, joins the
participant columns a caller groups by, and looks up each scale's registry
entry. Everything is vectorised with category codes and ``pd.factorize``.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, ExportValidationError, InsufficientDataError
from ..io.export import Export
from ..io.schema import contract_values
from ..registry import instrument_registry, scale_info
from ._grouping import _small_factorize

#: Columns that identify one outcome series.
SCALE_KEYS: list[str] = ["instrument", "scale", "informant"]

#: Timepoints of the export contract, in order.
TIMEPOINTS: tuple[str, ...] = contract_values("measures", "timepoint")

#: Rules that combine the scores of several subjects (``subject_id``: the
#: children, or partners, a measure is about) of one participant, instrument,
#: scale, informant and timepoint into the one score the analyses use.
SUBJECT_RULES: dict[str, str] = {
    "mean": "the mean of the subjects' scores at that timepoint",
    "worst": "the worst subject's score at that timepoint (the highest where a higher "
    "score is worse, the lowest where it is better)",
}


def as_list(by: str | Sequence[str] | None) -> list[str]:
    """``by`` as a list of column names (``None`` is the empty list)."""
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def check_timepoints(timepoints: Sequence[str], size: int | None = None) -> tuple[str, ...]:
    """Validate a tuple of distinct contract timepoints (of ``size`` entries if given)."""
    tps = tuple(timepoints)
    unknown = [t for t in tps if t not in TIMEPOINTS]
    if unknown:
        raise ConfigError(
            f"Unknown timepoint(s) {unknown}; the export contract allows {list(TIMEPOINTS)}."
        )
    if len(set(tps)) != len(tps):
        raise ConfigError(f"Timepoints must be distinct, got {list(tps)}.")
    if size is not None and len(tps) != size:
        raise ConfigError(f"Expected {size} timepoints, got {list(tps)}.")
    return tps


def registry_or_default(registry: Mapping[str, Any] | None, data: Any = None) -> Mapping[str, Any]:
    """The instrument registry passed in, else the export's own (``export.registries``,
    with the evaluation config's overrides), else the built-in one."""
    if registry is not None:
        return registry
    if isinstance(data, Export):
        return data.registries.instruments
    return instrument_registry()


def _participant_rows(export: Export, by: Sequence[str], keep: np.ndarray | None) -> np.ndarray:
    """Row of ``export.participants`` of each measures row (those of ``keep``);
    clear errors for unknown ids or columns. The rows come from the export's
    one lookup of the identifiers (:meth:`Export.participant_rows`)."""
    participants = export.participants
    missing = [c for c in by if c not in participants.columns or c == "participant_id"]
    if missing:
        raise ConfigError(
            f"Cannot group by {missing}: not a column of the participants table "
            f"(columns: {', '.join(map(str, participants.columns))})."
        )
    rows = export.participant_rows("measures")
    if keep is not None:
        rows = rows[keep]
    if (rows < 0).any():
        raise ExportValidationError(
            f"{int((rows < 0).sum())} measures row(s) name a participant_id that is not in "
            "participants; validate the export with `cdanalytics validate` first."
        )
    return rows


def score_table(
    export: Export,
    by: str | Sequence[str] | None = None,
    subset: Sequence[str] | None = None,
    timepoints: Sequence[str] = TIMEPOINTS,
    *,
    subjects: str = "mean",
    registry: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Scores side by side: one row per participant × instrument × scale × informant.

    Every pre/post analysis starts from this table. Build it once and pass
    it to several analyses (instead of the export) to save the reshaping.

    Parameters
    ----------
    export
        A loaded export.
    by
        Participant column(s) to carry (the grouping columns of the analyses
        that will use the table).
    subset
        Instrument codes to keep; ``None`` keeps all.
    timepoints
        Timepoints to keep, which become float columns of the same names
        (NaN where the participant has no score).
    subjects
        How the scores of several subjects (``subject_id``: one row per
        child) of one participant, scale, informant and timepoint become the
        man's score, a key of :data:`SUBJECT_RULES`: ``"mean"`` (default) or
        ``"worst"``. Applied per timepoint to the subjects scored at that
        timepoint; an empty ``subject_id`` counts as one subject. Without
        ``subject_id`` values every score is its own.
    registry
        Instrument registry (for the direction of a scale under
        ``"worst"``); the built-in one when ``None``.

    Returns
    -------
    pandas.DataFrame
        Columns ``participant_id``, the ``by`` columns, ``instrument``,
        ``scale``, ``informant``, one column per timepoint, ``exit_status``.
        Rows in the order of the participants table, then by instrument,
        scale and informant (category order).

    Raises
    ------
    ExportValidationError
        If a participant has two scores for the same scale, informant,
        timepoint and subject (the measures key is not unique), or measures
        name a participant not in participants.
    ConfigError
        An unknown ``subjects`` rule.
    InsufficientDataError
        If the export has no measures for the instruments and timepoints.
    """
    by = as_list(by)
    timepoints = check_timepoints(timepoints)
    if subjects not in SUBJECT_RULES:
        raise ConfigError(f"subjects must be one of {', '.join(SUBJECT_RULES)}, not {subjects!r}.")
    measures = export.measures
    # The rows kept (instruments, timepoints) are a mask applied to the few
    # columns used, not a copy of the whole table.
    keep = np.ones(len(measures), dtype=bool)
    if subset is not None:
        subset = as_list(subset)
        unknown = sorted(set(subset) - {str(x) for x in measures["instrument"].unique()})
        if unknown:
            raise InsufficientDataError(f"No measures for instrument(s) {unknown} in this export.")
        keep &= measures["instrument"].isin(subset).to_numpy()
    tp_codes, tp_labels = _category_codes(measures["timepoint"])
    lookup = np.array(
        [timepoints.index(x) if x in timepoints else -1 for x in map(str, tp_labels)] + [-1],
        dtype=np.int8,
    )
    tp_code = lookup[tp_codes]  # a missing timepoint (code -1) takes the last entry, -1
    keep &= tp_code >= 0
    kept = None if keep.all() else keep
    if kept is not None:
        tp_code = tp_code[kept]
    if not keep.any():
        raise InsufficientDataError(f"No measures at timepoints {list(timepoints)}.")

    pid_code = _participant_rows(export, by, kept)
    keys = [_category_codes(measures[k]) for k in SCALE_KEYS]
    categories = [labels for _, labels in keys]
    scores = measures["score"].to_numpy(dtype=float)
    # Empty values are refused among the rows kept (read all rows first: usually none).
    empty = [
        k
        for k, (c, _) in zip(SCALE_KEYS, keys, strict=True)
        if c.min(initial=0) < 0 and (c if kept is None else c[kept]).min(initial=0) < 0
    ]
    if np.isnan(scores).any() and np.isnan(scores if kept is None else scores[kept]).any():
        empty.append("score")
    if empty:
        raise ExportValidationError(
            f"measures has empty {', '.join(empty)} values; the export contract requires "
            "them. Load the export with the validator."
        )
    scores = scores if kept is None else scores[kept]
    # The three codes combined on every row in a compact type, then the rows kept.
    sizes = [len(c) for c in categories]
    n_all = int(np.prod(sizes))
    combo = keys[0][0].astype(np.int16 if n_all < 2**15 else np.intp)
    for (c, _), size in zip(keys[1:], sizes[1:], strict=True):
        combo *= size
        combo += c
    combo = combo if kept is None else combo[kept]
    codes = None
    if subjects == "worst":  # the instrument and scale of each row kept, for the direction
        codes = [c if kept is None else c[kept] for c, _ in keys[:2]]
    if combo.dtype == np.int16:  # few combinations: number them through a small table
        present = np.bincount(combo, minlength=n_all) > 0
        combo_uniques = np.flatnonzero(present)
        rank = np.cumsum(present, dtype=np.int16)
        rank -= 1
        combo_code = rank[combo]
    else:
        combo_code, combo_uniques = _small_factorize(combo, n_all)
    del combo
    n_combo, n_tp = len(combo_uniques), len(timepoints)
    # One cell per participant (in the order of participants), scale and
    # timepoint: the rows of the table are the (participant, scale) slots
    # with a score, found from the cell counts (no factorisation of the rows).
    n_slots = len(export.participants) * n_combo
    cell = pid_code.astype(np.intp)
    cell *= n_combo
    cell += combo_code
    cell *= n_tp
    cell += tp_code
    del combo_code
    subject = _subject_codes(measures, kept)
    per_cell = np.bincount(cell, minlength=n_slots * n_tp)
    repeated = per_cell.max(initial=0) > 1
    if repeated and (
        subject is None or pd.DataFrame({"cell": cell, "subject": subject}).duplicated().any()
    ):
        raise ExportValidationError(
            "measures has more than one score for the same participant, instrument, scale, "
            "informant, timepoint and subject; the export contract requires that key to be "
            "unique."
        )
    if repeated:
        sign = np.ones(len(scores))
        if subjects == "worst":
            sign = _worse_sign(
                codes[0],
                categories[0],
                codes[1],
                categories[1],
                registry_or_default(registry, export),
            )
        values = _combine(cell, scores * sign, n_slots * n_tp, subjects)
        cell_sign = np.ones(n_slots * n_tp)
        cell_sign[cell] = sign
        values *= cell_sign
    else:
        values = np.full(n_slots * n_tp, np.nan)
        values[cell] = scores
    del cell
    values = values.reshape(n_slots, n_tp)
    occupied = per_cell[0::n_tp] > 0  # any score in the slot (strided: faster than any(axis=1))
    for j in range(1, n_tp):
        occupied |= per_cell[j::n_tp] > 0
    del per_cell
    if occupied.all():  # every participant has every scale: no rows to drop
        row_person = np.repeat(np.arange(len(export.participants)), n_combo)
        row_combo = np.tile(np.arange(n_combo), len(export.participants))
    else:
        slots = np.flatnonzero(occupied)
        values = values[slots]
        row_person, row_combo = np.divmod(slots, n_combo)
    participants = export.participants
    columns: dict[str, Any] = {
        "participant_id": participants["participant_id"].array.take(row_person)
    }
    for col in by:
        columns[col] = participants[col].array.take(row_person)
    # category codes of each key per combination, keeping only categories in use
    rest = combo_uniques
    key_codes = []
    for size in reversed(sizes):
        key_codes.append(rest % size)
        rest = rest // size
    for key, labels, used_codes in zip(SCALE_KEYS, categories, reversed(key_codes), strict=True):
        used = np.unique(used_codes)
        remap = np.full(len(labels), -1, dtype=np.int32)
        remap[used] = np.arange(len(used))
        columns[key] = pd.Categorical.from_codes(
            remap[used_codes].astype(_code_dtype(len(used)))[row_combo],
            categories=labels[used],
            validate=False,
        )
    for j, tp in enumerate(timepoints):
        columns[tp] = values[:, j]
    if "exit_status" not in by:
        columns["exit_status"] = participants["exit_status"].array.take(row_person)
    # One frame from the finished columns (inserting them one by one costs
    # more than the reshaping on small exports).
    return pd.DataFrame(columns, copy=False)


def _category_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Category code of each value (-1: missing) and the categories, read
    from a categorical column without a copy (``pd.Categorical(values)``'s
    otherwise)."""
    array = values.array
    if not isinstance(array, pd.Categorical):
        array = pd.Categorical(values)
    return array.codes, array.categories


def _code_dtype(n_categories: int) -> type:
    """The integer type pandas keeps the codes of so many categories in."""
    return np.int8 if n_categories < 127 else np.int16 if n_categories < 32767 else np.int32


def _subject_codes(measures: pd.DataFrame, subset: np.ndarray | None) -> np.ndarray | None:
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


# Score tables made from each live export, newest last: (id of the export)
# -> (measures, participants, [(arguments, table), ...]).
_SHARED: dict[int, tuple[pd.DataFrame, pd.DataFrame, list[tuple[tuple, pd.DataFrame]]]] = {}
_SHARED_PER_EXPORT = 1


def _shared_score_table(
    export: Export,
    by: Sequence[str],
    subset: Sequence[str] | None,
    timepoints: Sequence[str],
    subjects: str,
) -> pd.DataFrame:
    """:func:`score_table` of an export, made once for the analyses that ask
    for the same one in turn (change, reliable change and attrition of the
    same timepoints reshape the measures once). The latest is kept while
    the export lives and its ``measures`` and ``participants`` are the same
    objects; each caller gets its own shallow copy (copy-on-write)."""
    key = (
        tuple(as_list(by)),
        None if subset is None else tuple(as_list(subset)),
        tuple(timepoints),
        subjects,
    )
    entry = _SHARED.get(id(export))
    if entry is None or entry[0] is not export.measures or entry[1] is not export.participants:
        if entry is None:
            weakref.finalize(export, _SHARED.pop, id(export), None)
        entry = (export.measures, export.participants, [])
        _SHARED[id(export)] = entry
    tables = entry[2]
    for made_with, table in tables:
        if made_with == key:
            return table.copy(deep=False)
    table = score_table(export, by, subset, timepoints, subjects=subjects)
    tables.append((key, table))
    del tables[:-_SHARED_PER_EXPORT]
    return table.copy(deep=False)


def select_scores(
    data: Export | pd.DataFrame,
    timepoints: Sequence[str],
    by: Sequence[str] = (),
    subset: Sequence[str] | None = None,
    *,
    subjects: str = "mean",
) -> pd.DataFrame:
    """The rows of a score table (made from ``data`` if it is an export, with
    the ``subjects`` rule of :func:`score_table`) with a score at one of
    ``timepoints`` at least, for the given instruments."""
    if isinstance(data, Export):
        return _shared_score_table(data, by, subset, timepoints, subjects)
    if not isinstance(data, pd.DataFrame):
        raise ConfigError(
            f"Expected an Export or a score table (DataFrame), not {type(data).__name__}."
        )
    needed = ["participant_id", *by, *SCALE_KEYS, *timepoints, "exit_status"]
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise ConfigError(
            f"The score table lacks columns {missing}; make it with "
            "score_table(export, by=...) with the same `by` and timepoints."
        )
    keep = data[list(timepoints)].notna().any(axis=1).to_numpy()
    if subset is not None:
        keep = keep & data["instrument"].isin(as_list(subset)).to_numpy()
    if not keep.any():
        raise InsufficientDataError(
            f"The score table has no scores at {list(timepoints)} for these instruments."
        )
    if keep.all():
        return data
    out = data[keep].reset_index(drop=True)
    for key in SCALE_KEYS:
        if isinstance(out[key].dtype, pd.CategoricalDtype):
            out[key] = out[key].cat.remove_unused_categories()
    return out
