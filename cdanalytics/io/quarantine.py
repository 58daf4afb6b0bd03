"""The rows a load sets aside: which (a problem of their own, or of their
participant), how they are written to the quarantine (source row and reason
first, identifying values redacted), and the count of every table read
(rows read = rows accepted + rows quarantined)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .export import OPTIONAL_TABLES, PRACTICE_TABLES
from .privacy import redact_frame
from .read import RawTable
from .validation import TABLE_COLUMNS, ProblemLog, TableData

__all__ = ["partition_rows", "quarantine_frame", "table_counts"]


def partition_rows(
    tables: Mapping[str, TableData], log: ProblemLog, parents: Mapping[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Rows with problems of their own, and rows of a participant with problems."""
    own = {name: log.rows_with_problems(name, len(data.frame)) for name, data in tables.items()}
    bad_participants = np.flatnonzero(own["participants"])
    by_parent = {name: np.isin(parents[name], bad_participants) & ~own[name] for name in parents}
    for name in ("participants", *PRACTICE_TABLES):
        by_parent[name] = np.zeros(len(tables[name].frame), dtype=bool)
    return own, by_parent


def quarantine_frame(
    data: TableData,
    mask: np.ndarray,
    reasons: pd.Series,
    parent: np.ndarray | None,
    participants: TableData,
) -> pd.DataFrame:
    """The rows of ``data`` in ``mask`` as quarantined: their source row
    first, the reason last (for a row set aside with its participant, that
    participant's file and row), identifying values redacted."""
    positions = np.flatnonzero(mask)
    out = data.frame.iloc[positions].copy()
    out.insert(0, "source_row", data.rows[positions])
    reason = reasons.reindex(positions)
    if not isinstance(reason.dtype, pd.CategoricalDtype):
        reason = reason.astype("str")
    reason.index = out.index
    if parent is not None:
        inherited = reason.isna().to_numpy()
        rows = pd.Series(participants.rows[parent[positions[inherited]]], dtype="str")
        text = (f"its participant is quarantined ({participants.file} row " + rows + ")").to_numpy(
            dtype=object
        )
        if isinstance(reason.dtype, pd.CategoricalDtype):
            reason = reason.cat.add_categories(pd.unique(text))
        reason[inherited] = text
    out["quarantine_reason"] = reason
    return redact_frame(out.reset_index(drop=True), keep=("source_row", "quarantine_reason"))


def table_counts(
    tables: Mapping[str, TableData],
    raws: Mapping[str, RawTable | None],
    own: Mapping[str, np.ndarray],
    by_parent: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    """Per table read: its file, format and encoding, and rows read =
    accepted + quarantined (with a problem of their own, or of their
    participant); columns :data:`~cdanalytics.io.validation.TABLE_COLUMNS`."""
    records = []
    for name, data in tables.items():
        raw = raws.get(name)
        if name in OPTIONAL_TABLES and raw is None:
            continue  # an optional table the export does not have: not listed
        n_own, n_parent = int(own[name].sum()), int(by_parent[name].sum())
        records.append(
            {
                "table": name,
                "file": data.file,
                "format": None if raw is None else raw.format,
                "encoding": None if raw is None else raw.encoding,
                "delimiter": None if raw is None else raw.delimiter,
                "blank_rows": 0 if raw is None else raw.blank_rows,
                "rows_read": len(data.frame),
                "rows_with_problems": n_own,
                "rows_of_quarantined_participant": n_parent,
                "rows_accepted": len(data.frame) - n_own - n_parent,
                "rows_quarantined": n_own + n_parent,
            }
        )
    return pd.DataFrame.from_records(records, index="table", columns=["table", *TABLE_COLUMNS])
