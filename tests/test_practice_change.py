"""cdanalytics.practice.change: difference in differences with team-clustered CIs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from _practice_fixtures import ITEMS, audit_rows, synthetic_set

from cdanalytics.errors import AnalysisError, InsufficientDataError
from cdanalytics.practice import CHANGE_COLUMNS, change


def test_recovers_the_true_training_effect_of_every_item_within_bonferroni_99pct_cis():
    audits, truth = synthetic_set()
    out = change(audits, alpha=0.01 / len(ITEMS))
    assert list(out.columns) == CHANGE_COLUMNS
    did = out[out["contrast"] == "difference"].set_index("item")
    assert list(did.index) == ITEMS
    for item in ITEMS:
        assert did.loc[item, "ci_low"] <= truth["did"][item] <= did.loc[item, "ci_high"], item
    # the effects 0.05..0.20 are found; the zero effects are not claimed as large
    assert (did.loc[[i for i in ITEMS if truth["did"][i] >= 0.15], "p_value"] < 0.001).all()


def test_arm_changes_recover_the_true_change_in_each_arm():
    audits, truth = synthetic_set()
    out = change(audits, alpha=0.01 / (2 * len(ITEMS)))
    for row in out[out["contrast"] != "difference"].itertuples():
        true = truth["share"][row.item]
        expected = true["follow_up"][row.contrast] - true["baseline"][row.contrast]
        assert row.ci_low <= expected <= row.ci_high, (row.item, row.contrast)
        assert row.n_teams == 20


def test_estimates_and_standard_errors_equal_statsmodels_ols_clustered_by_team():
    audits, _ = synthetic_set()
    item = ITEMS[3]
    out = change(audits).query("item == @item").set_index("contrast")
    first = audits[(audits["item"] == item)].sort_values("audit_date", kind="stable")
    first = first[~first.duplicated(["case_id", "period"])]
    arm = first.groupby("team")["trained"].transform("any").astype(float)
    post = (first["period"] == "follow_up").astype(float)
    y = (first["score"] == 2).astype(float)
    X = sm.add_constant(pd.DataFrame({"post": post, "arm": arm, "post_x_arm": post * arm}))
    groups = pd.factorize(first["team"])[0]
    fit = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    assert out.loc["difference", "estimate"] == pytest.approx(fit.params["post_x_arm"], abs=1e-12)
    assert out.loc["difference", "se"] == pytest.approx(fit.bse["post_x_arm"], rel=1e-9)
    assert out.loc["difference", "p_value"] == pytest.approx(fit.pvalues["post_x_arm"], rel=1e-6)
    ci = fit.conf_int().loc["post_x_arm"]
    assert (out.loc["difference", "ci_low"], out.loc["difference", "ci_high"]) == pytest.approx(
        tuple(ci), rel=1e-9
    )
    assert out.loc["untrained", "estimate"] == pytest.approx(fit.params["post"], abs=1e-12)
    assert out.loc["untrained", "se"] == pytest.approx(fit.bse["post"], rel=1e-9)
    assert out.loc["trained", "share_from"] == pytest.approx(y[(arm == 1) & (post == 0)].mean())


def test_a_small_table_by_hand():
    rows = []
    # team, arm, met files of 4 at baseline and at follow-up
    for team, trained, base, post in [
        ("A", True, 1, 3),
        ("B", True, 2, 3),
        ("C", False, 1, 1),
        ("D", False, 2, 2),
    ]:
        for period, met in (("baseline", base), ("follow_up", post)):
            for k in range(4):
                rows.append(
                    (
                        f"{team}{period}{k}",
                        team,
                        period,
                        "R1",
                        trained and period == "follow_up",
                        2 * (k < met),
                    )
                )
    out = change(audit_rows(rows)).set_index("contrast")
    assert out.loc["trained", ["share_from", "share_to"]].tolist() == [3 / 8, 6 / 8]
    assert out.loc["untrained", "estimate"] == 0
    assert out.loc["difference", "estimate"] == pytest.approx(3 / 8)
    assert out.loc["difference", "df"] == 3
    assert out["n_files"].tolist() == [16, 16, 32]


def test_one_trained_team_is_too_few_for_clustered_intervals():
    audits, _ = synthetic_set()
    keep = ~audits.groupby("team")["trained"].transform("any") | (audits["team"] == "T01")
    with pytest.raises(InsufficientDataError, match="two trained teams"):
        change(audits[keep])


def test_more_than_two_periods_need_the_two_compared_named():
    audits, _ = synthetic_set()
    extra = audits[audits["period"] == "baseline"].assign(period="2023", trained=False)
    extra["case_id"] = extra["case_id"] + "x"
    both = pd.concat([audits, extra])
    with pytest.raises(AnalysisError, match="say which two"):
        change(both)
    assert np.array_equal(
        change(both, periods=("baseline", "follow_up"))["estimate"], change(audits)["estimate"]
    )
    with pytest.raises(AnalysisError, match="must be two of the audit periods"):
        change(both, periods=("baseline", "2030"))


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.DomainWarning")
def test_binomial_gee_with_identity_link_gives_the_same_estimate_and_the_uncorrected_se():
    audits, _ = synthetic_set()
    item = ITEMS[7]
    out = change(audits).query("item == @item").set_index("contrast").loc["difference"]
    first = audits[(audits["item"] == item)].sort_values("audit_date", kind="stable")
    first = first[~first.duplicated(["case_id", "period"])].reset_index(drop=True)
    arm = first.groupby("team")["trained"].transform("any").astype(float)
    post = (first["period"] == "follow_up").astype(float)
    y = (first["score"] == 2).astype(float)
    X = sm.add_constant(pd.DataFrame({"post": post, "arm": arm, "post_x_arm": post * arm}))
    family = sm.families.Binomial(link=sm.families.links.Identity())
    fit = sm.GEE(
        y, X, groups=first["team"], family=family, cov_struct=sm.cov_struct.Independence()
    ).fit()
    assert out["estimate"] == pytest.approx(fit.params["post_x_arm"], abs=1e-9)
    g, n = first["team"].nunique(), len(first)
    cr1 = g / (g - 1) * (n - 1) / (n - 4)  # GEE's robust sandwich has no small-sample factor
    assert out["se"] == pytest.approx(fit.bse["post_x_arm"] * np.sqrt(cr1), rel=1e-6)
