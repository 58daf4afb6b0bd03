"""The ``Examples`` sections of the library's docstrings run as doctests.

Every module of the package whose source holds a ``>>>`` prompt is imported
and searched with :class:`doctest.DocTestFinder`; each is one test, so a
failing example names its module. The examples check their numbers against
hand-worked values or a second library (scipy, statsmodels), so a doctest
that passes is a small test of the statistic, not a snapshot of our output.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import cdanalytics

PACKAGE = Path(cdanalytics.__file__).parent

#: ``NORMALIZE_WHITESPACE`` so a wrapped list or dict compares equal;
#: ``ELLIPSIS`` only where an example writes ``...`` in its output.
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _modules_with_examples() -> list[str]:
    """Modules whose source holds a ``>>>`` prompt (found without importing them)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__main__.py" or ">>>" not in path.read_text(encoding="utf-8"):
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _doctests(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [t for t in finder.find(module, name) if t.examples]


MODULES = _modules_with_examples()

#: The functions researchers call most: each must carry an example.
REQUIRED = {
    "cdanalytics.io.load": ["load_export"],
    "cdanalytics.engagement.outcomes": ["completion", "dropout", "retention"],
    "cdanalytics.engagement.referrals": ["flow"],
    "cdanalytics.reoffending.window": ["fixed_window"],
    "cdanalytics.reoffending.survival": ["cumulative_reoffending"],
    "cdanalytics.reoffending.log_rank": ["logrank"],
    "cdanalytics.reoffending.cox": ["cox"],
    "cdanalytics.matching.nearest": ["match"],
    "cdanalytics.matching.effects": ["matched_effect"],
    "cdanalytics.prepost.change": ["change"],
    "cdanalytics.prepost.reliable": ["reliable_change"],
    "cdanalytics.prepost.attrition": ["attrition"],
    "cdanalytics.practice.shares": ["shares"],
    "cdanalytics.practice._kappa": ["kappa_from_table"],
    "cdanalytics.compare.casemix": ["casemix_comparison"],
    "cdanalytics.compare.funnel": ["funnel_limits"],
    "cdanalytics.disclosure.suppression": ["protect_frame", "suppress_counts"],
}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in _doctests(name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_most_used_functions_have_examples(name: str) -> None:
    documented = {t.name.rsplit(".", 1)[-1] for t in _doctests(name)}
    missing = [f for f in REQUIRED[name] if f not in documented]
    assert not missing, f"{name}: no Examples section in {missing}"
