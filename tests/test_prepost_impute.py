"""cdanalytics.prepost.impute and change(missing="impute"): multiple imputation of
missing post scores, pooled by Rubin's rules, against the known truth of synthetic
data, a hand-worked pooling and statsmodels' MICE pooling."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from _prepost_fixtures import make_export, pairs_to_rows
from scipy import stats
from statsmodels.imputation.mice import MICE, MICEData

from cdanalytics.errors import ConfigError
from cdanalytics.io.export import Export
from cdanalytics.prepost import (
    IMPUTED_CHANGE_COLUMNS,
    IMPUTED_RELIABLE_CHANGE_COLUMNS,
    change,
    imputation_predictors,
    impute_second_scores,
    reliable_change,
    reliable_change_summary,
    rubin_pool,
    score_table,
)

# Synthetic programme: change = -5 - 10 x attendance + noise, so the true mean change
# is -5 - 10 E[a] = -10 with attendance a ~ U(0, 1). The post score is observed with
# probability a (missing at random given attendance): completers have E[a | observed] =
# E[a^2] / E[a] = 2/3, so their expected change is -5 - 20/3, biased by -5/3.
TRUE_CHANGE = -10.0
COMPLETER_BIAS = -5 / 3


def mar_export(n: int, seed: int) -> Export:
    rng = np.random.default_rng(seed)
    attendance = rng.uniform(0, 1, n)
    pre = rng.normal(50, 10, n)
    post = pre - 5 - 10 * attendance + rng.normal(0, 5, n)
    post[rng.uniform(0, 1, n) > attendance] = np.nan
    participants = pd.DataFrame(
        {
            "participant_id": [f"p{i}" for i in range(n)],
            "attendance_rate": attendance,
            "exit_status": np.where(np.isnan(post), "dropped_out", "completed"),
        }
    )
    return make_export(pairs_to_rows(pre, post), participants)


@pytest.fixture(scope="module")
def mar():
    return mar_export(4000, 11)


def test_imputed_change_covers_the_truth_and_completers_are_biased(mar):
    imputed = change(mar, missing="impute", m=20, seed=3).iloc[0]
    complete = change(mar).iloc[0]
    assert imputed["change_ci_low"] <= TRUE_CHANGE <= imputed["change_ci_high"]
    # The completer interval misses the truth, shifted by about the expected bias.
    assert complete["change_ci_high"] < TRUE_CHANGE
    shift = complete["mean_change"] - TRUE_CHANGE
    assert shift == pytest.approx(COMPLETER_BIAS, abs=4 * complete["mean_change"] / complete["t"])
    assert abs(imputed["mean_change"] - TRUE_CHANGE) < abs(shift) / 3
    assert imputed["n_analysed"] == 4000
    assert imputed["n_paired"] + imputed["n_imputed"] == 4000
    assert imputed["n_paired"] == complete["n_paired"]
    assert 0 < imputed["fmi"] < 1


def test_imputed_interval_covers_at_about_the_nominal_rate():
    covered = [
        (lambda r: r["change_ci_low"] <= TRUE_CHANGE <= r["change_ci_high"])(
            change(mar_export(600, seed), missing="impute", m=10, seed=seed).iloc[0]
        )
        for seed in range(40)
    ]
    # 95% intervals: 40 replications cover 34 or more times with probability > 0.99.
    assert sum(covered) >= 34


def test_imputed_result_has_its_columns_and_records_the_model(mar):
    result = change(mar, missing="impute", m=5, seed=1)
    assert list(result.columns) == IMPUTED_CHANGE_COLUMNS
    assert result.attrs["imputation"]["m"] == 5
    assert result.attrs["imputation"]["predictors"] == [
        "pre",
        "programme",
        "attendance_rate",
        "exit_status",
    ]
    assert result.loc[0, "missing"] == "impute"


def test_same_seed_same_result_and_complete_default_unchanged(mar):
    a = change(mar, missing="impute", m=4, seed=9)
    b = change(mar, missing="impute", m=4, seed=9)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(change(mar), change(mar, missing="complete"))


def test_nothing_missing_gives_the_completer_estimate_and_no_between_variance():
    pre = np.array([10.0, 12, 15, 9, 11, 14])
    post = np.array([8.0, 12, 11, 9, 7, 13])
    export = make_export(pairs_to_rows(pre, post))
    result = change(export, missing="impute", m=3, seed=0).iloc[0]
    ref = stats.ttest_rel(post, pre)
    ci = ref.confidence_interval()
    assert result["between_variance"] == 0
    assert result["mean_change"] == pytest.approx(np.mean(post - pre))
    assert result["df"] == len(pre) - 1
    assert [result["change_ci_low"], result["change_ci_high"]] == pytest.approx([ci.low, ci.high])
    assert result["p_value"] == pytest.approx(ref.pvalue)


def test_rubin_pooling_of_three_imputations_by_hand():
    # Three imputations of one mean from n = 21 (complete-data df 20).
    q = np.array([[2.0], [2.6], [1.7]])
    u = np.array([[0.25], [0.36], [0.29]])
    pooled = rubin_pool(q, u, df_complete=20)
    qbar = 6.3 / 3  # 2.1
    w = 0.90 / 3  # 0.30
    b = ((2.0 - 2.1) ** 2 + (2.6 - 2.1) ** 2 + (1.7 - 2.1) ** 2) / 2  # 0.21
    t = w + (4 / 3) * b  # 0.58
    lam = (4 / 3) * b / t
    df_old = 2 / lam**2
    df_obs = (21 / 23) * 20 * (1 - lam)
    df = 1 / (1 / df_old + 1 / df_obs)
    riv = (4 / 3) * b / w
    for key, value in {
        "estimate": qbar,
        "within_variance": w,
        "between_variance": b,
        "total_variance": t,
        "se": np.sqrt(t),
        "lambda": lam,
        "riv": riv,
        "df": df,
        "fmi": (riv + 2 / (df + 3)) / (1 + riv),
        "ci_high": qbar + stats.t.ppf(0.975, df) * np.sqrt(t),
    }.items():
        assert pooled[key][0] == pytest.approx(value, rel=1e-12), key
    assert pooled["t"][0] == pytest.approx(2.1 / np.sqrt(0.58))


def test_rubin_pooling_agrees_with_statsmodels_mice_combine():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"y": rng.normal(size=80), "x": rng.normal(size=80)})
    frame.loc[rng.uniform(size=80) < 0.3, "y"] = np.nan
    mice = MICE("y ~ x", sm.OLS, MICEData(frame))
    results = mice.fit(n_burnin=2, n_imputations=6)
    fits = mice.results_list
    q = np.array([f.params.to_numpy() for f in fits])
    u = np.array([np.diag(f.cov_params()) for f in fits])
    pooled = rubin_pool(q, u)
    np.testing.assert_allclose(pooled["estimate"], results.params, rtol=1e-12)
    np.testing.assert_allclose(pooled["total_variance"], np.diag(results.cov_params()), rtol=1e-12)
    np.testing.assert_allclose(pooled["lambda"], results.frac_miss_info, rtol=1e-12)
    # With infinite complete-data df, Barnard-Rubin reduces to Rubin's (m - 1) / lambda^2.
    np.testing.assert_allclose(pooled["df"], 5 / results.frac_miss_info**2, rtol=1e-12)


def test_rubin_pool_rejects_a_single_imputation():
    with pytest.raises(ConfigError):
        rubin_pool(np.ones((1, 2)), np.ones((1, 2)))


def test_imputations_draw_the_model_parameters_not_just_predicted_means(mar):
    wide = score_table(mar)
    predictors = imputation_predictors(mar, wide)
    draws = impute_second_scores(wide, "pre", "post", predictors, m=200, seed=2)
    missing = draws.imputed
    assert (draws.scores[:, ~missing] == wide["post"].to_numpy()[~missing]).all()
    assert not np.isnan(draws.scores[:, missing]).any()
    # Proper imputation: the spread of the per-imputation mean of the imputed values
    # exceeds the residual noise alone (sigma / sqrt(n_missing)), because the
    # coefficients are drawn too.
    means = draws.scores[:, missing].mean(axis=1)
    noise_only = 5 / np.sqrt(missing.sum())
    assert means.std(ddof=1) > 1.5 * noise_only


def test_attendance_rate_comes_from_sessions():
    export = make_export(pairs_to_rows([10.0, 12.0], [9.0, np.nan]))
    sessions = pd.DataFrame(
        {
            "participant_id": ["p0", "p0", "p0", "p0", "p1", "p1"],
            "attendance": ["attended", "attended", "attended", "unexcused", "excused", "attended"],
        }
    )
    export = replace(export, sessions=sessions)
    table = imputation_predictors(export, score_table(export), ["attendance_rate"])
    assert table["attendance_rate"].tolist() == [0.75, 0.5]
    with pytest.raises(ConfigError):
        imputation_predictors(export, score_table(export), ["shoe_size"])


def test_missing_option_is_checked(mar):
    with pytest.raises(ConfigError):
        change(mar, missing="drop")
    with pytest.raises(ConfigError):
        change(mar, missing="impute", m=1)


def test_reliable_change_shares_are_pooled_over_imputations(mar):
    pooled = reliable_change(mar, missing="impute", m=10, seed=4)
    complete = reliable_change(mar)
    n_pre = int(complete["score_pre"].notna().sum())
    assert (pooled["n_classified"] == n_pre).all()
    shares = pooled.groupby("baseline", observed=True)["rate"].sum()
    assert np.allclose(shares, 1.0)
    spread = pooled["se"] > 0
    inside = (pooled["ci_low"] <= pooled["rate"]) & (pooled["rate"] <= pooled["ci_high"])
    assert inside[spread].all()
    assert pooled.loc[~spread, ["ci_low", "ci_high"]].isna().all().all()
    assert pooled["fmi"][spread].between(0, 1).all()


def test_reliable_change_pools_the_shares_of_each_completed_data_set(mar):
    pooled = reliable_change(mar, missing="impute", m=6, seed=21)
    assert list(pooled.columns) == IMPUTED_RELIABLE_CHANGE_COLUMNS
    wide = score_table(mar)
    draws = impute_second_scores(
        wide, "pre", "post", imputation_predictors(mar, wide), m=6, seed=21
    )
    rates = np.array(
        [
            reliable_change_summary(reliable_change(wide.assign(post=draws.scores[j])))[
                "rate"
            ].to_numpy()
            for j in range(6)
        ]
    )
    np.testing.assert_allclose(pooled["rate"], rates.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(pooled["between_variance"], rates.var(axis=0, ddof=1), atol=1e-15)
    assert (pooled["n_imputed"] == draws.imputed.sum()).all()


def _moments_from_every_copy(wide, predictors, codes, n_groups, m, seed):
    """The pooled inputs as change(missing="impute") made them before: the (m, rows)
    completed scores of impute_second_scores, each summed by np.bincount over all rows."""
    from cdanalytics.prepost._grouping import grouped_moments

    imputed = impute_second_scores(wide, "pre", "post", predictors, m=m, seed=seed)
    x = wide["pre"].to_numpy()
    has_x = ~np.isnan(x)
    rows = codes[has_x]
    n = np.bincount(rows, minlength=n_groups).astype(float)
    out = {k: np.empty((m, n_groups)) for k in ("estimates", "variances", "post_means")}
    for j in range(m):
        y = imputed.scores[j, has_x]
        _, mean, sd = grouped_moments(rows, n_groups, y - x[has_x])
        out["estimates"][j] = mean
        with np.errstate(divide="ignore", invalid="ignore"):
            out["variances"][j] = sd**2 / n
        out["post_means"][j] = np.bincount(rows, weights=y, minlength=n_groups) / np.maximum(n, 1)
    return n, out, imputed.imputed


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_imputed_moments_equal_those_of_every_completed_copy(seed):
    """The group-at-a-time sums of change(missing="impute") are bit for bit those of
    the (m, rows) table of completed scores: the same random draws, the same additions."""
    from cdanalytics.prepost._grouping import group_codes
    from cdanalytics.prepost._imputed_moments import _imputed_moments

    rng = np.random.default_rng(seed)
    n = 3000
    scale = rng.choice(["a", "b", "c", "d"], n).astype(object)
    pre = rng.normal(20, 5, n)
    pre[rng.uniform(size=n) < 0.1] = np.nan
    post = pre - 2 + rng.normal(0, 3, n)
    post[(rng.uniform(size=n) < 0.4) & (scale != "d")] = np.nan  # "d": nothing to impute
    post[(scale == "c") & np.isnan(pre)] = 7.0  # post-only rows
    site = rng.choice(["s1", "s2", "s3"], n)
    site[:2], scale[:2], pre[:2], post[:2] = "tiny", ["a", "b"], [20.0, np.nan], [np.nan, 5.0]
    wide = pd.DataFrame(
        {
            "participant_id": [f"p{i}" for i in range(n)],
            "instrument": pd.Categorical(np.where(scale == "d", "j", "i")),
            "scale": pd.Categorical(scale),
            "informant": pd.Categorical(["father"] * n),
            "site": pd.Categorical(site),
            "pre": pre,
            "post": post,
        }
    )
    predictors = pd.DataFrame(
        {
            "site": wide["site"],
            "risk": pd.Categorical(rng.choice(["low", "high", None], n)),
            "rate": np.where(rng.uniform(size=n) < 0.05, np.nan, rng.uniform(size=n)),
        }
    )
    codes, keys = group_codes(wide, ["site", "instrument", "scale", "informant"])
    got = _imputed_moments(wide, "pre", "post", predictors, codes, len(keys), 6, seed)
    n_rows, want, imputed = _moments_from_every_copy(wide, predictors, codes, len(keys), 6, seed)
    assert np.array_equal(got["n"], n_rows)
    assert np.array_equal(got["imputed"], imputed)
    for name, values in want.items():
        assert values.shape == got[name].shape
        assert np.array_equal(values.view(np.int64), got[name].view(np.int64)), name
    # the mean first score of every group: that of the sums over all rows at once
    from cdanalytics.prepost._grouping import grouped_moments

    has_x = wide["pre"].notna().to_numpy()
    mean_pre = grouped_moments(codes[has_x], len(keys), wide["pre"].to_numpy()[has_x])[1]
    assert np.array_equal(mean_pre.view(np.int64), got["mean_pre"].view(np.int64))
    # a group of one row (no SD) and one without a first score are in the test
    assert np.isnan(want["variances"]).any() and (n_rows == 0).any()


@pytest.mark.parametrize("order", ["table", "shuffled", "stranger"])
@pytest.mark.parametrize("categorical", [True, False])
@pytest.mark.parametrize("block", [None, 1, 2, 3])
def test_predictors_are_those_of_a_merge_on_the_identifier(order, categorical, block, monkeypatch):
    """imputation_predictors of an export: each row's participant columns and share of
    sessions attended, as a plain pandas merge on participant_id gives them, whether
    the score table's rows follow the participants (looked up without hashing) or not,
    and whether the sessions, measures and identifiers are read in blocks of 1, 2 or 3
    rows or in one."""
    if block is not None:
        monkeypatch.setattr("cdanalytics._lookup.BLOCK_ROWS", block)
    rng = np.random.default_rng(7)
    n = 400
    ids = [f"id{i:04d}" for i in rng.permutation(n)]
    rows = []
    for i, pid in enumerate(ids):
        if i % 7 == 3:
            continue  # nobody's measures: not in the score table
        for scale in ("a", "b")[: 1 + i % 2]:
            rows.append((pid, "sdq", scale, "father", "pre", float(i)))
    participants = pd.DataFrame(
        {
            "participant_id": ids,
            "risk_level": pd.Categorical(rng.choice(["low", "high", None], n)),
            "exit_status": rng.choice(["completed", "dropped_out"], n),
        }
    )
    base = make_export(rows, participants)
    labels = rng.choice(["attended", "excused", "unexcused", None], 3000)
    sessions = pd.DataFrame(
        {
            "participant_id": rng.choice(ids, 3000),
            "attendance": pd.Categorical(labels) if categorical else labels.astype(object),
        }
    )
    sessions.loc[[4, 5], "participant_id"] = "ghost"  # sessions of nobody in participants
    export = replace(base, sessions=sessions)
    wide = score_table(export)
    if order == "shuffled":
        wide = wide.sample(frac=1, random_state=1).reset_index(drop=True)
    elif order == "stranger":  # an id the participants do not have: missing predictors
        wide["participant_id"] = wide["participant_id"].astype(object)
        wide.loc[5, "participant_id"] = "nobody"
    got = imputation_predictors(export, wide, ["risk_level", "attendance_rate"])
    rate = (
        sessions.assign(hit=sessions["attendance"].astype(object).eq("attended"))
        .groupby("participant_id")["hit"]
        .mean()
    )
    want = wide[["participant_id"]].merge(
        participants[["participant_id", "risk_level"]], on="participant_id", how="left"
    )
    want["attendance_rate"] = want["participant_id"].map(rate).astype(float)
    assert got["risk_level"].astype(object).equals(want["risk_level"].astype(object))
    np.testing.assert_array_equal(got["attendance_rate"], want["attendance_rate"])
    assert got["attendance_rate"].notna().sum() > 300


@pytest.mark.parametrize("by", [None, "programme"])
def test_export_and_its_score_table_with_the_same_predictors_impute_alike(by):
    """change(export, missing="impute") numbers its groups from the export's layout;
    the score table passed in, with the export's predictors as its own columns, is
    grouped afresh: the same model, draws and sums, so the same table bit for bit."""
    rng = np.random.default_rng(5)
    n = 1500
    attendance = rng.uniform(0, 1, n)
    rows = []
    series = (("sdq", "total", -4.0), ("cts2", "negotiation", 1.0), ("cts2", "injury", 0.0))
    for instrument, scale, shift in series:
        pre = rng.normal(20, 4, n)
        pre[rng.uniform(size=n) < 0.1] = np.nan
        post = pre + shift - 3 * attendance + rng.normal(0, 2, n)
        post[rng.uniform(size=n) > attendance] = np.nan
        keep = rng.uniform(size=n) < 0.8  # not everyone has every scale: no tiled layout
        rows += pairs_to_rows(pre[keep], post[keep], instrument, scale, prefix="p")
    ids = sorted({r[0] for r in rows})
    participants = pd.DataFrame(
        {
            "participant_id": ids,
            "programme": rng.choice(["caring_dads", "borg", "journey"], len(ids)),
            "attendance_rate": rng.uniform(0, 1, len(ids)),
            "exit_status": rng.choice(["completed", "dropped_out"], len(ids)),
        }
    )
    export = make_export(rows, participants)
    got = change(export, by=by, missing="impute", m=5, seed=3)
    wide = score_table(export, by=by)
    own = pd.concat([wide.drop(columns="exit_status"), imputation_predictors(export, wide)], axis=1)
    want = change(own.loc[:, ~own.columns.duplicated()], by=by, missing="impute", m=5, seed=3)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got["n_imputed"].sum() > 100 and got["between_variance"].gt(0).all()
