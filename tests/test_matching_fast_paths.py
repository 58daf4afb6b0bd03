"""The cheaper steps of matching (issue 16) against the plain ones they replace.

Matching a programme with its comparison pool sorts every row by its
propensity score; when the scores are those of a few covariate patterns,
:func:`cdanalytics.matching.nearest._sorted_rows` sorts the patterns' ranks
instead of the scores. The order must be exactly :func:`numpy.lexsort`'s
(stratum, score, row), and a whole matching exactly the same, which these
tests check on random data: ties within and across patterns, exact strata,
scores given by the caller, NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdanalytics.matching import match, nearest


def lexsorted(d: np.ndarray, strata: np.ndarray) -> np.ndarray:
    return np.lexsort((np.arange(len(d)), d, strata))


@pytest.mark.parametrize("block", range(3))
def test_pattern_rank_sort_is_lexsort_on_random_data(block):
    rng = np.random.default_rng(200 + block)
    fast = 0
    for case in range(150):
        n = int(rng.integers(1, 3000))
        k = int(rng.integers(1, 40))
        codes = rng.integers(0, k, n)
        codes = pd.factorize(codes)[0].astype(np.int64)  # first-appearance order
        values = rng.uniform(-3, 3, k)
        if case % 3 == 0:  # patterns with equal scores
            values = np.round(values, 0)
        d = values[codes]
        strata = np.zeros(n, dtype=np.int64)
        if case % 7 == 1:  # exact strata: lexsort
            strata = rng.integers(0, 3, n)
        if case % 11 == 2:  # a score that is not its pattern's
            d = d.copy()
            d[int(rng.integers(0, n))] += 1e-9
        if case % 13 == 3:
            d = d.copy()
            d[int(rng.integers(0, n))] = np.nan
        got = nearest._sorted_rows(d, strata, codes)
        np.testing.assert_array_equal(got, lexsorted(d, strata))
        fast += not strata.any() and np.array_equal(d, values[codes])
    assert fast > 80


def people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    risk = rng.integers(0, 4, n)
    prior = np.minimum(rng.poisson(1.5, n), 6)
    treated = rng.random(n) < 1 / (1 + np.exp(-(-1.6 + 0.5 * risk + 0.2 * prior)))
    return pd.DataFrame(
        {
            "group": np.where(treated, "programme", "comparison"),
            "risk": pd.Categorical(np.array(["low", "mid", "high", "top"])[risk]),
            "prior": prior,
            "age": pd.Categorical(rng.choice(["18-25", "26-35", "36+", "u18"], n)),
            "site": rng.choice(["north", "south"], n),
            "ps": rng.uniform(0.05, 0.95, n),
            "reoffended": rng.random(n) < 0.3,
        },
        index=rng.permutation(n) * 3,
    )


def assert_same_result(fast, plain) -> None:
    for name in ("matched", "pairs", "scores", "balance", "counts", "summary"):
        pd.testing.assert_frame_equal(getattr(fast, name), getattr(plain, name), check_exact=True)
    pd.testing.assert_frame_equal(fast.propensity_model, plain.propensity_model, check_exact=True)
    assert fast.settings == plain.settings


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"caliper": None},
        {"ratio": 2, "distance": "logit"},
        {"exact": ["site"]},
        {"replace": True, "ratio": 3},
        {"score": "ps"},
        {"discard": "both", "caliper": 0.05},
    ],
)
def test_match_is_the_same_with_the_plain_sort(options, monkeypatch):
    df = people(8_000, 5)
    covariates = ["risk", "prior", "age"]
    fast = match(df, covariates=covariates, **options)
    monkeypatch.setattr(nearest, "_sorted_rows", lambda d, strata, codes: lexsorted(d, strata))
    plain = match(df, covariates=covariates, **options)
    assert_same_result(fast, plain)
    assert len(fast.pairs) > 1000
