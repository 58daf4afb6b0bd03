"""matplotlib's own SVG of a chart, the reference for ``charts.svg_text``."""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib.pyplot as plt
from matplotlib.axes import Axes


def savefig_svg(draw: Callable[[], Axes]) -> str:
    """``savefig(format="svg", bbox_inches="tight")`` of a newly drawn chart (no date),
    the figure closed after. Call it under a fixed ``svg.hashsalt``."""
    ax = draw()
    plain = io.StringIO()
    ax.figure.savefig(plain, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(ax.figure)
    return plain.getvalue()
