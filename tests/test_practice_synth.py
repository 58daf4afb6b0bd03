"""cdanalytics.synth.synthetic_audits: audits with a known share, training effect and kappa."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.inter_rater import cohens_kappa

from cdanalytics.errors import ConfigError
from cdanalytics.synth import synthetic_audits

ITEM = "cc2_actions_harm_child"


def _pairs(audits: pd.DataFrame, item: str) -> pd.DataFrame:
    rows = audits[audits["item"] == item].sort_values("audit_date", kind="stable")
    rows = rows.assign(reading=rows.groupby(["case_id", "period"]).cumcount())
    return rows.pivot_table(index=["case_id", "period"], columns="reading", values="score").dropna()


def _kappa(pairs: pd.DataFrame, wt=None) -> float:
    table = pd.crosstab(pairs[0], pairs[1]).reindex(
        index=[0, 1, 2], columns=[0, 1, 2], fill_value=0
    )
    return cohens_kappa(table.to_numpy(), wt=wt).kappa


def test_same_arguments_same_table():
    args = (6, 20, [ITEM], {"a": 0.3, "b": 0.5}, {ITEM: 0.1}, 0.7)
    first, truth = synthetic_audits(*args, seed=3)
    again, _ = synthetic_audits(*args, seed=3)
    pd.testing.assert_frame_equal(first, again)
    other, _ = synthetic_audits(*args, seed=4)
    assert not first["score"].equals(other["score"])
    assert truth["periods"] == ["a", "b"]


def test_layout_readers_dates_and_training_flags():
    audits, truth = synthetic_audits(
        10, 50, None, {"baseline": 0.3, "follow_up": 0.4}, {}, 0.5, seed=1
    )
    first = audits[~audits.duplicated(["case_id", "period", "item"])]
    assert len(first) == 10 * 2 * 50 * 15
    assert first.groupby(["team", "period"])["case_id"].nunique().eq(50).all()
    assert len(audits) == 15 * (1000 + truth["n_double_read"])
    doubles = audits[audits.duplicated(["case_id", "period", "item"], keep=False)]
    readings = doubles.sort_values("audit_date", kind="stable").groupby(["case_id", "item"])
    assert (readings["reader_id"].nunique() == 2).all()
    assert (readings["audit_date"].agg(lambda d: d.iloc[1] > d.iloc[0])).all()
    assert 0.15 < truth["n_double_read"] / 1000 < 0.25
    trained_teams = set(audits.loc[audits["trained"], "team"])
    assert trained_teams == {f"T{k:02d}" for k in range(1, 6)}
    assert not audits.loc[audits["period"] == "baseline", "trained"].any()


def test_true_shares_follow_the_model_and_the_difference_in_differences_is_the_effect():
    _, truth = synthetic_audits(
        4,
        5,
        [ITEM],
        {"baseline": 0.2, "follow_up": 0.3},
        {ITEM: 0.25},
        0.6,
        seed=1,
        baseline_gap=0.1,
    )
    share = truth["share"][ITEM]
    did = (share["follow_up"]["trained"] - share["baseline"]["trained"]) - (
        share["follow_up"]["untrained"] - share["baseline"]["untrained"]
    )
    assert did == pytest.approx(truth["did"][ITEM]) and did == pytest.approx(0.25)
    assert share["baseline"]["trained"] == pytest.approx(0.3)


def test_within_one_stratum_the_true_kappa_is_the_copy_probability_for_every_weighting():
    audits, truth = synthetic_audits(
        2, 40_000, [ITEM], {"a": 0.4, "b": 0.4}, {}, 0.55, seed=2, trained_share=0
    )
    assert truth["kappa"][ITEM] == pytest.approx(
        {"unweighted": 0.55, "linear": 0.55, "quadratic": 0.55}
    )
    pairs = _pairs(audits, ITEM)
    assert _kappa(pairs) == pytest.approx(0.55, abs=0.02)
    assert _kappa(pairs, "quadratic") == pytest.approx(0.55, abs=0.02)


def test_pooled_over_different_strata_the_true_kappa_matches_a_large_sample():
    audits, truth = synthetic_audits(
        4, 30_000, [ITEM], {"a": 0.1, "b": 0.5}, {ITEM: 0.35}, 0.4, seed=5, double_read_share=0.5
    )
    true = truth["kappa"][ITEM]
    assert true["unweighted"] > 0.4  # differing strata add agreement between files
    pairs = _pairs(audits, ITEM)
    assert _kappa(pairs) == pytest.approx(true["unweighted"], abs=0.012)
    assert _kappa(pairs, "linear") == pytest.approx(true["linear"], abs=0.012)


def test_lower_better_items_draw_met_as_the_low_score():
    audits, _ = synthetic_audits(
        2, 5000, ["m_blaming_language"], {"a": 0.8, "b": 0.8}, {}, 1.0, seed=9
    )
    first = audits[~audits.duplicated(["case_id", "period"])]
    assert (first["score"] == 0).mean() == pytest.approx(0.8, abs=0.02)
    both = _pairs(audits, "m_blaming_language")
    assert np.array_equal(both[0], both[1])  # kappa 1: the second reader always copies


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"items": ["nope"]}, "not in audit tool"),
        (
            {
                "true_share_by_period": {"a": 0.9, "b": 0.95},
                "true_training_effect_by_item": {ITEM: 0.2},
            },
            "must lie in",
        ),
        ({"true_share_by_period": {"a": 0.5}}, "exactly two periods"),
        ({"reader_kappa": 1.5}, "reader_kappa"),
    ],
)
def test_impossible_settings_are_refused(kwargs, message):
    args = {
        "n_teams": 4,
        "n_files_per_team_period": 5,
        "items": [ITEM],
        "true_share_by_period": {"a": 0.5, "b": 0.5},
        "true_training_effect_by_item": {},
        "reader_kappa": 0.5,
        "seed": 1,
    } | kwargs
    with pytest.raises(ConfigError, match=message):
        synthetic_audits(**args)
