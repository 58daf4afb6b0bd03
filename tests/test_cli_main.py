"""How the command line starts: ``--version``, ``python -m cdanalytics``, global
options after the subcommand, and a start-up that loads no heavy library.

Each is checked on a fresh interpreter (a subprocess that sees this source
tree), as a user or a scheduler would meet it.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import cdanalytics
from cdanalytics.cli import _SUBCOMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[1]

#: Libraries that take seconds to import and that neither ``import cdanalytics``
#: nor ``cdanalytics --help`` needs.
HEAVY = ("statsmodels", "matplotlib", "pandera", "scipy", "pandas", "pyarrow")


def python(*args: str) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` on this source tree; text output, no check."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT
    )


def loaded_after(statement: str) -> set[str]:
    """Top-level packages in ``sys.modules`` after running ``statement`` in a fresh interpreter."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = python("-c", code)
    assert result.returncode == 0, result.stderr
    return {name.split(".")[0] for name in json.loads(result.stdout.splitlines()[-1])}


def test_version_prints_the_package_version():
    result = python("-m", "cdanalytics", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"cdanalytics {cdanalytics.__version__}"


def test_the_version_is_the_installed_distributions():
    try:
        installed = importlib.metadata.version("cdanalytics")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("cdanalytics is not installed")
    assert cdanalytics.__version__ == installed


def test_python_dash_m_cdanalytics_shows_every_subcommand():
    result = python("-m", "cdanalytics", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: cdanalytics")
    for name in _SUBCOMMANDS:
        assert name in result.stdout


def test_python_dash_m_cdanalytics_without_a_command_is_a_usage_error():
    result = python("-m", "cdanalytics")
    assert result.returncode == 2
    assert "required" in result.stderr


@pytest.mark.parametrize("command", _SUBCOMMANDS)
def test_verbose_is_accepted_after_the_subcommand(command):
    parser = build_parser()
    required = {
        "validate": ["EXPORT"],
        "synth": ["--participants", "5", "--out", "OUT"],
        "pseudonymise": ["SRC", "--out", "OUT"],
        "report": ["EXPORT", "--out", "OUT"],
        "batch": ["ROOT", "--out", "OUT"],
    }[command]
    assert parser.parse_args([command, *required, "-v"]).verbose is True
    assert parser.parse_args([command, "--verbose", *required]).verbose is True
    assert parser.parse_args(["-v", command, *required]).verbose is True
    assert parser.parse_args([command, *required]).verbose is False


def test_verbose_after_the_subcommand_turns_on_debug_logging(tmp_path):
    # Without -v the root logger is at INFO; -v after the subcommand sets DEBUG.
    code = (
        "import logging, sys\n"
        "from cdanalytics.cli import main\n"
        "main(['synth', '--participants', '20', '--out', sys.argv[1], '-v'])\n"
        "print(logging.getLogger().level)"
    )
    result = python("-c", code, str(tmp_path / "export"))
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) == 10  # logging.DEBUG
    assert (tmp_path / "export" / "manifest.json").exists()


def test_import_cdanalytics_loads_no_heavy_library():
    assert not loaded_after("import cdanalytics") & set(HEAVY)


def test_help_loads_no_heavy_library():
    statement = (
        "from cdanalytics.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "for name in " + repr(_SUBCOMMANDS) + ":\n"
        "    try:\n        main([name, '--help'])\n    except SystemExit:\n        pass"
    )
    assert not loaded_after(statement) & set(HEAVY)


def test_using_a_function_loads_what_it_needs():
    loaded = loaded_after("import cdanalytics\ncdanalytics.dropout_model")
    assert {"statsmodels", "pandas"} <= loaded


@pytest.mark.parametrize(
    "package",
    [
        "cdanalytics",
        "cdanalytics.engagement",
        "cdanalytics.reoffending",
        "cdanalytics.matching",
        "cdanalytics.prepost",
        "cdanalytics.io",
    ],
)
def test_every_lazy_export_resolves_and_is_listed(package):
    module = __import__(package, fromlist=["__all__"])
    for name in module.__all__:
        value = getattr(module, name)
        assert value is not None
        # `from package import name` gives the same object as attribute access.
        assert getattr(__import__(package, fromlist=[name]), name) is value
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        module.not_a_name  # noqa: B018


def test_submodules_are_reachable_as_attributes_without_an_import():
    code = (
        "import cdanalytics\n"
        "print(cdanalytics.io.schema.__name__, cdanalytics.prepost.mixed.__name__, "
        "cdanalytics.engagement.model.__name__)"
    )
    result = python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "cdanalytics.io.schema",
        "cdanalytics.prepost.mixed",
        "cdanalytics.engagement.model",
    ]


def test_a_function_named_like_its_module_stays_the_function():
    # prepost.change (function) lives in prepost/change.py: importing the
    # module directly must not replace the function in the package.
    code = (
        "import cdanalytics.prepost.change, cdanalytics.reoffending.cox\n"
        "import cdanalytics.prepost.attrition\n"
        "from cdanalytics.prepost import attrition, change\n"
        "from cdanalytics.reoffending import cox\n"
        "print(all(callable(f) and type(f).__name__ == 'function' "
        "for f in (attrition, change, cox)))"
    )
    result = python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
