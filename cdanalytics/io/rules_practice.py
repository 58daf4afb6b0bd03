"""The optional practice tables: wide audits made long, pseudonym guard and validation rules.

``case_audits`` (case-file audit readings) and ``family_outcomes`` are keyed
by case, not by participant, so they have rules of their own beside the
per-column rules every table gets (:func:`~cdanalytics.io.rules_table.check_columns`,
keys, required-when):

- ``item``: the item is not in any audit tool of the registry (built-in or
  added by the evaluation config);
- ``score_range``: the score is not a level of the item's scale;
- ``after_extract``: an audit (or an outcome date) after the extract date;
- ``orphan``: a family outcome whose ``case_id`` has no audit reading.

Before any of that, :func:`scan_pseudonyms` refuses a table whose case or
reader ids look like people's names ("Jansen, P.", "Pieter Jansen"): a
pseudonymous id is one code, never words separated by a space or comma.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .problems import ProblemLog, TableData
from .read import RawTable
from .rules_cross import first_positions
from .rules_table import check_after_extract, check_columns, check_key, check_required_when

__all__ = [
    "PSEUDONYM_COLUMNS",
    "audit_items",
    "scan_pseudonyms",
    "validate_practice",
    "wide_to_long",
]

#: Columns of the practice tables that must hold pseudonymous codes.
PSEUDONYM_COLUMNS: dict[str, tuple[str, ...]] = {
    "case_audits": ("case_id", "reader_id"),
    "family_outcomes": ("case_id",),
}

# Two words of letters separated by a comma and/or spaces: "Jansen, P.", "Pieter Jansen",
# "J. Smith", "de Vries". Bounded repeats, no nested quantifiers: linear time.
_NAME_LIKE = re.compile(r"[^\W\d_]{1,40}[.'-]?,?\s{1,5}[^\W\d_]")

_FAMILY_DATES = ("closure_date", "removal_date", "re_referral_date", "engagement_date")

#: The columns of ``case_audits`` that are not item scores in a wide file.
_AUDIT_IDS = ("case_id", "team", "audit_date", "period", "reader_id", "trained")


def audit_items(tools: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Every item code of every audit tool, with the levels of its scale.

    Parameters
    ----------
    tools
        The resolved audit-tool registry
        (:func:`~cdanalytics.registry.audit_tool_registry`).

    Returns
    -------
    dict
        Item code to its scores, ascending; an item in several tools has the
        levels of all of them.
    """
    out: dict[str, set[int]] = {}
    for tool in tools.values():
        for code, info in tool["items"].items():
            out.setdefault(code, set()).update(int(v) for v in info["levels"])
    return {code: tuple(sorted(levels)) for code, levels in out.items()}


def wide_to_long(raw: RawTable, items: Mapping[str, Any]) -> tuple[RawTable, str | None]:
    """A wide ``case_audits`` file (one score column per item) turned long; others unchanged.

    A file is wide when it has neither an ``item`` nor a ``score`` column
    and at least one column named by an item code. Every other column is
    kept on each row; an empty score cell (an item not scored) is no row.
    Each long row keeps the source row number of its wide row, so problems
    still name the line a person sees in the file.

    Parameters
    ----------
    raw
        The table as read and mapped.
    items
        Item codes (:func:`audit_items`).

    Returns
    -------
    (RawTable, str or None)
        The long table and a note saying the file was read as wide (``None``
        when it was long already).
    """
    frame = raw.frame
    columns = [c for c in frame.columns if c in items]
    if "item" in frame.columns or "score" in frame.columns or not columns:
        return raw, None
    keep = [c for c in frame.columns if c not in items]
    n = len(frame)
    scores = [frame[c] for c in columns]
    text = [
        s.astype("str").where(s.notna()) if not pd.api.types.is_string_dtype(s.dtype) else s
        for s in scores
    ]
    score = pd.concat([t.reset_index(drop=True) for t in text], ignore_index=True)
    if isinstance(score.dtype, pd.CategoricalDtype):
        score = score.astype("str").where(score.notna())
    score = score.str.strip().replace("", None)
    # item-major stacking, then a stable sort back into file order (wide row, then item)
    position = np.tile(np.arange(n), len(columns))
    item = np.repeat(np.asarray(columns, dtype=object), n)
    present = score.notna().to_numpy()
    order = np.argsort(position[present], kind="stable")
    picked = np.flatnonzero(present)[order]
    rows_of = position[picked]
    long = frame[keep].iloc[rows_of].reset_index(drop=True)
    long["item"] = pd.Series(item[picked], dtype="str")
    long["score"] = score.iloc[picked].reset_index(drop=True).astype("str")
    raw.frame = long
    raw.rows = raw.rows[rows_of]
    note = (
        f"{raw.file}: read as a wide audit table ({len(columns)} item column(s) of the "
        f"audit-tool registry, {n:,} row(s)) and turned into {len(long):,} item score(s)."
    )
    others = [c for c in keep if c not in _AUDIT_IDS]
    if others:
        note += (
            f" Column(s) {', '.join(others)} are not items of the audit-tool registry: kept "
            "as covariates, not scored (add an item under audit_tools in the evaluation "
            "config if it is one)."
        )
    return raw, note


def scan_pseudonyms(frame: pd.DataFrame, *, table: str, source: str) -> pd.DataFrame:
    """Find case or reader id columns whose values look like people's names.

    Parameters
    ----------
    frame
        A practice table as read (after the site's column mapping).
    table, source
        Table name and file, for the findings.

    Returns
    -------
    pandas.DataFrame
        Findings in the form of :func:`~cdanalytics.io.privacy.scan_identifiers`
        (``table``, ``source``, ``column``, ``kind`` ``name``, ``reason``
        with counts but never a value, ``position``); empty when every id
        is one code.
    """
    rows = []
    for column in PSEUDONYM_COLUMNS.get(table, ()):
        if column not in frame.columns:
            continue
        values = pd.Series(frame[column].dropna().unique()).astype("str")
        named = values.str.contains(_NAME_LIKE)
        if named.any():
            rows.append(
                (
                    column,
                    "name",
                    f"{int(named.sum())} of {len(values)} distinct value(s) are words separated "
                    "by a space or comma, as a person's name is written; a pseudonymous id is "
                    "one code (such as R017)",
                    frame.columns.get_loc(column) + 1,
                )
            )
    findings = pd.DataFrame(rows, columns=["column", "kind", "reason", "position"])
    findings.insert(0, "source", str(source))
    findings.insert(0, "table", table)
    return findings


def _check_items(data: TableData, items: Mapping[str, tuple[int, ...]], log: ProblemLog) -> None:
    """Rules ``item`` (an item of no audit tool) and ``score_range`` (off the item's scale)."""
    item = data.frame["item"]
    codes = item.cat.codes.to_numpy()
    categories = [str(c) for c in item.cat.categories]
    known = np.array([c in items for c in categories] + [True])  # empty: not_null says it
    unknown = ~known[codes]
    log.add_rows(
        data,
        unknown,
        column="item",
        rule="item",
        message=(
            "item is not an item of any audit tool in the registry; correct the item code, "
            "or add the item to its tool under audit_tools in the evaluation config."
        ),
    )
    levels = [items.get(c, ()) for c in categories]
    score = data.frame["score"].to_numpy(dtype=float, na_value=np.nan)
    inside = np.zeros(len(score), dtype=bool)
    for k, allowed in enumerate(levels):
        rows = codes == k
        inside[rows] = np.isin(score[rows], allowed)
    off = ~unknown & (codes >= 0) & ~np.isnan(score) & ~inside
    if off.any():
        positions = np.flatnonzero(off)
        scale = pd.Series(
            [", ".join(map(str, levels[c])) for c in codes[positions]], index=positions
        )
        message = (
            "score is not on the scale of item "
            + item.iloc[positions].astype("str").set_axis(positions)
            + " (scores "
            + scale
            + "); correct the score."
        )
        log.add_rows(data, positions, column="score", rule="score_range", message=message)


def _check_orphans(family: TableData, audits: TableData, log: ProblemLog) -> None:
    """Rule ``orphan``: a family outcome of a case with no audit reading."""
    (found,) = first_positions([family.frame["case_id"]], audits.frame["case_id"])
    orphan = (found < 0) & family.frame["case_id"].notna().to_numpy()
    log.add_rows(
        family,
        orphan,
        column="case_id",
        rule="orphan",
        message=(
            "case_id matches no row of case_audits; add the case's audit readings, correct "
            "the id, or remove the row."
        ),
    )


def validate_practice(
    tables: Mapping[str, TableData],
    *,
    extract_date: pd.Timestamp,
    items: Mapping[str, tuple[int, ...]],
    log: ProblemLog,
) -> None:
    """Run every rule on the typed practice tables, adding problems to ``log``.

    Parameters
    ----------
    tables
        ``case_audits`` and ``family_outcomes``, typed (empty when absent).
    extract_date
        The manifest's extract date (``NaT`` skips ``after_extract``).
    items
        Item codes and their levels (:func:`audit_items`).
    log
        Receives the problems.
    """
    for data in tables.values():
        check_columns(data, programmes={}, instruments={}, log=log)
        check_key(data, id_codes=None, log=log)
        check_required_when(data, log)
    audits, family = tables["case_audits"], tables["family_outcomes"]
    _check_items(audits, items, log)
    check_after_extract(audits, ("audit_date",), extract_date, log)
    if family.file is not None:
        _check_orphans(family, audits, log)
    check_after_extract(family, _FAMILY_DATES, extract_date, log)
