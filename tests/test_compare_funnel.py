"""cdanalytics.compare.funnel: funnel limits, exact O/E limits and overdispersion,
against hand computations with scipy and statsmodels' exact Poisson interval."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.rates import confint_poisson

from cdanalytics.compare import funnel_limits, overdispersion, poisson_ratio_ci, ratio_z_scores
from cdanalytics.errors import ConfigError


def interpolated_limit(p, cdf, quantile):
    """Spiegelhalter (2005) appendix A.1.1 written out for one point."""
    r = quantile(p)
    alpha = (cdf(r) - p) / (cdf(r) - cdf(r - 1))
    return r - alpha


@pytest.mark.parametrize("n", [20, 57, 400])
def test_proportion_limits_are_the_interpolated_binomial_quantiles(n):
    target = 0.3
    limits = funnel_limits([n], target, kind="proportion")
    for level, (low, high) in limits.items():
        tail = (1 - level) / 2
        cdf = lambda r: stats.binom.cdf(r, n, target)  # noqa: E731
        quantile = lambda p: stats.binom.ppf(p, n, target)  # noqa: E731
        assert low[0] == pytest.approx(interpolated_limit(tail, cdf, quantile) / n, rel=1e-12)
        assert high[0] == pytest.approx(interpolated_limit(1 - tail, cdf, quantile) / n, rel=1e-12)


def test_proportion_limits_by_hand_for_n_20():
    # Binomial(20, 0.3): F(1) = 0.00764, F(2) = 0.03548; the 2.5% quantile is r = 2 and
    # alpha = (F(2) - 0.025) / (F(2) - F(1)), so the lower 95% limit is (2 - alpha) / 20.
    f1 = 0.7**20 + 20 * 0.3 * 0.7**19
    f2 = f1 + 190 * 0.3**2 * 0.7**18
    alpha = (f2 - 0.025) / (f2 - f1)
    low = funnel_limits([20], 0.3, kind="proportion")[0.95][0]
    assert low[0] == pytest.approx((2 - alpha) / 20, rel=1e-12)


@pytest.mark.parametrize("expected", [4.2, 25.0, 310.5])
def test_ratio_limits_are_the_interpolated_poisson_quantiles_over_e(expected):
    limits = funnel_limits([expected], 1.0, kind="ratio")
    for level, (low, high) in limits.items():
        tail = (1 - level) / 2
        cdf = lambda r: stats.poisson.cdf(r, expected)  # noqa: E731
        quantile = lambda p: stats.poisson.ppf(p, expected)  # noqa: E731
        ref_low = max(interpolated_limit(tail, cdf, quantile), 0) / expected
        assert low[0] == pytest.approx(ref_low, rel=1e-12, abs=1e-15)
        ref_high = interpolated_limit(1 - tail, cdf, quantile) / expected
        assert high[0] == pytest.approx(ref_high, rel=1e-12)


def test_limits_approach_the_normal_limits_for_large_expected_counts():
    e = np.array([10_000.0, 1_000_000.0])
    for level, (low, high) in funnel_limits(e, 1.0).items():
        z = stats.norm.ppf(1 - (1 - level) / 2)
        np.testing.assert_allclose(high, 1 + z / np.sqrt(e), rtol=2e-3)
        np.testing.assert_allclose(low, 1 - z / np.sqrt(e), rtol=2e-3)


def test_limits_narrow_with_precision_and_the_998_limits_are_wider():
    e = np.array([5.0, 20.0, 80.0, 320.0])
    limits = funnel_limits(e, 1.0)
    low95, high95 = limits[0.95]
    low998, high998 = limits[0.998]
    assert (np.diff(high95) < 0).all() and (np.diff(low95) > 0).all()
    assert (high998 > high95).all() and (low998 <= low95).all()


def test_overdispersed_limits_inflate_the_normal_limits_by_root_phi():
    n = np.array([100.0, 900.0])
    limits = funnel_limits(n, 0.2, kind="proportion", phi=2.5, levels=(0.998,))
    z = stats.norm.ppf(0.999)
    half = z * np.sqrt(2.5 * 0.2 * 0.8 / n)
    np.testing.assert_allclose(limits[0.998][0], 0.2 - half, rtol=1e-12)
    np.testing.assert_allclose(limits[0.998][1], 0.2 + half, rtol=1e-12)


def test_zero_precision_has_no_limits_and_bad_arguments_are_refused():
    low, high = funnel_limits([0.0, 3.0], 1.0)[0.95]
    assert np.isnan(low[0]) and np.isnan(high[0]) and high[1] > 1
    for kwargs in ({"kind": "rate"}, {"phi": 0}, {"levels": (1.5,)}):
        with pytest.raises(ConfigError):
            funnel_limits([3.0], 1.0, **kwargs)
    with pytest.raises(ConfigError):
        funnel_limits([3.0], 1.2, kind="proportion")


@pytest.mark.parametrize("observed", [0, 1, 7, 58])
def test_exact_poisson_ratio_limits_match_statsmodels_exact_interval(observed):
    expected = 12.5
    low, high = poisson_ratio_ci([observed], [expected])
    ref = confint_poisson(observed, expected, method="exact-c")
    assert low[0] == pytest.approx(ref[0], abs=1e-12)
    assert high[0] == pytest.approx(ref[1], rel=1e-10)


def test_z_scores_and_winsorised_overdispersion_by_hand():
    z = ratio_z_scores(np.array([12.0, 30.0]), np.array([10.0, 25.0]), 1.0)
    np.testing.assert_allclose(z, [(1.2 - 1) / np.sqrt(1 / 10), (1.2 - 1) / np.sqrt(1 / 25)])
    scores = np.array([-3.0, -1.0, -0.5, 0.0, 0.2, 0.4, 0.6, 1.0, 1.5, 6.0])
    low, high = np.quantile(scores, [0.1, 0.9])
    phi, p_value = overdispersion(scores)
    assert phi == pytest.approx(np.mean(np.clip(scores, low, high) ** 2))
    assert p_value == pytest.approx(stats.chi2.sf(10 * phi, 9))
    assert np.isnan(overdispersion([1.0])[0])
