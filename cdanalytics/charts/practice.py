"""Charts of Safe & Together practice audits: team x item heat map, slope chart, agreement.

Each chart draws a tidy table of :mod:`cdanalytics.practice` as it is given:
the caller has already passed it through disclosure control, and a value it
withheld (NaN) is drawn as a grey, empty cell or left out. Item names are the
audit-tool registry's labels in the chart's language.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..errors import AnalysisError
from ..i18n import label, percent
from ..practice import item_table
from ._style import GREY, OKABE_ITO, chart_axes, styled
from .common import percent_formatter, require

__all__ = ["agreement_chart", "item_labels", "share_heatmap", "slope_chart"]

#: Colours of the arms in the slope chart.
ARM_COLOURS: dict[str, str] = {
    "trained": OKABE_ITO["blue"],
    "untrained": OKABE_ITO["orange"],
}


def item_labels(
    items: Sequence[str],
    lang: str = "en",
    tool: str = "safe_and_together",
    registry: Mapping[str, Any] | None = None,
    width: int = 34,
) -> list[str]:
    """The registry label of each item in ``lang``, wrapped to ``width`` characters.

    Parameters
    ----------
    items
        Item codes.
    lang
        ``"en"`` or ``"nl"``.
    tool, registry
        Audit tool whose labels apply; an item not in it keeps its code.
    width
        Line width of the wrapped label.

    Returns
    -------
    list of str
        One label per item.

    Examples
    --------
    >>> item_labels(["m_blaming_language"], "en", width=80)
    ['Blaming language about the non-offending parent']
    """
    table = item_table(tool, registry).set_index("item")[f"label_{lang}"]
    return [textwrap.fill(str(table.get(i, i)), width) for i in items]


def _ordered_items(frame: pd.DataFrame) -> list[str]:
    """Items in the table's order (registry order when ``item`` is an ordered categorical)."""
    item = frame["item"]
    if isinstance(item.dtype, pd.CategoricalDtype):
        present = set(item.astype(str))
        return [str(c) for c in item.cat.categories if str(c) in present]
    return list(dict.fromkeys(item.astype(str)))


@styled
def share_heatmap(
    shares: pd.DataFrame,
    *,
    period: str | None = None,
    lang: str = "en",
    ax: Axes | None = None,
    tool: str = "safe_and_together",
    registry: Mapping[str, Any] | None = None,
) -> Axes:
    """Heat map of the share of files meeting each item: teams (rows) x items (columns).

    Parameters
    ----------
    shares
        Output of :func:`cdanalytics.practice.shares` grouped by ``team``
        (and ``period``), already protected: columns ``team``, ``item`` and
        ``share``. A withheld share (NaN) is a grey cell without a number.
    period
        The period drawn when the table has several (default: the last one
        in the table's order).
    lang
        Language of labels and percentages.
    ax
        Axes to draw on (default: a new figure).
    tool, registry
        Audit tool whose item labels are shown.

    Returns
    -------
    matplotlib.axes.Axes
        The image (``ax.images[0]``, rows in team order, columns in item
        order) and one text per published cell.

    Raises
    ------
    ConfigError
        The table lacks a column.
    AnalysisError
        The table has no row of ``period``.

    References
    ----------
    Safe & Together Institute, the critical components audited per team.
    """
    require(shares, ["team", "item", "share"], "share_heatmap")
    frame = shares
    if "period" in frame.columns and frame["period"].nunique() > 0:
        chosen = period if period is not None else str(frame["period"].astype(str).iloc[-1])
        frame = frame[frame["period"].astype(str) == chosen]
        if frame.empty:
            raise AnalysisError(f"share_heatmap: no row of period {chosen!r}.")
    items = _ordered_items(frame)
    teams = sorted(frame["team"].astype(str).unique())
    grid = (
        frame.assign(team=frame["team"].astype(str), item=frame["item"].astype(str))
        .pivot_table(index="team", columns="item", values="share", aggfunc="first", dropna=False)
        .reindex(index=teams, columns=items)
    )
    values = grid.to_numpy(dtype=float)
    ax = chart_axes(ax, (1.6 + 0.55 * len(items), 1.4 + 0.4 * len(teams)))
    ax.set_facecolor(GREY)  # withheld cells show the background
    image = ax.imshow(
        np.ma.masked_invalid(values), vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto"
    )
    for (r, c), value in np.ndenumerate(values):
        if np.isfinite(value):
            ax.text(
                c,
                r,
                percent(value, lang),
                ha="center",
                va="center",
                fontsize=7.5,
                color="white" if value < 0.6 else "black",
            )
    ax.set_xticks(range(len(items)), item_labels(items, lang, tool, registry, width=24))
    ax.tick_params(axis="x", labelrotation=90)
    ax.set_yticks(range(len(teams)), teams)
    ax.set_ylabel(label("practice_team", lang))
    bar = ax.figure.colorbar(image, ax=ax, fraction=0.04)
    bar.ax.yaxis.set_major_formatter(percent_formatter(lang))
    bar.set_label(label("practice_share_met", lang))
    return ax


@styled
def slope_chart(
    change: pd.DataFrame,
    *,
    items: Sequence[str] | None = None,
    lang: str = "en",
    ax: Axes | None = None,
    tool: str = "safe_and_together",
    registry: Mapping[str, Any] | None = None,
) -> Axes:
    """Slope chart of the share met from one period to the next, trained against untrained.

    Parameters
    ----------
    change
        Output of :func:`cdanalytics.practice.change`, already protected:
        the ``trained`` and ``untrained`` rows give ``share_from`` and
        ``share_to`` of each item (the ``difference`` rows are not drawn).
        A line with a withheld share is left out.
    items
        Items to draw (default: every item of the table).
    lang, ax, tool, registry
        As for :func:`share_heatmap`.

    Returns
    -------
    matplotlib.axes.Axes
        One line per item and arm (``line.get_gid()`` is ``"item|arm"``),
        x 0 for ``period_from`` and 1 for ``period_to``, y the two shares.

    References
    ----------
    Tufte, E. R. (1983). The Visual Display of Quantitative Information
    (the slopegraph).
    """
    require(
        change,
        ["item", "contrast", "period_from", "period_to", "share_from", "share_to"],
        "slope_chart",
    )
    frame = change[change["contrast"].isin(list(ARM_COLOURS))]
    if items is not None:
        frame = frame[frame["item"].astype(str).isin(list(items))]
    if frame.empty:
        raise AnalysisError("slope_chart: no trained or untrained row to draw.")
    ax = chart_axes(ax, (5.5, 4.5))
    for row in frame.itertuples(index=False):
        y = [row.share_from, row.share_to]
        if not np.all(np.isfinite(np.asarray(y, dtype=float))):
            continue
        (line,) = ax.plot(
            [0, 1], y, color=ARM_COLOURS[row.contrast], marker="o", alpha=0.8, linewidth=1.2
        )
        line.set_gid(f"{row.item}|{row.contrast}")
    first = frame.iloc[0]
    ax.set_xticks([0, 1], [str(first["period_from"]), str(first["period_to"])])
    ax.set_xlim(-0.15, 1.15)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(percent_formatter(lang))
    ax.set_xlabel(label("practice_period", lang))
    ax.set_ylabel(label("practice_share_met", lang))
    handles = [
        ax.plot([], [], color=colour, marker="o", label=label(f"practice_{arm}", lang))[0]
        for arm, colour in ARM_COLOURS.items()
    ]
    ax.legend(handles=handles, loc="best")
    return ax


@styled
def agreement_chart(
    agreement: pd.DataFrame,
    *,
    statistic: str = "weighted_kappa_quadratic",
    lang: str = "en",
    ax: Axes | None = None,
    tool: str = "safe_and_together",
    registry: Mapping[str, Any] | None = None,
) -> Axes:
    """Agreement between readers per item: the estimate with its confidence interval.

    Parameters
    ----------
    agreement
        Output of :func:`cdanalytics.practice.agreement`, already protected.
        Items whose estimate is withheld (NaN) are listed without a point.
    statistic
        The ``statistic`` drawn (see
        :data:`cdanalytics.practice.AGREEMENT_STATISTICS`).
    lang, ax, tool, registry
        As for :func:`share_heatmap`.

    Returns
    -------
    matplotlib.axes.Axes
        One error bar per item (``ax.containers``; item i at y = -i, top
        to bottom in item order), the points at the estimates.

    References
    ----------
    Landis, J. R. & Koch, G. G. (1977). Biometrics 33:159-174 (kappa
    read on a scale from poor to almost perfect; reference lines at 0.4
    and 0.6 are not drawn, so as not to suggest cut-offs).
    """
    require(agreement, ["item", "statistic", "estimate", "ci_low", "ci_high"], "agreement_chart")
    frame = agreement[agreement["statistic"] == statistic]
    if frame.empty:
        raise AnalysisError(f"agreement_chart: no row of statistic {statistic!r}.")
    items = _ordered_items(frame)
    rows = frame.assign(item=frame["item"].astype(str)).set_index("item").loc[items]
    est = rows["estimate"].to_numpy(dtype=float)
    low, high = rows["ci_low"].to_numpy(dtype=float), rows["ci_high"].to_numpy(dtype=float)
    y = -np.arange(len(items), dtype=float)
    ax = chart_axes(ax, (6.0, 1.2 + 0.45 * len(items)))
    shown = np.isfinite(est)
    err = np.vstack([est - low, high - est])[:, shown]
    ax.errorbar(est[shown], y[shown], xerr=np.nan_to_num(err), fmt="o", color=OKABE_ITO["blue"])
    ax.axvline(0.0, color=GREY, linewidth=0.8)
    ax.set_yticks(y, item_labels(items, lang, tool, registry))
    ax.set_xlim(min(-0.05, np.nanmin(low, initial=0.0) - 0.05), 1.0)
    ax.set_xlabel(f"{label('practice_agreement', lang)} ({statistic.replace('_', ' ')})")
    return ax
