"""Pre/post charts: means over timepoints, Jacobson-Truax scatter, reliable-change classes."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from textwrap import fill

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter
from scipy import stats

from ..disclosure import DisclosurePolicy, protect_frame
from ..errors import ConfigError
from ..i18n import label
from ..prepost import CHANGE_CLASSES, MixedModelResult
from ._style import CHANGE_CLASS_COLOURS, GREY, chart_axes, colour, styled
from .common import (
    column_values,
    group_columns,
    group_labels,
    note_suppressed,
    number,
    percent,
    percent_formatter,
    protect,
    require,
    varies,
    wrap_label,
)

__all__ = [
    "MEANS_COLUMNS",
    "change_means",
    "jacobson_truax_plot",
    "mixed_model_means",
    "prepost_means",
    "reliable_change_bars",
]

#: Columns of the means table drawn by :func:`prepost_means` (after any grouping columns).
MEANS_COLUMNS: list[str] = [
    "instrument",
    "scale",
    "informant",
    "timepoint",
    "n",
    "mean",
    "ci_low",
    "ci_high",
]
_CLASSES = CHANGE_CLASSES[:4]
_SERIES = ["instrument", "scale", "informant"]
_PAIRED_MOMENTS = ["mean_pre", "sd_pre", "mean_post", "sd_post"]


def mixed_model_means(results: Iterable[MixedModelResult]) -> pd.DataFrame:
    """The estimated mean at each timepoint of fitted mixed models, as one table.

    Parameters
    ----------
    results
        :class:`cdanalytics.prepost.MixedModelResult` objects (one per
        instrument, scale and informant).

    Returns
    -------
    pandas.DataFrame
        :data:`MEANS_COLUMNS`: the ``kind == "mean"`` rows of each summary
        (REML estimate with its Wald interval; ``n`` scores at the timepoint).
    """
    parts = []
    for result in results:
        rows = result.summary.loc[result.summary["kind"] == "mean"]
        parts.append(
            pd.DataFrame(
                {
                    "instrument": result.instrument,
                    "scale": result.scale,
                    "informant": result.informant,
                    "timepoint": rows["term"].to_numpy(),
                    "n": rows["n"].to_numpy(dtype=np.int64),
                    "mean": rows["estimate"].to_numpy(dtype=float),
                    "ci_low": rows["ci_low"].to_numpy(dtype=float),
                    "ci_high": rows["ci_high"].to_numpy(dtype=float),
                }
            )
        )
    if not parts:
        raise ConfigError("mixed_model_means needs at least one fitted mixed model.")
    return pd.concat(parts, ignore_index=True)


def change_means(change: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Means of the paired scores at both timepoints of a change table, with t intervals.

    Parameters
    ----------
    change
        :func:`cdanalytics.prepost.change` (one pair of timepoints).
    alpha
        1 - confidence level.

    Returns
    -------
    pandas.DataFrame
        The grouping columns, then :data:`MEANS_COLUMNS`, two rows per input
        row (``timepoint_from`` and ``timepoint_to``): ``n = n_paired`` and the
        mean of the paired scores with the interval ``mean ± t(1 - alpha/2,
        n - 1) × sd / sqrt(n)``.
    """
    keys = group_columns(change, "instrument", "change_means")
    require(
        change,
        [*_SERIES, "timepoint_from", "timepoint_to", "n_paired", *_PAIRED_MOMENTS],
        "change_means",
    )
    if change.duplicated([*keys, *_SERIES]).any():
        raise ConfigError(
            "change_means takes one change table (one pair of timepoints); for more "
            "timepoints use mixed_model_means."
        )
    n = change["n_paired"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = stats.t.ppf(1 - alpha / 2, n - 1)
    parts = []
    for which, tp in (("pre", "timepoint_from"), ("post", "timepoint_to")):
        mean = change[f"mean_{which}"].to_numpy(dtype=float)
        half = t * change[f"sd_{which}"].to_numpy(dtype=float) / np.sqrt(n)
        part = change[[*keys, *_SERIES]].assign(
            timepoint=change[tp].astype(str).to_numpy(),
            n=change["n_paired"].to_numpy(dtype=np.int64),
            mean=mean,
            ci_low=mean - half,
            ci_high=mean + half,
        )
        parts.append(part.assign(_order=np.arange(len(change))))
    out = pd.concat(parts, ignore_index=True).sort_values("_order", kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)[[*keys, *MEANS_COLUMNS]]


@styled
def prepost_means(
    means: pd.DataFrame,
    *,
    ax: Axes | None = None,
    lang: str = "en",
    disclosure: DisclosurePolicy | None = None,
) -> Axes:
    """Mean score at each timepoint (pre, post, follow-up) with its CI, one line per series.

    A series is a group, instrument, scale and informant; its points are
    joined by a line and slightly offset from the other series so that
    intervals do not hide each other. Scales on different metrics belong on
    different Axes: pass one instrument (or scale) per call.

    Parameters
    ----------
    means
        :func:`mixed_model_means` or :func:`change_means`: grouping columns,
        then :data:`MEANS_COLUMNS`.
    ax, lang
        Axes to draw on (new figure if ``None``); ``"en"`` or ``"nl"``.
    disclosure
        No mean on fewer than ``threshold`` scores: such points are not drawn,
        and series left without points are named in a note.

    Returns
    -------
    matplotlib.axes.Axes
    """
    keys = group_columns(means, "instrument", "prepost_means")
    require(means, MEANS_COLUMNS, "prepost_means")
    drawn_stats = ["mean", "ci_low", "ci_high"]
    protector = partial(protect_frame, base_cols=dict.fromkeys(drawn_stats, "n"))
    drawn = protect(means, disclosure, drawn_stats, protector)
    frame = drawn.frame
    series_keys = [*keys, *(c for c in _SERIES if varies(means[c]))]
    if not series_keys:
        series_keys = ["scale"]
    order = ["pre", "post", "follow_up"]
    timepoints = sorted(
        dict.fromkeys(means["timepoint"].astype(str)),
        key=lambda tp: order.index(tp) if tp in order else len(order),
    )
    position = {tp: i for i, tp in enumerate(timepoints)}
    all_series = group_labels(means, series_keys, lang)
    names = list(dict.fromkeys(all_series))
    shown = group_labels(frame, series_keys, lang)
    ax = chart_axes(ax, (6.4, 4.0))
    width = min(0.25, 0.6 / max(len(names), 1))
    for i, name in enumerate(names):
        rows = frame.loc[shown == name]
        if rows.empty:
            continue
        x = rows["timepoint"].astype(str).map(position).to_numpy(dtype=float)
        x = x + (i - (len(names) - 1) / 2) * width
        mean = column_values(rows, "mean")
        ax.errorbar(
            x,
            mean,
            yerr=np.vstack(
                [mean - column_values(rows, "ci_low"), column_values(rows, "ci_high") - mean]
            ),
            fmt="-o",
            color=colour(i),
            markersize=5.5,
            label=name,
        )
    ax.set_xticks(range(len(timepoints)), [label(tp, lang) for tp in timepoints])
    ax.set_xlim(-0.5, len(timepoints) - 0.5)
    ax.set_ylabel(label("mean_score", lang))
    title = label("title_means", lang)
    if not varies(means["instrument"]) and len(means):
        title = f"{title}: {label(str(means['instrument'].iloc[0]), lang)}"
    ax.set_title(title)
    if len(frame):
        ax.legend(loc="best")
    gone = [name for name in names if name not in set(shown)]
    note_suppressed(ax, disclosure, gone, lang)
    return ax


def _check_one_series(changes: pd.DataFrame) -> None:
    """ConfigError unless ``changes`` holds one instrument × scale × informant."""
    series = changes[_SERIES].drop_duplicates()
    if len(series) != 1:
        found = "; ".join("/".join(map(str, row)) for row in series.itertuples(index=False))
        raise ConfigError(
            "jacobson_truax_plot draws one instrument, scale and informant; the table has "
            f"{len(series)} ({found}). Filter it first."
        )


@styled
def jacobson_truax_plot(
    changes: pd.DataFrame,
    *,
    criterion: float = 1.96,
    timepoints: tuple[str, str] = ("pre", "post"),
    ax: Axes | None = None,
    lang: str = "en",
    disclosure: DisclosurePolicy | None = None,
) -> Axes:
    """Jacobson-Truax plot: each participant's pre score against post score.

    The identity line (no change), around it the band of no reliable change
    (``post = pre ± criterion × S_diff``), the clinical cut-off as a vertical
    and a horizontal line, and the points coloured by change class
    (recovered, improved, unchanged, deteriorated; counts in the legend).

    Parameters
    ----------
    changes
        :func:`cdanalytics.prepost.reliable_change` rows of one instrument,
        scale and informant: ``score_pre``, ``score_post``, ``s_diff``,
        ``cutoff``, ``change_class``. Rows without both scores or without a
        reliability are not drawn.
    criterion
        Critical |RCI| used by :func:`~cdanalytics.prepost.reliable_change`
        (1.96 for 95%).
    timepoints
        The two timepoints ``reliable_change`` compared, for the axis labels.
    ax, lang
        Axes to draw on (new figure if ``None``); ``"en"`` or ``"nl"``.
    disclosure
        The class counts are protected with
        :func:`~cdanalytics.disclosure.protect_frame` (their total known);
        the points of a withheld class are not drawn and it is named in a
        note. Individual points remain microdata: use this chart in a
        manager's report only with care.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Jacobson, N. S. & Truax, P. (1991). Clinical significance: a statistical
    approach to defining meaningful change in psychotherapy research.
    J Consult Clin Psychol 59:12-19 (figure 1).
    """
    require(
        changes,
        [*_SERIES, "score_pre", "score_post", "s_diff", "cutoff", "change_class"],
        "jacobson_truax_plot",
    )
    if not np.isfinite(criterion) or criterion <= 0:
        raise ConfigError(f"criterion must be a positive number, not {criterion!r}.")
    _check_one_series(changes)
    frame = changes.loc[changes["change_class"].isin(_CLASSES)]
    classes = pd.Categorical(frame["change_class"].astype(str), categories=_CLASSES)
    counts = pd.DataFrame(
        {"change_class": _CLASSES, "n": np.bincount(classes.codes, minlength=len(_CLASSES))}
    )
    withheld = np.zeros(len(_CLASSES), dtype=bool)
    shown_n = counts["n"].to_numpy(dtype=float)
    if disclosure is not None:
        table = protect_frame(counts, disclosure, count_cols=["n"])
        withheld = table.mask["n"].to_numpy()
        shown_n = column_values(table.published, "n")
    pre = column_values(frame, "score_pre")
    post = column_values(frame, "score_post")
    cutoff = column_values(frame, "cutoff")
    cutoff = cutoff[np.isfinite(cutoff)]
    ax = chart_axes(ax, (7.2, 5.0))
    # Limits from the points drawn (and the cut-off), so they say nothing of withheld ones.
    visible = ~withheld[classes.codes]
    extent = np.r_[pre[visible], post[visible], cutoff[:1]]
    low, high = (float(np.nanmin(extent)), float(np.nanmax(extent))) if len(extent) else (0, 1)
    pad = 0.05 * (high - low or 1.0)
    lims = np.array([low - pad, high + pad])
    s_diff = float(np.nanmax(column_values(frame, "s_diff"))) if len(frame) else np.nan
    if np.isfinite(s_diff):
        band = ax.fill_between(
            lims,
            lims - criterion * s_diff,
            lims + criterion * s_diff,
            color="#EDEDED",
            linewidth=0,
            label=label("reliable_change_band", lang),
        )
        band.set_gid("rc_band")
    ax.plot(lims, lims, color="#333333", linewidth=0.9, label=label("no_change", lang))[0].set_gid(
        "identity"
    )
    if len(cutoff):
        ax.axvline(cutoff[0], color=GREY, linestyle="--", linewidth=1.0).set_gid("cutoff")
        ax.axhline(
            cutoff[0], color=GREY, linestyle="--", linewidth=1.0, label=label("cutoff", lang)
        ).set_gid("cutoff")
    for j, name in enumerate(_CLASSES):
        rows = classes.codes == j
        if withheld[j] or not rows.any():
            continue
        ax.scatter(
            pre[rows],
            post[rows],
            s=14,
            color=CHANGE_CLASS_COLOURS[name],
            edgecolors="#555555" if name == "unchanged" else "none",
            linewidths=0.3,
            alpha=0.85,
            label=f"{label(name, lang)} ({number(shown_n[j], lang)})",
            zorder=3,
        ).set_gid(f"points_{name}")
    ax.set_xlim(*lims)
    ax.set_ylim(*lims)
    ax.set_aspect("equal", adjustable="box")
    first_tp, second_tp = timepoints
    ax.set_xlabel(label("score_at", lang, timepoint=label(first_tp, lang)))
    ax.set_ylabel(label("score_at", lang, timepoint=label(second_tp, lang)))
    first = frame.iloc[0] if len(frame) else changes.iloc[0]
    ax.set_title(
        f"{label('title_jacobson_truax', lang)}: {label(str(first['instrument']), lang)} – "
        f"{label(str(first['scale']), lang)}"
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
    note_suppressed(ax, disclosure, [label(c, lang) for c in np.array(_CLASSES)[withheld]], lang)
    return ax


def _bar_labels(frame: pd.DataFrame, keys: list[str], lang: str) -> pd.Series:
    """Bar labels, with the baseline status in words ("Clinical at start", ...)."""
    if "baseline" in keys:
        frame = frame.assign(baseline="baseline_" + frame["baseline"].astype(str))
    return group_labels(frame, keys, lang)


@styled
def reliable_change_bars(
    summary: pd.DataFrame,
    *,
    ax: Axes | None = None,
    lang: str = "en",
    disclosure: DisclosurePolicy | None = None,
) -> Axes:
    """Stacked horizontal bars of recovered, improved, unchanged and deteriorated shares.

    One bar per group, instrument, scale, informant and baseline status
    (clinical / not clinical / unknown), its four segments adding up to 100%
    of the participants classified; the share is written in segments of 8%
    or more.

    Parameters
    ----------
    summary
        :func:`cdanalytics.prepost.reliable_change_summary`: the grouping
        columns, then ``instrument``, ``scale``, ``informant``, ``baseline``,
        ``change_class``, ``n``, ``n_classified``, ``rate``. Bars with no one
        classified are left out.
    ax, lang
        Axes to draw on (new figure if ``None``); ``"en"`` or ``"nl"``.
    disclosure
        The bars × classes table is protected with
        :func:`~cdanalytics.disclosure.protect_frame` (``n_classified`` as
        row total); a bar with any withheld segment is not drawn and is named
        in a note.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Jacobson, N. S. & Truax, P. (1991). J Consult Clin Psychol 59:12-19.
    """
    keys = group_columns(summary, "instrument", "reliable_change_bars")
    require(
        summary,
        [*_SERIES, "baseline", "change_class", "n", "n_classified"],
        "reliable_change_bars",
    )
    bar_keys = [*keys, *_SERIES, "baseline"]
    grouped = summary.groupby(bar_keys, observed=True, dropna=False, sort=False)
    bar = grouped.ngroup().to_numpy()
    klass = pd.Categorical(summary["change_class"].astype(str), categories=_CLASSES).codes
    counts = np.zeros((grouped.ngroups, len(_CLASSES)), dtype=np.int64)
    np.add.at(counts, (bar[klass >= 0], klass[klass >= 0]), summary["n"].to_numpy()[klass >= 0])
    first = np.unique(bar, return_index=True)[1]
    wide = summary.iloc[first][bar_keys].reset_index(drop=True)
    wide[_CLASSES] = counts
    wide["n_classified"] = summary["n_classified"].to_numpy(dtype=np.int64)[first]
    wide = wide.loc[wide["n_classified"] > 0].reset_index(drop=True)
    protector = partial(protect_frame, count_cols=_CLASSES, row_total="n_classified")
    drawn = protect(wide, disclosure, [*_CLASSES, "n_classified"], protector)
    frame = drawn.frame
    label_keys = [*keys, *(c for c in [*_SERIES, "baseline"] if varies(wide[c]))]
    label_keys = label_keys or ["scale"]
    names = _bar_labels(frame, label_keys, lang)
    ax = chart_axes(ax, (7.6, 1.6 + 0.5 * max(len(frame), 1)))
    y = np.arange(len(frame))
    base = column_values(frame, "n_classified")
    left = np.zeros(len(frame))
    for name in _CLASSES:
        share = column_values(frame, name) / base
        bars = ax.barh(
            y,
            share,
            left=left,
            height=0.65,
            color=CHANGE_CLASS_COLOURS[name],
            edgecolor="white",
            linewidth=0.6,
        )
        for bar in bars:
            bar.set_gid(f"bar_{name}")
        for yi, x0, s in zip(y, left, share, strict=True):
            if s >= 0.08:
                ax.text(x0 + s / 2, yi, percent(s, lang), ha="center", va="center", fontsize=7.5)
        left = left + share
    sizes = [label("n_label", lang, n=number(n, lang)) for n in base]
    # Wrapped, so that the bars keep their room in a chart narrow enough for a phone.
    ax.set_yticks(y, [wrap_label(f"{g} ({n})") for g, n in zip(names, sizes, strict=True)])
    ax.set_ylim(max(len(frame), 1) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(FuncFormatter(percent_formatter(lang)))
    ax.set_xlabel(label("share_of_participants", lang))
    ax.set_title(fill(label("title_reliable_change", lang), 30), pad=38)  # narrow chart
    handles = [
        Patch(facecolor=CHANGE_CLASS_COLOURS[name], label=label(name, lang)) for name in _CLASSES
    ]
    ax.legend(
        handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2, borderaxespad=0.2
    )
    note_suppressed(ax, disclosure, list(_bar_labels(drawn.withheld, label_keys, lang)), lang)
    return ax
