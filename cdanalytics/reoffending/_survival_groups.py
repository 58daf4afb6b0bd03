"""The reoffending cohort's follow-up by group, shared by the survival analyses.

:func:`survival_frame` reads each person's follow-up time and first-reoffence
status (``duration_days``, ``event`` of :func:`person_outcomes`) with the
grouping and stratum columns; :func:`group_codes` numbers the groups (from
the codes of a single categorical column, without grouping the rows, else by
:func:`cdanalytics._groups.group_by`); :func:`kaplan_meier_fits` fits every
group's Kaplan-Meier estimate in one counting pass
(:func:`cdanalytics._stats.kaplan_meier_groups`). Used by
:mod:`.survival` (cumulative reoffending), :mod:`.at_risk` (numbers at risk)
and :mod:`.log_rank` (the log-rank test).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._groups import by_columns, group_by
from .._stats import KaplanMeier, kaplan_meier_groups
from ..errors import ConfigError, InsufficientDataError
from ..io.export import Export
from .definition import SURVIVAL_COLUMNS, ReoffendingDefinition, resolve_outcomes

__all__ = ["group_codes", "kaplan_meier_fits", "single_category", "survival_frame"]


def survival_frame(
    data: Export | pd.DataFrame,
    by: str | Sequence[str] | None,
    definition: ReoffendingDefinition | None,
    extra: Sequence[str] = (),
) -> tuple[pd.DataFrame, list[str], np.ndarray, np.ndarray]:
    """(the ``by`` and ``extra`` columns of the cohort rows, the ``by``
    names, their follow-up ``time`` (float) and ``status``: boolean for a
    boolean ``event`` column (the outcome table's), else float)."""
    names = [by] if isinstance(by, str) else list(by or [])
    names += [extra] if isinstance(extra, str) else list(extra)
    cohort = resolve_outcomes(data, definition, SURVIVAL_COLUMNS, columns=names)
    keys = by_columns(by, cohort)
    extra = by_columns(list(extra), cohort)
    if set(keys) & set(extra):
        raise ConfigError("a column cannot be both a group (by) and a stratum.")
    if cohort.empty:
        raise InsufficientDataError("nobody is in the reoffending cohort (no follow-up).")
    time = cohort["duration_days"].to_numpy(dtype=float)
    event = cohort["event"]
    status = event.to_numpy(dtype=bool if pd.api.types.is_bool_dtype(event.dtype) else float)
    return cohort[[*keys, *extra]], keys, time, status


def single_category(frame: pd.DataFrame, keys: list[str]) -> bool:
    """Whether the groups are the levels of one categorical column."""
    return len(keys) == 1 and isinstance(frame[keys[0]].dtype, pd.CategoricalDtype)


def group_codes(
    frame: pd.DataFrame, keys: list[str], *, maybe_empty: bool = False
) -> tuple[np.ndarray, list[Any]]:
    """(group 0..G-1 of each row, the G group names), in :func:`group_by`'s
    order (sorted, only groups present, missing values a group of their own
    after the others); one group of all rows (name ``None``) without
    ``keys``. The groups of one categorical column are read from its codes
    (no grouping of the rows); other keys go through :func:`group_by`.
    ``maybe_empty``: a categorical column without missing values may give
    every level, present or not, as is (the caller drops the empty ones)."""
    if not keys:
        return np.zeros(len(frame), dtype=np.intp), [None]
    if single_category(frame, keys):
        column = frame[keys[0]]
        levels = column.cat.categories
        codes = column.cat.codes.to_numpy()  # -1: missing, read as the last of levels + 1
        if codes.size and codes.min() >= 0:
            if maybe_empty:
                return codes, list(levels)
            seen = np.flatnonzero(np.bincount(codes, minlength=levels.size))
            if seen.size == levels.size:  # every level, none missing: the codes are the groups
                return codes, list(levels)
        seen = np.flatnonzero(np.bincount(codes + 1, minlength=levels.size + 1))
        seen = np.r_[seen[seen > 0], seen[:1][seen[:1] == 0]] - 1  # missing (-1) last
        dense = np.zeros(levels.size + 1, dtype=np.min_scalar_type(levels.size))
        dense[seen] = np.arange(seen.size)
        names = [levels[i] if i >= 0 else np.nan for i in seen]
        return dense[codes], names
    indices = group_by(frame, keys).indices
    codes = np.empty(len(frame), dtype=np.intp)
    for code, rows in enumerate(indices.values()):
        codes[rows] = code
    return codes, list(indices)


def kaplan_meier_fits(
    frame: pd.DataFrame, keys: list[str], time: np.ndarray, status: np.ndarray
) -> list[tuple[Any, KaplanMeier]]:
    """(group name, its Kaplan-Meier fit) of each group, in :func:`group_by`'s order."""
    codes, names = group_codes(frame, keys, maybe_empty=True)
    fits = kaplan_meier_groups(time, status, codes, len(names))
    return [(name, fit) for name, fit in zip(names, fits, strict=True) if fit.times.size]
