"""Cell checks on raw text before typing: Excel error values and control characters.

A spreadsheet saves a failed formula as an error value (``#DIV/0!``,
``#VALUE!``, ...); read as text it would be "unreadable" at best and, where
a reader maps it to empty, silently missing. A control character (NUL and
the other C0 characters except tab, line feed and carriage return) inside a
value is never data. Both are problems of their own rule, so the person
fixing the export knows what to look for.

Every check runs once per distinct value (categoricals) or in Arrow's
linear-time regular-expression engine (RE2), never row by row in Python. A
text column whose raw bytes hold neither a control character nor ``#`` (which
every error value starts with) cannot have either problem and is passed by
one scan of its bytes (:mod:`cdanalytics.io.textbytes`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .textbytes import arrow_text, value_bytes

__all__ = [
    "CONTROL_CHARACTER",
    "EXCEL_ERROR",
    "EXCEL_ERRORS",
    "cell_problems",
    "printable",
]

#: Rule of an Excel error value in a cell.
EXCEL_ERROR = "excel_error"

#: Rule of a control character inside a value.
CONTROL_CHARACTER = "control_character"

#: Error values Excel (and LibreOffice) write for a failed formula.
EXCEL_ERRORS: tuple[str, ...] = (
    "#DIV/0!",
    "#VALUE!",
    "#REF!",
    "#N/A",
    "#NAME?",
    "#NUM!",
    "#NULL!",
    "#GETTING_DATA",
    "#SPILL!",
    "#CALC!",
)

# C0 control characters except tab (09), line feed (0A) and carriage return (0D)
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"


def _text_array(values: pd.Series) -> pa.Array:
    array = pa.array(values.array) if values.dtype != object else pa.array(values.astype("str"))
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.large_string())


def _masks_of_text(array: pa.Array) -> dict[str, np.ndarray]:
    trimmed = pc.utf8_upper(pc.utf8_trim_whitespace(array))
    error = pc.is_in(trimmed, value_set=pa.array(EXCEL_ERRORS, pa.large_string()))
    control = pc.match_substring_regex(array, _CONTROL)
    return {
        EXCEL_ERROR: error.fill_null(False).to_numpy(zero_copy_only=False),
        CONTROL_CHARACTER: control.fill_null(False).to_numpy(zero_copy_only=False),
    }


def cell_problems(values: pd.Series) -> dict[str, np.ndarray]:
    """Masks of the Excel error values and the values holding a control character.

    Parameters
    ----------
    values
        A raw column: text, a categorical of text, or already typed by the
        file format (numbers, dates: nothing to find).

    Returns
    -------
    dict
        :data:`EXCEL_ERROR` and :data:`CONTROL_CHARACTER` to a boolean mask
        aligned with ``values``; empty when the column holds no text.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        if not (pd.api.types.is_string_dtype(categories.dtype) or categories.dtype == object):
            return {}
        masks = _masks_of_text(_text_array(pd.Series(categories.astype(str))))
        if not any(mask.any() for mask in masks.values()):
            return {}
        codes = values.cat.codes.to_numpy()
        at = np.where(codes < 0, len(categories), codes)
        return {rule: np.append(mask, False)[at] for rule, mask in masks.items()}
    if not (pd.api.types.is_string_dtype(values.dtype) or values.dtype == object):
        return {}
    if not len(values):
        return {}
    chunks = arrow_text(values)
    if chunks is not None and not any(map(_may_hold_problem, value_bytes(chunks))):
        none = np.zeros(len(values), dtype=bool)
        return {EXCEL_ERROR: none, CONTROL_CHARACTER: none}
    return _masks_of_text(_text_array(values))


def _may_hold_problem(data: np.ndarray) -> bool:
    """Whether these UTF-8 bytes may hold a control character or an Excel
    error value (a ``#``; a byte below ``0x20`` stands for a control
    character or tab, line feed, carriage return)."""
    low = int(data.min())
    return low < 0x20 or (low <= ord("#") and bool((data == ord("#")).any()))


def printable(values: pd.Series) -> pd.Series:
    """Text with every control character shown as ``\\xNN`` (for problem lists)."""
    text = values.astype("str")
    out = text.str.replace(_CONTROL, lambda m: f"\\x{ord(m.group(0)):02x}", regex=True)
    return out.where(text.notna())
