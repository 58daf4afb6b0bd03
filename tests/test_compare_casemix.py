"""cdanalytics.compare.casemix: case-mix expected counts against independent
statsmodels and lifelines fits, and a site with a true excess on synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from lifelines import CoxPHFitter

from cdanalytics.compare import (
    CASEMIX_COLUMNS,
    casemix_comparison,
    casemix_model,
    referral_quarter,
)
from cdanalytics.errors import ConfigError

RISK_LOGIT = {"low": -2.0, "medium": -1.2, "high": -0.4, "very_high": 0.3}
N_SITES = 24
EXCESS_SITE = "site_07"


def people(seed: int = 1, excess_log_odds: float = 1.0) -> pd.DataFrame:
    """Programme participants at 24 sites of different sizes and intakes; reoffending
    depends on risk level and prior offences only, except at EXCESS_SITE."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(150, 2500, N_SITES)
    site = np.repeat([f"site_{i:02d}" for i in range(N_SITES)], sizes)
    n = len(site)
    # sites differ in intake: the share of high-risk men rises with the site number
    tilt = np.repeat(np.linspace(-1, 1, N_SITES), sizes)
    levels = np.array(list(RISK_LOGIT))
    risk = levels[np.clip((rng.uniform(0, 4, n) + tilt).astype(int), 0, 3)]
    prior = rng.poisson(2, n)
    logit = np.array([RISK_LOGIT[r] for r in risk]) + 0.15 * prior
    logit = logit + np.where(site == EXCESS_SITE, excess_log_odds, 0.0)
    reoffended = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    referral = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730, n), unit="D")
    return pd.DataFrame(
        {
            "site": site,
            "group": "programme",
            "risk_level": pd.Categorical(risk, categories=levels, ordered=True),
            "prior_offences": prior,
            "referral_date": referral,
            "window_eligible": True,
            "reoffended_in_window": reoffended,
            "duration_days": rng.uniform(30, 730, n),
            "event": reoffended,
        }
    )


@pytest.fixture(scope="module")
def table():
    return people()


def test_expected_counts_are_summed_predictions_of_an_independent_logistic_fit(table):
    result = casemix_comparison(table, "site")
    assert list(result.table.columns) == ["site", *CASEMIX_COLUMNS]
    frame = table.assign(y=table["reoffended_in_window"].astype(float))
    fit = smf.logit("y ~ C(risk_level, Treatment('low')) + prior_offences", frame).fit(disp=0)
    expected = frame.assign(p=fit.predict(frame)).groupby("site")["p"].sum()
    got = result.table.set_index("site")["expected"]
    np.testing.assert_allclose(got, expected.loc[got.index], rtol=1e-7)
    observed = frame.groupby("site")["y"].sum()
    assert (result.table.set_index("site")["observed"] == observed.loc[got.index]).all()
    # A logistic model with an intercept reproduces the total: sum E = sum O.
    assert got.sum() == pytest.approx(observed.sum(), rel=1e-8)
    assert result.covariates == ("risk_level", "prior_offences")


def test_site_with_a_true_excess_is_outside_the_998_limit_and_others_inside(table):
    result = casemix_comparison(table, "site", overdispersion_adjust=False).table
    result = result.set_index("site")
    assert result.loc[EXCESS_SITE, "outside_998"]
    assert result.loc[EXCESS_SITE, "oe_ratio"] > result.loc[EXCESS_SITE, "limit_998_high"]
    others = result.drop(index=EXCESS_SITE)
    # 23 sites without excess: about 5% outside the 95% limits (at most 4 of 23 happens
    # with probability above 0.97) and 0.2% outside the 99.8% limits.
    assert others["outside_95"].sum() <= 4
    assert others["outside_998"].sum() == 0


def test_raw_rates_flag_high_risk_intakes_that_case_mix_clears(table):
    result = casemix_comparison(table, "site").table.set_index("site")
    overall = table["reoffended_in_window"].mean()
    # The last sites take the most high-risk men: their raw rate is well above the
    # programme's, yet their O/E is within the limits.
    riskiest = result.loc["site_23"]
    assert riskiest["observed_rate"] > overall * 1.2
    assert riskiest["limit_998_low"] <= riskiest["oe_ratio"] <= riskiest["limit_998_high"]
    assert riskiest["standardised_rate"] == pytest.approx(riskiest["oe_ratio"] * overall)


@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # inside lifelines
def test_cox_expected_counts_match_lifelines_breslow_cumulative_hazard():
    small = people(seed=3).groupby("site").head(20).reset_index(drop=True)
    result = casemix_comparison(small, "site", outcome="survival", covariates=["prior_offences"])
    frame = small[["duration_days", "event", "prior_offences"]].astype(float)
    cph = CoxPHFitter().fit(frame, "duration_days", "event")
    assert result.coefficients == pytest.approx(cph.params_.to_numpy(), rel=1e-6)
    baseline = cph.baseline_cumulative_hazard_.iloc[:, 0]
    at = np.searchsorted(baseline.index.to_numpy(), frame["duration_days"], side="right") - 1
    each = baseline.to_numpy()[at] * cph.predict_partial_hazard(frame).to_numpy()
    expected = small.assign(e=each).groupby("site")["e"].sum()
    got = result.table.set_index("site")["expected"]
    np.testing.assert_allclose(got, expected.loc[got.index], rtol=1e-5)
    # Breslow's estimator reproduces the total number of events.
    assert got.sum() == pytest.approx(small["event"].sum(), rel=1e-8)


def test_referral_quarters_are_units_too(table):
    result = casemix_comparison(table, "referral_quarter").table
    assert result["referral_quarter"].astype(str).tolist() == [
        f"{y}Q{q}" for y in (2023, 2024) for q in (1, 2, 3, 4)
    ]
    assert result["n"].sum() == len(table)
    dates = pd.Series(pd.to_datetime(["2024-03-31", None, "2024-04-01"]))
    quarters = referral_quarter(dates)
    assert (
        quarters.iloc[0] == "2024Q1" and pd.isna(quarters.iloc[1]) and quarters.iloc[2] == "2024Q2"
    )


def test_overdispersion_widens_the_limits_when_units_vary_more_than_chance():
    rng = np.random.default_rng(8)
    base = people(seed=5, excess_log_odds=0.0)
    shift = dict(zip(sorted(base["site"].unique()), rng.normal(0, 0.5, N_SITES), strict=True))
    logit = base["site"].map(shift).to_numpy() - 1.0
    base["reoffended_in_window"] = rng.uniform(size=len(base)) < 1 / (1 + np.exp(-logit))
    plain = casemix_comparison(base, "site", overdispersion_adjust=False)
    auto = casemix_comparison(base, "site")
    assert auto.overdispersed and auto.phi > 1
    assert (auto.table["limit_998_high"] > plain.table["limit_998_high"]).all()
    assert auto.table["outside_998"].sum() < plain.table["outside_998"].sum()


def test_only_programme_participants_and_eligible_windows_count(table):
    extra = table.head(50).assign(group="comparison")
    late = table.head(30).assign(window_eligible=False, site="site_late")
    result = casemix_comparison(pd.concat([table, extra, late]), "site").table
    assert result["n"].sum() == len(table)
    assert "site_late" not in set(result["site"])
    with pytest.raises(ConfigError):
        casemix_comparison(table, "site", covariates=["shoe_size"])
    with pytest.raises(ConfigError):
        casemix_comparison(table, "site", outcome="rate")


def test_one_fitted_model_serves_several_units(table):
    model = casemix_model(table)
    for unit in ("site", "referral_quarter"):
        pd.testing.assert_frame_equal(
            casemix_comparison(model, unit).table, casemix_comparison(table, unit).table
        )
    with pytest.raises(ConfigError):
        casemix_comparison(model, "risk_level")
    with pytest.raises(ConfigError):
        casemix_comparison(model, "site", covariates=["risk_level"])
