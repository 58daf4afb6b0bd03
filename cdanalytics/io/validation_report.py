"""The report of one load: rows per table, the (bounded) problem list and exact counts.

See :mod:`cdanalytics.io.problems` for how problems are collected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import ExportError
from .csvsafe import write_csv
from .problems import COUNT_COLUMNS, PROBLEM_COLUMNS

__all__ = ["ValidationReport"]


@dataclass
class ValidationReport:
    """What a load found: rows per table, the problems listed and how many there were.

    Attributes
    ----------
    problems
        One row per listed problem, columns :data:`PROBLEM_COLUMNS` (``row``
        is the source row number, empty for file-level problems). At most
        ``max_per_rule`` problems of each rule and table are listed; the
        others are counted in ``counts`` and summed up in :attr:`omitted`.
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
    counts
        Exact number of problems per table, file, rule and column
        (:data:`COUNT_COLUMNS`), listed or not; ``None`` when every problem
        is listed (then counted from ``problems``).
    max_per_rule
        Problems listed per rule and table (``None``: no limit).
    """

    problems: pd.DataFrame
    tables: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    mode: str = "strict"
    source: Path | None = None
    counts: pd.DataFrame | None = None
    max_per_rule: int | None = None

    def __repr__(self) -> str:
        """Key figures, never the problem list: problems, rules, rows per table."""
        rules = self._counts()[["table", "rule"]].drop_duplicates()
        tables = self.tables
        rows = ""
        if {"rows_read", "rows_accepted", "rows_quarantined"} <= set(tables.columns):
            rows = "; rows read/accepted/quarantined: " + ", ".join(
                f"{str(name)[:20]} {int(read):,}/{int(accepted):,}/{int(held):,}"
                for name, read, accepted, held in tables[
                    ["rows_read", "rows_accepted", "rows_quarantined"]
                ]
                .head(6)
                .itertuples()
            )
        return (
            f"<cdanalytics.ValidationReport: {self.mode} mode, {self.n_problems:,} problems"
            f" of {len(rules)} rule(s) in {rules['table'].nunique()} table(s),"
            f" {len(self.problems):,} listed{rows}>"
        )

    def _counts(self) -> pd.DataFrame:
        if self.counts is not None:
            return self.counts
        keys = ["table", "file", "rule", "column"]
        grouped = self.problems.groupby(keys, sort=False, dropna=False).size()
        return grouped.rename("count").reset_index()[list(COUNT_COLUMNS)]

    @property
    def n_problems(self) -> int:
        """Number of problems found, listed or not."""
        return int(self._counts()["count"].sum())

    @property
    def ok(self) -> bool:
        """No problems at all."""
        return self.problems.empty and self.n_problems == 0

    @property
    def omitted(self) -> pd.DataFrame:
        """Problems not listed, per table and rule: ``file``, ``count``, ``listed``, ``omitted``.

        Only the rules and tables with problems beyond the limit.
        """
        columns = ["table", "rule", "file", "count", "listed", "omitted"]
        counts = self._counts()
        if counts.empty:
            return pd.DataFrame(columns=columns)
        total = counts.groupby(["table", "rule"], sort=False).agg(
            file=("file", "first"), count=("count", "sum")
        )
        listed = self.problems.groupby(["table", "rule"], sort=False).size()
        total["listed"] = listed.reindex(total.index, fill_value=0).astype("int64")
        total["omitted"] = total["count"] - total["listed"]
        return total[total["omitted"] > 0].reset_index()[columns]

    def counts_by_rule(self) -> pd.DataFrame:
        """Exact number of problem rows per table and rule (columns table, rule, n_rows)."""
        counts = self._counts()
        grouped = counts.groupby(["table", "rule"], sort=True)["count"].sum()
        return grouped.rename("n_rows").reset_index()

    def omitted_rows(self) -> pd.DataFrame:
        """One problem-list row per table and rule whose problems were not all listed."""
        omitted = self.omitted
        if omitted.empty:
            return pd.DataFrame(columns=list(PROBLEM_COLUMNS))
        limit = f"{self.max_per_rule:,}" if self.max_per_rule else "the limit"
        message = (
            omitted["omitted"].map("{:,}".format)
            + " more "
            + omitted["rule"]
            + " problem(s) in "
            + omitted["table"]
            + f" not listed (the list stops at {limit} per rule and table; all are counted). "
            "Fix the listed ones and validate again, or raise the limit with --max-problems "
            "(max_problems_per_rule)."
        )
        return pd.DataFrame(
            {
                "table": omitted["table"],
                "file": omitted["file"],
                "row": pd.array([None] * len(omitted), dtype="Int64"),
                "column": None,
                "value": None,
                "rule": omitted["rule"],
                "message": message.astype(object),
            }
        )

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
        """Write the listed problems to a formula-safe CSV file (UTF-8); returns the path.

        After them, one row per table and rule whose problems were not all
        listed says how many more there were (no row number, column or value).
        """
        path = Path(path)
        rows = self.problems[list(PROBLEM_COLUMNS)]
        omitted = self.omitted_rows()
        if len(omitted):
            rows = pd.concat([rows, omitted], ignore_index=True)
        return write_csv(rows[list(PROBLEM_COLUMNS)], path)

    def summary(self, top: int = 10) -> str:
        """A readable summary: counts per table, notes, and the commonest problems by rule."""
        strict_failed = self.mode == "strict" and not self.ok
        lines = [
            f"Validation of {self.source or 'export'} ({self.mode} mode): "
            + (
                "no problems."
                if self.ok
                else f"{self.n_problems:,} problem(s) in "
                f"{self._counts()['table'].nunique()} table(s)."
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
        omitted = self.omitted
        if len(omitted):
            lines += [
                "",
                f"Problem list limited to {self.max_per_rule:,} rows per rule and table: "
                f"{int(omitted['omitted'].sum()):,} more problem(s) counted but not listed:",
            ]
            lines += [
                f"  {row.rule} in {row.table}: {row.omitted:,} more (of {row.count:,})"
                for row in omitted.itertuples()
            ]
        return "\n".join(lines)

    def digest(self, top: int = 10) -> list[str]:
        """One line per rule, table and column: count and a first example."""
        if self.ok:
            return []
        problems = self.problems.assign(column=self.problems["column"].fillna("-"))
        keys = ["rule", "table", "column"]
        grouped = problems.groupby(keys, sort=False).agg(
            row=("row", "first"), file=("file", "first"), message=("message", "first")
        )
        counts = self._counts().assign(column=lambda c: c["column"].fillna("-"))
        exact = counts.groupby(keys, sort=False)["count"].sum()
        grouped.insert(0, "count", exact.reindex(grouped.index).fillna(0).astype("int64"))
        grouped = grouped.sort_values("count", ascending=False, kind="stable")
        lines = []
        for (rule, table, column), g in grouped.head(top).iterrows():
            where = f"{g['file']} row {g['row']}" if pd.notna(g["row"]) else f"{g['file']}"
            lines.append(
                f"  {rule} in {table}.{column}: {g['count']:,} (e.g. {where}: {g['message']})"
            )
        if len(grouped) > top:
            lines.append(f"  ... and {len(grouped) - top} more kinds of problem.")
        return lines
