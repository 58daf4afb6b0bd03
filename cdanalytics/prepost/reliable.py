"""Reliable and clinically significant change (Jacobson & Truax 1991)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._stats import wilson_ci
from ..errors import ConfigError, StatisticalWarning
from ..io.export import Export
from ._data import SCALE_KEYS, as_list, check_timepoints, registry_or_default, select_layout
from ._grouping import (
    _category_levels,
    category_dtype,
    first_rows,
    group_numbers,
    grouped_moments,
    layout_groups,
)
from ._pooled_shares import pooled_shares
from ._reshape import bincount
from ._rows import by_direction, scale_values_per_row, set_where
from ._scales import CutoffChoice, _scale_parameters, clinical_cutoff
from .impute import POOLED_COLUMNS, imputation_predictors, impute_second_scores

__all__ = [
    "CHANGE_CLASSES",
    "IMPUTED_RELIABLE_CHANGE_COLUMNS",
    "RELIABLE_CHANGE_COLUMNS",
    "RELIABLE_CHANGE_SUMMARY_COLUMNS",
    "clinical_cutoff",
    "reliable_change",
    "reliable_change_summary",
]

#: Values of ``change_class``: the four Jacobson-Truax classes, then why a
#: participant could not be classified.
CHANGE_CLASSES: list[str] = [
    "recovered",
    "improved",
    "unchanged",
    "deteriorated",
    "reliability_missing",
    "post_missing",
    "pre_missing",
]
_CLASSIFIED = CHANGE_CLASSES[:4]
_BASELINES = ["clinical", "not_clinical", "unknown"]
# Their categorical types, made once.
_CHANGE_CLASS_TYPE = category_dtype(tuple(CHANGE_CLASSES))
_CLASSIFIED_TYPE = category_dtype(tuple(_CLASSIFIED))
_BASELINE_TYPE = category_dtype(tuple(_BASELINES))

#: Columns of :func:`reliable_change` after ``participant_id`` and the grouping columns.
RELIABLE_CHANGE_COLUMNS: list[str] = [
    *SCALE_KEYS,
    "direction",
    "score_pre",
    "score_post",
    "change",
    "reliability",
    "reliability_source",
    "sd",
    "sd_source",
    "s_diff",
    "rci",
    "cutoff",
    "cutoff_type",
    "clinical_at_baseline",
    "clinical_at_post",
    "change_class",
]

#: Columns of :func:`reliable_change_summary` after the grouping columns.
RELIABLE_CHANGE_SUMMARY_COLUMNS: list[str] = [
    *SCALE_KEYS,
    "baseline",
    "change_class",
    "n",
    "n_classified",
    "rate",
    "ci_low",
    "ci_high",
    "n_post_missing",
    "n_reliability_missing",
    "reliability",
    "sd",
    "sd_source",
    "cutoff",
    "cutoff_type",
]

#: Columns of :func:`reliable_change` with ``missing="impute"``, after the grouping columns.
IMPUTED_RELIABLE_CHANGE_COLUMNS: list[str] = [
    *SCALE_KEYS,
    "baseline",
    "change_class",
    "missing",
    "m",
    "n_classified",
    "n_imputed",
    "rate",
    "se",
    "ci_low",
    "ci_high",
    "df",
    *POOLED_COLUMNS,
]


def reliable_change(
    data: Export | pd.DataFrame,
    by: str | Sequence[str] | None = None,
    subset: Sequence[str] | None = None,
    timepoints: Sequence[str] = ("pre", "post"),
    *,
    registry: Mapping[str, Any] | None = None,
    sd_source: Literal["auto", "sample"] = "auto",
    cutoff: CutoffChoice = "auto",
    criterion: float = 1.96,
    missing: Literal["complete", "impute"] = "complete",
    m: int = 20,
    seed: int | None = None,
    predictors: Sequence[str] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Reliable Change Index and clinical significance per participant.

    ``SE = SD × sqrt(1 - r_xx)``, ``S_diff = sqrt(2) × SE`` and
    ``RCI = (post - pre) / S_diff`` (Jacobson & Truax 1991); the change is
    reliable when ``|RCI| > criterion``. ``r_xx`` is the registry's
    reliability. The SD is the registry's dysfunctional (clinical) norm SD
    where known, because participants start as a clinical population and
    Jacobson & Truax take the SD of the pre-treatment population; otherwise
    the SD of every baseline score of the instrument, scale and informant in
    the export (not per group, so a participant's class does not depend on
    the grouping). The cut-off is chosen by :func:`clinical_cutoff`.

    Classes (``change_class``), from the direction of the scale:

    - ``recovered``: reliable improvement, clinical at baseline and in the
      functional range at post (needs a cut-off);
    - ``improved``: any other reliable improvement;
    - ``unchanged``: ``|RCI| <= criterion``;
    - ``deteriorated``: reliable worsening;
    - ``reliability_missing``: both scores present but the registry has no
      reliability (a warning names the scale; nothing is guessed);
    - ``post_missing`` / ``pre_missing``: only one of the two scores.

    A score exactly at the cut-off counts as clinical.

    Parameters
    ----------
    data
        A loaded export, or a :func:`score_table` made from one (with the
        same ``by``) to share the reshaping between analyses.
    by
        Participant column(s) to carry into the result for
        :func:`reliable_change_summary`.
    subset
        Instrument codes to analyse; ``None`` for all in the export.
    timepoints
        First and second timepoint (``score_pre`` and ``score_post``).
    registry
        A complete instrument registry; ``None`` (default) uses the export's
        own (``export.registries.instruments``), or the built-in one for a
        score table.
    sd_source
        ``"auto"`` (dysfunctional norm SD, else sample baseline SD) or
        ``"sample"`` (always the sample baseline SD).
    cutoff
        ``"auto"`` (c, b, a, published threshold, in that order) or one of them.
    criterion
        Critical |RCI|, 1.96 for 95%.
    missing
        ``"complete"`` (default): the per-participant table described below.
        ``"impute"``: missing second scores of participants with a first
        score are multiply imputed (as in :func:`change`), every completed
        data set is classified and summarised by
        :func:`reliable_change_summary`, and the shares are pooled by
        Rubin's rules (:func:`rubin_pool`, variance ``rate (1 - rate) / n``
        and complete-data df ``n - 1`` per data set). The result is then one
        row per group × scale × ``baseline`` × class with
        :data:`IMPUTED_RELIABLE_CHANGE_COLUMNS`.
    m, seed, predictors
        Number of imputations, seed, and imputation predictors (see
        :func:`change`); only with ``missing="impute"``.
    alpha
        1 - confidence level of the pooled intervals (``missing="impute"``).

    Returns
    -------
    pandas.DataFrame
        One row per participant × instrument × scale × informant with a
        score at either timepoint: ``participant_id``, the ``by`` columns,
        then :data:`RELIABLE_CHANGE_COLUMNS`. ``change = score_post -
        score_pre`` and ``rci = change / s_diff`` keep the raw sign (positive =
        score went up); ``sd_source`` is ``norm_dysfunctional`` or
        ``sample_baseline``; ``cutoff_type`` is ``a``, ``b``, ``c``,
        ``threshold`` or ``none``; ``clinical_at_baseline`` and
        ``clinical_at_post`` are nullable booleans (NA without a cut-off or
        score).

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). Clinical significance: a
    statistical approach to defining meaningful change in psychotherapy
    research. J Consult Clin Psychol 59:12-19.

    Examples
    --------
    The scores of the :func:`change` example. The SDQ total has no norm SD in
    the registry, so the SD is that of the six baseline scores (3.43);
    with reliability 0.73, ``S_diff = sqrt(2) x 3.43 x sqrt(1 - 0.73)``
    = 2.52 and a change of -6 gives RCI = -2.38, a reliable improvement.
    The cut-off is the published threshold of 17: father ``a`` went from 20
    (clinical) to 14 and recovered, ``c`` from 25 to 19 only improved:

    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "participant_id": ["a", "b", "c", "d", "e", "f"],
    ...     "instrument": "sdq", "scale": "total", "informant": "father",
    ...     "pre": [20.0, 18.0, 25.0, 15.0, 22.0, 19.0],
    ...     "post": [14.0, 17.0, 19.0, 15.0, 16.0, None],
    ...     "exit_status": ["completed"] * 5 + ["dropped_out"],
    ... })
    >>> import math
    >>> out = reliable_change(scores)
    >>> round(float(out["s_diff"].iloc[0]), 2), float(out["cutoff"].iloc[0])
    (2.52, 17.0)
    >>> round(math.sqrt(2) * float(scores["pre"].std()) * math.sqrt(1 - 0.73), 2)
    2.52
    >>> out["rci"].round(2).tolist()
    [-2.38, -0.4, -2.38, 0.0, -2.38, nan]
    >>> out["change_class"].tolist()
    ['recovered', 'unchanged', 'improved', 'unchanged', 'recovered', 'post_missing']
    """
    if sd_source not in ("auto", "sample"):
        raise ConfigError(f"sd_source must be 'auto' or 'sample', not {sd_source!r}.")
    if missing not in ("complete", "impute"):
        raise ConfigError(f"missing must be 'complete' or 'impute', not {missing!r}.")
    by = as_list(by)
    first, second = check_timepoints(timepoints, size=2)
    wide, layout = select_layout(data, (first, second), by, subset)
    if missing == "impute":
        wide = wide.copy(deep=False)  # the export's shared table: passed on, so a copy
        table = imputation_predictors(data, wide, predictors)
        extra = [c for c in by if c not in table.columns]
        table = pd.concat([wide[extra], table], axis=1) if extra else table
        imputed = impute_second_scores(wide, first, second, table, m=m, seed=seed)
        summaries = []
        for j in range(imputed.m):
            completed = wide.assign(**{second: imputed.scores[j]})
            with warnings.catch_warnings():
                if j:  # warn about a scale without reliability once, not m times
                    warnings.simplefilter("ignore", StatisticalWarning)
                rows = reliable_change(
                    completed,
                    by,
                    timepoints=(first, second),
                    registry=registry,
                    sd_source=sd_source,
                    cutoff=cutoff,
                    criterion=criterion,
                )
            summaries.append(reliable_change_summary(rows, by, alpha=alpha))
        shares = pooled_shares(summaries, by, imputed.imputed, wide, alpha)
        return shares[[*by, *IMPUTED_RELIABLE_CHANGE_COLUMNS]]
    codes, params = layout_groups(wide, SCALE_KEYS, layout)
    n_params = len(params["instrument"])
    pre_scores, post_scores = wide[first], wide[second]
    pre, post = pre_scores.to_numpy(), post_scores.to_numpy()
    # The rows are the series in turn (an export's table with every series of
    # every participant): each row's values of its scale are repeated, not
    # looked up, and the group numbers are not needed as platform integers.
    tiled = layout is not None and layout.tiled and n_params == layout.n_combo
    repeats = len(pre) // n_params if tiled else 0
    missing_pre = np.isnan(pre)
    if missing_pre.any():
        codes = codes.astype(np.intp, copy=False)
        has_pre = ~missing_pre
        sample_sd = grouped_moments(codes[has_pre], n_params, pre[has_pre])[2]
    else:  # every row has a first score: no rows to pick
        if not tiled:
            # Widened once here (the layout's numbers are narrow): numpy counts
            # and indexes with platform integers fastest.
            codes = codes.astype(np.intp, copy=False)
        sample_sd = grouped_moments(codes, n_params, pre, repeats)[2]
    scale = _scale_parameters(
        params, sample_sd, registry_or_default(registry, data), sd_source, cutoff
    )
    # Each row's values of its scale; the group numbers given back before the
    # rows' booleans are made.
    higher_better, values, categories = scale_values_per_row(scale, codes, repeats)
    del codes
    cut, s_diff = values["cutoff"], values["s_diff"]
    change = post - pre
    with np.errstate(divide="ignore", invalid="ignore"):
        rci = change / s_diff
    has_cut = np.isfinite(cut)
    # Clinical: at or beyond the cut-off on the worse side; a reliable
    # improvement: an RCI beyond the criterion on the better side (booleans
    # by direction rather than signed copies of the scores, picked by
    # and / or: numpy's where and masked assignment branch on every row).
    better = (higher_better, ~higher_better)
    clinical_pre = by_direction(better, pre <= cut, pre >= cut)
    clinical_post = by_direction(better, post <= cut, post >= cut)
    up, down = rci > criterion, rci < -criterion
    improved = by_direction(better, up, down)
    worse = by_direction(better, down, up)
    del up, down, better, higher_better
    # The first that applies of: pre_missing, post_missing, reliability_missing,
    # recovered, improved, deteriorated, else unchanged (set from the last).
    klass = np.full(len(pre), CHANGE_CLASSES.index("unchanged"), dtype=np.int8)
    scratch = np.empty_like(klass)
    missing_post = np.isnan(post)
    for mask, name in (
        (worse, "deteriorated"),
        (improved, "improved"),
        (improved & has_cut & clinical_pre & ~clinical_post, "recovered"),
        (~np.isfinite(s_diff), "reliability_missing"),
        (missing_post, "post_missing"),
        (missing_pre, "pre_missing"),
    ):
        set_where(klass, mask, CHANGE_CLASSES.index(name), scratch)
    del scratch, worse, improved
    # The columns side by side, made into a frame once.
    # The score table's columns as Series: the table may be the one shared by
    # the analyses of an export, and copy-on-write keeps it apart from the
    # result without copying them.
    columns: dict[str, Any] = {c: wide[c] for c in ["participant_id", *by, *SCALE_KEYS]}
    columns["direction"] = categories["direction"]
    columns["score_pre"] = pre_scores
    columns["score_post"] = post_scores
    columns["change"] = change
    columns["reliability"] = values["reliability"]
    columns["reliability_source"] = categories["reliability_source"]
    columns["sd"] = values["sd"]
    columns["sd_source"] = categories["sd_source"]
    columns["s_diff"] = s_diff
    columns["rci"] = rci
    columns["cutoff"] = cut
    columns["cutoff_type"] = categories["cutoff_type"]
    columns["clinical_at_baseline"] = pd.arrays.BooleanArray(
        clinical_pre, ~(has_cut & ~missing_pre)
    )
    columns["clinical_at_post"] = pd.arrays.BooleanArray(clinical_post, ~(has_cut & ~missing_post))
    columns["change_class"] = pd.Categorical.from_codes(
        klass, dtype=_CHANGE_CLASS_TYPE, validate=False
    )
    return pd.DataFrame(columns, index=wide.index, copy=False)


def reliable_change_summary(
    changes: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Counts and shares of the reliable-change classes, by baseline clinical status.

    Parameters
    ----------
    changes
        Result of :func:`reliable_change` (called with the same ``by``).
    by
        Grouping columns present in ``changes``.
    alpha
        1 - confidence level of the Wilson intervals.

    Returns
    -------
    pandas.DataFrame
        One row per group × instrument × scale × informant × ``baseline`` ×
        class: the ``by`` columns then :data:`RELIABLE_CHANGE_SUMMARY_COLUMNS`.
        ``baseline`` is ``clinical``, ``not_clinical`` (reported apart, as
        Jacobson & Truax only count recovery from the clinical range) or
        ``unknown`` (no cut-off in the registry). Classes are ``recovered``
        (``clinical`` rows only), ``improved``, ``unchanged`` and
        ``deteriorated``; ``rate = n / n_classified`` with a Wilson CI
        (``ci_low``, ``ci_high``), where ``n_classified`` counts participants
        with both scores and a reliability. ``n_post_missing`` (baseline
        score but no second score) and ``n_reliability_missing`` are
        reported beside it; participants without a baseline score are not
        (see ``n_post_only`` of :func:`change`).

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and
    statistical inference. JASA 22:209-212.
    """
    by = as_list(by)
    missing = [c for c in [*by, *SCALE_KEYS, "change_class"] if c not in changes.columns]
    if missing:
        raise ConfigError(
            f"Columns {missing} are not in the reliable-change table; pass the same `by` "
            "to reliable_change and reliable_change_summary."
        )
    context_cols = ["reliability", "sd", "sd_source", "cutoff", "cutoff_type"]
    klass = _class_codes(changes["change_class"])
    # 0 clinical, 1 not, 2 unknown: 1 - (1 for True, 0 for False, -1 for missing)
    baseline = changes["clinical_at_baseline"].array.to_numpy(dtype=np.int8, na_value=-1, copy=True)
    np.subtract(1, baseline, out=baseline)
    # Groups of [*by, *SCALE_KEYS] (sorted as group_codes sorts them), then
    # baseline (clinical, not_clinical, unknown) within each, then class:
    # one count per cell; groups made of participants without a first score
    # (class pre_missing) only are left out.
    n_classes = len(CHANGE_CLASSES)
    pre_missing = CHANGE_CLASSES.index("pre_missing")
    keys = {c: changes[c].array for c in [*by, *SCALE_KEYS]}
    # Categorical keys: their combined codes in the smallest type that holds
    # the cells (fewer bytes; counted a block at a time).
    levels = _category_levels(len(changes), list(keys.values()), room=3 * n_classes)
    if levels is None:
        group_baseline = group_numbers(changes, list(keys), list(keys.values()))
        if not group_baseline.flags.writeable:
            group_baseline = group_baseline.copy()
    else:
        group_baseline = levels[0]
    group_baseline *= 3
    group_baseline += baseline
    n_cells = (int(group_baseline.max(initial=-1)) + 1) * n_classes
    # The cells numbered in place (one array of the rows), counted, and
    # turned back into groups × baselines (exact for classes 0 to
    # n_classes - 1; a copy if some row has no class).
    in_place = klass.min(initial=0) >= 0
    cell = group_baseline if in_place else group_baseline.copy()
    cell *= n_classes
    cell += klass
    counts = bincount(cell, minlength=n_cells).reshape(-1, n_classes)
    if in_place:
        np.floor_divide(cell, n_classes, out=group_baseline)
    del cell
    present = np.flatnonzero(counts.sum(axis=1) > counts[:, pre_missing])
    counts = counts[present]
    n_groups = len(present)
    group_baseline[klass == pre_missing] = n_cells  # never the first row of a group
    first_of = first_rows(group_baseline, present)[present]
    n_classified = counts[:, : len(_CLASSIFIED)].sum(axis=1)
    # One row per group and class, in class order; recovered only from the
    # clinical range.
    shown = np.ones((n_groups, len(_CLASSIFIED)), dtype=bool)
    shown[:, _CLASSIFIED.index("recovered")] = present % 3 == 0
    group, j = np.nonzero(shown)
    first = first_of[group]
    columns: dict[str, Any] = {c: values.take(first) for c, values in keys.items()}
    columns["baseline"] = pd.Categorical.from_codes(
        present[group] % 3, dtype=_BASELINE_TYPE, validate=False
    )
    columns["change_class"] = pd.Categorical.from_codes(j, dtype=_CLASSIFIED_TYPE, validate=False)
    n = counts[group, j]
    nobs = n_classified[group]
    columns["n"] = n
    columns["n_classified"] = nobs
    with np.errstate(divide="ignore", invalid="ignore"):
        columns["rate"] = np.where(nobs > 0, n / nobs, np.nan)
    columns["ci_low"], columns["ci_high"] = wilson_ci(n, nobs, alpha=alpha)
    columns["n_post_missing"] = counts[group, CHANGE_CLASSES.index("post_missing")]
    columns["n_reliability_missing"] = counts[group, CHANGE_CLASSES.index("reliability_missing")]
    for c in context_cols:
        columns[c] = changes[c].array.take(first)
    out = pd.DataFrame(columns, copy=False)
    order = [*by, *RELIABLE_CHANGE_SUMMARY_COLUMNS]
    return out if list(columns) == order else out[order]


def _class_codes(column: pd.Series) -> np.ndarray:
    """Position in :data:`CHANGE_CLASSES` of each ``change_class`` (the
    categorical's own codes, not copied, when its categories are those)."""
    if column.dtype is _CHANGE_CLASS_TYPE or (
        isinstance(column.dtype, pd.CategoricalDtype)
        and list(column.cat.categories) == CHANGE_CLASSES
    ):
        return column.array.codes
    codes = pd.Index(CHANGE_CLASSES).get_indexer(column.astype(object))
    if (codes < 0).any():
        raise ConfigError(
            f"change_class values must be among {CHANGE_CLASSES}; make the table with "
            "reliable_change."
        )
    return codes.astype(np.int64)
