"""The summary's wording: the Justice Data Lab's statements in meaning, and
questionnaire change told as better or worse by the instrument's direction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdanalytics.i18n import label
from cdanalytics.matching import match, matched_cox, matched_effect
from cdanalytics.report.summary import matched_sentences
from cdanalytics.report.wording import (
    headline_measure,
    matched_cox_statement,
    matched_effect_statement,
    prepost_sentences,
    prepost_summary,
)


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
    """outcomes.json of one programme whose matched difference (all starters, in
    percentage points) has the interval ``low`` to ``high``."""
    return {
        "disclosure": {"threshold": 10},
        "reoffending": {"window_months": 12},
        "programmes": {
            "borg": {
                "matched": {
                    "all_starters": {
                        "status": "computed",
                        "rate_programme": 0.171,
                        "rate_comparison": 0.245,
                        "difference": (low + high) / 200,
                        "ci_low": low / 100,
                        "ci_high": high / 100,
                    }
                }
            }
        },
    }


def _sentence(low, high, lang):
    return matched_sentences(_outcomes(low, high), "borg", lang, "BORG")["all_starters"][0]


@pytest.mark.parametrize(("lang", "verb"), [("en", "could reduce"), ("nl", "kunnen verlagen")])
def test_a_significant_reduction_could_reduce(lang, verb):
    sentence = _sentence(-12.9, -1.9, lang)
    assert verb in sentence
    assert "1,9" in sentence if lang == "nl" else "1.9" in sentence
    if lang == "nl":
        assert "zou de bewezen recidive" in sentence


def test_a_significant_increase_could_increase():
    sentence = _sentence(2.0, 9.0, "en")
    assert "could increase proven reoffending within 12 months by between 2.0 and 9.0" in sentence
    assert "reduced" not in sentence and "increased" not in sentence


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_a_non_significant_result_asks_for_more_people_and_is_no_evidence_of_no_effect(lang):
    sentence = _sentence(-8.0, 1.5, lang)
    if lang == "en":
        assert "not statistically significant" in sentence
        assert "more people would be needed" in sentence
        assert "This is not evidence that the programme has no effect." in sentence
        assert "could" not in sentence
    else:
        assert "niet statistisch significant" in sentence
        assert "meer mensen nodig" in sentence
        assert "geen bewijs dat het programma geen effect heeft" in sentence


# --- a matched effect and hazard ratio in words (the analyses give only numbers) ------------


def _groups(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """``n`` programme then ``n`` comparison people, with an age to match on."""
    return pd.DataFrame(
        {"group": np.r_[["programme"] * n, ["comparison"] * n], "age": rng.normal(30, 5, 2 * n)}
    )


def _strong_and_weak():
    """A clear reduction (20% against 50%) and a negligible one (30% against 31%)."""
    rng = np.random.default_rng(3)
    n = 400
    base = _groups(rng, n)
    strong = base.assign(y=np.r_[rng.uniform(size=n) < 0.2, rng.uniform(size=n) < 0.5])
    weak = base.assign(y=np.r_[rng.uniform(size=n) < 0.30, rng.uniform(size=n) < 0.31])
    return matched_effect(match(strong, covariates=["age"]), "y"), matched_effect(
        match(weak, covariates=["age"]), "y"
    )


def test_matched_effect_statement_significant_and_not():
    sig, not_sig = _strong_and_weak()
    words = "proven reoffending"
    text = matched_effect_statement(sig, "en", outcome=words)
    assert sig.summary.loc[0, "p_value"] < 0.05
    assert "For any 100 typical people who took part" in text
    lo, hi = 100 * sig.summary.loc[0, ["ci_low", "ci_high"]]
    assert f"could reduce proven reoffending by between {-hi:.1f} and {-lo:.1f}" in text
    assert "not statistically significant" not in text
    text = matched_effect_statement(not_sig, "en", outcome=words)
    assert not_sig.summary.loc[0, "p_value"] > 0.05
    assert "not statistically significant" in text
    assert "more people would be needed" in text
    assert "not evidence of no effect" in text


def test_matched_effect_statement_in_dutch():
    sig, not_sig = _strong_and_weak()
    lo, hi = 100 * sig.summary.loc[0, ["ci_low", "ci_high"]]
    text = matched_effect_statement(sig, "nl", outcome="bewezen recidive")
    row = sig.summary.iloc[0]
    assert f"Bij {row['per_100_treated']} van elke 100 typische deelnemers" in text
    near, far = (f"{v:.1f}".replace(".", ",") for v in (-hi, -lo))
    assert f"deelname zou bewezen recidive kunnen verlagen met {near} tot {far} procentpunten" in (
        text
    )
    assert "95%-betrouwbaarheidsinterval" in text and "niet statistisch" not in text
    text = matched_effect_statement(not_sig, "nl", outcome="bewezen recidive")
    assert "niet statistisch significant" in text
    assert "Dit is geen bewijs dat het programma geen effect heeft." in text


def test_matched_effect_statement_of_a_numeric_outcome_and_its_level():
    rng = np.random.default_rng(8)
    n = 300
    people = _groups(rng, n)
    people["offences"] = np.r_[rng.poisson(1.0, n), rng.poisson(2.0, n)]
    effect = matched_effect(
        match(people, covariates=["age"]), "offences", kind="numeric", alpha=0.01
    )
    row = effect.summary.iloc[0]
    text = matched_effect_statement(effect)  # the outcome's column name by default
    assert (
        f"People who took part had an average offences of {row['mean_treated']:.2f}, compared"
        f" with {row['mean_control']:.2f}" in text
    )
    assert f"a difference of {row['difference']:.2f} (99% confidence interval" in text
    assert "could reduce offences by between" in text  # 1 against 2 offences: p far below 0.01


def _survival(hazard_ratio: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 400
    people = _groups(rng, n)
    time = rng.exponential(400 / np.where(people["group"] == "programme", hazard_ratio, 1.0))
    censor = rng.uniform(100, 700, 2 * n)
    return people.assign(duration_days=np.minimum(time, censor), event=(time <= censor).astype(int))


def test_matched_cox_statement_significant_and_not():
    lower = matched_cox(match(_survival(0.5, seed=4), covariates=["age"]))
    row = lower.summary.iloc[0]
    assert row["p_value"] < 0.05 and row["hr"] < 1
    text = matched_cox_statement(lower)
    assert "times the rate of proven reoffending" in text
    assert f"had {row['hr']:.2f} times the rate" in text
    assert f"(95% confidence interval {row['ci_low']:.2f} to {row['ci_high']:.2f};" in text
    assert f"That is a {100 * (1 - row['hr']):.0f}% lower rate, statistically significant." in text
    same = matched_cox(match(_survival(1.0, seed=5), covariates=["age"]), alpha=0.01)
    assert same.summary.loc[0, "p_value"] > 0.01
    text = matched_cox_statement(same, outcome="reconviction")
    assert "times the rate of reconviction" in text and "99% confidence interval" in text
    assert "not statistically significant" in text and "not evidence of no effect" in text
    assert "keer het risico op bewezen recidive" in matched_cox_statement(lower, "nl")
    assert "lager risico, statistisch significant" in matched_cox_statement(lower, "nl")


def test_matched_effect_statement_words_the_fixed_window():
    sig, _ = _strong_and_weak()
    assert "could reduce proven reoffending within 12 months by between" in (
        matched_effect_statement(sig, "en", window=12)
    )
    assert "deelname zou bewezen recidive binnen 12 maanden kunnen verlagen met" in (
        matched_effect_statement(sig, "nl", window=12)
    )
