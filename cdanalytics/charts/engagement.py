"""Engagement charts: referral-to-completion flow, completion, retention, dropout timing.

Each function takes a table from :mod:`cdanalytics.engagement`, draws it on
``ax`` (a new figure if ``None``) and returns the Axes. With a
:class:`~cdanalytics.disclosure.DisclosurePolicy` the table is protected
first: withheld groups are not drawn and a note under the chart says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..disclosure import DisclosurePolicy, protect_frame, protect_statistics
from ..engagement import COMPLETION_CLEAR_COLUMNS, COMPLETION_COLUMNS, STAGES
from ..errors import ConfigError
from ..i18n import label
from ._style import GREY, OKABE_ITO, chart_axes, colour, styled
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

__all__ = ["completion_chart", "dropout_timing_chart", "participant_flow", "retention_chart"]

_BOX_EDGE = "#333333"
_STAGE_FILL = "#E8F1F8"
_EXIT_FILL = "#F7F7F7"


@dataclass(frozen=True)
class _FlowText:
    """What the flow diagram shows: stage counts and exit lines, as text."""

    stages: list[str]
    exits: list[list[tuple[str, str]]]
    withheld: list[str]


def _stage_counts(
    flow: pd.DataFrame, exits: pd.DataFrame, additive: bool = True
) -> tuple[np.ndarray, list[pd.Series]]:
    """Stage counts, and the people leaving each step by reason (largest first).

    Raises ConfigError when the leavers of a step do not add up to the drop
    between the step and the next (unless ``additive`` is ``False``: counts
    perturbed one by one, as the cell key method publishes them).
    """
    counts = np.array([int(flow[f"n_{stage}"].iloc[0]) for stage in STAGES])
    stage = exits["stage"].astype(str).to_numpy()
    left = []
    for i, name in enumerate(STAGES[:-1]):
        rows = exits.loc[stage == name]
        by_reason = rows.groupby(rows["reason"].astype(str), sort=False)["n_left"].sum()
        by_reason = by_reason.loc[by_reason > 0].sort_values(ascending=False, kind="stable")
        if additive and by_reason.sum() != counts[i] - counts[i + 1]:
            raise ConfigError(
                f"the exits at stage {name!r} add up to {by_reason.sum()}, but the flow drops "
                f"from {counts[i]} to {counts[i + 1]}: pass the flow_exits table of the same "
                "data and group as the flow row."
            )
        left.append(by_reason.astype(np.int64))
    return counts, left


def _flow_text(
    counts: np.ndarray, left: list[pd.Series], disclosure: DisclosurePolicy | None, lang: str
) -> _FlowText:
    """The diagram's numbers as text, protected in two levels when a policy is given.

    Level 1 is the one-row table of people leaving at each step plus the
    completers, whose total is the number referred; a stage count is shown
    only when the published level-1 cells give it (all steps before it, or
    all from it on plus the completers, published), so it tells nothing new.
    Level 2 is, per step, the reasons for leaving with the step's leavers as
    total; a step whose leavers are withheld shows no reasons at all.
    """
    names = [[label(str(reason), lang) for reason in part.index] for part in left]
    if disclosure is None:
        return _FlowText(
            [number(n, lang) for n in counts],
            [
                [(name, number(n, lang)) for name, n in zip(row, part, strict=True)]
                for row, part in zip(names, left, strict=True)
            ],
            [],
        )
    drops = [f"left_{stage}" for stage in STAGES[:-1]]
    level1 = pd.DataFrame(
        [[*(counts[:-1] - counts[1:]), counts[-1], counts[0]]],
        columns=[*drops, "n_completed", "n_referred"],
    )
    protected = protect_frame(
        level1, disclosure, count_cols=[*drops, "n_completed"], row_total="n_referred"
    )
    shown = ~protected.mask.iloc[0].to_numpy()
    parts = shown[:-1]  # leavers at each step, then completers
    stage_text = []
    for i, n in enumerate(counts):
        derivable = (shown[-1] and parts[:i].all()) or parts[i:].all()
        if derivable:
            shown_n = disclosure.publish_count(n)
            stage_text.append(shown_n if isinstance(shown_n, str) else number(shown_n, lang))
        else:
            small = disclosure.is_small(np.array([n]))[0]
            stage_text.append(disclosure.marker("primary" if small else "secondary"))
    exit_text, withheld = [], []
    for i, part in enumerate(left):
        step = label(STAGES[i], lang)
        if part.empty:
            exit_text.append([])
            continue
        if not parts[i]:
            exit_text.append([])
            withheld += [f"{step}: {name}" for name in names[i]]
            continue
        table = pd.DataFrame([[*part.to_numpy(), part.sum()]], columns=[*part.index, "n_left"])
        reasons = protect_frame(table, disclosure, count_cols=list(part.index), row_total="n_left")
        mask = reasons.mask.iloc[0].to_numpy()[:-1]
        published = reasons.published.iloc[0].to_numpy()[:-1]
        exit_text.append(
            [
                (name, number(n, lang))
                for name, n, gone in zip(names[i], published, mask, strict=True)
                if not gone
            ]
        )
        withheld += [f"{step}: {name}" for name, gone in zip(names[i], mask, strict=True) if gone]
    return _FlowText(stage_text, exit_text, withheld)


def _box(
    ax: Axes, extent: tuple[float, float, float, float], face: str, edge: str, gid: str, aspect
) -> None:
    """A rounded box (x, y, width, height in data units) tagged ``gid``."""
    x, y, width, height = extent
    box = FancyBboxPatch(
        (x, y),
        width,
        height,
        boxstyle="round,pad=0,rounding_size=0.02",
        facecolor=face,
        edgecolor=edge,
        linewidth=0.9,
        mutation_aspect=aspect,
    )
    box.set_gid(gid)
    ax.add_patch(box)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], colour_: str) -> None:
    """An arrow of the flow diagram, tagged ``flow_arrow``."""
    arrow = FancyArrowPatch(
        start, end, arrowstyle="-|>", mutation_scale=10, color=colour_, linewidth=1.0
    )
    arrow.set_gid("flow_arrow")
    ax.add_patch(arrow)


@styled
def participant_flow(
    flow: pd.DataFrame,
    exits: pd.DataFrame,
    *,
    ax: Axes | None = None,
    lang: str = "en",
    disclosure: DisclosurePolicy | None = None,
    additive: bool = True,
) -> Axes:
    """CONSORT-style diagram of the referral-to-completion flow with reasons for leaving.

    A column of boxes (referred, assessed, eligible, started, completed) with
    their counts, joined by arrows; beside each arrow a box lists who left at
    that step and why.

    Parameters
    ----------
    flow
        One row of :func:`cdanalytics.engagement.flow` (one group, or
        ``by=None``): ``n_referred``, ``n_assessed``, ``n_eligible``,
        ``n_started``, ``n_completed``.
    exits
        :func:`cdanalytics.engagement.flow_exits` for the same data and group:
        ``stage``, ``reason``, ``n_left``; at every stage the people leaving
        and continuing must add up to the stage count.
    ax
        Axes to draw on; a new figure if ``None``. Its axis is switched off.
    lang
        ``"en"`` or ``"nl"``.
    disclosure
        With a policy the numbers are protected with
        :func:`~cdanalytics.disclosure.protect_frame` in two levels: the
        people leaving at each step plus the completers (total: referred),
        then per step the reasons (total: that step's leavers). A stage count
        that the published cells do not give is shown as ``<10`` (or
        ``[c]``); withheld reasons are left out and named in a note.
    additive
        ``False`` for counts published with independent noise each (the
        cell key method): the reasons need not add up to the drop.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ConfigError
        If ``flow`` is not one row, a column is missing, or the exits do not
        add up to the flow.

    References
    ----------
    Schulz, K. F., Altman, D. G. & Moher, D. (2010). CONSORT 2010 statement.
    BMJ 340:c332 (the flow diagram).
    """
    require(flow, [f"n_{stage}" for stage in STAGES], "participant_flow (flow)")
    require(exits, ["stage", "reason", "n_left"], "participant_flow (exits)")
    if len(flow) != 1:
        raise ConfigError(
            f"participant_flow draws one group, but flow has {len(flow)} rows: pass one row "
            "(for example flow.iloc[[0]]) and the exits of that group."
        )
    counts, left = _stage_counts(flow, exits, additive)
    text = _flow_text(counts, left, disclosure, lang)
    exit_lines = [[f"{name}: {n}" for name, n in lines] for lines in text.exits]
    stage_h, gap_min, line_h = 1.9, 1.6, 0.72
    side_h = [len(lines) * line_h + 0.6 if lines else 0.0 for lines in exit_lines]
    gaps = [max(gap_min, h + 0.8) for h in side_h]
    tops = np.concatenate([[0.0], np.cumsum([stage_h + g for g in gaps])])
    total = tops[-1] + stage_h
    ax = chart_axes(ax, (6.8, 0.24 * total + 0.8))
    main_x, main_w = 0.04, 0.40
    side_x, side_w = 0.53, 0.45
    centre = main_x + main_w / 2
    for i, stage in enumerate(STAGES):
        _box(ax, (main_x, tops[i], main_w, stage_h), _STAGE_FILL, _BOX_EDGE, "flow_stage", total)
        ax.text(
            centre,
            tops[i] + stage_h / 2,
            f"{label(stage, lang)}\n{label('n_label', lang, n=text.stages[i])}",
            ha="center",
            va="center",
            fontsize=9,
            fontweight="bold" if stage in ("referred", "completed") else "normal",
        ).set_gid("flow_stage_text")
        if i == len(STAGES) - 1:
            break
        _arrow(ax, (centre, tops[i] + stage_h), (centre, tops[i + 1]), _BOX_EDGE)
        if not exit_lines[i]:
            continue
        side_top = tops[i] + stage_h + (gaps[i] - side_h[i]) / 2
        middle = side_top + side_h[i] / 2
        _box(ax, (side_x, side_top, side_w, side_h[i]), _EXIT_FILL, GREY, "flow_exit", total)
        ax.text(
            side_x + 0.02,
            middle,
            "\n".join(exit_lines[i]),
            ha="left",
            va="center",
            fontsize=8,
            linespacing=1.35,
        ).set_gid("flow_exit_text")
        _arrow(ax, (centre, middle), (side_x, middle), GREY)
    ax.set_xlim(0, 1)
    ax.set_ylim(total + 0.1, -0.1)
    ax.set_axis_off()
    ax.set_title(label("title_flow", lang))
    note_suppressed(ax, disclosure, text.withheld, lang)
    return ax


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
