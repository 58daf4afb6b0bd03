"""The design matrix of the Cox models: treatment-coded categoricals, checked for
covariates that do not vary or are collinear."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ConfigError

__all__ = ["DEFAULT_REFERENCES", "check_identifiable", "cox_design"]

#: Reference levels used when the caller names none: the comparison group, so
#: that the group hazard ratio is programme against comparison.
DEFAULT_REFERENCES: dict[str, str] = {"group": "comparison"}


def cox_design(
    frame: pd.DataFrame, covariates: list[str], reference: dict[str, Any]
) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Design matrix with treatment-coded categoricals; term names; references."""
    unknown = set(reference) - set(covariates)
    if unknown:
        raise ConfigError(f"reference names column(s) not among the covariates: {sorted(unknown)}.")
    columns, terms, references = [], [], {}
    for name in covariates:
        values = frame[name]
        if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
            columns.append(values)
            terms.append(name)
            continue
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.codes.to_numpy()
            counts = np.bincount(codes[codes >= 0], minlength=len(values.cat.categories))
            levels = [c for c, k in zip(values.cat.categories, counts, strict=True) if k]
        else:
            levels = sorted(set(values.unique()))
        if len(levels) < 2:
            raise AnalysisError(f"cox: covariate {name!r} has only one level ({levels}).")
        if name in reference and reference[name] not in levels:
            raise ConfigError(
                f"reference level {reference[name]!r} of {name!r} is not in the data "
                f"(levels: {', '.join(map(str, levels))})."
            )
        ref = reference.get(name, DEFAULT_REFERENCES.get(name, levels[0]))
        ref = ref if ref in levels else levels[0]
        references[name] = ref
        for level in levels:
            if level != ref:
                columns.append((values, level))
                terms.append(f"{name}[{level}]")
    # Row-major, as the engine reads it: each categorical covariate's terms
    # in one gather of its rows of a small table of dummies.
    exog = np.empty((len(frame), len(columns)))
    j = 0
    while j < len(columns):
        column = columns[j]
        if not isinstance(column, tuple):
            exog[:, j] = column.to_numpy(dtype=float)
            j += 1
            continue
        values = column[0]
        width = sum(1 for c in columns[j:] if isinstance(c, tuple) and c[0] is values)
        levels = [c[1] for c in columns[j : j + width]]
        if isinstance(values.dtype, pd.CategoricalDtype):
            categories = values.cat.categories
            dummies = np.zeros((len(categories) + 1, width))  # last row: missing
            for i, level in enumerate(levels):
                dummies[categories.get_loc(level), i] = 1.0
            exog[:, j : j + width] = dummies[values.cat.codes.to_numpy()]
        else:
            for i, level in enumerate(levels):
                exog[:, j + i] = (values == level).to_numpy(dtype=float)
        j += width
    check_identifiable(exog, terms)
    return exog, terms, references


def check_identifiable(exog: np.ndarray, terms: list[str]) -> None:
    """Refuse covariates that do not vary or are collinear. The centred
    cross-product matrix is summed over chunks of rows (no centred copy)."""
    constant = [
        t for t, lo, hi in zip(terms, exog.min(axis=0), exog.max(axis=0), strict=True) if lo == hi
    ]
    if constant:
        raise AnalysisError(f"cox: covariate term(s) {', '.join(constant)} do not vary.")
    mean = exog.mean(axis=0)
    cross = np.zeros((exog.shape[1], exog.shape[1]))
    for lo in range(0, len(exog), 8192):
        centred = exog[lo : lo + 8192] - mean
        cross += centred.T @ centred
    scale = np.sqrt(np.diag(cross))
    if np.linalg.matrix_rank(cross / np.outer(scale, scale)) < len(terms):
        raise AnalysisError(
            f"cox: the covariate terms {', '.join(terms)} are collinear (one is a linear "
            "combination of others); drop one."
        )
