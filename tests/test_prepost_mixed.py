"""cdanalytics.prepost.mixed: random-intercept model against ANOVA, paired t and MixedLM."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _prepost_fixtures import make_export
from scipy import stats
from statsmodels.regression.mixed_linear_model import MixedLM

from cdanalytics.errors import ConfigError, InsufficientDataError
from cdanalytics.prepost import mixed_model, profile_reml_fit, score_table

TPS = ("pre", "post", "follow_up")


def long_rows(values: np.ndarray, timepoints=TPS, instrument="sdq", scale="total") -> list[tuple]:
    """Measures rows of a participants x timepoints array (NaN = no score)."""
    pid, tp = np.nonzero(~np.isnan(values))
    return [
        (f"p{i}", instrument, scale, "father", timepoints[j], values[i, j])
        for i, j in zip(pid, tp, strict=True)
    ]


def simulate(n: int, seed: int, mu=(20.0, 17.0, 16.0), tau=4.0, sigma=3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array(mu) + rng.normal(0, tau, (n, 1)) + rng.normal(0, sigma, (n, len(mu)))


@pytest.mark.parametrize("engine", ["statsmodels", "profile_reml"])
def test_balanced_complete_data_equals_the_anova_estimator(engine):
    y = simulate(60, seed=1)
    n, k = y.shape
    res = mixed_model(make_export(long_rows(y)), "sdq", engine=engine)
    # Method-of-moments (two-way ANOVA without replication) estimates, by hand
    grand = y.mean()
    ms_subject = k * ((y.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    resid = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + grand
    ms_error = (resid**2).sum() / ((n - 1) * (k - 1))
    # statsmodels stops at its default gradient tolerance, the profile route at ~1e-8
    tol = dict(rel=1e-4 if engine == "statsmodels" else 1e-6)
    assert res.sigma2 == pytest.approx(ms_error, **tol)
    assert res.tau2 == pytest.approx((ms_subject - ms_error) / k, **tol)
    summary = res.summary.set_index("term")
    assert summary.loc[list(TPS), "estimate"].to_numpy() == pytest.approx(y.mean(axis=0))
    assert summary.loc[list(TPS), "se"].to_numpy() == pytest.approx(
        np.sqrt((res.sigma2 + res.tau2) / n), **tol
    )
    assert summary.loc["post - pre", "estimate"] == pytest.approx(y[:, 1].mean() - y[:, 0].mean())
    assert summary.loc["follow_up - pre", "se"] == pytest.approx(np.sqrt(2 * ms_error / n), **tol)
    assert res.n_participants == n and res.n_observations == n * k and res.engine == engine


@pytest.mark.parametrize("engine", ["statsmodels", "profile_reml"])
def test_two_complete_timepoints_reproduce_the_paired_t_test_standard_error(engine):
    y = simulate(40, seed=2, mu=(20.0, 18.0))
    res = mixed_model(make_export(long_rows(y)), "sdq", timepoints=("pre", "post"), engine=engine)
    contrast = res.summary.set_index("term").loc["post - pre"]
    ref = stats.ttest_rel(y[:, 1], y[:, 0])
    assert contrast["estimate"] == pytest.approx(np.mean(y[:, 1] - y[:, 0]))
    tol = dict(rel=1e-4 if engine == "statsmodels" else 1e-6)
    assert contrast["se"] == pytest.approx(contrast["estimate"] / ref.statistic, **tol)
    assert contrast["z"] == pytest.approx(ref.statistic, **tol)


def test_profile_reml_matches_statsmodels_mixedlm_on_unbalanced_data():
    y = simulate(500, seed=3)
    rng = np.random.default_rng(4)
    y[rng.random(y.shape) < [0.05, 0.3, 0.5]] = np.nan
    y[np.isnan(y).all(axis=1), 0] = 20.0
    pid, tp = np.nonzero(~np.isnan(y))
    values = y[pid, tp]
    ours = profile_reml_fit(pid, tp, values, 3)
    exog = np.zeros((len(values), 3))
    exog[np.arange(len(values)), tp] = 1.0
    ref = MixedLM(values, exog, groups=pid).fit(reml=True, method=["bfgs"], gtol=1e-9)
    assert ref.converged
    assert ours["beta"] == pytest.approx(np.asarray(ref.fe_params), abs=1e-6)
    assert ours["tau2"] == pytest.approx(ref.cov_re[0, 0], rel=1e-6)
    assert ours["sigma2"] == pytest.approx(ref.scale, rel=1e-6)
    # statsmodels inverts the joint observed information of (fixed effects, variance
    # parameters); the profile route uses (X' V^-1 X)^-1. They differ in the 5th digit.
    assert ours["cov"] == pytest.approx(np.asarray(ref.cov_params())[:3, :3], rel=1e-3)


def test_participants_with_missing_later_scores_are_used():
    # Dropout after pre depends on the pre score (missing at random): the complete-case
    # post mean is biased, the mixed model recovers the true post mean of 17.
    rng = np.random.default_rng(5)
    y = simulate(3000, seed=6)
    drop = rng.random(len(y)) < 1 / (1 + np.exp(-(y[:, 0] - 20) / 2))
    y[drop, 1:] = np.nan
    res = mixed_model(make_export(long_rows(y)), "sdq", engine="profile_reml")
    post = res.summary.set_index("term").loc["post"]
    assert post["ci_low"] < 17.0 < post["ci_high"]
    assert post["n"] == (~drop).sum() and res.n_participants == 3000
    complete_case = np.nanmean(y[:, 1])
    assert abs(complete_case - 17.0) > 4 * post["se"]


def test_result_labels_and_auto_engine():
    y = simulate(30, seed=7, mu=(60.0, 65.0, 66.0))
    export = make_export(long_rows(y, instrument="cts2", scale="negotiation"))
    res = mixed_model(export, "cts2", "negotiation")
    assert res.engine == "statsmodels"
    assert res.direction == "higher_better"
    assert list(res.summary["term"]) == [*TPS, "post - pre", "follow_up - pre"]
    assert list(res.summary["kind"]) == ["mean"] * 3 + ["contrast"] * 2
    assert res.summary["p_value"].iloc[:3].isna().all()
    assert 0 < res.icc < 1


def test_bad_requests_raise_clear_errors():
    export = make_export(long_rows(simulate(10, seed=8)))
    with pytest.raises(InsufficientDataError, match="partner"):
        mixed_model(export, "sdq", informant="partner")
    with pytest.raises(ConfigError, match="engine"):
        mixed_model(export, "sdq", engine="lme4")
    with pytest.raises(ConfigError, match="no scale"):
        mixed_model(export, "sdq", "emotional")
    only_pre = make_export(long_rows(simulate(10, seed=8)[:, :1], timepoints=("pre",)))
    with pytest.raises(InsufficientDataError, match="post"):
        mixed_model(only_pre, "sdq")


def test_summary_is_a_tidy_frame():
    res = mixed_model(make_export(long_rows(simulate(20, seed=9))), "sdq")
    assert isinstance(res.summary, pd.DataFrame)
    assert list(res.summary.columns) == [
        "kind",
        "term",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "z",
        "p_value",
        "n",
    ]


def test_the_score_table_can_replace_the_export():
    y = simulate(25, seed=10)
    y[:5, 1:] = np.nan
    export = make_export(long_rows(y))
    from_export = mixed_model(export, "sdq", engine="profile_reml")
    from_table = mixed_model(score_table(export), "sdq", engine="profile_reml")
    pd.testing.assert_frame_equal(from_export.summary, from_table.summary)
    assert from_table.n_participants == 25 and from_table.n_observations == 65


def test_no_participant_variance_gives_the_boundary_fit():
    # With no participant effect and MS_subject < MS_error (seed 2), REML puts tau2 at
    # its boundary 0: the model is then ordinary least squares on the cell means.
    rng = np.random.default_rng(2)
    y = np.array([20.0, 17.0, 16.0]) + rng.normal(0, 3, (40, 3))
    n, k = y.shape
    resid = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + y.mean()
    ms_subject = k * ((y.mean(axis=1) - y.mean()) ** 2).sum() / (n - 1)
    assert ms_subject < (resid**2).sum() / ((n - 1) * (k - 1))
    res = mixed_model(make_export(long_rows(y)), "sdq", engine="profile_reml")
    assert res.tau2 == 0.0
    assert res.sigma2 == pytest.approx(((y - y.mean(axis=0)) ** 2).sum() / (n * k - k))
