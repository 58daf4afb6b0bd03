"""The propensity model fitted on covariate patterns (issue 16) against
statsmodels' ``Logit`` fitted on every row, and the patterns' design columns
against those made from every row.

Categories and counts take few distinct combinations however many people
there are; the model is then fitted on the combinations with their numbers of
treated and comparison people (the same likelihood). These tests check that
against the plain computation on synthetic data with known true parameters.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.discrete.discrete_model import Logit

from cdanalytics.errors import ConvergenceError
from cdanalytics.matching import match, propensity_model
from cdanalytics.matching.balance import balance_terms
from cdanalytics.matching.propensity import covariate_parts, covariate_patterns, join_parts

COVARIATES = ["risk_level", "prior_offences", "age_band", "employed"]
TRUE_BETA = {
    "(Intercept)": -1.2,
    "risk_level_medium": 0.5,
    "risk_level_high": 1.0,
    "prior_offences": 0.15,
    "age_band_25-34": -0.3,
    "age_band_35+": -0.6,
    "employed": -0.4,
}


def people(n: int, seed: int) -> pd.DataFrame:
    """Programme membership drawn from a logistic model with ``TRUE_BETA``."""
    rng = np.random.default_rng(seed)
    risk = rng.choice(["low", "medium", "high"], n, p=[0.5, 0.3, 0.2])
    band = rng.choice(["18-24", "25-34", "35+"], n)
    prior = rng.poisson(2.0, n)
    employed = rng.random(n) < 0.4
    b = TRUE_BETA
    linear = (
        b["(Intercept)"]
        + np.select(
            [risk == "medium", risk == "high"], [b["risk_level_medium"], b["risk_level_high"]]
        )
        + b["prior_offences"] * prior
        + np.select([band == "25-34", band == "35+"], [b["age_band_25-34"], b["age_band_35+"]])
        + b["employed"] * employed
    )
    treated = rng.random(n) < 1 / (1 + np.exp(-linear))
    return pd.DataFrame(
        {
            "group": np.where(treated, "programme", "comparison"),
            "risk_level": pd.Categorical(risk, categories=["low", "medium", "high"]),
            "prior_offences": pd.array(prior, dtype="Int64"),
            "age_band": pd.array(band, dtype="str"),
            "employed": employed,
            "outcome": (rng.random(n) < 0.2).astype(int),
        },
        index=rng.permutation(n) * 3,
    )


def row_design(df: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    terms = join_parts(covariate_parts(df, COVARIATES), drop_first=True)
    return np.column_stack([np.ones(len(df)), terms.to_numpy(dtype=float)]), list(terms.columns)


def test_patterns_give_every_rows_design_columns():
    df = people(5_000, seed=1)
    patterns = covariate_patterns(df, COVARIATES)
    assert len(patterns.counts) < 200  # few combinations, many rows
    assert patterns.counts.sum() == len(df)
    for drop_first in (False, True):
        expected = join_parts(covariate_parts(df, COVARIATES), drop_first=drop_first)
        per_pattern = join_parts(patterns.parts, drop_first=drop_first)
        assert list(per_pattern.columns) == list(expected.columns)
        np.testing.assert_array_equal(
            patterns.rows(per_pattern.to_numpy(dtype=float)), expected.to_numpy(dtype=float)
        )
    # rows of one pattern have equal covariates, rows of different ones do not
    key = df[COVARIATES].astype(str).agg("|".join, axis=1).to_numpy()
    assert len(set(key)) == len(patterns.counts)
    first = {}
    for code, k in zip(patterns.codes, key, strict=True):
        assert first.setdefault(code, k) == k


@pytest.mark.parametrize("seed", [2, 3])
def test_the_fit_on_patterns_equals_statsmodels_on_every_row(seed):
    df = people(60_000, seed=seed)
    model = propensity_model(df, covariates=COVARIATES)
    x, names = row_design(df)
    y = (df["group"] == "programme").to_numpy(dtype=float)
    reference = Logit(y, x).fit(method="newton", maxiter=100, disp=False)
    table = model.coefficients
    assert table["term"].tolist() == ["(Intercept)", *names]
    np.testing.assert_allclose(table["coef"], reference.params, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(table["se"], reference.bse, rtol=1e-10)
    np.testing.assert_allclose(table["p_value"], reference.pvalues, rtol=1e-8, atol=1e-300)
    assert model.fit["loglik"] == pytest.approx(reference.llf, rel=1e-12)
    assert model.fit["iterations"] == reference.mle_retvals["iterations"]
    np.testing.assert_allclose(
        model.scores["logit_ps"], x @ reference.params, rtol=1e-10, atol=1e-12
    )
    # and the model recovers the parameters the data were drawn with
    truth = np.array([TRUE_BETA[t] for t in table["term"]])
    assert np.all(np.abs(table["coef"].to_numpy() - truth) < 4 * table["se"].to_numpy())
    # one score per pattern: people with equal covariates have equal scores, exactly
    patterns = covariate_patterns(df, COVARIATES)
    logit = model.scores["logit_ps"].to_numpy()
    per_pattern = np.zeros(len(patterns.counts))
    per_pattern[patterns.codes] = logit
    np.testing.assert_array_equal(per_pattern[patterns.codes], logit)


def test_matching_on_the_patterns_fit_pairs_as_on_statsmodels_scores():
    df = people(20_000, seed=4)
    x, _ = row_design(df)
    y = (df["group"] == "programme").to_numpy(dtype=float)
    reference = Logit(y, x).fit(method="newton", maxiter=100, disp=False)
    given = df.assign(ps=reference.predict())
    for options in ({}, {"caliper": None}, {"ratio": 2}, {"replace": True}):
        ours = match(df, covariates=COVARIATES, **options)
        theirs = match(given, covariates=COVARIATES, score="ps", **options)
        pd.testing.assert_frame_equal(
            ours.pairs.drop(columns="distance"), theirs.pairs.drop(columns="distance")
        )
        cols = ["mean_treated", "mean_control", "smd_after"]
        covs = ours.balance["covariate"] != "propensity_score"
        pd.testing.assert_frame_equal(ours.balance.loc[covs, cols], theirs.balance.loc[covs, cols])


def test_perfect_separation_on_patterns_is_a_convergence_error():
    # employed separates the groups: statsmodels warns, the patterns' fit stops
    df = people(4_000, seed=5)
    df["group"] = np.where(df["employed"], "programme", "comparison")
    x, _ = row_design(df)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Logit((df["group"] == "programme").to_numpy(dtype=float), x).fit(
            method="newton", maxiter=100, disp=False
        )
    assert {w.category.__name__ for w in caught} & {
        "PerfectSeparationWarning",
        "ConvergenceWarning",
    }
    with pytest.raises(ConvergenceError, match="separates"):
        propensity_model(df, covariates=COVARIATES)


def test_quasi_separation_on_patterns_is_a_convergence_error():
    # every high-risk person is in the programme (others mixed): the estimate
    # of its term runs off to infinity; statsmodels warns
    df = people(4_000, seed=6)
    df.loc[df["risk_level"] == "high", "group"] = "programme"
    x, _ = row_design(df)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = Logit((df["group"] == "programme").to_numpy(dtype=float), x).fit(
            method="newton", maxiter=100, disp=False
        )
    names = {w.category.__name__ for w in caught}
    assert (
        names & {"PerfectSeparationWarning", "ConvergenceWarning"}
        or not fit.mle_retvals["converged"]
    )
    with pytest.raises(ConvergenceError):
        propensity_model(df, covariates=COVARIATES)


def test_continuous_covariates_are_fitted_on_every_row_as_statsmodels_does():
    rng = np.random.default_rng(7)
    n = 3_000
    age = rng.normal(35, 9, n)
    treated = rng.random(n) < 1 / (1 + np.exp(-(-3 + 0.08 * age)))
    df = pd.DataFrame({"group": np.where(treated, "programme", "comparison"), "age": age})
    model = propensity_model(df, covariates=["age"])
    x = np.column_stack([np.ones(n), age])
    reference = Logit(treated.astype(float), x).fit(method="newton", maxiter=100, disp=False)
    np.testing.assert_array_equal(model.coefficients["coef"], reference.params)
    np.testing.assert_array_equal(model.coefficients["se"], reference.bse)


def test_balance_terms_of_some_rows_equal_those_made_from_every_row():
    df = people(5_000, seed=8)
    rng = np.random.default_rng(8)
    ps = rng.uniform(0.05, 0.95, len(df))
    terms, levels = balance_terms(ps, covariate_patterns(df, COVARIATES))
    every_row = join_parts(covariate_parts(df, COVARIATES), drop_first=False)
    expected = np.column_stack([ps, every_row.to_numpy(dtype=float)])
    assert len(levels) == expected.shape[1]
    for mask in (rng.random(len(df)) < 0.3, np.ones(len(df), dtype=bool)):
        x = terms.rows(mask)
        assert x.flags["C_CONTIGUOUS"]
        np.testing.assert_array_equal(x, expected[mask])
    binary = np.all((expected == 0) | (expected == 1), axis=0)
    np.testing.assert_array_equal(terms.binary(), binary)
    assert binary[1:].sum() == 3 + 3 + 1 and not binary[0]  # dummies and employed
