"""Redaction: the one way a value from an export is shown back to anyone.

Problem rows (``validation_problems.csv``), quarantine files and messages show
values so that a person can find and correct them. :func:`redact` is applied
where problems record values and where quarantine frames are produced, so
that what is shown never carries a value that looks like an identifier and
is never longer than :data:`MAX_SHOWN` characters:

* a value of a column whose *name* says it is an identifier
  (``telefoon``, ``client_name``) becomes
  ``[redacted: the column looks like a phone number column]``;
* a value that itself looks like an identifier (e-mail address, postcode,
  phone number, National Insurance number, a BSN passing the 11-test also
  with its leading zero lost, an NHS/CHI number passing the mod-11 check, a
  "Firstname Lastname" or "SURNAME, Firstname" shape, a person's name inside
  text, a street address) becomes ``[redacted: looks like an e-mail
  address]`` and so on;
* any other value longer than :data:`MAX_SHOWN` characters is cut to that
  length followed by ``… [cut, 10,485,760 characters]``.

A value is judged on its first ``MAX_SHOWN + 256`` characters: everything
that would be shown, and an identifier that starts there and runs past the
cut. Redaction errs on the side of hiding: a Title Case category
("Youth Offending") is hidden like a name; the row, column and rule of the
problem still say where to look.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .patterns import IDENTIFIER_KINDS, STRONG_RULES, kind_from_column_name
from .rules import rule_masks

__all__ = ["MAX_SHOWN", "redact", "redact_frame", "value_kind"]

#: Longest value shown; longer values are cut with a note of their length.
MAX_SHOWN = 80
#: Characters read past the cut, so that an identifier straddling it is seen.
_MARGIN = 256

#: Values that cannot match any rule (lower-case codes, short codes such as
#: ``P000123`` with at most 7 digits, hex pseudonyms): not judged one by one.
_PLAIN = re.compile(r"[a-z_]{0,80}+|[A-Za-z]{0,3}+\d{0,7}+|[0-9a-f]{16,80}+")

_WHAT = {
    **{kind: what for kind, _, what in STRONG_RULES},
    "bsn": "a Dutch citizen service number (BSN)",
    "nhs_number": "an NHS or CHI number",
    "name": "a person's name",
    "address": "a street address",
}


#: Rule of :func:`~.rules.rule_masks` to the kind it shows, in the order tried.
_RULE_KINDS = {
    **{kind: kind for kind, _, _ in STRONG_RULES},
    "bsn": "bsn",
    "nhs_number": "nhs_number",
    "name_in_text": "name",
    "name_shape": "name",
    "address": "address",
}


def _shown(values: pd.Series) -> np.ndarray:
    """What each distinct value (text) may be shown as."""
    heads = values.str.slice(0, MAX_SHOWN + _MARGIN).str.strip().astype(object)
    masks = rule_masks(heads)
    shown = np.where(
        values.str.len() > MAX_SHOWN,
        values.str.slice(0, MAX_SHOWN)
        + "… [cut, "
        + values.str.len().map("{:,}".format)
        + " characters]",
        values,
    ).astype(object)
    hidden = np.zeros(len(values), dtype=bool)
    for rule, kind in _RULE_KINDS.items():
        hit = masks[rule].to_numpy(dtype=bool) & ~hidden
        shown[hit] = f"[redacted: looks like {_WHAT[kind]}]"
        hidden |= hit
    return shown


def value_kind(value: str) -> str | None:
    """The identifier kind a single value looks like, or ``None``.

    Parameters
    ----------
    value
        A value as text; its first ``MAX_SHOWN + 256`` characters are read.

    Returns
    -------
    str or None
        A key of :data:`~cdanalytics.io.privacy.IDENTIFIER_KINDS`.
    """
    head = pd.Series([value[: MAX_SHOWN + _MARGIN].strip()], dtype=object)
    masks = rule_masks(head).iloc[0]
    return next((kind for rule, kind in _RULE_KINDS.items() if masks[rule]), None)


def _column_placeholder(column: object) -> str | None:
    kind = None if column is None or pd.isna(column) else kind_from_column_name(column)
    if kind is None:
        return None
    return f"[redacted: the column looks like a {IDENTIFIER_KINDS[kind]} column]"


def redact(values, *, columns=None) -> pd.Series:
    """Values as they may be shown: identifiers replaced, long values cut.

    Parameters
    ----------
    values
        Array-like of values (text, numbers or missing); missing values stay
        missing, everything else is shown as text.
    columns
        The column each value came from (one name for all, or an array-like
        aligned with ``values``); values of a column whose name looks like an
        identifier are all replaced. ``None``: judge values only.

    Returns
    -------
    pandas.Series
        Object dtype, aligned with ``values`` (same index when ``values`` is a
        Series).
    """
    series = pd.Series(values, copy=False)
    missing = series.isna().to_numpy()
    out = pd.Series(np.full(len(series), None, dtype=object), index=series.index)
    present = series[~missing].astype(str)
    if len(present):
        codes, uniques = pd.factorize(present)
        uniques = pd.Series(uniques, dtype=object)
        shown = uniques.to_numpy(dtype=object, copy=True)
        judged = ~uniques.str.fullmatch(_PLAIN).to_numpy(dtype=bool)
        if judged.any():
            shown[judged] = _shown(uniques[judged].reset_index(drop=True))
        out[~missing] = shown[codes]
    if columns is not None:
        names = pd.Series(columns if not isinstance(columns, str) else [columns] * len(series))
        placeholders = names.map({c: _column_placeholder(c) for c in names.unique()})
        hide = (placeholders.notna() & ~pd.Series(missing)).to_numpy()
        out[hide] = placeholders[hide].to_numpy()
    return out


def redact_frame(frame: pd.DataFrame, *, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """A copy of a frame whose cells may be shown (quarantine files).

    Text and category columns go through :func:`redact`; numeric columns
    holding whole numbers of 8 to 10 digits (where a BSN or NHS number could
    hide) become text and go through it too; dates and booleans are kept.

    Parameters
    ----------
    frame
        Rows as loaded.
    keep
        Columns written by cdanalytics itself (``source_row``,
        ``quarantine_reason``), kept as they are.

    Returns
    -------
    pandas.DataFrame
    """
    out = frame.copy()
    for name in out.columns:
        if name in keep:
            continue
        column = out[name]
        dtype = column.dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
            continue
        if pd.api.types.is_numeric_dtype(dtype):
            numbers = pd.to_numeric(column, errors="coerce").abs()
            if not ((numbers >= 1e7) & (numbers < 1e10)).any():
                continue
            column = column.astype("string").str.removesuffix(".0")
        out[name] = redact(column, columns=name).to_numpy()
    return out
