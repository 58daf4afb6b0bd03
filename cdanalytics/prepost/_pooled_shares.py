"""Reliable change with imputed second scores: the class shares of the completed
data sets pooled by Rubin's rules (:func:`cdanalytics.prepost.reliable_change`
with ``missing="impute"``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from ._data import SCALE_KEYS
from ._grouping import group_codes
from .impute import POOLED_COLUMNS, rubin_pool

__all__ = ["pooled_shares"]


def pooled_shares(
    summaries: list[pd.DataFrame],
    by: list[str],
    imputed: np.ndarray,
    wide: pd.DataFrame,
    alpha: float,
) -> pd.DataFrame:
    """Class shares of ``m`` completed data sets pooled by Rubin's rules, with
    each summary row's keys, ``missing``, ``m``, ``n_classified``, ``n_imputed``
    and the pooled columns (the caller orders them)."""
    keys = [*by, *SCALE_KEYS, "baseline", "change_class"]
    base = summaries[0][keys].reset_index(drop=True)
    for other in summaries[1:]:
        if not base.equals(other[keys].reset_index(drop=True)):
            raise AnalysisError("The imputed data sets gave different summary rows.")
    rates = np.array([s["rate"].to_numpy(dtype=float) for s in summaries])
    n = np.array([s["n_classified"].to_numpy(dtype=float) for s in summaries])
    with np.errstate(divide="ignore", invalid="ignore"):
        variances = rates * (1 - rates) / n
    pooled = rubin_pool(rates, variances, df_complete=n[0] - 1, alpha=alpha)
    out = base.copy()
    out["missing"] = "impute"
    out["m"] = len(summaries)
    out["n_classified"] = summaries[0]["n_classified"].to_numpy()
    codes, groups = (
        group_codes(wide.loc[imputed], [*by, *SCALE_KEYS])
        if imputed.any()
        else (
            np.empty(0, dtype=np.int64),
            wide.iloc[:0][[*by, *SCALE_KEYS]],
        )
    )
    groups = groups.assign(n_imputed=np.bincount(codes, minlength=len(groups)))
    merged = (
        out[[*by, *SCALE_KEYS]]
        .astype(str)
        .merge(
            groups.astype(str).assign(n_imputed=groups["n_imputed"].to_numpy()),
            how="left",
            on=[*by, *SCALE_KEYS],
        )
    )
    out["n_imputed"] = merged["n_imputed"].fillna(0).to_numpy(dtype=np.int64)
    out["rate"] = pooled["estimate"]
    out["se"] = pooled["se"]
    out["ci_low"] = np.clip(pooled["ci_low"], 0.0, 1.0)
    out["ci_high"] = np.clip(pooled["ci_high"], 0.0, 1.0)
    for name in ("df", *POOLED_COLUMNS):
        out[name] = pooled[name]
    return out
