"""Site mapping files."""

from pathlib import Path

import pytest

from cdanalytics.errors import ConfigError
from cdanalytics.io.mapping import SiteMapping, load_mapping

DUTCH = Path(__file__).parents[1] / "data" / "mappings" / "dutch_example.yaml"


def test_the_dutch_example_maps_names_labels_and_dates():
    mapping = load_mapping(DUTCH)
    participants = mapping.table("participants")
    assert participants.file == "deelnemers"
    assert participants.columns["deelnemer_id"] == "participant_id"
    assert participants.source_name("participant_id") == "deelnemer_id"
    assert participants.labels["exit_status"]["voltooid"] == "completed"
    assert participants.labels["exit_status"]["uitgevallen"] == "dropped_out"
    assert participants.labels["exit_status"]["onbekend"] is None
    assert participants.labels["assessed"] == {"ja": "true", "nee": "false"}
    assert mapping.date_format_for("sessions", "session_date") == "%d-%m-%Y"
    assert mapping.manifest.keys["extractiedatum"] == "extract_date"


def test_the_dutch_example_maps_seriousness_and_disposal():
    events = load_mapping(DUTCH).table("events")
    assert events.columns["ernst"] == "seriousness"
    assert events.columns["afdoening"] == "disposal"
    assert events.labels["seriousness"] == {
        "algemeen": "general",
        "ernstig": "serious",
        "zeer_ernstig": "very_serious",
    }
    assert events.labels["disposal"]["gevangenisstraf"] == "custody"
    assert events.labels["disposal"]["taakstraf"] == "community_sentence"
    assert events.labels["disposal"]["geldboete"] == "fine"


def test_no_mapping_is_the_identity():
    mapping = load_mapping(None)
    assert isinstance(mapping, SiteMapping)
    assert mapping.table("sessions").source_name("session_date") == "session_date"
    assert mapping.date_format_for("sessions", "session_date") is None


def test_a_table_date_format_overrides_the_global_one():
    mapping = load_mapping(
        {
            "date_format": "%d-%m-%Y",
            "tables": {"events": {"date_formats": {"event_date": "%m/%d/%Y"}}},
        }
    )
    assert mapping.date_format_for("events", "event_date") == "%m/%d/%Y"
    assert mapping.date_format_for("events", "proven_date") == "%d-%m-%Y"


def test_yaml_booleans_as_labels_become_true_false_text():
    mapping = load_mapping({"tables": {"participants": {"values": {"assessed": {"J": True}}}}})
    assert mapping.table("participants").labels["assessed"] == {"J": "true"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"tabels": {}}, "unknown key.*tabels"),
        ({"tables": {"people": {}}}, "unknown table.*people"),
        ({"tables": {"participants": {"colums": {}}}}, "unknown key.*colums"),
        ({"tables": {"participants": {"columns": ["a"]}}}, "must be a mapping"),
        (
            {
                "tables": {
                    "participants": {"columns": {"a": "participant_id", "b": "participant_id"}}
                }
            },
            "several columns map onto participant_id",
        ),
        ({"date_format": "%Y"}, "not a date format"),
        (
            {"tables": {"events": {"date_formats": {"event_date": "dd-mm-yyyy"}}}},
            "not a date format",
        ),
        ({"manifest": {"sheet": "x"}}, "unknown key.*sheet"),
        ({"number_format": {"decimal": ";"}}, "number_format.decimal.*not a decimal mark"),
        ({"number_format": {"decimal": ",", "thousands": ","}}, "number_format.thousands"),
        ({"number_format": {"decimal": ".", "thousands": "_"}}, "number_format.thousands"),
        ({"number_format": {"decimals": ","}}, "unknown key.*decimals"),
    ],
)
def test_mistakes_are_refused_with_the_key_named(raw, message):
    with pytest.raises(ConfigError, match=message):
        load_mapping(raw)


def test_a_missing_or_broken_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        load_mapping(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_mapping(bad)


def test_the_dutch_example_declares_decimal_commas_and_thousands_points():
    site = load_mapping(DUTCH)
    assert (site.number_format.decimal, site.number_format.thousands) == (",", ".")


def test_without_number_format_none_is_assumed():
    assert load_mapping({}).number_format is None
    fmt = load_mapping({"number_format": {"decimal": "."}}).number_format
    assert (fmt.decimal, fmt.thousands) == (".", None)
