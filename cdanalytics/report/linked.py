"""Protect the published tables together where they count the same people.

Each table is protected on its own first (:mod:`cdanalytics.report.tables`).
But the tables break the same people down in different ways (linked tables):
a programme's starters in the engagement table are its cohort in the
fixed-window table; the leavers of each step of the flow, by reason, add up to
the overall parts of the engagement table; a group's Kaplan-Meier cohort is its
fixed-window cohort; the matched sample is counted in two tables; the people
classified by reliable change are the paired people of the change table. A
count that one table withholds can then be published by another, or worked out
from several together, by subtraction.

:func:`protect_links` puts every published count of these tables into one
system of linear equations over the cells of all of them (each table's parts,
its overall row as the sum of its groups, and the links, each checked on the
true counts) and publishes, table by table and column by column, only counts
that leave every small count undetermined, and every small sum a table shows
(a nested count such as the eligible people of a small group). A combination
of cells is determined exactly when its coefficient vector lies in the row
space of the published equations; the null space of those equations is kept
up to date one equation at a time (Householder reflections), so each test is
cheap. Counts the report's figures show as drawn from the unprotected results
(the numbers at risk under the Kaplan-Meier curves, the reliable-change bars)
are learnt first and never withheld.

References
----------
Willenborg, L. & de Waal, T. (2001). Elements of Statistical Disclosure
Control. Springer, chapter 6 (cell suppression in linked tables).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from .compute import OVERALL

if TYPE_CHECKING:
    from .tables import PublishedTable

__all__ = ["protect_links", "withhold_dependent_statistics"]

log = logging.getLogger(__name__)

#: Tables whose counts are learnt first and never withheld (a figure shows them
#: as computed by its own protection, which this table's protection matches).
FIXED: dict[str, tuple[str, ...] | None] = {"reliable_change": None, "km_horizons": ("n_at_risk",)}

#: Order in which the counts of the linked tables are published.
ORDER = (
    "engagement",
    "fixed_window",
    "flow_exits",
    "km_horizons",
    "match_counts",
    "matched_effect",
    "change",
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

_TOL = 1e-8

Cell = tuple[str, int, str]


class Reader:
    """What a reader can work out from the equations learnt so far.

    ``null`` is an orthonormal basis of the null space of the equations;
    ``secrets`` are the small counts (as coefficient vectors), kept projected on
    that basis: a secret is determined when its projection vanishes.
    """

    def __init__(self, n_cells: int, secrets: np.ndarray) -> None:
        self.null = np.eye(n_cells)
        self.secrets = secrets.copy()
        self.size = np.maximum(np.linalg.norm(secrets, axis=1), 1.0)

    def _reflector(self, row: np.ndarray) -> np.ndarray | None:
        w = row @ self.null
        norm = np.linalg.norm(w)
        if norm <= _TOL * max(1.0, np.linalg.norm(row)):
            return None  # already implied by what is known
        u = w.copy()
        u[0] += np.copysign(norm, w[0])
        return u / np.linalg.norm(u)

    @staticmethod
    def _reduce(basis: np.ndarray, u: np.ndarray) -> np.ndarray:
        return (basis - 2.0 * np.outer(basis @ u, u))[:, 1:]

    def determined(self) -> np.ndarray:
        return np.linalg.norm(self.secrets, axis=1) <= _TOL * self.size

    def reveals(self, row: np.ndarray) -> bool:
        u = self._reflector(row)
        if u is None:
            return False
        after = self._reduce(self.secrets, u)
        return bool((np.linalg.norm(after, axis=1) <= _TOL * self.size).any())

    def learn(self, row: np.ndarray) -> None:
        u = self._reflector(row)
        if u is not None:
            self.null = self._reduce(self.null, u)
            self.secrets = self._reduce(self.secrets, u)


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

    def count(self, name: str, i: int, column: str) -> list[Cell]:
        """The cells a published count adds up."""
        return [(name, i, c) for c in self.tables[name].members[column]]

    def secrets(self, threshold: int) -> np.ndarray:
        """Every small cell and every small count a table shows, as vectors."""
        rows = []
        small = (self.values > 0) & (self.values < threshold)
        for k in np.flatnonzero(small):
            rows.append(np.eye(1, len(self.values), k)[0])
        for name, table in self.tables.items():
            for column, members in table.members.items():
                if len(members) < 2 or column not in table.published.columns:
                    continue
                for i in range(len(table.counts)):
                    v = self.vector(self.count(name, i, column))
                    if 0 < v @ self.values < threshold:
                        rows.append(v)
        return np.vstack(rows) if rows else np.zeros((0, len(self.values)))

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
        matched = t.get("match_counts")
        for side, group in (("treated", "programme"), ("control", "comparison")):
            rows = [] if matched is None else _rows(matched, group=side)
            if len(rows) == 1 and group in cohorts:
                yield system.identity(
                    system.count("match_counts", rows[0], "n_all"),
                    system.count("fixed_window", cohorts[group], "n_eligible"),
                )
    matched, effect = t.get("match_counts"), t.get("matched_effect")
    if matched is not None and effect is not None and len(effect.published) == 1:
        for side, column in (("treated", "n_treated"), ("control", "n_control")):
            rows = _rows(matched, group=side)
            if len(rows) == 1:
                yield system.identity(
                    system.count("matched_effect", 0, column),
                    system.count("match_counts", rows[0], "n_matched"),
                )
    change, classes = t.get("change"), t.get("reliable_change")
    if change is not None and classes is not None:
        keys = ("instrument", "scale", "informant")
        for i in range(len(change.published)):
            where = {k: str(change.published[k].iloc[i]) for k in keys}
            rows = _rows(classes, **where)
            if rows:
                yield system.identity(
                    [c for j in rows for c in system.count("reliable_change", j, "n_total")],
                    system.count("change", i, "n_paired"),
                )


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


def _withhold(table: PublishedTable, i: int, column: str) -> None:
    table.protected.published.loc[i, column] = pd.NA
    table.protected.mask.loc[i, column] = True


def _shown(table: PublishedTable, columns: tuple[str, ...] | None = None) -> list[str]:
    return [
        c
        for c in table.published.columns
        if c in table.members and (columns is None or c in columns)
    ]


def protect_links(published: Mapping[str, PublishedTable], threshold: int) -> None:
    """Withhold further counts so that no small count follows from the tables together.

    Parameters
    ----------
    published
        The protected tables (:func:`~cdanalytics.report.tables.publish_tables`);
        those named in :data:`ORDER` are changed in place.
    threshold
        The disclosure threshold.

    Raises
    ------
    AnalysisError
        If the counts the figures show fix a small count by themselves (the
        report would disclose it whatever the tables withhold).
    """
    tables = {n: published[n] for n in ORDER if n in published and published[n].counts is not None}
    if not tables:
        return
    system = _System(tables)
    reader = Reader(len(system.values), system.secrets(threshold))
    for equation in [*_structure(system), *_links(system)]:
        if equation is not None:
            reader.learn(equation)
    for name, columns in FIXED.items():
        table = tables.get(name)
        for column in [] if table is None else _shown(table, columns):
            for i in np.flatnonzero(~table.protected.mask[column].to_numpy()):
                reader.learn(system.vector(system.count(name, i, column)))
    if reader.determined().any():
        raise AnalysisError(
            "Disclosure check of linked tables failed: the counts shown in the figures give "
            "away a small count. This is a bug; please report it."
        )
    for name, table in tables.items():
        for column in _shown(table):
            for i in np.flatnonzero(~table.protected.mask[column].to_numpy()):
                equation = system.vector(system.count(name, i, column))
                if reader.reveals(equation):
                    log.debug("withholding %s[%d, %s]: linked tables", name, i, column)
                    _withhold(table, i, column)
                else:
                    reader.learn(equation)
        withhold_dependent_statistics(table)
