"""Audit readings: checks, reshaping and the one-reading-per-file rule.

Shared by :mod:`~cdanalytics.practice.shares`, :mod:`~cdanalytics.practice.change`
and :mod:`~cdanalytics.practice.agreement`. Everything is vectorised over
rows; scores are turned into positions on the item's scale through lookup
arrays, never row by row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ConfigError
from ..registry import audit_tool_registry

__all__ = [
    "AUDIT_COLUMNS",
    "READING_RULES",
    "audits_from_wide",
    "check_by",
    "file_readings",
    "item_table",
    "prepare_audits",
    "tool_entry",
    "tool_items",
]

#: Columns of a long audit table (one row per file, reader and item).
#: ``audit_date`` is optional; when present it orders the readings of a file.
AUDIT_COLUMNS: tuple[str, ...] = (
    "case_id",
    "team",
    "period",
    "reader_id",
    "trained",
    "item",
    "score",
)

#: Rules choosing one reading per file and item for shares and change.
READING_RULES: tuple[str, ...] = ("first", "all", "any")

Reading = Literal["first", "all", "any"]

# Marker in ``DataFrame.attrs`` of a prepared table (value: its tool), and the
# columns preparing adds.
_PREPARED = "cdanalytics.practice.prepared"
_ADDED = ("file", "item_code", "level", "met", "rank")


def tool_entry(
    tool: str = "safe_and_together", registry: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One audit tool of the registry, with a clear error if unknown.

    References
    ----------
    Safe & Together Institute; Scottish Government (2021) National Guidance
    for Child Protection in Scotland, 4.115-4.116.

    Examples
    --------
    >>> tool_entry()["name"]["nl"]
    'Safe & Together dossieraudit'
    """
    reg = registry if registry is not None else audit_tool_registry()
    if tool not in reg:
        raise ConfigError(f"Unknown audit tool {tool!r}; known: {', '.join(sorted(reg))}.")
    return reg[tool]


def tool_items(
    tool: str = "safe_and_together", registry: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Items of one audit tool of the registry, with a clear error if unknown.

    References
    ----------
    See :func:`cdanalytics.registry.audit_tool_registry` (the sources of
    each item are in the registry's ``source`` fields).

    Examples
    --------
    >>> tool_items()["m_blaming_language"]["met"]
    [0]
    """
    return tool_entry(tool, registry)["items"]


def check_by(by: Sequence[str] | str, what: str) -> list[str]:
    """Grouping columns as a list, each one of ``team``, ``period`` and ``trained``.

    Examples
    --------
    >>> check_by("team", "shares")
    ['team']
    """
    by = [by] if isinstance(by, str) else list(by)
    bad = [c for c in by if c not in ("team", "period", "trained")]
    if bad:
        raise ConfigError(f"{what} can group by team, period and trained, not {', '.join(bad)}.")
    return by


def item_table(
    tool: str = "safe_and_together", registry: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """One row per item of a tool, in registry order.

    Columns: ``item``, ``group``, ``direction``, ``label_en``, ``label_nl``,
    ``levels`` (tuple of scores), ``met`` (tuple of scores counting as met).

    References
    ----------
    Safe & Together Institute, the five critical components and three
    principles; Scottish Government (2021) National Guidance for Child
    Protection in Scotland, 4.116; West Lothian audit.

    Examples
    --------
    >>> table = item_table()
    >>> table["group"].value_counts().loc[["critical_component", "principle"]].tolist()
    [5, 3]
    """
    items = tool_items(tool, registry)
    return pd.DataFrame(
        {
            "item": list(items),
            "group": [i["group"] for i in items.values()],
            "direction": [i["direction"] for i in items.values()],
            "label_en": [i["label"]["en"] for i in items.values()],
            "label_nl": [i["label"]["nl"] for i in items.values()],
            "levels": [tuple(i["levels"]) for i in items.values()],
            "met": [tuple(i["met"]) for i in items.values()],
        }
    )


def audits_from_wide(
    wide: pd.DataFrame,
    items: Sequence[str] | None = None,
    tool: str = "safe_and_together",
    registry: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Turn a wide audit table (one score column per item) into long format.

    Parameters
    ----------
    wide
        One row per file and reader: the non-score columns of
        :data:`AUDIT_COLUMNS` (and ``audit_date`` if any) and one column per
        item holding its score.
    items
        Score columns to take; default every column named like an item of
        ``tool``.
    tool, registry
        Audit tool whose items are looked for.

    Returns
    -------
    pandas.DataFrame
        Long table with :data:`AUDIT_COLUMNS` (and ``audit_date``), rows in
        the order of ``wide`` then of ``items``. Empty scores (an item not
        scored) are dropped: they are not readings.

    References
    ----------
    Wickham, H. (2014). Tidy data. Journal of Statistical Software 59(10).

    Examples
    --------
    >>> wide = pd.DataFrame({"case_id": ["C1"], "team": ["T1"], "period": ["baseline"],
    ...                      "reader_id": ["R1"], "trained": [False],
    ...                      "cc1_coercive_control": [2], "m_blaming_language": [1]})
    >>> audits_from_wide(wide)[["item", "score"]].to_dict("list")
    {'item': ['cc1_coercive_control', 'm_blaming_language'], 'score': [2, 1]}
    """
    known = tool_items(tool, registry)
    cols = list(items) if items is not None else [c for c in wide.columns if c in known]
    if not cols:
        raise AnalysisError(f"The wide audit table has no score column of tool {tool!r}.")
    ids = [c for c in (*AUDIT_COLUMNS[:5], "audit_date") if c in wide.columns]
    long = wide.reset_index(drop=True).melt(
        id_vars=ids, value_vars=cols, var_name="item", value_name="score", ignore_index=False
    )
    long = long.rename_axis("_row").sort_values("_row", kind="stable").reset_index(drop=True)
    long = long[long["score"].notna()].reset_index(drop=True)
    long["score"] = long["score"].astype("int64")
    return long


def prepare_audits(
    audits: pd.DataFrame,
    tool: str = "safe_and_together",
    registry: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Check a long audit table and add the columns the analyses share.

    Every analysis of the package accepts the result in place of the audit
    table and then skips this step, so a table checked once serves all.

    A *file* is one case in one period. Readings of a file are ordered by
    ``audit_date`` when the column exists, then by their order in the table
    (a stable sort; undated readings after dated ones), so the first
    reading is the earliest (the primary reader's in a case reading where a
    second reader checks a sample).

    Returns
    -------
    pandas.DataFrame
        The rows with a score in reading order; ``item`` is an ordered
        categorical in registry order, ``case_id``, ``team``, ``period`` and
        ``reader_id`` categoricals; added columns are ``file`` (integer code of
        case_id and period), ``item_code``, ``level`` (position of the score
        on the item's scale, 0-based), ``met`` (bool) and ``rank`` (0 for a
        file's first reading of the item, 1 for the second, ...).

    Raises
    ------
    AnalysisError
        A column is missing, a score is off the item's scale or not an
        integer, or one reader scored the same item of a file twice.
    ConfigError
        An item is not in the tool (add it to the tool in the evaluation
        config).

    References
    ----------
    Wickham, H. (2014). Tidy data. Journal of Statistical Software 59(10).

    Examples
    --------
    >>> audits = pd.DataFrame({"case_id": ["C1", "C1"], "team": "T1", "period": "p",
    ...     "reader_id": ["R2", "R1"], "trained": False, "item": "m_blaming_language",
    ...     "score": [1, 0], "audit_date": pd.to_datetime(["2024-02-01", "2024-01-01"])})
    >>> prepare_audits(audits)[["reader_id", "level", "met", "rank"]].to_dict("list")
    {'reader_id': ['R1', 'R2'], 'level': [0, 1], 'met': [True, False], 'rank': [0, 1]}
    """
    if audits.attrs.get(_PREPARED) == tool and set(_ADDED) <= set(audits.columns):
        return audits
    missing = [c for c in AUDIT_COLUMNS if c not in audits.columns]
    if missing:
        raise AnalysisError(f"The audit table lacks column(s) {', '.join(missing)}.")
    items = tool_items(tool, registry)
    scored = audits["score"].notna().to_numpy()
    df = audits if scored.all() else audits[scored]
    if "audit_date" in df.columns:
        dates = pd.to_datetime(df["audit_date"]).to_numpy().astype("datetime64[ns]")
        undated = np.isnat(dates)
        dates = dates.view("int64").copy()
        dates[undated] = np.iinfo(np.int64).max  # undated readings after dated ones
        order = np.argsort(dates, kind="stable")
    else:
        order = np.arange(len(df))
    raw_codes, raw_items = pd.factorize(df["item"])
    known = {code: k for k, code in enumerate(items)}
    unknown = sorted(str(i) for i in raw_items if i not in known)
    if unknown or (raw_codes < 0).any():
        raise ConfigError(
            f"Audit item(s) {', '.join(map(repr, unknown or ['(empty)']))} are not in tool "
            f"{tool!r}; add them to the tool under audit_tools in the evaluation config."
        )
    lut = np.array([known[i] for i in raw_items], dtype=np.int64)
    item_cat = pd.Categorical.from_codes(
        lut[raw_codes[order]], categories=list(items), ordered=True
    )
    item_code = item_cat.codes.astype(np.int64)
    score = df["score"].to_numpy(dtype=float)[order]
    if not np.array_equal(score, np.round(score)):
        raise AnalysisError("Audit scores must be whole numbers.")
    score = score.astype(np.int64)
    level_lut, met_lut, offset = _lookups(items)
    pos = score - offset
    inside = (pos >= 0) & (pos < level_lut.shape[1])
    level = np.full(len(df), -1, dtype=np.int64)
    level[inside] = level_lut[item_code[inside], pos[inside]]
    if (level < 0).any():
        bad = pd.Series(np.asarray(item_cat)[level < 0]).value_counts()
        detail = "; ".join(
            f"{item}: {n} row(s), scale {items[item]['levels']}" for item, n in bad.items()
        )
        raise AnalysisError(f"Audit scores off the item's scale: {detail}.")
    codes = {c: _codes(df[c], order) for c in ("case_id", "team", "period", "reader_id")}
    n_period = len(codes["period"].categories)
    file = pd.factorize(codes["case_id"].codes.astype(np.int64) * n_period + codes["period"].codes)[
        0
    ]
    n_items, n_readers = len(items), len(codes["reader_id"].categories)
    key = file.astype(np.int64) * n_items + item_code
    reading = key * n_readers + codes["reader_id"].codes
    if (np.diff(np.sort(reading)) == 0).any():
        raise AnalysisError("A reader scored the same item of the same file more than once.")
    by_key = np.argsort(key, kind="stable")
    sorted_key = key[by_key]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1]
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(key)]))
    rank = np.empty(len(key), dtype=np.int64)
    rank[by_key] = np.arange(len(key)) - group_start
    out = pd.DataFrame(
        {
            "case_id": codes["case_id"],
            "team": codes["team"],
            "period": codes["period"],
            "reader_id": codes["reader_id"],
            "trained": df["trained"].to_numpy(dtype=bool)[order],
            "item": item_cat,
            "score": score,
            "file": file.astype(np.int64),
            "item_code": item_code.astype(np.int16),
            "level": level.astype(np.int8),
            "met": met_lut[item_code, pos],
            "rank": rank.astype(np.int32),
        }
    )
    out.attrs[_PREPARED] = tool
    return out


def _codes(column: pd.Series, order: np.ndarray) -> pd.Categorical:
    """A column as a categorical with sorted categories, rows in ``order``."""
    codes, uniques = pd.factorize(column)
    if codes.min(initial=0) < 0:
        raise AnalysisError(f"Audit column {column.name!r} has empty values.")
    rank = np.argsort(np.argsort(np.asarray(uniques), kind="stable"))
    return pd.Categorical.from_codes(rank[codes[order]], categories=np.sort(np.asarray(uniques)))


def _lookups(items: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, int]:
    """Arrays ``[item, score - offset]`` of scale position (-1 off scale) and met."""
    lows = [min(i["levels"]) for i in items.values()]
    highs = [max(i["levels"]) for i in items.values()]
    offset, width = min(lows), max(highs) - min(lows) + 1
    level = np.full((len(items), width), -1, dtype=np.int64)
    met = np.zeros((len(items), width), dtype=bool)
    for k, info in enumerate(items.values()):
        level[k, np.asarray(info["levels"]) - offset] = np.arange(len(info["levels"]))
        met[k, np.asarray(info["met"]) - offset] = True
    return level, met, offset


def file_readings(prepared: pd.DataFrame, reading: Reading = "first") -> pd.DataFrame:
    """One row per file and item: whether the item counts as met.

    Parameters
    ----------
    prepared
        Output of :func:`prepare_audits`.
    reading
        ``"first"`` (default): the file's first reading decides (see
        :func:`prepare_audits` for the order); a second reading is for
        agreement only, so double-read files weigh no more than others and
        the estimate keeps the primary readers' standard. ``"all"``: met
        only when every reader scored it met (conservative). ``"any"``: met
        when any reader did.

    Returns
    -------
    pandas.DataFrame
        Columns ``file``, ``case_id``, ``team``, ``period``, ``trained``,
        ``item``, ``item_code``, ``met`` (team, period and training from the
        first reading).

    References
    ----------
    Case reading with a second reader on a sample for reliability: Safe &
    Together Institute, Australian national case reading (2017).

    Examples
    --------
    >>> audits = pd.DataFrame({"case_id": ["C1", "C1"], "team": "T1", "period": "p",
    ...     "reader_id": ["R1", "R2"], "trained": False,
    ...     "item": "cc1_coercive_control", "score": [2, 1]})
    >>> prepared = prepare_audits(audits)
    >>> [file_readings(prepared, rule)["met"].item() for rule in READING_RULES]
    [True, False, True]
    """
    if reading not in READING_RULES:
        raise ConfigError(f"reading must be one of {', '.join(READING_RULES)}, not {reading!r}.")
    cols = ["file", "case_id", "team", "period", "trained", "item", "item_code", "met"]
    first = prepared.loc[prepared["rank"].to_numpy() == 0, cols].reset_index(drop=True)
    if reading == "first" or (prepared["rank"] == 0).all():
        return first
    agg = "min" if reading == "all" else "max"
    met = prepared.groupby(["file", "item_code"], sort=False)["met"].agg(agg)
    key = pd.MultiIndex.from_arrays([first["file"], first["item_code"]])
    first["met"] = met.reindex(key).to_numpy()
    return first
