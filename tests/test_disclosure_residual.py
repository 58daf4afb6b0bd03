"""Residual categories (:func:`cdanalytics.disclosure.merge_residual`)."""

from __future__ import annotations

import pytest

from cdanalytics.disclosure import DisclosurePolicy, merge_residual

POLICY = DisclosurePolicy(threshold=10)


def test_the_rest_of_a_total_is_shown_as_other_when_it_is_not_small():
    assert merge_residual(100, {"a": 50, "b": 30}, POLICY) == {"a": 50, "b": 30, "other": 20}


def test_a_small_rest_takes_the_smallest_categories_with_it():
    shown = merge_residual(100, {"a": 60, "b": 12, "c": 25}, POLICY)  # rest 3
    assert shown == {"a": 60, "c": 25, "other": 15}
    assert sum(shown.values()) == 100


@pytest.mark.parametrize(
    ("total", "parts"),
    [(185, {"x": 185, "y": 0}), (180, {"x": 185}), (1215, {"a": 1000, "b": 200, "c": 20})],
)
def test_rounded_parts_that_exceed_their_rounded_total_never_give_a_negative_rest(total, parts):
    shown = merge_residual(total, parts, DisclosurePolicy(threshold=10, round_to=5))
    assert sum(shown.values()) == total
    assert all(n >= 10 for n in shown.values())
