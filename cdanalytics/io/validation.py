"""Validation of a typed export: the contract's rules, the problem list and quarantine.

Every rule is vectorised over whole columns and every rule runs on every
table, so one run finds every problem (lazy validation). Each problem names
the table, the source file, the row number a person sees in that file, the
column, the offending value (as text), the rule and a sentence saying what to
do. Tables holding a column that looks like a direct identifier are refused
before validation (:mod:`cdanalytics.io.privacy`), so a problem never echoes
an identifier.

Rules
-----
Per column (pandera, from ``data/schemas``): ``type`` (unreadable value),
``not_null``, ``allowed``, ``range``; ``missing_column``; per table:
``unique`` (every row of a duplicated key), ``required_when``
(``referral_date`` on programme rows, ``index_date`` on comparison rows);
registry rules: ``scale`` (a scale of the row's instrument), ``score_range``
(within the instrument scale's range), ``session_number`` (at most the
programme's count of that session type; review sessions: the registry's
``review.count``); across tables: ``orphan`` (``participant_id`` not in
participants), ``date_order`` (``referral_date`` <= ``start_date`` <=
``end_date``), ``session_outside_episode``, ``after_extract`` (no date after
the extract date, except ``followup_end``), ``proven_before_event``.

Sessions and the episode: every session lies on or after ``referral_date``
and on or before ``end_date`` (review sessions: up to the programme's
``review.window_days`` after it; no end while the episode is ongoing, when
the extract date bounds it); *attended* sessions lie on or after
``start_date`` (the first attended session) and need one. Missed sessions
before the start are allowed: someone booked for session 1 who first came to
session 2 starts at session 2.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc

from ..errors import ExportError
from .export import TABLES
from .schema import TableSchema, allowed_values, pandera_schema, table_schema

__all__ = [
    "PROBLEM_COLUMNS",
    "TABLE_COLUMNS",
    "TYPE_WORDS",
    "Problem",
    "ProblemLog",
    "TableData",
    "ValidationReport",
    "first_positions",
    "participant_codes",
    "validate_tables",
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


# -- per-column rules (pandera) --------------------------------------------------------------


def _rule_of_check(check: str) -> str:
    if check == "not_nullable":
        return "not_null"
    if check.startswith("isin"):
        return "allowed"
    if check.startswith(("greater_than", "less_than")):
        return "range"
    return "type"


def _column_message(rule: str, spec: TableSchema, column: str, allowed: tuple | None) -> str:
    col = spec.column(column)
    if rule == "not_null":
        return f"{column} is empty but required; fill it in, or remove the row."
    if rule == "allowed":
        return (
            f"{column} must be one of {', '.join(allowed or ())}; correct the value, or map the "
            "site's label onto one of these in a mapping file."
        )
    if rule == "range":
        lo = "" if col.min is None else f"{col.min:g}"
        hi = "" if col.max is None else f"{col.max:g}"
        return f"{column} must lie between {lo} and {hi}; check for a typing error."
    return f"{column} has the wrong type; expected {col.type}."


def check_columns(
    data: TableData,
    *,
    programmes: Mapping[str, Any],
    instruments: Mapping[str, Any],
    log: ProblemLog,
) -> None:
    """Per-column rules with pandera: not-null, allowed values, fixed ranges, dtypes."""
    spec = table_schema(data.name)
    schema = pandera_schema(
        data.name, programmes=programmes, instruments=instruments, unique_key=False
    )
    try:
        schema.validate(data.frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.dropna(subset=["column", "index"])
        checks = cases["check"].astype(str)
        cases = cases.assign(rule=checks.map({c: _rule_of_check(c) for c in checks.unique()}))
        for (column, rule), group in cases.groupby(["column", "rule"], sort=False):
            positions = group["index"].to_numpy(dtype=np.int64)
            if rule == "not_null" and column in data.reported:
                positions = positions[~data.reported[column][positions]]
            allowed = allowed_values(
                spec.column(column), programmes=programmes, instruments=instruments
            )
            message = _column_message(rule, spec, column, allowed)
            log.add_rows(data, np.sort(positions), column=column, rule=rule, message=message)


# -- keys ------------------------------------------------------------------------------------


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a key column (-1 for empty)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(dtype=np.int64)
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.fillna(-1).to_numpy(dtype=np.int64)
    return pd.factorize(values)[0].astype(np.int64)


#: Largest key space checked with a bitmap (one byte per possible key) before sorting.
_BITMAP_KEYS = 400_000_000


def _duplicated(codes: list[np.ndarray]) -> np.ndarray:
    """Mask of rows whose combined codes occur more than once (rows with -1 never).

    The codes are combined into one integer per row. When the key space is
    small enough a bitmap shows in one pass whether every key is distinct
    (the usual case); otherwise, or to find the duplicates, the keys are
    sorted. Both are far cheaper than hashing millions of rows.
    """
    complete = np.logical_and.reduce([c >= 0 for c in codes])
    sizes = [int(c.max()) + 1 if len(c) else 1 for c in codes]
    out = np.zeros(len(complete), dtype=bool)
    space = np.prod([float(s) for s in sizes])
    if space >= 2.0**62:
        frame = pd.DataFrame({i: c[complete] for i, c in enumerate(codes)})
        out[complete] = frame.duplicated(keep=False).to_numpy()
        return out
    rows = slice(None) if complete.all() else complete
    combined = codes[0][rows].astype(np.int64)
    for c, size in zip(codes[1:], sizes[1:], strict=True):
        combined *= size
        combined += c[rows]
    if space <= _BITMAP_KEYS:
        seen = np.zeros(int(space), dtype=bool)
        seen[combined] = True
        if int(np.count_nonzero(seen)) == len(combined):
            return out
    ordered = np.sort(combined)
    repeated = ordered[1:] == ordered[:-1]
    if repeated.any():
        out[rows] = np.isin(combined, np.unique(ordered[1:][repeated]))
    return out


def check_key(data: TableData, *, id_codes: np.ndarray | None, log: ProblemLog) -> None:
    """Rule ``unique``: every row of a duplicated key is reported.

    ``id_codes`` (from :func:`participant_codes`) stand for ``participant_id``
    when given, saving a second pass over the ids.
    """
    spec = table_schema(data.name)
    if not spec.key or data.frame.empty:
        return
    # An empty value of an optional key column (subject_id) is a value of its
    # own (code 0), not a reason to leave the row out of the check.
    optional = {c.name for c in spec.columns if c.nullable and not c.required}
    codes = [
        id_codes
        if column == "participant_id" and id_codes is not None
        else _codes(data.frame[column]) + (column in optional)
        for column in spec.key
    ]
    dup = _duplicated(codes)
    if not dup.any():
        return
    positions = np.flatnonzero(dup)
    sub = data.frame.iloc[positions][list(spec.key)].astype("str").fillna("")
    label = functools.reduce(lambda a, b: a + " / " + b, (sub[c] for c in spec.key))
    count = label.groupby(label).transform("size").astype(str)
    key = ", ".join(spec.key)
    message = (
        count
        + f" rows share the same {key}; keep one row per {key} (remove or correct the others)."
    )
    log.add_rows(data, positions, column=key, rule="unique", message=message, values=label)


# -- rules within a table --------------------------------------------------------------------


def check_required_when(data: TableData, log: ProblemLog) -> None:
    """Rule ``required_when``: for example ``referral_date`` on programme rows."""
    for col in table_schema(data.name).columns:
        if col.required_when is None:
            continue
        other, value = col.required_when
        missing = (
            data.frame[other].eq(value).fillna(False).to_numpy(bool)
            & data.frame[col.name].isna().to_numpy()
        )
        if col.name in data.reported:
            missing = missing & ~data.reported[col.name]
        log.add_rows(
            data,
            missing,
            column=col.name,
            rule="required_when",
            message=f"{col.name} is required on rows where {other} is {value}; fill it in.",
        )


def _days(dates: pd.Series) -> np.ndarray:
    """Dates as days since 1970-01-01 (NaN when empty), for fast comparisons.

    float32 holds every whole day of +-45,000 years exactly, in half the
    memory of float64.
    """
    values = dates.to_numpy()
    per_day = np.timedelta64(1, "D").astype(f"timedelta64[{np.datetime_data(values.dtype)[0]}]")
    days = np.floor_divide(values.view(np.int64), per_day.astype(np.int64)).astype(np.float32)
    days[np.isnat(values)] = np.nan
    return days


def _number_text(values: np.ndarray, index: np.ndarray) -> pd.Series:
    """Numbers as text, whole numbers without decimals, indexed by ``index``."""
    whole = np.isfinite(values) & (np.floor(values) == values)
    text = np.where(
        whole, np.where(whole, values, 0).astype(np.int64).astype(str), values.astype(str)
    )
    return pd.Series(text, index=index, dtype="str")


def _day_text(days: np.ndarray) -> pd.Series:
    """Days since 1970-01-01 as ``YYYY-MM-DD`` text."""
    return pd.Series(days.astype("datetime64[D]").astype(str))


def _before(
    data: TableData,
    later: str,
    earlier: np.ndarray,
    earlier_name: str,
    log: ProblemLog,
    *,
    rule: str,
    advice: str,
) -> None:
    """Report rows where column ``later`` is before ``earlier`` (days, aligned with the rows)."""
    with np.errstate(invalid="ignore"):
        positions = np.flatnonzero(_days(data.frame[later]) < earlier)
    if len(positions):
        text = _day_text(earlier[positions])
        text.index = positions
        message = f"{later} is before {earlier_name} (" + text + f"); {advice}"
        log.add_rows(data, positions, column=later, rule=rule, message=message)


def check_participant_dates(data: TableData, extract_date: pd.Timestamp, log: ProblemLog) -> None:
    """Rule ``date_order`` (referral <= start <= end) and ``after_extract``."""
    frame = data.frame
    _before(
        data,
        "start_date",
        _days(frame["referral_date"]),
        "referral_date",
        log,
        rule="date_order",
        advice="an episode starts after its referral; correct one of the two dates.",
    )
    _before(
        data,
        "end_date",
        _days(frame["start_date"]),
        "start_date",
        log,
        rule="date_order",
        advice="an episode ends on or after its start; correct one of the two dates.",
    )
    check_after_extract(
        data, ("referral_date", "start_date", "end_date", "index_date"), extract_date, log
    )


def check_after_extract(
    data: TableData, columns: tuple[str, ...], extract_date: pd.Timestamp, log: ProblemLog
) -> None:
    """Rule ``after_extract``: nothing can be dated after the extract date."""
    if pd.isna(extract_date):
        return
    day = extract_date.strftime("%Y-%m-%d")
    limit = (extract_date - pd.Timestamp("1970-01-01")).days
    for column in columns:
        with np.errstate(invalid="ignore"):
            late = _days(data.frame[column]) > limit
        log.add_rows(
            data,
            late,
            column=column,
            rule="after_extract",
            message=(
                f"{column} is after the extract date {day}; correct the date, or the "
                "manifest's extract_date if the extract is later."
            ),
        )


def check_measures(data: TableData, instruments: Mapping[str, Any], log: ProblemLog) -> None:
    """Rules ``scale`` (a scale of the row's instrument) and ``score_range``."""
    frame = data.frame
    inst, scale = frame["instrument"], frame["scale"]
    inst_codes = inst.cat.codes.to_numpy()
    scale_codes = scale.cat.codes.to_numpy()
    shape = (len(inst.cat.categories) + 1, len(scale.cat.categories) + 1)
    known_instrument = np.zeros(shape[0], dtype=bool)
    known = np.zeros(shape, dtype=bool)
    lo, hi = np.full(shape, np.nan), np.full(shape, np.nan)
    for i, code in enumerate(inst.cat.categories):
        if code not in instruments:
            continue
        known_instrument[i] = True
        for j, name in enumerate(scale.cat.categories):
            info = instruments[code]["scales"].get(name)
            if info is not None:
                known[i, j] = True
                lo[i, j], hi[i, j] = info["min"], info["max"]
    # -1 (empty) indexes the extra last slot, which is never known
    row_known_inst = known_instrument[inst_codes]
    unknown_scale = row_known_inst & (scale_codes >= 0) & ~known[inst_codes, scale_codes]
    if unknown_scale.any():
        positions = np.flatnonzero(unknown_scale)
        names = inst.iloc[positions].astype(str)
        scales = names.map({c: ", ".join(info["scales"]) for c, info in instruments.items()})
        message = (
            "instrument "
            + names
            + " has no such scale; use one of "
            + scales
            + " (the instrument registry's scale names), or map the site's scale names."
        )
        log.add_rows(data, positions, column="scale", rule="scale", message=message)
    row_lo, row_hi = lo[inst_codes, scale_codes], hi[inst_codes, scale_codes]
    score = frame["score"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        outside = (score < row_lo) | (score > row_hi)
    if outside.any():
        positions = np.flatnonzero(outside)
        message = (
            "score is outside the "
            + inst.iloc[positions].astype(str)
            + " "
            + scale.iloc[positions].astype(str)
            + " range "
            + _number_text(row_lo[positions], positions)
            + " to "
            + _number_text(row_hi[positions], positions)
            + "; check for a typing error or a different scoring of the questionnaire."
        )
        log.add_rows(data, positions, column="score", rule="score_range", message=message)


# -- across tables ---------------------------------------------------------------------------


def _arrow_text(values: pd.Series) -> pa_arrow.Array:
    if not (pd.api.types.is_string_dtype(values.dtype) and values.dtype != object):
        values = values.astype("str")
    array = pa_arrow.array(values.array)
    if isinstance(array, pa_arrow.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa_arrow.large_string())


def first_positions(columns: list[pd.Series], lookup: pd.Series) -> list[np.ndarray]:
    """Position in ``lookup`` of the first row equal to each value (-1 for none or empty).

    One Arrow hash lookup for all the columns (the hash table of ``lookup``
    is built once): far faster than pandas on millions of strings.
    """
    values = pa_arrow.chunked_array([_arrow_text(c) for c in columns], pa_arrow.large_string())
    found = pc.index_in(values, value_set=_arrow_text(lookup), skip_nulls=True)
    flat = found.fill_null(-1).to_numpy().astype(np.int64)
    return np.split(flat, np.cumsum([len(c) for c in columns])[:-1])


def participant_codes(ids: pd.Series, positions: np.ndarray, n_participants: int) -> np.ndarray:
    """An integer per distinct ``participant_id`` (-1 for empty), for key checks.

    Known participants get their position in participants; unknown ids
    (orphans) codes after those.
    """
    codes = positions.copy()
    orphan = (positions < 0) & ids.notna().to_numpy()
    if orphan.any():
        codes[orphan] = n_participants + pd.factorize(ids[orphan])[0]
    return codes


def check_orphans(data: TableData, parent: np.ndarray, log: ProblemLog) -> None:
    """Rule ``orphan``: a child row names no participant."""
    orphan = (parent < 0) & data.frame["participant_id"].notna().to_numpy()
    log.add_rows(
        data,
        orphan,
        column="participant_id",
        rule="orphan",
        message=(
            "participant_id matches no row of participants; add the participant, correct the "
            "id, or remove the row."
        ),
    )


def _programme_table(
    participants: pd.DataFrame, programmes: Mapping[str, Any], field_fn
) -> np.ndarray:
    """One value per programme category (NaN for unknown), with a last slot for empty."""
    cats = participants["programme"].cat.categories
    out = np.full(len(cats) + 1, np.nan)
    for i, code in enumerate(cats):
        if code in programmes:
            out[i] = field_fn(programmes[code])
    return out


def _aligned(participants: pd.DataFrame, columns: list[str], parent: np.ndarray) -> np.ndarray:
    """Date columns of participants as days, one row per child row (NaN without participant).

    The columns are gathered together, one random access per child row.
    """
    days = np.column_stack([_days(participants[c]) for c in columns])
    out = days[np.maximum(parent, 0)]
    out[parent < 0] = np.nan
    return out


def check_session_numbers(
    data: TableData,
    participants: pd.DataFrame,
    row_programme: np.ndarray,
    programmes: Mapping[str, Any],
    log: ProblemLog,
) -> None:
    """Rule ``session_number``: at most the programme's count of that session type."""
    types = data.frame["session_type"]
    type_codes = types.cat.codes.to_numpy()
    limit = np.full(len(type_codes), np.nan)
    valid = table_schema("sessions").column("session_type").allowed or ()
    for i, kind in enumerate(types.cat.categories):
        if kind not in valid:
            continue  # reported by the allowed-values rule
        if kind == "review":
            counts = _programme_table(participants, programmes, lambda e: e["review"]["count"])
        else:
            counts = _programme_table(
                participants, programmes, lambda e, k=kind: e["core"].get(k, 0)
            )
        rows = type_codes == i
        limit[rows] = counts[row_programme[rows]]
    number = data.frame["session_number"].to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        positions = np.flatnonzero(number > limit)
    if not len(positions):
        return
    cats = participants["programme"].cat.categories
    programme = pd.Series(np.asarray(cats, dtype=object)[row_programme[positions]], index=positions)
    kind = pd.Series(types.iloc[positions].astype(str).to_numpy(), index=positions)
    count = _number_text(limit[positions], positions)
    message = (
        "session_number is above the "
        + count
        + " "
        + kind
        + " sessions of programme "
        + programme
        + " in the registry; correct the number or the participant's programme (or register "
        "the programme's count in the evaluation config)."
    )
    log.add_rows(data, positions, column="session_number", rule="session_number", message=message)


def check_sessions(
    data: TableData,
    participants: pd.DataFrame,
    parent: np.ndarray,
    programmes: Mapping[str, Any],
    extract_date: pd.Timestamp,
    log: ProblemLog,
) -> None:
    """Rules ``session_number``, ``session_outside_episode`` and ``after_extract``."""
    frame = data.frame
    prog_codes = participants["programme"].cat.codes.to_numpy()
    # -1 (no participant, empty programme) indexes the last slot of the programme tables
    row_programme = np.where(parent >= 0, prog_codes[np.maximum(parent, 0)], -1)
    check_session_numbers(data, participants, row_programme, programmes, log)

    window = _programme_table(participants, programmes, lambda e: e["review"]["window_days"])
    is_review = frame["session_type"].eq("review").to_numpy(dtype=bool, na_value=False)
    allowance = np.where(is_review, window[row_programme], 0.0)
    date = _days(frame["session_date"])
    episode = _aligned(participants, ["referral_date", "start_date", "end_date"], parent)
    start, end = episode[:, 1], episode[:, 2]
    attended = frame["attendance"].eq("attended").to_numpy(dtype=bool, na_value=False)
    _before(
        data,
        "session_date",
        np.ascontiguousarray(episode[:, 0]),
        "the participant's referral_date",
        log,
        rule="session_outside_episode",
        advice="correct the session date or the referral date.",
    )
    with np.errstate(invalid="ignore"):
        early = np.flatnonzero(attended & (date < start))
        late = np.flatnonzero(date > end + allowance)
    if len(early):
        text = _day_text(start[early])
        text.index = early
        message = (
            "attended session before the participant's start_date ("
            + text
            + "); start_date is the first attended session: correct one of the two."
        )
        log.add_rows(
            data, early, column="session_date", rule="session_outside_episode", message=message
        )
    no_start = attended & (parent >= 0) & np.isnan(start) & ~np.isnan(date)
    log.add_rows(
        data,
        no_start,
        column="session_date",
        rule="session_outside_episode",
        message=(
            "attended session of a participant without start_date; fill in start_date "
            "(the first attended session) or correct the attendance."
        ),
    )
    if len(late):
        text = _day_text(end[late])
        text.index = late
        days = _number_text(allowance[late], late)
        extra = (" + " + days + " days allowed for review sessions").where(allowance[late] > 0, "")
        message = (
            "session_date is after the participant's end_date ("
            + text
            + extra
            + "); correct the session date or the end date."
        )
        log.add_rows(
            data, late, column="session_date", rule="session_outside_episode", message=message
        )
    check_after_extract(data, ("session_date",), extract_date, log)


def check_events(data: TableData, extract_date: pd.Timestamp, log: ProblemLog) -> None:
    """Rules ``proven_before_event`` and ``after_extract``."""
    _before(
        data,
        "proven_date",
        _days(data.frame["event_date"]),
        "event_date",
        log,
        rule="proven_before_event",
        advice="an offence is proven on or after the day it was committed; correct one date.",
    )
    check_after_extract(data, ("event_date", "proven_date"), extract_date, log)


def validate_tables(
    tables: Mapping[str, TableData],
    *,
    extract_date: pd.Timestamp,
    programmes: Mapping[str, Any],
    instruments: Mapping[str, Any],
    log: ProblemLog,
) -> dict[str, np.ndarray]:
    """Run every rule on typed tables, adding problems to ``log``.

    Parameters
    ----------
    tables
        Every table of :data:`~cdanalytics.io.export.TABLES`, typed, with all
        contract columns present.
    extract_date
        The manifest's extract date (``NaT`` skips the rules that need it).
    programmes, instruments
        Resolved registries.
    log
        Receives the problems.

    Returns
    -------
    dict
        Table name to the position in participants of each row's participant
        (-1 when none), for the child tables; used to quarantine the rows of
        a quarantined participant.
    """
    participants = tables["participants"]
    known = participants.frame["participant_id"]
    ids = {name: tables[name].frame["participant_id"] for name in TABLES}
    positions = dict(zip(TABLES, first_positions(list(ids.values()), known), strict=True))
    parents = {name: positions[name] for name in TABLES[1:]}
    codes = {name: participant_codes(ids[name], positions[name], len(known)) for name in TABLES}
    for name in TABLES:
        data = tables[name]
        check_columns(data, programmes=programmes, instruments=instruments, log=log)
        if name != "participants":
            check_orphans(data, parents[name], log)
        check_key(data, id_codes=codes[name], log=log)
        check_required_when(data, log)
    check_participant_dates(participants, extract_date, log)
    check_sessions(
        tables["sessions"],
        participants.frame,
        parents["sessions"],
        programmes,
        extract_date,
        log,
    )
    check_measures(tables["measures"], instruments, log)
    check_after_extract(tables["measures"], ("measured_on",), extract_date, log)
    check_events(tables["events"], extract_date, log)
    return parents


# -- report ----------------------------------------------------------------------------------


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
