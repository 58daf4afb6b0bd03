"""The ``Examples`` sections of the library's docstrings run as doctests.

Every module of the package is imported and searched with
:class:`doctest.DocTestFinder`; each module with examples is one test, so a
failing example names its module. The examples check their numbers against
hand-worked values or a second library (scipy, statsmodels), so a doctest
that passes is a small test of the statistic, not a snapshot of our output.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import matplotlib
import pytest

import cdanalytics

#: Modules left out of the search: entry points with side effects on import.
SKIP = {"cdanalytics.__main__"}

#: ``NORMALIZE_WHITESPACE`` so a wrapped list or dict compares equal;
#: ``ELLIPSIS`` only where an example writes ``...`` in its output.
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _module_names() -> list[str]:
    names = [cdanalytics.__name__]
    for info in pkgutil.walk_packages(cdanalytics.__path__, prefix="cdanalytics."):
        if info.name not in SKIP:
            names.append(info.name)
    return sorted(names)


def _doctests(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [t for t in finder.find(module, name) if t.examples]


def _modules_with_examples() -> list[str]:
    matplotlib.use("Agg")
    return [name for name in _module_names() if _doctests(name)]


MODULES = _modules_with_examples()

#: The functions researchers call most: each must carry an example.
REQUIRED = {
    "cdanalytics.io.load": ["load_export"],
    "cdanalytics.engagement.outcomes": ["completion", "dropout", "flow", "retention"],
    "cdanalytics.reoffending.window": ["fixed_window"],
    "cdanalytics.reoffending.survival": ["cumulative_reoffending", "logrank"],
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
