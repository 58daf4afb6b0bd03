"""Chart and report labels exist in both languages."""

import pytest

from cdanalytics.errors import ConfigError
from cdanalytics.i18n import label, labels


def test_english_and_dutch_have_the_same_keys():
    assert set(labels("en")) == set(labels("nl"))


def test_dutch_labels_are_translated():
    assert label("completed", "nl") == "Afgerond"
    assert label("completed", "en") == "Completed"


def test_placeholders_are_filled():
    text = label("suppressed_note", "en", threshold=10, groups="Leeds")
    assert "fewer than 10" in text and text.endswith("Leeds")


def test_unknown_key_reads_as_words():
    assert label("caring_dads") == "Caring Dads"
    assert label("awaiting_risk_review") == "awaiting risk review"


def test_unknown_language_is_refused():
    with pytest.raises(ConfigError, match="choose one of"):
        labels("fr")


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_chart_and_report_label_files_do_not_override_each_other(lang):
    from importlib import resources

    import yaml

    folder = resources.files("cdanalytics").joinpath("locales")
    charts = yaml.safe_load(folder.joinpath(f"{lang}.yaml").read_text("utf-8"))
    report = yaml.safe_load(folder.joinpath(f"report_{lang}.yaml").read_text("utf-8"))
    assert not set(charts) & set(report)
