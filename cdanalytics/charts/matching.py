"""Matching diagnostics: Love plot of covariate balance and propensity-score overlap."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..disclosure import DisclosurePolicy, protect_frame
from ..errors import ConfigError
from ..i18n import label
from ._style import GREY, OKABE_ITO, chart_axes, styled
from .common import column_values, note_suppressed, number, require

__all__ = ["love_plot", "propensity_overlap"]

_PROGRAMME = OKABE_ITO["blue"]
_COMPARISON = OKABE_ITO["orange"]


def _term_labels(balance: pd.DataFrame, lang: str) -> list[str]:
    """``covariate: level`` in words (the covariate alone for a numeric term)."""
    out = []
    for covariate, level in zip(balance["covariate"], balance["level"], strict=True):
        name = label(str(covariate), lang)
        out.append(name if pd.isna(level) else f"{name}: {label(str(level), lang)}")
    return out


def _withheld_samples(counts: pd.DataFrame, disclosure: DisclosurePolicy) -> dict[str, bool]:
    """Whether the before- and after-matching samples are too small to describe."""
    require(counts, ["group", "n_all", "n_matched"], "love_plot (counts)")
    table = protect_frame(counts, disclosure, count_cols=["n_all", "n_matched"])
    return {
        "before": bool(table.mask["n_all"].any()),
        "after": bool(table.mask["n_matched"].any()),
    }


@styled
def love_plot(
    balance: pd.DataFrame,
    *,
    counts: pd.DataFrame | None = None,
    thresholds: Sequence[float] = (0.1, 0.25),
    ax: Axes | None = None,
    lang: str = "en",
    disclosure: DisclosurePolicy | None = None,
) -> Axes:
    """Love plot: absolute standardised mean difference of each term before and after matching.

    One row per balance term (the propensity score, each numeric covariate,
    each level of a categorical one); open grey circles before matching,
    filled blue after; dashed reference lines at 0.1 (Austin's threshold for
    a negligible imbalance) and 0.25 (Rubin's / Stuart's upper limit).

    Parameters
    ----------
    balance
        :attr:`cdanalytics.matching.MatchResult.balance`: ``covariate``,
        ``level``, ``smd_before``, ``smd_after``.
    counts
        :attr:`cdanalytics.matching.MatchResult.counts` (``group``,
        ``n_all``, ``n_matched``); needed with ``disclosure``.
    thresholds
        Where to draw reference lines.
    ax, lang
        Axes to draw on (new figure if ``None``); ``"en"`` or ``"nl"``.
    disclosure
        The group sizes are protected with
        :func:`~cdanalytics.disclosure.protect_frame`; if a group before (or
        after) matching is withheld, the before (after) points are not drawn
        and a note says so.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Austin, P. C. (2009). Balance diagnostics for comparing the distribution
    of baseline covariates between treatment groups in propensity-score
    matched samples. Statistics in Medicine 28:3083-3107. Stuart, E. A.
    (2010). Matching methods for causal inference. Statistical Science
    25:1-21.
    """
    require(balance, ["covariate", "level", "smd_before", "smd_after"], "love_plot")
    withheld = {"before": False, "after": False}
    if disclosure is not None:
        if counts is None:
            raise ConfigError(
                "love_plot needs counts= (MatchResult.counts) to apply disclosure control."
            )
        withheld = _withheld_samples(counts, disclosure)
    names = _term_labels(balance, lang)
    y = np.arange(len(balance))
    ax = chart_axes(ax, (6.4, 1.2 + 0.28 * len(balance)))
    for t in thresholds:
        ax.axvline(t, color=GREY, linestyle="--", linewidth=0.9, zorder=1).set_gid("reference")
    styles = {
        "before": {"marker": "o", "mfc": "white", "mec": GREY, "color": GREY},
        "after": {"marker": "o", "mfc": OKABE_ITO["blue"], "mec": OKABE_ITO["blue"]},
    }
    for when in ("before", "after"):
        if withheld[when]:
            continue
        ax.plot(
            np.abs(column_values(balance, f"smd_{when}")),
            y,
            linestyle="none",
            markersize=6.5,
            zorder=3,
            label=label(f"{when}_matching", lang),
            **styles[when],
        )[0].set_gid(f"smd_{when}")
    ax.set_yticks(y, names)
    ax.set_ylim(max(len(balance), 1) - 0.5, -0.5)
    ax.set_xlim(left=0)
    ax.grid(axis="y", color="#EEEEEE", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_xlabel(label("abs_smd", lang))
    ax.set_title(label("title_balance", lang))
    if not all(withheld.values()):
        ax.legend(loc="lower right")
    note_suppressed(
        ax, disclosure, [label(f"{w}_matching", lang) for w, gone in withheld.items() if gone], lang
    )
    return ax


def _histogram(
    ps: np.ndarray, weights: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Density (weighted) and number of people per bin."""
    people = np.histogram(ps, bins=edges)[0]
    mass = np.histogram(ps, bins=edges, weights=weights)[0]
    total = weights.sum()
    density = mass / (total * np.diff(edges)) if total > 0 else np.zeros(len(people))
    return density, people


@styled
def propensity_overlap(
    scores: pd.DataFrame,
    *,
    bins: int = 20,
    ax: Axes | None = None,
    lang: str = "en",
    disclosure: DisclosurePolicy | None = None,
) -> Axes:
    """Mirrored histograms of the propensity score: programme up, comparison down.

    Before matching as outlines (everyone), after matching as filled bars
    (matched people, weighted by their matching weights), so both common
    support and the effect of matching can be seen on one Axes.

    Parameters
    ----------
    scores
        :attr:`cdanalytics.matching.MatchResult.scores`: ``treated``,
        ``propensity_score`` and, for the after-matching bars, ``weights``
        (0 for people left unmatched). Without ``weights`` only "before" is drawn.
    bins
        Number of equal-width bins over [0, 1].
    ax, lang
        Axes to draw on (new figure if ``None``); ``"en"`` or ``"nl"``.
    disclosure
        Each histogram's bin counts are protected with
        :func:`~cdanalytics.disclosure.protect_frame` (a histogram is a
        frequency table); withheld bins are not drawn and are named in a note.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Austin, P. C. (2011). An introduction to propensity score methods for
    reducing the effects of confounding in observational studies.
    Multivariate Behavioral Research 46:399-424 (overlap of the score
    distributions).
    """
    require(scores, ["treated", "propensity_score"], "propensity_overlap")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ConfigError(f"bins must be a whole number of at least 2, not {bins!r}.")
    treated = scores["treated"].to_numpy(dtype=bool)
    ps = column_values(scores, "propensity_score")
    edges = np.linspace(0.0, 1.0, bins + 1)
    samples = {"before": np.ones(len(ps))}
    if "weights" in scores.columns:
        samples["after"] = column_values(scores, "weights")
    ax = chart_axes(ax, (6.4, 4.0))
    left_out: list[str] = []
    for when, weights in samples.items():
        for is_treated, sign, colour_ in ((True, 1.0, _PROGRAMME), (False, -1.0, _COMPARISON)):
            rows = (treated == is_treated) & (weights > 0)
            density, people = _histogram(ps[rows], weights[rows], edges)
            if disclosure is not None:
                table = protect_frame(pd.DataFrame({"n": people}), disclosure, count_cols=["n"])
                gone = table.mask["n"].to_numpy()
                density = np.where(gone, 0.0, density)
                group = label("programme_group" if is_treated else "comparison_group", lang)
                left_out += [
                    f"{group}, {label(f'{when}_matching', lang).lower()} "
                    f"{number(lo, lang, 2)}–{number(hi, lang, 2)}"
                    for lo, hi in zip(edges[:-1][gone], edges[1:][gone], strict=True)
                ]
            ax.stairs(
                sign * density,
                edges,
                baseline=0.0,
                fill=when == "after",
                color=colour_,
                alpha=0.45 if when == "after" else 1.0,
                linewidth=1.3,
            ).set_gid(f"ps_{when}_{'programme' if is_treated else 'comparison'}")
    ax.axhline(0, color="#333333", linewidth=0.8)
    top = max(abs(v) for v in ax.get_ylim())
    ax.set_ylim(-top, top)
    ax.yaxis.set_major_formatter(lambda v, _pos: number(abs(v), lang, 1))
    ax.set_xlim(0, 1)
    ax.set_xlabel(label("propensity_score", lang))
    ax.set_ylabel(label("density", lang))
    ax.set_title(label("title_overlap", lang))
    handles = [
        Patch(facecolor="none", edgecolor=_PROGRAMME, label=label("programme_group", lang)),
        Patch(facecolor="none", edgecolor=_COMPARISON, label=label("comparison_group", lang)),
        Line2D([], [], color="#333333", label=label("before_matching", lang)),
    ]
    if "after" in samples:
        handles.append(Patch(facecolor="#777777", alpha=0.45, label=label("after_matching", lang)))
    ax.legend(handles=handles, loc="best", ncols=2)
    note_suppressed(ax, disclosure, left_out, lang)
    return ax
