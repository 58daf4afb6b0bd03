"""Agreement between readers of double-read files, per audit item."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ConfigError
from ._data import item_table, prepare_audits
from ._kappa import agreement_weights, alpha_from_counts, fleiss_from_counts, kappa_from_table

__all__ = ["AGREEMENT_COLUMNS", "AGREEMENT_STATISTICS", "agreement"]

#: Statistics of :func:`agreement` and how each is computed.
AGREEMENT_STATISTICS: dict[str, str] = {
    "cohen_kappa": "Cohen's kappa, first against second reading",
    "weighted_kappa_linear": "Cohen's weighted kappa, linear weights",
    "weighted_kappa_quadratic": "Cohen's weighted kappa, quadratic weights",
    "fleiss_kappa": "Fleiss' kappa over files with the same number of readings",
    "krippendorff_alpha_ordinal": "Krippendorff's alpha, ordinal metric, all pairable files",
    "krippendorff_alpha_nominal": "Krippendorff's alpha, nominal metric, all pairable files",
}

#: Columns of :func:`agreement`.
AGREEMENT_COLUMNS: list[str] = [
    "item",
    "group",
    "direction",
    "statistic",
    "n_files",
    "n_readers",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "se_method",
    "p_observed",
    "p_expected",
    "se_null",
    "p_value",
]

_SE_METHOD = {
    "cohen": "Fleiss, Cohen & Everitt (1969) asymptotic",
    "jackknife": "jackknife by file (Efron & Tibshirani 1993)",
}


def agreement(
    audits: pd.DataFrame,
    statistics: Sequence[str] = tuple(AGREEMENT_STATISTICS),
    n_readers: int | None = None,
    tool: str = "safe_and_together",
    alpha: float = 0.05,
    registry: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Agreement between readers per item, on files read more than once.

    Readings of a file are ordered as in
    :func:`~cdanalytics.practice.prepare_audits` (``audit_date``, then table
    order). Cohen's kappas compare each double-read file's first reading
    with its second, whoever the readers are (the usual case-reading
    design, where pairs of readers rotate). Scores enter as positions on
    the item's scale from the registry, so a level nobody used still
    counts in the weights.

    Parameters
    ----------
    audits
        Long audit table (see :func:`~cdanalytics.practice.shares`).
    statistics
        Keys of :data:`AGREEMENT_STATISTICS` to compute.
    n_readers
        Readings per file used by Fleiss' kappa (it needs the same number
        for every file); default the most common count of two or more.
    tool, registry
        Audit tool of the registry whose scales apply.
    alpha
        1 - confidence level; intervals are estimate ± z·se, cut to [-1, 1].

    Returns
    -------
    pandas.DataFrame
        :data:`AGREEMENT_COLUMNS`, one row per item and statistic (items
        with at least two pairable files): ``n_files`` files used,
        ``n_readers`` readings per file (the most, for alpha), ``estimate``,
        ``se`` (``se_method`` says which), ``ci_low``/``ci_high``;
        ``p_observed``/``p_expected`` (weighted) agreement for Cohen's
        kappas; ``se_null`` and ``p_value`` (z test of no agreement beyond
        chance) for Fleiss' kappa.

    References
    ----------
    Cohen, J. (1960). Educational and Psychological Measurement 20:37-46.
    Cohen, J. (1968). Weighted kappa. Psychological Bulletin 70:213-220.
    Fleiss, J. L., Cohen, J. & Everitt, B. S. (1969). Psychological
    Bulletin 72:323-327.
    Fleiss, J. L. (1971). Psychological Bulletin 76:378-382.
    Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability.
    Departmental Papers (ASC), University of Pennsylvania, 43.

    Examples
    --------
    >>> audits = pd.DataFrame({"case_id": ["C1", "C1", "C2", "C2", "C3", "C3"],
    ...     "team": "T1", "period": "baseline", "reader_id": ["R1", "R2"] * 3,
    ...     "trained": False, "item": "cc1_coercive_control", "score": [2, 2, 0, 0, 1, 2]})
    >>> out = agreement(audits, statistics=["cohen_kappa"])
    >>> out[["statistic", "n_files"]].to_dict("records")
    [{'statistic': 'cohen_kappa', 'n_files': 3}]
    >>> round(float(out["estimate"].iloc[0]), 3)
    0.5
    """
    unknown = [s for s in statistics if s not in AGREEMENT_STATISTICS]
    if unknown:
        raise ConfigError(
            f"Unknown agreement statistic(s) {', '.join(unknown)}; "
            f"known: {', '.join(AGREEMENT_STATISTICS)}."
        )
    prepared = prepare_audits(audits, tool, registry)
    items = item_table(tool, registry)
    n_levels = items["levels"].map(len).to_numpy()
    z = stats.norm.ppf(1 - alpha / 2)
    frames = []
    cohen = [s for s in statistics if s.startswith(("cohen", "weighted"))]
    if cohen:
        frames.append(_cohen(prepared, cohen, n_levels))
    multi = [s for s in statistics if s not in cohen]
    if multi:
        frames.append(_multi_reader(prepared, multi, n_levels, n_readers))
    out = pd.concat(frames, ignore_index=True)
    out = out[out["n_files"] >= 2]
    out["ci_low"] = np.clip(out["estimate"] - z * out["se"], -1.0, 1.0)
    out["ci_high"] = np.clip(out["estimate"] + z * out["se"], -1.0, 1.0)
    info = items.set_index("item")
    out["group"] = info["group"].reindex(out["item"]).to_numpy()
    out["direction"] = info["direction"].reindex(out["item"]).to_numpy()
    order = {s: k for k, s in enumerate(AGREEMENT_STATISTICS)}
    out = out.assign(_i=out["item"].map({c: k for k, c in enumerate(items["item"])}))
    out = out.assign(_s=out["statistic"].map(order)).sort_values(["_i", "_s"])
    return out.reset_index(drop=True)[AGREEMENT_COLUMNS]


def _cohen(prepared: pd.DataFrame, wanted: list[str], n_levels: np.ndarray) -> pd.DataFrame:
    """Cohen's kappas of all items from first-by-second reading tables."""
    k_max = int(n_levels.max())
    n_items = len(n_levels)
    rank = prepared["rank"].to_numpy()
    key = prepared["file"].to_numpy() * n_items + prepared["item_code"].to_numpy()
    level = prepared["level"].to_numpy()
    first_level = np.zeros(int(key.max()) + 1, dtype=np.int64)  # dense: key < files x items
    first_level[key[rank == 0]] = level[rank == 0]
    second_key, second_level = key[rank == 1], level[rank == 1]
    item = second_key % n_items
    flat = (item * k_max + first_level[second_key]) * k_max + second_level
    tables = np.bincount(flat, minlength=n_items * k_max * k_max).reshape(n_items, k_max, k_max)
    rows = []
    for stat in wanted:
        kind = "unweighted" if stat == "cohen_kappa" else stat.rsplit("_", 1)[1]
        w = np.zeros((n_items, k_max, k_max))
        for k, size in enumerate(n_levels):
            w[k, :size, :size] = agreement_weights(int(size), kind)
        kappa, se, p_o, p_e, n = kappa_from_table(tables, w)
        rows.append(
            pd.DataFrame(
                {
                    "item_code": np.arange(n_items),
                    "statistic": stat,
                    "n_files": n.astype(np.int64),
                    "n_readers": 2,
                    "estimate": kappa,
                    "se": se,
                    "se_method": _SE_METHOD["cohen"],
                    "p_observed": p_o,
                    "p_expected": p_e,
                    "se_null": np.nan,
                    "p_value": np.nan,
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    out.insert(0, "item", prepared["item"].cat.categories[out.pop("item_code")])
    return out


def _multi_reader(
    prepared: pd.DataFrame, wanted: list[str], n_levels: np.ndarray, n_readers: int | None
) -> pd.DataFrame:
    """Fleiss' kappa and Krippendorff's alphas per item from per-file counts."""
    k_max = int(n_levels.max())
    n_items = len(n_levels)
    key = prepared["file"].to_numpy() * n_items + prepared["item_code"].to_numpy()
    unit_index, unit = pd.factorize(key)
    counts = np.bincount(
        unit_index * k_max + prepared["level"].to_numpy(), minlength=len(unit) * k_max
    ).reshape(len(unit), k_max)
    pairable = counts.sum(axis=1) >= 2
    counts, unit_item = counts[pairable], unit[pairable] % n_items
    by_item = np.argsort(unit_item, kind="stable")
    bounds = np.searchsorted(unit_item[by_item], np.arange(n_items + 1))
    rows = []
    for code, size in enumerate(n_levels):
        mine = counts[by_item[bounds[code] : bounds[code + 1]], :size]
        if len(mine) == 0:
            continue
        m_item = mine.sum(axis=1)
        for stat in wanted:
            row = {"item": prepared["item"].cat.categories[code], "statistic": stat}
            if stat == "fleiss_kappa":
                readers = n_readers or int(pd.Series(m_item).mode().max())
                use = mine[m_item == readers]
                kappa, se_null, se = fleiss_from_counts(use) if len(use) >= 2 else (np.nan,) * 3
                row |= {"n_files": len(use), "n_readers": readers, "estimate": kappa, "se": se}
                row |= {"se_null": se_null, "p_value": 2 * stats.norm.sf(abs(kappa / se_null))}
            else:
                estimate, se = alpha_from_counts(mine, stat.rsplit("_", 1)[1])
                row |= {"n_files": len(mine), "n_readers": int(m_item.max())}
                row |= {"estimate": estimate, "se": se, "se_null": np.nan, "p_value": np.nan}
            rows.append(row | {"se_method": _SE_METHOD["jackknife"]})
    out = pd.DataFrame(rows, columns=[c for c in AGREEMENT_COLUMNS if c not in ("group",)])
    return out.assign(p_observed=np.nan, p_expected=np.nan).drop(
        columns=["direction", "ci_low", "ci_high"]
    )
