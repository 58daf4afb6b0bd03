"""Helpers shared by the chart modules and the report's figures: input checks,
group labels, numbers in the reader's language, and disclosure control of what
is drawn."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.text import Annotation

from ..disclosure import DisclosurePolicy, SuppressedTable
from ..errors import ConfigError
from ..i18n import category, label, number, percent
from ._style import MIN_FONT_PT

__all__ = [
    "Protected",
    "column_values",
    "group_columns",
    "group_labels",
    "note_suppressed",
    "number",
    "percent",
    "percent_formatter",
    "protect",
    "require",
    "varies",
    "wrap_label",
]


def require(frame: pd.DataFrame, columns: Sequence[Hashable], what: str) -> None:
    """ConfigError naming the missing columns if ``frame`` lacks any of ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"{what}: columns {missing} are missing (the table has {list(frame.columns)})."
        )


def group_columns(frame: pd.DataFrame, first: str, what: str) -> list[str]:
    """The grouping columns of a tidy result: every column before ``first``."""
    require(frame, [first], what)
    return list(frame.columns[: frame.columns.get_loc(first)])


def varies(series: pd.Series) -> bool:
    """Whether a column holds more than one value (a missing value counts as one)."""
    return len(pd.unique(series)) > 1


def value_label(value: object, lang: str) -> str:
    """A category value in words: its label, or "Unknown" when missing."""
    if pd.isna(value):
        return label("unknown_group", lang)
    return category(value, lang)


def wrap_label(text: str, width: int = 28) -> str:
    """``text`` on lines of about ``width`` characters, broken only between the
    parts of a group label (" · ") and before a bracket, so that a chart narrow
    enough for a phone keeps its room for the data."""
    parts = text.replace(" (", " · (").split(" · ")
    lines = [parts[0]]
    for part in parts[1:]:
        sep = " " if part.startswith("(") else " · "
        joined = f"{lines[-1]}{sep}{part}"
        if len(joined) <= width:
            lines[-1] = joined
        else:
            lines.append(part)
    return "\n".join(lines)


def group_labels(frame: pd.DataFrame, keys: Sequence[str], lang: str) -> pd.Series:
    """One label per row: the values of ``keys`` in words joined by " · " ("Overall" if none).

    Each distinct value is looked up once (rows are mapped by their codes).
    """
    out = np.full(len(frame), label("overall", lang) if not keys else "", dtype=object)
    for i, key in enumerate(keys):
        codes, values = pd.factorize(frame[key], use_na_sentinel=False)
        words = np.array([value_label(v, lang) for v in values], dtype=object)
        out = words[codes] if i == 0 else out + " · " + words[codes]
    return pd.Series(out, index=frame.index, dtype=object)


def percent_formatter(lang: str) -> Callable[[float, int], str]:
    """Tick formatter showing shares (0-1) as whole percentages."""
    return lambda value, _pos: percent(value, lang)


@dataclass(frozen=True)
class Protected:
    """Result of :func:`protect`: what may be drawn and what was left out.

    Attributes
    ----------
    frame
        The input rows that may be drawn (withheld statistics removed),
        counts as published (rounded if the policy says so).
    withheld
        The input rows left out.
    """

    frame: pd.DataFrame
    withheld: pd.DataFrame


def protect(
    frame: pd.DataFrame,
    disclosure: DisclosurePolicy | None,
    drawn: Sequence[Hashable],
    protector: Callable[[pd.DataFrame, DisclosurePolicy], SuppressedTable],
) -> Protected:
    """Protect ``frame`` and keep only the rows whose ``drawn`` values are all published.

    ``protector(frame, policy)`` is :func:`~cdanalytics.disclosure.protect_frame`
    (or :func:`~cdanalytics.disclosure.protect_statistics`) with the chart's
    counts and statistics. Without a policy every row is kept.
    """
    frame = frame.reset_index(drop=True)
    if disclosure is None:
        return Protected(frame, frame.iloc[:0])
    table = protector(frame, disclosure)
    withheld = table.mask[list(drawn)].any(axis=1).to_numpy()
    published = table.published
    return Protected(published.loc[~withheld], frame.loc[withheld])


def note_suppressed(
    ax: Axes,
    disclosure: DisclosurePolicy | None,
    groups: Sequence[str],
    lang: str,
    *,
    below: Artist | None = None,
    extra: str = "",
) -> Annotation | None:
    """Write the disclosure note under the Axes (under ``below`` if given).

    Says which groups are not shown because they are smaller than the
    threshold (``label("suppressed_note")``); ``extra`` adds a sentence (for
    example that curves stop where few remain at risk). Nothing without a
    policy, or when nothing was left out and there is no extra sentence.
    """
    if disclosure is None or (not groups and not extra):
        return None
    parts = []
    if groups:
        names = ", ".join(dict.fromkeys(groups))
        parts.append(label("suppressed_note", lang, threshold=disclosure.threshold, groups=names))
    if extra:
        parts.append(extra)
    if below is None:
        has_xlabel = ax.axison and ax.xaxis.get_visible() and ax.get_xlabel()
        below = ax.xaxis.label if has_xlabel else ax
    # From the figure's left edge when the Axes is alone in it, else from the
    # Axes' left edge; wrapped at the figure's right edge.
    alone = len(ax.figure.axes) == 1
    note = ax.annotate(
        "\n".join(parts),
        xy=(0.01 if alone else 0.0, 0.0),
        xycoords=("figure fraction" if alone else "axes fraction", below),
        xytext=(0, -6),
        textcoords="offset points",
        ha="left",
        va="top",
        fontsize=MIN_FONT_PT,
        style="italic",
        color="#333333",
        wrap=True,
        annotation_clip=False,
    )
    note.set_gid("suppressed_note")
    if alone:
        _make_room(ax, "\n".join(parts))
    return note


def _make_room(ax: Axes, text: str) -> None:
    """Grow the figure by the height of ``text`` wrapped to its width, so that a long
    note never squeezes the chart away (it is drawn at least :data:`MIN_FONT_PT`)."""
    figure = ax.figure
    width, height = figure.get_size_inches()
    size = MIN_FONT_PT
    per_line = max(int(width * 72 / (0.5 * size)), 20)  # generous: cropped when saved
    lines = sum(-(-len(line) // per_line) for line in text.split("\n"))
    figure.set_size_inches(width, height + lines * 1.3 * size / 72)


def column_values(frame: pd.DataFrame, column: Hashable) -> np.ndarray:
    """A numeric column as a float array (published NA as NaN)."""
    return frame[column].to_numpy(dtype=float, na_value=np.nan)
