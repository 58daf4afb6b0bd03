"""The shared Wilson interval against its closed form."""

import numpy as np
import pytest

from cdanalytics._stats import wilson_ci


def _wilson_by_hand(k: float, n: float, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(0, 12), (3, 12), (12, 12), (450, 1000)])
def test_wilson_interval_matches_the_closed_form(k, n):
    low, high = wilson_ci([k], [n])
    ref_low, ref_high = _wilson_by_hand(k, n)
    assert low[0] == pytest.approx(max(ref_low, 0.0), abs=1e-12)
    assert high[0] == pytest.approx(min(ref_high, 1.0), abs=1e-12)


def test_limits_at_zero_and_all_are_exactly_zero_and_one():
    low, high = wilson_ci([0, 5], [5, 5])
    assert low[0] == 0.0
    assert high[1] == 1.0


def test_an_empty_group_has_no_interval():
    low, high = wilson_ci([0], [0])
    assert np.isnan(low[0]) and np.isnan(high[0])
