"""Funnel plot of the exports of a batch run, for the batch index.

Each export is one unit: its programme group's proven reoffending within the
fixed window (``n_reoffenders`` of ``n_eligible``), read from the published,
disclosure-controlled ``outcomes.json`` of its report, never from the data.
Its expected count is what the pooled rate of all exports drawn gives for its
number of eligible people, so that observed / expected compares exports of
different sizes fairly against Spiegelhalter's exact Poisson limits (95% and
99.8%). The comparison is not adjusted for case mix: exports serving riskier
men are not expected to reoffend more here (each report's case-mix section
does that within an export).

References
----------
Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional
performance. Statistics in Medicine 24:1185-1202.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import charts
from ..compare.funnel import funnel_limits
from ..i18n import label

__all__ = [
    "EXPORT_FUNNEL_COLUMNS",
    "export_funnel_svg",
    "export_funnel_table",
    "funnel_section",
]

#: Columns of :func:`export_funnel_table` after ``export``.
EXPORT_FUNNEL_COLUMNS = (
    "n",
    "observed",
    "expected",
    "oe_ratio",
    "outside_95",
    "outside_998",
)


class _Entry(Protocol):
    export: str
    report: str

    @property
    def failed(self) -> bool: ...


def _published(out: Path, entry: _Entry) -> tuple[int, int] | None:
    """``(n_eligible, n_reoffenders)`` of an export's programme group, when both are published."""
    path = out / entry.report / "outcomes.json"
    if entry.failed or not path.exists():
        return None
    programme = json.loads(path.read_text(encoding="utf-8"))["reoffending"].get("programme", {})
    n, observed = programme.get("n_eligible"), programme.get("n_reoffenders")
    if n is None or observed is None or n <= 0:
        return None
    return int(n), int(observed)


def export_funnel_table(out: Path, entries: Iterable[_Entry]) -> pd.DataFrame | None:
    """One row per export with published figures: observed and expected reoffenders.

    Parameters
    ----------
    out
        The batch output folder (each report's ``outcomes.json`` is read from it).
    entries
        The batch's entries.

    Returns
    -------
    pandas.DataFrame or None
        ``export`` then :data:`EXPORT_FUNNEL_COLUMNS`: eligible people ``n``,
        reoffenders ``observed``, ``expected`` = ``n`` times the pooled rate,
        ``oe_ratio`` and whether it lies outside the 95% and 99.8% limits.
        ``None`` with fewer than two exports to compare.

    Examples
    --------
    Two exports of 100 and 300 people with 20 and 40 reoffenders: the pooled
    rate is 60 / 400 = 0.15, so 15 and 45 are expected:

    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from types import SimpleNamespace
    >>> out = Path(tempfile.mkdtemp())
    >>> for name, n, k in (("a", 100, 20), ("b", 300, 40)):
    ...     (out / name).mkdir()
    ...     figures = {"reoffending": {"programme": {"n_eligible": n, "n_reoffenders": k}}}
    ...     _ = (out / name / "outcomes.json").write_text(json.dumps(figures))
    >>> entries = [SimpleNamespace(export=x, report=x, failed=False) for x in "ab"]
    >>> table = export_funnel_table(out, entries)
    >>> table[["export", "expected", "oe_ratio"]].round(3).values.tolist()
    [['a', 15.0, 1.333], ['b', 45.0, 0.889]]
    """
    rows = []
    for entry in entries:
        figures = _published(out, entry)
        if figures is not None:
            rows.append((entry.export, *figures))
    if len(rows) < 2:
        return None
    table = pd.DataFrame(rows, columns=["export", "n", "observed"])
    pooled = table["observed"].sum() / table["n"].sum()
    table["expected"] = table["n"] * pooled
    table["oe_ratio"] = table["observed"] / table["expected"]
    limits = funnel_limits(table["expected"].to_numpy(float), 1.0)
    ratio = table["oe_ratio"].to_numpy(float)
    for level, column in ((0.95, "outside_95"), (0.998, "outside_998")):
        low, high = limits[level]
        table[column] = (ratio < low) | (ratio > high)
    return table


def export_funnel_svg(table: pd.DataFrame, lang: str) -> str:
    """The funnel plot of :func:`export_funnel_table` as an accessible SVG element
    (``role="img"`` and a text alternative), the same bytes for the same table."""
    with matplotlib.rc_context({"svg.hashsalt": "cdanalytics-batch"}):
        ax = charts.funnel_plot(table, lang=lang)
        buffer = io.StringIO()
        ax.figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(ax.figure)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    end = svg.index(">")
    alt = html.escape(label("alt_batch_funnel", lang))
    return f'{svg[:end]} role="img" aria-label="{alt}">\n<title>{alt}</title>{svg[end + 1 :]}'


def funnel_section(out: Path, entries: list[Any], lang: str) -> str:
    """The batch index's funnel section (heading, caution, figure), or ``""``."""
    table = export_funnel_table(out, entries)
    if table is None or not np.isfinite(table["oe_ratio"]).any():
        return ""
    heading = html.escape(label("batch_funnel_heading", lang))
    note = html.escape(label("batch_funnel_note", lang))
    return f"<h2>{heading}</h2>\n<p>{note}</p>\n{export_funnel_svg(table, lang)}\n"
