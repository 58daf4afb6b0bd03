"""Problems found in an export: the problem types, the problem log and the report.

A :class:`Problem` names the table, the source file, the row number a person
sees in that file, the column, the offending value (as text), the rule and a
sentence saying what to do. The rules (:mod:`cdanalytics.io.rules_table`,
:mod:`cdanalytics.io.rules_cross`) add problems to a :class:`ProblemLog`;
the loader turns it into a :class:`ValidationReport`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ConfigError
from .export import ALL_TABLES
from .formats import DEFAULT_MAX_PROBLEMS

if TYPE_CHECKING:
    from .rows import RowNumbers

__all__ = [
    "COUNT_COLUMNS",
    "DEFAULT_MAX_PROBLEMS",
    "PROBLEM_COLUMNS",
    "TABLE_COLUMNS",
    "TYPE_WORDS",
    "Problem",
    "ProblemLog",
    "TableData",
    "check_max_problems",
]


#: Columns of :attr:`ValidationReport.problems`.
PROBLEM_COLUMNS: tuple[str, ...] = ("table", "file", "row", "column", "value", "rule", "message")

#: Columns of :meth:`ProblemLog.counts` and :attr:`ValidationReport.counts`.
COUNT_COLUMNS: tuple[str, ...] = ("table", "file", "rule", "column", "count")

#: Columns of :attr:`ValidationReport.tables`.
TABLE_COLUMNS: tuple[str, ...] = (
    "file",
    "format",
    "encoding",
    "delimiter",
    "blank_rows",
    "rows_read",
    "rows_with_problems",
    "rows_of_quarantined_participant",
    "rows_accepted",
    "rows_quarantined",
)

#: How each contract type must be written, for messages.
TYPE_WORDS = {
    "date": "a date (YYYY-MM-DD, or DD-MM-YYYY with the day first) that exists",
    "integer": "a whole number",
    "number": "a number (decimal point or decimal comma)",
    "boolean": "true or false (yes/no, 1/0)",
}


@dataclass(frozen=True)
class Problem:
    """One problem found in an export.

    Attributes
    ----------
    table
        Table (``participants``, ``sessions``, ``measures``, ``events`` or
        ``manifest``).
    file
        File (or ``workbook.xlsx[sheet]``) the row came from.
    row
        Row number as a person sees it in the file (CSV: the header is line
        1; Excel: the sheet row; Parquet: record number from 1), or ``None``
        for a problem with the table or file as a whole.
    column
        Column concerned, or ``None``.
    value
        The offending value as text (empty when the value is missing).
    rule
        Short name of the rule (see the module docstring).
    message
        What is wrong and what to do, in a sentence.
    """

    table: str
    file: str | None
    row: int | None
    column: str | None
    value: str | None
    rule: str
    message: str


@dataclass
class TableData:
    """One table while it is validated.

    Attributes
    ----------
    name
        Table name.
    frame
        Typed rows, default ``RangeIndex`` (positions).
    rows
        Source row number of each position (an array, or a
        :class:`~cdanalytics.io.rows.RowNumbers` indexed the same way).
    file
        Source file label, or ``None`` for an absent optional table.
    reported
        Column to the mask of positions whose value is already reported
        (unreadable, or the whole column is missing): not reported again as
        empty.
    """

    name: str
    frame: pd.DataFrame
    rows: np.ndarray | RowNumbers
    file: str | None
    reported: dict[str, np.ndarray] = field(default_factory=dict)


def check_max_problems(value: int | None) -> int | None:
    """A valid limit of problems listed per rule and table (``None``: no limit).

    Raises
    ------
    ConfigError
        The limit is not a whole number of at least 1.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(
            f"max_problems_per_rule must be a whole number of at least 1 (or None), not {value!r}."
        )
    return int(value)


def _as_text(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        text = values.dt.strftime("%Y-%m-%d")
    else:
        text = values.astype("str")
    return text.fillna("").to_numpy(dtype=object)


def _join_by_position(positions: np.ndarray, texts: pa.Array) -> pd.Series:
    """One text per distinct position: its texts joined with ``"; "``, in the given order.

    The texts are sorted by position (stably) into one Arrow list per
    position and joined in C: no loop over rows or ranks.
    """
    order = np.argsort(positions, kind="stable")
    pos = positions[order]
    first = np.ones(len(pos), dtype=bool)
    first[1:] = pos[1:] != pos[:-1]
    starts = np.flatnonzero(first)
    offsets = pa.array(np.append(starts, len(pos)).astype(np.int64))
    lists = pa.LargeListArray.from_arrays(offsets, texts.take(pa.array(order)))
    joined = pc.binary_join(lists, pa.scalar("; ", pa.large_string()))
    return pd.Series(
        joined.to_pandas(types_mapper=pd.ArrowDtype).astype("str").array, index=pos[starts]
    )


class ProblemLog:
    """Collects the problems of one load: a bounded list, exact counts, every row concerned.

    The first ``max_per_rule`` problems of each rule and table are listed in
    full (value and message); the others are only counted and their rows
    kept (as positions, for quarantine), so memory grows with the number of
    rows with problems, not with the text of every problem.

    Parameters
    ----------
    max_per_rule
        Problems listed per rule and table (``None``: every problem).
    """

    def __init__(self, max_per_rule: int | None = DEFAULT_MAX_PROBLEMS) -> None:
        self.max_per_rule = check_max_problems(max_per_rule)
        self._parts: list[pd.DataFrame] = []
        self._listed: dict[tuple[str, str], int] = {}
        self._counts: dict[tuple[str, str | None, str, str | None], int] = {}
        self._unlisted: dict[str, list[tuple[np.ndarray, str]]] = {}
        self._rows: dict[str, list[np.ndarray]] = {}

    def _room(self, table: str, rule: str) -> int:
        if self.max_per_rule is None:
            return np.iinfo(np.int64).max
        return max(self.max_per_rule - self._listed.get((table, rule), 0), 0)

    def _count(self, table: str, file: str | None, rule: str, column: str | None, n: int) -> None:
        key = (table, file, rule, column)
        self._counts[key] = self._counts.get(key, 0) + n

    def add(self, problem: Problem) -> None:
        """Add one problem with the table, file or manifest as a whole (always listed)."""
        part = pd.DataFrame([problem.__dict__])
        part["position"] = -1
        self._parts.append(part)
        key = (problem.table, problem.rule)
        self._listed[key] = self._listed.get(key, 0) + 1
        self._count(problem.table, problem.file, problem.rule, problem.column, 1)

    def add_rows(
        self,
        data: TableData,
        positions: np.ndarray,
        *,
        column: str | None,
        rule: str,
        message: str | pd.Series,
        values: pd.Series | None = None,
    ) -> None:
        """Add one problem per position (or per ``True`` of a boolean mask).

        ``values``: the values shown, a Series indexed by position (default:
        the column itself); ``message``: a sentence, or a Series of
        sentences indexed by position. Only the problems still within the
        limit of this rule and table are turned into text.
        """
        positions = np.asarray(positions)
        if positions.dtype == bool:
            positions = np.flatnonzero(positions)
        if not len(positions):
            return
        positions = positions.astype(np.int64, copy=False)
        self._count(data.name, data.file, rule, column, len(positions))
        self._rows.setdefault(data.name, []).append(positions)
        room = self._room(data.name, rule)
        if len(positions) > room:
            where = f"{rule} ({column or '-'}, not listed)"
            self._unlisted.setdefault(data.name, []).append((positions[room:], where))
            positions = positions[:room]
        if not len(positions):
            return
        self._listed[(data.name, rule)] = self._listed.get((data.name, rule), 0) + len(positions)
        if values is None and column is not None:
            values = data.frame[column]
        text = _as_text(values.loc[positions]) if values is not None else None
        if isinstance(message, pd.Series):
            message = message.loc[positions].to_numpy(dtype=object)
        self._parts.append(
            pd.DataFrame(
                {
                    "table": data.name,
                    "file": data.file,
                    "row": data.rows[positions],
                    "column": column,
                    "value": text,
                    "rule": rule,
                    "message": message,
                    "position": positions,
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        """The listed problems, in table order then row order, with a ``position`` column."""
        if not self._parts:
            out = pd.DataFrame({c: pd.Series(dtype="str") for c in PROBLEM_COLUMNS})
            out["row"] = out["row"].astype("Int64")
            out["position"] = pd.Series(dtype="int64")
            return out
        out = pd.concat(self._parts, ignore_index=True)
        out["row"] = out["row"].astype("Int64")
        order = {t: i for i, t in enumerate(("manifest", *ALL_TABLES))}
        out["_order"] = out["table"].map(order)
        out = out.sort_values(["_order", "row"], kind="stable", na_position="first")
        return out.drop(columns="_order").reset_index(drop=True)

    def counts(self) -> pd.DataFrame:
        """Exact number of problems per table, file, rule and column (listed or not)."""
        records = [
            {"table": t, "file": f, "rule": r, "column": c, "count": n}
            for (t, f, r, c), n in self._counts.items()
        ]
        return pd.DataFrame.from_records(records, columns=list(COUNT_COLUMNS))

    def rows_with_problems(self, table: str, n_rows: int) -> np.ndarray:
        """Mask of the ``n_rows`` positions of ``table`` with at least one problem."""
        mask = np.zeros(n_rows, dtype=bool)
        for positions in self._rows.get(table, []):
            mask[positions] = True
        return mask

    def reasons(self, table: str, listed: pd.DataFrame) -> pd.Series:
        """One text per position of ``table`` with problems: every problem of the row.

        A categorical when some problems were not listed (rows sharing the
        same kinds of problem share one text).

        Listed problems read ``rule (column 'value'): message``; problems
        beyond the limit ``rule (column, not listed)`` (no value, no message:
        the listed problems of the same rule say what to do).

        Parameters
        ----------
        table
            Table name.
        listed
            The listed row problems of this table (from :meth:`frame`).
        """
        value = listed["value"].fillna("")
        column = listed["column"].fillna("")
        text = listed["rule"] + " (" + column + " '" + value + "'): " + listed["message"]
        positions = listed["position"].to_numpy(dtype=np.int64)
        own = (
            _join_by_position(positions, pa.array(text.to_numpy(dtype=object), pa.large_string()))
            if len(positions)
            else pd.Series(dtype="str")
        )
        unlisted = self._unlisted_reasons(table)
        if unlisted.empty:
            return own
        both = own.index.intersection(unlisted.index)
        own = own.copy()
        own.loc[both] = own.loc[both] + "; " + unlisted.loc[both].astype("str")
        out = unlisted.reindex(np.union1d(own.index, unlisted.index))
        out = out.cat.add_categories(pd.unique(own.to_numpy(dtype=object)))
        out.loc[own.index] = own.to_numpy(dtype=object)
        return out

    def _unlisted_reasons(self, table: str) -> pd.Series:
        """The labels of the problems not listed, joined per position (a categorical).

        Each position gets a bit per distinct label, so rows are grouped by
        their combination of labels and each combination is written once.
        """
        parts = self._unlisted.get(table, [])
        labels = list(dict.fromkeys(label for _, label in parts))
        if not parts:
            return pd.Series(dtype="category")
        if len(labels) > 62:  # more kinds than bits: join the texts themselves
            flat = np.concatenate([p for p, _ in parts])
            texts = [pa.repeat(pa.scalar(w, pa.large_string()), len(p)) for p, w in parts]
            return _join_by_position(flat, pa.concat_arrays(texts)).astype("category")
        size = max(int(p.max()) for p, _ in parts) + 1
        combo = np.zeros(size, dtype=np.int64)
        for where_positions, label in parts:
            combo[where_positions] |= np.int64(1) << labels.index(label)
        at = np.flatnonzero(combo)
        kinds, codes = np.unique(combo[at], return_inverse=True)
        texts = ["; ".join(w for j, w in enumerate(labels) if int(k) >> j & 1) for k in kinds]
        return pd.Series(pd.Categorical.from_codes(codes, categories=texts), index=at)
