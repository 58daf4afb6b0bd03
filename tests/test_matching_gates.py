"""Gates around a matched comparison (``cdanalytics.matching.gates``).

Each gate is checked against an independent computation: the reasons
unmatched people have no match against a brute-force search over every
(treated, comparison) pair, the balance verdict against standardised mean
differences computed here with NumPy from the matched pairs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdanalytics.errors import ConfigError
from cdanalytics.matching import (
    UNMATCHED_REASONS,
    balance_gate,
    gated_comparison,
    match,
    unmatched_reasons,
)


def _people(n_t: int, n_c: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Treated and comparison rows with a given score, an outcome and a covariate ``z``
    unrelated to the score; ``shift`` moves the treated group's ``z``."""
    rng = np.random.default_rng(seed)
    n = n_t + n_c
    treated = np.r_[np.ones(n_t, bool), np.zeros(n_c, bool)]
    return pd.DataFrame(
        {
            "group": np.where(treated, "programme", "comparison"),
            "score": rng.uniform(0.05, 0.95, n),
            "z": rng.normal(0, 1, n) + shift * treated,
            "stratum": rng.choice(["a", "b"], n),
            "y": (rng.uniform(size=n) < 0.3).astype(int),
        },
        index=pd.Index([f"P{i}" for i in range(n)], name="participant_id"),
    )


# --------------------------------------------------------------------------- minimum cohort


def test_a_group_under_the_minimum_is_not_computed_and_says_why():
    df = _people(59, 300, seed=1)
    gated = gated_comparison(df, "y", covariates=["z"], score="score")
    assert gated.status == "not_computed"
    assert gated.reason == "too_few_treated"
    assert gated.match is None and gated.effect is None and not gated.publishable
    row = gated.summary.iloc[0]
    assert (row["n_treated"], row["min_treated"], row["status"]) == (59, 60, "not_computed")
    at_minimum = gated_comparison(_people(60, 300, seed=1), "y", covariates=["z"], score="score")
    assert at_minimum.status != "not_computed"
    assert at_minimum.effect is not None
    lower = gated_comparison(df, "y", covariates=["z"], score="score", min_treated=20)
    assert lower.status != "not_computed"


def test_no_comparison_pool_is_not_computed():
    df = _people(80, 0, seed=2)
    gated = gated_comparison(df, "y", covariates=["z"], score="score")
    assert (gated.status, gated.reason) == ("not_computed", "no_comparison_pool")


@pytest.mark.parametrize(
    "bad",
    [{"min_treated": 0}, {"min_treated": 2.5}, {"balance_flag": 0.3}, {"balance_flag": 0}],
)
def test_bad_thresholds_are_config_errors(bad):
    with pytest.raises(ConfigError):
        gated_comparison(_people(70, 70, seed=3), "y", covariates=["z"], score="score", **bad)


# --------------------------------------------------------------------------- unmatched reasons


def _brute_reasons(df: pd.DataFrame, result, exact: list[str] | None) -> pd.Series:
    """Reason per treated row by checking every comparison row (O(n^2), independent)."""
    s = result.scores
    col = "propensity_score" if result.settings["caliper_scale"] == "ps" else "logit_ps"
    width = result.settings["caliper_width"]
    width = np.inf if width is None else width
    out = {}
    for i in s.index[s["treated"]]:
        if s.loc[i, "matched"]:
            out[i] = "matched"
            continue
        if s.loc[i, "discarded"]:
            out[i] = "outside_common_support"
            continue
        same = ~s["treated"] & ~s["discarded"]
        if exact:
            same &= (df[exact] == df.loc[i, exact]).all(axis=1)
        pool = s.loc[same, col].to_numpy()
        x = s.loc[i, col]
        if pool.size and np.any(np.abs(pool - x) <= width):
            out[i] = "comparisons_used_up"
        elif pool.size == 0 or x < pool.min() or x > pool.max():
            out[i] = "outside_common_support"
        else:
            out[i] = "no_comparison_within_caliper"
    return pd.Series(out)


@pytest.mark.filterwarnings("ignore:fewer comparison rows")
@pytest.mark.parametrize(
    "options",
    [
        {"caliper": 0.05},
        {"caliper": 0.2, "exact": ["stratum"]},
        {"caliper": 0.02, "caliper_scale": "ps", "discard": "treated"},
        {"caliper": 0.1, "replace": True},
        {"caliper": None},
    ],
)
def test_unmatched_reasons_equal_a_brute_force_search(options):
    # treated scores spread wider than the pool's, which has a gap: every reason occurs
    rng = np.random.default_rng(7)
    df = _people(300, 120, seed=5)
    pool = rng.uniform(0.3, 0.6, 120)
    df.loc[df["group"] == "comparison", "score"] = np.where(pool > 0.45, pool + 0.1, pool)
    result = match(df, covariates=["z"], score="score", **options)
    table = unmatched_reasons(result, df)
    expected = _brute_reasons(df, result, options.get("exact")).value_counts()
    assert list(table["reason"]) == list(UNMATCHED_REASONS)
    for row in table.itertuples():
        assert row.n == expected.get(row.reason, 0), row.reason
        assert row.share == pytest.approx(row.n / 300)
    assert table["n"].sum() == 300
    if options.get("caliper") == 0.05:  # the reasons the test is about all occur
        assert (table.set_index("reason")["n"] > 0).all()


# --------------------------------------------------------------------------- balance gate


def _smd_after(result, df: pd.DataFrame, column: str) -> float:
    """SMD of ``column`` after matching, from the pairs (MatchIt's ATT definition)."""
    pairs = result.pairs
    treated_rows = df.loc[pairs["treated_index"].unique(), column].to_numpy(float)
    k = pairs.groupby("subclass")["control_index"].transform("size").to_numpy()
    control = df.loc[pairs["control_index"], column].to_numpy(float)
    mean_c = np.sum(control / k) / np.sum(1 / k)
    sd = df.loc[df["group"] == "programme", column].std(ddof=1)
    return (treated_rows.mean() - mean_c) / sd


@pytest.mark.parametrize(
    ("shift", "status"), [(0.0, "computed"), (0.18, "flagged"), (0.6, "withheld")]
)
def test_balance_flags_above_0_1_and_withholds_above_0_25(shift, status):
    df = _people(400, 1200, seed=11, shift=shift)
    gated = gated_comparison(df, "y", covariates=["z"], score="score")
    smd = _smd_after(gated.match, df, "z")
    expected = "withheld" if abs(smd) > 0.25 else "flagged" if abs(smd) > 0.1 else "computed"
    assert gated.status == expected == status, smd
    row = gated.balance.set_index("covariate").loc["z"]
    assert row["abs_smd_after"] == pytest.approx(abs(smd))
    assert gated.summary.loc[0, "max_abs_smd_after"] == pytest.approx(abs(smd))
    assert gated.publishable == (status != "withheld")
    assert (gated.reason is None) == (status == "computed")
    # the score's own row is shown but never gates
    score_row = gated.balance.set_index("covariate").loc["propensity_score"]
    assert not score_row["flagged"]


def test_thresholds_are_configurable():
    df = _people(400, 1200, seed=11, shift=0.18)
    loose = gated_comparison(
        df, "y", covariates=["z"], score="score", balance_flag=0.3, balance_withhold=0.5
    )
    strict = gated_comparison(
        df, "y", covariates=["z"], score="score", balance_flag=0.01, balance_withhold=0.02
    )
    assert (loose.status, strict.status) == ("computed", "withheld")


def test_a_category_the_treated_group_lacks_is_caught_with_the_pooled_sd():
    balance = pd.DataFrame(
        {
            "covariate": ["propensity_score", "age_band", "age_band"],
            "level": ["", "16-17", "25-34"],
            "binary": [False, True, True],
            "mean_treated_before": [0.5, 1.0, 0.0],
            "mean_control_before": [0.4, 0.5, 0.5],
            "mean_treated": [0.5, 1.0, 0.0],
            "mean_control": [0.5, 0.8, 0.2],
            "sd_denominator": [0.2, 0.0, 0.0],
            "smd_before": [0.5, np.inf, -np.inf],
            "smd_after": [0.0, np.inf, -np.inf],
        }
    )
    out = balance_gate(balance)
    pooled = np.sqrt((0 + 0.25) / 2)  # treated p(1-p) = 0, comparison 0.5 x 0.5
    np.testing.assert_allclose(out["abs_smd_after"], [0.0, 0.2 / pooled, 0.2 / pooled])
    assert list(out["withholds"]) == [False, True, True]
