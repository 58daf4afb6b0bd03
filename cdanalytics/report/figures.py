"""The report's figures: drawn from the outcomes, protected, saved as SVG and PNG.

Each figure is drawn by a :mod:`cdanalytics.charts` function with the
report's disclosure policy, so a group below the threshold is not drawn and
the chart says so. A figure that cannot be drawn (its analysis was not
computed) is simply absent.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from .. import charts
from ..disclosure import DisclosurePolicy
from .compute import OVERALL, Outcomes

__all__ = ["Figure", "draw_figures"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Figure:
    """One drawn figure.

    Attributes
    ----------
    name
        File stem under ``figures/`` and anchor in ``report.html``.
    section
        Report section it belongs to.
    svg
        The figure as SVG text (embedded in ``report.html``).
    png
        The figure as PNG bytes.
    """

    name: str
    section: str
    svg: str
    png: bytes


def _render(ax: Axes) -> tuple[str, bytes]:
    fig = ax.figure
    svg_buffer = io.StringIO()
    fig.savefig(svg_buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    png_buffer = io.BytesIO()
    fig.savefig(png_buffer, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    svg = svg_buffer.getvalue()
    return svg[svg.index("<svg") :], png_buffer.getvalue()


def _plans(out: Outcomes, lang: str, policy: DisclosurePolicy) -> list[tuple[str, str, Callable]]:
    t = out.tables
    m = out.models
    kw = {"lang": lang, "disclosure": policy}
    first = out.config["groupings"][0]
    plans: list[tuple[str, str, Callable]] = []
    if "flow" in t:
        overall = t["flow"][t["flow"][first].astype(str) == OVERALL].drop(
            columns=list(out.config["groupings"])
        )
        plans.append(
            (
                "participant_flow",
                "engagement",
                lambda: charts.participant_flow(overall, t["flow_exits"], **kw),
            )
        )
    if "completion" in t:
        detail = t["completion"][t["completion"][first].astype(str) != OVERALL]
        plans.append(("completion", "engagement", lambda: charts.completion_chart(detail, **kw)))
    if "retention" in t:
        plans.append(
            ("retention", "engagement", lambda: charts.retention_chart(t["retention"], **kw))
        )
    if "dropout_timing" in t:
        plans.append(
            (
                "dropout_timing",
                "engagement",
                lambda: charts.dropout_timing_chart(t["dropout_timing"], **kw),
            )
        )
    if "km_curve" in t:
        plans.append(
            (
                "cumulative_reoffending",
                "reoffending",
                lambda: charts.cumulative_reoffending_chart(t["km_curve"], t["km_horizons"], **kw),
            )
        )
    if "matched_effect" in t:
        plans.append(
            ("matched_effect", "reoffending", lambda: charts.forest_plot(t["matched_effect"], **kw))
        )
    if "match" in m:
        result = m["match"]
        plans.append(
            (
                "love_plot",
                "reoffending",
                lambda: charts.love_plot(result.balance, counts=result.counts, **kw),
            )
        )
        plans.append(
            (
                "propensity_overlap",
                "reoffending",
                lambda: charts.propensity_overlap(result.scores, **kw),
            )
        )
    if "change" in t:
        plans.append(
            (
                "prepost_effects",
                "prepost",
                lambda: charts.forest_plot(t["change"], estimate="g_av", **kw),
            )
        )
    if "reliable_change_summary" in t:
        plans.append(
            (
                "reliable_change",
                "prepost",
                lambda: charts.reliable_change_bars(t["reliable_change_summary"], **kw),
            )
        )
    return plans


def draw_figures(out: Outcomes, lang: str, policy: DisclosurePolicy) -> list[Figure]:
    """Draw every figure the outcomes allow, with disclosure control applied."""
    figures = []
    for name, section, draw in _plans(out, lang, policy):
        svg, png = _render(draw())
        figures.append(Figure(name=name, section=section, svg=svg, png=png))
    return figures


def save_figures(figures: list[Figure], folder: Path) -> None:
    """Write each figure as ``NAME.svg`` and ``NAME.png`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for figure in figures:
        (folder / f"{figure.name}.svg").write_text(figure.svg, encoding="utf-8")
        (folder / f"{figure.name}.png").write_bytes(figure.png)
