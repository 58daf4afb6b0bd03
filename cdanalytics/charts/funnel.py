"""Funnel plot of observed/expected by site, and the cohort trend of observed and
case-mix corrected reoffending over referral quarters.

Both draw a table of :func:`cdanalytics.compare.casemix_comparison` as they
get it: protect it first (the report passes a disclosure-protected table);
rows whose drawn values are missing (withheld) are left out and counted in a
note under the chart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..compare.funnel import FUNNEL_LEVELS, funnel_limits
from ..errors import ConfigError
from ..i18n import label
from ._style import GREY, OKABE_ITO, chart_axes, styled
from .common import group_columns, group_labels, percent, percent_formatter, require

__all__ = ["cohort_trend_chart", "funnel_plot"]

_FUNNEL = ("expected", "oe_ratio", "outside_95", "outside_998")
_TREND = ("observed_rate", "standardised_rate")


def _note(ax: Axes, left_out: int, lang: str) -> None:
    if left_out:
        ax.annotate(
            f"{left_out} {label('not_shown', lang)}",
            xy=(0, 0),
            xycoords="axes fraction",
            xytext=(0, -30),
            textcoords="offset points",
            fontsize=8,
            color=GREY,
            va="top",
        )


@styled
def funnel_plot(
    table: pd.DataFrame,
    *,
    phi: float = 1.0,
    annotate_outside: bool = True,
    lang: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Funnel plot: each unit's O/E against its expected count, with 95% and 99.8% limits.

    Parameters
    ----------
    table
        :attr:`CaseMixComparison.table <cdanalytics.compare.CaseMixComparison>`
        (one row per unit; the unit columns come first).
    phi
        Overdispersion factor the limits were widened by
        (``CaseMixComparison.phi`` when ``overdispersed``), so that the drawn
        funnel matches the table's ``outside_*`` flags.
    annotate_outside
        Name the units outside the 99.8% limits.
    lang
        ``"en"`` or ``"nl"``.
    ax
        Axes to draw on; a new figure if ``None``.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional
    performance. Statistics in Medicine 24:1185-1202.
    """
    require(table, list(_FUNNEL), "funnel_plot")
    units = group_columns(table, "n", "funnel_plot")
    ax = chart_axes(ax, (6.4, 4.4))
    drawn = table[np.isfinite(table["expected"]) & np.isfinite(table["oe_ratio"])]
    if drawn.empty:
        raise ConfigError("funnel_plot: no unit has an expected count and a ratio to draw.")
    top = float(drawn["expected"].max())
    grid = np.geomspace(max(float(drawn["expected"].min()) / 2, 0.5), top * 1.1, 200)
    limits = funnel_limits(grid, 1.0, phi=phi)
    for level, style in zip(FUNNEL_LEVELS, ("--", ":"), strict=True):
        low, high = limits[level]
        name = f"{label('limits', lang)} {percent(level, lang, 1)}"
        ax.plot(grid, high, color=GREY, linestyle=style, linewidth=1.0, label=name)
        ax.plot(grid, low, color=GREY, linestyle=style, linewidth=1.0)
    ax.axhline(1.0, color="#333333", linewidth=0.8)
    outside = drawn["outside_998"].to_numpy(dtype=bool)
    ax.scatter(
        drawn["expected"][~outside],
        drawn["oe_ratio"][~outside],
        color=OKABE_ITO["blue"],
        zorder=3,
        s=22,
    )
    ax.scatter(
        drawn["expected"][outside],
        drawn["oe_ratio"][outside],
        color=OKABE_ITO["vermillion"],
        zorder=3,
        s=30,
        marker="D",
    )
    if annotate_outside and units and outside.any():
        names = group_labels(drawn[outside], units, lang).to_numpy()
        for (_, row), name in zip(drawn[outside].iterrows(), names, strict=True):
            ax.annotate(
                str(name),
                (row["expected"], row["oe_ratio"]),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=8,
            )
    ax.set_xlabel(label("expected_count", lang))
    ax.set_ylabel(label("observed_expected", lang))
    ax.legend(loc="upper right")
    _note(ax, len(table) - len(drawn), lang)
    return ax


@styled
def cohort_trend_chart(
    table: pd.DataFrame,
    *,
    period: str = "referral_quarter",
    lang: str = "en",
    ax: Axes | None = None,
) -> Axes:
    """Observed and case-mix corrected (indirectly standardised) rates over referral quarters.

    Parameters
    ----------
    table
        :attr:`CaseMixComparison.table <cdanalytics.compare.CaseMixComparison>`
        by ``period`` (one row per quarter).
    period
        The period column, drawn in its order.
    lang
        ``"en"`` or ``"nl"``.
    ax
        Axes to draw on; a new figure if ``None``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    require(table, [period, *_TREND, "standardised_ci_low", "standardised_ci_high"], "trend")
    frame = table.sort_values(period, kind="stable")
    keep = np.isfinite(frame["observed_rate"]) & np.isfinite(frame["standardised_rate"])
    drawn = frame[keep]
    ax = chart_axes(ax, (6.4, 3.8))
    x = np.arange(len(drawn))
    ax.plot(
        x,
        drawn["observed_rate"],
        marker="o",
        color=OKABE_ITO["blue"],
        label=label("observed_rate", lang),
    )
    ax.plot(
        x,
        drawn["standardised_rate"],
        marker="s",
        color=OKABE_ITO["orange"],
        label=label("standardised_rate", lang),
    )
    ax.fill_between(
        x,
        drawn["standardised_ci_low"],
        drawn["standardised_ci_high"],
        color=OKABE_ITO["orange"],
        alpha=0.15,
        linewidth=0,
    )
    ax.set_xticks(x, drawn[period].astype(str).tolist(), rotation=45, ha="right")
    ax.yaxis.set_major_formatter(percent_formatter(lang))
    ax.set_ylim(bottom=0)
    ax.set_ylabel(label("reoffending_rate", lang))
    ax.legend(loc="best")
    _note(ax, len(frame) - len(drawn), lang)
    return ax
