"""Recovery of the true reoffending parameters of a synthetic export
(``cdanalytics.synth``; see its docstring for the generative model).

Offences follow a Poisson process with hazard ``baseline x hr_risk[risk] x
hr_prior_offence^prior x hr_programme^(starter)``, so a Cox model on group,
risk level and prior offences is correctly specified; ``p12_by_group`` is
the exact probability of an offence within 365 days proven within 548."""

from __future__ import annotations

import math

import pytest

from cdanalytics.reoffending import cox, fixed_window, logrank, person_outcomes
from cdanalytics.synth import generate

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


@pytest.fixture(scope="module")
def synthetic():
    export, truth = generate(40_000, seed=11)
    return person_outcomes(export), truth["reoffending"]


def test_cox_recovers_the_true_hazard_ratios(synthetic):
    outcomes, truth = synthetic
    result = cox(outcomes, ["group", "risk_level", "prior_offences"], alpha=0.01)
    summary = result.summary.set_index("term")
    expected = {
        "group[programme]": truth["hr_programme"],
        "prior_offences": truth["hr_prior_offence"],
        **{f"risk_level[{k}]": v for k, v in truth["hr_risk"].items() if k != "low"},
    }
    assert result.references == {"group": "comparison", "risk_level": "low"}
    for term, hazard_ratio in expected.items():
        low, high = summary.loc[term, ["ci_low", "ci_high"]]
        assert low < hazard_ratio < high, term
    # The programme effect is estimated tightly enough to tell it from no effect.
    assert summary.loc["group[programme]", "ci_high"] < 1


def test_fixed_window_rates_recover_the_true_12_month_probabilities(synthetic):
    outcomes, truth = synthetic
    table = fixed_window(outcomes, by=["group", "risk_level"], alpha=0.01)
    for row in table.itertuples():
        p = truth["p12_by_group"][row.group][row.risk_level]
        assert row.ci_low < p < row.ci_high, (row.group, row.risk_level)
        assert row.n_eligible > 500
    overall = fixed_window(outcomes, by="group", alpha=0.01).set_index("group")
    for group in ("programme", "comparison"):
        p = truth["p12_by_group"][group]["overall"]
        assert overall.loc[group, "ci_low"] < p < overall.loc[group, "ci_high"]


def test_programme_and_comparison_differ_on_the_log_rank_test(synthetic):
    outcomes, _ = synthetic
    # Unadjusted: the comparison pool is lower risk, which narrows the gap,
    # but within risk levels the programme's lower hazard shows.
    result = logrank(outcomes, by="group", strata="risk_level")
    assert result.p_value < 1e-6
    summary = result.summary.set_index("group")
    assert summary.loc["programme", "observed"] < summary.loc["programme", "expected"]
    assert math.isclose(summary["observed"].sum(), summary["expected"].sum())
