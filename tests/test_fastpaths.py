"""The fast paths (issue 16) against the peers a researcher would use, on
large random data, at 1e-8: the Cox engine (per-time sums, sparse block
sums, chunked information matrix) against statsmodels ``PHReg`` and
lifelines ``CoxPHFitter`` / ``CoxTimeVaryingFitter``; Kaplan-Meier (counting
pass over whole-day times, sorting otherwise) against statsmodels
``SurvfuncRight`` and lifelines ``KaplanMeierFitter``; the log-rank test
against statsmodels ``survdiff`` and lifelines ``logrank_test`` /
``multivariate_logrank_test``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, CoxTimeVaryingFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from cdanalytics import _cox
from cdanalytics._stats import (
    distinct_rows,
    distinct_times,
    kaplan_meier,
    kaplan_meier_groups,
    logrank_statistic,
)
from cdanalytics.reoffending import at_risk_table, cox, cumulative_reoffending, logrank


def _survival_data(n: int, seed: int, whole_days: bool = True) -> pd.DataFrame:
    """``n`` people, six covariates with known log hazard ratios, follow-up
    censored at two years; whole days (many ties) or continuous times."""
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            rng.integers(0, 2, n),
            rng.integers(0, 2, n),
            rng.integers(0, 4, n),
            rng.normal(size=n),
            rng.normal(size=n),
            rng.poisson(1.5, n),
        ]
    ).astype(float)
    beta = np.array([0.4, -0.3, 0.2, 0.1, -0.2, 0.15])
    time = rng.exponential(600 * np.exp(-(x @ beta)))
    time = np.ceil(time) if whole_days else time
    event = (time < 730) & (rng.random(n) < 0.8)
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d", "e", "f"])
    return frame.assign(
        duration_days=np.minimum(time, 730.0),
        event=event,
        group=np.where(frame["a"] == 1, "programme", "comparison"),
        stratum=rng.integers(0, 3, n),
        weight=rng.uniform(0.5, 2.0, n),
    )


COLUMNS = ["a", "b", "c", "d", "e", "f"]


def _quiet(call, *args, **kwargs):
    """A lifelines call, its pandas deprecation warnings (errors under
    pytest's settings) and non-integer weight warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args, **kwargs)


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return _survival_data(200_000, seed=16)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_likelihood_score_and_information_equal_phreg_with_strata(ties):
    data = _survival_data(20_000, seed=3)
    x = data[COLUMNS].to_numpy()
    time, event = data["duration_days"].to_numpy(), data["event"].to_numpy(dtype=float)
    model = PHReg(time, x, status=event, ties=ties, strata=data["stratum"].to_numpy())
    risk_sets = _cox.prepare(time, event, x, data["stratum"].to_numpy(), ties)
    beta = np.array([0.3, -0.2, 0.25, 0.05, -0.1, 0.2])
    loglik, score, information = _cox.evaluate(risk_sets, beta)
    assert loglik == pytest.approx(model.loglike(beta), rel=1e-10)
    np.testing.assert_allclose(score, model.score(beta), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(information, -model.hessian(beta), rtol=1e-8)


def test_efron_fit_of_200k_people_recovers_beta_and_equals_lifelines(big):
    ours = cox(big, COLUMNS)
    coef = ours.summary["coef"].to_numpy()
    # The true log hazard ratios, within 4 standard errors.
    truth = np.array([0.4, -0.3, 0.2, 0.1, -0.2, 0.15])
    assert (np.abs(coef - truth) < 4 * ours.summary["se"].to_numpy()).all()
    _equals_lifelines(
        ours, pd.Series(coef, index=COLUMNS), big[[*COLUMNS, "duration_days", "event"]]
    )


def _equals_lifelines(ours, coef: pd.Series, frame: pd.DataFrame) -> None:
    """Coefficients and SEs at 1e-8, log-likelihood at 1e-10, against lifelines'
    CoxPHFitter (Efron ties) fitted to ``frame`` to the last digit."""
    reference = _quiet(
        CoxPHFitter().fit,
        frame,
        "duration_days",
        "event",
        fit_options={"precision": 1e-14, "max_steps": 50},
    )
    names = list(coef.index)
    se = ours.summary["se"].to_numpy()
    np.testing.assert_allclose(coef, reference.params_[names], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(se, reference.standard_errors_[names], rtol=1e-8)
    assert ours.loglik == pytest.approx(reference.log_likelihood_, rel=1e-10)


def _categorical_data(n: int, seed: int) -> tuple[pd.DataFrame, dict[str, float]]:
    """``n`` people with the benchmark's kind of design: four categorical
    covariates and two counts, 15 terms with known log hazard ratios; whole
    days (many ties), follow-up censored at two years."""
    rng = np.random.default_rng(seed)
    levels = {
        "group": ["comparison", "programme"],
        "risk": ["low", "medium", "high", "very_high"],
        "age": ["16-17", "18-24", "25-34", "35-44", "45-54", "55+"],
        "ethnicity": ["asian", "black", "mixed", "other", "white"],
    }
    effects = {
        "group": [0.0, -0.25],
        "risk": [0.0, 0.3, 0.6, 0.9],
        "age": [0.0, -0.1, -0.2, -0.35, -0.5, -0.7],
        "ethnicity": [0.0, 0.05, -0.05, 0.1, 0.0],
    }
    frame, linear = {}, np.zeros(n)
    for name, values in levels.items():
        codes = rng.integers(0, len(values), n)
        frame[name] = pd.Categorical.from_codes(codes, categories=values)
        linear += np.asarray(effects[name])[codes]
    frame["priors"] = rng.poisson(2.0, n)
    frame["children"] = rng.poisson(1.0, n)
    linear += 0.12 * frame["priors"] - 0.08 * frame["children"]
    time = np.ceil(rng.exponential(900 * np.exp(-linear)))
    truth = {
        f"{name}[{level}]": effect
        for name in levels
        for level, effect in zip(levels[name][1:], effects[name][1:], strict=True)
    }
    truth |= {"priors": 0.12, "children": -0.08}
    data = pd.DataFrame(frame).assign(
        duration_days=np.minimum(time, 730.0), event=(time < 730) & (rng.random(n) < 0.85)
    )
    return data, truth


def test_categorical_design_of_150k_people_recovers_beta_and_equals_lifelines():
    """The benchmark's kind of design (15 terms of categorical covariates and
    counts, held by the engine as its 8,428 distinct rows) against lifelines
    ``CoxPHFitter`` on the same dummies: coefficients and standard errors at
    1e-8, the log partial likelihood at 1e-10; and Kaplan-Meier by group
    against ``KaplanMeierFitter`` at 1e-8."""
    data, truth = _categorical_data(150_000, seed=161)
    covariates = ["group", "risk", "age", "ethnicity", "priors", "children"]
    ours = cox(data, covariates, reference={"group": "comparison"})
    assert ours._risk_sets.patterns is not None  # the distinct-rows path
    summary = ours.summary.set_index("term")
    assert sorted(summary.index) == sorted(truth)
    coef, se = summary["coef"], summary["se"]
    expected = pd.Series(truth)[coef.index]
    assert (np.abs(coef - expected) < 4 * se).all()
    design = pd.get_dummies(data[covariates[:4]], drop_first=True, dtype=float)
    design.columns = [c.replace("_", "[", 1) + "]" for c in design.columns]
    design = design.assign(
        priors=data["priors"].astype(float),
        children=data["children"].astype(float),
        duration_days=data["duration_days"],
        event=data["event"],
    )
    _equals_lifelines(ours, coef, design)
    km = cumulative_reoffending(data, by="group")
    for name, part in data.groupby("group", observed=True):
        fitted = _quiet(KaplanMeierFitter().fit, part["duration_days"], part["event"])
        curve = km.curve[km.curve["group"] == name].iloc[1:]
        np.testing.assert_allclose(
            curve["cumulative"],
            1 - fitted.survival_function_.loc[curve["time_days"]].iloc[:, 0],
            rtol=1e-8,
            atol=1e-12,
        )


def test_weighted_stratified_efron_fit_equals_lifelines(big):
    data = big.iloc[:50_000]
    x = data[COLUMNS].to_numpy()
    risk_sets = _cox.prepare(
        data["duration_days"].to_numpy(),
        data["event"].to_numpy(dtype=float),
        x,
        data["stratum"].to_numpy(),
        "efron",
        weight=data["weight"].to_numpy(),
    )
    beta, loglik, _, _ = _cox.fit(risk_sets, len(COLUMNS), "no fit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines: non-integer weights
        reference = CoxPHFitter().fit(
            data[[*COLUMNS, "duration_days", "event", "stratum", "weight"]],
            "duration_days",
            "event",
            weights_col="weight",
            strata=["stratum"],
            fit_options={"precision": 1e-14, "max_steps": 50},
        )
    np.testing.assert_allclose(beta, reference.params_[COLUMNS], rtol=1e-8, atol=1e-10)
    assert loglik == pytest.approx(reference.log_likelihood_, rel=1e-10)


def test_counting_process_fit_equals_lifelines_time_varying():
    """10,000 people, each split at a random day into two (start, stop]
    intervals with a covariate that switches on there; follow-up ends at
    whole weeks (heavy ties, and few enough distinct times for lifelines,
    which loops over them in Python)."""
    rng = np.random.default_rng(8)
    n = 10_000
    split = rng.integers(20, 400, n).astype(float)
    switched_hazard = np.exp(0.5)
    stop = rng.exponential(500, n)
    # After the split the hazard is exp(0.5) times higher: stretch time there.
    stop = np.where(stop > split, split + (stop - split) / switched_hazard, stop)
    stop = np.minimum(np.ceil(stop / 7) * 7, 728.0)
    event = (stop < 728) & (rng.random(n) < 0.8)
    z = rng.normal(size=n)
    first = stop > split
    intervals = pd.DataFrame(
        {
            "id": np.r_[np.arange(n), np.arange(n)[first]],
            "start": np.r_[np.zeros(n), split[first]],
            "stop": np.r_[np.where(first, split, stop), stop[first]],
            "event": np.r_[event & ~first, event[first]].astype(float),
            "on": np.r_[np.zeros(n), np.ones(first.sum())],
            "z": np.r_[z, z[first]],
        }
    )
    x = intervals[["on", "z"]].to_numpy()
    risk_sets = _cox.prepare(
        intervals["stop"].to_numpy(),
        intervals["event"].to_numpy(),
        x,
        np.zeros(len(intervals), dtype=np.int64),
        "efron",
        entry=intervals["start"].to_numpy(),
    )
    beta, loglik, information, _ = _cox.fit(risk_sets, 2, "no fit")
    assert abs(beta[0] - 0.5) < 4 * np.sqrt(np.linalg.inv(information)[0, 0])
    reference = _quiet(
        CoxTimeVaryingFitter().fit,
        intervals,
        id_col="id",
        start_col="start",
        stop_col="stop",
        event_col="event",
        fit_options={"precision": 1e-11},
    )
    np.testing.assert_allclose(beta, reference.params_[["on", "z"]], rtol=1e-8, atol=1e-10)
    assert loglik == pytest.approx(reference.log_likelihood_, rel=1e-10)


def test_distinct_rows_are_exact_or_refused():
    """The distinct rows of a design and each row's number among them give
    back every row exactly; rows that the random combination cannot tell
    apart (a difference below the rounding of a huge value), missing values
    and designs of many distinct rows are refused (the engine then reads
    every row)."""
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.integers(0, 2, 50_000), rng.integers(0, 6, 50_000)]).astype(float)
    x = np.column_stack([x, rng.poisson(1.0, 50_000)])
    patterns, codes = distinct_rows(x, 2**19, 4)
    np.testing.assert_array_equal(patterns[codes], x)
    assert len(np.unique(patterns, axis=0)) == len(patterns)
    np.testing.assert_array_equal(patterns[0], x[0])  # numbered in order of first appearance
    alike = np.tile([[1e17, 0.0], [1e17, 1.0]], (1000, 1))  # equal combinations
    assert len(np.unique(alike @ np.random.default_rng(16).uniform(1, 2, 2))) == 1
    assert distinct_rows(alike, 2**19, 4) is None
    assert distinct_rows(np.where(x == 5, np.nan, x), 2**19, 4) is None
    assert distinct_rows(rng.normal(size=(50_000, 3)), 2**19, 4) is None
    refit = _cox.prepare(np.arange(2000.0), np.ones(2000), alike, np.zeros(2000, int), "efron")
    assert refit.patterns is None and refit.x_rows is not None


@pytest.mark.parametrize(
    ("n_strata", "span"), [(1, 4000), (3, 2000), (1, 40_000), (40, 2000), (3, None)]
)
def test_sort_order_equals_lexsort(n_strata, span):
    """Whole days in a short span sort by one 16-bit key (a radix sort),
    longer spans, many strata and continuous times by ``np.lexsort``: the
    same order either way, ties kept in row order."""
    rng = np.random.default_rng(n_strata)
    n = 200_000
    time = rng.uniform(0, 2000, n) if span is None else rng.integers(0, span, n) + 3.0
    event = rng.random(n) < 0.4
    stratum = rng.integers(0, n_strata, n)
    expected = np.lexsort((~event, time, stratum))
    np.testing.assert_array_equal(_cox.sort_order(time, event, stratum), expected)
    assert _cox.sort_order(time[expected], event[expected], stratum[expected]) is None


@pytest.mark.parametrize("whole_days", [True, False])
def test_distinct_times_equal_numpy_unique(whole_days):
    time = _survival_data(50_000, seed=4, whole_days=whole_days)["duration_days"].to_numpy()
    times, inverse = distinct_times(time)
    expected_times, expected_inverse = np.unique(time, return_inverse=True)
    np.testing.assert_array_equal(times, expected_times)
    np.testing.assert_array_equal(inverse, expected_inverse)


@pytest.mark.parametrize("whole_days", [True, False])
def test_kaplan_meier_equals_statsmodels_and_lifelines(whole_days):
    data = _survival_data(300_000, seed=5, whole_days=whole_days)
    time, event = data["duration_days"].to_numpy(), data["event"].to_numpy(dtype=float)
    ours = kaplan_meier(time, event)
    reference = SurvfuncRight(time, event)
    np.testing.assert_array_equal(ours.surv_times, reference.surv_times)
    np.testing.assert_allclose(ours.surv_prob, reference.surv_prob, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.surv_prob_se, reference.surv_prob_se, rtol=1e-12)
    fitted = _quiet(KaplanMeierFitter().fit, time, event)
    at = fitted.survival_function_.index.to_numpy()[1:]
    np.testing.assert_allclose(
        np.r_[1.0, ours.surv_prob][np.searchsorted(ours.surv_times, at, side="right")],
        fitted.survival_function_.to_numpy()[1:, 0],
        rtol=1e-8,
        atol=1e-12,
    )


@pytest.mark.parametrize(("whole_days", "n_groups"), [(True, 4), (False, 4), (False, 300)])
def test_grouped_kaplan_meier_equals_statsmodels_group_by_group(whole_days, n_groups):
    """One count over (time, group) cells for every group; 300 groups of
    continuous times would be 30 million cells, so those are fitted group by
    group instead."""
    data = _survival_data(100_000, seed=9, whole_days=whole_days)
    time, event = data["duration_days"].to_numpy(), data["event"].to_numpy(dtype=float)
    group = np.random.default_rng(9).integers(0, n_groups, len(data))
    group[group == 1] = 2  # group 1 has nobody: a fit without times
    fits = kaplan_meier_groups(time, event, group, n_groups)
    assert len(fits) == n_groups
    assert fits[1].times.size == 0 and fits[1].surv_prob.size == 0
    for g, fit in enumerate(fits):
        rows = group == g
        if g == 1:
            continue
        reference = SurvfuncRight(time[rows], event[rows])
        np.testing.assert_array_equal(fit.surv_times, reference.surv_times)
        np.testing.assert_allclose(fit.surv_prob, reference.surv_prob, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(fit.surv_prob_se, reference.surv_prob_se, rtol=1e-12)
        assert fit.n_all.sum() == rows.sum()
        assert fit.n_events.sum() == event[rows].sum()


def test_missing_category_is_a_group_of_its_own_equal_to_lifelines(big):
    """People whose categorical group is missing are a group of their own,
    after the levels (as ``group_by`` promises and the log-rank test always
    did; pandas' ``indices`` of a categorical leaves them out)."""
    data = big.iloc[:50_000].assign(
        band=pd.Categorical(np.where(big["c"].iloc[:50_000] == 3, None, big["c"].iloc[:50_000]))
    )
    result = cumulative_reoffending(data, by="band")
    assert result.medians["band"].iloc[:3].tolist() == [0.0, 1.0, 2.0]
    unseen = data.assign(band=data["band"].cat.add_categories([7.0]))  # a level nobody has
    pd.testing.assert_frame_equal(cumulative_reoffending(unseen, by="band").medians, result.medians)
    plain = data.assign(band=data["band"].cat.add_categories([7.0]).fillna(7.0))
    whole = cumulative_reoffending(plain, by="band")  # no missing value: read from the codes
    assert whole.medians["band"].tolist() == [0.0, 1.0, 2.0, 7.0]
    pd.testing.assert_frame_equal(
        cumulative_reoffending(
            plain.assign(band=plain["band"].cat.add_categories([9.0])), "band"
        ).curve.astype({"band": float}),
        whole.curve.astype({"band": float}),
    )
    assert pd.isna(result.medians["band"].iloc[3])
    missing = data[data["band"].isna()]
    assert result.medians["n"].tolist() == [*data["band"].value_counts(sort=False), len(missing)]
    fitted = _quiet(KaplanMeierFitter().fit, missing["duration_days"], missing["event"])
    curve = result.curve[result.curve["band"].isna()].iloc[1:]
    np.testing.assert_allclose(
        curve["cumulative"],
        1 - fitted.survival_function_.loc[curve["time_days"]].iloc[:, 0],
        rtol=1e-8,
        atol=1e-12,
    )
    at_risk = at_risk_table(data, by="band")
    assert at_risk["band"].isna().sum() == 3  # one row per default horizon
    tested = logrank(data, by="band")
    assert tested.summary["n"].tolist() == result.medians["n"].tolist()
    reference = _quiet(
        multivariate_logrank_test,
        data["duration_days"],
        data["band"].cat.codes,  # -1: missing
        data["event"],
    )
    assert tested.statistic == pytest.approx(reference.test_statistic, rel=1e-8)


def test_cumulative_reoffending_intervals_equal_lifelines_log_log(big):
    result = cumulative_reoffending(big, by="group")
    for name, part in big.groupby("group"):
        fitted = _quiet(KaplanMeierFitter().fit, part["duration_days"], part["event"])
        curve = result.curve[result.curve["group"] == name].iloc[1:]
        band = fitted.confidence_interval_.loc[curve["time_days"]].to_numpy()
        np.testing.assert_allclose(
            curve["cumulative"],
            1 - fitted.survival_function_.loc[curve["time_days"]].iloc[:, 0],
            rtol=1e-8,
            atol=1e-12,
        )
        np.testing.assert_allclose(curve["ci_high"], 1 - band[:, 0], rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(curve["ci_low"], 1 - band[:, 1], rtol=1e-8, atol=1e-12)
        assert (
            curve["n_at_risk"].iloc[0]
            == (part["duration_days"] >= curve["time_days"].iloc[0]).sum()
        )


def test_logrank_equals_lifelines_for_two_and_three_groups(big):
    ours = logrank(big, by="group")
    a = (big["group"] == "programme").to_numpy()
    time, event = big["duration_days"].to_numpy(), big["event"].to_numpy()
    reference = _quiet(logrank_test, time[a], time[~a], event[a], event[~a])
    assert ours.statistic == pytest.approx(reference.test_statistic, rel=1e-8)
    three = logrank(big, by="c")
    reference = _quiet(multivariate_logrank_test, time, big["c"], event)
    assert three.statistic == pytest.approx(reference.test_statistic, rel=1e-8)
    assert three.p_value == pytest.approx(reference.p_value, rel=1e-8, abs=1e-300)


def test_stratified_logrank_equals_statsmodels(big):
    time, event = big["duration_days"].to_numpy(), big["event"].to_numpy(dtype=float)
    group, stratum = big["c"].to_numpy().astype(np.int64), big["stratum"].to_numpy()
    statistic, expected = logrank_statistic(time, event, group, stratum)
    reference, _ = survdiff(time, event, group, strata=stratum)
    assert statistic == pytest.approx(reference, rel=1e-10)
    # Expected events add up to the observed ones.
    assert expected.sum() == pytest.approx(event.sum(), rel=1e-12)


@pytest.mark.parametrize("method", ["auto", "asymptotic"])
@pytest.mark.parametrize("correction", [True, False])
def test_grouped_wilcoxon_equals_scipy_group_by_group(method, correction):
    """200,000 changes in 40 groups rounded to 0.1 (ties and zeros), one group
    of 30 (scipy's exact test under "auto"), one empty, one all zero."""
    from scipy import stats

    from cdanalytics.prepost.change import _wilcoxon

    rng = np.random.default_rng(12)
    n, n_groups = 200_000, 40
    codes = rng.integers(0, n_groups, n)
    codes[codes == 5] = 6
    codes[np.flatnonzero(codes == 7)[30:]] = 8
    changes = np.round(rng.normal(0.2, 2.0, n), 1)
    changes[codes == 9] = 0.0
    statistic, p_value = _wilcoxon(codes, n_groups, changes, "wilcox", correction, method)
    for g in range(n_groups):
        d = changes[codes == g]
        if np.count_nonzero(d) == 0:
            assert np.isnan(statistic[g]) and np.isnan(p_value[g])
            continue
        reference = stats.wilcoxon(d, zero_method="wilcox", correction=correction, method=method)
        assert statistic[g] == pytest.approx(reference.statistic, rel=1e-12)
        assert p_value[g] == pytest.approx(reference.pvalue, rel=1e-10, abs=1e-300)
