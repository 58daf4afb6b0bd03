"""The report's figures: drawn from the outcomes, protected, saved as SVG and PNG.

Each figure is drawn by a :mod:`cdanalytics.charts` function with the
report's disclosure policy, so a group below the threshold is not drawn and
the chart says so. The figures that show engagement counts (the participant
flow and completion by group) are drawn from the *published* engagement and
flow-exit tables instead, so that they show no count those tables withhold
(tables and figures protected separately could together give one away). A
figure that cannot be drawn (its analysis was not computed) is simply absent.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes

from .. import charts
from ..charts._common import group_labels, note_suppressed
from ..disclosure import DisclosurePolicy
from ..engagement import STAGES
from ..i18n import label
from .compute import OVERALL, Outcomes
from .tables import PublishedTable

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


#: Published completion columns -> the columns :func:`charts.completion_chart` reads.
_COMPLETION = {
    "n_potential": "n_potential",
    "n_completed": "n_completed",
    "completion_rate": "rate",
    "completion_ci_low": "ci_low",
    "completion_ci_high": "ci_high",
}


def _completion_chart(engagement: PublishedTable, lang: str, policy: DisclosurePolicy) -> Axes:
    """Completion by group, of the groups whose completion the engagement table shows."""
    keys = list(engagement.groupings)
    table = engagement.published
    detail = table[table[keys[0]].astype(str) != OVERALL]
    shown = detail[list(_COMPLETION)].notna().all(axis=1)
    frame = detail.loc[shown, [*keys, "n_started", *_COMPLETION]].rename(columns=_COMPLETION)
    ax = charts.completion_chart(frame.reset_index(drop=True), lang=lang)
    note_suppressed(ax, policy, list(group_labels(detail.loc[~shown], keys, lang)), lang)
    return ax


def _flow_chart(
    engagement: PublishedTable, exits: PublishedTable | None, lang: str, policy: DisclosurePolicy
) -> Axes | None:
    """The participant flow as the engagement and flow-exit tables publish it.

    Needs the five step counts of the overall row. At each step the reasons
    the flow-exit table shows are drawn; the rest of that step's leavers are
    drawn as "other reasons", with shown reasons folded in until that count is
    not below the threshold (it follows from published counts anyway).
    """
    table = engagement.published
    overall = table[table[engagement.key_columns[0]].astype(str) == OVERALL]
    steps = [f"n_{stage}" for stage in STAGES]
    if len(overall) != 1 or overall[steps].isna().to_numpy().any():
        log.info("participant flow not drawn: the overall flow counts are withheld")
        return None
    counts = overall[steps].astype("int64").iloc[0]
    rows, withheld = [], []
    for stage, (upper, lower) in zip(STAGES[:-1], pairwise(steps), strict=True):
        shown: dict[str, int] = {}
        if exits is not None and stage in exits.published.columns:
            by_reason = exits.published.set_index("reason")[stage].drop(OVERALL)
            shown = {str(r): int(n) for r, n in by_reason.dropna().items() if n > 0}
            withheld += [
                f"{label(stage, lang)}: {label(str(r), lang)}"
                for r in by_reason.index[by_reason.isna()]
            ]
        other = int(counts[upper] - counts[lower]) - sum(shown.values())
        while 0 < other < policy.threshold and shown:
            other += shown.pop(min(shown, key=shown.get))
        shown.update({"other_reasons": other} if other else {})
        rows += [(stage, reason, n) for reason, n in shown.items()]
    frame = pd.DataFrame(rows, columns=["stage", "reason", "n_left"])
    ax = charts.participant_flow(counts.to_frame().T, frame, lang=lang)
    note_suppressed(ax, policy, withheld, lang)
    return ax


def _plans(
    out: Outcomes, lang: str, policy: DisclosurePolicy, published: Mapping[str, PublishedTable]
) -> list[tuple[str, str, Callable]]:
    t = out.tables
    m = out.models
    kw = {"lang": lang, "disclosure": policy}
    plans: list[tuple[str, str, Callable]] = []
    engagement = published.get("engagement")
    if engagement is not None:
        exits = published.get("flow_exits")
        plans.append(
            (
                "participant_flow",
                "engagement",
                lambda: _flow_chart(engagement, exits, lang, policy),
            )
        )
        plans.append(
            ("completion", "engagement", lambda: _completion_chart(engagement, lang, policy))
        )
    if "retention" in t:
        plans.append(
            ("retention", "engagement", lambda: charts.retention_chart(t["retention"], **kw))
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


def draw_figures(
    out: Outcomes,
    lang: str,
    policy: DisclosurePolicy,
    published: Mapping[str, PublishedTable],
) -> list[Figure]:
    """Draw every figure the outcomes allow, with disclosure control applied.

    ``published`` are the protected tables (:func:`publish_tables`): the
    engagement figures are drawn from them.
    """
    figures = []
    for name, section, draw in _plans(out, lang, policy, published):
        ax = draw()
        if ax is None:
            continue
        svg, png = _render(ax)
        figures.append(Figure(name=name, section=section, svg=svg, png=png))
    return figures


def save_figures(figures: list[Figure], folder: Path) -> None:
    """Write each figure as ``NAME.svg`` and ``NAME.png`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for figure in figures:
        (folder / f"{figure.name}.svg").write_text(figure.svg, encoding="utf-8")
        (folder / f"{figure.name}.png").write_bytes(figure.png)
