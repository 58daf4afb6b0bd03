"""Typing raw tables and the manifest to the contract, logging every reading problem.

Before a value is typed it is checked as a cell (:mod:`cdanalytics.io.cells`:
Excel error values, control characters); typing then reports unreadable
values (``type``), counts written with a thousands separator the mapping
does not declare (``thousands_separator``) and dates before 1900
(``before_1900``). Identifiers are compared after surrounding whitespace is
removed; how many were trimmed is told once, per table and column, as a
:class:`~cdanalytics.errors.DataQualityWarning` and in the notes.

The manifest is checked too: a readable ``extract_date`` not after today
(one day of clock skew allowed, rule ``after_today``) and ``schema_version``
exactly 1, written as a whole number (rules ``type`` and ``range``).
"""

from __future__ import annotations

import datetime as dt
import difflib
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import DataQualityWarning
from .cells import CONTROL_CHARACTER, EXCEL_ERROR, cell_problems, printable
from .coerce import THOUSANDS_SEPARATOR, Coerced, NumberFormat, coerce
from .mapping import SiteMapping
from .problems import TYPE_WORDS, Problem, ProblemLog, TableData
from .read import RawTable
from .schema import ColumnSpec, table_schema

__all__ = [
    "CLOCK_SKEW_DAYS",
    "EARLIEST_DATE",
    "SCHEMA_VERSION",
    "type_manifest",
    "type_table",
    "warn_trimmed",
]

#: The earliest date accepted in a date column (earlier ones are typing errors).
EARLIEST_DATE = pd.Timestamp("1900-01-01")

#: The contract version this package reads.
SCHEMA_VERSION = 1

#: Days an extract date may lie after today's date on this machine (clocks and time zones).
CLOCK_SKEW_DAYS = 1

_CELL_MESSAGES = {
    EXCEL_ERROR: (
        "{column} holds an Excel error value (a formula failed); fix the formula or type the "
        "value in the source system's export, then export again."
    ),
    CONTROL_CHARACTER: (
        "{column} holds a control character (such as NUL); the file is damaged or was "
        "exported with the wrong encoding: remove the character or export again."
    ),
}


def _missing_column_message(column: str, file: str, present: list[str], mapping_hint: bool) -> str:
    close = difflib.get_close_matches(column, present, n=1, cutoff=0.6)
    lowered = [c for c in present if c.lower().replace(" ", "_") == column]
    guess = (lowered or close or [None])[0]
    hint = f" (is {guess!r} meant to be it?)" if guess else ""
    how = (
        "or map the site's column onto it in the mapping file"
        if mapping_hint
        else "or map the site's column name onto it with a mapping file (--mapping)"
    )
    return f"Required column {column} is missing from {file}{hint}; add it, {how}."


def _empty_column(col: ColumnSpec, n: int) -> pd.Series:
    """A column absent from the file: its default in every row, else empty (no per-row objects)."""
    if col.default is not None:
        one = coerce(pd.Series([col.default] * min(n, 1), dtype="object"), col.type).series
        return one.take(np.zeros(n, dtype=np.intp)).reset_index(drop=True)
    if col.type == "category":
        codes = np.full(n, -1, dtype=np.int8)
        return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index([], dtype="str")))
    if col.dtype == "Int64":
        values = pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, dtype=bool))
        return pd.Series(values, copy=False)
    if col.dtype == "boolean":
        values = pd.arrays.BooleanArray(np.zeros(n, bool), np.ones(n, dtype=bool))
        return pd.Series(values, copy=False)
    if col.dtype == "str":  # Arrow nulls: no value made and converted per row
        return pd.Series(pd.array(pa.nulls(n, pa.large_string()), dtype="str"), copy=False)
    return pd.Series(index=pd.RangeIndex(n), dtype=col.dtype)


def _fill_default(values: pd.Series, default: Any) -> pd.Series:
    if not values.hasnans:
        return values
    if isinstance(values.dtype, pd.CategoricalDtype) and default not in values.cat.categories:
        values = values.cat.add_categories([default])
    return values.fillna(default)


def _covariate(values: pd.Series, number_format: NumberFormat | None) -> pd.Series:
    """An extra column: text that is wholly numeric becomes numbers, else kept as read."""
    if not (pd.api.types.is_string_dtype(values.dtype) and values.notna().any()):
        return values
    number = coerce(values, "number", number_format=number_format)
    if number.bad.any():
        return values
    whole = number.series.dropna()
    return number.series.astype("Int64") if (whole == np.floor(whole)).all() else number.series


def _checked_cells(data: TableData, column: str, source: pd.Series, log: ProblemLog) -> pd.Series:
    """Log Excel error values and control characters of a raw column; return it without them."""
    found = np.zeros(len(source), dtype=bool)
    for rule, mask in cell_problems(source).items():
        if not mask.any():
            continue
        positions = np.flatnonzero(mask)
        shown = source.iloc[positions]
        shown = printable(shown) if rule == CONTROL_CHARACTER else shown.astype("str")
        log.add_rows(
            data,
            positions,
            column=column,
            rule=rule,
            message=_CELL_MESSAGES[rule].format(column=column),
            values=pd.Series(shown.to_numpy(), index=positions),
        )
        found |= mask
    if not found.any():
        return source
    data.reported[column] = found | data.reported.get(column, False)
    return source.mask(found)


def _earliest(values: pd.Series) -> Any:
    """The earliest date of a column (NaT when none), without a column-long temporary."""
    if not len(values):
        return pd.NaT
    dates = values.to_numpy()
    # as 64-bit integers (a faster minimum than of dates): NaT is the smallest
    ints = dates.view(np.int64)
    nat, top = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    smallest = ints.min()
    if smallest != nat:
        return np.int64(smallest).astype(dates.dtype)
    # one less, NaT wraps round to the largest integer and every date stays in
    # order: the least of the dates, one block at a time in a small buffer
    block = 1 << 20
    buffer = np.empty(min(len(ints), block), dtype=np.int64)
    least = top
    for start in range(0, len(ints), block):
        part = buffer[: len(ints[start : start + block])]
        np.subtract(ints[start : start + block], 1, out=part)
        least = min(least, int(part.min()))
    return pd.NaT if least == top else np.int64(least + 1).astype(dates.dtype)


def _before_1900(data: TableData, column: str, values: pd.Series, log: ProblemLog) -> None:
    earliest = _earliest(values)
    if pd.isna(earliest) or earliest >= EARLIEST_DATE:
        return
    early = (values < EARLIEST_DATE).to_numpy(dtype=bool, na_value=False)
    log.add_rows(
        data,
        early,
        column=column,
        rule="before_1900",
        message=(
            f"{column} is before {EARLIEST_DATE:%Y-%m-%d}; correct the date (a year typed wrong, "
            "or a placeholder such as 01-01-1850 for an unknown date: leave it empty instead)."
        ),
        values=values,
    )


def _type_column(
    data: TableData,
    col: ColumnSpec,
    source: pd.Series,
    site: SiteMapping,
    log: ProblemLog,
    notes: list[str],
    trimmed: dict[str, int],
    whole_days: bool = False,
    take_over: bool = False,
) -> pd.Series:
    mapping = site.table(data.name)
    source = _checked_cells(data, col.name, source, log)
    labels = mapping.labels.get(col.name)
    if (
        whole_days
        and col.type == "date"
        and not labels
        and pd.api.types.is_datetime64_dtype(source.dtype)
    ):
        # dates by the file's own type: already at midnight, nothing unreadable
        typed = Coerced(source.reset_index(drop=True), np.zeros(len(source), dtype=bool))
    else:
        typed = coerce(
            source,
            col.type,
            labels=labels,
            date_format=site.date_format_for(data.name, col.name),
            number_format=site.number_format,
            take_over=take_over,
        )
    if typed.note:
        notes.append(f"{data.file}, {mapping.source_name(col.name)}: {typed.note}.")
    if typed.trimmed:
        trimmed[f"{data.file}, {mapping.source_name(col.name)}"] = typed.trimmed
    if typed.bad.any():
        data.reported[col.name] = typed.bad | data.reported.get(col.name, False)
        log.add_rows(
            data,
            typed.bad,
            column=col.name,
            rule="type",
            message=f"{col.name} must be {TYPE_WORDS[col.type]}; correct the value.",
            values=source.reset_index(drop=True),
        )
    grouped = typed.flags.get(THOUSANDS_SEPARATOR)
    if grouped is not None and grouped.any():
        data.reported[col.name] = grouped | data.reported.get(col.name, False)
        log.add_rows(
            data,
            grouped,
            column=col.name,
            rule=THOUSANDS_SEPARATOR,
            message=(
                f"{col.name} looks written with a thousands separator (1,000 or 1.000), which "
                "cannot be told from a decimal mark; write whole numbers without one, or declare "
                'number_format (for example {decimal: ",", thousands: "."}) in the mapping.'
            ),
            values=source.reset_index(drop=True),
        )
    if col.type == "date":
        _before_1900(data, col.name, typed.series, log)
    return typed.series if col.default is None else _fill_default(typed.series, col.default)


def type_table(
    raw: RawTable | None,
    name: str,
    site: SiteMapping,
    log: ProblemLog,
    notes: list[str],
    trimmed: dict[str, int],
    *,
    take_over: bool = False,
) -> TableData:
    """Type every contract column of a raw table, logging reading problems and missing columns.

    Parameters
    ----------
    raw
        The table as read, or ``None`` for an absent optional table.
    name
        Contract table name.
    site
        The site mapping (labels, date and number formats).
    log
        Receives the problems.
    notes
        Receives remarks on how columns were read.
    trimmed
        Receives, per ``"file, column"``, how many identifiers had
        surrounding whitespace removed.
    take_over
        The caller gives ``raw``'s frame up (reads it no more): whole numbers
        and numbers held as ``int64`` / ``float64`` become typed columns over
        the same memory instead of copies (:func:`~cdanalytics.io.coerce.coerce`).
        Otherwise no typed column shares memory it can write with ``raw``.

    Returns
    -------
    TableData
        Every contract column typed (absent ones empty), extra columns kept.
    """
    spec = table_schema(name)
    mapping = site.table(name)
    n = 0 if raw is None else len(raw.frame)
    rows = np.empty(0, dtype=np.int64) if raw is None else raw.rows
    data = TableData(
        name, pd.DataFrame(index=pd.RangeIndex(n)), rows, None if raw is None else raw.file
    )
    columns: dict[str, pd.Series] = {}
    for col in spec.columns:
        if raw is None or col.name not in raw.frame.columns:
            if raw is not None and col.required:
                message = _missing_column_message(
                    col.name, raw.file, list(raw.frame.columns), bool(site.source)
                )
                log.add(Problem(name, raw.file, None, col.name, None, "missing_column", message))
                data.reported[col.name] = np.ones(n, dtype=bool)
            columns[col.name] = _empty_column(col, n)
            continue
        columns[col.name] = _type_column(
            data,
            col,
            raw.frame[col.name],
            site,
            log,
            notes,
            trimmed,
            col.name in raw.whole_days,
            take_over,
        )
    if raw is not None:
        for extra in raw.frame.columns.difference(list(spec.names), sort=False):
            labels = mapping.labels.get(extra)
            column = _checked_cells(data, extra, raw.frame[extra].reset_index(drop=True), log)
            columns[extra] = (
                coerce(column, "category", labels=labels).series
                if labels
                else _covariate(column, site.number_format)
            )
    data.frame = pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)
    return data


def warn_trimmed(trimmed: Mapping[str, int], notes: list[str]) -> None:
    """One warning (and a note per column) saying how many identifiers were trimmed."""
    if not trimmed:
        return
    parts = [f"{where}: {n:,}" for where, n in trimmed.items()]
    for part in parts:
        notes.append(f"{part} identifier(s) had surrounding spaces, removed before matching.")
    warnings.warn(
        "Identifiers with surrounding spaces were trimmed before matching ("
        + "; ".join(parts)
        + "); check the source system's export.",
        DataQualityWarning,
        stacklevel=3,
    )


def _schema_version_problem(version: Any, from_sheet: bool) -> tuple[str, str] | None:
    """Rule and message when ``schema_version`` is ill-typed or unknown, else ``None``."""
    if from_sheet and isinstance(version, str) and version.strip().isascii():
        version = int(version.strip()) if version.strip().isdigit() else version
    if isinstance(version, bool) or not isinstance(version, int):
        return (
            "type",
            "schema_version must be a whole number written without quotes (schema_version: 1).",
        )
    if version != SCHEMA_VERSION:
        return (
            "range",
            f"schema_version must be {SCHEMA_VERSION}: this version of cdanalytics reads "
            f"contract version {SCHEMA_VERSION}.",
        )
    return None


def _today() -> dt.date:
    return dt.date.today()


def type_manifest(
    raw: dict[str, Any],
    file: str,
    from_sheet: bool,
    site: SiteMapping,
    log: ProblemLog,
    notes: list[str],
) -> tuple[pd.Timestamp, dict[str, Any]]:
    """Check the manifest's key/value pairs; return the extract date and the values.

    Parameters
    ----------
    raw
        The pairs as read (JSON values, or text from a manifest sheet).
    file
        The manifest as named in problems.
    from_sheet
        The pairs come from a workbook sheet, where every value is text.
    site, log, notes
        Mapping (key names, date format), problem log and notes.

    Returns
    -------
    tuple
        The extract date (``NaT`` when missing or invalid) and the values
        under their contract key names.
    """
    values = {site.manifest.keys.get(str(k), str(k)): v for k, v in raw.items()}
    known = set(table_schema("manifest").names)
    extra = sorted(set(values) - known)
    if extra:
        notes.append(f"{file}: keys ignored (not part of the contract): {', '.join(extra)}.")

    def problem(column: str, value: Any, rule: str, message: str) -> None:
        text = None if value is None else str(value)
        log.add(Problem("manifest", file, None, column, text, rule, message))

    extract = pd.NaT
    raw_extract = values.get("extract_date")
    if raw_extract in (None, ""):
        problem(
            "extract_date",
            None,
            "not_null",
            "The manifest has no extract_date; add the date the data were extracted "
            '(for example "extract_date": "2025-06-30"): it is the end of observation.',
        )
    else:
        typed = coerce(
            pd.Series([str(raw_extract)], dtype="str"), "date", date_format=site.date_format
        )
        if typed.bad.any():
            problem(
                "extract_date",
                raw_extract,
                "type",
                "The manifest's extract_date is not a date; write it as YYYY-MM-DD.",
            )
        else:
            extract = pd.Timestamp(typed.series.iloc[0])
    latest = pd.Timestamp(_today()) + pd.Timedelta(days=CLOCK_SKEW_DAYS)
    if pd.notna(extract) and extract > latest:
        problem(
            "extract_date",
            raw_extract,
            "after_today",
            f"The manifest's extract_date {extract:%Y-%m-%d} is after today: it must be the "
            "day the data were extracted (it ends observation, and a date in the future would "
            "count people not yet eligible as non-reoffenders); correct it.",
        )
        extract = pd.NaT
    if pd.notna(extract) and extract < EARLIEST_DATE:
        problem(
            "extract_date",
            raw_extract,
            "before_1900",
            f"The manifest's extract_date is before {EARLIEST_DATE:%Y-%m-%d}; correct it.",
        )
        extract = pd.NaT
    version = values.get("schema_version", SCHEMA_VERSION)
    found = _schema_version_problem(version, from_sheet)
    if found is not None:
        problem("schema_version", version, *found)
    return extract, values
