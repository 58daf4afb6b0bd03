"""The contract in data/schemas: parsing, pandera schemas, data dictionary, packaging."""

import zipfile
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest

from cdanalytics.errors import ConfigError
from cdanalytics.io.dictionary import data_dictionary_markdown
from cdanalytics.io.schema import (
    _table_schema,
    allowed_values,
    contract_values,
    pandera_schema,
    schema_dir,
    table_schema,
)
from cdanalytics.registry import programme_registry

ROOT = Path(__file__).parents[1]


def test_in_a_source_checkout_the_schemas_are_the_repository_files():
    assert Path(str(schema_dir())) == ROOT / "data" / "schemas"


def test_table_schemas_follow_the_yaml():
    sessions = table_schema("sessions")
    assert sessions.key == ("participant_id", "session_type", "session_number")
    assert sessions.parent == "participants"
    number = sessions.column("session_number")
    assert (number.type, number.min, number.registry_range) == ("integer", 1, "programmes.sessions")
    participants = table_schema("participants")
    assert participants.column("referral_date").required_when == ("group", "programme")
    assert participants.column("risk_level").ordered
    assert participants.column("group").default == "programme"


def test_registry_references_resolve_to_registry_codes():
    programme = table_schema("participants").column("programme")
    assert programme.allowed_registry == "programmes"
    assert allowed_values(programme) == tuple(programme_registry())
    extra = programme_registry(
        {
            "new_one": {
                "name": "N",
                "core": {"group": 3},
                "expected_duration_days": 21,
                "completion_rule": {"min_core_share": 1},
            }
        }
    )
    assert "new_one" in allowed_values(programme, programmes=extra)


def test_contract_values_are_a_columns_allowed_list_in_yaml_order():
    assert contract_values("sessions", "attendance") == ("attended", "excused", "unexcused")
    assert contract_values("participants", "risk_level") == ("low", "medium", "high", "very_high")
    with pytest.raises(ConfigError, match="no fixed list"):
        contract_values("participants", "site")
    with pytest.raises(ConfigError, match="no fixed list"):
        contract_values("participants", "programme")


def test_an_unknown_column_type_in_a_schema_is_refused():
    raw = {"table": "events", "columns": [{"name": "x", "type": "datetime"}]}
    with pytest.raises(ConfigError, match="type must be one of"):
        _table_schema(raw, "events")


def _sessions(**changes):
    frame = pd.DataFrame(
        {
            "participant_id": pd.Series(["P1", "P1"], dtype="str"),
            "session_type": pd.Categorical(["group", "group"]),
            "session_number": pd.array([1, 2], dtype="Int64"),
            "session_date": pd.to_datetime(["2024-01-01", "2024-01-08"]),
            "attendance": pd.Categorical(["attended", "excused"]),
        }
    )
    return frame.assign(**changes)


def test_pandera_schema_accepts_a_valid_frame():
    frame = _sessions()
    pd.testing.assert_frame_equal(pandera_schema("sessions").validate(frame), frame)


def test_pandera_schema_checks_allowed_values_ranges_nulls_and_keys():
    frame = _sessions(
        session_type=pd.Categorical(["workshop", "workshop"]),
        session_number=pd.array([0, 0], dtype="Int64"),
        attendance=pd.Categorical(["attended", None]),
    )
    with pytest.raises(pa.errors.SchemaErrors) as info:
        pandera_schema("sessions").validate(frame, lazy=True)
    cases = info.value.failure_cases
    found = set(zip(cases["column"].fillna("key"), cases["check"], strict=True))
    assert ("session_type", "isin(['group', 'individual', 'review'])") in found
    assert ("session_type", "multiple_fields_uniqueness") in found
    assert ("session_number", "greater_than_or_equal_to(1.0)") in found
    assert ("attendance", "not_nullable") in found
    without_key = pandera_schema("sessions", unique_key=False)
    with pytest.raises(pa.errors.SchemaErrors) as info:
        without_key.validate(frame, lazy=True)
    assert "multiple_fields_uniqueness" not in set(info.value.failure_cases["check"])


def test_data_dictionary_is_up_to_date():
    committed = (ROOT / "docs" / "data_dictionary.md").read_text(encoding="utf-8")
    assert committed == data_dictionary_markdown(), (
        "docs/data_dictionary.md is out of date with data/schemas; regenerate it with "
        "`python -m cdanalytics.io docs/data_dictionary.md`."
    )


def test_data_dictionary_describes_every_column():
    text = data_dictionary_markdown()
    for name in ("participants", "sessions", "measures", "events", "manifest"):
        assert f"## {name}" in text
        for column in table_schema(name).names:
            assert f"| `{column}` |" in text


def test_a_built_wheel_carries_the_schemas(tmp_path):
    from hatchling.builders.wheel import WheelBuilder

    wheel = next(
        iter(WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"]))
    )
    names = zipfile.ZipFile(wheel).namelist()
    for table in ("participants", "sessions", "measures", "events", "manifest"):
        assert f"cdanalytics/_schemas/{table}.yaml" in names
    # Typed package (PEP 561) and the MIT licence text in the metadata.
    assert "cdanalytics/py.typed" in names
    licences = [n for n in names if ".dist-info/" in n and n.endswith("/LICENSE")]
    assert licences
    assert "MIT License" in zipfile.ZipFile(wheel).read(licences[0]).decode("utf-8")
