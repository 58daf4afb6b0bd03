"""Which stages of a programme each starter reached and progressed through."""

from __future__ import annotations

import numpy as np

__all__ = ["any_by", "people_of", "stage_paths"]


def people_of(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct episode rows (``rows`` is sorted, as ``stage_progress`` makes
    it) and the number of each row's person among them."""
    if len(rows) == 0:
        return rows, rows
    new = np.r_[True, rows[1:] != rows[:-1]]
    return rows[new], np.cumsum(new) - 1


def any_by(
    person: np.ndarray, column: np.ndarray, flag: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """``out[person, column]`` = any ``flag`` of the rows with that pair (a bincount)."""
    hits = np.bincount(person[flag] * shape[1] + column[flag], minlength=shape[0] * shape[1])
    return (hits > 0).reshape(shape)


def stage_paths(
    ep_rows: np.ndarray, stage_order: np.ndarray, completed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Reached / progressed of each (starter, stage) row, vectorised over starters.

    ``done[person, order]`` is whether the person completed every stage of
    that order; a stage of order L is reached when every order before L is
    done (orders without stages count as done).
    """
    people, person = people_of(ep_rows)
    n_orders = int(stage_order.max()) + 1 if len(stage_order) else 1
    missed = any_by(person, stage_order, ~completed, (len(people), n_orders))
    done_through = np.logical_and.accumulate(~missed, axis=1)
    before = np.ones((len(people), n_orders), dtype=bool)
    before[:, 1:] = done_through[:, :-1]
    reached = before[person, stage_order]
    return reached, reached & completed
