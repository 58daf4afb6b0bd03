"""Publish a result table through the disclosure gate, for the report's added sections.

The sections of :mod:`.family` and :mod:`.methods_extra` publish their tables
here rather than in :data:`cdanalytics.report.tables.SPECS`, so they can be
added to a report without touching the main tables. Each table is described
by a :class:`GatedSpec`: which columns are counts, which counts are parts of a
total (protected as one two-way table, with complementary suppression), which
counts are sums of parts (withheld whenever one of their parts is, so a
withheld part cannot be worked out by subtraction), and which statistics rest
on which base and numerator (withheld with them). ``pieces`` protects each
value of a column as its own table, for tables whose rows are not additive
across that column (one table per instrument, say).

The result is a :class:`~cdanalytics.report.tables.PublishedTable`, so the
report's self-check, HTML tables and CSV files treat it like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from ..disclosure import DisclosurePolicy, SuppressedTable, protect_frame, round_counts
from ..i18n import label, number, percent
from .published import PublishedTable, TableSpec

__all__ = ["GatedSpec", "GatedTable", "publish_gated", "rates", "withhold_rows"]


def _share(value: object, lang: str) -> str:
    return percent(float(value), lang, 1)


def _digits(n: int) -> Callable[[object, str], str]:
    return lambda value, lang: number(float(value), lang, n)


def _flag(value: object, lang: str) -> str:
    return label("flag_yes" if bool(value) else "flag_no", lang)


#: How the added tables' columns are printed: a column's name (or its name without a
#: ``_ci_low`` / ``_ci_high`` ending) -> format.
FORMATS: dict[str, Callable[[object, str], str]] = {
    **dict.fromkeys(
        (
            "completion_of_entered",
            "transition",
            "through_stage",
            "attended",
            "rate",
            "observed_rate",
            "standardised",
            "standardised_rate",
            "fmi",
            "offered",
            "contacted",
            "accepted",
            "engaged",
            "contact_completers",
            "contact_others",
        ),
        _share,
    ),
    **dict.fromkeys(("days_median", "days_q1", "days_q3"), _digits(0)),
    **dict.fromkeys(("difference_pp",), _digits(1)),
    **dict.fromkeys(("outside_95", "outside_998"), _flag),
}


def _format(column: str) -> Callable[[object, str], str]:
    stem = column.removesuffix("_ci_low").removesuffix("_ci_high")
    if column in FORMATS or stem in FORMATS:
        return FORMATS.get(column, FORMATS.get(stem))  # type: ignore[return-value]
    if column.startswith("share_"):
        return _share
    return _digits(2)


def rates(*names: str) -> tuple[str, ...]:
    """Each rate's column and its interval's two columns (``<rate>_ci_low``, ``_ci_high``)."""
    return tuple(c for n in names for c in (n, f"{n}_ci_low", f"{n}_ci_high"))


class GatedTable(PublishedTable):
    """A published table of an added section: printed with :data:`FORMATS`."""

    def display(self, lang: str = "en") -> pd.DataFrame:
        """Strings with withheld cells labelled, numbers in ``lang``'s convention."""
        columns = [c for c in self.published.columns if not c.startswith("n_")]
        return self.protected.formatted(
            {c: partial(_format(c), lang=lang) for c in columns if c not in self.spec.keys}
        )


@dataclass(frozen=True)
class GatedSpec:
    """How one added result table is published.

    Attributes
    ----------
    keys
        Label columns, shown first.
    columns
        Value columns shown, in order (counts and statistics).
    counts
        Counts protected as one-way tables (each column's total assumed known).
    total, parts
        A count column and the counts that partition it (computed by
        ``parts[name](frame)``); protected as one two-way table.
    nested
        Published count -> the parts it is the sum of.
    bases, numerators
        Statistic -> its base count / its numerator count.
    rates
        Rates recomputed from perturbed counts under the cell key method:
        rate -> (numerator, base, ci_low, ci_high, scale).
    pieces
        Columns whose distinct value combinations are protected as separate tables.
    """

    keys: tuple[str, ...]
    columns: tuple[str, ...]
    counts: tuple[str, ...] = ()
    total: str | None = None
    parts: Mapping[str, Any] = field(default_factory=dict)
    nested: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    bases: Mapping[str, str] = field(default_factory=dict)
    numerators: Mapping[str, str] = field(default_factory=dict)
    rates: Mapping[str, tuple] = field(default_factory=dict)
    pieces: tuple[str, ...] = ()


def _protect_piece(
    name: str, frame: pd.DataFrame, spec: GatedSpec, policy: DisclosurePolicy
) -> SuppressedTable:
    frame = frame.reset_index(drop=True).copy()
    for part, fn in spec.parts.items():
        frame[part] = fn(frame)
    perturbed = policy.method == "cell_key"
    nested = dict(spec.nested)
    protected = protect_frame(
        frame,
        policy,
        count_cols=[*spec.counts, *spec.parts, *(nested if perturbed else ())],
        base_cols={k: v for k, v in spec.bases.items() if perturbed or v not in nested},
        numerator_cols={k: v for k, v in spec.numerators.items() if perturbed or v not in nested},
        row_total=spec.total,
        table=name,
        key_columns=list(spec.keys),
        rates={k: v for k, v in spec.rates.items() if k in frame},
    )
    published, mask = protected.published.copy(), protected.mask.copy()
    primary = protected.primary.copy()
    if not perturbed:
        for column, members in nested.items():
            hide = mask[list(members)].any(axis=1).to_numpy()
            published[column] = frame[column].astype("Int64").where(~hide)
            mask[column] = hide
            primary[column] = False
    for stat, source in [*spec.bases.items(), *spec.numerators.items()]:
        if stat in mask and source in mask:
            hide = mask[source].to_numpy() & ~mask[stat].to_numpy()
            published.loc[hide, stat] = np.nan
            mask.loc[hide, stat] = True
    count_like = [c for c in (*spec.counts, *spec.parts, *nested) if c in published]
    if spec.total is not None:
        count_like.append(spec.total)
    published = round_counts(published, list(dict.fromkeys(count_like)), policy)
    shown = list(dict.fromkeys([*spec.keys, *spec.columns]))
    return SuppressedTable(
        published=published[shown], mask=mask[shown], primary=primary[shown], policy=policy
    )


def publish_gated(
    name: str, frame: pd.DataFrame, spec: GatedSpec, policy: DisclosurePolicy
) -> GatedTable:
    """Protect ``frame`` as ``spec`` says and return it as a published table.

    Parameters
    ----------
    name
        Name of the table (``tables/<name>.csv``, ``table_<name>`` heading).
    frame
        The unprotected result, one row per published row.
    spec
        How it is published.
    policy
        The disclosure policy.

    Returns
    -------
    GatedTable
    """
    groups = [frame]
    if spec.pieces and len(frame):
        groups = [g for _, g in frame.groupby(list(spec.pieces), sort=False, dropna=False)]
    pieces = [_protect_piece(name, g, spec, policy) for g in groups]
    protected = SuppressedTable(
        **{
            part: pd.concat([getattr(p, part) for p in pieces], ignore_index=True)
            for part in ("published", "mask", "primary")
        },
        policy=policy,
    )
    counts = tuple(
        c for c in (*spec.counts, *spec.parts, *spec.nested, spec.total or "") if c in spec.columns
    )
    cells, members = _cells(spec, pd.concat(groups, ignore_index=True))
    table_spec = TableSpec(
        source=name,
        keys=spec.keys,
        columns=spec.columns,
        counts=counts,
        bases=dict(spec.bases),
        numerators=dict(spec.numerators),
        fixed_keys=True,
    )
    return GatedTable(
        name=name, spec=table_spec, protected=protected, counts=cells, members=members
    )


def _cells(spec: GatedSpec, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, tuple[str, ...]]]:
    """The table's cells (its parts, else its counts) and the cells each shown count adds up.

    They let :func:`~cdanalytics.report.linked.protect_beside` protect the table
    together with tables that count the same people.
    """
    frame = frame.reset_index(drop=True)
    if not spec.parts:
        counts = [c for c in spec.counts if c in frame]
        return frame[counts].astype(np.int64), {c: (c,) for c in counts}
    parts = {part: fn(frame) for part, fn in spec.parts.items()}
    cells = pd.DataFrame(parts).astype(np.int64)
    members: dict[str, tuple[str, ...]] = {part: (part,) for part in parts}
    members.update({column: tuple(inner) for column, inner in spec.nested.items()})
    if spec.total is not None:
        members[spec.total] = tuple(parts)
    return cells, {
        c: m for c, m in members.items() if c in spec.columns and all(p in parts for p in m)
    }


def withhold_rows(table: PublishedTable, rows: np.ndarray, columns: list[str]) -> None:
    """Withhold ``columns`` in ``rows`` (secondary) and every statistic resting on them."""
    protected = table.protected
    mask, published, spec = protected.mask, protected.published, table.spec
    for column in columns:
        if column in mask:
            hide = rows & ~mask[column].to_numpy()
            published.loc[hide, column] = pd.NA if column.startswith("n_") else np.nan
            mask.loc[hide, column] = True
    for stat, source in [*spec.bases.items(), *spec.numerators.items()]:
        if stat in mask and source in mask:
            hide = mask[source].to_numpy() & ~mask[stat].to_numpy()
            published.loc[hide, stat] = np.nan
            mask.loc[hide, stat] = True
