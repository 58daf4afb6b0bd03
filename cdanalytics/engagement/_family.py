"""Helpers shared by the stage, review and services analyses (which read the export's
tables beside the prepared episodes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._groups import by_columns
from .._stats import wilson_ci
from ..errors import ConfigError
from ..io.export import Export
from ._prepare import (
    EngagementData,
    _episode_of,
    _known_rows,
    _participant_index,
    parameter_docs,
    prepare_engagement,
)

__all__ = [
    "FAMILY_DOCS",
    "add_rate",
    "episode_lookup",
    "episode_rows",
    "facts_for",
    "family_docs",
    "grouping",
    "per_stage_row",
    "prepared_from",
]

By = str | Sequence[str] | None

#: Parameter descriptions shared by the stage, review and services analyses.
FAMILY_DOCS: dict[str, str] = {
    "export": "A loaded, validated export (its sessions are read, not only the participants).",
    "by": "Participant column(s) to group by besides ``programme`` (always the first key).",
    "programmes": "Programme registry overrides (stages included).",
    "alpha": "1 - confidence level of the Wilson intervals.",
    "prepared": "The export already prepared by "
    ":func:`~cdanalytics.engagement.prepare_engagement` (saves the work).",
    "progress": "The result of :func:`~cdanalytics.engagement.stage_progress` for the same "
    "prepared data, to compute it once for several analyses (it must have been made with "
    "the same ``closed_cases``).",
    "facts": "The result of :func:`~cdanalytics.engagement.review_facts` for the same "
    "prepared data, to compute it once for several analyses.",
    "services": "The services table (contract columns of ``data/schemas/services.yaml``; "
    "dates as datetimes).",
}


#: Fills in the entries of :data:`FAMILY_DOCS` (see :func:`._prepare.parameter_docs`).
family_docs = parameter_docs(FAMILY_DOCS)


def prepared_from(
    export: Export, programmes: Mapping[str, Any] | None, prepared: EngagementData | None
) -> EngagementData:
    """``prepared``, or ``export`` prepared with ``programmes``; the export itself is
    required because these analyses read its other tables."""
    if not isinstance(export, Export):
        raise ConfigError(
            f"Expected an Export, got {type(export).__name__}; load the export with "
            "cdanalytics.io.load_export first."
        )
    if prepared is None:
        return prepare_engagement(export, programmes)
    if programmes is not None:
        raise ConfigError(
            "programmes= was given with prepared engagement data; pass the registry "
            "overrides to prepare_engagement instead."
        )
    return prepared


def grouping(by: By, prepared: EngagementData) -> list[str]:
    """``["programme", *by]`` (``programme`` once), checked against the episodes."""
    keys = by_columns(by, prepared.episodes, what="not a participant or derived engagement column")
    return ["programme", *[k for k in keys if k != "programme"]]


def episode_rows(export: Export, table: str, frame: pd.DataFrame | None = None) -> np.ndarray:
    """Row of the prepared episodes of each row of ``frame`` (-1 for comparison rows).

    ``frame`` is the export's table ``table`` unless given (a caller's own
    services table, say); the export's own table uses the lookup the load
    made (:meth:`~cdanalytics.io.export.Export.participant_rows`), so the
    identifiers are not hashed again.

    Raises
    ------
    AnalysisError
        An id is not in the participants table.
    """
    if frame is None or frame is export.table(table):
        rows, episode = episode_lookup(export, table)
        return episode[rows]  # one lookup per row of the table
    people = export.participants
    rows = _participant_index(people["participant_id"], frame["participant_id"])
    return _episode_of(people)[1][_known_rows(rows, f"{table} row(s)")]


def episode_lookup(export: Export, table: str) -> tuple[np.ndarray, np.ndarray]:
    """The participant row of each row of the export's ``table`` and the episode
    row of each participant (-1: comparison): ``episode[rows]`` is
    :func:`episode_rows`, looked up a block of rows at a time by the caller.

    Raises
    ------
    AnalysisError
        An id is not in the participants table.
    """
    rows = _known_rows(export.participant_rows(table), f"{table} row(s)")
    return rows, _episode_of(export.participants)[1]


def facts_for(
    facts: pd.DataFrame | None,
    prepared: EngagementData,
    make: Callable[[], pd.DataFrame],
) -> tuple[pd.DataFrame, np.ndarray]:
    """Review ``facts`` (made by ``make()`` when ``None``) without their episode rows
    in ``attrs`` (carried along by every pandas operation otherwise), and those rows.
    The caller's table is left as it is.

    Raises
    ------
    ConfigError
        ``facts`` are not the review facts of ``prepared``.
    """
    table = make() if facts is None else facts
    rows = table.attrs.get("episode_row")
    if rows is None or len(rows) != len(table) or rows.max(initial=-1) >= len(prepared.episodes):
        raise ConfigError(
            "facts= is not the review_facts of this prepared export; make it with "
            "review_facts(export, prepared=prepared)."
        )
    if facts is None:
        table.attrs.clear()
    else:
        attrs = table.attrs
        table.attrs = {}
        try:
            table = table.copy(deep=False)
        finally:
            facts.attrs = attrs
    return table, rows


def per_stage_row(
    progress: pd.DataFrame, flags: dict[str, np.ndarray]
) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """The first row of each programme and stage of ``progress`` and, per stage, how
    many of its rows each of ``flags`` marks (counted by the stage numbers that
    :func:`stage_progress` keeps in ``attrs["stage_row"]``); ``None`` without them.
    Summing these counts by any keys of the stage gives the sums of the flags."""
    stage_row = progress.attrs.get("stage_row")
    if stage_row is None or len(stage_row) != len(progress):
        return None
    size = int(stage_row.max(initial=-1)) + 1
    present = np.flatnonzero(np.bincount(stage_row, minlength=size))
    first = np.full(size, len(stage_row), dtype=np.int64)
    np.minimum.at(first, stage_row, np.arange(len(stage_row)))
    counts = {
        name: np.bincount(stage_row[np.asarray(flag, dtype=bool)], minlength=size)[present]
        for name, flag in flags.items()
    }
    return first[present], counts


def add_rate(out: pd.DataFrame, name: str, count: str, nobs: str, alpha: float) -> None:
    """Add ``name`` = count / nobs (NaN on a zero base) and its Wilson interval
    ``name_ci_low`` / ``name_ci_high`` to ``out`` in place."""
    k = out[count].to_numpy(dtype=float)
    n = out[nobs].to_numpy(dtype=float)
    low, high = wilson_ci(k, n, alpha=alpha)
    out[name] = np.divide(k, n, out=np.full(len(n), np.nan), where=n > 0)
    out[f"{name}_ci_low"] = low
    out[f"{name}_ci_high"] = high
