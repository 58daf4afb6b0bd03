"""Docstring examples of cdanalytics.practice and of the synthetic audits run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "cdanalytics.practice._data",
    "cdanalytics.practice._kappa",
    "cdanalytics.practice.agreement",
    "cdanalytics.practice.change",
    "cdanalytics.practice.family",
    "cdanalytics.practice.shares",
    "cdanalytics.synth._audits",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, extraglobs={"pd": __import__("pandas"), "np": __import__("numpy")}
    )
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_every_public_function_has_an_example_and_references():
    import cdanalytics.practice as practice

    for name in practice.__all__:
        obj = getattr(practice, name)
        if callable(obj):
            assert ">>>" in (obj.__doc__ or ""), f"{name} has no example"
            assert "References" in obj.__doc__, f"{name} has no references"
