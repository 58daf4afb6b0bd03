"""The report's added methods (issue 15), read only from what the report wrote.

The synthetic export of tests/_report_added_fixtures.py (known true change,
seriousness and custody assigned per man by a known rule, several sites) is
reported in Dutch. Checked against independent computations: the
completers' change by hand, the imputed interval against the true change,
the variants against the main measure's reoffenders of the labelled men, the
case-mix observed counts by hand and the expected counts against the
logistic model's score equation, the landmark hazard ratio against
statsmodels' PHReg; and the small counts attacked by subtraction. Finally
the committed sample still reports without new warnings.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _report_added_fixtures import as_number, labelled_men, read_csv, write_family_export
from statsmodels.duration.hazard_regression import PHReg

from cdanalytics import reoffending
from cdanalytics.config import validate_config
from cdanalytics.errors import StatisticalWarning
from cdanalytics.i18n import label
from cdanalytics.io import load_export
from cdanalytics.report import Outcomes, build_report, compute_outcomes
from cdanalytics.report import methods_extra as mx
from cdanalytics.synth import write_synthetic_export

THRESHOLD = 10
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    export = tmp_path_factory.mktemp("methods_export")
    truth = write_family_export(export)
    out = tmp_path_factory.mktemp("methods_report") / "report"
    with pytest.warns(Warning):  # the synthetic data's own statistical warnings
        build_report(export, out, lang="nl", png=True)
    return export, out, truth


@pytest.fixture(scope="module")
def outcomes(report):
    return json.loads((report[1] / "outcomes.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def people(report):
    """The main measure's per-person outcomes (the variants are checked against them)."""
    return reoffending.person_outcomes(load_export(report[0]))


def test_the_sections_are_shown_in_dutch_with_alt_text(report):
    page = (report[1] / "report.html").read_text("utf-8")
    assert '<html lang="nl">' in page
    for key in (
        "section_methods_extra",
        "table_prepost_missing",
        "table_landmark_bands",
        "table_reoffending_variants",
        "table_casemix_site",
        "table_casemix_referral_quarter",
        "section_family",
        "table_family_change",
    ):
        assert label(key, "nl") in page, key
    assert label("methods_missing_headline", "nl", m=mx.IMPUTATIONS, seed=mx.SEED) in page
    for figure in ("casemix_funnel", "casemix_trend"):
        alt = label(f"alt_{figure}", "nl")
        assert f'id="figure-{figure}" role="img" aria-label="{alt}"' in page
        assert (report[1] / "figures" / f"{figure}.png").exists()


def test_completers_change_by_hand_and_imputed_interval_covers_the_truth(report, outcomes):
    export, _, truth = report
    section = outcomes["prepost_missing"]
    assert section["headline"] == "completers"
    assert section["m"] == mx.IMPUTATIONS
    measures = pd.read_csv(export / "measures.csv")
    cts2 = measures[
        (measures["instrument"] == "cts2")
        & (measures["scale"] == "physical_assault")
        & (measures["informant"] == "partner")
    ]
    wide = cts2.pivot_table(
        index="participant_id", columns="timepoint", values="score", aggfunc="first"
    )
    figures = section["measures"]["cts2.physical_assault.partner"]
    pairs = wide.dropna(subset=["pre", "post"])
    assert figures["completers"]["n_paired"] == len(pairs)
    assert figures["completers"]["mean_change"] == pytest.approx(
        (pairs["post"] - pairs["pre"]).mean(), abs=1e-10
    )
    imputed = figures["imputed"]
    assert imputed["n_analysed"] == int(wide["pre"].notna().sum())
    assert imputed["n_imputed"] == imputed["n_analysed"] - len(pairs)
    assert 0 < imputed["fmi"] < 1
    true_change = truth["prepost"]["cts2"]["physical_assault"]["true_change"]
    assert imputed["ci_low"] <= true_change <= imputed["ci_high"]


def _repeats_the_change_table(folder: Path) -> int:
    """Check that ``prepost_missing`` repeats the ``change`` table; its rows withheld."""
    keys = ["instrument", "scale", "informant"]
    missing = read_csv(folder, "prepost_missing").set_index(keys)
    change = read_csv(folder, "change").set_index(keys).loc[missing.index]
    assert len(missing) > 0
    for mine, theirs in (
        ("n_paired", "n_paired"),
        ("n_imputed", "n_pre_only"),
        ("mean_change_completers", "mean_change"),
        ("ci_low_completers", "change_ci_low"),
        ("ci_high_completers", "change_ci_high"),
    ):
        assert (missing[mine] == change[theirs]).all(), mine
    parts = missing[["n_paired", "n_imputed"]].apply(as_number)
    total = as_number(missing["n_analysed"])
    hidden = parts.isna().any(axis=1)
    assert total[hidden].isna().all()
    assert (total[~hidden] == parts[~hidden].sum(axis=1)).all()
    for column in ("mean_change_imputed", "ci_low_imputed", "ci_high_imputed", "fmi"):
        assert as_number(missing.loc[total.isna(), column]).isna().all(), column
    return int(hidden.sum())


def test_prepost_missing_repeats_the_change_table_and_never_its_withheld_cells(report, tmp_path):
    """The completers' figures and n_imputed are the change table's cells, shown or
    withheld alike; n_analysed, their sum, is withheld whenever a part is (checked
    on the family export, nothing withheld, and on a small synthetic export at
    threshold 10, some rows withheld)."""
    assert _repeats_the_change_table(report[1]) == 0
    write_synthetic_export(tmp_path / "small", n_participants=300, seed=3)
    config = {"disclosure": {"threshold": 10}, "prepost": {"timepoints": ["pre", "post"]}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_report(tmp_path / "small", tmp_path / "report", config=config)
    assert _repeats_the_change_table(tmp_path / "report") > 0


def test_variants_count_the_main_reoffenders_of_the_labelled_men(report, outcomes, people):
    men = labelled_men(pd.read_csv(report[0] / "participants.csv", dtype=str))
    table = people.merge(men, on="participant_id", validate="one_to_one")
    eligible = table[table["window_eligible"].fillna(False).astype(bool)]
    variants = outcomes["reoffending_variants"]
    assert "very_serious" not in variants  # no event is very serious
    for variant, column in (("serious", "serious"), ("custody", "custody")):
        for group, rows in eligible.groupby(eligible["group"].astype(str)):
            figures = variants[variant][group]
            reoffended = rows["reoffended_in_window"].astype(bool) & rows[column]
            assert figures["n_eligible"] == len(rows)
            if figures["n_reoffenders"] is not None:
                assert figures["n_reoffenders"] == int(reoffended.sum())
                assert figures["rate"] == pytest.approx(reoffended.mean())


def test_casemix_observed_by_hand_and_expected_adds_up_to_observed(report, people):
    table = read_csv(report[1], "casemix_site")
    programme = people[
        (people["group"].astype(str) == "programme")
        & people["window_eligible"].fillna(False).astype(bool)
    ]
    by_hand = programme.groupby(programme["site"].astype(str))["reoffended_in_window"].agg(
        ["size", "sum"]
    )
    table = table.set_index("site")
    assert set(table.index) == set(by_hand.index)
    assert (as_number(table["n_people"]) == by_hand["size"].reindex(table.index)).all()
    observed = as_number(table["n_observed"])
    shown = observed.notna()
    assert shown.sum() >= 5
    assert (observed[shown] == by_hand["sum"].reindex(table.index)[shown]).all()
    # a logistic model with an intercept fitted by maximum likelihood predicts, in
    # sum, exactly the number observed (its score equation for the intercept)
    assert as_number(table["expected"]).sum() == pytest.approx(by_hand["sum"].sum(), rel=1e-8)


@pytest.mark.parametrize("unit", ["site", "referral_quarter"])
def test_no_unit_count_follows_from_the_programme_total(report, unit):
    units = read_csv(report[1], f"casemix_{unit}")
    window = read_csv(report[1], "fixed_window")
    overall = window[(window["programme"] == "All") & (window["group"] == "programme")]
    for column, total in (("n_observed", "n_reoffenders"), ("n_people", "n_eligible")):
        values = as_number(units[column])
        assert not ((values >= 1) & (values < THRESHOLD)).any()
        total_value = as_number(overall[total]).iloc[0]
        if values.isna().sum() == 1 and not np.isnan(total_value):
            rest = total_value - values.sum()
            assert not 1 <= rest < THRESHOLD
    assert as_number(units["n_observed"]).isna().any()  # the attack had something to find


def test_no_variant_count_follows_from_the_main_measure(report):
    variants = read_csv(report[1], "reoffending_variants")
    window = read_csv(report[1], "fixed_window")
    overall = window[window["programme"] == "All"].set_index("group")
    main = as_number(overall["n_reoffenders"])
    for _, row in variants.iterrows():
        rest = main[row["group"]] - as_number(pd.Series([row["n_reoffenders"]])).iloc[0]
        assert not 1 <= rest < THRESHOLD, row.to_dict()


def test_withheld_rows_withhold_every_figure_that_gives_the_count_back(report):
    sites = read_csv(report[1], "casemix_site")
    withheld = as_number(sites["n_observed"]).isna()
    for column in ("oe_ratio", "oe_ci_low", "observed_rate", "standardised_rate"):
        assert sites.loc[withheld, column].isin(["[c]", f"<{THRESHOLD}"]).all(), column


def test_the_landmark_rule_and_hazard_ratio(report, outcomes, people):
    section = outcomes["landmark"]
    bands = read_csv(report[1], "landmark_bands")
    counts = bands[["n_at_risk", "n_reoffended"]].apply(as_number)
    assert section["threshold"] == THRESHOLD
    assert section["shown"] == bool((counts.fillna(0) >= THRESHOLD).all().all())
    result = reoffending.landmark(
        people[people["group"].astype(str) == "programme"],
        sessions=load_export(report[0]).sessions,
        landmark_days=mx.LANDMARK_DAYS,
    )
    cohort = result.cohort
    assert int(counts["n_at_risk"].sum()) == len(cohort)
    if section["shown"]:
        fit = PHReg(
            cohort["duration_days"].to_numpy(float),
            cohort[[reoffending.ATTENDANCE_TERM]].to_numpy(float),
            status=cohort["event"].to_numpy(int),
            ties="efron",
        ).fit()
        hr = section["hazard_ratio_per_session"]["hazard_ratio"]
        assert hr == pytest.approx(float(np.exp(fit.params[0])), rel=1e-6)
    else:
        assert section["hazard_ratio_per_session"] is None


def test_a_threshold_above_a_band_hides_the_landmark_hazard_ratio(report):
    bands = read_csv(report[1], "landmark_bands")
    fewest = int(as_number(bands["n_reoffended"]).min())
    threshold = fewest + 10 - fewest % 5  # above the band, a multiple of 5
    config = validate_config({"disclosure": {"threshold": threshold}})
    out = Outcomes(export=load_export(report[0]), config=config)
    with pytest.warns(Warning):  # the export records no disposal for unproven offences
        mx.compute(out)
    published = mx.publish(out, config.disclosure, {})
    outcomes: dict = {}
    mx.add_headlines(outcomes, out, published)
    section = outcomes["landmark"]
    assert section["threshold"] == threshold
    assert section["shown"] is False
    assert section["hazard_ratio_per_session"] is None
    text = mx.context(out, published, "en")["landmark"]
    assert text == label("landmark_not_shown", "en", threshold=threshold)


def test_the_sample_still_reports_without_new_warnings(sample_reports_by_lang):
    export = load_export(SAMPLE)
    with warnings.catch_warnings(record=True) as before:
        warnings.simplefilter("always")
        compute_outcomes(export)
    run, caught = sample_reports_by_lang["en"]  # build_report(SAMPLE), warnings recorded
    known = {str(w.message) for w in before}
    new = [str(w.message) for w in caught if str(w.message) not in known]
    assert not new
    assert all(issubclass(w.category, StatisticalWarning) for w in caught)
    assert "prepost_missing" in run.outcomes
    assert "casemix" in run.outcomes
    page = run.html.read_text("utf-8")
    assert '<section id="methods-extra">' in page


def test_a_variant_is_withheld_when_the_main_measure_gives_a_small_count_away():
    """Hand-made: 200 main reoffenders, 195 with custody: 5 reoffended without custody."""
    from types import SimpleNamespace

    from statsmodels.stats.proportion import proportion_confint

    from cdanalytics.disclosure import DisclosurePolicy

    variants = pd.DataFrame(
        {
            "variant": ["custody", "custody"],
            "group": ["programme", "comparison"],
            "n_eligible": [1000, 700],
            "n_reoffenders": [195, 120],
        }
    )
    low, high = proportion_confint(
        variants["n_reoffenders"], variants["n_eligible"], method="wilson"
    )
    variants = variants.assign(
        rate=variants["n_reoffenders"] / variants["n_eligible"], rate_ci_low=low, rate_ci_high=high
    )
    window = pd.DataFrame(
        {
            "programme": ["All", "All"],
            "group": ["programme", "comparison"],
            "n_reoffenders": [200, 150],
        }
    )
    out = SimpleNamespace(
        tables={"reoffending_variants": variants, "fixed_window": window},
        config=validate_config(None),
    )
    table = mx.publish(out, DisclosurePolicy(threshold=THRESHOLD), {})["reoffending_variants"]
    published = table.published
    assert published["n_reoffenders"].isna().tolist() == [True, False]
    assert published["rate"].isna().tolist() == [True, False]
    assert published["n_eligible"].tolist() == [1000, 700]
