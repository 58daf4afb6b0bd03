"""Free-text columns: keep codes, drop typed text unless the mapping declares it safe.

Some contract columns are free categories a case worker may fill with a
sentence (``exit_reason``, ``exclusion_reason``: ``free_text: true`` in
``data/schemas``). A sentence can hold a name, an address or a story that
identifies a person, and no pattern finds them all. So by default such a
column keeps only **codes** (:data:`FREE_TEXT_CODE`: lower-case letters and
digits joined by ``_ . / -``, such as ``moved_away`` or ``denies_abuse``, at
most 60 characters) and the labels the mapping lists for it under
``values:``; any other value is emptied before anything else reads the
table. A :class:`~cdanalytics.errors.FreeTextWarning` and a note in the
validation report name the file and column and count the values dropped,
never showing one.

A site whose reasons are typed text it has checked lists the column under
the table's ``free_text_safe`` in its mapping (see
``data/mappings/dutch_example.yaml``); its values are then kept and checked
by the identifier guard like every other column (a name, e-mail address or
phone number in them still refuses the export).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Collection, Mapping

import pandas as pd

from ...errors import FreeTextWarning
from ..schema import table_schema

__all__ = ["FREE_TEXT_CODE", "MAX_CODE_LENGTH", "drop_free_text", "free_text_columns"]

#: A code: lower-case words of letters and digits joined by ``_ . / -``.
FREE_TEXT_CODE = re.compile(r"[a-z0-9]++(?:[_./-][a-z0-9]++)*+")
#: Longest value taken for a code.
MAX_CODE_LENGTH = 60


def free_text_columns(table: str) -> list[str]:
    """Contract columns of a table marked ``free_text`` in the schema.

    Parameters
    ----------
    table
        Table name.

    Returns
    -------
    list of str
    """
    return [col.name for col in table_schema(table).columns if col.free_text]


def _kept(values: pd.Series, labels: Collection[str]) -> pd.Series:
    """Whether each (non-missing) value is a code or a mapped label."""
    text = values.astype(str).str.strip().astype(object)
    code = text.map(lambda v: len(v) <= MAX_CODE_LENGTH and bool(FREE_TEXT_CODE.fullmatch(v)))
    return (code.astype(bool) | text.isin(set(labels)) | (text == "")).to_numpy(dtype=bool)


def drop_free_text(
    frame: pd.DataFrame,
    *,
    table: str,
    file: str,
    safe: Collection[str] = (),
    labels: Mapping[str, Mapping[str, object]] | None = None,
    source_names: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Empty the values of free-text columns that are not codes.

    Parameters
    ----------
    frame
        A table as read, columns already renamed to the contract's names.
    table
        Table name (its schema says which columns are free text).
    file
        File (or sheet) the table came from, for the note.
    safe
        Contract columns the mapping declares safe (``free_text_safe``):
        kept whole.
    labels
        The mapping's ``values:`` section of the table (contract column to
        ``{site label: contract value}``); listed labels are kept.
    source_names
        Contract column to the site's column name, for the note.

    Returns
    -------
    tuple
        The frame (a copy when anything was dropped) and one note per column
        with values dropped, naming file and column and counting values.

    Warns
    -----
    FreeTextWarning
        Once per column with values dropped; the text is never shown.
    """
    labels = labels or {}
    source_names = source_names or {}
    notes: list[str] = []
    for column in free_text_columns(table):
        if column not in frame.columns or column in safe:
            continue
        values = frame[column]
        mapped = set(labels.get(column, {}))
        if isinstance(values.dtype, pd.CategoricalDtype):
            categories = pd.Series(values.cat.categories)
            dropped = categories[~_kept(categories, mapped)].tolist()
            n = int(values.isin(dropped).sum()) if dropped else 0
            new = values.cat.remove_categories(dropped) if dropped else values
        else:
            present = values.notna().to_numpy()
            bad = present.copy()
            bad[present] = ~_kept(values[present], mapped)
            n = int(bad.sum())
            new = values.mask(bad)
        if not n:
            continue
        frame = frame.copy() if not notes else frame
        frame[column] = new
        name = source_names.get(column, column)
        shown = name if name == column else f"{name} ({column})"
        note = (
            f"{file}, column {shown}: {n:,} free-text value(s) dropped (emptied); only codes "
            "such as moved_away and labels listed in the mapping are kept, because free text "
            "can name a person. List the column under free_text_safe in the mapping to keep it."
        )
        warnings.warn(note, FreeTextWarning, stacklevel=3)
        notes.append(note)
    return frame, notes
