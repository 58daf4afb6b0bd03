"""Linked-table protection (:func:`cdanalytics.disclosure.protect_linked`), tested as an outsider.

Each test builds a small system of cells whose published sums a reader sees,
lets the gate decide, and then attacks the published sums with an independent
check: a combination of cells is worked out exactly when adding it to the
published equations does not raise their rank (numpy's matrix_rank, not the
gate's Householder updates).
"""

from __future__ import annotations

import numpy as np
import pytest

from cdanalytics.disclosure import DisclosurePolicy, protect_linked
from cdanalytics.errors import AnalysisError

POLICY = DisclosurePolicy(threshold=10)


def worked_out(equations: list[np.ndarray], secret: np.ndarray) -> bool:
    """Does the row space of ``equations`` contain ``secret`` (independent rank test)?"""
    if not equations:
        return False
    a = np.vstack(equations)
    return np.linalg.matrix_rank(np.vstack([a, secret])) == np.linalg.matrix_rank(a)


def unit(n: int, *cells: int) -> np.ndarray:
    v = np.zeros(n)
    v[list(cells)] = 1.0
    return v


# A programme's flow as four parts: not started 40, not due 4, completed 50,
# dropped out 30. Shown: referred (all), started (not due + completed +
# dropped), potential (completed + dropped), completed.
PARTS = np.array([40, 4, 50, 30])
SHOWN = {
    "referred": unit(4, 0, 1, 2, 3),
    "started": unit(4, 1, 2, 3),
    "potential": unit(4, 2, 3),
    "completed": unit(4, 2),
}


def decide(order: list[str], **kw):
    decisions = protect_linked(PARTS, [(k, SHOWN[k]) for k in order], POLICY, **kw)
    return {d.key: d for d in decisions}


def test_the_more_important_count_is_kept_and_the_small_part_stays_hidden():
    first = decide(["potential", "completed", "referred", "started"])
    assert first["potential"].published and first["completed"].published
    assert not first["started"].published and first["started"].reason == "secondary"
    published = [SHOWN[k] for k, d in first.items() if d.published]
    assert not worked_out(published, unit(4, 1))  # the 4 men not yet due
    # The order is the cost: put the flow step first and the denominator goes.
    second = decide(["started", "completed", "referred", "potential"])
    assert second["started"].published and not second["potential"].published


def test_small_counts_are_primary_and_never_published():
    parts = np.array([3, 20])
    decisions = protect_linked(parts, [("a", unit(2, 0)), ("b", unit(2, 1))], POLICY)
    assert [(d.published, d.reason) for d in decisions] == [(False, "small"), (True, "")]
    # With the total known as a fact, the large part would give the small one away.
    decisions = protect_linked(
        parts, [("a", unit(2, 0)), ("b", unit(2, 1))], POLICY, facts=[unit(2, 0, 1)]
    )
    assert [d.published for d in decisions] == [False, False]


def test_a_small_difference_between_two_published_counts_is_a_secret():
    # At risk at 6 and 12 months: 30 and 27; both large, but 3 men left between.
    at_risk = np.array([27, 3])  # cells: still at risk at 12, left between 6 and 12
    candidates = [("12", unit(2, 0)), ("6", unit(2, 0, 1))]
    decisions = protect_linked(at_risk, candidates, POLICY)
    assert [d.published for d in decisions] == [True, False]
    published = [v for (_, v), d in zip(candidates, decisions, strict=True) if d.published]
    assert not worked_out(published, unit(2, 1))


def test_extra_secrets_are_protected_even_when_they_are_not_cells():
    # Cumulative events at two horizons (cells: events by 6 months, events 6-12).
    cells = np.array([40, 6])
    candidates = [("by 6", unit(2, 0)), ("by 12", unit(2, 0, 1))]
    decisions = protect_linked(cells, candidates, POLICY)
    assert [d.published for d in decisions] == [True, False]


def test_counts_shown_regardless_that_give_a_small_count_away_are_refused():
    with pytest.raises(AnalysisError, match="Disclosure check"):
        protect_linked(np.array([3, 20]), [], POLICY, shown=[unit(2, 0, 1), unit(2, 1)])


def test_withheld_candidates_stay_withheld():
    decisions = protect_linked(
        np.array([30, 20]), [("a", unit(2, 0)), ("b", unit(2, 1))], POLICY, withheld=["a"]
    )
    assert [d.published for d in decisions] == [False, True]


@pytest.mark.parametrize("seed", range(5))
def test_random_nested_tables_leak_no_small_part(seed):
    rng = np.random.default_rng(seed)
    n_rows, n_parts = 4, 5
    parts = rng.choice([0, 2, 5, 9, 15, 40, 80], size=(n_rows, n_parts))
    n = parts.size
    cell = np.arange(n).reshape(n_rows, n_parts)
    candidates = []
    for r in range(n_rows):
        for start in range(n_parts):
            candidates.append(((r, start), unit(n, *cell[r, start:])))
    facts = [unit(n, *cell[:, p]) for p in range(n_parts)]  # column totals known
    decisions = protect_linked(parts.ravel(), candidates, POLICY, facts=facts)
    published = facts + [v for (_, v), d in zip(candidates, decisions, strict=True) if d.published]
    for k in np.flatnonzero((parts.ravel() > 0) & (parts.ravel() < 10)):
        assert not worked_out(published, unit(n, k)), (seed, k)
    for (_, v), d in zip(candidates, decisions, strict=True):
        value = v @ parts.ravel()
        if 0 < value < 10:
            assert not d.published
    assert any(d.published for d in decisions)
