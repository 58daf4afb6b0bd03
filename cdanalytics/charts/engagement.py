"""Engagement charts: completion, retention, dropout timing (the flow diagram is
:mod:`cdanalytics.charts.flow`).

Each function takes a table from :mod:`cdanalytics.engagement`, draws it on
``ax`` (a new figure if ``None``) and returns the Axes. With a
:class:`~cdanalytics.disclosure.DisclosurePolicy` the table is protected
first: withheld groups are not drawn and a note under the chart says so.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..disclosure import DisclosurePolicy, protect_frame, protect_statistics
from ..engagement import COMPLETION_CLEAR_COLUMNS, COMPLETION_COLUMNS
from ..errors import ConfigError
from ..i18n import label
from ._style import OKABE_ITO, chart_axes, colour, styled
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
)

__all__ = ["completion_chart", "dropout_timing_chart", "retention_chart"]


@styled
def completion_chart(
    completion: pd.DataFrame,
    *,
    base: Literal["potential", "clear_outcome"] = "potential",
    ax: Axes | None = None,
    lang: str = "en",
    disclosure: DisclosurePolicy | None = None,
) -> Axes:
    """Completion rate per group with its Wilson interval (points and horizontal bars).

    Parameters
    ----------
    completion
        :func:`cdanalytics.engagement.completion`, one row per group (site,
        cohort, ...; the columns before ``n_started``). A group without
        anyone in the base has no rate and is not drawn.
    base
        ``"potential"``: ``completion_rate`` of all potential completers
        (``n_potential``); ``"clear_outcome"``: ``completion_rate_clear`` of
        those with a clear outcome.
    ax, lang
        Axes to draw on (new figure if ``None``); ``"en"`` or ``"nl"``.
    disclosure
        Protects completers and non-completers (``n_completed`` as part of
        the base, so neither is below the threshold) and the rates on them;
        withheld groups are not drawn.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Wilson, E. B. (1927). JASA 22:209-212 (the interval, computed by
    :func:`cdanalytics.engagement.completion`).
    """
    if base not in ("potential", "clear_outcome"):
        raise ConfigError(f"base must be 'potential' or 'clear_outcome', not {base!r}.")
    stats = list(COMPLETION_COLUMNS if base == "potential" else COMPLETION_CLEAR_COLUMNS)
    n_base = f"n_{base}"
    keys = group_columns(completion, "n_started", "completion_chart")
    require(completion, [n_base, "n_completed", *stats], "completion_chart")
    protector = partial(
        protect_frame,
        count_cols=["n_completed"],
        row_total=n_base,
        base_cols=dict.fromkeys(stats, n_base),
        numerator_cols=dict.fromkeys(stats, "n_completed"),
    )
    drawn = protect(completion, disclosure, stats, protector)
    frame = drawn.frame.loc[drawn.frame[n_base] > 0]
    ax = chart_axes(ax, (6.4, 0.9 + 0.32 * max(len(frame), 1)))
    rate, low, high = (column_values(frame, c) for c in stats)
    y = np.arange(len(frame))
    ax.errorbar(
        rate,
        y,
        xerr=np.vstack([rate - low, high - rate]),
        fmt="o",
        color=OKABE_ITO["blue"],
        ecolor=OKABE_ITO["blue"],
        elinewidth=1.4,
        markersize=6,
    )
    for yi, r, h in zip(y, rate, high, strict=True):
        ax.annotate(
            percent(r, lang),
            xy=(h, yi),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        ).set_gid("value_label")
    names = group_labels(frame, keys, lang)
    sizes = [label("n_label", lang, n=number(n, lang)) for n in column_values(frame, n_base)]
    ax.set_yticks(y, [f"{g} ({n})" for g, n in zip(names, sizes, strict=True)])
    ax.set_ylim(max(len(frame), 1) - 0.5, -0.5)
    ax.set_xlim(0, 1.08)
    ax.xaxis.set_major_formatter(FuncFormatter(percent_formatter(lang)))
    ax.grid(axis="x", color="#E5E5E5", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_xlabel(label("completion_rate", lang))
    ax.set_title(label("title_completion", lang))
    note_suppressed(ax, disclosure, list(group_labels(drawn.withheld, keys, lang)), lang)
    return ax


@styled
def retention_chart(
    retention: pd.DataFrame,
    *,
    ax: Axes | None = None,
    lang: str = "en",
    disclosure: DisclosurePolicy | None = None,
) -> Axes:
    """Share of starters still attending by core session (Kaplan-Meier step curve, CI band).

    The level over session ``k`` (from ``k - 1`` to ``k``) is the share who
    had not dropped out by the end of session ``k``, so the curve ends at the
    last session with the share retained to the end.

    Parameters
    ----------
    retention
        :func:`cdanalytics.engagement.retention`: the grouping columns, then
        ``session``, ``n_at_risk``, ``retained``, ``ci_low``, ``ci_high``.
    ax, lang
        Axes to draw on (new figure if ``None``); ``"en"`` or ``"nl"``.
    disclosure
        No estimate is drawn on fewer than ``threshold`` people at risk
        (:func:`~cdanalytics.disclosure.protect_statistics`): curves stop
        there, and a group smaller than the threshold is not drawn.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). JASA 53:457-481.
    """
    stats = ["retained", "ci_low", "ci_high"]
    keys = group_columns(retention, "session", "retention_chart")
    require(retention, ["n_at_risk", *stats], "retention_chart")

    def protector(frame: pd.DataFrame, policy: DisclosurePolicy):
        return protect_statistics(frame, "n_at_risk", stats, policy)

    drawn = protect(retention, disclosure, stats, protector)
    groups = list(dict.fromkeys(group_labels(retention, keys, lang)))
    names = group_labels(drawn.frame, keys, lang)
    drawn_groups = set(names)
    ax = chart_axes(ax, (6.4, 3.8))
    for i, name in enumerate(groups):
        rows = drawn.frame.loc[names == name]
        if rows.empty:
            continue
        x = column_values(rows, "session")
        ax.step(x, column_values(rows, "retained"), where="pre", color=colour(i), label=name)
        ax.fill_between(
            x,
            column_values(rows, "ci_low"),
            column_values(rows, "ci_high"),
            step="pre",
            color=colour(i),
            alpha=0.18,
            linewidth=0,
        ).set_gid("ci_band")
    if keys and drawn_groups:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(FuncFormatter(percent_formatter(lang)))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(label("session_number", lang))
    ax.set_ylabel(label("retained", lang))
    ax.set_title(label("title_retention", lang))
    truncated = bool(len(drawn.withheld))
    note_suppressed(
        ax,
        disclosure,
        [g for g in groups if g not in drawn_groups],
        lang,
        extra=label("truncated_note", lang, threshold=disclosure.threshold) if truncated else "",
    )
    return ax


@styled
def dropout_timing_chart(
    timing: pd.DataFrame,
    *,
    value: Literal["n_dropped_out", "share"] = "n_dropped_out",
    ax: Axes | None = None,
    lang: str = "en",
    disclosure: DisclosurePolicy | None = None,
) -> Axes:
    """Bars of the last core session attended by dropouts (side by side per group).

    Parameters
    ----------
    timing
        :func:`cdanalytics.engagement.dropout_timing`: the grouping columns,
        then ``last_core_attended``, ``n_dropped_out``, ``share``.
    value
        Bar height: the number of dropouts, or their share of the group's dropouts.
    ax, lang
        Axes to draw on (new figure if ``None``); ``"en"`` or ``"nl"``.
    disclosure
        The groups × sessions table of counts is protected with
        :func:`~cdanalytics.disclosure.protect_frame` (group and session
        totals taken as known); withheld bars are not drawn and are named in
        a note (a withheld zero too, so that a missing bar never reads as 0).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if value not in ("n_dropped_out", "share"):
        raise ConfigError(f"value must be 'n_dropped_out' or 'share', not {value!r}.")
    keys = group_columns(timing, "last_core_attended", "dropout_timing_chart")
    require(timing, ["n_dropped_out", "share"], "dropout_timing_chart")
    frame = timing.reset_index(drop=True)
    group_id = (
        frame.groupby(keys, observed=True, dropna=False, sort=False).ngroup().to_numpy()
        if keys
        else np.zeros(len(frame), dtype=np.int64)
    )
    sessions = frame["last_core_attended"].to_numpy(dtype=np.int64)
    columns = np.unique(sessions)
    cell = (group_id, np.searchsorted(columns, sessions))
    n_groups = int(group_id.max()) + 1 if len(frame) else 1
    # Withheld cells of the groups x sessions table, zeros (no bar) included.
    cell_withheld = np.zeros((n_groups, len(columns)), dtype=bool)
    heights = column_values(frame, value)
    if disclosure is not None:
        counts = np.zeros((n_groups, len(columns)), dtype=np.int64)
        counts[cell] = frame["n_dropped_out"].to_numpy(dtype=np.int64)
        wide = pd.DataFrame(counts, columns=columns)
        protected = protect_frame(wide, disclosure, count_cols=list(columns))
        cell_withheld = protected.mask.to_numpy()
        if value == "n_dropped_out":
            heights = protected.published.to_numpy(dtype=float, na_value=np.nan)[cell]
    withheld = cell_withheld[cell]
    width = 0.8 / n_groups
    ax = chart_axes(ax, (6.4, 3.6))
    names = group_labels(frame, keys, lang)
    for g in range(n_groups):
        rows = (group_id == g) & ~withheld
        bars = ax.bar(
            sessions[rows] + (g - (n_groups - 1) / 2) * width,
            heights[rows],
            width=width,
            color=colour(g),
            label=names[group_id == g].iloc[0] if (group_id == g).any() else None,
        )
        for bar in bars:
            bar.set_gid("dropout_bar")
    if keys:
        ax.legend()
    if len(sessions):
        ax.set_xlim(sessions.min() - 0.6, sessions.max() + 0.6)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(label("last_session", lang))
    if value == "share":
        ax.yaxis.set_major_formatter(FuncFormatter(percent_formatter(lang)))
        ax.set_ylabel(label("share_of_dropouts", lang))
    else:
        ax.set_ylabel(label("n_dropouts", lang))
    ax.set_title(label("title_dropout_timing", lang))
    left_out = []
    for g in np.flatnonzero(cell_withheld.any(axis=1)):
        gone = columns[cell_withheld[g]]
        text = label(
            "session_short" if len(gone) == 1 else "sessions_short",
            lang,
            n=", ".join(str(s) for s in gone),
        )
        left_out.append(f"{names[group_id == g].iloc[0]}: {text}" if keys else text)
    note_suppressed(ax, disclosure, left_out, lang)
    return ax
