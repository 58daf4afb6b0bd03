"""The summary's wording: the Justice Data Lab's statements in meaning, and
questionnaire change told as better or worse by the instrument's direction."""

from __future__ import annotations

import pytest

from cdanalytics.i18n import label
from cdanalytics.report.summary import summary_sentences
from cdanalytics.report.wording import headline_measure, prepost_sentences, prepost_summary


def measure(change, low, high, g, direction, classes=None):
    figures = {
        "n_paired": 80,
        "mean_change": change,
        "ci_low": low,
        "ci_high": high,
        "g_av": g,
        "direction": direction,
    }
    if classes is not None:
        figures["reliable_change"] = classes
    return figures


@pytest.mark.parametrize(
    ("change", "low", "high", "direction", "verdict"),
    [
        (-7.80, -9.53, -6.08, "higher_worse", "improved"),  # PSI-SF stress fell
        (4.36, 2.49, 6.23, "higher_better", "improved"),  # CTS2 negotiation rose
        (3.10, 1.00, 5.20, "higher_worse", "worsened"),
        (-2.00, -3.50, -0.50, "higher_better", "worsened"),
        (-1.00, -2.50, 0.50, "higher_worse", "no clear change"),
    ],
)
def test_change_is_better_or_worse_by_the_instruments_direction(
    change, low, high, direction, verdict
):
    text = prepost_sentences("psi_sf.total.father", measure(change, low, high, 0.3, direction))[0]
    assert verdict in text
    others = {"improved", "worsened", "no clear change"} - {verdict}
    assert not any(other in text for other in others)


def test_an_improvement_is_given_as_its_size_with_its_interval():
    text = prepost_sentences(
        "psi_sf.total.father", measure(-7.80, -9.53, -6.08, -0.40, "higher_worse")
    )[0]
    assert "improved by 7.80 points" in text
    assert "95% confidence interval 6.08 to 9.53 points" in text
    assert "a higher score is worse" in text


def test_reliable_change_classes_follow_the_change():
    classes = {"recovered": 3, "improved": 44, "unchanged": 339, "deteriorated": 0, "n": 383}
    sentences = prepost_sentences(
        "cts2.physical_assault.partner",
        measure(-6.75, -7.67, -5.84, -0.5, "higher_worse", classes),
    )
    assert sentences[1] == (
        "Reliable change: of 383 men, 44 improved reliably, 339 did not change reliably "
        "and 0 worsened reliably."
    )


def test_a_withheld_figure_leaves_the_measure_out():
    assert prepost_sentences("sdq.total.partner", measure(None, -1, 1, 0.1, "higher_worse")) == []
    assert prepost_sentences("sdq.total.partner", measure(-1, -2, -0.1, 0.1, None)) == []


def test_the_summary_tells_one_measure_the_largest_standardised_change():
    prepost = {
        "sdq.total.partner": measure(-1.0, -1.9, -0.1, -0.18, "higher_worse"),
        "psi_sf.total.father": measure(-7.8, -9.5, -6.1, -0.40, "higher_worse"),
        "cts2.negotiation.partner": measure(4.36, 2.49, 6.23, 0.24, "higher_better"),
        "parenting_scale.total.father": measure(None, None, None, None, "higher_worse"),
    }
    assert headline_measure(prepost) == "psi_sf.total.father"
    bullets = prepost_summary(prepost, "nl")
    assert len(bullets) == 1
    assert "PSI-SF Totaal (Vader)" in bullets[0]
    assert "verbeterden gemiddeld 7,80 punten" in bullets[0]
    assert bullets[0].endswith(label("summary_prepost_more", "nl"))


def _outcomes(low, high):
    """One programme's matched comparison (all starters), in percentage points here;
    ``outcomes.json`` gives shares. There is no pooled matched figure."""
    return {
        "disclosure": {"threshold": 10},
        "engagement": {},
        "prepost": {},
        "reoffending": {
            "window_months": 12,
            "matching_gates": {"min_treated": 60, "balance_flag": 0.1, "balance_withhold": 0.25},
        },
        "programmes": {
            "borg": {
                "matched": {
                    "all_starters": {
                        "status": "computed",
                        "reason": None,
                        "min_treated": 60,
                        "difference": (low + high) / 200,
                        "ci_low": low / 100,
                        "ci_high": high / 100,
                        "rate_programme": 0.171,
                        "rate_comparison": 0.245,
                    }
                }
            }
        },
    }


@pytest.mark.parametrize(("lang", "verb"), [("en", "could reduce"), ("nl", "zou kunnen verlagen")])
def test_a_significant_reduction_could_reduce(lang, verb):
    (sentence,) = summary_sentences(_outcomes(-12.9, -1.9), lang)
    assert verb in sentence
    assert "1,9" in sentence if lang == "nl" else "1.9" in sentence


def test_a_significant_increase_could_increase():
    (sentence,) = summary_sentences(_outcomes(2.0, 9.0), "en")
    assert "could increase proven reoffending within 12 months by between 2.0 and 9.0" in sentence
    assert "reduced" not in sentence and "increased" not in sentence


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_a_non_significant_result_asks_for_more_people_and_is_no_evidence_of_no_effect(lang):
    (sentence,) = summary_sentences(_outcomes(-8.0, 1.5), lang)
    if lang == "en":
        assert "not statistically significant" in sentence
        assert "more people would be needed" in sentence
        assert "This is not evidence that the programme has no effect." in sentence
        assert "could" not in sentence
    else:
        assert "niet statistisch significant" in sentence
        assert "meer mensen nodig" in sentence
        assert "geen bewijs dat het programma geen effect heeft" in sentence
