"""The synthetic generator's family features: stage-wise dropout, reviews and the
evaluation meeting, several children per father; off by default.

The truth is exact (cdanalytics.synth._truth.stage_transitions); the
analyses must recover it within 99% Wilson intervals on a fixed-seed export.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pandas as pd
import pytest

from cdanalytics import engagement as eng
from cdanalytics import prepost
from cdanalytics._stats import wilson_ci
from cdanalytics.errors import ConfigError
from cdanalytics.io import load_export
from cdanalytics.synth import FAMILY_PARAMETERS, generate, write_synthetic_export

N, SEED = 20_000, 3


@pytest.fixture(scope="module")
def family():
    return generate(N, seed=SEED, parameters=FAMILY_PARAMETERS)


def test_the_family_features_are_off_by_default():
    export, truth = generate(2_000, seed=1)
    assert "family" not in truth
    assert "evaluation_outcome" not in export.participants.columns
    assert "subject_id" not in export.measures.columns


@pytest.mark.parametrize("programme", ["caledonian", "caring_dads"])
def test_the_stage_funnel_recovers_the_true_transitions(family, programme):
    export, truth = family
    stages = truth["family"]["stages"][programme]
    out = eng.stage_completion(export, closed_cases=False, alpha=0.01)
    out = out[out["programme"] == programme].set_index("stage")
    assert list(out.index) == list(stages["transition"])
    for stage, p in stages["transition"].items():
        row = out.loc[stage]
        assert row["n_reached"] > 300, stage
        assert row["transition_ci_low"] <= p <= row["transition_ci_high"], (stage, p)
    for stage, p in stages["through_stage"].items():
        row = out.loc[stage]
        assert row["through_stage_ci_low"] <= p <= row["through_stage_ci_high"], (stage, p)


def test_stage_dropout_lowers_the_true_transition_by_its_probability(family):
    _, truth = family
    without = copy.deepcopy(FAMILY_PARAMETERS)
    without["engagement"]["stage_dropout"] = {"caledonian": {"group": 0.0}}
    _, plain = generate(200, seed=SEED, parameters=without)
    with_drop = truth["family"]["stages"]["caledonian"]["transition"]["group"]
    no_drop = plain["family"]["stages"]["caledonian"]["transition"]["group"]
    assert with_drop == pytest.approx(no_drop * (1 - 0.15))


def test_evaluation_outcomes_recover_their_probabilities(family):
    export, truth = family
    out = eng.evaluation_outcomes(export, alpha=0.01)
    dads = out[out["programme"] == "caring_dads"].set_index("evaluation_outcome")
    recorded = dads.drop(index="not_recorded")
    n = int(recorded["n"].sum())
    assert n > 200
    for outcome, p in truth["family"]["evaluation_outcome"]["caring_dads"].items():
        low, high = wilson_ci(int(dads.loc[outcome, "n"]), n, alpha=0.01)
        assert low <= p <= high, outcome
    assert set(out["programme"]) == {"caring_dads"}


def test_review_attendance_recovers_the_attendance_probability(family):
    export, truth = family
    out = eng.review_attendance(export, alpha=0.01)
    p = truth["engagement_design"]["p_review_attend"]
    per_review = out[(out["programme"] == "caring_dads") & (out["review"] != "all")]
    assert (per_review["attended_ci_low"] <= p).all()
    assert (per_review["attended_ci_high"] >= p).all()
    caring = per_review.set_index("review")
    assert caring.loc["2", "days_median"] == 150


def test_several_children_per_father_load_and_are_analysed(tmp_path):
    write_synthetic_export(tmp_path, n_participants=3_000, seed=5, parameters=FAMILY_PARAMETERS)
    export = load_export(tmp_path)
    assert export.report.problems.empty
    sdq = export.measures[export.measures["instrument"] == "sdq"]
    per_father = sdq.groupby(["participant_id", "timepoint"], observed=True)["subject_id"].nunique()
    assert per_father.max() >= 2
    children = export.participants.set_index("participant_id")["n_children"]
    counted = sdq.groupby("participant_id")["subject_id"].nunique()
    assert (counted <= children.reindex(counted.index)).all()
    table = prepost.score_table(export, subset=["sdq"])
    assert table[["participant_id", "instrument", "scale", "informant"]].duplicated().sum() == 0
    assert len(table) == sdq["participant_id"].nunique()


def test_bad_family_parameters_are_refused():
    first = {"engagement": {"stage_dropout": {"caledonian": {"pre_group": 0.1}}}}
    with pytest.raises(ConfigError, match="not be the first stage"):
        generate(500, parameters=first)
    unknown = {"engagement": {"stage_dropout": {"caledonian": {"middle": 0.1}}}}
    with pytest.raises(ConfigError, match="unknown stage"):
        generate(500, parameters=unknown)
    negative = {"engagement": {"evaluation_outcome": {"caring_dads": {"positive": -1}}}}
    with pytest.raises(ConfigError, match="non-negative"):
        generate(500, parameters=negative)


def test_cli_family_flag_writes_the_family_tables_and_truth(tmp_path):
    out = tmp_path / "synth"
    cmd = [sys.executable, "-m", "cdanalytics", "synth", "--participants", "400", "--seed", "5"]
    subprocess.run([*cmd, "--out", str(out), "--family", "--programme-effects"], check=True)
    truth = json.loads((out / "truth.json").read_text("utf-8"))
    assert "family" in truth
    assert truth["reoffending"]["hr_by_programme"]["caledonian"] == 1.35  # both switched on
    services = pd.read_csv(out / "services.csv")
    assert set(services["service"]) == {"partner_support", "childrens_service"}
    measures = pd.read_csv(out / "measures.csv")
    assert measures["subject_id"].notna().any()  # one questionnaire per child
    plain = tmp_path / "plain"
    subprocess.run([*cmd, "--out", str(plain)], check=True)
    assert not (plain / "services.csv").exists() or pd.read_csv(plain / "services.csv").empty
