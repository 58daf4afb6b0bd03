"""Linked-table protection: publish counts in order of importance, leak none.

Several published tables count the same people (linked tables), and one
table's nested counts (referred ⊇ assessed ⊇ …), its horizons (the people at
risk at 6, 12 and 24 months) or its overall row are sums of the same
underlying cells. Every published count is then a linear equation over those
cells, and a reader who sees several can subtract.

:func:`protect_linked` takes the true cell counts, the equations a reader
knows anyway (structure, links between tables), the *secrets* (every cell and
every further combination that must not be worked out when it is below the
threshold, for example the men who left the risk set between two horizons)
and the candidate counts **in order of importance**. It publishes each
candidate in turn unless it is small itself or, with everything published so
far, it determines a small secret exactly. This is secondary suppression by
cost: a count earlier in the order (a headline denominator) is kept at the
expense of a later one (a flow step), because a published count only ever
constrains later decisions (Willenborg & de Waal 2001, ch. 6, on linked
tables and cost functions for cell suppression).

A combination of cells is determined exactly when its coefficient vector lies
in the row space of the known equations. :class:`Reader` keeps an
orthonormal basis of the null space of those equations up to date one
equation at a time (Householder reflections), so each test is cheap.

References
----------
Willenborg, L. & de Waal, T. (2001). Elements of Statistical Disclosure
Control. Springer, chapter 6.
Hundepool, A. et al. (2012). Statistical Disclosure Control. Wiley, §4.4
(linked tables, cost of suppression).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from cdanalytics.errors import AnalysisError

from .policy import DisclosurePolicy

__all__ = ["LinkedDecision", "Reader", "protect_linked"]

log = logging.getLogger(__name__)

_TOL = 1e-8


class Reader:
    """What a reader can work out from the equations learnt so far.

    Parameters
    ----------
    n_cells
        Number of unknown cells.
    secrets
        Coefficient vectors (one per row) of the combinations that must not be
        determined.

    Notes
    -----
    ``null`` is an orthonormal basis of the null space of the equations;
    the secrets are kept projected on that basis: a secret is determined when
    its projection vanishes.
    """

    def __init__(self, n_cells: int, secrets: np.ndarray) -> None:
        self.null = np.eye(n_cells)
        self.secrets = np.asarray(secrets, dtype=float).reshape(-1, n_cells) @ self.null
        self.size = np.maximum(np.linalg.norm(self.secrets, axis=1), 1.0)

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
        """Boolean per secret: is it determined by what is known?"""
        return np.linalg.norm(self.secrets, axis=1) <= _TOL * self.size

    def reveals(self, row: np.ndarray) -> bool:
        """Would learning ``row`` determine a secret not determined yet?"""
        u = self._reflector(row)
        if u is None:
            return False
        before = self.determined()
        after = np.linalg.norm(self._reduce(self.secrets, u), axis=1) <= _TOL * self.size
        return bool((after & ~before).any())

    def learn(self, row: np.ndarray) -> None:
        """Add the equation ``row · cells = known``."""
        u = self._reflector(row)
        if u is not None:
            self.null = self._reduce(self.null, u)
            self.secrets = self._reduce(self.secrets, u)


@dataclass(frozen=True)
class LinkedDecision:
    """What :func:`protect_linked` decided for one candidate count.

    Attributes
    ----------
    key
        The caller's key of the candidate.
    published
        Whether it may be published.
    reason
        ``"small"`` (primary: the count is below the threshold),
        ``"secondary"`` (it would let a small count be worked out), or ``""``.
    """

    key: Hashable
    published: bool
    reason: str


def protect_linked(
    values: np.ndarray,
    candidates: Sequence[tuple[Hashable, np.ndarray]],
    policy: DisclosurePolicy,
    *,
    facts: Sequence[np.ndarray] = (),
    shown: Sequence[np.ndarray] = (),
    secrets: Sequence[np.ndarray] = (),
    withheld: Sequence[Hashable] = (),
) -> list[LinkedDecision]:
    """Decide which candidate counts to publish, most important first.

    Parameters
    ----------
    values
        True count of every cell.
    candidates
        ``(key, vector)`` per count a table would show, in order of
        importance (most important first); ``vector`` gives the cells it adds.
    policy
        The threshold (and whether zeros are secret).
    facts
        Equations the reader knows anyway (a total is the sum of its parts, the
        same people counted in two tables); their value is not needed.
    shown
        Counts shown elsewhere, whatever this function decides (learnt first).
    secrets
        Further combinations that must not be worked out when small (besides
        every small cell and every small candidate).
    withheld
        Keys of candidates withheld already (for example a statistic's base
        withheld by another rule); they are not published.

    Notes
    -----
    Besides linear equations, a reader can use that counts are not negative:
    published counts that add up to zero over some cells pin each of them to
    zero. The gate therefore treats every zero cell as known (unless zeros are
    suppressed too), which is conservative.

    Returns
    -------
    list of LinkedDecision
        One per candidate, in the order given.

    Raises
    ------
    AnalysisError
        If the facts and ``shown`` counts determine a small secret by themselves.
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    rows = [np.eye(1, n, k)[0] for k in np.flatnonzero(policy.is_small(values))]
    wanted = [*secrets, *(v for _, v in candidates if np.count_nonzero(v) > 1)]
    rows += [v for v in wanted if policy.is_small(np.array([v @ values]))[0]]
    reader = Reader(n, np.vstack(rows) if rows else np.zeros((0, n)))
    # A reader who sees that non-negative cells add up to nothing knows each
    # is zero (eligible 9 = potential 9: nobody in between), which pins the
    # counts between them without any subtraction. Assume every zero cell is
    # known: then no small count can be pinned by such bounds either.
    zeros = (
        [] if policy.suppress_zeros else [np.eye(1, n, k)[0] for k in np.flatnonzero(values == 0)]
    )
    for row in [*facts, *shown, *zeros]:
        reader.learn(row)
    if reader.determined().any():
        raise AnalysisError(
            "Disclosure check of linked tables failed: the counts shown regardless give "
            "away a small count. This is a bug; please report it."
        )
    skip = set(withheld)
    decisions = []
    for key, vector in candidates:
        if policy.is_small(np.array([vector @ values]))[0]:
            decisions.append(LinkedDecision(key, False, "small"))
        elif key in skip or reader.reveals(vector):
            decisions.append(LinkedDecision(key, False, "secondary"))
        else:
            reader.learn(vector)
            decisions.append(LinkedDecision(key, True, ""))
    log.debug(
        "linked tables: %d of %d counts withheld",
        sum(not d.published for d in decisions),
        len(decisions),
    )
    return decisions
