"""Funnel-plot limits against published and hand-worked numbers.

1. Published: the exact (Garwood) limits of an observed/expected ratio with
   O = E, as printed in the unit tests of the R package FunnelPlotR
   (nhs-r-community/FunnelPlotR, ``tests/testthat/test-poisson_limits.R``:
   ``calculate_limits(data.frame(number_seq = c(15, 20, 30)), target = 1,
   draw_adjusted = FALSE)``), 95% and 99.8% limits to the printed digits.
2. Hand-worked: Spiegelhalter's (2005, appendix A.1.1) interpolated limits
   for a Poisson ratio with E = 4, from the Poisson probabilities written out
   with ``math`` (no scipy), so the test does not share the package's
   quantile code. No table of Spiegelhalter's interpolated limits was
   reachable to cite; the numbers in the comments are this hand computation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cdanalytics.compare import funnel_limits, poisson_ratio_ci

# FunnelPlotR test-poisson_limits.R: expected counts 15, 20, 30 (observed = expected)
EXPECTED = np.array([15.0, 20.0, 30.0])
FUNNELPLOTR = {
    0.95: ([0.5596924, 0.6108260, 0.6746958], [1.649348, 1.544419, 1.427562]),
    0.998: ([0.3862650, 0.4479107, 0.5289724], [2.082907, 1.902094, 1.702771]),
}


@pytest.mark.parametrize("level", sorted(FUNNELPLOTR))
def test_exact_ratio_limits_match_funnelplotr_to_the_printed_digits(level):
    low, high = poisson_ratio_ci(EXPECTED, EXPECTED, alpha=1 - level)
    printed_low, printed_high = FUNNELPLOTR[level]
    assert np.round(low, 7).tolist() == printed_low  # printed to 7 decimals
    assert np.round(high, 6).tolist() == printed_high  # printed to 6 decimals


def _poisson_cdf(r: int, mean: float) -> float:
    return sum(math.exp(-mean) * mean**k / math.factorial(k) for k in range(r + 1))


def _interpolated(p: float, mean: float) -> float:
    """r - (F(r) - p) / (F(r) - F(r - 1)), r the smallest count with F(r) >= p."""
    r = 0
    while _poisson_cdf(r, mean) < p:
        r += 1
    f_r, f_below = _poisson_cdf(r, mean), _poisson_cdf(r - 1, mean) if r else 0.0
    return r - (f_r - p) / (f_r - f_below)


def test_interpolated_ratio_limits_for_e_4_worked_by_hand():
    # Poisson(4): F(0) = e^-4 = 0.018316, F(1) = 5 e^-4 = 0.091578, so the 2.5%
    # quantile is r = 1 and alpha = (0.091578 - 0.025) / (0.091578 - 0.018316) = 0.90876:
    # lower 95% limit (1 - 0.90876) / 4 = 0.02281.
    f0, f1 = math.exp(-4), 5 * math.exp(-4)
    assert round((1 - (f1 - 0.025) / (f1 - f0)) / 4, 5) == 0.02281
    # F(7) = 0.948866, F(8) = 0.978637: the 97.5% quantile is r = 8 and
    # alpha = (0.978637 - 0.975) / (0.978637 - 0.948866) = 0.12217: upper (8 - 0.12217) / 4.
    assert round((8 - (0.978637 - 0.975) / (0.978637 - 0.948866)) / 4, 4) == 1.9695
    limits = funnel_limits([4.0], 1.0, kind="ratio")
    low, high = limits[0.95]
    assert round(float(low[0]), 5) == 0.02281
    assert round(float(high[0]), 4) == 1.9695
    for level, (low, high) in limits.items():
        tail = (1 - level) / 2
        assert low[0] == pytest.approx(max(_interpolated(tail, 4.0), 0.0) / 4, rel=1e-10)
        assert high[0] == pytest.approx(_interpolated(1 - tail, 4.0) / 4, rel=1e-10)
