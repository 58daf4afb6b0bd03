"""cdanalytics.prepost on synthetic exports: the analyses recover the known truth.

``cdanalytics.synth`` draws true scores T ~ N(mean, baseline_sd), the same true
change for everyone, and independent measurement noise whose variance makes the
reliability Var(T) / Var(observed) equal the registry value; scores are rounded
to the scale's resolution. truth["prepost"][instrument][scale] documents it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from _prepost_fixtures import make_export, pairs_to_rows
from scipy import stats

from cdanalytics.errors import ConfigError, ExportValidationError, InsufficientDataError
from cdanalytics.prepost import (
    attrition,
    change,
    mixed_model,
    reliable_change,
    reliable_change_summary,
    score_table,
)
from cdanalytics.registry import instrument_registry
from cdanalytics.synth import generate

Z975 = stats.norm.ppf(0.975)


@pytest.fixture(scope="module")
def synthetic():
    export, truth = generate(60_000, seed=5)
    reliabilities = {
        instrument: {"scales": {s: {"reliability": t["reliability"]} for s, t in scales.items()}}
        for instrument, scales in truth["prepost"].items()
    }
    return export, truth["prepost"], instrument_registry(reliabilities)


def series(truth):
    for instrument, scales in truth.items():
        for scale, t in scales.items():
            yield instrument, scale, t


def test_mean_change_ci_contains_the_true_change(synthetic):
    export, truth, registry = synthetic
    result = change(export, registry=registry, alpha=0.001).set_index(["instrument", "scale"])
    assert len(result) == sum(1 for _ in series(truth))
    for instrument, scale, t in series(truth):
        row = result.loc[(instrument, scale)]
        # exact expected observed means include rounding and clipping at the range
        expected = t["expected_observed_mean"]["post"] - t["expected_observed_mean"]["pre"]
        assert row["change_ci_low"] < expected < row["change_ci_high"], (instrument, scale)
        assert row["informant"] == t["informant"]
        better = t["true_change"] if t["direction"] == "higher_better" else -t["true_change"]
        assert np.sign(row["improvement"]) == np.sign(better)


def test_share_with_reliable_change_matches_the_generating_reliability(synthetic):
    export, truth, registry = synthetic
    changes = reliable_change(export, registry=registry)
    for instrument, scale, t in series(truth):
        rows = changes[(changes["instrument"] == instrument) & (changes["scale"] == scale)]
        paired = rows[
            rows["change_class"].isin(["recovered", "improved", "unchanged", "deteriorated"])
        ]
        n = len(paired)
        # Observed change = true change + e_post - e_pre; each e has the noise variance
        # plus the rounding variance resolution^2 / 12.
        sd_change = np.sqrt(2 * (t["noise_sd"] ** 2 + t["resolution"] ** 2 / 12))
        s_diff = paired["s_diff"].iloc[0]
        if paired["sd_source"].iloc[0] == "sample_baseline":
            # JT's S_diff with the observed baseline SD is the SD of change noise
            assert s_diff == pytest.approx(sd_change, rel=0.05)
        worse = 1 if t["direction"] == "higher_worse" else -1
        mean = t["true_change"]
        p_up = stats.norm.sf((1.96 * s_diff - mean) / sd_change)
        p_down = stats.norm.cdf((-1.96 * s_diff - mean) / sd_change)
        p_improve, p_worsen = (p_down, p_up) if worse == 1 else (p_up, p_down)
        improved = paired["change_class"].isin(["recovered", "improved"]).mean()
        worsened = (paired["change_class"] == "deteriorated").mean()
        for observed, expected in ((improved, p_improve), (worsened, p_worsen)):
            tolerance = 4 * np.sqrt(expected * (1 - expected) / n) + 0.002
            assert observed == pytest.approx(expected, abs=tolerance), (instrument, scale)


def test_summary_rates_add_up_and_not_clinical_are_apart(synthetic):
    export, _, registry = synthetic
    summary = reliable_change_summary(
        reliable_change(export, registry=registry, subset=["sdq", "parenting_scale"])
    )
    for _, group in summary.groupby(["instrument", "baseline"], observed=True):
        assert group["rate"].sum() == pytest.approx(1.0)
        assert (group["ci_low"] <= group["rate"]).all() and (
            group["rate"] <= group["ci_high"]
        ).all()
    assert set(summary["baseline"]) == {"clinical", "not_clinical"}
    assert set(summary[summary["baseline"] == "not_clinical"]["change_class"]) == {
        "improved",
        "unchanged",
        "deteriorated",
    }


def test_attrition_finds_no_baseline_difference_when_missingness_is_at_random(synthetic):
    export, _, _ = synthetic
    result = attrition(export)
    # synth draws missing post scores independently of the scores: the baseline
    # standardised differences are small and the p-values roughly uniform
    assert result["smd"].abs().max() < 0.15
    assert (result["p_value"] > 0.001).all()


def test_mixed_model_recovers_the_true_means_and_contrasts(synthetic):
    export, truth, registry = synthetic
    t = truth["psi_sf"]["total"]
    res = mixed_model(
        export,
        "psi_sf",
        "total",
        t["informant"],
        registry=registry,
        alpha=0.001,
        engine="profile_reml",
    )
    summary = res.summary.set_index("term")
    means = t["expected_observed_mean"]
    for term, expected in (
        ("pre", means["pre"]),
        ("post", means["post"]),
        ("follow_up", means["follow_up"]),
        ("post - pre", means["post"] - means["pre"]),
        ("follow_up - pre", means["follow_up"] - means["pre"]),
    ):
        assert summary.loc[term, "ci_low"] < expected < summary.loc[term, "ci_high"], term
    # Var(T) is the participant variance; the residual is the noise (+ rounding)
    assert res.tau2 == pytest.approx(t["baseline_sd"] ** 2, rel=0.15)
    assert res.sigma2 == pytest.approx(t["noise_sd"] ** 2 + t["resolution"] ** 2 / 12, rel=0.1)
    assert res.icc == pytest.approx(t["reliability"], abs=0.03)


# --- the score table shared by the analyses -------------------------------------------


def small_export():
    rows = pairs_to_rows([20, 22, 18, 25], [15, 18, np.nan, 20])
    rows += pairs_to_rows([3.6, 3.0], [2.5, 3.1], instrument="parenting_scale")
    participants = pd.DataFrame(
        {
            "participant_id": ["p0", "p1", "p2", "p3"],
            "programme": ["borg", "borg", "journey", "journey"],
            "exit_status": ["completed", "completed", "dropped_out", None],
        }
    )
    return make_export(rows, participants)


def test_score_table_puts_timepoints_side_by_side():
    table = score_table(small_export(), by="programme")
    assert list(table.columns) == [
        "participant_id", "programme", "instrument", "scale", "informant",
        "pre", "post", "follow_up", "exit_status",
    ]  # fmt: skip
    p0 = table[(table["participant_id"] == "p0") & (table["instrument"] == "sdq")].iloc[0]
    assert (p0["pre"], p0["post"], p0["programme"]) == (20, 15, "borg")
    assert np.isnan(p0["follow_up"])
    assert len(table) == 6


def test_analyses_give_the_same_answer_from_the_score_table():
    export = small_export()
    table = score_table(export, by="programme")
    pd.testing.assert_frame_equal(change(table, by="programme"), change(export, by="programme"))
    pd.testing.assert_frame_equal(
        attrition(table, by="programme"), attrition(export, by="programme")
    )
    registry = instrument_registry({"parenting_scale": {"scales": {"total": {"reliability": 0.8}}}})
    a = reliable_change(table, by="programme", registry=registry, subset=["parenting_scale"])
    b = reliable_change(export, by="programme", registry=registry, subset=["parenting_scale"])
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    with pytest.raises(ConfigError, match="score table lacks"):
        change(score_table(export), by="programme")


def test_export_problems_are_reported_clearly():
    export = small_export()
    orphan = replace(export, participants=export.participants.iloc[1:])
    with pytest.raises(ExportValidationError, match="not in participants"):
        change(orphan)
    twice = replace(
        export, participants=pd.concat([export.participants, export.participants.iloc[:1]])
    )
    with pytest.raises(ExportValidationError, match="duplicate participant_id"):
        change(twice)
    with pytest.raises(InsufficientDataError, match="cts2"):
        change(export, subset=["cts2"])
    with pytest.raises(ConfigError, match="Export or a score table"):
        change(export.measures.to_dict())


def test_empty_key_or_score_values_are_refused():
    export = small_export()
    measures = export.measures.copy()
    measures.loc[0, "score"] = np.nan
    with pytest.raises(ExportValidationError, match="empty score"):
        change(replace(export, measures=measures))
    measures = export.measures.copy()
    measures.loc[0, "informant"] = np.nan
    with pytest.raises(ExportValidationError, match="empty informant"):
        change(replace(export, measures=measures))
