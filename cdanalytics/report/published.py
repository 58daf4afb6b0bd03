"""The published table: what the disclosure gate returns for one report table.

:class:`TableSpec` declares a table (its source, columns, counts, bases and
parts); :class:`PublishedTable` holds the protected numbers and shows them in
the reader's language. The column groups here name the statistics as the
analyses name them, with how each is formatted; :mod:`.tables` declares the
report's tables with them and publishes them through the gate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from ..disclosure import SuppressedTable
from ..engagement import (
    COMPLETION_CLEAR_COLUMNS,
    COMPLETION_COLUMNS,
    DROPOUT_COLUMNS,
    EARLY_DROPOUT_COLUMNS,
)
from ..i18n import number, percent
from ..prepost import CHANGE_COLUMNS

__all__ = [
    "CHANGE_STATS",
    "PROGRAMME_CHANGE_STATS",
    "PublishedTable",
    "TableSpec",
    "Withheld",
    "headline",
    "json_value",
]


@dataclass(frozen=True)
class TableSpec:
    """How one result table is published.

    Attributes
    ----------
    source
        Name of the result table in ``Outcomes.tables``.
    keys
        Group columns, shown first.
    columns
        Value columns shown, in order.
    counts
        Count columns (protected as one-way tables unless ``total`` is set).
    bases, numerators
        Statistic column -> its base n / its numerator count.
    total
        Count column that is the total of ``parts``: the parts are then
        protected as one two-way table.
    parts
        Part name -> function of the result table giving that part's counts.
    nested
        Published nested count -> the parts it is the sum of.
    total_row
        Add an overall row (column totals) protected with the table.
    pivot
        (index, columns, values): reshape a long result wide before publishing.
    fixed_keys
        The table is not grouped by the config's groupings.
    implied
        Statistic column -> a count of the result table that it gives back
        when multiplied by its published base (a rate is its numerator); the
        statistic is withheld when that count is small.
    split
        Column whose values are published as separate tables (each with its
        own overall row), for example programme and comparison groups.
    together
        Statistics published all or none in a row: when the gate withholds
        one, the others are withheld too (an effect and the two rates it is
        the difference of give each other away).
    """

    source: str
    keys: tuple[str, ...]
    columns: tuple[str, ...]
    counts: tuple[str, ...] = ()
    bases: Mapping[str, str] = field(default_factory=dict)
    numerators: Mapping[str, str] = field(default_factory=dict)
    total: str | None = None
    parts: Mapping[str, Callable[[pd.DataFrame], pd.Series]] = field(default_factory=dict)
    nested: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    total_row: bool = False
    pivot: tuple[tuple[str, ...], str, str] | None = None
    split: str | None = None
    fixed_keys: bool = False
    implied: Mapping[str, str] = field(default_factory=dict)
    together: tuple[str, ...] = ()


@dataclass
class PublishedTable:
    """A protected table ready for the report, ``tables/`` and ``outcomes.json``.

    ``counts`` holds the unprotected counts of the table's cells (its parts, or
    its count columns), one row per published row, and ``members`` the cells
    each published count adds up: they let :mod:`cdanalytics.report.linked`
    protect tables that count the same people together. Never published.
    """

    name: str
    spec: TableSpec
    protected: SuppressedTable
    groupings: tuple[str, ...] = ()
    counts: pd.DataFrame | None = field(default=None, repr=False)
    members: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @property
    def published(self) -> pd.DataFrame:
        """Numbers with withheld cells missing, in display column order."""
        return self.protected.published

    def display(self, lang: str = "en") -> pd.DataFrame:
        """Strings with withheld cells labelled, numbers in ``lang``'s convention."""
        published = self.protected.published
        counts = {  # whole numbers with the language's thousands separator
            column: partial(_fmt_0, lang=lang)
            for column in published.columns
            if pd.api.types.is_integer_dtype(published[column].dtype)
            and column not in self.key_columns
        }
        return self.protected.formatted(
            {**counts, **{column: partial(fmt, lang=lang) for column, fmt in _FORMATS.items()}}
        )

    @property
    def key_columns(self) -> list[str]:
        """The group columns (shown first)."""
        return [c for c in self.published.columns if c not in self.value_columns]

    @property
    def value_columns(self) -> list[str]:
        """The value columns."""
        keys = self.spec.keys if self.spec.pivot is None else self.spec.pivot[0]
        return [c for c in self.published.columns if c not in keys and c not in self.groupings]

    def view(self, name: str, columns: tuple[str, ...]) -> PublishedTable:
        """The same protected numbers, showing only ``columns`` (after the keys)."""
        shown = [*self.key_columns, *columns]
        return PublishedTable(
            name=name,
            spec=self.spec,
            protected=SuppressedTable(
                published=self.protected.published[shown],
                mask=self.protected.mask[shown],
                primary=self.protected.primary[shown],
                policy=self.protected.policy,
            ),
            groupings=self.groupings,
        )


def _fmt_share(value: object, lang: str) -> str:
    return percent(float(value), lang, 1)


def _fmt_p(value: object, lang: str) -> str:
    value = float(value)
    return f"<{number(0.001, lang, 3)}" if value < 0.001 else number(value, lang, 3)


def _fmt_0(value: object, lang: str) -> str:
    return number(float(value), lang)


def _fmt_pp(value: object, lang: str) -> str:
    """A difference of shares in percentage points (the unit is in the column label)."""
    return number(100 * float(value), lang, 1)


def _fmt_2(value: object, lang: str) -> str:
    return number(float(value), lang, 2)


def _fmt_1(value: object, lang: str) -> str:
    return number(float(value), lang, 1)


#: Column families of :data:`cdanalytics.prepost.CHANGE_COLUMNS` the report
#: publishes: the means before and after and the mean change, the change's
#: interval, its p-values, and the standardised effect sizes d_z and g_av with
#: their intervals (spreads, the t-test's details and the Wilcoxon test stay in
#: the analysis).
_CHANGE_FAMILIES = ("mean_", "change_ci_", "p_", "d_z", "g_av")

#: Statistics of the pre/post change table, all resting on the paired n: the
#: columns of the published families, under prepost's names and in its order.
CHANGE_STATS = tuple(c for c in CHANGE_COLUMNS if c.startswith(_CHANGE_FAMILIES))

#: Statistics of a pre/post change published per programme (base ``n_paired``):
#: the change and Hedges' g_av with their intervals.
PROGRAMME_CHANGE_STATS = tuple(c for c in CHANGE_STATS if not c.startswith(("p_", "d_z")))
# A rate (or share) and its interval, under the names the analyses give them:
# reoffending's fixed window, engagement's completion and dropout.
_RATE = ("rate", "ci_low", "ci_high")
_COMPLETION = COMPLETION_COLUMNS
_COMPLETION_CLEAR = COMPLETION_CLEAR_COLUMNS
_DROPOUT = DROPOUT_COLUMNS
#: The early dropout rate (published without its interval).
_EARLY_DROPOUT = EARLY_DROPOUT_COLUMNS[0]
_ATTENDANCE_STATS = ("attendance_rate", "median_attended", "median_longest_absence_run")
_WAIT_STATS = ("q1_days", "median_days", "q3_days")

_SHARE_COLUMNS = (
    *_COMPLETION,
    *_COMPLETION_CLEAR,
    *_DROPOUT,
    _EARLY_DROPOUT,
    *_RATE,
    "attendance_rate",
    "cumulative",
    "share_matched",
    "rate_treated",
    "rate_control",
)
#: The matched effect (shares) and its interval, published all or none.
_EFFECT = ("rate_treated", "rate_control", "difference", "difference_ci_low", "difference_ci_high")
_FORMATS: dict[str, Callable[[object, str], str]] = {
    **dict.fromkeys(_SHARE_COLUMNS, _fmt_share),
    **dict.fromkeys(("p_value", "p_holm"), _fmt_p),
    **dict.fromkeys(_EFFECT[2:], _fmt_pp),
    "max_abs_smd_after": lambda value, lang: number(float(value), lang, 2),
    **dict.fromkeys(
        (
            "per_100",
            "median_attended",
            *_WAIT_STATS,
            "median_days_to_first",
        ),
        _fmt_1,
    ),
    **dict.fromkeys(
        ("offences_per_person", *(c for c in CHANGE_STATS if not c.startswith("p_"))), _fmt_2
    ),
}


def json_value(value: Any) -> Any:
    """A published cell as ``outcomes.json`` writes it: ``None`` for a missing or
    withheld value, a plain Python number otherwise."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


class Withheld(dict):
    """Dotted key of each withheld figure of ``outcomes.json`` -> its marker and reason."""

    def note(self, path: str, table: PublishedTable, i: int, column: str) -> None:
        """Record ``path`` if the cell ``(i, column)`` of ``table`` is withheld."""
        note_withheld(self, path, table, i, column)


def note_withheld(
    withheld: dict[str, Any], path: str, table: PublishedTable, i: int, column: str
) -> None:
    """Record ``path`` in ``withheld`` if the cell ``(i, column)`` of ``table`` is withheld."""
    protected = table.protected
    if column in protected.mask and bool(protected.mask.loc[i, column]):
        reason = "primary" if bool(protected.primary.loc[i, column]) else "secondary"
        policy = protected.policy
        withheld[path] = {"marker": policy.marker(reason), "reason": policy.explain(reason)}


def headline(
    table: PublishedTable,
    i: int,
    columns: Mapping[str, str],
    path: str,
    withheld: dict[str, Any],
) -> dict[str, Any]:
    """Figures of row ``i`` of a published table under ``outcomes.json`` keys.

    Withheld figures are ``None`` and noted in ``withheld`` under ``path.key``.
    """
    row = table.published.loc[i]
    for key, column in columns.items():
        note_withheld(withheld, f"{path}.{key}", table, i, column)
    return {key: json_value(row.get(column)) for key, column in columns.items()}
