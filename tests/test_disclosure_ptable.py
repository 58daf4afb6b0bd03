"""Perturbation tables: unbiased, bounded, fixed variance, no small counts published."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog, minimize
from scipy.stats import norm

from cdanalytics.disclosure.ptable import PerturbationTable
from cdanalytics.errors import ConfigError

PARAMETERS = [(3, 1.0, 2), (4, 2.0, 2), (2, 0.5, 1), (5, 3.0, 0), (3, 1.5, 0)]
Z99 = norm.ppf(0.995)


def table(D, V, js, big_n=2**32):
    return PerturbationTable.from_parameters(D=D, V=V, js=js, big_n=big_n)


def allowed_noises(count: int, D: int, js: int) -> np.ndarray:
    """Independent statement of the design: |d| <= D, result 0 or above js."""
    noises = np.arange(-D, D + 1)
    if count == 0:
        return noises[noises == 0]
    result = count + noises
    return noises[(result == 0) | (result > js)]


def attainable_variance(noises: np.ndarray) -> tuple[float, float]:
    """Least and largest variance of a mean-zero distribution on the noises (LP)."""
    d = noises.astype(float)
    bounds = []
    for sign in (1, -1):
        fit = linprog(sign * d**2, A_eq=np.vstack([np.ones_like(d), d]), b_eq=[1, 0], bounds=(0, 1))
        bounds.append(sign * fit.fun)
    return bounds[0], bounds[1]


def entropy_reference(noises: np.ndarray, variance: float) -> np.ndarray:
    """Maximum entropy with mean 0 and the variance, by SLSQP (not Newton)."""
    d = noises.astype(float)
    constraints = [
        {"type": "eq", "fun": lambda p: p.sum() - 1},
        {"type": "eq", "fun": lambda p: p @ d},
        {"type": "eq", "fun": lambda p: p @ d**2 - variance},
    ]
    fit = minimize(
        lambda p: float(np.sum(p * np.log(np.clip(p, 1e-300, None)))),
        np.full(len(d), 1 / len(d)),
        method="SLSQP",
        bounds=[(0, 1)] * len(d),
        constraints=constraints,
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    return fit.x


@pytest.mark.parametrize(("D", "V", "js"), PARAMETERS)
class TestDesign:
    def test_rows_are_probability_distributions(self, D, V, js):
        pt = table(D, V, js)
        assert (pt.probabilities >= 0).all()
        np.testing.assert_allclose(pt.probabilities.sum(axis=1), 1, atol=1e-12)
        assert (pt.shares >= 0).all()
        assert (pt.shares.sum(axis=1) == pt.big_n).all()
        assert pt.probabilities.shape == (js + D + 2, 2 * D + 1)

    def test_noise_stays_within_the_allowed_values(self, D, V, js):
        pt = table(D, V, js)
        for count in range(len(pt.probabilities)):
            outside = ~np.isin(np.arange(-D, D + 1), allowed_noises(count, D, js))
            assert (pt.probabilities[count, outside] == 0).all()
            assert (pt.shares[count, outside] == 0).all()

    def test_every_row_is_exactly_unbiased(self, D, V, js):
        pt = table(D, V, js)
        noises = np.arange(-D, D + 1)
        np.testing.assert_allclose(pt.probabilities @ noises, 0, atol=1e-12)
        # the integer shares the lookup uses: exactly zero
        assert (pt.shares @ noises == 0).all()

    def test_variance_is_v_wherever_attainable_else_the_nearest(self, D, V, js):
        pt = table(D, V, js)
        noises = np.arange(-D, D + 1)
        for count in range(1, len(pt.probabilities)):
            low, high = attainable_variance(allowed_noises(count, D, js))
            expected = min(max(V, low), high)
            variance = pt.probabilities[count] @ noises**2
            assert variance == pytest.approx(expected, abs=1e-9)
            assert pt.variances[count] == pytest.approx(expected, abs=1e-9)
            realised = pt.shares[count] @ noises**2 / pt.big_n
            assert realised == pytest.approx(expected, abs=1e-6)
        # large counts (the last row) get the full variance V
        assert pt.variances[-1] == pytest.approx(V)

    def test_rows_with_a_free_choice_have_maximum_entropy(self, D, V, js):
        pt = table(D, V, js)
        for count in range(1, len(pt.probabilities)):
            support = allowed_noises(count, D, js)
            low, high = attainable_variance(support)
            if not low + 1e-6 < V < high - 1e-6:
                continue
            reference = entropy_reference(support, V)
            columns = support + D
            np.testing.assert_allclose(pt.probabilities[count, columns], reference, atol=1e-5)

    def test_lookup_never_publishes_a_small_or_negative_count(self, D, V, js):
        pt = table(D, V, js, big_n=2**10)
        counts = np.repeat(np.arange(0, 3 * (D + js) + 5), pt.big_n)
        keys = np.tile(np.arange(pt.big_n), len(counts) // pt.big_n)
        published = counts + pt.noise(counts, keys)
        assert (published >= 0).all()
        assert not ((published >= 1) & (published <= js)).any()
        assert (np.abs(published - counts) <= D).all()
        assert (published[counts == 0] == 0).all()

    def test_simulated_noise_has_the_theoretical_mean_and_variance(self, D, V, js):
        """Random cell keys with a fixed seed, against 99% limits of each row."""
        pt = table(D, V, js)
        rng = np.random.default_rng(20260607)
        n = 20_000
        noises = np.arange(-D, D + 1)
        for count in range(1, len(pt.probabilities) + 3):
            row = pt.probabilities[min(count, len(pt.probabilities) - 1)]
            mean, variance = row @ noises, row @ noises**2
            fourth = row @ noises**4
            drawn = pt.noise(np.full(n, count), rng.integers(0, pt.big_n, n))
            assert abs(drawn.mean() - mean) <= Z99 * np.sqrt(variance / n) + 1e-12
            spread = np.sqrt((fourth - variance**2) / n)
            assert abs((drawn**2).mean() - variance) <= Z99 * spread + 1e-12


class TestHandWorkedTable:
    """D = 2, js = 1, V = 12/17, keys in [0, 256), worked out by hand.

    Full rows (count >= js + D + 1 = 4) are symmetric, p(d) ∝ q**(d**2);
    q = 1/2 gives (1, 8, 16, 8, 1) / 34 with variance (2*8 + 2*4) / 34 = 12/17.
    Count 1 may only go to 0 or to 2, 3: mean zero with the least variance
    reachable (1 > 12/17) is -1 or +1 with 1/2 each. Shares of 256:
    34ths give 7.53, 60.24, 120.47 -> largest remainders 8, 60, 120, 60, 8.
    """

    pt = PerturbationTable.from_parameters(D=2, V=12 / 17, js=1, big_n=256)

    def test_rows_by_hand(self):
        np.testing.assert_allclose(self.pt.probabilities[0], [0, 0, 1, 0, 0])
        np.testing.assert_allclose(self.pt.probabilities[1], [0, 0.5, 0, 0.5, 0])
        np.testing.assert_allclose(self.pt.probabilities[4], np.array([1, 8, 16, 8, 1]) / 34)
        assert self.pt.shares[1].tolist() == [0, 128, 0, 128, 0]
        assert self.pt.shares[4].tolist() == [8, 60, 120, 60, 8]
        assert len(self.pt.probabilities) == 5

    def test_lookup_by_hand(self):
        counts = np.array([1, 1, 4, 4, 4, 100, 0])
        keys = np.array([10, 200, 250, 7, 8, 187, 99])
        # row 1: keys 0-127 -> -1, 128-255 -> +1; row 4: 0-7 -2, 8-67 -1,
        # 68-187 0, 188-247 +1, 248-255 +2; count 100 uses row 4; 0 stays 0
        assert self.pt.noise(counts, keys).tolist() == [-1, 1, 2, -2, -1, 0, 0]

    def test_summary_reports_each_row(self):
        summary = self.pt.summary
        assert summary["count"].tolist() == [0, 1, 2, 3, 4]
        assert summary.loc[1, "p_unchanged"] == 0
        assert summary.loc[1, "p_zero"] == 0.5
        assert summary.loc[4, "p_unchanged"] == pytest.approx(120 / 256)
        assert summary.loc[4, "variance"] == pytest.approx(12 / 17)
        assert (summary["mean"] == 0).all()
        assert "D=2" in repr(self.pt)
        assert "js=1" in repr(self.pt)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"D": 2, "js": 2},
        {"D": 3, "V": 9},
        {"D": 3, "V": 0},
        {"D": 3.0},
        {"js": -1},
        {"big_n": 1000},
        {"big_n": 2**40},
        {"big_n": True},
    ],
)
def test_invalid_parameters_are_refused(kwargs):
    with pytest.raises(ConfigError):
        PerturbationTable.from_parameters(**kwargs)


def test_tables_are_read_only():
    pt = PerturbationTable.from_parameters()
    with pytest.raises(ValueError, match="read-only"):
        pt.shares[1, 1] = 5
