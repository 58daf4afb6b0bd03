"""The report's figures: drawn from the published tables, saved as SVG and PNG.

Every figure is drawn from what the disclosure gate published, never from the
unprotected results: the engagement figures and the forest plots from the
published tables (a group whose figures are withheld is not drawn, and the
note under the figure gives the real reason: fewer than the threshold, or
withheld so that a small count elsewhere cannot be worked out), the numbers at
risk from the published Kaplan-Meier horizons, the reliable-change bars from
the published class counts, and the retention and reoffending curves from the
curve points the gate lets through (each drawn step hides at least the
threshold number of events; :func:`~cdanalytics.disclosure.coarsen_steps`).
The balance and propensity plots protect themselves with the gate's
functions. A figure that cannot be drawn (its analysis was not computed) is
simply absent.
"""

from __future__ import annotations

import html
import io
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes

from .. import charts
from ..charts.common import group_labels, note_suppressed, varies
from ..disclosure import DisclosurePolicy, coarsen_steps, merge_residual
from ..engagement import COMPLETION_COLUMNS, STAGES
from ..errors import ConfigError
from ..i18n import has_label, label
from .compute import OVERALL, Outcomes
from .published import PublishedTable

__all__ = ["Figure", "accessible_svg", "alt_text", "draw_figures", "render_figure"]

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
        The figure as SVG text (embedded in ``report.html``), with its text
        alternative as the SVG's ``<title>`` (``role="img"``).
    png
        The figure as PNG bytes (150 dpi), or ``None`` when PNG files were not
        asked for (``build_report(..., png=False)``, the default).
    alt
        Text alternative: what the figure shows, in the report's language.
    font_pt
        Size in points of the smallest text drawn (the page keeps the figure
        wide enough for that text to stay legible).
    """

    name: str
    section: str
    svg: str
    png: bytes | None = None
    alt: str = ""
    font_pt: float = charts.MIN_FONT_PT

    @property
    def width_pt(self) -> float:
        """Width of the SVG's drawing area (its ``viewBox``), in points."""
        match = _VIEWBOX.search(self.svg[: self.svg.index(">")])
        return float(match.group(1)) if match else 0.0


_VIEWBOX = re.compile(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) [\d.]+"')


def alt_text(name: str, ax: Axes, lang: str) -> str:
    """The text alternative of figure ``name``: its description from the locale
    files (``alt_<name>``, or ``alt_<kind>`` for a figure ``<kind>_<programme>``),
    or else its title, said to be a chart whose numbers are in the report's tables."""
    if has_label(f"alt_{name}", lang):
        return label(f"alt_{name}", lang)
    # a figure per programme (``love_plot_<programme>``) has its kind's description
    parts = name.split("_")
    for end in range(len(parts) - 1, 0, -1):
        key = "alt_" + "_".join(parts[:end])
        if has_label(key, lang):
            return label(key, lang, programme=label("_".join(parts[end:]), lang))
    title = ax.get_title() or ax.get_title("left") or label(name, lang)
    return label("alt_figure", lang, title=title)


def accessible_svg(svg: str, alt: str) -> str:
    """``svg`` with ``role="img"`` and ``alt`` as its ``<title>`` (its accessible name)."""
    end = svg.index(">")
    return f'{svg[:end]} role="img">\n<title>{html.escape(alt)}</title>{svg[end + 1 :]}'


def _render(ax: Axes, png: bool) -> tuple[str, bytes | None]:
    """The figure as SVG text and, only when asked, PNG bytes (drawing a PNG costs
    about as much again as the SVG the page needs)."""
    fig = ax.figure
    svg = charts.svg_text(fig)  # savefig's SVG, each text measured once
    png_bytes = None
    if png:
        png_buffer = io.BytesIO()
        fig.savefig(png_buffer, format="png", dpi=150, bbox_inches="tight")
        png_bytes = png_buffer.getvalue()
    plt.close(fig)
    return svg[svg.index("<svg") :], png_bytes


def _withheld_note(
    ax: Axes,
    table: PublishedTable,
    withheld: pd.Series,
    base: str,
    names: pd.Series,
    lang: str,
    below=None,
) -> None:
    """Name the groups not drawn, each under its real reason.

    A group is "fewer than the threshold" only when its base count is a
    primary (small) cell; otherwise it was withheld by secondary suppression.
    """
    policy = table.protected.policy
    primary = table.protected.primary[base].to_numpy() if base in table.published else withheld
    small = list(names[withheld & primary])
    secondary = list(names[withheld & ~primary])
    extra = label("withheld_note", lang, groups=", ".join(secondary)) if secondary else ""
    note_suppressed(ax, policy, small, lang, extra=extra, below=below)


def _completion_chart(engagement: PublishedTable, lang: str) -> Axes:
    """Completion by group, of the groups whose completion the engagement table shows."""
    keys = list(engagement.groupings)
    table = engagement.published
    detail = (table[keys[0]].astype(str) != OVERALL).to_numpy()
    columns = ["n_potential", "n_completed", *COMPLETION_COLUMNS]
    shown = table[columns].notna().all(axis=1).to_numpy()
    frame = table.loc[detail & shown, [*keys, "n_started", *columns]]
    ax = charts.completion_chart(frame.reset_index(drop=True), lang=lang)
    names = group_labels(table, keys, lang).to_numpy()
    _withheld_note(
        ax, engagement, pd.Series(detail & ~shown), "n_potential", pd.Series(names), lang
    )
    return ax


def _forest(table: PublishedTable, lang: str, base: str, **kw) -> Axes:
    """A forest plot of the rows whose estimate and interval are published."""
    frame = table.published
    stats = [kw.get("estimate", "difference_pp"), *_INTERVALS[kw.get("estimate", "difference_pp")]]
    shown = frame[stats].notna().all(axis=1).to_numpy()
    ax = charts.forest_plot(frame.loc[shown].reset_index(drop=True), lang=lang, **kw)
    keys = [k for k in table.key_columns if varies(frame[k])] or table.key_columns[:1]
    names = group_labels(frame, keys, lang)
    _withheld_note(ax, table, pd.Series(~shown), base, names.reset_index(drop=True), lang)
    return ax


def _programme_forest(
    matched: PublishedTable, gates: pd.DataFrame | None, lang: str, names: Mapping[str, str]
) -> Axes:
    """Each programme's intention-to-treat matched difference (percentage points) and CI.

    Drawn from the published matched-comparison table: a programme whose
    effect the gates did not let through (not computed, or withheld for
    imbalance) or the disclosure gate withheld is named under the plot.
    """
    frame = matched.published
    itt = frame[(frame["analysis"].astype(str) == "all_starters").to_numpy()]
    stats = ["difference", "difference_ci_low", "difference_ci_high"]
    shown = itt[stats].notna().all(axis=1).to_numpy()
    drawn = itt.loc[shown]
    effects = pd.DataFrame(
        {
            "programme": [names.get(str(c), label(str(c), lang)) for c in drawn["programme"]],
            "difference_pp": 100 * drawn["difference"].to_numpy(float),
            "ci_low_pp": 100 * drawn["difference_ci_low"].to_numpy(float),
            "ci_high_pp": 100 * drawn["difference_ci_high"].to_numpy(float),
            "n_treated": drawn["n_matched"].to_numpy(float),
            "n_control": drawn["n_control"].to_numpy(float),
        }
    )
    ax = charts.forest_plot(effects, labels=["programme"], lang=lang)
    codes = [str(c) for c in itt.loc[~shown, "programme"]]
    if gates is not None:
        itt_gates = gates[gates["analysis"] == "all_starters"]
        codes += [str(c) for c in itt_gates["programme"] if str(c) not in set(itt["programme"])]
    if codes:
        missing = ", ".join(names.get(c, label(c, lang)) for c in codes)
        note_suppressed(
            ax,
            matched.protected.policy,
            [],
            lang,
            extra=label("forest_not_drawn", lang, programmes=missing),
        )
    return ax


#: Estimate -> its interval columns in the published tables.
_INTERVALS = {"difference_pp": ("ci_low_pp", "ci_high_pp"), "g_av": ("g_av_ci_low", "g_av_ci_high")}


def _below_at_risk(ax: Axes):
    """The last numbers-at-risk text under a curve (the note goes below it)."""
    texts = [t for t in ax.texts if t.get_gid() in ("at_risk", "at_risk_header")]
    return texts[-1] if texts else None


def _km_chart(
    curve: pd.DataFrame, horizons: PublishedTable | None, lang: str, policy: DisclosurePolicy
) -> Axes:
    """Cumulative reoffending: gate-approved curve steps, published numbers at risk."""
    drawn = coarsen_steps(curve, policy, keys=["group"])
    at_risk = None
    if horizons is not None:
        at_risk = horizons.protected.marked()[["group", "horizon_months", "n_at_risk"]]
    ax = charts.cumulative_reoffending_chart(drawn, at_risk, lang=lang)
    missing = sorted(set(curve["group"].astype(str)) - set(drawn["group"].astype(str)))
    note_suppressed(
        ax,
        policy,
        [label(g, lang) for g in missing],
        lang,
        below=_below_at_risk(ax),
        extra=label("steps_note", lang, threshold=policy.threshold),
    )
    return ax


def _retention_chart(
    retention: pd.DataFrame, keys: list[str], lang: str, policy: DisclosurePolicy
) -> Axes:
    """Retention by session, drawn in steps of at least the threshold number of dropouts."""
    drawn = coarsen_steps(retention, policy, keys=keys, events="n_dropped_out")
    ax = charts.retention_chart(drawn.reset_index(drop=True), lang=lang)
    groups = group_labels(retention, keys, lang)
    missing = sorted(set(groups) - set(group_labels(drawn, keys, lang)))
    note_suppressed(
        ax, policy, missing, lang, extra=label("steps_note", lang, threshold=policy.threshold)
    )
    return ax


def _reliable_change_chart(classes: PublishedTable, lang: str) -> Axes:
    """Reliable-change bars of the published class counts (bars with a withheld class left out)."""
    frame = classes.published
    parts = [c for c in classes.value_columns if c != "n_total"]
    shown = frame[[*parts, "n_total"]].notna().all(axis=1).to_numpy()
    keys = list(classes.key_columns)
    long = frame.loc[shown].melt(
        id_vars=[*keys, "n_total"], value_vars=parts, var_name="change_class", value_name="n"
    )
    long = long.rename(columns={"n_total": "n_classified"})
    ax = charts.reliable_change_bars(long, lang=lang)
    names = group_labels(frame, [k for k in keys if varies(frame[k])], lang)
    _withheld_note(ax, classes, pd.Series(~shown), "n_total", names.reset_index(drop=True), lang)
    return ax


def _flow_chart(
    engagement: PublishedTable, exits: PublishedTable | None, lang: str, policy: DisclosurePolicy
) -> Axes | None:
    """The participant flow as the engagement and flow-exit tables publish it.

    Needs the five step counts of the overall row. At each step the reasons
    the flow-exit table shows are drawn; the rest of that step's leavers are
    drawn as "other reasons", with shown reasons folded in until that count is
    not below the threshold (it follows from published counts anyway;
    :func:`~cdanalytics.disclosure.merge_residual`).
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
        drawn = merge_residual(
            int(counts[upper] - counts[lower]), shown, policy, other="other_reasons"
        )
        rows += [(stage, reason, n) for reason, n in drawn.items()]
    frame = pd.DataFrame(rows, columns=["stage", "reason", "n_left"])
    ax = charts.participant_flow(counts.to_frame().T, frame, lang=lang, additive=policy.additive)
    note_suppressed(ax, policy, withheld, lang)
    return ax


def _plans(
    out: Outcomes,
    lang: str,
    policy: DisclosurePolicy,
    published: Mapping[str, PublishedTable],
    names: Mapping[str, str] | None = None,
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
        plans.append(("completion", "engagement", lambda: _completion_chart(engagement, lang)))
    if "retention" in t:
        retention = t["retention"]
        keys = list(retention.columns[: retention.columns.get_loc("session")])
        plans.append(
            (
                "retention",
                "engagement",
                lambda: _retention_chart(retention, keys, lang, policy),
            )
        )
    if "km_curve" in t:
        horizons = published.get("km_horizons")
        plans.append(
            (
                "cumulative_reoffending",
                "reoffending",
                lambda: _km_chart(t["km_curve"], horizons, lang, policy),
            )
        )
    if "matched_comparisons" in published:
        matched = published["matched_comparisons"]
        gates = t.get("matching_gates")
        plans.append(
            (
                "programme_effects",
                "programmes",
                lambda: _programme_forest(matched, gates, lang, names or {}),
            )
        )
    for code, (balance, counts) in m.get("love_plots", {}).items():
        plans.append(
            (
                f"love_plot_{code}",
                "programmes",
                partial(charts.love_plot, balance, counts=counts, **kw),
            )
        )
    if "change" in published:
        change = published["change"]
        plans.append(
            (
                "prepost_effects",
                "prepost",
                lambda: _forest(change, lang, "n_paired", estimate="g_av"),
            )
        )
    if "reliable_change" in published:
        classes = published["reliable_change"]
        plans.append(("reliable_change", "prepost", lambda: _reliable_change_chart(classes, lang)))
    return plans


def render_figure(name: str, section: str, ax: Axes, lang: str, png: bool = False) -> Figure:
    """The :class:`Figure` of a drawn chart: its text alternative, smallest text
    size, accessible SVG and (only when ``png``) PNG bytes; the chart is closed."""
    alt, font_pt = alt_text(name, ax, lang), charts.smallest_font(ax)
    svg, png_bytes = _render(ax, png)
    return Figure(
        name=name,
        section=section,
        svg=accessible_svg(svg, alt),
        png=png_bytes,
        alt=alt,
        font_pt=font_pt,
    )


def draw_figures(
    out: Outcomes,
    lang: str,
    policy: DisclosurePolicy,
    published: Mapping[str, PublishedTable],
    names: Mapping[str, str] | None = None,
    *,
    png: bool = False,
) -> list[Figure]:
    """Draw every figure the outcomes allow, with disclosure control applied.

    ``published`` are the protected tables (:func:`publish_tables`): the
    engagement figures and the forest plot of the programmes' matched
    effects are drawn from them. ``names``: programme code -> its name.
    ``png``: also draw each figure as PNG (the page embeds the SVG only).
    """
    figures = []
    for name, section, draw in _plans(out, lang, policy, published, names):
        ax = draw()
        if ax is not None:
            figures.append(render_figure(name, section, ax, lang, png))
    return figures


def save_figures(figures: list[Figure], folder: Path) -> None:
    """Write each figure as ``NAME.svg`` (and ``NAME.png`` when drawn) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for figure in figures:
        (folder / f"{figure.name}.svg").write_text(figure.svg, encoding="utf-8")
        if figure.png is not None:
            (folder / f"{figure.name}.png").write_bytes(figure.png)


def figure_kind(*, figures: bool = True, png: bool = False) -> str:
    """What a report draws: ``"svg"``, ``"svg+png"`` or ``"none"`` (``run.json``'s ``figures``).

    Raises
    ------
    ConfigError
        ``png`` without ``figures``.
    """
    if png and not figures:
        raise ConfigError("png needs the figures: leave out either png or figures=False.")
    return "none" if not figures else "svg+png" if png else "svg"
