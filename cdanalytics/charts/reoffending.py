"""Reoffending chart: Kaplan-Meier cumulative proven reoffending with numbers at risk."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.text import Annotation
from matplotlib.ticker import FuncFormatter

from ..disclosure import DisclosurePolicy, protect_frame, protect_statistics
from ..errors import ConfigError
from ..i18n import label
from ._style import chart_axes, colour, styled
from .common import (
    column_values,
    group_columns,
    group_labels,
    note_suppressed,
    number,
    percent_formatter,
    protect,
    require,
)

__all__ = ["cumulative_reoffending_chart"]

_TABLE_TOP = 34.0  # points below the axis where the numbers-at-risk table starts
_ROW = 11.5  # points per row of the table
_GROUP_GAP = 22.0  # points between a row's group name and the axis origin


def _up_to(limit: float | None, x: np.ndarray, *values: np.ndarray) -> list[np.ndarray]:
    """A step function cut at ``x = limit``, its last step carried to the limit."""
    if limit is None or x.max() <= limit:
        return [x, *values]
    keep = x <= limit
    return [np.append(x[keep], limit), *(np.append(v[keep], v[keep][-1]) for v in values)]


def _at_risk_text(
    at_risk: pd.DataFrame, disclosure: DisclosurePolicy | None, lang: str
) -> pd.Series:
    """The numbers at risk as text, withheld ones as the policy's labels.

    Without a policy the numbers are taken as already published: a marker
    written by the gate (``"<10"``, ``"[c]"``) is shown as it is.
    """
    if disclosure is None:
        return pd.Series(
            [v if isinstance(v, str) else number(v, lang) for v in at_risk["n_at_risk"]],
            index=at_risk.index,
            dtype=object,
        )
    table = protect_frame(at_risk, disclosure, count_cols=["n_at_risk"])
    text = table.formatted({"n_at_risk": lambda n: number(n, lang)})["n_at_risk"]
    return pd.Series(text.to_numpy(), index=at_risk.index, dtype=object)


@styled
def cumulative_reoffending_chart(
    curve: pd.DataFrame,
    at_risk: pd.DataFrame | None = None,
    *,
    max_months: float | None = None,
    ax: Axes | None = None,
    lang: str = "en",
    disclosure: DisclosurePolicy | None = None,
) -> Axes:
    """Kaplan-Meier cumulative proven reoffending per group, with CI bands and numbers at risk.

    Step curves of ``cumulative`` (1 - S(t)) against months since the index
    date with their pointwise confidence band; under the x axis a table of
    the numbers still at risk at each horizon of ``at_risk``, one row per
    group (text in the same figure), and the x ticks at those horizons.

    Parameters
    ----------
    curve
        :attr:`cdanalytics.reoffending.CumulativeReoffending.curve`: the
        grouping columns, then ``time_months``, ``n_at_risk``,
        ``cumulative``, ``ci_low``, ``ci_high``.
    at_risk
        :func:`cdanalytics.reoffending.at_risk_table` (or
        :attr:`~cdanalytics.reoffending.CumulativeReoffending.horizons`) with
        the same grouping columns: ``horizon_months``, ``n_at_risk``
        (numbers, or, without ``disclosure``, a published table whose
        withheld cells hold their markers). ``None``: no table.
    max_months
        Where the x axis (and the curves) end; default the last horizon of
        ``at_risk``, else the end of the longest curve.
    ax, lang
        Axes to draw on (new figure if ``None``); ``"en"`` or ``"nl"``.
    disclosure
        Curves stop where fewer than ``threshold`` people are at risk
        (:func:`~cdanalytics.disclosure.protect_statistics`); a group smaller
        than the threshold is not drawn (nor its row of the table); numbers
        at risk are protected with :func:`~cdanalytics.disclosure.protect_frame`
        and withheld ones shown as ``<10`` or ``[c]``.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ConfigError
        If a column is missing or the two tables are grouped differently.

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). JASA 53:457-481. Pocock, S. J.,
    Clayton, T. C. & Altman, D. G. (2002). Survival plots of time-to-event
    outcomes in clinical trials: good practice and pitfalls. Lancet
    359:1686-1689 (numbers at risk under the plot, cumulative incidence
    rising).
    """
    stats = ["cumulative", "ci_low", "ci_high"]
    keys = group_columns(curve, "time_days" if "time_days" in curve else "time_months", "curve")
    require(curve, ["time_months", "n_at_risk", *stats], "cumulative_reoffending_chart (curve)")
    if at_risk is not None:
        risk_keys = group_columns(at_risk, "horizon_months", "cumulative_reoffending_chart")
        require(at_risk, ["n_at_risk"], "cumulative_reoffending_chart (at_risk)")
        if risk_keys != keys:
            raise ConfigError(
                f"the curve is grouped by {keys} but the at-risk table by {risk_keys}; "
                "compute both with the same by=."
            )
    if max_months is None and at_risk is not None and len(at_risk):
        max_months = float(column_values(at_risk, "horizon_months").max())
    if max_months is not None and not (np.isfinite(max_months) and max_months > 0):
        raise ConfigError(f"max_months must be a positive number, not {max_months!r}.")

    def protector(frame: pd.DataFrame, policy: DisclosurePolicy):
        return protect_statistics(frame, "n_at_risk", stats, policy)

    drawn = protect(curve, disclosure, stats, protector)
    groups = list(dict.fromkeys(group_labels(curve, keys, lang)))
    names = group_labels(drawn.frame, keys, lang)
    ax = chart_axes(ax, (6.4, 4.2 + (0.2 * (len(groups) + 1) if at_risk is not None else 0)))
    colours = {name: colour(i) for i, name in enumerate(groups)}
    for name in dict.fromkeys(names):
        rows = drawn.frame.loc[names == name]
        x, y, low, high = _up_to(
            max_months, *(column_values(rows, c) for c in ["time_months", *stats])
        )
        ax.step(x, y, where="post", color=colours[name], label=name)
        ax.fill_between(
            x, low, high, step="post", color=colours[name], alpha=0.18, linewidth=0
        ).set_gid("ci_band")
    ax.set_xlim(0, max_months)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(FuncFormatter(percent_formatter(lang)))
    ax.set_xlabel(label("months_since_index", lang))
    ax.set_ylabel(label("cumulative_reoffending", lang))
    ax.set_title(label("title_reoffending", lang))
    if keys and len(names):
        ax.legend(loc="upper left")
    suppressed = [name for name in groups if name not in set(names)]
    last = None
    if at_risk is not None:
        within = at_risk
        if max_months is not None:
            within = at_risk.loc[column_values(at_risk, "horizon_months") <= max_months]
        last = _draw_at_risk(ax, within, keys, set(names), colours, disclosure, lang)
    note_suppressed(
        ax,
        disclosure,
        suppressed,
        lang,
        below=last,
        extra=(
            label("truncated_note", lang, threshold=disclosure.threshold)
            if len(drawn.withheld)
            else ""
        ),
    )
    return ax


def _draw_at_risk(
    ax: Axes,
    at_risk: pd.DataFrame,
    keys: list[str],
    shown: set[str],
    colours: dict[str, str],
    disclosure: DisclosurePolicy | None,
    lang: str,
) -> Annotation:
    """Write the numbers-at-risk table under the x axis; return its last text."""
    frame = at_risk.reset_index(drop=True)
    frame = frame.loc[group_labels(frame, keys, lang).isin(shown)].reset_index(drop=True)
    codes = group_labels(frame, keys, lang)
    text = _at_risk_text(frame, disclosure, lang)
    horizons = np.unique(column_values(frame, "horizon_months"))
    ax.set_xticks(horizons, [number(h, lang, 0 if float(h).is_integer() else 1) for h in horizons])
    last = ax.annotate(
        label("number_at_risk", lang),
        xy=(0, 0),
        xycoords=("axes fraction", "axes fraction"),
        xytext=(0, -_TABLE_TOP),
        textcoords="offset points",
        ha="left",
        va="top",
        fontweight="bold",
        fontsize=8,
        annotation_clip=False,
    )
    last.set_gid("at_risk_header")
    for row, code in enumerate(dict.fromkeys(codes)):
        rows = codes == code
        offset = -_TABLE_TOP - _ROW * (row + 1)
        if keys:
            ax.annotate(
                code,
                xy=(0, 0),
                xycoords=("axes fraction", "axes fraction"),
                xytext=(-_GROUP_GAP, offset),
                textcoords="offset points",
                ha="right",
                va="top",
                fontsize=8,
                color=colours[code],
                annotation_clip=False,
            ).set_gid("at_risk_group")
        for h, value in zip(
            column_values(frame.loc[rows], "horizon_months"), text[rows], strict=True
        ):
            last = ax.annotate(
                value,
                xy=(h, 0),
                xycoords=("data", "axes fraction"),
                xytext=(0, offset),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=8,
                color=colours[code],
                annotation_clip=False,
            )
            last.set_gid("at_risk")
    return last
