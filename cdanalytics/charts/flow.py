"""The referral-to-completion flow diagram (CONSORT style), with the
reasons people left at each step.

:func:`participant_flow` takes :func:`cdanalytics.engagement.flow` and
:func:`cdanalytics.engagement.flow_exits`, draws them on ``ax`` (a new figure
if ``None``) and returns the Axes. With a
:class:`~cdanalytics.disclosure.DisclosurePolicy` the counts are protected
first; withheld reasons are named in a note under the chart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..disclosure import DisclosurePolicy, protect_frame
from ..engagement import STAGES
from ..errors import ConfigError
from ..i18n import label
from ._style import GREY, chart_axes, styled
from .common import note_suppressed, number, require

__all__ = ["participant_flow"]

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
