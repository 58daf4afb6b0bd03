"""Cox models against hand-computed partial likelihoods (Efron and Breslow
ties), R's published output (``coxph`` on the Rossi recidivism data and the
NCCTG lung data), statsmodels ``PHReg`` (heavy ties, strata) and lifelines
(strata, cluster-robust errors without ties, the proportional-hazards test).

lifelines' score residuals ignore tied times ("TODO: doesn't handle ties" in
its source), so cluster-robust errors with ties are checked through the
written-out Efron score residuals instead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _reoffending_fixtures import survival_table
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_lung, load_rossi
from lifelines.statistics import proportional_hazard_test
from scipy import optimize, stats
from statsmodels.duration.hazard_regression import PHReg

from cdanalytics import _cox
from cdanalytics.errors import (
    AnalysisError,
    ConfigError,
    ConvergenceError,
    DataQualityWarning,
)
from cdanalytics.reoffending import COX_COLUMNS, PH_COLUMNS, TEST_COLUMNS, cox

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

# R's ?coxph example: test1 <- list(time=c(4,3,1,1,2,2,3), status=c(1,1,1,0,1,1,0),
# x=c(0,2,1,1,1,0,0)). Tied event times at 1 (one event), 2 (two) and 3 (one).
TEST1_TIME = np.array([4, 3, 1, 1, 2, 2, 3], dtype=float)
TEST1_STATUS = np.array([1, 1, 1, 0, 1, 1, 0], dtype=bool)
TEST1_X = np.array([0, 2, 1, 1, 1, 0, 0], dtype=float)
RISK_LEVELS = ["low", "medium", "high", "very_high"]


def partial_loglik(beta: float, ties: str) -> float:
    """Cox log partial likelihood of test1, written out over the event times."""
    total = 0.0
    times = TEST1_TIME
    for t in np.unique(times[TEST1_STATUS]):
        dead = TEST1_STATUS & (times == t)
        risk = np.exp(beta * TEST1_X[times >= t]).sum()
        tied = np.exp(beta * TEST1_X[dead]).sum()
        m = dead.sum()
        total += beta * TEST1_X[dead].sum()
        if ties == "breslow":
            total -= m * np.log(risk)
        else:
            total -= sum(np.log(risk - k / m * tied) for k in range(m))
    return total


@pytest.fixture
def test1():
    return survival_table(TEST1_TIME, TEST1_STATUS, x=TEST1_X)


@pytest.fixture
def rossi():
    """Rossi et al. recidivism data, coded as R's carData::Rossi factors."""
    data = load_rossi()

    def factor(column, labels):
        return pd.Categorical(data[column].map(dict(enumerate(labels))))

    return survival_table(
        data["week"],
        data["arrest"] == 1,
        fin=factor("fin", ["no", "yes"]),
        age=data["age"],
        race=factor("race", ["other", "black"]),
        wexp=factor("wexp", ["no", "yes"]),
        mar=factor("mar", ["not married", "married"]),
        paro=factor("paro", ["no", "yes"]),
        prio=data["prio"],
    )


ROSSI = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_tied_times_follow_the_hand_computed_partial_likelihood(test1, ties):
    best = optimize.minimize_scalar(
        lambda b: -partial_loglik(b, ties),
        bounds=(-5, 5),
        method="bounded",
        options={"xatol": 1e-10},
    )
    result = cox(test1, ["x"], ties=ties)
    assert result.summary.loc[0, "coef"] == pytest.approx(best.x, abs=1e-6)
    assert result.loglik == pytest.approx(partial_loglik(best.x, ties), abs=1e-10)
    assert result.loglik_null == pytest.approx(partial_loglik(0.0, ties), abs=1e-12)
    # Standard error from the curvature of the hand likelihood.
    h = 1e-4
    curvature = (
        partial_loglik(best.x + h, ties)
        - 2 * partial_loglik(best.x, ties)
        + partial_loglik(best.x - h, ties)
    ) / h**2
    assert result.summary.loc[0, "se"] == pytest.approx(1 / np.sqrt(-curvature), rel=1e-5)


def test_efron_and_breslow_differ_and_efron_matches_r_and_lifelines(test1):
    efron = cox(test1, ["x"]).summary.loc[0, "coef"]
    breslow = cox(test1, ["x"], ties="breslow").summary.loc[0, "coef"]
    assert abs(efron - breslow) > 0.02
    assert round(efron, 3) == 0.461  # R: coxph(Surv(time, status) ~ x, test1)
    lifelines_fit = CoxPHFitter().fit(
        test1.assign(event=test1["event"].astype(int)), "duration_days", "event"
    )
    assert efron == pytest.approx(lifelines_fit.params_["x"], abs=1e-7)


def test_rossi_matches_r_published_coxph(rossi):
    # R: summary(coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio,
    #    data = Rossi))
    r_coef = {
        "fin[yes]": (-0.37942, 0.19138),
        "age": (-0.05744, 0.02200),
        "race[other]": (-0.31390, 0.30799),
        "wexp[yes]": (-0.14980, 0.21222),
        "mar[not married]": (0.43370, 0.38187),
        "paro[yes]": (-0.08487, 0.19576),
        "prio": (0.09150, 0.02865),
    }
    result = cox(rossi, ROSSI)
    summary = result.summary.set_index("term")
    assert list(result.summary.columns) == COX_COLUMNS
    assert list(summary.index) == list(r_coef)
    for term, (coef, se) in r_coef.items():
        assert summary.loc[term, "coef"] == pytest.approx(coef, abs=5e-6)
        assert summary.loc[term, "se"] == pytest.approx(se, abs=5e-6)
    fin = summary.loc["fin[yes]"]
    assert round(fin["hazard_ratio"], 5) == 0.68426
    assert (round(fin["ci_low"], 4), round(fin["ci_high"], 4)) == (0.4702, 0.9957)
    assert round(fin["z"], 3) == -1.983 and round(fin["p_value"], 5) == 0.04742
    assert result.references == {
        "fin": "no",
        "race": "black",
        "wexp": "no",
        "mar": "married",
        "paro": "no",
    }
    # Likelihood ratio test= 33.27 on 7 df, p=2.362e-05; Wald test = 32.11, p=3.871e-05;
    # Score (logrank) test = 33.53, p=2.11e-05.
    tests = result.tests.set_index("test")
    assert list(result.tests.columns) == TEST_COLUMNS
    assert tests["statistic"].round(2).tolist() == [33.27, 32.11, 33.53]
    assert tests["df"].tolist() == [7, 7, 7]
    assert [float(f"{p:.4g}") for p in tests["p_value"]] == [2.362e-05, 3.871e-05, 2.11e-05]
    assert (result.n, result.n_events) == (432, 114)


def test_lung_sex_matches_r_published_coxph():
    # R: summary(coxph(Surv(time, status) ~ sex, data = lung)):
    #   coef -0.5310 se 0.1672, exp(coef) 0.588, 0.95 CI 0.4237 - 0.816;
    #   Likelihood ratio 10.63, Wald 10.09, Score (logrank) 10.33.
    lung = load_lung()
    result = cox(survival_table(lung["time"], lung["status"] == 1, sex=lung["sex"]), ["sex"])
    row = result.summary.iloc[0]
    assert (round(row["coef"], 4), round(row["se"], 4)) == (-0.5310, 0.1672)
    assert (round(row["ci_low"], 4), round(row["ci_high"], 3)) == (0.4237, 0.816)
    assert result.tests["statistic"].round(2).tolist() == [10.63, 10.09, 10.33]


def test_strata_match_lifelines(rossi):
    data = load_rossi()
    ours = cox(rossi, ["fin", "age", "prio"], strata="race").summary.set_index("term")
    fit = CoxPHFitter().fit(
        data[["week", "arrest", "fin", "age", "prio", "race"]], "week", "arrest", strata=["race"]
    )
    np.testing.assert_allclose(ours["coef"], fit.params_[["fin", "age", "prio"]], atol=1e-7)
    np.testing.assert_allclose(ours["se"], fit.standard_errors_[["fin", "age", "prio"]], rtol=1e-6)


def test_cluster_robust_errors_match_lifelines_without_ties():
    rng = np.random.default_rng(7)
    n = 300
    x = rng.normal(size=n)
    treated = rng.integers(0, 2, n)
    time = rng.exponential(1 / np.exp(0.5 * x - 0.4 * treated)) * 100
    censor = rng.uniform(0, 150, n)
    table = survival_table(
        np.minimum(time, censor), time <= censor, x=x, treated=treated, pair=np.arange(n) // 3
    )
    ours = cox(table, ["x", "treated"], cluster="pair")
    fit = CoxPHFitter().fit(
        table.assign(event=table["event"].astype(int)), "duration_days", "event", cluster_col="pair"
    )
    # lifelines stops iterating earlier: agreement to its convergence tolerance.
    np.testing.assert_allclose(ours.summary["coef"], fit.params_[["x", "treated"]], atol=1e-6)
    np.testing.assert_allclose(
        ours.summary["se"], fit.standard_errors_[["x", "treated"]], rtol=1e-6
    )
    assert ours.cluster == "pair"


def test_group_hazard_ratio_is_programme_against_comparison():
    rng = np.random.default_rng(3)
    group = np.where(rng.random(400) < 0.5, "programme", "comparison")
    time = rng.exponential(np.where(group == "programme", 1.25, 1.0)) * 365
    table = survival_table(
        np.ceil(np.minimum(time, 700)),
        time < 700,
        group=pd.Categorical(group, ["programme", "comparison"]),
    )
    result = cox(table, ["group"])
    assert result.terms == ["group[programme]"]
    assert result.references == {"group": "comparison"}
    flipped = cox(table, ["group"], reference={"group": "programme"})
    assert flipped.terms == ["group[comparison]"]
    assert flipped.summary.loc[0, "coef"] == pytest.approx(-result.summary.loc[0, "coef"], abs=1e-8)


# --- proportional hazards ---------------------------------------------------------


@pytest.fixture
def rossi_fits():
    data = load_rossi()
    table = survival_table(data["week"], data["arrest"] == 1, **{c: data[c] for c in ROSSI})
    return (
        cox(table, ROSSI),
        CoxPHFitter().fit(data[["week", "arrest", *ROSSI]], "week", "arrest"),
        data,
    )


@pytest.mark.parametrize("transform", ["identity", "log"])
def test_proportional_hazards_matches_lifelines(rossi_fits, transform):
    ours, fit, data = rossi_fits
    table = ours.proportional_hazards(transform)
    assert list(table.columns) == PH_COLUMNS
    expected = proportional_hazard_test(
        fit, data[["week", "arrest", *ROSSI]], time_transform=transform
    ).summary
    # Agreement to lifelines' convergence tolerance (its estimates differ by ~1e-7).
    per_term = table.set_index("term").loc[ROSSI]
    np.testing.assert_allclose(
        per_term["statistic"], expected.loc[ROSSI, "test_statistic"], rtol=1e-5
    )
    np.testing.assert_allclose(per_term["p_value"], expected.loc[ROSSI, "p"], rtol=1e-5)


@pytest.mark.parametrize("transform", ["km", "rank"])
def test_proportional_hazards_with_r_time_transforms(rossi_fits, transform):
    """R's cox.zph: km = 1 - left-continuous Kaplan-Meier, rank = average ranks
    (lifelines defines both differently), computed here from lifelines' scaled
    Schoenfeld residuals with the Grambsch-Therneau formula, and the global test."""
    ours, fit, data = rossi_fits
    scaled = fit.compute_residuals(data[["week", "arrest", *ROSSI]], kind="scaled_schoenfeld")
    times = data.loc[scaled.index, "week"].to_numpy(dtype=float)
    if transform == "km":
        kmf = KaplanMeierFitter().fit(data["week"], data["arrest"])
        g = 1 - kmf.survival_function_at_times(times - 0.5).to_numpy()
    else:
        g = stats.rankdata(times)
    centred = g - g.mean()
    n_events = len(times)
    variance = fit.standard_errors_[ROSSI].to_numpy() ** 2
    expected = (centred @ scaled[ROSSI].to_numpy()) ** 2 / (
        n_events * variance * (centred**2).sum()
    )
    table = ours.proportional_hazards(transform).set_index("term")
    np.testing.assert_allclose(table.loc[ROSSI, "statistic"], expected, rtol=1e-6)
    # Global: U' V U · D / Σ(g - ḡ)², with U = Σ (g - ḡ) · raw residual.
    raw = scaled[ROSSI].to_numpy() @ np.linalg.inv(fit.variance_matrix_.to_numpy()) / n_events
    u = centred @ raw
    global_expected = u @ fit.variance_matrix_.to_numpy() @ u * n_events / (centred**2).sum()
    assert table.loc["GLOBAL", "statistic"] == pytest.approx(global_expected, rel=1e-6)
    assert table.loc["GLOBAL", "df"] == 7
    correlation = np.corrcoef(centred, scaled["age"].to_numpy())[0, 1]
    assert table.loc["age", "rho"] == pytest.approx(correlation, abs=1e-7)


def test_scaled_schoenfeld_residuals_estimate_beta_of_t(rossi_fits):
    ours = rossi_fits[0]
    residuals = ours.scaled_schoenfeld()
    assert list(residuals.columns) == ["duration_days", "time_transformed", *ROSSI]
    assert len(residuals) == ours.n_events
    # Their mean is the coefficient (Schoenfeld residuals sum to 0 at the estimate).
    np.testing.assert_allclose(residuals[ROSSI].mean(), ours.summary["coef"], atol=1e-6)


# --- refusals ----------------------------------------------------------------------


def test_separation_raises_a_plain_convergence_error():
    table = survival_table(
        [5, 8, 12, 20, 30, 31, 40, 41],
        [True, True, True, True, False, False, False, False],
        x=[1, 1, 1, 1, 0, 0, 0, 0],
    )
    with pytest.raises(ConvergenceError, match="separates"):
        cox(table, ["x"])


def test_missing_covariates_are_refused_or_dropped_on_request():
    table = survival_table(
        [5, 8, 12, 20, 30, 31, 40],
        [True, True, False, True, False, True, False],
        x=[1, 0, 1, None, 0, 1, 0],
    )
    with pytest.raises(AnalysisError, match="missing values in x"):
        cox(table, ["x"])
    with pytest.warns(DataQualityWarning, match="left out 1"):
        result = cox(table, ["x"], missing="drop")
    assert (result.n, result.n_dropped) == (6, 1)


@pytest.mark.parametrize(
    ("columns", "kwargs", "error", "match"),
    [
        ({"x": [1, 2, 3, 4, 5, 6], "y": [2, 4, 6, 8, 10, 12]}, {}, AnalysisError, "collinear"),
        ({"x": [1, 1, 1, 1, 1, 1]}, {}, AnalysisError, "do not vary"),
        ({"x": ["a"] * 6}, {}, AnalysisError, "one level"),
        ({"x": ["a", "b"] * 3}, {"reference": {"x": "c"}}, ConfigError, "not in the data"),
        ({"x": ["a", "b"] * 3}, {"ties": "exact"}, ConfigError, "ties"),
    ],
)
def test_unidentifiable_models_and_bad_options_are_refused(columns, kwargs, error, match):
    table = survival_table([3, 5, 7, 9, 11, 13], [True, False, True, True, False, True], **columns)
    with pytest.raises(error, match=match):
        cox(table, list(columns), **kwargs)


# --- the vectorised partial likelihood ----------------------------------------------


@pytest.fixture
def heavy_ties():
    """500 people, times 1..24 (many ties), three covariates, three strata."""
    rng = np.random.default_rng(5)
    n = 500
    return survival_table(
        rng.integers(1, 25, n).astype(float),
        rng.random(n) < 0.6,
        a=rng.integers(0, 2, n).astype(float),
        b=rng.normal(size=n),
        c=rng.integers(0, 5, n).astype(float),
        s=rng.integers(0, 3, n),
    )


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_fit_matches_statsmodels_phreg_with_heavy_ties_and_strata(heavy_ties, ties):
    ours = cox(heavy_ties, ["a", "b", "c"], ties=ties, strata="s")
    exog = heavy_ties[["a", "b", "c"]].to_numpy()
    model = PHReg(
        heavy_ties["duration_days"].to_numpy(),
        exog,
        status=heavy_ties["event"].to_numpy(dtype=float),
        ties=ties,
        strata=heavy_ties["s"].to_numpy(),
    )
    reference = model.fit()
    np.testing.assert_allclose(ours.summary["coef"], reference.params, atol=1e-9)
    np.testing.assert_allclose(ours.summary["se"], reference.bse, rtol=1e-9)
    assert ours.loglik == pytest.approx(model.loglike(reference.params), abs=1e-9)
    assert ours.loglik_null == pytest.approx(model.loglike(np.zeros(3)), abs=1e-9)


def test_efron_score_residuals_decompose_the_score(test1):
    """U_i = δ_i (x_i - x̄_k) - Σ_slots w_i π_i (x_i - a_s), written out for test1
    at b = 0.3: they match the vectorised ones and sum to the score."""
    beta = np.array([0.3])
    w = np.exp(beta[0] * TEST1_X)
    expected = np.zeros(len(TEST1_X))
    times = TEST1_TIME
    for t in np.unique(times[TEST1_STATUS]):
        dead = TEST1_STATUS & (times == t)
        risk = times >= t
        m = dead.sum()
        slot_means = []
        for k in range(m):
            f = k / m
            weight = np.where(dead, 1 - f, 1.0) * risk * w
            c = weight.sum()
            a = (weight * TEST1_X).sum() / c
            slot_means.append(a)
            expected -= weight / c * (TEST1_X - a)
        expected += dead * (TEST1_X - np.mean(slot_means))
    risk_sets = _cox.prepare(
        TEST1_TIME, TEST1_STATUS.astype(float), TEST1_X[:, None], np.zeros(7), "efron"
    )
    residuals = _cox.score_residuals(risk_sets, beta, 7)[:, 0]
    np.testing.assert_allclose(residuals, expected, atol=1e-12)
    _, score, _ = _cox.evaluate(risk_sets, beta)
    assert residuals.sum() == pytest.approx(score[0], abs=1e-12)
    h = 1e-6
    derivative = (partial_loglik(0.3 + h, "efron") - partial_loglik(0.3 - h, "efron")) / (2 * h)
    assert score[0] == pytest.approx(derivative, abs=1e-7)


def test_a_result_without_rows_keeps_its_figures_and_refuses_residuals(rossi):
    model = cox(rossi, ["fin", "age", "prio"])
    lean = model.without_rows()
    pd.testing.assert_frame_equal(lean.summary, model.summary, check_exact=True)
    pd.testing.assert_frame_equal(lean.tests, model.tests, check_exact=True)
    assert (lean.n, lean.n_events, lean.loglik, repr(lean)) == (
        model.n,
        model.n_events,
        model.loglik,
        repr(model),
    )
    assert lean._risk_sets is None and lean._time is None and lean._status is None
    for residuals in (lean.proportional_hazards, lean.scaled_schoenfeld):
        with pytest.raises(AnalysisError, match="without its rows"):
            residuals()
    assert len(model.proportional_hazards()) == 4  # the fitted result still has them
