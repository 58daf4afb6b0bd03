"""The matching gates and comparison pools of the evaluation config (issue 12)."""

from __future__ import annotations

import pytest
import yaml

from cdanalytics.config import validate_config
from cdanalytics.errors import ConfigError


def test_defaults_are_the_justice_data_lab_gates_and_one_shared_pool():
    matching = validate_config(None).reoffending.matching
    assert (matching.min_treated, matching.balance_flag, matching.balance_withhold) == (
        60,
        0.1,
        0.25,
    )
    assert dict(matching.comparison_pools) == {}
    assert matching.exact is None  # each programme is matched on its own


def test_the_keys_are_set_and_recorded():
    raw = {
        "reoffending": {
            "matching": {
                "min_treated": 30,
                "balance_flag": 0.05,
                "balance_withhold": 0.2,
                "comparison_pools": {"borg": ["borg"], "caledonian": "caledonian"},
            }
        }
    }
    config = validate_config(raw)
    matching = config.reoffending.matching
    assert (matching.min_treated, matching.balance_flag, matching.balance_withhold) == (
        30,
        0.05,
        0.2,
    )
    recorded = config.as_dict()["reoffending"]["matching"]
    assert recorded["comparison_pools"] == {"borg": ["borg"], "caledonian": "caledonian"}
    assert recorded["min_treated"] == 30


@pytest.mark.parametrize(
    ("matching", "key"),
    [
        ({"min_treated": 0}, "min_treated"),
        ({"min_treated": 2.5}, "min_treated"),
        ({"balance_flag": 0.3}, "balance_flag"),
        ({"balance_flag": True}, "balance_flag"),
        ({"comparison_pools": {"borg": []}}, "comparison_pools.borg"),
        ({"comparison_pools": {"borg": [1]}}, "comparison_pools.borg"),
        ({"comparison_pools": ["borg"]}, "comparison_pools"),
        ({"min_cohort": 60}, "min_cohort"),
    ],
)
def test_bad_values_name_the_key(matching, key):
    with pytest.raises(ConfigError, match=key):
        validate_config({"reoffending": {"matching": matching}})


def test_the_example_config_documents_every_matching_key():
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "data" / "config" / "evaluation.example.yaml"
    documented = yaml.safe_load(example.read_text(encoding="utf-8"))["reoffending"]["matching"]
    defaults = validate_config(None).as_dict()["reoffending"]["matching"]
    assert set(documented) == set(defaults)
    assert validate_config({"reoffending": {"matching": documented}}).reoffending.matching == (
        validate_config(None).reoffending.matching
    )
