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
    "file_readings",
    "item_table",
    "prepare_audits",
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


def tool_items(
    tool: str = "safe_and_together", registry: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Items of one audit tool of the registry, with a clear error if unknown."""
    reg = registry if registry is not None else audit_tool_registry()
    if tool not in reg:
        raise ConfigError(f"Unknown audit tool {tool!r}; known: {', '.join(sorted(reg))}.")
    return reg[tool]["items"]


def item_table(
    tool: str = "safe_and_together", registry: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """One row per item of a tool, in registry order.

    Columns: ``item``, ``group``, ``direction``, ``label_en``, ``label_nl``,
    ``levels`` (tuple of scores), ``met`` (tuple of scores counting as met).
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

    A *file* is one case in one period. Readings of a file are ordered by
    ``audit_date`` when the column exists, then by their order in the table
    (a stable sort), so the first reading is the earliest (the primary
    reader's in a case reading where a second reader checks a sample).

    Returns
    -------
    pandas.DataFrame
        The rows with a score, with ``item`` as an ordered categorical in
        registry order and the added columns ``file`` (integer code of
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
    """
    missing = [c for c in AUDIT_COLUMNS if c not in audits.columns]
    if missing:
        raise AnalysisError(f"The audit table lacks column(s) {', '.join(missing)}.")
    items = tool_items(tool, registry)
    df = audits[audits["score"].notna()]
    if "audit_date" in df.columns:
        df = df.sort_values("audit_date", kind="stable")
    unknown = sorted(set(pd.unique(df["item"])) - set(items))
    if unknown:
        raise ConfigError(
            f"Audit item(s) {', '.join(map(repr, unknown))} are not in tool {tool!r}; "
            "add them to the tool under audit_tools in the evaluation config."
        )
    item_cat = pd.Categorical(df["item"], categories=list(items), ordered=True)
    item_code = item_cat.codes.astype(np.int64)
    score = df["score"].to_numpy(dtype=float)
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
    file = pd.MultiIndex.from_arrays([df["case_id"], df["period"]]).factorize()[0]
    out = pd.DataFrame(
        {
            "case_id": df["case_id"].to_numpy(),
            "team": df["team"].to_numpy(),
            "period": df["period"].to_numpy(),
            "reader_id": df["reader_id"].to_numpy(),
            "trained": df["trained"].astype(bool).to_numpy(),
            "item": item_cat,
            "score": score,
            "file": file,
            "item_code": item_code,
            "level": level,
            "met": met_lut[item_code, pos],
        }
    )
    reader = pd.factorize(out["reader_id"])[0]
    if pd.DataFrame({"f": file, "i": item_code, "r": reader}).duplicated().any():
        raise AnalysisError("A reader scored the same item of the same file more than once.")
    out["rank"] = out.groupby(["file", "item_code"], sort=False).cumcount().to_numpy()
    return out


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
