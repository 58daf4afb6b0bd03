"""Typing raw columns to the contract's types, keeping track of unreadable values.

Each function takes a raw column (text, categorical of text, or already typed
by the file format) and returns a :class:`Coerced`: the typed column, a mask
of non-empty values that could not be read (reported as ``type`` problems by
the loader) and a note on how the column was read (for example day-first
dates or decimal commas).

Text is parsed once per distinct value (columns are factorised first), so a
column of 17 million session dates costs as much as its few thousand distinct
dates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._take import take_small
from .textbytes import arrow_text, edge_bytes, value_bytes

__all__ = ["THOUSANDS_SEPARATOR", "Coerced", "NumberFormat", "coerce"]

#: Rule of a count that looks written with a thousands separator ("1,000", "1.000").
THOUSANDS_SEPARATOR = "thousands_separator"

_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_YMD = re.compile(rf"^(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_TIME}$")
_XXY = re.compile(rf"^(\d{{1,2}})[-/.](\d{{1,2}})[-/.](\d{{4}}){_TIME}$")
_DECIMAL_COMMA = re.compile(r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d*),\d+$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:[.,]\d{3})+$")
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


@dataclass
class Coerced:
    """A column typed to the contract.

    Attributes
    ----------
    series
        The typed column (unreadable values empty), same length and order as
        the input, with a default index.
    bad
        Boolean mask of values that were not empty but could not be read.
    note
        How the column was read, when worth telling (``None`` otherwise).
    """

    series: pd.Series
    bad: np.ndarray
    note: str | None = None
    flags: dict[str, np.ndarray] = field(default_factory=dict)
    trimmed: int = 0


@dataclass(frozen=True)
class NumberFormat:
    """How a site writes numbers, declared in its mapping (``number_format:``).

    Attributes
    ----------
    decimal
        The decimal mark, ``"."`` or ``","``.
    thousands
        The thousands separator (``"."``, ``","``, ``" "`` or ``"'"``), or
        ``None`` when numbers are written without one.
    """

    decimal: str = "."
    thousands: str | None = None

    def pattern(self) -> re.Pattern[str]:
        """An anchored, linear-time pattern of a number written this way."""
        d = re.escape(self.decimal)
        whole = r"\d+"
        if self.thousands:
            whole = rf"(?:\d{{1,3}}(?:{re.escape(self.thousands)}\d{{3}})+|\d+)"
        return re.compile(rf"^[+-]?(?:{whole}(?:{d}\d+)?|{d}\d+)$")


def _codes_uniques(
    s: pd.Series, labels: Mapping[str, str | None] | None = None
) -> tuple[np.ndarray, pd.Series]:
    """Codes and distinct values of a column as stripped, relabelled text.

    Codes point into the distinct values; empty values (and values that are
    empty after stripping or relabelling) have code -1.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes, uniques = s.cat.codes.to_numpy(), s.cat.categories
    else:
        codes, uniques = pd.factorize(s)
    if pd.api.types.is_float_dtype(uniques.dtype) and (uniques.dropna() % 1 == 0).all():
        uniques = uniques.astype("Int64")  # 2023.0 read as a number is the label 2023
    text = pd.Series(uniques.astype(str), dtype="str").str.strip()
    text = text.where(text != "")
    if labels:
        text = text.replace(dict(labels))
    empty = text.isna().to_numpy()
    codes = np.asarray(codes)
    if empty.any():  # values empty after stripping or relabelling: code -1 too
        codes = np.where(np.append(empty, True)[codes], -1, codes)
    return codes, text.astype("str")


def _is_text(s: pd.Series) -> bool:
    return (
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(s.dtype)
        or s.dtype == object
    )


def _take_codes(parsed: Any, codes: np.ndarray) -> Any:
    """``pd.api.extensions.take(parsed, codes, allow_fill=True)`` (code -1 empty),
    through :func:`take_small` for one-byte codes of whole numbers, numbers and dates."""
    if codes.dtype != np.int8:
        return pd.api.extensions.take(parsed, codes, allow_fill=True)
    if isinstance(parsed, pd.arrays.IntegerArray) and parsed.dtype == "Int64":
        # pandas fills an empty value's hidden number with 1
        data = np.append(parsed.to_numpy(dtype=np.int64, na_value=1), np.int64(1))
        empty = np.append(parsed.isna(), True)
        return pd.arrays.IntegerArray(take_small(data, codes), take_small(empty, codes))
    if isinstance(parsed, np.ndarray) and parsed.dtype.kind == "f":
        return take_small(np.append(parsed, np.nan).astype(parsed.dtype), codes)
    if isinstance(parsed, np.ndarray) and parsed.dtype.kind == "M":
        table = np.append(parsed, np.datetime64("NaT")).astype(parsed.dtype)
        return take_small(table.view(np.int64), codes).view(parsed.dtype)
    return pd.api.extensions.take(parsed, codes, allow_fill=True)


def _writeable(values: np.ndarray, take_over: bool = False) -> np.ndarray:
    """``values``, copied when read-only (a view of the file's or Arrow's buffers):
    a loaded table stays editable in place.

    ``take_over``: the caller gives up the column ``values`` view (nothing
    reads it afterwards), so a view that is read-only only as a view (pandas
    hands out read-only views of its own writeable memory) is made writeable
    instead of copied; memory NumPy cannot write is copied all the same.
    """
    if values.flags.writeable:
        return values
    if take_over:
        try:
            values.flags.writeable = True  # refused unless the memory itself is writeable
        except ValueError:
            pass
        else:
            return values
    return values.copy()


def _parse_text(
    s: pd.Series,
    parse: Callable[[pd.Series], tuple],
    labels: Mapping[str, str | None] | None,
) -> Coerced:
    """Parse a text column through its distinct values.

    ``parse`` takes the distinct values (text, NA for empty) and returns
    their parsed values, a mask of unreadable ones, a note and optionally a
    dict of rule name to a mask of values breaking that rule.
    """
    codes, uniques = _codes_uniques(s, labels)
    parsed, bad, note, *rest = parse(uniques)
    values = _take_codes(parsed, codes)

    def per_row(mask: np.ndarray) -> np.ndarray:
        # code -1 (empty) takes the last slot, never set
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return np.zeros(len(codes), dtype=bool)
        return take_small(np.append(mask, False), codes)

    flags = {rule: per_row(mask) for rule, mask in (rest[0] if rest else {}).items()}
    # a fresh array: pandas 3 would copy it again without copy=False
    return Coerced(pd.Series(values, copy=False), per_row(bad), note, flags)


# -- per type -------------------------------------------------------------------------------


def _may_need_trim(s: pd.Series) -> bool:
    """Whether any value of a text column may start or end with whitespace.

    Read from the raw bytes of an Arrow column (first and last byte of each
    value: whitespace is a byte up to ``0x20``, or part of a multi-byte
    character, ``0x80`` and above); ``True`` when not held that way.
    """
    chunks = arrow_text(s)
    if chunks is None:
        return True
    if all(data.min() > 0x20 and data.max() < 0x80 for data in value_bytes(chunks)):
        return False
    return any(
        bool(((edge <= 0x20) | (edge >= 0x80)).any())
        for edges in edge_bytes(chunks)
        for edge in edges
    )


def _trim(s: pd.Series) -> tuple[pd.Series, int]:
    """Text without surrounding whitespace, and how many values had some."""
    if not _may_need_trim(s):
        return s, 0
    array = pa.array(s.array) if s.dtype != object else pa.array(s, type=pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    trimmed = pc.utf8_trim_whitespace(array)
    n = pc.sum(pc.not_equal(trimmed, array)).as_py() or 0
    if not n:
        return s, 0
    text = pd.Series(trimmed.to_pandas(types_mapper=pd.ArrowDtype).array).astype("str")
    return text.mask(text.eq("")), n


def _string(s: pd.Series, labels) -> Coerced:
    if pd.api.types.is_float_dtype(s.dtype) and (s.dropna() % 1 == 0).all():
        s = s.astype("Int64")
    if labels:
        codes, uniques = _codes_uniques(s, labels)
        values = pd.api.extensions.take(uniques.to_numpy(), codes, allow_fill=True)
        s = pd.Series(values, dtype="str")
    elif isinstance(s.dtype, pd.CategoricalDtype):
        # taking from the categories (in Arrow) is much faster than astype("str")
        categories = pd.Series(s.cat.categories.astype(str), dtype="str").array
        codes = s.cat.codes.to_numpy(dtype=np.int64)
        s = pd.Series(pd.api.extensions.take(categories, codes, allow_fill=True))
    elif not pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
        s = s.astype("str")
    s, trimmed = _trim(s.reset_index(drop=True))
    return Coerced(s, np.zeros(len(s), dtype=bool), trimmed=trimmed)


def _category(s: pd.Series, labels) -> Coerced:
    if (
        isinstance(s.dtype, pd.CategoricalDtype)
        and not labels
        and pd.api.types.is_string_dtype(s.cat.categories.dtype)
        and s.cat.categories.dtype != object
    ):
        cats = s.cat.categories
        if cats.equals(cats.str.strip()) and not (cats == "").any():
            return Coerced(s.reset_index(drop=True), np.zeros(len(s), dtype=bool))
    codes, uniques = _codes_uniques(s, labels)
    merged, categories = pd.factorize(uniques)
    codes = np.append(merged, -1)[np.where(codes < 0, -1, codes)]
    values = pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype="str"))
    return Coerced(pd.Series(values, copy=False), np.zeros(len(s), dtype=bool))


def _declared_numbers(texts: pd.Series, fmt: NumberFormat) -> tuple[np.ndarray, np.ndarray]:
    """Numbers written in a declared format; anything else is unreadable."""
    ok = texts.str.fullmatch(fmt.pattern()).fillna(False).to_numpy(bool)
    plain = np.full(len(texts), np.nan)
    if ok.any():
        fixed = texts[ok]
        if fmt.thousands:
            fixed = fixed.str.replace(fmt.thousands, "", regex=False)
        fixed = fixed.str.replace(fmt.decimal, ".", regex=False)
        plain[ok] = pd.to_numeric(fixed).to_numpy(float)
    return plain, texts.notna().to_numpy() & ~ok


def _numbers(
    texts: pd.Series, fmt: NumberFormat | None = None
) -> tuple[np.ndarray, np.ndarray, str | None]:
    if fmt is not None:
        plain, bad = _declared_numbers(texts, fmt)
        note = None
        if fmt.decimal == "," and texts.str.contains(",", regex=False).fillna(False).any():
            note = "decimal commas read as decimal points, as the mapping's number_format says"
        return plain, bad, note
    plain = pd.to_numeric(texts, errors="coerce").to_numpy(float, na_value=np.nan, copy=True)
    comma = np.isnan(plain) & texts.str.fullmatch(_DECIMAL_COMMA).fillna(False).to_numpy(bool)
    note = None
    if comma.any():
        fixed = texts[comma].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        plain[comma] = pd.to_numeric(fixed).to_numpy(float)
        note = "decimal commas read as decimal points (12,5 = 12.5)"
    bad = texts.notna().to_numpy() & ~np.isfinite(plain)
    plain[bad] = np.nan
    return plain, bad, note


def _number(
    s: pd.Series, labels, fmt: NumberFormat | None = None, take_over: bool = False
) -> Coerced:
    if _is_text(s) or labels:
        return _parse_text(s, lambda texts: _numbers(texts, fmt), labels)
    if pd.api.types.is_bool_dtype(s.dtype):
        return Coerced(pd.Series(np.full(len(s), np.nan), copy=False), s.notna().to_numpy())
    values = s.to_numpy(dtype="float64", na_value=np.nan)
    bad = np.isinf(values)
    if bad.any():  # else the numbers as read stand: no copy
        values = values.copy()
        values[bad] = np.nan
    values = _writeable(values, take_over)
    return Coerced(pd.Series(values, copy=False), bad)


def _whole(values: np.ndarray) -> np.ndarray:
    """Mask of finite values that are not whole numbers."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & (np.floor(values) != values)


def _integers(texts: pd.Series, fmt: NumberFormat | None = None) -> tuple:
    """Whole numbers; without a declared format, "1,000" and "1.000" are flagged, not read."""
    flags = {}
    if fmt is None:
        grouped = texts.str.fullmatch(_GROUPED).fillna(False).to_numpy(bool)
        flags[THOUSANDS_SEPARATOR] = grouped
        texts = texts.where(~grouped)
    values, bad, note = _numbers(texts, fmt)
    fraction = _whole(values)
    values[fraction] = np.nan
    return pd.array(values, dtype="Int64"), bad | fraction, note, flags


def _integer(
    s: pd.Series, labels, fmt: NumberFormat | None = None, take_over: bool = False
) -> Coerced:
    if _is_text(s) or labels:
        return _parse_text(s, lambda texts: _integers(texts, fmt), labels)
    if pd.api.types.is_integer_dtype(s.dtype):
        if s.dtype == np.int64:  # no empty value: the same numbers, not copied
            numbers = _writeable(s.to_numpy(), take_over)
            values = pd.arrays.IntegerArray(numbers, np.zeros(len(s), dtype=bool))
            # copy=False: pandas 3 would copy the numbers into the Series
            return Coerced(pd.Series(values, copy=False), np.zeros(len(s), dtype=bool))
        return Coerced(s.astype("Int64").reset_index(drop=True), np.zeros(len(s), dtype=bool))
    number = _number(s, None, take_over=take_over)
    values = number.series.to_numpy(float, copy=True)
    fraction = _whole(values)
    values[fraction] = np.nan
    return Coerced(pd.Series(pd.array(values, dtype="Int64"), copy=False), number.bad | fraction)


def _booleans(texts: pd.Series) -> tuple[np.ndarray, np.ndarray, str | None]:
    lower = texts.str.lower()
    true, false = lower.isin(_TRUE).to_numpy(), lower.isin(_FALSE).to_numpy()
    values = pd.array(np.where(true, True, False), dtype="boolean")
    values[~(true | false)] = pd.NA
    return values, texts.notna().to_numpy() & ~(true | false), None


def _boolean(s: pd.Series, labels) -> Coerced:
    if pd.api.types.is_bool_dtype(s.dtype) and not labels:
        return Coerced(s.astype("boolean").reset_index(drop=True), np.zeros(len(s), dtype=bool))
    if not _is_text(s):
        s = s.astype("str")
    return _parse_text(s, _booleans, labels)


def _dates_from_parts(parts: pd.DataFrame, day: int, month: int, year: int) -> pd.Series:
    frame = pd.DataFrame(
        {
            "year": pd.to_numeric(parts[year]),
            "month": pd.to_numeric(parts[month]),
            "day": pd.to_numeric(parts[day]),
        }
    )
    return pd.to_datetime(frame, errors="coerce")


def _date_parser(date_format: str | None) -> Callable:
    def parse(series: pd.Series) -> tuple[np.ndarray, np.ndarray, str | None]:
        out = pd.Series(pd.NaT, index=series.index, dtype="datetime64[s]")
        ymd = series.str.extract(_YMD)
        is_ymd = ymd[0].notna()
        if is_ymd.any():
            out[is_ymd] = _dates_from_parts(ymd[is_ymd], day=2, month=1, year=0)
        rest = series.notna() & ~is_ymd
        note = None
        if date_format and rest.any():
            out[rest] = pd.to_datetime(series[rest], format=date_format, errors="coerce")
        elif rest.any():
            xxy = series[rest].str.extract(_XXY)
            found = xxy[0].notna()
            first = pd.to_numeric(xxy.loc[found, 0])
            second = pd.to_numeric(xxy.loc[found, 1])
            if found.any():
                day_first = bool((first > 12).any()) or not bool((second > 12).any())
                day, month = (0, 1) if day_first else (1, 0)
                out[xxy.index[found]] = _dates_from_parts(xxy[found], day=day, month=month, year=2)
                if not day_first:
                    note = "month-first dates (MM-DD-YYYY): no first field is above 12"
                elif (first > 12).any():
                    note = "day-first dates (DD-MM-YYYY)"
                else:
                    note = (
                        "day and month cannot be told apart (no field above 12): read as "
                        "day-first (DD-MM-YYYY); set date_formats in a mapping file if wrong"
                    )
        bad = series.notna().to_numpy() & out.isna().to_numpy()
        return out.to_numpy(), bad, note

    return parse


def _off_midnight(ints: np.ndarray, day: int, empty: np.ndarray) -> bool:
    """Whether any non-empty time stamp (``ints`` in units with ``day`` to a day)
    is not at midnight; in blocks, so that no temporary is as long as the column."""
    block = 1 << 20
    for start in range(0, len(ints), block):
        rest = ints[start : start + block] % day
        if rest.any() and rest[~empty[start : start + block]].any():
            return True
    return False


def _date(s: pd.Series, labels, date_format: str | None) -> Coerced:
    if pd.api.types.is_datetime64_any_dtype(s.dtype) and not labels:
        values = s.reset_index(drop=True)
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_localize(None)
        unit = np.datetime_data(values.dtype)[0]
        day = np.timedelta64(1, "D").astype(f"timedelta64[{unit}]").astype(np.int64)
        ints = values.to_numpy().view(np.int64)
        if _off_midnight(ints, day, values.isna().to_numpy()):
            values = values.dt.normalize()
        return Coerced(values, np.zeros(len(s), dtype=bool))
    if not _is_text(s):
        empty = pd.Series(pd.NaT, index=range(len(s)), dtype="datetime64[s]")
        return Coerced(empty, s.notna().to_numpy())
    return _parse_text(s, _date_parser(date_format), labels)


def coerce(
    s: pd.Series,
    type_: str,
    *,
    labels: Mapping[str, str | None] | None = None,
    date_format: str | None = None,
    number_format: NumberFormat | None = None,
    take_over: bool = False,
) -> Coerced:
    """Type a raw column to a contract type.

    Parameters
    ----------
    s
        The raw column.
    type_
        Contract type: ``string``, ``category``, ``date``, ``integer``,
        ``number`` or ``boolean``.
    labels
        A site's value labels and the contract values they stand for
        (``None`` for empty), applied to the text before typing.
    date_format
        ``strftime`` format of dates that are not ISO (``YYYY-MM-DD``); when
        ``None`` the day/month order is decided from the whole column.
    number_format
        How the site writes numbers (decimal mark and thousands separator);
        when ``None``, a decimal point or a decimal comma is read, and a
        count written with a thousands separator ("1,000", "1.000") is
        flagged (:data:`THOUSANDS_SEPARATOR`) rather than guessed.
    take_over
        The caller gives ``s`` up: nothing reads it (or the table it is a
        column of) afterwards, so whole numbers and numbers held as
        ``int64`` / ``float64`` become the typed column without a copy.
        Otherwise the typed column never shares memory it can write with ``s``.

    Returns
    -------
    Coerced
        Typed column (dtype of :data:`cdanalytics.io.schema.COLUMN_TYPES`),
        mask of unreadable values, a note on how the column was read, masks
        of values breaking a reading rule (``flags``) and, for text, how
        many values had surrounding whitespace removed (``trimmed``).
    """
    if type_ == "date":
        return _date(s, labels, date_format)
    if type_ in ("integer", "number"):
        return (_integer if type_ == "integer" else _number)(s, labels, number_format, take_over)
    return {
        "string": _string,
        "category": _category,
        "integer": _integer,
        "number": _number,
        "boolean": _boolean,
    }[type_](s, labels)
