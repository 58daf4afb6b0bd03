"""One chart style for the whole package: colour-blind-safe colours and fonts.

The style is a dict of matplotlib rcParams applied with
:func:`matplotlib.rc_context` while a chart is drawn (:func:`styled`), so a
chart never changes the caller's global settings.

Colours are the Okabe-Ito palette, distinguishable with every common form
of colour-vision deficiency.

References
----------
Okabe, M. & Ito, K. (2008). Color Universal Design (CUD): how to make
figures and presentations that are friendly to colorblind people.
https://jfly.uni-koeln.de/color/
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.text import Text
from matplotlib.ticker import ScalarFormatter

from ..disclosure import DisclosurePolicy
from ..errors import ConfigError
from ..i18n import labels

__all__ = [
    "CHANGE_CLASS_COLOURS",
    "GREY",
    "MAX_WIDTH_IN",
    "MIN_FONT_PT",
    "OKABE_ITO",
    "PALETTE",
    "RC_PARAMS",
    "DecimalCommaFormatter",
    "chart_axes",
    "colour",
    "smallest_font",
    "styled",
]

#: The eight Okabe-Ito colours by name.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: Order in which groups get colours (yellow last: it is faint on white).
PALETTE: tuple[str, ...] = tuple(
    OKABE_ITO[name]
    for name in (
        "blue",
        "orange",
        "bluish_green",
        "vermillion",
        "sky_blue",
        "reddish_purple",
        "black",
        "yellow",
    )
)
#: Neutral grey for reference lines, "before" markers and unchanged classes.
GREY = "#8C8C8C"
#: Colours of the Jacobson-Truax change classes.
CHANGE_CLASS_COLOURS: dict[str, str] = {
    "recovered": OKABE_ITO["bluish_green"],
    "improved": OKABE_ITO["sky_blue"],
    "unchanged": "#C8C8C8",
    "deteriorated": OKABE_ITO["vermillion"],
}

#: rcParams applied while a chart is drawn.
RC_PARAMS: dict[str, Any] = {
    "axes.prop_cycle": cycler(color=PALETTE),
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "sans-serif"],
    "font.size": 9.5,
    "axes.titlesize": 11.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9.5,
    "axes.edgecolor": "#333333",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "legend.fontsize": 9.0,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "lines.markersize": 6.0,
    "errorbar.capsize": 3.0,
}

#: Smallest text a chart draws, in points (text asked for smaller is drawn at this size).
MIN_FONT_PT = 9.0
#: Widest a new chart is drawn, in inches: with text of at least
#: :data:`MIN_FONT_PT`, a chart this wide shown in full on a 390 px phone screen
#: keeps its text at about 9 CSS pixels or more.
MAX_WIDTH_IN = 4.8

P = ParamSpec("P")


class DecimalCommaFormatter(ScalarFormatter):
    """matplotlib's default tick formatter, writing a decimal comma (Dutch)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return super().__call__(x, pos).replace(".", ",")

    def get_offset(self) -> str:
        return super().get_offset().replace(".", ",")


def _localise_ticks(ax: Axes, lang: str) -> None:
    """Give default-formatted numeric axes the reader's decimal mark."""
    if lang != "nl":
        return
    for axis in (ax.xaxis, ax.yaxis):
        if type(axis.get_major_formatter()) is ScalarFormatter:
            axis.set_major_formatter(DecimalCommaFormatter())


def styled(func: Callable[P, Axes]) -> Callable[P, Axes]:
    """Decorator of every chart function: check ``lang`` and ``disclosure``, then draw
    with :data:`RC_PARAMS` applied, restoring the caller's settings after.

    Numeric tick labels left to matplotlib's default formatter get a decimal
    comma when the chart is drawn with ``lang="nl"``.

    Raises
    ------
    ConfigError
        For a language without labels, or a ``disclosure`` that is not a
        :class:`~cdanalytics.disclosure.DisclosurePolicy`.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Axes:
        lang = kwargs.get("lang", "en")
        labels(lang)  # ConfigError for an unknown language
        disclosure = kwargs.get("disclosure")
        if disclosure is not None and not isinstance(disclosure, DisclosurePolicy):
            raise ConfigError(
                f"disclosure must be a DisclosurePolicy or None, not {type(disclosure).__name__}."
            )
        with mpl.rc_context(RC_PARAMS):
            ax = func(*args, **kwargs)
        _localise_ticks(ax, str(lang))
        _legible(ax)
        return ax

    return wrapper


def _texts(ax: Axes) -> list[Text]:
    """Every visible, non-empty text of the figure ``ax`` is drawn in."""
    return [
        t
        for t in ax.figure.findobj(Text)
        if t.get_visible() and t.get_text().strip() and not t.get_text().startswith("$")
    ]


def _legible(ax: Axes) -> None:
    """Raise every text of the figure smaller than :data:`MIN_FONT_PT` to that size."""
    for text in _texts(ax):
        if text.get_fontsize() < MIN_FONT_PT:
            text.set_fontsize(MIN_FONT_PT)


def smallest_font(ax: Axes) -> float:
    """Size in points of the smallest text drawn in the figure of ``ax``."""
    sizes = [t.get_fontsize() for t in _texts(ax)]
    return float(min(sizes)) if sizes else MIN_FONT_PT


def chart_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """The Axes to draw on: ``ax``, or a new figure's (constrained layout) Axes.

    A new figure is at most :data:`MAX_WIDTH_IN` wide, so that its text stays
    legible when a phone shows it in full. Call inside a :func:`styled`
    function. The first tick of each axis is made here, so tick labels take
    the chart style (matplotlib copies the first tick's properties to the
    ticks it makes later, at draw time).
    """
    if ax is None:
        size = (min(figsize[0], MAX_WIDTH_IN), figsize[1])
        _, ax = plt.subplots(figsize=size, layout="constrained")
        for axis in (ax.xaxis, ax.yaxis):
            axis.get_major_ticks(1)
            axis.get_minor_ticks(1)
    return ax


def colour(i: int) -> str:
    """The ``i``-th group colour (cycling through :data:`PALETTE`)."""
    return PALETTE[i % len(PALETTE)]
