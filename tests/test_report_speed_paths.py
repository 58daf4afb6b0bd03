"""The report's faster paths (issue 12) give exactly what the plain ones give.

- ``rows_in`` (one Arrow hash lookup of text identifiers) against pandas'
  ``Index.get_indexer``, with absent, missing and non-text identifiers;
- the propensity model's ``Logit`` that keeps its last fitted probabilities
  against statsmodels' own ``Logit``: the same parameters, standard errors,
  log-likelihood and iterations to the last bit;
- ``covariate_parts`` joined with and without the first level against
  ``pandas.get_dummies`` on the categories present;
- ``person_outcomes`` (events joined by the export's participant rows)
  against the reoffences counted by hand with a pandas merge;
- the matching of a gated comparison labelled by row number against the
  same comparison labelled by participant id (the report's old labels).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.discrete.discrete_model import Logit

from cdanalytics._lookup import rows_in
from cdanalytics.matching import gated_comparison
from cdanalytics.matching.propensity import (
    _Logit,
    covariate_parts,
    covariate_patterns,
    join_parts,
    propensity_model,
)
from cdanalytics.reoffending import ReoffendingDefinition, person_outcomes
from cdanalytics.synth import generate


def test_rows_in_equals_get_indexer_for_text_ids():
    rng = np.random.default_rng(3)
    ids = pd.Series([f"P{i:06d}" for i in rng.permutation(50_000)], dtype="str")
    needles = pd.Series(
        [*ids.sample(30_000, random_state=1), "absent", "P999999", None, ""], dtype="str"
    )
    expected = pd.Index(ids).get_indexer(needles)
    found = rows_in(ids, needles)
    np.testing.assert_array_equal(found, expected)
    assert (found[-4:] == -1).all()


def test_rows_in_leaves_other_types_to_pandas():
    ids = pd.Series([10, 20, 30])
    needles = pd.Series(["10", "20"], dtype="str")  # text never matches numbers
    np.testing.assert_array_equal(rows_in(ids, needles), [-1, -1])
    np.testing.assert_array_equal(rows_in(ids, pd.Series([30, 5, 10])), [2, -1, 0])


def _design(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    risk = rng.integers(0, 3, n)
    band = rng.integers(0, 5, n)
    prior = rng.poisson(2.0, n)
    x = np.column_stack(
        [np.ones(n), risk == 1, risk == 2, *(band == k for k in range(1, 5)), prior]
    ).astype(float)
    beta = np.array([-0.8, 0.4, 0.9, 0.1, -0.2, 0.3, -0.4, 0.15])
    y = (rng.random(n) < 1 / (1 + np.exp(-x @ beta))).astype(float)
    return x, y


@pytest.mark.parametrize("seed", [1, 2])
def test_the_caching_logit_fits_exactly_as_statsmodels(seed):
    x, y = _design(40_000, seed)
    ours = _Logit(y, x, check_rank=False).fit(method="newton", maxiter=100, disp=False)
    theirs = Logit(y, x).fit(method="newton", maxiter=100, disp=False)
    np.testing.assert_array_equal(ours.params, theirs.params)
    np.testing.assert_array_equal(ours.bse, theirs.bse)
    assert ours.llf == theirs.llf
    assert ours.mle_retvals["iterations"] == theirs.mle_retvals["iterations"]
    np.testing.assert_array_equal(ours.predict(), theirs.predict())


def test_the_caching_logit_still_warns_of_perfect_separation():
    x = np.column_stack([np.ones(8), [0, 0, 0, 0, 1, 1, 1, 1]]).astype(float)
    y = x[:, 1].copy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _Logit(y, x, check_rank=False).fit(method="newton", maxiter=20, disp=False)
    names = {w.category.__name__ for w in caught}
    assert names & {"PerfectSeparationWarning", "ConvergenceWarning"}


def test_covariate_parts_equal_get_dummies():
    rng = np.random.default_rng(5)
    df = pd.DataFrame(
        {
            "risk_level": pd.Categorical(
                rng.choice(["low", "medium", "high"], 500),
                categories=["low", "medium", "high", "x"],
            ),
            "prior_offences": pd.array(rng.poisson(2, 500), dtype="Int64"),
            "age_band": pd.Series(rng.choice(["18-24", "25-34", "35+"], 500), dtype="str"),
            "flag": rng.random(500) < 0.3,
        }
    )
    covariates = list(df.columns)
    parts = covariate_parts(df, covariates)
    full = join_parts(parts, drop_first=False)
    first_dropped = join_parts(parts, drop_first=True)
    risk = pd.get_dummies(
        df["risk_level"].cat.remove_unused_categories(), prefix="risk_level", dtype=float
    )
    age = pd.get_dummies(df["age_band"].astype("category"), prefix="age_band", dtype=float)
    expected = pd.concat(
        [risk, df["prior_offences"].astype(float), age, df["flag"].astype(float)], axis=1
    )
    pd.testing.assert_frame_equal(full, expected, check_exact=True)
    dropped = expected.drop(columns=["risk_level_low", "age_band_18-24"])
    pd.testing.assert_frame_equal(first_dropped, dropped, check_exact=True)
    assert [levels for _, _, levels in parts] == [
        ["low", "medium", "high"],
        None,
        ["18-24", "25-34", "35+"],
        None,
    ]


@pytest.fixture(scope="module")
def synthetic():
    export, _ = generate(3000, seed=21)
    return export


def test_person_outcomes_counts_the_offences_a_merge_finds(synthetic):
    people = person_outcomes(synthetic)
    events = synthetic.events
    types = ["dv_offence", "violent_offence", "other_offence"]  # the default's (docs)
    assert set(ReoffendingDefinition().counted_event_types) == set(types)
    counted = events[events["event_type"].isin(types)]
    merged = counted.merge(
        people[["participant_id", "index_date", "window_end", "window_eligible_from"]],
        on="participant_id",
        validate="many_to_one",
    )
    in_window = (
        (merged["event_date"] >= merged["index_date"])
        & (merged["event_date"] < merged["window_end"])
        & (merged["proven_date"] < merged["window_eligible_from"])
    ).fillna(False)
    by_hand = merged[in_window.to_numpy(dtype=bool)].groupby("participant_id").size()
    eligible = people[people["window_eligible"].to_numpy(dtype=bool)]
    ours = eligible.set_index("participant_id")["n_offences_in_window"].astype(int)
    expected = by_hand.reindex(ours.index, fill_value=0).astype(int)
    pd.testing.assert_series_equal(ours, expected, check_names=False)
    assert ours.sum() > 50


def test_matching_labelled_by_row_equals_matching_labelled_by_id(synthetic):
    people = person_outcomes(synthetic)
    eligible = people[people["window_eligible"].to_numpy(dtype=bool)]
    options = {"covariates": ["risk_level", "prior_offences", "age_band"], "min_treated": 30}
    by_id = gated_comparison(
        eligible.set_index("participant_id"), "reoffended_in_window", **options
    )
    by_row = gated_comparison(eligible, "reoffended_in_window", **options)
    assert by_id.status == by_row.status
    pd.testing.assert_frame_equal(by_id.summary, by_row.summary, check_exact=True)
    pd.testing.assert_frame_equal(by_id.effect.summary, by_row.effect.summary, check_exact=True)
    pd.testing.assert_frame_equal(by_id.balance, by_row.balance, check_exact=True)
    ids = eligible["participant_id"].to_numpy()
    pairs = by_row.match.pairs
    np.testing.assert_array_equal(
        eligible.loc[pairs["treated_index"], "participant_id"].to_numpy(),
        by_id.match.pairs["treated_index"].to_numpy(),
    )
    assert len(ids) > len(pairs) > 100


def test_propensity_model_with_given_patterns_equals_its_own(synthetic):
    people = person_outcomes(synthetic)
    eligible = people[people["window_eligible"].to_numpy(dtype=bool)]
    covariates = ["risk_level", "prior_offences", "age_band"]
    own = propensity_model(eligible, covariates=covariates)
    shared = propensity_model(
        eligible, covariates=covariates, patterns=covariate_patterns(eligible, covariates)
    )
    pd.testing.assert_frame_equal(own.coefficients, shared.coefficients, check_exact=True)
    pd.testing.assert_frame_equal(own.scores, shared.scores, check_exact=True)
