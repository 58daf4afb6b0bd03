"""Validation rules within one table: per-column (pandera), keys, required-when, dates, scores.

Every rule is vectorised over whole columns and adds its problems to a
:class:`~cdanalytics.io.problems.ProblemLog`; see :mod:`cdanalytics.io.validation`
for the list of rules.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .._dates import day_numbers
from ._take import take_small, take_small_2d
from .keys import duplicated_keys
from .problems import ProblemLog, TableData
from .schema import TableSchema, allowed_values, table_schema

__all__ = [
    "PARTICIPANT_DATES",
    "before",
    "check_after_extract",
    "check_columns",
    "check_key",
    "check_measures",
    "check_participant_dates",
    "check_required_when",
    "day_text",
    "duplicated_keys",
    "has_empty",
    "number_text",
    "to_days",
]


# -- per-column rules (the pandera schema) ---------------------------------------------------------


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


def _outside(values: pd.Series, lo: float | None, hi: float | None) -> np.ndarray | None:
    """Mask of the values below ``lo`` or above ``hi`` (``None`` when there are none).

    A NumPy column's smallest and largest value (empty values skipped) show
    in two passes without temporaries whether any value can be outside; only
    then is the mask made. Nullable integers are compared directly (their
    extremes would be taken from a copy of the values).
    """
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iuf":
        data = values.to_numpy()
        if not len(data):
            return None
        if data.dtype.kind == "f":  # fmin/fmax skip NaN (NaN only when all are)
            smallest, largest = np.fmin.reduce(data), np.fmax.reduce(data)
        else:
            smallest, largest = data.min(), data.max()
        if np.isnan(smallest) or ((lo is None or smallest >= lo) and (hi is None or largest <= hi)):
            return None
    if pd.api.types.is_integer_dtype(values.dtype):
        # compared as (nullable) integers: no float copy of the column
        none = np.zeros(len(values), dtype=bool)
        below = none if lo is None else (values < lo).to_numpy(dtype=bool, na_value=False)
        above = none if hi is None else (values > hi).to_numpy(dtype=bool, na_value=False)
    else:
        number = values.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            below = number < lo if lo is not None else np.zeros(len(number), dtype=bool)
            above = number > hi if hi is not None else np.zeros(len(number), dtype=bool)
    return below | above


def has_empty(values: pd.Series) -> bool:
    """Whether a column has an empty value, in one pass without a column-long mask
    (a nullable column's mask is copied)."""
    if not len(values):
        return False
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return bool(values.cat.codes.to_numpy().min() < 0)
    if isinstance(dtype, np.dtype):
        if dtype.kind == "M":
            return bool(np.isnat(values.to_numpy().min()))  # NaT is the smallest
        if dtype.kind == "f":
            return bool(np.isnan(values.to_numpy().min()))  # NaN propagates
        if dtype.kind in "iub":
            return False
    if isinstance(dtype, pd.ArrowDtype) or (
        isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"
    ):
        return pa.array(values.array).null_count > 0  # Arrow's own count, no copy
    return bool(values.isna().any())


def _column_masks(
    values: pd.Series, nullable: bool, allowed: tuple | None, lo: float | None, hi: float | None
) -> dict[str, np.ndarray]:
    """Masks of the rows breaking ``not_null``, ``allowed`` and ``range`` in one column.

    A rule no row breaks may have no mask: an enumeration whose categories
    are all allowed, or a column whose values all lie within the range, is
    seen to be clean without a pass over its rows.
    """
    masks: dict[str, np.ndarray] = {}
    if not nullable and has_empty(values):
        masks["not_null"] = values.isna().to_numpy()
    if allowed is not None:
        if isinstance(values.dtype, pd.CategoricalDtype):
            outside = ~values.cat.categories.isin(list(allowed))
            if outside.any():
                # code -1 (empty) reads the last slot, which is never outside
                masks["allowed"] = take_small(
                    np.append(outside, False), values.cat.codes.to_numpy()
                )
        else:
            masks["allowed"] = values.notna().to_numpy() & ~values.isin(list(allowed)).to_numpy()
    if lo is not None or hi is not None:
        outside_range = _outside(values, lo, hi)
        if outside_range is not None:
            masks["range"] = outside_range
    return masks


def check_columns(
    data: TableData,
    *,
    programmes: Mapping[str, Any],
    instruments: Mapping[str, Any],
    log: ProblemLog,
) -> None:
    """Per-column rules: not-null, allowed values, fixed ranges (and dtypes, with pandera).

    The rules of the table's pandera schema (:func:`~cdanalytics.io.schema.pandera_schema`)
    are evaluated as boolean masks over whole columns, so a table with
    millions of bad values costs a few array operations and no failure-case
    objects, and one pass over each column. (The tests check that pandera
    finds the same rows; the load does not run it a second time.)
    """
    spec = table_schema(data.name)
    for col in spec.columns:
        if col.name not in data.frame.columns:
            continue
        allowed = allowed_values(col, programmes=programmes, instruments=instruments)
        masks = _column_masks(data.frame[col.name], col.nullable, allowed, col.min, col.max)
        for rule, mask in masks.items():
            if rule == "not_null" and col.name in data.reported:
                mask = mask & ~data.reported[col.name]
            if mask.any():
                message = _column_message(rule, spec, col.name, allowed)
                log.add_rows(data, mask, column=col.name, rule=rule, message=message)


# -- keys ------------------------------------------------------------------------------------


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a key column (-1 for empty)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy()  # int8 or int16: combined in int64 later
    if pd.api.types.is_integer_dtype(values.dtype):
        if not values.hasnans:  # the numbers themselves (a view when held as int64)
            return values.to_numpy(dtype=np.int64)
        # compared, not reduced: pandas takes a nullable column's extremes from a copy
        large = ((values <= -(2**31)) | (values >= 2**31)).any()
        # small numbers (counts): int32 codes, half the memory, the same values
        return values.to_numpy(dtype=np.int64 if large else np.int32, na_value=-1)
    if not values.notna().any():  # an absent optional column: nothing to hash
        return np.full(len(values), -1, dtype=np.int64)
    return pd.factorize(values)[0].astype(np.int64)


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
        else (
            np.add(_codes(data.frame[column]), 1, dtype=np.int64)
            if column in optional
            else _codes(data.frame[column])
        )
        for column in spec.key
    ]
    dup = duplicated_keys(codes)
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
        if not has_empty(data.frame[col.name]):
            continue
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


def to_days(dates: pd.Series) -> np.ndarray:
    """Dates as days since 1970-01-01 (NaN when empty), for fast comparisons:
    :func:`~cdanalytics._dates.day_numbers` in float32, which holds every whole
    day of +-45,000 years exactly, in half the memory of float64."""
    return day_numbers(dates, dtype=np.float32)


def number_text(values: np.ndarray, index: np.ndarray) -> pd.Series:
    """Numbers as text, whole numbers without decimals, indexed by ``index``."""
    whole = np.isfinite(values) & (np.floor(values) == values)
    text = np.where(
        whole, np.where(whole, values, 0).astype(np.int64).astype(str), values.astype(str)
    )
    return pd.Series(text, index=index, dtype="str")


def day_text(days: np.ndarray) -> pd.Series:
    """Days since 1970-01-01 as ``YYYY-MM-DD`` text."""
    return pd.Series(days.astype("datetime64[D]").astype(str))


def before(
    data: TableData,
    later: str,
    earlier: np.ndarray,
    earlier_name: str,
    log: ProblemLog,
    *,
    rule: str,
    advice: str,
    later_days: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> None:
    """Report rows where column ``later`` is before ``earlier`` (days, aligned with the rows).

    ``later_days``: column ``later`` as days (:func:`to_days`), when already
    computed. ``rows``: the positions ``earlier`` and ``later_days`` hold
    (ascending), when only some rows can break the rule; ``None``: every row.
    """
    if later_days is None:
        later_days = to_days(data.frame[later])
    with np.errstate(invalid="ignore"):
        found = np.flatnonzero(later_days < earlier)
    if len(found):
        positions = found if rows is None else rows[found]
        text = day_text(earlier[found])
        text.index = positions
        message = f"{later} is before {earlier_name} (" + text + f"); {advice}"
        log.add_rows(data, positions, column=later, rule=rule, message=message)


#: Date columns of participants that the rules compare, converted to days once.
PARTICIPANT_DATES: tuple[str, ...] = ("referral_date", "start_date", "end_date", "index_date")


def check_participant_dates(
    data: TableData,
    extract_date: pd.Timestamp,
    log: ProblemLog,
    days: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Rule ``date_order`` (referral <= start <= end) and ``after_extract``.

    ``days``: the columns of :data:`PARTICIPANT_DATES` as days (:func:`to_days`),
    when already computed.
    """
    if days is None:
        days = {c: to_days(data.frame[c]) for c in PARTICIPANT_DATES}
    before(
        data,
        "start_date",
        days["referral_date"],
        "referral_date",
        log,
        rule="date_order",
        advice="an episode starts after its referral; correct one of the two dates.",
        later_days=days["start_date"],
    )
    before(
        data,
        "end_date",
        days["start_date"],
        "start_date",
        log,
        rule="date_order",
        advice="an episode ends on or after its start; correct one of the two dates.",
        later_days=days["end_date"],
    )
    check_after_extract(data, PARTICIPANT_DATES, extract_date, log, days=days)


def check_after_extract(
    data: TableData,
    columns: tuple[str, ...],
    extract_date: pd.Timestamp,
    log: ProblemLog,
    days: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Rule ``after_extract``: nothing can be dated after the extract date.

    ``days``: columns already converted by :func:`to_days`, by name.
    """
    if pd.isna(extract_date):
        return
    day = extract_date.strftime("%Y-%m-%d")
    limit = (extract_date - pd.Timestamp("1970-01-01")).days
    for column in columns:
        with np.errstate(invalid="ignore"):
            known = None if days is None else days.get(column)
            late = (to_days(data.frame[column]) if known is None else known) > limit
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
    row_known_inst = take_small(known_instrument, inst_codes)
    unknown_scale = (
        row_known_inst & (scale_codes >= 0) & ~take_small_2d(known, inst_codes, scale_codes)
    )
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
    # float32 bounds when they are exactly float32 (whole numbers, halves):
    # the same comparisons, half the memory of the per-row bounds
    if np.array_equal(lo.astype(np.float32), lo, equal_nan=True) and np.array_equal(
        hi.astype(np.float32), hi, equal_nan=True
    ):
        lo, hi = lo.astype(np.float32), hi.astype(np.float32)
    row_lo = take_small_2d(lo, inst_codes, scale_codes)
    row_hi = take_small_2d(hi, inst_codes, scale_codes)
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
            + number_text(row_lo[positions].astype(np.float64), positions)
            + " to "
            + number_text(row_hi[positions].astype(np.float64), positions)
            + "; check for a typing error or a different scoring of the questionnaire."
        )
        log.add_rows(data, positions, column="score", rule="score_range", message=message)
