"""cdanalytics.prepost.reliable: Jacobson-Truax RCI and clinical significance, worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _prepost_fixtures import make_export, pairs_to_rows

from cdanalytics.errors import ConfigError, StatisticalWarning
from cdanalytics.prepost import clinical_cutoff, reliable_change, reliable_change_summary
from cdanalytics.registry import instrument_registry

# Parenting Scale norms in the registry (Arnold et al. 1993): clinic 3.1 (SD 0.7),
# non-clinic 2.6 (SD 0.6). Reliability is not in the registry; a site supplies 0.84.
PS_REGISTRY = instrument_registry({"parenting_scale": {"scales": {"total": {"reliability": 0.84}}}})
C_PS = (0.7 * 2.6 + 0.6 * 3.1) / (0.7 + 0.6)  # 2.8308
S_DIFF_PS = math.sqrt(2) * 0.7 * math.sqrt(1 - 0.84)  # dysfunctional SD: 0.39598


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_cutoffs_a_b_c_from_the_parenting_scale_norms():
    norms = dict(
        functional_mean=2.6, functional_sd=0.6, dysfunctional_mean=3.1, dysfunctional_sd=0.7
    )
    # c = (0.7 * 2.6 + 0.6 * 3.1) / (0.7 + 0.6) = 3.68 / 1.3
    assert clinical_cutoff("higher_worse", **norms) == (pytest.approx(2.830769, abs=1e-6), "c")
    assert clinical_cutoff("higher_worse", **norms, which="a") == (pytest.approx(3.1 - 1.4), "a")
    assert clinical_cutoff("higher_worse", **norms, which="b") == (pytest.approx(2.6 + 1.2), "b")
    only_functional = dict(functional_mean=2.6, functional_sd=0.6)
    assert clinical_cutoff("higher_worse", **only_functional) == (pytest.approx(3.8), "b")
    only_dys = dict(dysfunctional_mean=3.1, dysfunctional_sd=0.7)
    assert clinical_cutoff("higher_worse", **only_dys) == (pytest.approx(1.7), "a")
    assert clinical_cutoff("higher_worse", clinical_threshold=17) == (17.0, "threshold")
    value, kind = clinical_cutoff("higher_worse")
    assert np.isnan(value) and kind == "none"
    with pytest.raises(ConfigError, match="cutoff"):
        clinical_cutoff("higher_worse", which="d")


def test_cutoffs_a_and_b_point_the_other_way_for_higher_better_scales():
    norms = dict(functional_mean=80, functional_sd=10, dysfunctional_mean=50, dysfunctional_sd=10)
    assert clinical_cutoff("higher_better", **norms) == (pytest.approx(65), "c")
    assert clinical_cutoff("higher_better", **norms, which="a")[0] == pytest.approx(70)
    assert clinical_cutoff("higher_better", **norms, which="b")[0] == pytest.approx(60)


@pytest.fixture
def parenting_scale_example():
    """Seven fathers on the Parenting Scale (higher = worse); NaN = no score."""
    pre = [3.6, 3.8, 3.2, 3.0, 2.5, 3.5, np.nan]
    post = [2.5, 2.9, 2.9, 3.9, 1.5, np.nan, 3.0]
    return make_export(pairs_to_rows(pre, post, instrument="parenting_scale"))


def test_worked_example_rci_and_classes(parenting_scale_example):
    result = reliable_change(parenting_scale_example, registry=PS_REGISTRY)
    result = result.set_index("participant_id").loc[[f"p{i}" for i in range(7)]]
    assert (result["sd_source"] == "norm_dysfunctional").all()
    assert (result["sd"] == 0.7).all()
    assert (result["cutoff_type"] == "c").all()
    assert result["cutoff"].to_numpy() == pytest.approx(C_PS)
    assert result["s_diff"].to_numpy() == pytest.approx(S_DIFF_PS)
    expected_rci = np.array([-1.1, -0.9, -0.3, 0.9, -1.0, np.nan, np.nan]) / S_DIFF_PS
    np.testing.assert_allclose(result["rci"], expected_rci, rtol=1e-9)
    # p0: -2.78, 3.6 -> 2.5 crosses c = 2.83: recovered
    # p1: -2.27 but 2.9 is still above c: improved
    # p2: -0.76: unchanged;  p3: +2.27: deteriorated
    # p4: -2.53 from 2.5, which was not clinical: improved (reported apart)
    assert list(result["change_class"]) == [
        "recovered",
        "improved",
        "unchanged",
        "deteriorated",
        "improved",
        "post_missing",
        "pre_missing",
    ]
    assert list(result["clinical_at_baseline"]) == [True, True, True, True, False, True, pd.NA]
    assert result["reliability"].iloc[0] == 0.84


def test_worked_example_summary_counts_rates_and_wilson_cis(parenting_scale_example):
    changes = reliable_change(parenting_scale_example, registry=PS_REGISTRY)
    summary = reliable_change_summary(changes).set_index(["baseline", "change_class"])
    clinical = summary.loc["clinical"]
    assert list(clinical.index) == ["recovered", "improved", "unchanged", "deteriorated"]
    assert (clinical["n"] == 1).all() and (clinical["n_classified"] == 4).all()
    assert (clinical["n_post_missing"] == 1).all()
    assert clinical["rate"].to_numpy() == pytest.approx(0.25)
    low, high = wilson(1, 4)
    assert clinical["ci_low"].to_numpy() == pytest.approx(low)
    assert clinical["ci_high"].to_numpy() == pytest.approx(high)
    apart = summary.loc["not_clinical"]
    assert "recovered" not in apart.index
    assert apart.loc["improved", "n"] == 1 and apart.loc["improved", "rate"] == 1.0
    assert apart.loc["unchanged", "n"] == 0


def test_sample_baseline_sd_and_published_threshold_when_norms_are_missing():
    # SDQ: no norms in the registry, alpha 0.73, published threshold 17 (at or above = clinical)
    pre = np.array([17, 22, 25, 14, 19, 30])
    post = np.array([16, 12, 24, np.nan, 27, 18])
    result = reliable_change(make_export(pairs_to_rows(pre, post))).set_index("participant_id")
    sd = pre.std(ddof=1)  # every baseline score, including p3 who has no post score
    s_diff = math.sqrt(2) * sd * math.sqrt(1 - 0.73)
    assert (result["sd_source"] == "sample_baseline").all()
    assert result["s_diff"].to_numpy() == pytest.approx(s_diff)
    assert (result["cutoff_type"] == "threshold").all() and (result["cutoff"] == 17).all()
    assert result.loc["p0", "clinical_at_baseline"]  # exactly 17 counts as clinical
    assert not result.loc["p3", "clinical_at_baseline"]
    # s_diff = 4.24, reliable change needs |change| > 8.32
    assert result.loc["p1", "change_class"] == "recovered"  # 22 -> 12
    assert result.loc["p0", "change_class"] == "unchanged"
    assert result.loc["p4", "change_class"] == "unchanged"  # +8 < 8.32
    assert result.loc["p5", "change_class"] == "improved"  # 30 -> 18: still >= 17
    forced = reliable_change(make_export(pairs_to_rows(pre, post)), sd_source="sample")
    assert forced["s_diff"].to_numpy() == pytest.approx(s_diff)


def test_reverse_scored_scale_recovers_upwards():
    # CTS2 negotiation is higher = better; give it norms so that c = 65
    registry = instrument_registry(
        {
            "cts2": {
                "scales": {
                    "negotiation": {
                        "functional": {"mean": 80, "sd": 10},
                        "dysfunctional": {"mean": 50, "sd": 10},
                    }
                }
            }
        }
    )
    pre = [50, 60, 70, 60]
    post = [75, 64, 90, 40]
    result = reliable_change(
        make_export(pairs_to_rows(pre, post, "cts2", "negotiation")), registry=registry
    ).set_index("participant_id")
    s_diff = math.sqrt(2) * 10 * math.sqrt(1 - 0.60)  # 8.94: reliable beyond 17.5 points
    assert result["s_diff"].to_numpy() == pytest.approx(s_diff)
    assert list(result["clinical_at_baseline"]) == [True, True, False, True]
    assert list(result["change_class"]) == ["recovered", "unchanged", "improved", "deteriorated"]
    assert result.loc["p0", "rci"] == pytest.approx(25 / s_diff)  # raw sign: score went up


def test_missing_reliability_is_reported_not_guessed():
    export = make_export(pairs_to_rows([90, 100, 110], [80, 95, 120], instrument="psi_sf"))
    with pytest.warns(StatisticalWarning, match="No reliability.*psi_sf/total"):
        result = reliable_change(export)
    assert (result["change_class"] == "reliability_missing").all()
    assert result["rci"].isna().all() and result["reliability"].isna().all()
    summary = reliable_change_summary(result)
    assert (summary["n_classified"] == 0).all() and (summary["n_reliability_missing"] == 3).all()
    assert summary["rate"].isna().all() and summary["ci_low"].isna().all()


def test_no_cutoff_leaves_clinical_status_unknown():
    # CTS2 physical assault: reliability 0.76, no norms, no threshold
    export = make_export(pairs_to_rows([60, 80, 40], [30, 78, 41], "cts2", "physical_assault"))
    result = reliable_change(export)
    assert (result["cutoff_type"] == "none").all()
    assert result["clinical_at_baseline"].isna().all()
    assert set(result["change_class"]) <= {"improved", "unchanged", "deteriorated"}
    summary = reliable_change_summary(result)
    assert set(summary["baseline"]) == {"unknown"}
    assert "recovered" not in set(summary["change_class"])


def test_explicit_cutoff_choice_and_unavailable_choice():
    export = make_export(pairs_to_rows([3.6], [2.5], instrument="parenting_scale"))
    a = reliable_change(export, registry=PS_REGISTRY, cutoff="a")
    assert a["cutoff"].iloc[0] == pytest.approx(1.7) and a["cutoff_type"].iloc[0] == "a"
    assert a["change_class"].iloc[0] == "improved"  # 2.5 is above 1.7: not recovered
    with pytest.warns(StatisticalWarning, match="Cut-off 'threshold'"):
        reliable_change(export, registry=PS_REGISTRY, cutoff="threshold")


def test_summary_groups_by_participant_columns():
    rows = pairs_to_rows([3.6, 3.8, 3.2], [2.5, 2.9, 2.9], instrument="parenting_scale")
    participants = pd.DataFrame(
        {"participant_id": ["p0", "p1", "p2"], "programme": ["caring_dads", "borg", "borg"]}
    )
    export = make_export(rows, participants)
    changes = reliable_change(export, by="programme", registry=PS_REGISTRY)
    summary = reliable_change_summary(changes, by="programme")
    borg = summary[summary["programme"] == "borg"].set_index("change_class")
    assert borg["n_classified"].iloc[0] == 2
    assert borg.loc["improved", "n"] == 1 and borg.loc["unchanged", "n"] == 1
    with pytest.raises(ConfigError, match="same `by`"):
        reliable_change_summary(reliable_change(export, registry=PS_REGISTRY), by="programme")


def test_impossible_reliability_is_refused():
    registry = instrument_registry({"sdq": {"scales": {"total": {"reliability": 1.0}}}})
    with pytest.raises(ConfigError, match="below 1"):
        reliable_change(make_export(pairs_to_rows([20], [15])), registry=registry)
