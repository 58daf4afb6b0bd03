"""Stage funnel chart: completion of each programme stage, with Wilson intervals.

Draws a table from :func:`cdanalytics.engagement.stage_completion` on ``ax``
(a new figure if ``None``) and returns the Axes. With a
:class:`~cdanalytics.disclosure.DisclosurePolicy` the table is protected first:
withheld stages are not drawn and a note under the chart says so.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from ..disclosure import DisclosurePolicy, protect_frame
from ..errors import ConfigError
from ..i18n import label
from ._style import chart_axes, colour, styled
from .common import (
    column_values,
    group_labels,
    note_suppressed,
    number,
    percent,
    percent_formatter,
    protect,
    require,
)

__all__ = ["MEASURES", "stage_funnel_chart"]

#: What the bars can show: measure -> (numerator, base) columns of the table.
MEASURES: dict[str, tuple[str, str]] = {
    "through_stage": ("n_progressed", "n_potential"),
    "completion_of_starters": ("n_completed", "n_potential"),
    "completion_of_entered": ("n_completed", "n_entered"),
    "transition": ("n_progressed", "n_reached"),
}


@styled
def stage_funnel_chart(
    stages: pd.DataFrame,
    *,
    measure: Literal[
        "through_stage", "completion_of_starters", "completion_of_entered", "transition"
    ] = "through_stage",
    ax: Axes | None = None,
    lang: str = "en",
    disclosure: DisclosurePolicy | None = None,
) -> Axes:
    """Horizontal bars, one per stage (and group), of a stage completion measure.

    Parameters
    ----------
    stages
        :func:`cdanalytics.engagement.stage_completion` for one programme
        (filter the table first); the columns between ``programme`` and
        ``order`` are groups, drawn as bars side by side in each stage.
    measure
        A key of :data:`MEASURES`: ``through_stage`` (default; completed this
        stage and every earlier one, of the stage's potential completers: the
        funnel), ``completion_of_starters``, ``completion_of_entered`` or
        ``transition``.
    ax, lang
        Axes to draw on (new figure if ``None``); ``"en"`` or ``"nl"``.
    disclosure
        Protects the numerator as part of its base (so neither it nor the
        remainder is below the threshold) and the rate and its limits on them;
        withheld bars are not drawn.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ConfigError
        An unknown measure, columns missing, or more than one programme.

    References
    ----------
    Ipsos MORI (2016). Evaluation of the Caledonian System (stage-by-stage completion).
    """
    if measure not in MEASURES:
        raise ConfigError(f"measure must be one of {', '.join(MEASURES)}, not {measure!r}.")
    count, base = MEASURES[measure]
    stats = [measure, f"{measure}_ci_low", f"{measure}_ci_high"]
    require(stages, ["programme", "order", "stage", "name_en", count, base, *stats], "stage_funnel")
    if len(pd.unique(stages["programme"])) > 1:
        raise ConfigError(
            "stage_funnel_chart draws one programme; filter the table, e.g. "
            "table[table['programme'] == 'caledonian']."
        )
    columns = list(stages.columns)
    groups = columns[columns.index("programme") + 1 : columns.index("order")]
    protector = partial(
        protect_frame,
        count_cols=[count],
        row_total=base,
        base_cols=dict.fromkeys(stats, base),
        numerator_cols=dict.fromkeys(stats, count),
    )
    drawn = protect(stages, disclosure, stats, protector)
    frame = drawn.frame.loc[drawn.frame[base] > 0].sort_values("order", kind="stable")
    names = frame["name_nl" if lang == "nl" else "name_en"].astype(str).to_numpy()
    order = list(dict.fromkeys(frame["stage"].astype(str)))
    group_names = (
        group_labels(frame, groups, lang).to_numpy() if groups else np.full(len(frame), "")
    )
    distinct = list(dict.fromkeys(group_names))
    height = 0.8 / max(len(distinct), 1)
    ax = chart_axes(ax, (6.4, 1.0 + 0.45 * max(len(frame), 1)))
    rate, low, high = (column_values(frame, c) for c in stats)
    stage_pos = np.array([order.index(s) for s in frame["stage"].astype(str)], dtype=float)
    offset = np.array([distinct.index(g) for g in group_names], dtype=float)
    y = stage_pos + (offset - (len(distinct) - 1) / 2) * height
    for i, group in enumerate(distinct):
        mine = np.asarray(group_names == group)
        ax.barh(
            y[mine],
            rate[mine],
            height=height * 0.9,
            color=colour(i),
            xerr=np.vstack([rate[mine] - low[mine], high[mine] - rate[mine]]),
            error_kw={"ecolor": "#333333", "elinewidth": 1.0, "capsize": 2},
            label=group or None,
        )
    for yi, r, h, n in zip(y, rate, high, column_values(frame, base), strict=True):
        text = f"{percent(r, lang)} ({label('n_label', lang, n=number(n, lang))})"
        ax.annotate(
            text, xy=(h, yi), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8
        ).set_gid("value_label")
    first = [list(frame["stage"].astype(str)).index(s) for s in order]
    ax.set_yticks(np.arange(len(order)), [names[i] for i in first])
    ax.set_ylim(max(len(order), 1) - 0.5, -0.5)
    ax.set_xlim(0, 1.25)
    ax.xaxis.set_major_formatter(FuncFormatter(percent_formatter(lang)))
    ax.grid(axis="x", color="#E5E5E5", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_xlabel(label(measure, lang))
    ax.set_title(label("title_stage_funnel", lang))
    if groups and len(distinct) > 1:
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    withheld = drawn.withheld
    names_out = (withheld["name_nl" if lang == "nl" else "name_en"].astype(str)).tolist()
    note_suppressed(ax, disclosure, names_out, lang)
    return ax
