"""CSV files that are safe to open in a spreadsheet (no formula injection).

A spreadsheet program runs a cell that begins with ``=``, ``+``, ``-`` or
``@`` as a formula, and a leading tab or carriage return can hide such a
start; a value typed into a case-management system can therefore run a
command on a manager's computer when a table is opened. :func:`write_csv`
writes every CSV that cdanalytics produces for people to read (report tables,
``validation_problems.csv``, ``quarantine_<table>.csv``) and neutralises such
text cells with a leading single quote, following the OWASP rule on CSV
injection. Only text is changed: numeric, boolean and date columns are written
as they are, and a text cell that is a plain number (``-2``, ``+1.5e3``)
cannot be a formula and is also left alone, so negative numbers stay numbers.

Lines end in CR LF (RFC 4180). Besides being what spreadsheets expect, this
makes the CSV writer quote a cell holding a lone carriage return: with LF
endings pandas writes it unquoted, and a spreadsheet then starts a new row
there, whose first cell (``"x\r=1+1"``) would escape the rule above.

Exports written by :mod:`cdanalytics.io.write` and
:mod:`cdanalytics.io.pseudonymise` are inputs, not reports: they must read
back exactly as they were, so they are not neutralised.

References
----------
OWASP, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["FORMULA_STARTS", "neutralise_frame", "neutralise_text", "write_csv"]

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")


def neutralise_text(value: str) -> str:
    """``value`` with a leading ``'`` if a spreadsheet would read it as a formula."""
    if value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _neutralise_column(column: pd.Series) -> pd.Series:
    if not (
        pd.api.types.is_object_dtype(column)
        or pd.api.types.is_string_dtype(column)
        or isinstance(column.dtype, pd.CategoricalDtype)
    ):
        return column
    return column.map(lambda v: neutralise_text(v) if isinstance(v, str) else v).astype(object)


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot run as formulas.

    Parameters
    ----------
    frame
        Any table about to be written for people to open.

    Returns
    -------
    pandas.DataFrame
        Same shape and order; text cells starting with one of
        :data:`FORMULA_STARTS` (other than plain numbers) get a leading ``'``.
    """
    out = frame.copy()
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        neutral = _neutralise_column(column)
        if neutral is not column:
            out.isetitem(i, neutral)
    out.columns = [neutralise_text(c) if isinstance(c, str) else c for c in out.columns]
    return out


def write_csv(frame: pd.DataFrame, path: str | Path, **options: Any) -> Path:
    """Write ``frame`` (without its index) to ``path`` as a formula-safe CSV.

    Parameters
    ----------
    frame
        The table.
    path
        The file to write.
    **options
        Passed on to :meth:`pandas.DataFrame.to_csv` (not ``index``; keep
        the default ``lineterminator``).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    options.setdefault("lineterminator", "\r\n")
    neutralise_frame(frame).to_csv(path, index=False, **options)
    return path
