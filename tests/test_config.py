"""The evaluation config: defaults, the example file, and clear errors."""

import ast
import dataclasses
from pathlib import Path

import pytest

from cdanalytics.config import DEFAULTS, EvaluationConfig, load_config, validate_config
from cdanalytics.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "config" / "evaluation.example.yaml"


def test_no_config_gives_the_defaults():
    assert load_config(None).as_dict() == DEFAULTS
    assert load_config(None) == EvaluationConfig()


def test_the_example_config_is_valid_and_overrides_defaults():
    config = load_config(EXAMPLE)
    assert config.programmes["caring_dads"]["completion_rule"]["min_core_share"] == 0.8
    assert config.reoffending.window_months == 12


def test_a_partial_section_keeps_the_other_defaults():
    config = validate_config({"reoffending": {"matching": {"ratio": 2}}})
    assert config.reoffending.matching.ratio == 2
    assert config.reoffending.matching.caliper == 0.2
    assert config.reoffending.window_months == 12


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
    config = validate_config({"reoffending": {"seriousness": "serious", "disposal": "custody"}})
    definition = config.reoffending.definition
    assert definition.seriousness == "serious"
    assert definition.disposal == ("custody",)
    assert validate_config({}).reoffending.definition.seriousness is None
    with pytest.raises(ConfigError, match=r"reoffending\.seriousness"):
        validate_config({"reoffending": {"seriousness": "grave"}})


# -- one place reads the config, one place merges the registries -------------------------

PACKAGE = Path(__file__).resolve().parents[1] / "cdanalytics"
_MERGES = {"programme_registry", "instrument_registry", "audit_tool_registry", "build"}


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text("utf-8"))


def _config_subscripts(tree: ast.AST) -> list[int]:
    """Lines of ``config[...]``, ``cfg[...]`` or ``x.config[...]`` reads."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            target = node.value
            name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
            if name in ("config", "cfg"):
                lines.append(node.lineno)
    return lines


def _registry_merges(tree: ast.AST) -> list[int]:
    """Lines of calls that merge overrides into a registry (a registry call with arguments)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (node.args or node.keywords):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            owner = getattr(func, "value", None)
            if name in _MERGES - {"build"} or (
                name == "build" and isinstance(owner, ast.Name) and owner.id == "Registries"
            ):
                lines.append(node.lineno)
    return lines


def test_the_scans_find_what_they_look_for():
    tree = ast.parse(
        "a = config['x']\nb = out.config['y']['z']\nc = cfg['t']\n"
        "r = programme_registry(over)\ns = Registries.build(programmes=p)\n"
        "u = instrument_registry()\n"
    )
    assert sorted(_config_subscripts(tree)) == [1, 2, 3]
    assert sorted(_registry_merges(tree)) == [4, 5]


def test_no_config_subscript_outside_the_config_module():
    found = {
        path: lines
        for path, tree in _sources()
        if path != "config.py" and (lines := _config_subscripts(tree))
    }
    assert found == {}


def test_registries_are_merged_only_by_load_export_and_the_registry_module():
    # synth builds exports for a registry of its own (a programme a test invents).
    allowed = {"registry.py", "io/load.py", "synth/_plan.py"}
    found = {
        path: lines
        for path, tree in _sources()
        if path not in allowed and (lines := _registry_merges(tree))
    }
    assert found == {}


def test_the_export_carries_the_registries_load_export_merged(tmp_path):
    from cdanalytics import load_export
    from cdanalytics.synth import write_synthetic_export

    folder = tmp_path / "export"
    write_synthetic_export(folder, n_participants=60, seed=3)
    override = {"caring_dads": {"expected_duration_days": 140}}
    export = load_export(folder, programmes=override)
    assert export.registries.programmes["caring_dads"]["expected_duration_days"] == 140
    assert load_export(folder).registries.programmes["caring_dads"]["expected_duration_days"] != 140


def test_a_config_is_frozen_and_changes_language_by_copy():
    config = load_config(None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.title = "x"
    dutch = config.with_language("nl")
    assert (dutch.language, config.language) == ("nl", "en")
    with pytest.raises(ConfigError, match="language"):
        config.with_language("fr")
    assert len(repr(config)) < 200
