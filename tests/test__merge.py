"""deep_merge: the one recursive merge of registries, config and synthetic parameters."""

from cdanalytics._merge import deep_merge


def test_nested_mappings_merge_and_other_values_replace():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 2}
    merged = deep_merge(base, {"a": {"y": [3]}, "c": {"z": 0}})
    assert merged == {"a": {"x": 1, "y": [3]}, "b": 2, "c": {"z": 0}}


def test_neither_argument_is_changed_nor_shared():
    base = {"a": {"x": [1]}}
    override = {"b": {"y": [2]}}
    merged = deep_merge(base, override)
    merged["a"]["x"].append(9)
    merged["b"]["y"].append(9)
    assert base == {"a": {"x": [1]}}
    assert override == {"b": {"y": [2]}}
