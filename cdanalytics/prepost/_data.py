"""Shared data preparation of the pre/post analyses.

Turns the long ``measures`` table into one row per participant, instrument,
scale and informant with one score column per timepoint, joins the
participant columns a caller groups by, and looks up each scale's registry
entry. Everything is vectorised with category codes and ``pd.factorize``.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import pandas as pd

from ..errors import ConfigError, InsufficientDataError
from ..io.export import Export
from ..io.schema import contract_values
from ..registry import instrument_registry
from ._reshape import SCALE_KEYS, Reshaped, reshape_scores

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
    return _reshaped(export, by, subset, timepoints, subjects, registry).table


def _reshaped(
    export: Export,
    by: str | Sequence[str] | None,
    subset: Sequence[str] | None,
    timepoints: Sequence[str],
    subjects: str,
    registry: Mapping[str, Any] | None,
) -> Reshaped:
    """:func:`score_table` with the layout of its rows (:class:`Reshaped`)."""
    by = as_list(by)
    timepoints = check_timepoints(timepoints)
    if subjects not in SUBJECT_RULES:
        raise ConfigError(f"subjects must be one of {', '.join(SUBJECT_RULES)}, not {subjects!r}.")
    if subset is not None:
        subset = as_list(subset)
        present = {str(x) for x in export.measures["instrument"].unique()}
        unknown = sorted(set(subset) - present)
        if unknown:
            raise InsufficientDataError(f"No measures for instrument(s) {unknown} in this export.")
    return reshape_scores(
        export,
        by,
        subset,
        timepoints,
        subjects,
        lambda: registry_or_default(registry, export),
    )


# Score tables made from each live export, newest last: (id of the export)
# -> (measures, participants, [(arguments, reshaped), ...], weak reference
# to the export).
_SHARED: dict[
    int, tuple[pd.DataFrame, pd.DataFrame, list[tuple[tuple, Reshaped]], weakref.ref]
] = {}
_SHARED_PER_EXPORT = 1


def _forget(key: int, ref: weakref.ref) -> None:
    """Drop the score tables kept under ``key`` when the export ``ref`` was
    to has gone (the callback of the weak reference kept with them; an
    entry made since for another export is left alone)."""
    entry = _SHARED.get(key)
    if entry is not None and entry[3] is ref:
        del _SHARED[key]


def _shared_score_table(
    export: Export,
    by: Sequence[str],
    subset: Sequence[str] | None,
    timepoints: Sequence[str],
    subjects: str,
) -> Reshaped:
    """:func:`score_table` of an export with its layout, made once for the
    analyses that ask for the same one in turn (change, reliable change and
    attrition of the same timepoints reshape the measures once, and share
    group numbers). The latest is kept while the export lives and its
    ``measures`` and ``participants`` are the same objects. The layout
    returned is the one kept, its table shared: callers that may change the
    table take a shallow copy (copy-on-write) of it, as
    :func:`select_scores` does."""
    key = (
        tuple(as_list(by)),
        None if subset is None else tuple(as_list(subset)),
        tuple(timepoints),
        subjects,
    )
    entry = _SHARED.get(id(export))
    if entry is None or entry[0] is not export.measures or entry[1] is not export.participants:
        # Forgotten when the export goes: the entry holds a weak reference to
        # it whose callback removes the entry (if it is still this one).
        alive = entry[3] if entry is not None else weakref.ref(export, partial(_forget, id(export)))
        entry = (export.measures, export.participants, [], alive)
        _SHARED[id(export)] = entry
    tables = entry[2]
    for made_with, layout in tables:
        if made_with == key:
            return layout
    del tables[: max(0, len(tables) - _SHARED_PER_EXPORT + 1)]  # room for the new one first
    layout = _reshaped(export, by, subset, timepoints, subjects, None)
    tables.append((key, layout))
    return layout


def release_score_tables(export: Export | None = None) -> None:
    """Forget the score tables kept for sharing: those of ``export``, or of every
    export (``None``).

    :func:`change`, :func:`reliable_change` and :func:`attrition` keep the
    latest score table made from an export, so that the next analysis asking
    for the same one does not reshape the measures again. A caller that asks
    for no more (the report, after its pre/post step) gives the memory back
    here: about 90 MiB per million participants. The next analysis makes its
    table again.

    Examples
    --------
    >>> from cdanalytics.prepost import release_score_tables
    >>> release_score_tables()  # the tables of every export
    """
    if export is None:
        _SHARED.clear()
    else:
        _SHARED.pop(id(export), None)


def select_layout(
    data: Export | pd.DataFrame,
    timepoints: Sequence[str],
    by: Sequence[str] = (),
    subset: Sequence[str] | None = None,
    *,
    subjects: str = "mean",
) -> tuple[pd.DataFrame, Reshaped | None]:
    """:func:`select_scores` and, for an export, the layout of the table's
    rows (``None`` for a score table passed in). An export's table is the
    one shared by the analyses of the export, not a copy: the caller only
    reads it (results that take its columns as Series are kept apart from it
    by copy-on-write), or takes a shallow copy first."""
    if isinstance(data, Export):
        layout = _shared_score_table(data, by, subset, timepoints, subjects)
        return layout.table, layout
    return select_scores(data, timepoints, by, subset, subjects=subjects), None


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
        return _shared_score_table(data, by, subset, timepoints, subjects).table.copy(deep=False)
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
