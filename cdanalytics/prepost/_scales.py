"""Registry entries of the scales the pre/post analyses read: direction,
reliability, norms and the clinical cut-off of Jacobson & Truax."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import ConfigError, StatisticalWarning
from ..registry import scale_info
from ._grouping import _small_factorize


def scale_table(frame: pd.DataFrame, registry: Mapping[str, Any]) -> pd.DataFrame:
    """Registry entry of each instrument × scale in ``frame``, one row each.

    Columns ``instrument``, ``scale``, ``direction``, ``sign`` (+1 when a
    higher score is better, -1 when worse), ``reliability``,
    ``reliability_source``, ``functional_mean``, ``functional_sd``,
    ``dysfunctional_mean``, ``dysfunctional_sd``, ``clinical_threshold``.
    """
    pairs = frame[["instrument", "scale"]].drop_duplicates().astype(str)
    return pd.DataFrame(
        [_scale_record(i, s, registry) for i, s in pairs.itertuples(index=False)],
        columns=_SCALE_TABLE_COLUMNS,
    )


_TEXT_COLUMNS = ("instrument", "scale", "direction", "reliability_source")


def _scale_record(instrument: str, scale: str, registry: Mapping[str, Any]) -> dict[str, Any]:
    """One row of :func:`scale_table`."""
    info = scale_info(instrument, scale, registry)
    func = info.get("functional") or {}
    dys = info.get("dysfunctional") or {}
    return {
        "instrument": instrument,
        "scale": scale,
        "direction": info["direction"],
        "sign": 1.0 if info["direction"] == "higher_better" else -1.0,
        "reliability": _float(info.get("reliability")),
        "reliability_source": info.get("reliability_source"),
        "functional_mean": _float(func.get("mean")),
        "functional_sd": _float(func.get("sd")),
        "dysfunctional_mean": _float(dys.get("mean")),
        "dysfunctional_sd": _float(dys.get("sd")),
        "clinical_threshold": _float(info.get("clinical_threshold")),
    }


def scale_rows(
    instrument: Any, scale: Any, registry: Mapping[str, Any], columns: Sequence[str]
) -> dict[str, np.ndarray]:
    """``columns`` of :func:`scale_table` for rows of the given ``instrument``
    and ``scale`` (columns' ``.array``), as arrays (text columns as object
    arrays): the registry is read once per instrument × scale present, and
    the rows take their values by the category codes, without a table."""
    inst_codes, inst_labels = _codes_and_labels(instrument)
    scale_codes, scale_labels = _codes_and_labels(scale)
    n_scale = max(len(scale_labels), 1)
    pair_code, pairs = _small_factorize(
        inst_codes.astype(np.int64) * n_scale + scale_codes, len(inst_labels) * n_scale
    )
    records = [
        _scale_record(str(inst_labels[p // n_scale]), str(scale_labels[p % n_scale]), registry)
        for p in pairs.tolist()
    ]
    out = {}
    for col in columns:
        values = [r[col] for r in records]
        kind = object if col in _TEXT_COLUMNS else float
        out[col] = np.array(values, dtype=kind)[pair_code]
    return out


def _codes_and_labels(column: Any) -> tuple[np.ndarray, Any]:
    """Integer code of each value of a column (its ``.array``) without
    missing values, and the labels."""
    if isinstance(column, pd.Categorical):
        array = column
        codes, labels = array.codes, list(array.categories)
        if (codes < 0).any():  # refused by the registry lookup as "nan", as before
            codes = np.where(codes < 0, len(labels), codes)
            labels.append("nan")
        return codes, labels
    return pd.factorize(column, use_na_sentinel=False)


def _float(value: Any) -> float:
    return np.nan if value is None else float(value)


def attach_scale_info(frame: pd.DataFrame, table: pd.DataFrame, columns: Sequence[str]) -> None:
    """Add ``columns`` of :func:`scale_table` to ``frame`` in place, row by row."""
    inst = frame["instrument"].astype("category")
    scale = frame["scale"].astype("category")
    n_scale = len(scale.cat.categories)
    codes, uniques = pd.factorize(inst.cat.codes.to_numpy(np.int64) * n_scale + scale.cat.codes)
    index = pd.MultiIndex.from_arrays(
        [
            inst.cat.categories.astype(str)[uniques // n_scale],
            scale.cat.categories.astype(str)[uniques % n_scale],
        ]
    )
    lookup = table.set_index(["instrument", "scale"]).reindex(index)
    for col in columns:
        frame[col] = lookup[col].to_numpy()[codes]


CutoffChoice = Literal["auto", "a", "b", "c", "threshold"]


def clinical_cutoff(
    direction: str,
    functional_mean: float = np.nan,
    functional_sd: float = np.nan,
    dysfunctional_mean: float = np.nan,
    dysfunctional_sd: float = np.nan,
    clinical_threshold: float = np.nan,
    which: CutoffChoice = "auto",
) -> tuple[float, str]:
    """Cut-off between the clinical and the functional range of a scale.

    Jacobson & Truax (1991): ``a`` = dysfunctional mean ± 2 SD (towards
    the functional range), ``b`` = functional mean ± 2 SD (towards the
    dysfunctional range), ``c = (SD_dys × M_func + SD_func × M_dys) /
    (SD_dys + SD_func)``, the point equally likely under both norms.
    ``"auto"`` takes c when both norms are known, else b (functional norm
    only), else a (dysfunctional norm only), else the instrument's published
    clinical threshold (for example SDQ total 17), else none.

    Parameters
    ----------
    direction
        ``higher_worse`` or ``higher_better``.
    functional_mean, functional_sd, dysfunctional_mean, dysfunctional_sd
        Norms (NaN where unknown).
    clinical_threshold
        Published score at or beyond which a score is clinical.
    which
        ``"auto"`` or the cut-off wanted (``"a"``, ``"b"``, ``"c"``,
        ``"threshold"``); NaN and ``"none"`` if the registry lacks what it needs.

    Returns
    -------
    (value, cutoff_type)
        ``cutoff_type`` is ``"a"``, ``"b"``, ``"c"``, ``"threshold"`` or ``"none"``.

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). Clinical significance: a
    statistical approach to defining meaningful change in psychotherapy
    research. J Consult Clin Psychol 59:12-19.
    """
    if which not in ("auto", "a", "b", "c", "threshold"):
        raise ConfigError(f"cutoff must be auto, a, b, c or threshold, not {which!r}.")
    worse = 1.0 if direction == "higher_worse" else -1.0
    has_func = np.isfinite(functional_mean) and np.isfinite(functional_sd)
    has_dys = np.isfinite(dysfunctional_mean) and np.isfinite(dysfunctional_sd)
    options = {
        "c": (
            (dysfunctional_sd * functional_mean + functional_sd * dysfunctional_mean)
            / (dysfunctional_sd + functional_sd)
            if has_func and has_dys
            else np.nan
        ),
        "b": functional_mean + worse * 2 * functional_sd if has_func else np.nan,
        "a": dysfunctional_mean - worse * 2 * dysfunctional_sd if has_dys else np.nan,
        "threshold": float(clinical_threshold),
    }
    order = ["c", "b", "a", "threshold"] if which == "auto" else [which]
    for kind in order:
        if np.isfinite(options[kind]):
            return float(options[kind]), kind
    return np.nan, "none"


_SCALE_COLUMNS = [
    "direction",
    "sign",
    "reliability",
    "reliability_source",
    "functional_mean",
    "functional_sd",
    "dysfunctional_mean",
    "dysfunctional_sd",
    "clinical_threshold",
]
_SCALE_TABLE_COLUMNS = ["instrument", "scale", *_SCALE_COLUMNS]


def _scale_parameters(
    params: Mapping[str, Any],
    sample_sd: np.ndarray,
    registry: Mapping[str, Any],
    sd_source: str,
    cutoff: CutoffChoice,
) -> dict[str, np.ndarray]:
    """Reliability, SD, S_diff and cut-off of each group of ``params`` (the
    arrays of instrument, scale and informant of each group, whose baseline
    SD is ``sample_sd``), as arrays: the registry's entries
    (:func:`scale_rows`) and ``sd``, ``sd_source``, ``s_diff``, ``cutoff``
    and ``cutoff_type``."""
    instruments, scales = params["instrument"], params["scale"]
    out = scale_rows(instruments, scales, registry, _SCALE_COLUMNS)
    reliability = out["reliability"]
    bad = np.flatnonzero(~(((reliability >= 0) & (reliability < 1)) | np.isnan(reliability)))
    if bad.size:
        i = bad[0]
        raise ConfigError(
            f"Reliability of {instruments[i]}/{scales[i]} is {reliability[i]}; it must "
            "be at least 0 and below 1."
        )
    use_norm = (sd_source == "auto") & np.isfinite(out["dysfunctional_sd"])
    out["sd"] = np.where(use_norm, out["dysfunctional_sd"], sample_sd)
    out["sd_source"] = np.where(use_norm, "norm_dysfunctional", "sample_baseline").astype(object)
    out["s_diff"] = out["sd"] * np.sqrt(2.0 * (1.0 - reliability))
    # One cut-off per instrument × scale × informant from the registry's norms.
    cut = [
        clinical_cutoff(*values, which=cutoff)
        for values in zip(
            out["direction"].tolist(),
            *(
                out[name].tolist()
                for name in (
                    "functional_mean",
                    "functional_sd",
                    "dysfunctional_mean",
                    "dysfunctional_sd",
                    "clinical_threshold",
                )
            ),
            strict=True,
        )
    ]
    out["cutoff"] = np.array([c[0] for c in cut], dtype=float)
    out["cutoff_type"] = np.array([c[1] for c in cut], dtype=object)
    for i in np.flatnonzero(~np.isfinite(reliability)):
        instrument, scale = instruments[i], scales[i]
        warnings.warn(
            f"No reliability in the instrument registry for {instrument}/{scale}: "
            "reliable change is not computed (change_class 'reliability_missing'); set "
            f"instruments.{instrument}.scales.{scale}.reliability in the evaluation config.",
            StatisticalWarning,
            stacklevel=3,
        )
    if cutoff != "auto":
        for i in np.flatnonzero(out["cutoff_type"] == "none"):
            instrument, scale = instruments[i], scales[i]
            warnings.warn(
                f"Cut-off {cutoff!r} cannot be computed for {instrument}/{scale} from "
                "the registry norms: clinical status is unknown.",
                StatisticalWarning,
                stacklevel=3,
            )
    return out
