"""What a researcher checks against R after matching: the propensity model's
coefficients, standard errors and fit statistics on the match result
(against statsmodels' GLM, fitted by IRLS rather than our Newton-Raphson
Logit), and the tie rule of matching with replacement: with
``ties="average"`` the effect equals a brute-force Abadie-Imbens
computation on data with many tied scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cdanalytics.errors import ConfigError
from cdanalytics.matching import MODEL_COLUMNS, match, matched_effect, propensity_model


@pytest.fixture(scope="module")
def tied():
    """300 people, two binary covariates and a three-level one: only 12
    distinct propensity scores, so most controls tie with others."""
    rng = np.random.default_rng(5)
    n = 300
    frame = pd.DataFrame(
        {
            "a": rng.integers(0, 2, n).astype(float),
            "b": rng.integers(0, 2, n).astype(float),
            "risk": pd.Categorical(rng.choice(["low", "medium", "high"], n)),
            "site": rng.choice(["north", "south"], n),
        }
    )
    linear = -1.0 + 0.8 * frame["a"] - 0.6 * frame["b"] + 0.5 * (frame["risk"] == "high")
    treated = rng.random(n) < 1 / (1 + np.exp(-linear))
    frame["group"] = np.where(treated, "programme", "comparison")
    frame["y"] = 2.0 * frame["a"] + frame["b"] + rng.normal(size=n) + 0.5 * treated
    return frame


def test_propensity_model_equals_a_glm_fitted_by_irls(tied):
    model = propensity_model(tied, covariates=["a", "b", "risk"])
    design = pd.get_dummies(tied[["a", "b", "risk"]], drop_first=True, dtype=float)
    reference = sm.GLM(
        (tied["group"] == "programme").astype(float),
        sm.add_constant(design),
        family=sm.families.Binomial(),
    ).fit()
    table = model.coefficients
    assert list(table.columns) == MODEL_COLUMNS
    assert table["term"].tolist() == ["(Intercept)", "a", "b", "risk_low", "risk_medium"]
    np.testing.assert_allclose(table["coef"], reference.params, rtol=1e-8)
    np.testing.assert_allclose(table["se"], reference.bse, rtol=1e-6)
    np.testing.assert_allclose(table["p_value"], reference.pvalues, rtol=1e-5)
    ci = reference.conf_int()
    np.testing.assert_allclose(table[["ci_low", "ci_high"]], ci, rtol=1e-6, atol=1e-6)
    fit = model.fit
    assert fit["loglik"] == pytest.approx(reference.llf, rel=1e-10)
    assert fit["loglik_null"] == pytest.approx(reference.llnull, rel=1e-10)
    assert fit["pseudo_r2"] == pytest.approx(1 - reference.llf / reference.llnull, abs=1e-9)
    assert fit["aic"] == pytest.approx(reference.aic, rel=1e-10)
    assert (fit["n"], fit["n_treated"], fit["lr_df"]) == (300, int(reference.model.endog.sum()), 4)


def test_the_match_result_carries_the_model_it_matched_on(tied):
    result = match(tied, covariates=["a", "b", "risk"], caliper=None)
    model = propensity_model(tied, covariates=["a", "b", "risk"])
    pd.testing.assert_frame_equal(result.propensity_model, model.coefficients)
    assert result.propensity_fit == model.fit
    given = match(tied.assign(ps=model.scores["propensity_score"]), covariates=["a"], score="ps")
    assert given.propensity_model.empty and given.propensity_fit == {}


def brute_force_att(frame, *, ratio, width=np.inf, scale="logit_ps", exact=None):
    """Abadie-Imbens matching written out: each treated person's matched set
    is every control (same exact stratum, within the caliper) at most as far
    as the ratio-th nearest; the effect is the mean over matched treated
    people of y minus the mean y of the set."""
    treated = frame[frame["group"] == "programme"]
    controls = frame[frame["group"] != "programme"]
    gaps = []
    for _, person in treated.iterrows():
        pool = controls
        if exact:
            pool = pool[pool[exact] == person[exact]]
        pool = pool[(pool[scale] - person[scale]).abs() <= width]
        if pool.empty:
            continue
        distance = (pool["propensity_score"] - person["propensity_score"]).abs()
        reach = np.sort(distance.to_numpy())[min(ratio, len(pool)) - 1]
        gaps.append(person["y"] - pool.loc[distance <= reach, "y"].mean())
    return float(np.mean(gaps)), len(gaps)


@pytest.mark.parametrize(
    "options",
    [
        {"ratio": 1, "caliper": None},
        {"ratio": 2, "caliper": None},
        {"ratio": 3, "caliper": 0.1, "exact": ["site"]},
    ],
)
def test_tie_averaged_att_with_replacement_equals_brute_force(tied, options):
    result = match(tied, covariates=["a", "b", "risk"], replace=True, ties="average", **options)
    scored = tied.join(result.scores[["propensity_score", "logit_ps"]])
    width = result.settings["caliper_width"] or np.inf
    expected, n_treated = brute_force_att(
        scored, ratio=options["ratio"], width=width, exact=(options.get("exact") or [None])[0]
    )
    weights = result.scores["weights"]
    is_treated = result.scores["treated"]
    att = np.average(tied["y"][is_treated & (weights > 0)]) - np.average(
        tied["y"][~is_treated], weights=weights[~is_treated]
    )
    assert att == pytest.approx(expected, abs=1e-12)
    assert matched_effect(result, "y", kind="numeric").summary["difference"].iloc[0] == (
        pytest.approx(expected, abs=1e-12)
    )
    assert result.summary["n_treated_matched"].iloc[0] == n_treated
    assert not result.pairs.duplicated(["treated_index", "control_index"]).any()
    assert result.settings["n_tied_controls"] > 0
    assert "Abadie & Imbens" in result.settings["tie_rule"]


def test_averaging_does_not_depend_on_row_order_first_does(tied):
    shuffled = tied.sample(frac=1, random_state=3)
    effect = {
        rule: [
            matched_effect(
                match(frame, covariates=["a", "b", "risk"], replace=True, caliper=None, ties=rule),
                "y",
                kind="numeric",
            )
            .summary["difference"]
            .iloc[0]
            for frame in (tied, shuffled)
        ]
        for rule in ("first", "average")
    }
    assert effect["average"][0] == pytest.approx(effect["average"][1], abs=1e-12)
    assert effect["first"][0] != pytest.approx(effect["first"][1], abs=1e-6)


def test_the_default_tie_rule_is_matchits_and_is_stated(tied):
    result = match(tied, covariates=["a", "b", "risk"], replace=True, caliper=None)
    assert result.settings["ties"] == "first"
    assert "MatchIt" in result.settings["tie_rule"]
    assert result.settings["n_tied_controls"] == 0


@pytest.mark.parametrize("options", [{"ties": "average"}, {"ties": "mean", "replace": True}])
def test_averaging_needs_replacement_and_a_known_rule(tied, options):
    with pytest.raises(ConfigError, match="ties"):
        match(tied, covariates=["a", "b"], **options)
