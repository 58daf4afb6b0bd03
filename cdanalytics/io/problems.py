"""Problems found in an export: the problem types, the problem log and the report.

A :class:`Problem` names the table, the source file, the row number a person
sees in that file, the column, the offending value (as text), the rule and a
sentence saying what to do. The rules (:mod:`cdanalytics.io.rules_table`,
:mod:`cdanalytics.io.rules_cross`) add problems to a :class:`ProblemLog`;
the loader turns it into a :class:`ValidationReport`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ExportError
from .export import TABLES

__all__ = [
    "PROBLEM_COLUMNS",
    "TABLE_COLUMNS",
    "TYPE_WORDS",
    "Problem",
    "ProblemLog",
    "TableData",
    "ValidationReport",
]


#: Columns of :attr:`ValidationReport.problems`.
PROBLEM_COLUMNS: tuple[str, ...] = ("table", "file", "row", "column", "value", "rule", "message")

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
        Source row number of each position.
    file
        Source file label, or ``None`` for an absent optional table.
    reported
        Column to the mask of positions whose value is already reported
        (unreadable, or the whole column is missing): not reported again as
        empty.
    """

    name: str
    frame: pd.DataFrame
    rows: np.ndarray
    file: str | None
    reported: dict[str, np.ndarray] = field(default_factory=dict)


def _as_text(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        text = values.dt.strftime("%Y-%m-%d")
    else:
        text = values.astype("str")
    return text.fillna("").to_numpy(dtype=object)


class ProblemLog:
    """Collects the problems of one load as small frames, one per rule and column."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add(self, problem: Problem) -> None:
        """Add one problem (a table- or file-level one, typically)."""
        part = pd.DataFrame([problem.__dict__])
        part["position"] = -1
        self._parts.append(part)

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
        sentences indexed by position.
        """
        positions = np.asarray(positions)
        if positions.dtype == bool:
            positions = np.flatnonzero(positions)
        if not len(positions):
            return
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
        """All problems, in table order then row order, with a ``position`` column."""
        if not self._parts:
            out = pd.DataFrame({c: pd.Series(dtype="str") for c in PROBLEM_COLUMNS})
            out["row"] = out["row"].astype("Int64")
            out["position"] = pd.Series(dtype="int64")
            return out
        out = pd.concat(self._parts, ignore_index=True)
        out["row"] = out["row"].astype("Int64")
        order = {t: i for i, t in enumerate(("manifest", *TABLES))}
        out["_order"] = out["table"].map(order)
        out = out.sort_values(["_order", "row"], kind="stable", na_position="first")
        return out.drop(columns="_order").reset_index(drop=True)


@dataclass
class ValidationReport:
    """What a load found: rows per table and every problem.

    Attributes
    ----------
    problems
        One row per problem, columns :data:`PROBLEM_COLUMNS` (``row`` is the
        source row number, empty for file-level problems).
    tables
        One row per table (index ``table``), columns :data:`TABLE_COLUMNS`:
        source file, format, detected encoding and delimiter (CSV), blank
        rows skipped, ``rows_read``, ``rows_with_problems``,
        ``rows_of_quarantined_participant`` (rows without problems of their
        own whose participant has problems), ``rows_accepted`` and
        ``rows_quarantined`` (``rows_read = rows_accepted +
        rows_quarantined``). In strict mode a failed load accepts nothing;
        the counts then say what ``quarantine=True`` would do.
    notes
        How values were read (day-first dates, decimal commas, ...), ignored
        files and other remarks that are not problems.
    mode
        ``"strict"`` or ``"quarantine"``.
    source
        Folder or workbook validated.
    """

    problems: pd.DataFrame
    tables: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    mode: str = "strict"
    source: Path | None = None

    @property
    def ok(self) -> bool:
        """No problems at all."""
        return self.problems.empty

    @property
    def fatal(self) -> bool:
        """A problem with a file or table as a whole (no row to set aside)."""
        return bool(self.problems["row"].isna().any())

    def reconcile(self) -> None:
        """Check that rows read = rows accepted + rows quarantined in every table.

        Raises
        ------
        ExportError
            Naming the tables whose counts do not add up.
        """
        t = self.tables
        bad = t.index[t["rows_read"] != t["rows_accepted"] + t["rows_quarantined"]]
        if len(bad):
            raise ExportError(
                "Row counts do not reconcile (read != accepted + quarantined) for "
                f"{', '.join(bad)}; this is a bug in cdanalytics, please report it."
            )

    def to_csv(self, path: str | Path) -> Path:
        """Write every problem to a CSV file (UTF-8); returns the path."""
        path = Path(path)
        self.problems.to_csv(path, index=False, columns=list(PROBLEM_COLUMNS))
        return path

    def summary(self, top: int = 10) -> str:
        """A readable summary: counts per table, notes, and the commonest problems by rule."""
        strict_failed = self.mode == "strict" and not self.ok
        lines = [
            f"Validation of {self.source or 'export'} ({self.mode} mode): "
            + (
                "no problems."
                if self.ok
                else f"{len(self.problems)} problem(s) in "
                f"{self.problems['table'].nunique()} table(s)."
            ),
            "",
        ]
        quarantine_label = "to quarantine" if strict_failed else "quarantined"
        header = (
            f"{'table':<13} {'file':<28} {'read':>10} {'accepted':>10} "
            f"{quarantine_label:>13} {'blank rows':>10}"
        )
        lines.append(header)
        for name, row in self.tables.iterrows():
            file = "-" if pd.isna(row["file"]) else str(row["file"])
            lines.append(
                f"{name:<13} {file:<28} {row['rows_read']:>10,} {row['rows_accepted']:>10,} "
                f"{row['rows_quarantined']:>13,} {row['blank_rows']:>10,}"
            )
        try:
            self.reconcile()
            lines.append("Counts reconcile: rows read = accepted + quarantined in every table.")
        except ExportError as exc:
            lines.append(str(exc))
        if strict_failed:
            lines.append(
                "Strict mode: nothing was loaded. Fix the problems, or rerun with --quarantine "
                "(quarantine=True) to set the rows above aside and go on."
            )
        csv = self.tables.dropna(subset=["encoding"])
        if len(csv):
            lines += ["", "CSV files read:"]
            lines += [
                f"  {row['file']}: encoding {row['encoding']}, delimiter {row['delimiter']!r}"
                for _, row in csv.iterrows()
            ]
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {note}" for note in self.notes]
        if not self.ok:
            lines += ["", f"Problems by rule (commonest first, top {top}):", *self.digest(top)]
        return "\n".join(lines)

    def digest(self, top: int = 10) -> list[str]:
        """One line per rule, table and column: count and a first example."""
        if self.ok:
            return []
        problems = self.problems.assign(column=self.problems["column"].fillna("-"))
        grouped = (
            problems.groupby(["rule", "table", "column"], sort=False)
            .agg(
                count=("message", "size"),
                row=("row", "first"),
                file=("file", "first"),
                message=("message", "first"),
            )
            .sort_values("count", ascending=False, kind="stable")
        )
        lines = []
        for (rule, table, column), g in grouped.head(top).iterrows():
            where = f"{g['file']} row {g['row']}" if pd.notna(g["row"]) else f"{g['file']}"
            lines.append(
                f"  {rule} in {table}.{column}: {g['count']:,} (e.g. {where}: {g['message']})"
            )
        if len(grouped) > top:
            lines.append(f"  ... and {len(grouped) - top} more kinds of problem.")
        return lines
