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
from cdanalytics.matching.gates import shared_support
from cdanalytics.matching.propensity import covariate_patterns


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


def test_unique_labels_as_pandas_says_on_random_indexes():
    rng = np.random.default_rng(7)
    for case in range(300):
        n = int(rng.integers(0, 400))
        spread = [1, 2, 20, 10**6][case % 4]
        values = rng.integers(-spread * n - 5, spread * n + 5, n)
        if case % 3 == 0:
            values = rng.permutation(n) * spread - 7
        dtype = [np.int64, np.int32, np.uint32][case % 3]
        if dtype is np.uint32:
            values = np.abs(values)
        index = pd.Index(values.astype(dtype))
        assert nearest._is_unique(index) == index.is_unique, case
    for index in (pd.RangeIndex(5), pd.Index(["a", "b", "a"]), pd.Index([1.0, 1.0])):
        assert nearest._is_unique(index) == index.is_unique


def shared_support_by_factorize(df, covariates, treated):
    """:func:`shared_support` as it was: every categorical covariate factorized."""
    keep = np.ones(len(df), dtype=bool)
    categorical = [c for c in covariates if not pd.api.types.is_numeric_dtype(df[c])]
    codes = []
    for column in categorical:
        code, levels = pd.factorize(df[column], use_na_sentinel=True)
        codes.append((np.where(code < 0, len(levels), code), len(levels) + 1))
    for _ in range(len(categorical) + 1):
        before = keep.sum()
        for code, k in codes:
            in_treated = np.bincount(code[keep & treated], minlength=k) > 0
            in_pool = np.bincount(code[keep & ~treated], minlength=k) > 0
            keep &= (in_treated & in_pool)[code]
        if keep.sum() == before:
            break
    return keep, treated & ~keep


def test_shared_support_by_category_codes_as_by_factorizing():
    rng = np.random.default_rng(8)
    set_aside = 0
    for case in range(120):
        n = int(rng.integers(5, 600))
        treated = rng.random(n) < rng.uniform(0.1, 0.9)
        df = pd.DataFrame(
            {
                "a": pd.Categorical(
                    rng.choice(["x", "y", "z", None], n, p=[0.5, 0.3, 0.15, 0.05]),
                    categories=["w", "x", "y", "z"],  # an unused one too
                ),
                "b": rng.choice(["p", "q", "r", "s"], n, p=[0.6, 0.3, 0.08, 0.02]),
                "c": pd.Categorical(rng.integers(0, 1 + case % 6, n)),
                "d": rng.integers(0, 5, n),
            }
        )
        covariates = ["a", "b", "c", "d"]
        got = shared_support(df, covariates, treated)
        expected = shared_support_by_factorize(df, covariates, treated)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
        set_aside += not expected[0].all()
    assert set_aside > 30


@pytest.mark.parametrize("seed", range(3))
def test_covariate_patterns_are_the_rows_distinct_combinations(seed):
    rng = np.random.default_rng(seed)
    n = 5_000
    df = pd.DataFrame(
        {
            "risk": pd.Categorical(rng.choice(["low", "mid", "high"], n)),
            "prior": pd.array(rng.integers(-2, 9, n), dtype="Int64"),
            "children": rng.integers(0, 4, n).astype(np.uint8),
            "big": rng.integers(0, 10**12, n),  # too wide a range: factorized
            "text": rng.choice(["a", "b"], n),
        }
    )
    covariates = ["risk", "prior", "children", "text"] + (["big"] if seed == 2 else [])
    patterns = covariate_patterns(df, covariates)
    expected = df.groupby(covariates, sort=False, observed=True).ngroup().to_numpy()
    np.testing.assert_array_equal(patterns.codes, expected)
    np.testing.assert_array_equal(patterns.counts, np.bincount(expected))
    first = pd.Series(np.arange(n)).groupby(expected).first().to_numpy()
    for (name, frame, _), column in zip(patterns.parts, covariates, strict=True):
        assert name == column
        assert frame.index.equals(df.index[first])


def test_programme_and_exit_of_each_starter_by_codes_as_by_text():
    # the report's matching finds each starter's programme and exit by codes_in
    from cdanalytics._lookup import codes_in

    rng = np.random.default_rng(12)
    exits = ["completed", "dropped_out", "excluded", "ongoing", None]
    for _ in range(40):
        n = int(rng.integers(0, 300))
        values = rng.choice(exits, n)
        categorical = pd.Series(pd.Categorical(values, categories=[*exits[:4], "unused"]))
        text = pd.Series(values, dtype="string")
        for series in (categorical, text):
            for labels in (["completed", "dropped_out", "excluded"], ["unused", "absent"]):
                codes = codes_in(series, labels)
                for place, label in enumerate(labels):
                    expected = (series.astype("string") == label).fillna(False).to_numpy()
                    np.testing.assert_array_equal(codes == place, expected)
                assert ((codes >= 0) == series.astype("string").isin(labels).fillna(False)).all()


def test_positions_and_distinct_units_as_pandas_on_random_labels():
    from cdanalytics.matching.effects import _n_distinct, _positions

    rng = np.random.default_rng(13)
    for case in range(300):
        n = int(rng.integers(1, 300))
        spread = [1, 3, 40, 10**7][case % 4]
        index = pd.Index(rng.permutation(np.unique(rng.integers(-5, spread * n + 5, n))))
        n = len(index)
        if case % 5 == 1:
            index = pd.Index(index.to_numpy().astype(np.uint32) + 7)
        if case % 7 == 2:
            index = pd.RangeIndex(3, 3 + n)
        pick = rng.integers(0, n, int(rng.integers(1, 400)))
        labels = pd.Series(index.to_numpy()[pick])
        if case % 3 == 0:  # some labels not in the index
            extra = np.array([-100, spread * n + 99, 10**9])
            labels = pd.Series(np.r_[labels.to_numpy().astype(np.int64), extra])
        np.testing.assert_array_equal(_positions(index, labels), index.get_indexer(labels))
        assert _n_distinct(labels) == labels.nunique()
    for labels in (pd.Series([1.5, np.nan, 1.5]), pd.Series(["a", "b", "a"])):
        assert _n_distinct(labels) == labels.nunique()
    with pytest.raises(pd.errors.InvalidIndexError):  # a repeated label: as pandas
        _positions(pd.Index([1, 2, 2]), pd.Series([1]))
