"""The tables a manager reads, protected by disclosure control.

Each published table is declared once in :data:`SPECS`: which result table it
comes from, which columns it shows, which are counts, which statistics rest on
which base and numerator, and, for nested counts (referred ⊇ assessed ⊇ …),
the partition into parts whose sums the table shows. Small counts are withheld
here; which further counts to withhold, so that no small part can be recovered
by subtracting one published count from another, within a table or across the
tables that count the same people, is decided by the disclosure gate
(:func:`~cdanalytics.disclosure.protect_linked`, via :mod:`.linked`), most
important counts first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from ..disclosure import DisclosurePolicy, SuppressedTable, protect_frame, round_counts
from .compute import OVERALL as ALL
from .linked import ORDER as LINKED
from .linked import protect_links, withhold_dependent_statistics
from .published import (
    _ATTENDANCE_STATS,
    _COMPLETION,
    _COMPLETION_CLEAR,
    _DROPOUT,
    _EARLY_DROPOUT,
    _EFFECT,
    _RATE,
    _WAIT_STATS,
    CHANGE_STATS,
    PROGRAMME_CHANGE_STATS,
    PublishedTable,
    TableSpec,
)

__all__ = [
    "SPECS",
    "VIEWS",
    "engagement_views",
    "publish_tables",
    "rows_of",
]

PIVOT_TOTAL = "n_total"


def _diff(a: str, b: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda df: df[a] - df[b]


def _col(a: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda df: df[a]


_FLOW_STEPS = ("n_referred", "n_assessed", "n_eligible", "n_started", "n_completed")
_ENGAGEMENT_PARTS = (
    "n_not_assessed",
    "n_not_eligible",
    "n_not_started",
    "n_not_due",
    "n_completed",
    "n_early_dropout",
    "n_late_dropout",
    "n_excluded",
    "n_unclear",
)

SPECS: dict[str, TableSpec] = {
    "engagement": TableSpec(
        source="engagement",
        keys=(),
        columns=(
            *_FLOW_STEPS,
            "n_potential",
            "n_clear_outcome",
            *_COMPLETION,
            *_COMPLETION_CLEAR,
            "n_dropped_out",
            *_DROPOUT,
            "n_early_dropout",
            _EARLY_DROPOUT,
        ),
        total="n_referred",
        parts={
            "n_not_assessed": _diff("n_referred", "n_assessed"),
            "n_not_eligible": _diff("n_assessed", "n_eligible"),
            "n_not_started": _diff("n_eligible", "n_started"),
            "n_not_due": _col("n_not_due"),
            "n_completed": _col("n_completed"),
            "n_early_dropout": _col("n_early_dropout"),
            "n_late_dropout": _col("n_late_dropout"),
            "n_excluded": _col("n_excluded"),
            "n_unclear": _col("n_unclear"),
        },
        nested={
            "n_assessed": _ENGAGEMENT_PARTS[1:],
            "n_eligible": _ENGAGEMENT_PARTS[2:],
            "n_started": _ENGAGEMENT_PARTS[3:],
            "n_potential": _ENGAGEMENT_PARTS[4:],
            "n_clear_outcome": ("n_completed", "n_early_dropout", "n_late_dropout", "n_excluded"),
            "n_dropped_out": ("n_early_dropout", "n_late_dropout"),
        },
        bases={
            **dict.fromkeys(_COMPLETION, "n_potential"),
            **dict.fromkeys(_COMPLETION_CLEAR, "n_clear_outcome"),
            **dict.fromkeys((*_DROPOUT, _EARLY_DROPOUT), "n_potential"),
        },
        numerators={
            **dict.fromkeys((*_COMPLETION, *_COMPLETION_CLEAR), "n_completed"),
            **dict.fromkeys(_DROPOUT, "n_dropped_out"),
            _EARLY_DROPOUT: "n_early_dropout",
        },
        total_row=True,
    ),
    "flow_exits": TableSpec(
        source="flow_exits",
        keys=("reason",),
        columns=(),
        pivot=(("reason",), "stage", "n_left"),
        total_row=True,
        fixed_keys=True,
    ),
    "attendance": TableSpec(
        source="attendance",
        keys=(),
        total_row=True,
        columns=_ATTENDANCE_STATS,
        counts=("n_participants",),
        bases=dict.fromkeys(_ATTENDANCE_STATS, "n_participants"),
    ),
    "waiting_times": TableSpec(
        source="waiting_times",
        keys=("interval",),
        columns=_WAIT_STATS,
        counts=("n",),
        bases=dict.fromkeys(_WAIT_STATS, "n"),
    ),
    "fixed_window": TableSpec(
        source="fixed_window",
        keys=("group",),
        split="group",
        total_row=True,
        columns=(
            "n_in_cohort",
            "n_not_yet_eligible",
            "n_eligible",
            "n_reoffenders",
            *_RATE,
            "per_100",
            "offences_per_person",
            "median_days_to_first",
        ),
        total="n_in_cohort",
        parts={
            "n_not_yet_eligible": _col("n_not_yet_eligible"),
            "n_reoffenders": _col("n_reoffenders"),
            "n_non_reoffenders": _diff("n_eligible", "n_reoffenders"),
        },
        nested={"n_eligible": ("n_reoffenders", "n_non_reoffenders")},
        bases={
            **dict.fromkeys((*_RATE, "per_100", "offences_per_person"), "n_eligible"),
            "median_days_to_first": "n_reoffenders",
        },
        numerators=dict.fromkeys((*_RATE, "per_100"), "n_reoffenders"),
        implied={"offences_per_person": "n_offences"},
    ),
    "km_horizons": TableSpec(
        source="km_horizons",
        keys=("group", "horizon_months"),
        fixed_keys=True,
        columns=("n_at_risk", "n_events", "n_censored", "cumulative", "ci_low", "ci_high"),
        counts=("n_at_risk", "n_events", "n_censored"),
        bases=dict.fromkeys(("cumulative", "ci_low", "ci_high"), "n_at_risk"),
        numerators=dict.fromkeys(("cumulative", "ci_low", "ci_high"), "n_events"),
    ),
    "change": TableSpec(
        source="change",
        keys=("instrument", "scale", "informant"),
        fixed_keys=True,
        columns=("n_paired", "n_pre_only", *CHANGE_STATS),
        counts=("n_paired", "n_pre_only"),
        bases=dict.fromkeys(CHANGE_STATS, "n_paired"),
    ),
    "reliable_change": TableSpec(
        source="reliable_change_summary",
        keys=("instrument", "scale", "informant", "baseline"),
        fixed_keys=True,
        columns=(),
        pivot=(("instrument", "scale", "informant", "baseline"), "change_class", "n"),
    ),
    "change_by_programme": TableSpec(
        source="change_by_programme",
        keys=("programme", "instrument", "scale", "informant"),
        fixed_keys=True,
        columns=("n_paired", *PROGRAMME_CHANGE_STATS),
        counts=("n_paired",),
        bases=dict.fromkeys(PROGRAMME_CHANGE_STATS, "n_paired"),
    ),
    "matched_coverage": TableSpec(
        source="matched_comparisons",
        keys=("programme", "analysis"),
        fixed_keys=True,
        columns=(
            "n_treated",
            "n_matched",
            "n_outside_common_support",
            "n_no_comparison_within_caliper",
            "n_comparisons_used_up",
            "share_matched",
        ),
        total="n_treated",
        parts={
            "n_matched": _col("n_matched"),
            "n_outside_common_support": _col("n_outside_common_support"),
            "n_no_comparison_within_caliper": _col("n_no_comparison_within_caliper"),
            "n_comparisons_used_up": _col("n_comparisons_used_up"),
        },
        bases={"share_matched": "n_treated"},
        numerators={"share_matched": "n_matched"},
    ),
    "matched_comparisons": TableSpec(
        source="matched_comparisons",
        keys=("programme", "analysis"),
        fixed_keys=True,
        columns=("n_matched", "n_control", *_EFFECT, "p_value", "max_abs_smd_after"),
        counts=("n_matched", "n_control"),
        bases={
            **dict.fromkeys(
                ("rate_treated", *_EFFECT[2:], "p_value", "max_abs_smd_after"), "n_matched"
            ),
            "rate_control": "n_control",
        },
        implied=dict.fromkeys((*_EFFECT, "p_value"), "n_reoffenders_fewest"),
        together=(*_EFFECT, "p_value"),
    ),
}


#: Rates recomputed from perturbed counts under the cell key method:
#: rate -> (numerator, base, ci_low, ci_high, scale).
RATES: dict[str, tuple[str, str, str | None, str | None, float]] = {
    "completion_rate": ("n_completed", "n_potential", *_COMPLETION[1:], 1.0),
    "completion_rate_clear": ("n_completed", "n_clear_outcome", *_COMPLETION_CLEAR[1:], 1.0),
    "dropout_rate": ("n_dropped_out", "n_potential", *_DROPOUT[1:], 1.0),
    _EARLY_DROPOUT: ("n_early_dropout", "n_potential", None, None, 1.0),
    "rate": ("n_reoffenders", "n_eligible", "ci_low", "ci_high", 1.0),
    "per_100": ("n_reoffenders", "n_eligible", None, None, 100.0),
    "offences_per_person": ("n_offences", "n_eligible", None, None, 1.0),
}

#: Result tables protected together by the linked-table gate: checked here
#: for small counts only, their secondary suppression is decided across tables.
_LINKED_SOURCES = frozenset(SPECS[name].source for name in LINKED)


def _pivot(frame: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, tuple[str, ...]]:
    index, columns, values = spec.pivot
    wide = frame.pivot_table(
        index=list(index), columns=columns, values=values, aggfunc="sum", observed=True
    ).fillna(0)
    if isinstance(frame[columns].dtype, pd.CategoricalDtype):  # every category, seen or not
        wide = wide.reindex(columns=frame[columns].cat.categories, fill_value=0)
    wide = wide.astype("int64")
    wide.columns = [str(c) for c in wide.columns]
    parts = tuple(wide.columns)
    wide[PIVOT_TOTAL] = wide.sum(axis=1)
    return wide.reset_index(), (*parts, PIVOT_TOTAL)


def _with_total_row(frame: pd.DataFrame, keys: tuple[str, ...], counts: list[str]) -> pd.DataFrame:
    total = frame[counts].sum().to_frame().T
    for key in keys:
        total[key] = ALL
    return pd.concat([frame, total], ignore_index=True)


def publish_table(
    name: str, result: pd.DataFrame, policy: DisclosurePolicy, keys: tuple[str, ...] = ()
) -> PublishedTable:
    """Protect one result table according to its spec in :data:`SPECS`.

    ``keys`` are the group columns of the result (the evaluation config's
    groupings) when the spec does not fix them.
    """
    spec = SPECS[name]
    if spec.split is None:
        protected, counts, members = _protect(spec, result, policy, keys)
    else:
        pieces = [
            _protect(spec, result[result[spec.split] == value], policy, keys)
            for value in result[spec.split].drop_duplicates()
        ]
        protected = SuppressedTable(
            **{
                part: pd.concat([getattr(p, part) for p, _, _ in pieces], ignore_index=True)
                for part in ("published", "mask", "primary")
            },
            policy=policy,
        )
        counts = pd.concat([c for _, c, _ in pieces], ignore_index=True)
        members = pieces[0][2]
    return PublishedTable(
        name=name, spec=spec, protected=protected, groupings=keys, counts=counts, members=members
    )


def _cells(
    spec: TableSpec, counts: list[str], part_names: list[str], total: str | None
) -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """The cells of a table (its parts, else its counts) and what each count adds up."""
    cells = part_names or counts
    members = {c: (c,) for c in cells}
    if total is not None:
        members[total] = tuple(cells)
    return cells, {**members, **spec.nested}


def _protect(
    spec: TableSpec, result: pd.DataFrame, policy: DisclosurePolicy, keys: tuple[str, ...]
) -> tuple[SuppressedTable, pd.DataFrame, dict[str, tuple[str, ...]]]:
    frame = result.copy()
    keys = (*keys, *spec.keys)
    columns = spec.columns
    counts = list(spec.counts)
    total = spec.total
    if spec.pivot is not None:
        frame, wide_cols = _pivot(frame, spec)
        columns = wide_cols
        counts = list(wide_cols[:-1])
        total = PIVOT_TOTAL
    for part, fn in spec.parts.items():
        frame[part] = fn(frame)
    part_names = list(spec.parts)
    if spec.pivot is not None and spec.total_row:
        frame = _with_total_row(frame, keys, [*counts, total])
    elif spec.total_row:
        overall = (frame[keys[0]] == ALL).to_numpy()
        frame = pd.concat([frame[~overall], frame[overall]])
    frame = frame.reset_index(drop=True)
    perturbed = policy.method == "cell_key"  # every count noised, rates recomputed
    protected = protect_frame(
        frame,
        policy,
        count_cols=[*counts, *part_names, *(spec.nested if perturbed else ())],
        base_cols={k: v for k, v in spec.bases.items() if perturbed or v not in spec.nested},
        numerator_cols={
            k: v for k, v in spec.numerators.items() if perturbed or v not in spec.nested
        },
        row_total=total,
        col_total=len(frame) - 1 if spec.total_row else None,
        secondary=spec.source not in _LINKED_SOURCES,
        implied_numerators=spec.implied,
        table=spec.source,
        key_columns=keys,
        rates=RATES,
    )
    shown = list(dict.fromkeys([*keys, *columns]))
    cells, members = _cells(spec, counts, part_names, total)
    table = SuppressedTable(
        published=protected.published[shown],
        mask=protected.mask[shown],
        primary=protected.primary[shown],
        policy=protected.policy,
    )
    return table, frame[cells].astype("int64"), members


#: Views of the engagement partition shown as their own tables in the report.
VIEWS: dict[str, tuple[str, ...]] = {
    "flow": _FLOW_STEPS,
    "completion": (
        "n_potential",
        "n_completed",
        *_COMPLETION,
        "n_clear_outcome",
        *_COMPLETION_CLEAR,
    ),
    "dropout": ("n_potential", "n_dropped_out", *_DROPOUT, "n_early_dropout", _EARLY_DROPOUT),
}


def engagement_views(published: Mapping[str, PublishedTable]) -> dict[str, PublishedTable]:
    """Flow, completion and dropout views of the published engagement partition."""
    if "engagement" not in published:
        return {}
    return {name: published["engagement"].view(name, cols) for name, cols in VIEWS.items()}


def rows_of(table: PublishedTable, name: str, **where: str) -> PublishedTable:
    """The same protected numbers, only the rows whose key columns equal ``where``."""
    frame = table.protected.published
    keep = pd.Series(True, index=frame.index)
    for column, value in where.items():
        keep &= frame[column].astype(str) == value
    keep = keep.to_numpy()
    protected = table.protected
    return PublishedTable(
        name=name,
        spec=table.spec,
        protected=SuppressedTable(
            published=protected.published[keep].reset_index(drop=True),
            mask=protected.mask[keep].reset_index(drop=True),
            primary=protected.primary[keep].reset_index(drop=True),
            policy=protected.policy,
        ),
        groupings=table.groupings,
    )


def _withhold_together(table: PublishedTable) -> None:
    """Withhold the rest of a row's :attr:`TableSpec.together` statistics with any one."""
    columns = [c for c in table.spec.together if c in table.protected.mask.columns]
    if not columns:
        return
    mask = table.protected.mask
    hide = mask[columns].any(axis=1).to_numpy()
    for column in columns:
        extra = hide & ~mask[column].to_numpy()
        if extra.any():
            table.protected.published.loc[extra, column] = float("nan")
            mask.loc[extra, column] = True


def publish_tables(
    tables: Mapping[str, pd.DataFrame],
    policy: DisclosurePolicy,
    groupings: tuple[str, ...] = ("programme",),
) -> dict[str, PublishedTable]:
    """Protect every result table that has a spec and is present in ``tables``.

    Tables whose spec names no group columns are grouped by ``groupings``. A
    statistic is withheld wherever its base or numerator count is; then the
    tables that count the same people are protected together
    (:func:`~cdanalytics.report.linked.protect_links`).
    """
    published = {
        name: publish_table(name, tables[spec.source], policy, () if spec.fixed_keys else groupings)
        for name, spec in SPECS.items()
        if spec.source in tables and not tables[spec.source].empty
    }
    for table in published.values():
        withhold_dependent_statistics(table)
        _withhold_together(table)
    if policy.method != "cell_key":  # perturbed totals need not add up: noise protects them
        protect_links(published, policy)
        for table in published.values():
            withhold_dependent_statistics(table)
            _withhold_together(table)
    for table in published.values():
        table.protected = SuppressedTable(
            published=round_counts(
                table.published, [c for c in table.members if c in table.published], policy
            ),
            mask=table.protected.mask,
            primary=table.protected.primary,
            policy=policy,
        )
    return published
