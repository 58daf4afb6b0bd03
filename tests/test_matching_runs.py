"""Greedy matching a group of tied treated units at a time (issue 16) against
the plain sequential loop, one treated unit at a time.

When the covariates are categories and counts, many people share a
propensity score; :func:`greedy_by_runs` lets each such group choose at once
(bracket matching within its run of equal controls, a merge of the nearest
controls below and above for the rest). It must give exactly the pairs of
:func:`greedy_one_by_one` (MatchIt's order and tie rules), which these tests
check on random data: ties, exact strata, calipers from none to zero, k:1
passes, pools smaller than the treated group, every ``m_order``. Also the
matched pairs' long form (one row per matched person and set) against the
pandas reshaping it replaced.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdanalytics.matching import _greedy, match
from cdanalytics.matching._greedy import (
    SortedUnits,
    _tied_groups,
    greedy_by_runs,
    greedy_one_by_one,
    greedy_without_replacement,
    treated_order,
)
from cdanalytics.matching.effects import long_form


def sorted_units(
    ps: np.ndarray, treated: np.ndarray, strata: np.ndarray, width: float, distance: str
) -> SortedUnits:
    """Units as :func:`cdanalytics.matching.match` sorts them."""
    logit = np.log(ps / (1 - ps))
    d_all = ps if distance == "ps" else logit
    n = len(ps)
    pos = np.empty(n, dtype=np.int64)
    pos[np.lexsort((np.arange(n), d_all, strata))] = np.arange(n)
    t_rows = np.flatnonzero(treated)
    c_rows = np.flatnonzero(~treated)
    c_rows = c_rows[np.argsort(pos[c_rows])]
    left0 = np.searchsorted(pos[c_rows], pos[t_rows]) - 1
    return SortedUnits(
        left0,
        d_all[t_rows],
        logit[t_rows],
        strata[t_rows],
        d_all[c_rows],
        logit[c_rows],
        strata[c_rows],
        width,
    )


def pairs(result: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[tuple[int, int, int]]:
    return sorted(zip(*(a.tolist() for a in result), strict=True))


def consecutive_groups(units: SortedUnits, order: np.ndarray) -> np.ndarray | None:
    """Every run of consecutive equal (stratum, score) in ``order``, whatever its size."""
    d, s = units.d_t[order], units.s_t[order]
    start = np.r_[True, (d[1:] != d[:-1]) | (s[1:] != s[:-1])]
    if np.any(np.diff(units.left0[order])[~start[1:]] < 0):
        return None
    return np.flatnonzero(start)


@pytest.mark.parametrize("block", range(4))
def test_runs_pair_exactly_as_one_by_one_on_random_data(block):
    rng = np.random.default_rng(100 + block)
    checked = automatic = 0
    for case in range(100):
        n = int(rng.integers(20, 1500))
        n_values = int(rng.integers(1, 12))
        values = np.sort(rng.uniform(0.02, 0.98, n_values))
        if case % 3 == 0:  # equal scores across neighbouring values too
            values = np.clip(np.round(values, 1), 0.05, 0.95)
        ps = values[rng.integers(0, n_values, n)]
        treated = rng.random(n) < rng.uniform(0.05, 0.7)  # pools smaller than groups too
        if treated.all() or not treated.any():
            continue
        if case % 5 == 1:  # the treated rows first (as in the report), or last
            treated = np.sort(treated)[:: 1 if case % 2 else -1]
        strata = rng.integers(0, int(rng.integers(1, 4)), n)
        width = [np.inf, 0.0, rng.uniform(0, 1), rng.uniform(0, 0.2)][case % 4]
        units = sorted_units(ps, treated, strata, width, ["ps", "logit"][case % 2])
        m_order = ["largest", "smallest", "data", "random"][(case // 4) % 4]
        order = treated_order(units.d_t, m_order, case)
        ratio = int(rng.integers(1, 4))
        expected = pairs(greedy_one_by_one(units, order, ratio))
        first = _tied_groups(units, order)
        automatic += first is not None
        first = consecutive_groups(units, order) if first is None else first
        if first is None:
            continue
        assert pairs(greedy_by_runs(units, order, ratio, first)) == expected, case
        assert pairs(greedy_without_replacement(units, order, ratio)) == expected, case
        checked += 1
    assert checked > 60 and automatic > 8


def test_runs_are_not_used_where_scores_hardly_tie():
    rng = np.random.default_rng(9)
    ps = rng.uniform(0.1, 0.9, 500)
    treated = rng.random(500) < 0.3
    units = sorted_units(ps, treated, np.zeros(500, dtype=np.int64), 0.1, "ps")
    assert _tied_groups(units, treated_order(units.d_t, "largest", None)) is None


def test_an_infinite_caliper_score_goes_one_by_one():
    ps = np.array([0.3, 0.3, 0.3, 0.3] * 10)
    treated = np.array([True, False, False, False] * 10)
    units = sorted_units(ps, treated, np.zeros(40, dtype=np.int64), np.inf, "ps")
    units = units._replace(c_c=np.full(30, -np.inf))
    assert _tied_groups(units, treated_order(units.d_t, "largest", None)) is None


@pytest.mark.parametrize(
    "options",
    [{}, {"caliper": None}, {"ratio": 3}, {"exact": ["site"]}, {"caliper": 0.01, "ratio": 2}],
)
def test_match_pairs_the_same_with_and_without_runs(options, monkeypatch):
    rng = np.random.default_rng(11)
    n = 12_000
    risk = rng.integers(0, 4, n)
    prior = np.minimum(rng.poisson(1.5, n), 6)
    treated = rng.random(n) < 1 / (1 + np.exp(-(-2.0 + 0.5 * risk + 0.2 * prior)))
    df = pd.DataFrame(
        {
            "group": np.where(treated, "programme", "comparison"),
            "risk": pd.Categorical(np.array(["low", "mid", "high", "top"])[risk]),
            "prior": prior,
            "site": rng.choice(["north", "south"], n),
        }
    )
    fast = match(df, covariates=["risk", "prior"], **options)
    calls = []
    monkeypatch.setattr(_greedy, "_tied_groups", lambda *a: calls.append(1))
    plain = match(df, covariates=["risk", "prior"], **options)
    assert calls  # the plain loop ran
    pd.testing.assert_frame_equal(fast.pairs, plain.pairs, check_exact=True)
    pd.testing.assert_frame_equal(fast.balance, plain.balance, check_exact=True)
    assert len(fast.pairs) > 1000


@pytest.mark.parametrize("options", [{"ratio": 2}, {"replace": True, "ratio": 3}])
def test_long_form_equals_the_pandas_reshaping_of_the_pairs(options):
    rng = np.random.default_rng(12)
    n = 3_000
    risk = rng.integers(0, 4, n)
    treated = rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 0.5 * risk)))
    df = pd.DataFrame(
        {
            "group": np.where(treated, "programme", "comparison"),
            "risk": pd.Categorical(np.array(["low", "mid", "high", "top"])[risk]),
            "age": rng.normal(35, 9, n),
            "outcome": rng.integers(0, 2, n),
        },
        index=[f"P{i}" for i in rng.permutation(n)],
    )
    result = match(df, covariates=["risk", "age"], **options)
    pairs = result.pairs
    k = pairs.groupby("subclass").size()
    first = pairs.drop_duplicates("subclass")
    expected = pd.concat(
        [
            pd.DataFrame(
                {
                    "subclass": first["subclass"].to_numpy(),
                    "unit": first["treated_index"].to_numpy(),
                    "treated": 1.0,
                    "pair_weight": 1.0,
                }
            ),
            pd.DataFrame(
                {
                    "subclass": pairs["subclass"].to_numpy(),
                    "unit": pairs["control_index"].to_numpy(),
                    "treated": 0.0,
                    "pair_weight": 1.0 / k.loc[pairs["subclass"]].to_numpy(),
                }
            ),
        ],
        ignore_index=True,
    )
    expected["outcome"] = result.matched.loc[expected["unit"], "outcome"].to_numpy()
    ours = long_form(result, ["outcome"])
    pd.testing.assert_frame_equal(ours, expected, check_exact=True)
    assert (ours["pair_weight"] < 1).any()
