"""The evaluation config: defaults, the example file, and clear errors."""

from pathlib import Path

import pytest

from cdanalytics.config import DEFAULTS, load_config, validate_config
from cdanalytics.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "config" / "evaluation.example.yaml"


def test_no_config_gives_the_defaults():
    assert load_config(None) == DEFAULTS


def test_the_example_config_is_valid_and_overrides_defaults():
    config = load_config(EXAMPLE)
    assert config["programmes"]["caring_dads"]["completion_rule"]["min_core_share"] == 0.8
    assert config["reoffending"]["window_months"] == 12


def test_a_partial_section_keeps_the_other_defaults():
    config = validate_config({"reoffending": {"matching": {"ratio": 2}}})
    assert config["reoffending"]["matching"]["ratio"] == 2
    assert config["reoffending"]["matching"]["caliper"] == 0.2
    assert config["reoffending"]["window_months"] == 12


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"disclosure": {"threshold": 2}}, "below 3"),
        ({"disclosur": {}}, "Unknown config key 'disclosur'"),
        ({"reoffending": {"window_months": "12"}}, "must be of type int"),
        ({"reoffending": {"matching": {"replace": "no"}}}, "reoffending.matching.replace"),
        ({"disclosure": {"threshold": True}}, "must be a number"),
        ({"language": "fr"}, "must be one of"),
        ({"reoffending": {"event_types": ["order_breach"]}}, "never count"),
        ({"engagement": 3}, "must be a mapping"),
    ],
)
def test_invalid_settings_are_refused_by_name(raw, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(raw)


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_errors_in_a_file_name_the_file(tmp_path):
    path = tmp_path / "evaluation.yaml"
    path.write_text("disclosure:\n  threshold: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"evaluation\.yaml"):
        load_config(path)


def test_seriousness_and_disposal_reach_the_reoffending_definition():
    from cdanalytics.report.compute import definition_from_config

    config = validate_config({"reoffending": {"seriousness": "serious", "disposal": "custody"}})
    definition = definition_from_config(config)
    assert definition.seriousness == "serious"
    assert definition.disposal == ("custody",)
    assert definition_from_config(validate_config({})).seriousness is None
    with pytest.raises(ConfigError, match=r"reoffending\.seriousness"):
        validate_config({"reoffending": {"seriousness": "grave"}})
