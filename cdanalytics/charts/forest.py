"""Forest plot of effects with confidence intervals, as the Justice Data Lab draws them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import LogLocator, NullFormatter

from ..disclosure import DisclosurePolicy, protect_frame
from ..errors import ConfigError
from ..i18n import label
from ._style import GREY, OKABE_ITO, chart_axes, styled
from .common import (
    column_values,
    group_labels,
    note_suppressed,
    number,
    protect,
    require,
    varies,
    wrap_label,
)

__all__ = ["EFFECT_COLUMNS", "forest_plot"]

#: Known estimates: (lower limit, upper limit, value of no effect, axis label key, digits).
EFFECT_COLUMNS: dict[str, tuple[str, str, float, str, int]] = {
    "difference_pp": ("ci_low_pp", "ci_high_pp", 0.0, "difference_pp", 1),
    "difference": ("ci_low", "ci_high", 0.0, "difference", 2),
    "mean_change": ("change_ci_low", "change_ci_high", 0.0, "mean_change", 2),
    "g_av": ("g_av_ci_low", "g_av_ci_high", 0.0, "effect_size", 2),
    "d_z": ("d_z_ci_low", "d_z_ci_high", 0.0, "effect_size", 2),
    "hazard_ratio": ("ci_low", "ci_high", 1.0, "hazard_ratio", 2),
}
_IDENTITY = ("outcome", "term", "instrument", "scale", "informant", "timepoint_to")
_BASES = ("n_treated", "n_control", "n_paired", "n")
_LEVEL = re.compile(r"(?P<covariate>[^\[]+)\[(?P<level>.+)\]")


def _row_labels(frame: pd.DataFrame, labels: Sequence[str] | None, lang: str) -> pd.Series:
    """Row labels: the given columns, else the identifying columns that tell rows apart."""
    if labels is None:
        start = next((c for c in _IDENTITY if c in frame.columns), None)
        leading = list(frame.columns[: frame.columns.get_loc(start)]) if start else []
        leading = [c for c in leading if not pd.api.types.is_numeric_dtype(frame[c])]
        candidates = [*leading, *(c for c in _IDENTITY if c in frame.columns)]
        labels = [c for c in candidates if c == start or varies(frame[c])]
    require(frame, list(labels), "forest_plot (labels)")
    if "term" in labels:
        frame = frame.assign(term=frame["term"].map(lambda term: _term_words(str(term), lang)))
    return group_labels(frame, list(labels), lang)


def _digits(value: float) -> int:
    """Decimals for a tick on a log axis: 2 -> "2", 0.5 -> "0.5", 0.25 -> "0.25"."""
    return next((d for d in range(3) if round(value, d) == round(value, 6)), 3)


def _term_words(term: str, lang: str) -> str:
    """A model term in words: ``risk_level[high]`` -> ``Risk level: High``."""
    match = _LEVEL.fullmatch(term)
    if match is None:
        return label(term, lang)
    return f"{label(match['covariate'], lang)}: {label(match['level'], lang)}"


@styled
def forest_plot(
    effects: pd.DataFrame,
    *,
    estimate: str = "difference_pp",
    ci: tuple[str, str] | None = None,
    labels: Sequence[str] | None = None,
    n_cols: Sequence[str] | None = None,
    alpha: float = 0.05,
    ax: Axes | None = None,
    lang: str = "en",
    disclosure: DisclosurePolicy | None = None,
) -> Axes:
    """Forest plot: one row per outcome or group, point estimate and CI, zero line, values.

    Drawn the way the Justice Data Lab reports effects: a vertical line at no
    effect, each estimate as a point with its confidence interval as a
    horizontal line, the estimate and interval written at the right, and
    significant rows (interval excluding no effect) in colour, others grey.

    Parameters
    ----------
    effects
        One row per outcome or group, for example stacked ``.summary`` rows of
        :func:`cdanalytics.matching.matched_effect` (``difference_pp``), rows
        of :func:`cdanalytics.prepost.change` (``g_av``, ``d_z`` or
        ``mean_change``) or :attr:`cdanalytics.reoffending.CoxResult.summary`
        (``hazard_ratio``, drawn on a log axis around 1).
    estimate
        Column with the estimate; one of :data:`EFFECT_COLUMNS` or any column
        with ``ci`` given.
    ci
        Columns with the lower and upper limit; default from :data:`EFFECT_COLUMNS`.
    labels
        Columns naming each row; default: ``outcome``/``term``/``instrument``
        and the grouping columns before it, and any of ``scale``,
        ``informant``, ``timepoint_to`` that differ between rows.
    n_cols
        Columns with the number of people each estimate rests on (for
        disclosure control); default those of ``n_treated``, ``n_control``,
        ``n_paired``, ``n`` present.
    alpha
        1 - confidence level of the intervals, for the axis label only.
    ax, lang
        Axes to draw on (new figure if ``None``); ``"en"`` or ``"nl"``.
    disclosure
        Rows resting on fewer than ``threshold`` people (smallest of the
        ``n_cols``) are not drawn and are named in a note.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Ministry of Justice (2016). Justice Data Lab: methodology paper (the
    forest-style charts of the estimated difference with its 95% CI).
    Lewis, S. & Clarke, M. (2001). Forest plots: trying to see the wood and
    the trees. BMJ 322:1479-1480.
    """
    if ci is None:
        if estimate not in EFFECT_COLUMNS:
            raise ConfigError(
                f"no default interval columns for {estimate!r}; pass ci=(low, high) or use "
                f"one of {', '.join(EFFECT_COLUMNS)}."
            )
        ci = EFFECT_COLUMNS[estimate][:2]
    null, axis_key, digits = (
        EFFECT_COLUMNS[estimate][2:] if estimate in EFFECT_COLUMNS else (0.0, estimate, 2)
    )
    stats = [estimate, *ci]
    require(effects, stats, "forest_plot")
    frame = effects.reset_index(drop=True)
    bases = [c for c in (n_cols if n_cols is not None else _BASES) if c in frame.columns]
    if disclosure is not None and not bases:
        raise ConfigError(
            "forest_plot needs the number of people behind each estimate for disclosure "
            f"control: pass n_cols (none of {list(_BASES)} is in the table)."
        )
    names = _row_labels(frame, labels, lang)
    if bases:
        frame = frame.assign(_n_base=frame[list(bases)].min(axis=1), _name=names)
    else:
        frame = frame.assign(_name=names)
    protector = partial(protect_frame, base_cols=dict.fromkeys(stats, "_n_base"))
    drawn = protect(frame, disclosure, stats, protector)
    shown = drawn.frame
    est, low, high = (column_values(shown, c) for c in stats)
    y = np.arange(len(shown))
    significant = (low > null) | (high < null)
    ax = chart_axes(ax, (6.8, 1.6 + 0.45 * max(len(shown), 1)))
    ax.axvline(null, color="#333333", linewidth=0.9, zorder=1).set_gid("null_line")
    for flag, colour_ in ((True, OKABE_ITO["blue"]), (False, GREY)):
        rows = significant == flag
        if rows.any():
            ax.errorbar(
                est[rows],
                y[rows],
                xerr=np.vstack([est[rows] - low[rows], high[rows] - est[rows]]),
                fmt="s" if flag else "o",
                color=colour_,
                ecolor=colour_,
                elinewidth=1.6,
                markersize=6,
                capsize=0,
                zorder=3,
                label=label("significant" if flag else "not_significant", lang),
            )
    to = label("to", lang)
    for yi, e, lo, hi in zip(y, est, low, high, strict=True):
        values = [number(v, lang, digits) for v in (e, lo, hi)]
        ax.annotate(
            f"{values[0]} ({values[1]} {to} {values[2]})",
            xy=(1.0, yi),
            xycoords=("axes fraction", "data"),
            xytext=(6, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=8,
            annotation_clip=False,
        ).set_gid("value_label")
    if estimate == "hazard_ratio":
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0), numticks=15))
        ax.xaxis.set_major_formatter(lambda v, _pos: number(v, lang, _digits(v)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y, [wrap_label(str(name)) for name in shown["_name"]])
    ax.set_ylim(max(len(shown), 1) - 0.5, -0.5)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    level = label("ci_level", lang, level=number(100 * (1 - alpha), lang))
    ax.set_xlabel(f"{label(axis_key, lang)} ({level})")
    ax.set_title(label("title_forest", lang), pad=40 if len(shown) else 24)
    if len(shown):  # one column: the chart is narrow enough for a phone
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=1, borderaxespad=0.2)
    note_suppressed(ax, disclosure, list(drawn.withheld["_name"]), lang)
    return ax
