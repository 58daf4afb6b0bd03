"""The links between the published tables, for the disclosure gate.

Each table is checked for small counts on its own first
(:mod:`cdanalytics.report.tables`). But the tables break the same people down
in different ways (linked tables): a programme's starters in the engagement
table are its cohort in the fixed-window table; the leavers of each step of the
flow, by reason, add up to the overall parts of the engagement table; a group's
Kaplan-Meier cohort is its fixed-window cohort, and its people at risk at one
horizon are those at risk at the next plus those who left in between; the
matched sample is counted in two tables; the people classified by reliable
change are the paired people of the change table; a programme's matched
participants are counted in the coverage and the effect tables of its matched
comparisons, and its starters matched for intention to treat are its
fixed-window cohort. A count that one table
withholds can then be published by another, or worked out from several
together, by subtraction.

This module only *describes* those links as linear equations over the cells of
all the tables (each table's parts, its overall row as the sum of its groups,
the links, each checked on the true counts) and lists the counts in order of
importance (:data:`PRIORITY`: denominators, completion, reoffending and
programme totals first). The decisions, which counts to publish and which to
withhold, are the gate's (:func:`cdanalytics.disclosure.protect_linked`).

References
----------
Willenborg, L. & de Waal, T. (2001). Elements of Statistical Disclosure
Control. Springer, chapter 6 (cell suppression in linked tables).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from ..disclosure import DisclosurePolicy, LinkedDecision, SuppressedTable, protect_linked
from .compute import OVERALL
from .published import PublishedTable

__all__ = ["protect_beside", "protect_links", "withhold_dependent_statistics"]

log = logging.getLogger(__name__)

#: The most important published counts (published first, withheld last):
#: headline denominators and numerators, then programme totals.
PRIORITY: tuple[tuple[str, str], ...] = (
    ("engagement", "n_potential"),
    ("engagement", "n_completed"),
    # a programme's matched comparison is its headline: its base is kept before the
    # fixed-window cohort, which equals matched + unmatched (often fewer than 10)
    ("matched_comparisons", "n_matched"),
    ("matched_comparisons", "n_control"),
    ("fixed_window", "n_eligible"),
    ("fixed_window", "n_reoffenders"),
    ("engagement", "n_referred"),
    ("engagement", "n_dropped_out"),
    ("matched_coverage", "n_treated"),
    ("change", "n_paired"),
    ("change_by_programme", "n_paired"),
    ("reliable_change", "n_total"),
    ("km_horizons", "n_at_risk"),
    ("engagement", "n_started"),
    ("fixed_window", "n_in_cohort"),
)

#: Order in which the counts of the linked tables are published.
ORDER = (
    "engagement",
    "fixed_window",
    "flow_exits",
    "km_horizons",
    "matched_coverage",
    "matched_comparisons",
    "change",
    "change_by_programme",
    "reliable_change",
)

#: Flow step -> the overall engagement parts of the people who left after it.
STAGE_PARTS = {
    "referred": ("n_not_assessed",),
    "assessed": ("n_not_eligible",),
    "eligible": ("n_not_started",),
    "started": ("n_not_due", "n_early_dropout", "n_late_dropout", "n_excluded", "n_unclear"),
}
#: (reason, step) of the flow exits -> the overall engagement parts they are.
EXIT_PARTS = {
    ("dropped_out", "started"): ("n_early_dropout", "n_late_dropout"),
    ("excluded", "started"): ("n_excluded",),
}

Cell = tuple[str, int, str]


class _System:
    """The cells of the linked tables, their true counts, and equations over them."""

    def __init__(self, tables: Mapping[str, PublishedTable]) -> None:
        self.tables = tables
        self.index: dict[Cell, int] = {}
        values = []
        for name, table in tables.items():
            for i, row in enumerate(table.counts.to_numpy(dtype=np.int64)):
                for cell, value in zip(table.counts.columns, row, strict=True):
                    self.index[(name, i, cell)] = len(values)
                    values.append(value)
        self.values = np.array(values, dtype=np.int64)

    def vector(self, cells: list[Cell], sign: float = 1.0) -> np.ndarray:
        v = np.zeros(len(self.values))
        for cell in cells:
            v[self.index[cell]] += sign
        return v

    def total(self, vector: np.ndarray) -> float:
        """The true value of a combination of cells."""
        return float(vector @ self.values)

    def count(self, name: str, i: int, column: str) -> list[Cell]:
        """The cells a published count adds up."""
        return [(name, i, c) for c in self.tables[name].members[column]]

    def identity(self, left: list[Cell], right: list[Cell]) -> np.ndarray | None:
        """``sum(left) - sum(right)``, if the two really are the same people."""
        v = self.vector(left) + self.vector(right, -1.0)
        if v @ self.values != 0:
            log.debug("no link between %s and %s: the counts differ", left[:1], right[:1])
            return None
        return v


def _rows(table: PublishedTable, **where: str) -> list[int]:
    frame = table.published
    keep = np.ones(len(frame), dtype=bool)
    for column, value in where.items():
        keep &= (frame[column].astype(str) == value).to_numpy()
    return list(np.flatnonzero(keep))


def _overall(table: PublishedTable) -> np.ndarray:
    return (table.published[table.key_columns[0]].astype(str) == OVERALL).to_numpy()


def _structure(system: _System) -> Iterator[np.ndarray]:
    """Each overall row is the sum of its table's (or split's) group rows."""
    for name, table in system.tables.items():
        if not table.spec.total_row:
            continue
        overall = _overall(table)
        split = table.spec.split
        pieces = [None] if split is None else table.published[split].astype(str).unique()
        for piece in pieces:
            rows = np.arange(len(overall)) if piece is None else _rows(table, **{split: piece})
            total = [i for i in rows if overall[i]]
            detail = [i for i in rows if not overall[i]]
            if len(total) != 1:
                continue
            for cell in table.counts.columns:
                link = system.identity([(name, i, cell) for i in detail], [(name, total[0], cell)])
                if link is not None:
                    yield link


def _measure_links(system: _System, other: str, column: str) -> Iterator[np.ndarray]:
    """The paired people of each measure of the change table are the people the
    ``other`` table counts in ``column`` over its rows of that measure (its
    programmes, or its baseline groups and change classes)."""
    change, by = system.tables.get("change"), system.tables.get(other)
    if change is None or by is None:
        return
    keys = ("instrument", "scale", "informant")
    for i in range(len(change.published)):
        rows = _rows(by, **{k: str(change.published[k].iloc[i]) for k in keys})
        if rows:
            yield system.identity(
                [c for j in rows for c in system.count(other, j, column)],
                system.count("change", i, "n_paired"),
            )


def _matched_links(system: _System) -> Iterator[np.ndarray]:
    """A programme's starters matched for intention to treat are its window-eligible
    cohort in the fixed-window table (when the tables are grouped by programme);
    an identity is used only where the true counts agree."""
    t = system.tables
    fw, coverage, effects = (
        t.get("fixed_window"),
        t.get("matched_coverage"),
        t.get("matched_comparisons"),
    )
    if coverage is None:
        return
    keys = ("programme", "analysis")
    for i in range(len(coverage.published)):
        where = {k: str(coverage.published[k].iloc[i]) for k in keys}
        rows = [] if effects is None else _rows(effects, **where)
        if len(rows) == 1:  # the matched programme participants, counted in both tables
            yield system.identity(
                system.count("matched_coverage", i, "n_matched"),
                system.count("matched_comparisons", rows[0], "n_matched"),
            )
            # 1:1 matching without replacement: as many comparison people as matched
            # programme people (a reader who knows the design knows they are equal)
            yield system.identity(
                system.count("matched_comparisons", rows[0], "n_matched"),
                system.count("matched_comparisons", rows[0], "n_control"),
            )
        if fw is None or "programme" not in fw.published.columns:
            continue
        if where["analysis"] != "all_starters":
            continue
        rows = _rows(fw, group="programme", programme=where["programme"])
        if len(rows) == 1:
            yield system.identity(
                system.count("matched_coverage", i, "n_treated"),
                system.count("fixed_window", rows[0], "n_eligible"),
            )


def _links(system: _System) -> Iterator[np.ndarray]:
    """Equations between tables: the same people counted twice."""
    t = system.tables
    eng, fw = t.get("engagement"), t.get("fixed_window")
    if eng is not None and fw is not None:
        keys = list(eng.groupings)
        for i in range(len(eng.published)):
            where = {k: str(eng.published[k].iloc[i]) for k in keys}
            for j in _rows(fw, group="programme", **where):
                yield system.identity(
                    system.count("fixed_window", j, "n_in_cohort"),
                    system.count("engagement", i, "n_started"),
                )
    exits = t.get("flow_exits")
    if eng is not None and exits is not None:
        total = np.flatnonzero(_overall(eng))
        detail = np.flatnonzero(~_overall(exits))
        reasons = exits.published["reason"].astype(str).to_numpy()
        for stage, parts in STAGE_PARTS.items():
            if stage in exits.counts.columns and len(total) == 1:
                yield system.identity(
                    [("flow_exits", i, stage) for i in detail],
                    [("engagement", total[0], p) for p in parts],
                )
        for (reason, stage), parts in EXIT_PARTS.items():
            rows = [i for i in detail if reasons[i] == reason]
            if stage in exits.counts.columns and len(rows) == 1 and len(total) == 1:
                yield system.identity(
                    [("flow_exits", rows[0], stage)], [("engagement", total[0], p) for p in parts]
                )
    km = t.get("km_horizons")
    if fw is not None:
        cohorts = {str(fw.published["group"].iloc[i]): i for i in np.flatnonzero(_overall(fw))}
        for i in range(0 if km is None else len(km.published)):
            group = str(km.published["group"].iloc[i])
            if group in cohorts:
                yield system.identity(
                    [("km_horizons", i, c) for c in km.counts.columns],
                    system.count("fixed_window", cohorts[group], "n_in_cohort"),
                )
    yield from _matched_links(system)
    yield from _measure_links(system, "change_by_programme", "n_paired")
    yield from _measure_links(system, "reliable_change", "n_total")


def withhold_dependent_statistics(table: PublishedTable) -> None:
    """Withhold every statistic whose base or numerator count is withheld.

    A mean, median, rate or interval published beside a withheld base gives
    the base away (the width of a confidence interval depends on it).
    """
    spec, mask = table.spec, table.protected.mask
    for stat, source in [*spec.bases.items(), *spec.numerators.items()]:
        if stat not in mask.columns or source not in mask.columns:
            continue
        hide = mask[source].to_numpy() & ~mask[stat].to_numpy()
        if hide.any():
            table.protected.published.loc[hide, stat] = np.nan
            mask.loc[hide, stat] = True


def _withhold(table: PublishedTable, decisions: list[LinkedDecision]) -> None:
    """Apply the gate's decisions to one table (cells keyed ``(name, row, column)``)."""
    if not decisions:
        return
    protected = table.protected
    mask = protected.mask.to_numpy(copy=True)
    primary = protected.primary.to_numpy(copy=True)
    columns = protected.mask.columns
    for decision in decisions:
        _, i, column = decision.key
        j = columns.get_loc(column)
        mask[i, j] = True
        primary[i, j] |= decision.reason == "small"
    shape = {"index": protected.mask.index, "columns": columns}
    mask_frame = pd.DataFrame(mask, **shape)
    table.protected = SuppressedTable(
        published=protected.published.mask(mask_frame),
        mask=mask_frame,
        primary=pd.DataFrame(primary, **shape),
        policy=protected.policy,
    )


def _shown(table: PublishedTable) -> list[str]:
    return [c for c in table.published.columns if c in table.members]


def _horizon_changes(system: _System) -> Iterator[np.ndarray]:
    """What changes between two horizons of one group (and before the first).

    The men at risk at one horizon are those at risk at the next plus those
    who reoffended or were censored in between: each of these interval
    counts is a secret when small, so no two published horizons may differ
    by a small number of events, censorings or leavers.
    """
    km = system.tables.get("km_horizons")
    if km is None:
        return
    groups = km.published["group"].astype(str).to_numpy()
    for i in range(len(groups)):
        if i == 0 or groups[i - 1] != groups[i]:
            yield system.vector([("km_horizons", i, "n_events"), ("km_horizons", i, "n_censored")])
            continue
        for column in ("n_events", "n_censored"):
            now = system.vector([("km_horizons", i, column)])
            yield now - system.vector([("km_horizons", i - 1, column)])
        left = system.vector([("km_horizons", i - 1, "n_at_risk")])
        yield left - system.vector([("km_horizons", i, "n_at_risk")])


def _candidates(system: _System) -> list[tuple[Cell, np.ndarray]]:
    """Every count the linked tables show, most important first (:data:`PRIORITY`).

    Within one column the overall row comes first, then the groups in order.
    """
    rank = {key: r for r, key in enumerate(PRIORITY)}
    entries = []
    for t, (name, table) in enumerate(system.tables.items()):
        overall = _overall(table) if table.spec.total_row else np.zeros(len(table.published), bool)
        for c, column in enumerate(_shown(table)):
            first = rank.get((name, column), len(PRIORITY))
            for i in range(len(table.published)):
                order = (first, t, c, not overall[i], i)
                entries.append((order, (name, i, column)))
    entries.sort(key=lambda entry: entry[0])
    return [(cell, system.vector(system.count(*cell))) for _, cell in entries]


def _decide(
    system: _System, candidates: list[tuple[Cell, np.ndarray]], policy: DisclosurePolicy, **known
) -> None:
    """Ask the gate about ``candidates`` (most important first; those withheld
    already stay withheld), then withhold what it refuses, and every statistic
    resting on it, in the candidates' tables. ``known``: the gate's ``facts``,
    ``shown`` and ``secrets``."""
    withheld = [
        cell
        for cell, _ in candidates
        if system.tables[cell[0]].protected.mask[cell[2]].to_numpy()[cell[1]]
    ]
    decisions = protect_linked(system.values, candidates, policy, withheld=withheld, **known)
    for name in dict.fromkeys(cell[0] for cell, _ in candidates):
        table = system.tables[name]
        _withhold(table, [d for d in decisions if not d.published and d.key[0] == name])
        withhold_dependent_statistics(table)


def protect_links(published: Mapping[str, PublishedTable], policy: DisclosurePolicy) -> None:
    """Withhold counts so that no small count follows from the tables together.

    The gate (:func:`~cdanalytics.disclosure.protect_linked`) decides, most
    important count first; this function applies its decisions to the tables
    and withholds every statistic whose base or numerator is withheld.

    Parameters
    ----------
    published
        The tables of :func:`~cdanalytics.report.tables.publish_tables`;
        those named in :data:`ORDER` are changed in place.
    policy
        The disclosure policy.
    """
    tables = {n: published[n] for n in ORDER if n in published and published[n].counts is not None}
    if not tables:
        return
    system = _System(tables)
    facts = [e for e in [*_structure(system), *_links(system)] if e is not None]
    candidates = _candidates(system)
    _decide(system, candidates, policy, facts=facts, secrets=list(_horizon_changes(system)))


def _same_people(
    system: _System, name: str, beside: str, by: str, within: str
) -> Iterator[np.ndarray]:
    """Differences of two counts of one ``by`` value that count nested groups of people.

    Counts of the same programme in two tables that define their people
    differently (potential completers of a stage and of the whole programme)
    are not equations, but a small difference between two such counts is a
    small group of people. The pairs: a count of ``name`` and the count of the
    same name in ``beside`` (its ``by`` row or its overall row), a count of
    ``name`` and the ``within`` count of ``beside`` (the people every count of
    ``name`` is part of), and two counts of the same name in two rows of
    ``name`` (two stages of one programme).
    """
    added, other = system.tables[name], system.tables[beside]
    groups = added.published[by].astype(str).to_numpy()
    keys = other.published[by].astype(str).to_numpy() if by in other.published else None
    overall = _overall(other) if other.spec.total_row else np.zeros(len(other.published), bool)
    theirs = set(_shown(other))
    for value in pd.unique(groups):
        rows = np.flatnonzero(groups == value)
        around = np.flatnonzero(overall if keys is None else overall | (keys == value))
        for column in _shown(added):
            mine = [system.vector(system.count(name, i, column)) for i in rows]
            pairs = [(a, b) for k, a in enumerate(mine) for b in mine[k + 1 :]]
            for other_column in {column, within} & theirs:
                pairs += [
                    (a, system.vector(system.count(beside, i, other_column)))
                    for a in mine
                    for i in around
                ]
            for a, b in pairs:
                d = a - b
                yield d if system.total(d) >= 0 else -d


def protect_beside(
    published: Mapping[str, PublishedTable],
    table: PublishedTable,
    policy: DisclosurePolicy,
    *,
    beside: str = "engagement",
    by: str = "programme",
    within: str = "n_started",
) -> None:
    """Withhold counts of ``table`` that give a small group away beside another table.

    An added table (the stage table, say) counts people of one ``by`` value
    (a programme) that the main table ``beside`` counts too, under another
    definition. The other table is published already: its shown counts are
    known. A small difference between two counts of nested groups of the same
    value is a secret (see :func:`_same_people`); the gate
    (:func:`~cdanalytics.disclosure.protect_linked`) publishes the counts of
    ``table`` column by column as long as no secret follows. Nothing happens
    under the cell key method (perturbed counts do not give exact differences)
    or when either table has no cells.

    Parameters
    ----------
    published
        The main tables, protected already (:func:`protect_links`).
    table
        The added table, changed in place.
    policy
        The disclosure policy.
    beside, by
        The main table's name and the column both tables are broken down by.
    within
        The count of ``beside`` that every count of ``table`` is a part of.
    """
    other = published.get(beside)
    if (
        policy.method == "cell_key"
        or other is None
        or other.counts is None
        or table.counts is None
        or by not in table.published
    ):
        return
    system = _System({beside: other, table.name: table})
    known = other.protected.mask
    shown = [
        system.vector(system.count(beside, i, column))
        for column in _shown(other)
        for i in np.flatnonzero(~known[column].to_numpy())
    ]
    facts = [e for e in _structure(system) if e is not None]
    candidates = [
        ((table.name, i, column), system.vector(system.count(table.name, i, column)))
        for column in _shown(table)
        for i in range(len(table.published))
    ]
    secrets = list(_same_people(system, table.name, beside, by, within))
    _decide(system, candidates, policy, facts=facts, shown=shown, secrets=secrets)
