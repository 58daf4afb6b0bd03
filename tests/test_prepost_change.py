"""cdanalytics.prepost.change: paired statistics checked against scipy and hand computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _prepost_fixtures import make_export, pairs_to_rows
from scipy import optimize, stats

from cdanalytics.errors import ConfigError, ExportValidationError
from cdanalytics.prepost import change, hedges_j, holm, noncentral_t_ci, paired_statistics

RNG = np.random.default_rng(20260101)


@pytest.fixture
def two_programmes():
    """Integer SDQ scores (ties and zero changes) for 40 + 25 fathers."""
    pre_a = RNG.integers(10, 30, 40).astype(float)
    post_a = np.clip(pre_a + RNG.integers(-6, 4, 40), 0, 40)
    pre_b = RNG.integers(8, 25, 25).astype(float)
    post_b = np.clip(pre_b + RNG.integers(-3, 4, 25), 0, 40)
    rows = pairs_to_rows(pre_a, post_a, prefix="a") + pairs_to_rows(pre_b, post_b, prefix="b")
    ids = [f"a{i}" for i in range(40)] + [f"b{i}" for i in range(25)]
    participants = pd.DataFrame(
        {"participant_id": ids, "programme": ["caring_dads"] * 40 + ["borg"] * 25}
    )
    export = make_export(rows, participants)
    return export, {"borg": (pre_b, post_b), "caring_dads": (pre_a, post_a)}


def test_t_test_means_and_ci_match_scipy_ttest_rel(two_programmes):
    export, data = two_programmes
    result = change(export, by="programme").set_index("programme")
    for programme, (pre, post) in data.items():
        row = result.loc[programme]
        ref = stats.ttest_rel(post, pre)
        ci = ref.confidence_interval(0.95)
        assert row["n_paired"] == len(pre)
        assert row["mean_pre"] == pytest.approx(pre.mean())
        assert row["sd_pre"] == pytest.approx(pre.std(ddof=1))
        assert row["mean_post"] == pytest.approx(post.mean())
        assert row["sd_post"] == pytest.approx(post.std(ddof=1))
        assert row["r_pre_post"] == pytest.approx(np.corrcoef(pre, post)[0, 1])
        assert row["mean_change"] == pytest.approx((post - pre).mean())
        assert row["t"] == pytest.approx(ref.statistic)
        assert row["df"] == ref.df
        assert row["p_value"] == pytest.approx(ref.pvalue)
        assert row["change_ci_low"] == pytest.approx(ci.low)
        assert row["change_ci_high"] == pytest.approx(ci.high)
        assert row["n_zero_change"] == np.sum(post == pre)


@pytest.mark.parametrize("zero_method", ["wilcox", "pratt", "zsplit"])
@pytest.mark.parametrize("correction", [True, False])
def test_wilcoxon_matches_scipy_and_records_options(two_programmes, zero_method, correction):
    export, data = two_programmes
    result = change(export, by="programme", zero_method=zero_method, correction=correction)
    result = result.set_index("programme")
    for programme, (pre, post) in data.items():
        ref = stats.wilcoxon(post - pre, zero_method=zero_method, correction=correction)
        row = result.loc[programme]
        assert row["wilcoxon_statistic"] == pytest.approx(ref.statistic)
        assert row["wilcoxon_p_value"] == pytest.approx(ref.pvalue)
        assert row["wilcoxon_zero_method"] == zero_method
        assert row["wilcoxon_correction"] == correction


def test_unknown_zero_method_is_refused(two_programmes):
    with pytest.raises(ConfigError, match="zero_method"):
        change(two_programmes[0], zero_method="drop")


def _brentq_ncp(t: float, df: float, prob: float) -> float:
    """Noncentrality at which P(T <= t) = prob, by bracketing + brentq.

    The bracket t +- 4 holds the 95% limits for the sample sizes used here and
    keeps scipy's noncentral t away from the far tails, where it returns NaN.
    """
    return optimize.brentq(lambda ncp: stats.nct.cdf(t, df, ncp) - prob, t - 4, t + 4)


def test_d_z_and_exact_ci_invert_the_noncentral_t(two_programmes):
    export, data = two_programmes
    result = change(export, by="programme").set_index("programme")
    for programme, (pre, post) in data.items():
        d = post - pre
        n = len(d)
        t = d.mean() / (d.std(ddof=1) / np.sqrt(n))
        row = result.loc[programme]
        assert row["d_z"] == pytest.approx(d.mean() / d.std(ddof=1))
        assert row["d_z_ci_low"] == pytest.approx(_brentq_ncp(t, n - 1, 0.975) / np.sqrt(n))
        assert row["d_z_ci_high"] == pytest.approx(_brentq_ncp(t, n - 1, 0.025) / np.sqrt(n))


def test_noncentral_ci_of_zero_t_is_symmetric_and_tends_to_normal():
    low, high = noncentral_t_ci(np.array([0.0, 0.0]), np.array([10.0, 1e6]))
    assert low == pytest.approx(-high)
    # df -> infinity: the noncentral t becomes N(ncp, 1), so the limits are +-1.96
    assert high[1] == pytest.approx(stats.norm.ppf(0.975), abs=1e-4)
    assert np.isnan(noncentral_t_ci(np.array([np.inf]), np.array([5.0]))[0]).all()


def test_noncentral_ci_solves_the_nct_cdf_to_double_precision():
    # Independent check: scipy's brentq on stats.nct.cdf with the tightest
    # tolerances, over small and large df, t far in both tails and near 0.
    t = np.array([-40.0, -20.0, -5.0, -1.0, 0.0, 0.3, 3.0, 8.0, 25.0, 60.0, -25.0, 2.0])
    df = np.array([30.0, 2500.0, 3.0, 1.0, 10.0, 2.0, 100.0, 1e5, 1000.0, 10.0, 647.0, 5.0])
    low, high = noncentral_t_ci(t, df, alpha=0.05)
    for limit, prob in ((low, 0.975), (high, 0.025)):
        for ti, di, got in zip(t, df, limit, strict=True):
            spread = 5 * np.sqrt(1 + ti**2 / (2 * di))  # 5 SDs of the normal approximation
            ref = optimize.brentq(
                lambda ncp, ti=ti, di=di, prob=prob: stats.nct.cdf(ti, di, ncp) - prob,
                ti - spread,
                ti + spread,
                xtol=1e-15,
                rtol=4 * np.finfo(float).eps,
            )
            assert got == pytest.approx(ref, rel=1e-12, abs=1e-13)
            assert abs(stats.nct.cdf(ti, di, got) - prob) < 1e-15


def test_hedges_j_matches_published_table_and_approximation():
    # Hedges (1981) Table 2 / Hedges & Olkin (1985): J(2) = 1/sqrt(pi), J(10) = .9227, J(20) = .9619
    j = hedges_j(np.array([2.0, 10.0, 20.0, 1.0]))
    assert j[0] == pytest.approx(1 / np.sqrt(np.pi))
    assert j[1] == pytest.approx(0.9227, abs=5e-5)
    assert j[2] == pytest.approx(0.9619, abs=5e-5)
    assert np.isnan(j[3])
    df = np.array([30.0, 100.0])
    assert hedges_j(df) == pytest.approx(1 - 3 / (4 * df - 1), abs=1e-4)


def test_g_av_and_its_algina_keselman_ci_by_hand(two_programmes):
    export, data = two_programmes
    row = change(export, by="programme").set_index("programme").loc["caring_dads"]
    pre, post = data["caring_dads"]
    d = post - pre
    n = len(d)
    sd_av = (pre.std(ddof=1) + post.std(ddof=1)) / 2
    j = 1 - 3 / (4 * (n - 1) - 1)
    assert row["g_av"] == pytest.approx(j * d.mean() / sd_av, rel=1e-3)
    t = d.mean() / (d.std(ddof=1) / np.sqrt(n))
    to_d_av = d.std(ddof=1) / np.sqrt(n) / sd_av  # d_av = t * se / sd_av
    assert row["g_av_ci_low"] == pytest.approx(j * _brentq_ncp(t, n - 1, 0.975) * to_d_av, rel=1e-3)
    assert row["g_av_ci_high"] == pytest.approx(
        j * _brentq_ncp(t, n - 1, 0.025) * to_d_av, rel=1e-3
    )
    assert "Algina" in change(export).attrs["conventions"]["g_av"]


def test_improvement_is_oriented_by_the_registry_direction():
    # SDQ (higher = worse) falls and CTS2 negotiation (higher = better) rises: both improve
    rows = pairs_to_rows([20, 22, 18], [15, 18, 14]) + pairs_to_rows(
        [40, 50, 45], [55, 60, 50], instrument="cts2", scale="negotiation"
    )
    result = change(make_export(rows)).set_index("instrument")
    assert result.loc["sdq", "direction"] == "higher_worse"
    assert result.loc["sdq", "mean_change"] == pytest.approx(-13 / 3)
    assert result.loc["sdq", "improvement"] == pytest.approx(13 / 3)
    assert result.loc["cts2", "direction"] == "higher_better"
    assert result.loc["cts2", "improvement"] == pytest.approx(10)


def test_the_export_s_own_registry_orients_the_change_and_overrides_are_no_selection():
    # A site that scores the SDQ the other way round says so once, in its config; the
    # export carries the merged registry and change() reads it from there.
    from dataclasses import replace

    from cdanalytics.registry import Registries

    rows = pairs_to_rows([20, 22, 18], [15, 18, 14])
    flipped = Registries.build(
        instruments={"sdq": {"scales": {"total": {"direction": "higher_better"}}}}
    )
    export = replace(make_export(rows), registries=flipped)
    result = change(export).set_index("instrument")
    assert result.loc["sdq", "direction"] == "higher_better"
    assert result.loc["sdq", "improvement"] == pytest.approx(-13 / 3)
    assert change(make_export(rows)).set_index("instrument").loc["sdq", "improvement"] > 0
    # overrides are not a keyword of change(): passing them fails instead of being ignored
    with pytest.raises(TypeError, match="instruments"):
        change(export, instruments={"sdq": {}})


def test_participants_with_one_timepoint_are_counted_not_paired():
    pre = np.array([20, 22, 18, 25, np.nan, 30])
    post = np.array([15, 18, 14, np.nan, 12, np.nan])
    row = change(make_export(pairs_to_rows(pre, post))).iloc[0]
    assert (row["n_paired"], row["n_pre_only"], row["n_post_only"]) == (3, 2, 1)
    assert row["mean_pre"] == pytest.approx(20)
    assert row["t"] == pytest.approx(stats.ttest_rel(post[:3], pre[:3]).statistic)


def test_a_group_with_one_pair_gives_missing_statistics_not_an_error():
    row = change(make_export(pairs_to_rows([20, 21], [15, np.nan]))).iloc[0]
    assert row["n_paired"] == 1
    assert row["mean_change"] == -5
    assert np.isnan(row["t"]) and np.isnan(row["d_z_ci_low"]) and np.isnan(row["g_av"])


def test_no_change_at_all_gives_missing_tests():
    row = change(make_export(pairs_to_rows([20, 21, 22], [20, 21, 22]))).iloc[0]
    assert row["n_zero_change"] == 3
    assert np.isnan(row["wilcoxon_p_value"]) and np.isnan(row["t"])


def test_holm_adjusts_across_the_scales_of_one_instrument_by_hand():
    rng = np.random.default_rng(7)
    rows = []
    for scale, shift in [
        ("psychological_aggression", -8),
        ("physical_assault", -2),
        ("injury", -1),
    ]:
        pre = rng.normal(40, 10, 30).round()
        rows += pairs_to_rows(pre, pre + shift + rng.normal(0, 8, 30).round(), "cts2", scale)
    rows += pairs_to_rows([20, 25, 30, 28], [18, 20, 22, 27], prefix="q")  # sdq: own family
    result = change(make_export(rows))
    cts2 = result[result["instrument"] == "cts2"].sort_values("p_value")
    p = cts2["p_value"].to_numpy()
    m = len(p)
    expected = np.maximum.accumulate(np.minimum(1, (m - np.arange(m)) * p))
    assert cts2["p_holm"].to_numpy() == pytest.approx(expected)
    sdq = result[result["instrument"] == "sdq"].iloc[0]
    assert sdq["p_holm"] == pytest.approx(sdq["p_value"])


def test_follow_up_comparison_records_its_timepoints():
    rows = [
        ("p0", "sdq", "total", "father", "pre", 20),
        ("p0", "sdq", "total", "father", "follow_up", 12),
    ]
    rows += [
        ("p1", "sdq", "total", "father", "pre", 24),
        ("p1", "sdq", "total", "father", "follow_up", 20),
    ]
    row = change(make_export(rows), timepoints=("pre", "follow_up")).iloc[0]
    assert (row["timepoint_from"], row["timepoint_to"]) == ("pre", "follow_up")
    assert row["mean_change"] == pytest.approx(-6)


def test_missing_group_values_form_their_own_group():
    rows = pairs_to_rows([20, 22, 18, 19], [15, 18, 14, 10])
    participants = pd.DataFrame(
        {"participant_id": ["p0", "p1", "p2", "p3"], "site": ["Leeds", "Leeds", None, None]}
    )
    result = change(make_export(rows, participants), by="site")
    assert len(result) == 2
    assert result["n_paired"].sum() == 4


def test_bad_input_is_refused_with_a_clear_error():
    rows = pairs_to_rows([20, 22], [15, 18])
    with pytest.raises(ConfigError, match="Cannot group by"):
        change(make_export(rows), by="no_such_column")
    with pytest.raises(ConfigError, match="timepoint"):
        change(make_export(rows), timepoints=("pre", "later"))
    with pytest.raises(ExportValidationError, match="more than one score"):
        change(make_export([*rows, ("p0", "sdq", "total", "father", "pre", 21)]))
    with pytest.raises(ConfigError, match="no scale"):
        change(make_export(pairs_to_rows([1, 2], [2, 3], scale="emotional")))


def test_holm_helper_matches_statsmodels_per_family_and_skips_missing():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "family": np.repeat(["a", "b", "c"], [5, 3, 2]),
            "p": rng.uniform(0, 0.2, 10),
        }
    )
    frame.loc[[1, 8, 9], "p"] = np.nan  # family c has no p-value at all
    adjusted = holm(frame, "p", ["family"])
    for _, part in frame.groupby("family"):
        ok = part["p"].notna().to_numpy()
        got = adjusted[part.index.to_numpy()]
        assert np.isnan(got[~ok]).all()
        if ok.any():
            assert got[ok] == pytest.approx(multipletests(part["p"][ok], method="holm")[1])


@pytest.mark.parametrize(("n", "rho", "sd_post", "mu"), [(20, 0.6, 1.0, 0.5), (10, 0.3, 1.5, 0.8)])
def test_effect_size_intervals_cover_the_truth_in_simulation(n, rho, sd_post, mu):
    # 4000 bivariate-normal samples at once: the exact d_z interval covers 95%;
    # the Algina-Keselman g_av interval is approximate (they report close to 95%)
    # and g_av is close to unbiased for delta_av.
    rng = np.random.default_rng(n)
    cov = [[1, rho * sd_post], [rho * sd_post, sd_post**2]]
    xy = rng.multivariate_normal([0, mu], cov, size=(4000, n))
    x, y = xy[..., 0], xy[..., 1]
    res = paired_statistics(
        np.full(4000, n),
        x.mean(1),
        x.std(1, ddof=1),
        y.mean(1),
        y.std(1, ddof=1),
        (y - x).std(1, ddof=1),
    )
    delta_z = mu / np.sqrt(1 + sd_post**2 - 2 * rho * sd_post)
    delta_av = mu / ((1 + sd_post) / 2)
    cover_z = np.mean((res["d_z_ci_low"] < delta_z) & (delta_z < res["d_z_ci_high"]))
    cover_g = np.mean((res["g_av_ci_low"] < delta_av) & (delta_av < res["g_av_ci_high"]))
    assert cover_z == pytest.approx(0.95, abs=0.011)  # 3 binomial SEs
    assert cover_g == pytest.approx(0.95, abs=0.02)
    assert res["g_av"].mean() == pytest.approx(delta_av, abs=0.02)
