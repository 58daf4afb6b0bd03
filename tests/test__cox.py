"""The shared vectorised Cox partial likelihood (cdanalytics._cox) with case
weights, tied times and strata, against a written-out weighted Efron/Breslow
likelihood (R's ``coxph`` weighting: risk weights v·exp(x'b), and each tied
event term weighted by the mean case weight of the tied events), lifelines
``CoxPHFitter(weights_col=..., strata=...)``, replicated rows (Breslow) and
refits with perturbed weights (score residuals).

Unweighted fits are checked through :func:`cdanalytics.reoffending.cox` in
tests/test_reoffending_cox.py, weighted ones through
:func:`cdanalytics.matching.matched_cox` in tests/test_matching.py."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, CoxTimeVaryingFitter

from cdanalytics import _cox


@pytest.fixture(scope="module")
def weighted():
    """60 people, times 1..8 (many ties), two covariates, two strata, case
    weights between 0.2 and 2."""
    rng = np.random.default_rng(21)
    n = 60
    return pd.DataFrame(
        {
            "time": rng.integers(1, 9, n).astype(float),
            "event": (rng.random(n) < 0.7).astype(float),
            "x1": rng.normal(size=n),
            "x2": rng.integers(0, 2, n).astype(float),
            "stratum": rng.integers(0, 2, n),
            "weight": rng.uniform(0.2, 2.0, n),
        }
    )


def _risk_sets(data: pd.DataFrame, ties: str, weight: np.ndarray | None = None) -> _cox.RiskSets:
    return _cox.prepare(
        data["time"].to_numpy(),
        data["event"].to_numpy(),
        data[["x1", "x2"]].to_numpy(),
        data["stratum"].to_numpy(),
        ties,
        weight=data["weight"].to_numpy() if weight is None else weight,
    )


def written_out_loglik(data: pd.DataFrame, beta: np.ndarray, ties: str) -> float:
    """Weighted log partial likelihood, one stratum and event time at a time."""
    total = 0.0
    for _, s in data.groupby("stratum"):
        eta = s[["x1", "x2"]].to_numpy() @ beta
        risk = s["weight"].to_numpy() * np.exp(eta)
        for t in np.unique(s.loc[s["event"] == 1, "time"]):
            dead = ((s["event"] == 1) & (s["time"] == t)).to_numpy()
            at_risk = risk[(s["time"] >= t).to_numpy()].sum()
            m = dead.sum()
            mean_weight = s["weight"].to_numpy()[dead].mean()
            total += (s["weight"].to_numpy() * eta)[dead].sum()
            for k in range(m):
                f = k / m if ties == "efron" else 0.0
                total -= mean_weight * np.log(at_risk - f * risk[dead].sum())
    return total


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_weighted_likelihood_score_and_information_follow_the_written_out_formula(weighted, ties):
    risk_sets = _risk_sets(weighted, ties)
    beta = np.array([0.4, -0.7])
    loglik, score, information = _cox.evaluate(risk_sets, beta)
    assert loglik == pytest.approx(written_out_loglik(weighted, beta, ties), abs=1e-10)
    steps = np.eye(2) * 1e-5
    gradient = [
        (
            written_out_loglik(weighted, beta + e, ties)
            - written_out_loglik(weighted, beta - e, ties)
        )
        / 2e-5
        for e in steps
    ]
    np.testing.assert_allclose(score, gradient, atol=1e-6)
    h = 1e-4  # second differences: a larger step keeps rounding error ~1e-6
    steps = np.eye(2) * h
    hessian = [
        [
            (
                written_out_loglik(weighted, beta + e + d, ties)
                - written_out_loglik(weighted, beta + e - d, ties)
                - written_out_loglik(weighted, beta - e + d, ties)
                + written_out_loglik(weighted, beta - e - d, ties)
            )
            / (4 * h**2)
            for d in steps
        ]
        for e in steps
    ]
    np.testing.assert_allclose(information, -np.array(hessian), rtol=1e-6, atol=1e-5)


def test_weighted_efron_fit_with_strata_equals_lifelines(weighted):
    beta, loglik, information, _ = _cox.fit(_risk_sets(weighted, "efron"), 2, "no fit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines: non-integer weights
        reference = CoxPHFitter().fit(
            weighted,
            "time",
            "event",
            weights_col="weight",
            strata=["stratum"],
            fit_options={"precision": 1e-12},
        )
    # lifelines stops iterating earlier (its score there is ~4e-7, ours ~0):
    # agreement to its convergence tolerance.
    np.testing.assert_allclose(beta, reference.params_[["x1", "x2"]], atol=1e-7)
    np.testing.assert_allclose(
        np.sqrt(np.diag(np.linalg.inv(information))),
        reference.standard_errors_[["x1", "x2"]],
        rtol=1e-6,
    )
    assert loglik == pytest.approx(reference.log_likelihood_, abs=1e-10)


def test_integer_breslow_weights_equal_replicated_rows(weighted):
    """With Breslow ties a case weight of k is k copies of the row (with
    Efron it is not: copies would add tied events)."""
    counts = np.random.default_rng(3).integers(1, 4, len(weighted))
    data = weighted.assign(weight=counts.astype(float))
    replicated = data.loc[data.index.repeat(counts)].assign(weight=1.0)
    fits = [_cox.fit(_risk_sets(frame, "breslow"), 2, "no fit")[:3] for frame in (data, replicated)]
    np.testing.assert_allclose(fits[0][0], fits[1][0], atol=1e-10)
    assert fits[0][1] == pytest.approx(fits[1][1], abs=1e-9)
    np.testing.assert_allclose(fits[0][2], fits[1][2], rtol=1e-10)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_weighted_score_residuals_are_the_derivative_of_the_fit_in_each_weight(weighted, ties):
    """v_i U_i I⁻¹ = v_i d(b)/d(v_i) (R's dfbeta): checked against refits
    with each weight moved up and down; the residuals also sum to the score."""
    data = weighted.iloc[:30]
    weight = data["weight"].to_numpy()
    risk_sets = _risk_sets(data, ties)
    beta, _, information, _ = _cox.fit(risk_sets, 2, "no fit")
    residuals = _cox.score_residuals(risk_sets, beta, len(data))
    eps = 1e-6

    def refit(i: int, delta: float) -> np.ndarray:
        moved = weight + delta * (np.arange(len(data)) == i)
        return _cox.fit(_risk_sets(data, ties, weight=moved), 2, "no fit")[0]

    dfbeta = np.array(
        [weight[i] * (refit(i, eps) - refit(i, -eps)) / (2 * eps) for i in range(len(data))]
    )
    np.testing.assert_allclose(residuals @ np.linalg.inv(information), dfbeta, atol=1e-7)
    _, score, _ = _cox.evaluate(risk_sets, np.array([0.2, 0.1]))
    at = _cox.score_residuals(risk_sets, np.array([0.2, 0.1]), len(data)).sum(axis=0)
    np.testing.assert_allclose(at, score, atol=1e-12)


def test_strata_without_events_are_left_out(weighted):
    """Rows of a stratum with no events contribute nothing and get zero
    residuals; the fit is that of the other strata alone."""
    silent = pd.DataFrame(
        {"time": [2.0, 5.0], "event": 0.0, "x1": [9.0, -9.0], "x2": 1.0, "stratum": 7}
    ).assign(weight=1.0)
    data = pd.concat([weighted, silent], ignore_index=True)
    with_silent = _risk_sets(data, "efron")
    beta = _cox.fit(with_silent, 2, "no fit")[0]
    np.testing.assert_allclose(beta, _cox.fit(_risk_sets(weighted, "efron"), 2, "no fit")[0])
    assert not _cox.score_residuals(with_silent, beta, len(data))[-2:].any()


@pytest.fixture(scope="module")
def counting_process():
    """70 people followed over 1-4 consecutive (start, stop] intervals of
    1-5 days (integer times: many ties, including starts equal to other
    people's event times), a covariate that changes between intervals, a
    fixed one, two strata and case weights."""
    rng = np.random.default_rng(8)
    blocks = []
    for person in range(70):
        n = int(rng.integers(1, 5))
        stop = np.cumsum(rng.integers(1, 6, n)).astype(float)
        blocks.append(
            pd.DataFrame(
                {
                    "id": person,
                    "start": np.r_[0.0, stop[:-1]],
                    "stop": stop,
                    "event": np.r_[np.zeros(n - 1), float(rng.random() < 0.7)],
                    "x1": np.cumsum(rng.integers(0, 3, n)).astype(float),
                    "x2": rng.normal(),
                    "stratum": person % 2,
                    "weight": rng.uniform(0.5, 1.5),
                }
            )
        )
    return pd.concat(blocks, ignore_index=True)


def _counting_risk_sets(data: pd.DataFrame, ties: str, strata: bool) -> _cox.RiskSets:
    return _cox.prepare(
        data["stop"].to_numpy(),
        data["event"].to_numpy(),
        data[["x1", "x2"]].to_numpy(),
        data["stratum"].to_numpy() if strata else np.zeros(len(data), dtype=int),
        ties,
        weight=data["weight"].to_numpy(),
        entry=data["start"].to_numpy(),
    )


@pytest.mark.parametrize("strata", [False, True])
def test_counting_process_fit_equals_lifelines_time_varying(counting_process, strata):
    """(start, stop] rows, Efron ties, case weights and strata: the estimate,
    model-based standard errors and log partial likelihood of lifelines'
    CoxTimeVaryingFitter (which takes the risk set of each event time
    directly, one time at a time)."""
    beta, loglik, information, _ = _cox.fit(
        _counting_risk_sets(counting_process, "efron", strata), 2, "no fit"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines: non-integer weights
        reference = CoxTimeVaryingFitter().fit(
            counting_process.drop(columns=[] if strata else ["stratum"]),
            id_col="id",
            start_col="start",
            stop_col="stop",
            event_col="event",
            weights_col="weight",
            strata=["stratum"] if strata else None,
            fit_options={"precision": 1e-12},
        )
    np.testing.assert_allclose(beta, reference.params_[["x1", "x2"]], atol=1e-8)
    np.testing.assert_allclose(
        np.sqrt(np.diag(np.linalg.inv(information))),
        reference.standard_errors_[["x1", "x2"]],
        rtol=1e-7,
    )
    assert loglik == pytest.approx(reference.log_likelihood_, abs=1e-9)


def test_counting_process_score_residuals_sum_to_the_score(counting_process):
    risk_sets = _counting_risk_sets(counting_process, "breslow", True)
    beta = np.array([0.3, -0.2])
    _, score, _ = _cox.evaluate(risk_sets, beta)
    residuals = _cox.score_residuals(risk_sets, beta, len(counting_process))
    np.testing.assert_allclose(residuals.sum(axis=0), score, atol=1e-12)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_entry_before_every_time_is_right_censored_data(weighted, ties):
    """Rows that all enter before the first time are the ordinary Cox model:
    the same likelihood, score and information as the path without entry."""
    plain = _risk_sets(weighted, ties)
    entered = _cox.prepare(
        weighted["time"].to_numpy(),
        weighted["event"].to_numpy(),
        weighted[["x1", "x2"]].to_numpy(),
        weighted["stratum"].to_numpy(),
        ties,
        weight=weighted["weight"].to_numpy(),
        entry=np.full(len(weighted), -1.0),
    )
    beta = np.array([0.4, -0.7])
    for got, expected in zip(_cox.evaluate(entered, beta), _cox.evaluate(plain, beta), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_a_person_split_into_intervals_with_a_fixed_covariate_is_one_row(weighted):
    """Splitting follow-up at arbitrary days without changing the covariates
    leaves the partial likelihood unchanged (Therneau & Grambsch 2000, 3.7)."""
    data = weighted.assign(cut=np.floor(weighted["time"] / 2))
    first = data[data["cut"] > 0].assign(start=0.0, stop=lambda d: d["cut"], event=0.0)
    second = data.assign(start=data["cut"].where(data["cut"] > 0, 0.0), stop=data["time"])
    split = pd.concat([first, second], ignore_index=True)
    risk_sets = _cox.prepare(
        split["stop"].to_numpy(),
        split["event"].to_numpy(),
        split[["x1", "x2"]].to_numpy(),
        split["stratum"].to_numpy(),
        "efron",
        weight=split["weight"].to_numpy(),
        entry=split["start"].to_numpy(),
    )
    beta = np.array([0.4, -0.7])
    assert _cox.evaluate(risk_sets, beta)[0] == pytest.approx(
        written_out_loglik(weighted, beta, "efron"), abs=1e-10
    )
