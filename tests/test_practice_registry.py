"""cdanalytics.registry.audit_tool_registry: the Safe & Together audit tool as data."""

from __future__ import annotations

import pytest

from cdanalytics.errors import ConfigError
from cdanalytics.registry import audit_tool_registry


def _items(group: str) -> dict:
    items = audit_tool_registry()["safe_and_together"]["items"]
    return {code: info for code, info in items.items() if info["group"] == group}


def test_the_tool_has_the_five_critical_components_and_three_principles():
    assert len(_items("critical_component")) == 5
    assert len(_items("principle")) == 3
    labels = " ".join(i["label"]["en"] for i in _items("critical_component").values())
    for words in (
        "coercive control",
        "harm the child",
        "non-offending parent",
        "impact",
        "substance",
    ):
        assert words in labels


def test_practice_markers_include_those_of_the_issue_and_blaming_language_is_lower_better():
    markers = {i["label"]["en"] for i in _items("practice_marker").values()}
    assert "Fathering assessed as fully as mothering" in markers
    assert "Previous relationships considered" in markers
    assert "Blaming language about the non-offending parent" in markers
    blaming = _items("practice_marker")["m_blaming_language"]
    assert blaming["direction"] == "lower_better"
    assert blaming["met"] == [0]


def test_every_item_has_labels_in_both_languages_a_scale_met_scores_and_a_source():
    items = audit_tool_registry()["safe_and_together"]["items"]
    assert len(items) == 15
    for code, info in items.items():
        assert info["code"] == code
        assert info["label"]["en"] and info["label"]["nl"]
        assert info["levels"] == [0, 1, 2]
        assert set(info["met"]) < set(info["levels"])
        assert info["source"]
        assert all(info["scale"][level]["nl"] for level in info["levels"])
    assert any("4.116" in info["source"] for info in items.values())
    assert any("WLA" in info["source"] for info in items.values())


def test_shared_scale_anchors_are_not_tools():
    assert list(audit_tool_registry()) == ["safe_and_together"]


def test_a_site_adds_an_item_and_a_whole_tool():
    item = {
        "group": "practice_marker",
        "label": {"en": "Safety plan with the child", "nl": "Veiligheidsplan met het kind"},
        "scale": {0: {"en": "no"}, 1: {"en": "yes"}},
        "met": [1],
        "direction": "higher_better",
        "source": "site",
    }
    reg = audit_tool_registry(
        {
            "safe_and_together": {"items": {"m_child_plan": item}},
            "own": {"name": "Own", "items": {"x": item}},
        }
    )
    assert reg["safe_and_together"]["items"]["m_child_plan"]["levels"] == [0, 1]
    assert len(reg["safe_and_together"]["items"]) == 16
    assert reg["own"]["code"] == "own"
    assert len(audit_tool_registry()["safe_and_together"]["items"]) == 15  # builtin untouched


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": {"nl": ""}}, "'cc1_coercive_control' lacks label.nl"),
        ({"met": [3]}, "'cc1_coercive_control': met [3] must be a non-empty subset"),
        ({"direction": "up"}, "'cc1_coercive_control': direction must be"),
        ({"scale": {"x": {"en": "?"}}}, "'cc1_coercive_control': scale and met must be integer"),
    ],
)
def test_invalid_overrides_are_rejected_naming_the_tool_and_item(change, message):
    with pytest.raises(
        ConfigError,
        match="'safe_and_together' item " + message.replace("[", r"\[").replace("]", r"\]"),
    ):
        audit_tool_registry({"safe_and_together": {"items": {"cc1_coercive_control": change}}})


def test_an_item_missing_fields_is_named_with_what_it_lacks():
    with pytest.raises(ConfigError, match=r"item 'new' lacks group, scale, met"):
        audit_tool_registry(
            {"safe_and_together": {"items": {"new": {"label": {"en": "a", "nl": "b"}}}}}
        )


def test_a_tool_without_items_is_rejected():
    with pytest.raises(ConfigError, match="'empty' in the registry has no items"):
        audit_tool_registry({"empty": {"name": "Empty"}})


def test_family_outcomes_carry_labels_and_a_direction():
    outcomes = audit_tool_registry()["safe_and_together"]["family_outcomes"]
    assert outcomes["removed_into_care"]["direction"] == "lower_better"
    assert all(o["label"]["nl"] for o in outcomes.values())
    with pytest.raises(ConfigError, match="family outcome 'x': direction must be"):
        audit_tool_registry(
            {"safe_and_together": {"family_outcomes": {"x": {"label": {"en": "x"}}}}}
        )
    with pytest.raises(ConfigError, match=r"family outcome 'x' lacks label\.nl"):
        audit_tool_registry(
            {
                "safe_and_together": {
                    "family_outcomes": {"x": {"label": {"en": "x"}, "direction": "lower_better"}}
                }
            }
        )
