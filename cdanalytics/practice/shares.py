"""Share of audited files meeting each item, and a component profile per team."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._stats import wilson_ci
from ..errors import ConfigError
from ._data import Reading, check_by, file_readings, item_table, prepare_audits

__all__ = ["PROFILE_GROUP", "SHARE_COLUMNS", "component_profile", "shares"]

#: Columns of :func:`shares` after the grouping columns.
SHARE_COLUMNS: list[str] = [
    "item",
    "group",
    "direction",
    "n_files",
    "n_met",
    "share",
    "ci_low",
    "ci_high",
]

#: Item code of the summary row of :func:`component_profile`: files meeting
#: every item of the group.
PROFILE_GROUP = "all"


def shares(
    audits: pd.DataFrame,
    by: Sequence[str] = ("team", "period"),
    tool: str = "safe_and_together",
    reading: Reading = "first",
    alpha: float = 0.05,
    registry: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Share of files meeting each audit item, by group, with Wilson CIs.

    Parameters
    ----------
    audits
        Long audit table (:data:`~cdanalytics.practice.AUDIT_COLUMNS`, one
        row per file, reader and item; see
        :func:`~cdanalytics.practice.audits_from_wide` for wide tables), or
        its :func:`~cdanalytics.practice.prepare_audits` result.
    by
        Grouping columns among ``team``, ``period`` and ``trained``
        (``trained`` of the file's first reading).
    tool
        Audit tool of the registry whose items, scales and met scores apply.
    reading
        One reading per file and item: ``"first"`` (default; the earliest
        reading), ``"all"`` or ``"any"``; see
        :func:`~cdanalytics.practice.file_readings`.
    alpha
        1 - confidence level of the Wilson intervals.
    registry
        Audit-tool registry (default: the built-in one).

    Returns
    -------
    pandas.DataFrame
        One row per group and item (items in registry order): the ``by``
        columns, then :data:`SHARE_COLUMNS`: ``n_files`` files with a
        reading of the item, ``n_met`` of them meeting it, ``share`` and
        its Wilson interval ``ci_low``/``ci_high``. Raw counts: pass them
        through disclosure control before publishing.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and
    statistical inference. JASA 22:209-212.
    Safe & Together Institute; Scottish Government (2021) National Guidance
    for Child Protection in Scotland, 4.115-4.116 (the items).

    Examples
    --------
    >>> audits = pd.DataFrame({"case_id": ["C1", "C2", "C3"], "team": "T1",
    ...     "period": "baseline", "reader_id": "R1", "trained": False,
    ...     "item": "cc1_coercive_control", "score": [2, 1, 2]})
    >>> out = shares(audits, by=["period"])
    >>> out[["item", "n_files", "n_met"]].to_dict("records")
    [{'item': 'cc1_coercive_control', 'n_files': 3, 'n_met': 2}]
    >>> round(float(out["share"].iloc[0]), 3)
    0.667
    """
    by = check_by(by, "shares")
    files = file_readings(prepare_audits(audits, tool, registry), reading)
    return _share_table(files, by, item_table(tool, registry), alpha)


def component_profile(
    audits: pd.DataFrame,
    by: Sequence[str] = ("team", "period"),
    group: str = "critical_component",
    tool: str = "safe_and_together",
    reading: Reading = "first",
    alpha: float = 0.05,
    registry: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Profile of one group of items (the five critical components) per team.

    Parameters
    ----------
    audits, by, tool, reading, alpha, registry
        As for :func:`shares`.
    group
        Item group of the registry profiled (default the critical
        components).

    Returns
    -------
    pandas.DataFrame
        :func:`shares` rows of the group's items, plus per group of ``by`` a
        row with ``item`` = :data:`PROFILE_GROUP` (``"all"``): the share of
        files meeting every item of the group that the audits score (among
        files with a reading of each such item), with ``group`` and
        ``direction`` of the group.

    References
    ----------
    Safe & Together Institute, the five critical components.
    Wilson, E. B. (1927). JASA 22:209-212.

    Examples
    --------
    >>> audits = pd.DataFrame({"case_id": ["C1", "C1", "C2", "C2"], "team": "T1",
    ...     "period": "baseline", "reader_id": "R1", "trained": False,
    ...     "item": ["cc1_coercive_control", "cc3_protective_efforts"] * 2,
    ...     "score": [2, 2, 2, 0]})
    >>> out = component_profile(audits, by=["team"])
    >>> out[["item", "n_files", "n_met"]].to_dict("records")[-1]
    {'item': 'all', 'n_files': 2, 'n_met': 1}
    """
    by = check_by(by, "shares")
    items = item_table(tool, registry)
    members = items[items["group"] == group]
    if members.empty:
        known = ", ".join(sorted(items["group"].unique()))
        raise ConfigError(f"Tool {tool!r} has no item group {group!r}; known: {known}.")
    files = file_readings(prepare_audits(audits, tool, registry), reading)
    files = files[files["item"].isin(members["item"])]
    per_item = _share_table(files, by, items, alpha)
    per_item = per_item[per_item["item"].isin(members["item"])]
    whole = files.groupby("file", sort=False).agg(
        n_items=("met", "size"), met=("met", "all"), **{c: (c, "first") for c in by}
    )
    whole = whole[whole["n_items"] == files["item"].nunique()]
    counts = whole.groupby(list(by), sort=True, observed=True)["met"].agg(["size", "sum"])
    low, high = wilson_ci(counts["sum"], counts["size"], alpha)
    summary = counts.reset_index().assign(
        item=PROFILE_GROUP,
        group=group,
        direction="higher_better",
        n_files=counts["size"].to_numpy(),
        n_met=counts["sum"].to_numpy().astype(np.int64),
        share=(counts["sum"] / counts["size"]).to_numpy(),
        ci_low=low,
        ci_high=high,
    )[[*by, *SHARE_COLUMNS]]
    per_item = per_item.astype({"item": str})
    out = pd.concat([per_item, summary], ignore_index=True)
    return out.sort_values(list(by), kind="stable").reset_index(drop=True)


def _share_table(
    files: pd.DataFrame, by: list[str], items: pd.DataFrame, alpha: float
) -> pd.DataFrame:
    """Counts, shares and Wilson CIs of met per ``by`` group and item."""
    counts = (
        files.groupby([*by, "item"], sort=True, observed=True)["met"]
        .agg(["size", "sum"])
        .reset_index()
    )
    low, high = wilson_ci(counts["sum"], counts["size"], alpha)
    info = items.set_index("item")
    out = pd.DataFrame({c: counts[c].to_numpy() for c in by})
    out["item"] = counts["item"].astype(str).to_numpy()
    out["group"] = info["group"].reindex(out["item"]).to_numpy()
    out["direction"] = info["direction"].reindex(out["item"]).to_numpy()
    out["n_files"] = counts["size"].to_numpy().astype(np.int64)
    out["n_met"] = counts["sum"].to_numpy().astype(np.int64)
    out["share"] = out["n_met"] / out["n_files"]
    out["ci_low"], out["ci_high"] = low, high
    return out
