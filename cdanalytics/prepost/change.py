"""Mean change between two timepoints: paired t-test, Wilcoxon, effect sizes, Holm."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..io.export import Export
from ._data import SCALE_KEYS, as_list, check_timepoints, registry_or_default, select_layout
from ._effects import EFFECT_SIZE_CONVENTIONS, paired_statistics
from ._grouping import group_numbers, layout_groups
from ._imputed_moments import _imputed_moments
from ._reshape import Reshaped
from ._scales import attach_scale_info, scale_rows, scale_table
from ._signed_rank import ZeroMethod, _wilcoxon
from .impute import POOLED_COLUMNS, imputation_predictors, rubin_pool

__all__ = ["CHANGE_COLUMNS", "IMPUTED_CHANGE_COLUMNS", "MISSING_OPTIONS", "change", "holm"]

#: Values of ``missing``: completers only (default) or multiple imputation.
MISSING_OPTIONS: tuple[str, ...] = ("complete", "impute")

# The interval of the mean change and its t-test, in both column lists.
_TEST_COLUMNS: tuple[str, ...] = (
    "change_ci_low",
    "change_ci_high",
    "improvement",
    "t",
    "df",
    "p_value",
    "p_holm",
)

#: Columns of :func:`change` after the grouping columns.
CHANGE_COLUMNS: list[str] = [
    *SCALE_KEYS,
    "timepoint_from",
    "timepoint_to",
    "direction",
    "n_paired",
    "n_pre_only",
    "n_post_only",
    "mean_pre",
    "sd_pre",
    "mean_post",
    "sd_post",
    "r_pre_post",
    "mean_change",
    "sd_change",
    *_TEST_COLUMNS,
    "n_zero_change",
    "wilcoxon_statistic",
    "wilcoxon_p_value",
    "wilcoxon_p_holm",
    "wilcoxon_zero_method",
    "wilcoxon_correction",
    "d_z",
    "d_z_ci_low",
    "d_z_ci_high",
    "g_av",
    "g_av_ci_low",
    "g_av_ci_high",
]

#: Columns of :func:`change` with ``missing="impute"``, after the grouping columns.
IMPUTED_CHANGE_COLUMNS: list[str] = [
    *SCALE_KEYS,
    "timepoint_from",
    "timepoint_to",
    "direction",
    "missing",
    "m",
    "n_analysed",
    "n_paired",
    "n_imputed",
    "n_post_only",
    "mean_pre",
    "mean_post",
    "mean_change",
    "se_change",
    *_TEST_COLUMNS,
    *POOLED_COLUMNS,
]


def _grouped_moments(
    codes: np.ndarray,
    n_groups: int,
    x: np.ndarray,
    y: np.ndarray,
    d: np.ndarray,
    counts: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Means, SDs (ddof=1) of x, y and the changes d = y - x, and corr(x,
    y), per group, by two passes of ``np.bincount`` (the counts once).
    Overwrites ``x``, ``y`` and ``d`` with their deviations from the group
    means (one more buffer for the squares: on a fresh process new memory
    costs more than the arithmetic). ``counts``: the rows of each group, if
    the caller has counted them."""
    if counts is None:
        counts = np.bincount(codes, minlength=n_groups)
    n = counts.astype(float)
    out: dict[str, np.ndarray] = {"n": n}
    buffer = np.empty_like(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, v in (("pre", x), ("post", y), ("change", d)):
            mean = np.bincount(codes, weights=v, minlength=n_groups) / n
            np.take(mean, codes, out=buffer, mode="clip")  # in range: unbuffered
            np.subtract(v, buffer, out=v)
            np.multiply(v, v, out=buffer)
            ss = np.bincount(codes, weights=buffer, minlength=n_groups)
            out[f"mean_{name}"] = mean
            out[f"sd_{name}"] = np.sqrt(np.where(n >= 2, ss / (n - 1), np.nan))
        product = np.multiply(x, y, out=buffer)
        cross = np.bincount(codes, weights=product, minlength=n_groups)
        denom = out["sd_pre"] * out["sd_post"] * (n - 1)
        out["r_pre_post"] = np.where(denom > 0, cross / denom, np.nan)
    return out


def _picked(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``values[mask]``, by the positions of the mask (numpy picks by a boolean
    mask slower when it mixes true and false at random)."""
    return values.take(np.flatnonzero(mask))


def _text(values: np.ndarray) -> Any:
    """Text values as the ``str`` column a frame would make of them (the type
    made on each call, so that it follows pandas' ``mode.string_storage``; by
    name pandas would look it up among every registered type)."""
    return pd.array(values, dtype=pd.StringDtype(na_value=np.nan))


def holm(frame: pd.DataFrame, column: str, family: Sequence[str]) -> np.ndarray:
    """Holm-adjusted ``frame[column]`` within each family of rows.

    Rows with the same values of ``family`` (for example grouping columns,
    instrument and informant) form one family of ``m`` tests; missing
    p-values are left out (they do not count in ``m``) and stay missing.
    The i-th smallest p-value (i = 0, 1, ...) becomes
    ``min(1, max_{j <= i} (m - j) p_(j))``, the adjustment of ``statsmodels``
    ``multipletests(method="holm")``, computed here with numpy once per
    family (``multipletests`` runs a full garbage collection on every call,
    a quarter of a second each in a large session).

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure.
    Scand J Stat 6:65-70.
    """
    return _holm(frame[column].to_numpy(dtype=float), group_numbers(frame, family))


def _holm(p: np.ndarray, family: np.ndarray) -> np.ndarray:
    """:func:`holm` of ``p`` within the families numbered ``family`` (0, 1,
    ...), every family at once: one sort by (family, p), the multipliers
    ``m - j`` from the families' sizes, and the running maximum along the
    rows of a (family × rank) grid; a family per step only when the grid
    would be much larger than the p-values (a few huge families among many
    small ones)."""
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if not ok.size:
        return out
    codes, values = family[ok], p[ok]
    order = np.lexsort((values, codes))  # stable: equal p-values keep their row order
    codes, values, rows = codes[order], values[order], ok[order]
    size = np.bincount(codes)
    start = np.cumsum(size) - size
    rank = np.arange(codes.size) - start[codes]
    ranked = values * (size[codes] - rank)
    width = int(size.max())
    if size.size * width <= 8 * codes.size + 4096:
        grid = np.full((size.size, width), -np.inf)
        grid[codes, rank] = ranked
        np.maximum.accumulate(grid, axis=1, out=grid)
        out[rows] = np.minimum(grid[codes, rank], 1.0)
        return out
    for first, count in zip(start[size > 0].tolist(), size[size > 0].tolist(), strict=True):
        part = slice(first, first + count)
        out[rows[part]] = np.minimum(np.maximum.accumulate(ranked[part]), 1.0)
    return out


def change(
    data: Export | pd.DataFrame,
    by: str | Sequence[str] | None = None,
    subset: Sequence[str] | None = None,
    timepoints: Sequence[str] = ("pre", "post"),
    *,
    registry: Mapping[str, Any] | None = None,
    alpha: float = 0.05,
    zero_method: ZeroMethod = "wilcox",
    correction: bool = True,
    wilcoxon_method: Literal["auto", "exact", "asymptotic"] = "auto",
    missing: Literal["complete", "impute"] = "complete",
    m: int = 20,
    seed: int | None = None,
    predictors: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Change between two timepoints per group, instrument, scale and informant.

    Scores are paired within participant, instrument, scale and informant.
    Means, SDs and all tests use the pairs (participants with both scores);
    participants with only one of the two scores are counted in
    ``n_pre_only`` / ``n_post_only`` (see :func:`attrition` for how they
    differ).

    Parameters
    ----------
    data
        A loaded export, or a :func:`score_table` made from one (with the
        same ``by``) to share the reshaping between analyses.
    by
        Participant column(s) to group by (for example ``"programme"``), or
        ``None`` for one row per instrument × scale × informant. Missing
        values of a grouping column form their own group.
    subset
        Instrument codes to analyse; ``None`` for every instrument in the export.
    timepoints
        The two timepoints compared, first then second: ``("pre", "post")``
        or ``("pre", "follow_up")``, say. Columns named ``*_pre`` refer to
        the first and ``*_post`` to the second; ``timepoint_from`` and
        ``timepoint_to`` record which they are.
    registry
        A complete instrument registry; ``None`` (default) uses the
        export's own (``export.registries.instruments``, the evaluation
        config's overrides merged in by :func:`~cdanalytics.load_export`),
        or the built-in one for a score table. Gives each scale's direction.
    alpha
        1 - confidence level of every interval.
    zero_method, correction, wilcoxon_method
        Passed to :func:`scipy.stats.wilcoxon`. The defaults: ``"wilcox"``
        (zero changes are discarded before ranking, Wilcoxon 1945), continuity
        correction on, and scipy's ``"auto"`` p-value (exact for up to 50
        pairs without ties or zeros, exact by permutation for up to 13 pairs
        with ties or zeros, otherwise the normal approximation with tie
        correction), close to R's ``wilcox.test``. ``"pratt"`` keeps zeros in
        the ranking (Pratt 1959). The choice is recorded in
        ``wilcoxon_zero_method`` and
        ``wilcoxon_correction``.
    missing
        ``"complete"`` (default): the pairs only, as described above.
        ``"impute"``: everyone with a first score is analysed; a missing
        second score is multiply imputed (:func:`impute_second_scores`, from
        the first score, the ``predictors`` and the ``by`` columns) and the
        ``m`` mean changes are pooled by Rubin's rules (:func:`rubin_pool`).
        The result then has :data:`IMPUTED_CHANGE_COLUMNS` (see below).
    m, seed
        Number of imputations and the seed of their random draws (only with
        ``missing="impute"``).
    predictors
        Predictors of the imputation model besides the first score and the
        ``by`` columns; ``None`` for :data:`DEFAULT_PREDICTORS` (programme,
        risk level, attendance rate, exit status) where the data have them.

    Returns
    -------
    pandas.DataFrame
        With ``missing="impute"``: the ``by`` columns then
        :data:`IMPUTED_CHANGE_COLUMNS`: ``n_analysed`` (first score present)
        = ``n_paired`` + ``n_imputed``; ``mean_pre``; ``mean_post`` and
        ``mean_change`` (pooled means over the imputations); ``se_change``,
        ``change_ci_low``, ``change_ci_high``, ``t``, ``df`` (Barnard-Rubin),
        ``p_value`` and ``p_holm`` of the pooled mean change (complete-data
        df ``n_analysed - 1``); ``within_variance``, ``between_variance``,
        ``total_variance``, ``riv``, ``lambda`` and ``fmi`` (fraction of
        missing information) as in :func:`rubin_pool`. ``attrs["imputation"]``
        records the model. Otherwise (the default):

        One row per group, with the ``by`` columns then :data:`CHANGE_COLUMNS`:

        - ``direction``: ``higher_worse`` or ``higher_better`` (registry).
        - ``n_paired``, ``n_pre_only``, ``n_post_only``: participants with both
          scores, with only the first, with only the second.
        - ``mean_pre``, ``sd_pre``, ``mean_post``, ``sd_post``, ``r_pre_post``:
          of the pairs (SDs with ddof=1; Pearson correlation).
        - ``mean_change``, ``sd_change``, ``change_ci_low``, ``change_ci_high``:
          mean of post - pre with its t-based CI.
        - ``improvement``: ``mean_change`` signed so that positive is better
          (``-mean_change`` for higher_worse scales).
        - ``t``, ``df``, ``p_value``: paired t-test; ``p_holm`` Holm-adjusted
          across the scales of one instrument (same group and informant).
        - ``n_zero_change``: pairs with no change.
        - ``wilcoxon_statistic`` (scipy's: the smaller of the signed-rank
          sums for a two-sided test), ``wilcoxon_p_value``,
          ``wilcoxon_p_holm``, ``wilcoxon_zero_method``, ``wilcoxon_correction``.
        - ``d_z``, ``g_av`` and their ``*_ci_low`` / ``*_ci_high``: see
          :data:`EFFECT_SIZE_CONVENTIONS` (also in ``.attrs["conventions"]``).
          Signed like ``mean_change``.

    References
    ----------
    Wilcoxon, F. (1945). Individual comparisons by ranking methods.
    Biometrics Bulletin 1:80-83. Pratt, J. W. (1959). Remarks on zeros and
    ties in the Wilcoxon signed rank procedures. JASA 54:655-667. Rubin,
    D. B. (1987). Multiple Imputation for Nonresponse in Surveys. Wiley.

    Examples
    --------
    A :func:`score_table` written out by hand: six fathers' SDQ totals
    before and after (lower is better), one without a post score. The five
    changes are -6, -1, -6, 0 and -6, mean -3.8; the paired t-test matches
    scipy's and d_z is the mean change over the SD of the changes:

    >>> import pandas as pd
    >>> scores = pd.DataFrame({
    ...     "participant_id": ["a", "b", "c", "d", "e", "f"],
    ...     "instrument": "sdq", "scale": "total", "informant": "father",
    ...     "pre": [20.0, 18.0, 25.0, 15.0, 22.0, 19.0],
    ...     "post": [14.0, 17.0, 19.0, 15.0, 16.0, None],
    ...     "exit_status": ["completed"] * 5 + ["dropped_out"],
    ... })
    >>> from scipy import stats
    >>> row = change(scores).iloc[0]
    >>> int(row["n_paired"]), int(row["n_pre_only"]), round(float(row["mean_change"]), 4)
    (5, 1, -3.8)
    >>> [round(float(row[c]), 4) for c in ("sd_change", "t", "p_value", "d_z")]
    [3.0332, -2.8014, 0.0487, -1.2528]
    >>> pairs = scores.dropna()
    >>> diffs = pairs["post"] - pairs["pre"]
    >>> check = stats.ttest_rel(pairs["post"], pairs["pre"])
    >>> [round(float(x), 4) for x in (diffs.std(), check.statistic, check.pvalue,
    ...                                 diffs.mean() / diffs.std())]
    [3.0332, -2.8014, 0.0487, -1.2528]
    """
    if zero_method not in ("wilcox", "pratt", "zsplit"):
        raise ConfigError(f"zero_method must be wilcox, pratt or zsplit, not {zero_method!r}.")
    if missing not in MISSING_OPTIONS:
        raise ConfigError(f"missing must be 'complete' or 'impute', not {missing!r}.")
    by = as_list(by)
    first, second = check_timepoints(timepoints, size=2)
    wide, layout = select_layout(data, (first, second), by, subset)
    if missing == "impute":
        wide = wide.copy(deep=False)  # the export's shared table: passed on, so a copy
        return _imputed_change(
            data, wide, layout, by, first, second, registry, alpha, m, seed, predictors
        )
    keys = [*by, *SCALE_KEYS]
    codes, key_arrays = layout_groups(wide, keys, layout)
    n_groups = len(key_arrays["instrument"])
    x, y = wide[first].to_numpy(), wide[second].to_numpy()
    has_x, has_y = ~np.isnan(x), ~np.isnan(y)
    # The pairs picked by their positions (a boolean mask with a few gaps
    # picks slower); their group numbers as platform integers (numpy indexes
    # with them fastest).
    pairs = np.flatnonzero(has_x & has_y)
    pc = codes.take(pairs).astype(np.intp, copy=False)
    px, py = x.take(pairs), y.take(pairs)
    del pairs

    changes = py - px
    n_zero_change = np.bincount(pc[py == px], minlength=n_groups)
    counts = np.bincount(pc, minlength=n_groups)
    w_stat, w_p = _wilcoxon(pc, n_groups, changes, zero_method, correction, wilcoxon_method, counts)
    # the last use of px, py and changes
    moments = _grouped_moments(pc, n_groups, px, py, changes, counts)
    res = paired_statistics(
        moments["n"],
        moments["mean_pre"],
        moments["sd_pre"],
        moments["mean_post"],
        moments["sd_post"],
        moments["sd_change"],
        alpha=alpha,
    )
    scales = scale_rows(
        key_arrays["instrument"],
        key_arrays["scale"],
        registry_or_default(registry, data),
        ["direction", "sign"],
    )
    family_keys = [*by, "instrument", "informant"]
    family = group_numbers(None, family_keys, [key_arrays[key] for key in family_keys])
    # The columns built side by side, in their final order, and made into a
    # frame once (inserting thirty columns one at a time costs more than the
    # statistics on small data).
    # The four text columns made as one (one conversion) and cut apart.
    text = _text(
        np.concatenate(
            [
                np.full(n_groups, first, dtype=object),
                np.full(n_groups, second, dtype=object),
                scales["direction"],
                np.full(n_groups, zero_method, dtype=object),
            ]
        )
    )
    # The group keys copied: those of an export's layout are kept for the next
    # analysis, and a caller may edit the result in place.
    columns: dict[str, Any] = {key: values.copy() for key, values in key_arrays.items()}
    columns["timepoint_from"] = text[:n_groups]
    columns["timepoint_to"] = text[n_groups : 2 * n_groups]
    columns["direction"] = text[2 * n_groups : 3 * n_groups]
    columns["n_paired"] = moments["n"].astype(np.int64)
    columns["n_pre_only"] = np.bincount(_picked(codes, has_x & ~has_y), minlength=n_groups)
    columns["n_post_only"] = np.bincount(_picked(codes, ~has_x & has_y), minlength=n_groups)
    for name in ("mean_pre", "sd_pre", "mean_post", "sd_post", "r_pre_post"):
        columns[name] = moments[name]
    columns["mean_change"] = res["mean_change"]
    columns["sd_change"] = moments["sd_change"]
    columns["change_ci_low"] = res["change_ci_low"]
    columns["change_ci_high"] = res["change_ci_high"]
    columns["improvement"] = scales["sign"] * res["mean_change"]
    for name in ("t", "df", "p_value"):
        columns[name] = res[name]
    columns["p_holm"] = _holm(res["p_value"], family)
    columns["n_zero_change"] = n_zero_change
    columns["wilcoxon_statistic"] = w_stat
    columns["wilcoxon_p_value"] = w_p
    columns["wilcoxon_p_holm"] = _holm(w_p, family)
    columns["wilcoxon_zero_method"] = text[3 * n_groups :]
    columns["wilcoxon_correction"] = np.full(n_groups, bool(correction))
    for name in ("d_z", "d_z_ci_low", "d_z_ci_high", "g_av", "g_av_ci_low", "g_av_ci_high"):
        columns[name] = res[name]
    out = pd.DataFrame(columns, copy=False)
    out.attrs["conventions"] = dict(EFFECT_SIZE_CONVENTIONS)
    return out


def _imputed_change(
    data: Export | pd.DataFrame,
    wide: pd.DataFrame,
    layout: Reshaped | None,
    by: list[str],
    first: str,
    second: str,
    registry: Mapping[str, Any] | None,
    alpha: float,
    m: int,
    seed: int | None,
    predictors: Sequence[str] | None,
) -> pd.DataFrame:
    """Mean change with missing second scores multiply imputed, pooled by Rubin's rules."""
    table = imputation_predictors(data, wide, predictors)
    extra = [c for c in by if c not in table.columns]
    table = pd.concat([wide[extra], table], axis=1) if extra else table
    # the group numbers of an export's layout: kept with it, in few bytes
    codes, key_arrays = layout_groups(wide, [*by, *SCALE_KEYS], layout)
    out = pd.DataFrame({key: values.copy() for key, values in key_arrays.items()}, copy=False)
    n_groups = len(out)
    series = layout.row_combo if layout is not None else None if by else codes
    # the completed scores summed one imputation model at a time (no table of m copies)
    drawn = _imputed_moments(wide, first, second, table, codes, n_groups, m, seed, series)
    x = wide[first].to_numpy()
    has_x = ~np.isnan(x)
    has_y = ~np.isnan(wide[second].to_numpy())
    n = drawn["n"]
    estimates, variances, post_means = drawn["estimates"], drawn["variances"], drawn["post_means"]
    pooled = rubin_pool(estimates, variances, df_complete=n - 1, alpha=alpha)

    attach_scale_info(
        out, scale_table(out, registry_or_default(registry, data)), ["direction", "sign"]
    )
    out["timepoint_from"] = first
    out["timepoint_to"] = second
    out["missing"] = "impute"
    out["m"] = int(m)
    out["n_analysed"] = n.astype(np.int64)
    out["n_paired"] = np.bincount(codes[has_x & has_y], minlength=n_groups)
    out["n_imputed"] = np.bincount(codes[drawn["imputed"]], minlength=n_groups)
    out["n_post_only"] = np.bincount(codes[~has_x & has_y], minlength=n_groups)
    out["mean_pre"] = drawn["mean_pre"]
    out["mean_post"] = post_means.mean(axis=0)
    out["mean_change"] = pooled["estimate"]
    out["se_change"] = pooled["se"]
    out["change_ci_low"] = pooled["ci_low"]
    out["change_ci_high"] = pooled["ci_high"]
    out["improvement"] = out["sign"] * out["mean_change"]
    for name in ("t", "df", "p_value", *POOLED_COLUMNS):
        out[name] = pooled[name]
    out["p_holm"] = holm(out, "p_value", [*by, "instrument", "informant"])
    out = out[[*by, *IMPUTED_CHANGE_COLUMNS]]
    out.attrs["imputation"] = {
        "method": "normal linear regression, posterior draws of coefficients and variance",
        "predictors": [first, *table.columns],
        "m": int(m),
        "seed": seed,
        "pooling": "Rubin's rules, Barnard-Rubin degrees of freedom",
    }
    return out
