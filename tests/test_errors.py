"""The exception and warning classes: one hierarchy a caller can catch or filter by kind.

Where each warning is issued is tested beside its analysis (test_engagement,
test_matching, test_prepost_reliable, test_reoffending_cox); here: the
classes themselves and that a filter on one kind leaves the other alone.
"""

from __future__ import annotations

import warnings

import pytest

import cdanalytics
from cdanalytics import errors
from cdanalytics.errors import CdaWarning, DataQualityWarning, StatisticalWarning


@pytest.mark.parametrize("kind", [StatisticalWarning, DataQualityWarning])
def test_warning_classes_are_user_warnings_under_one_base(kind):
    assert issubclass(kind, CdaWarning)
    assert issubclass(kind, UserWarning)
    assert not issubclass(kind, errors.CdaError)


def test_the_two_kinds_are_distinct():
    assert not issubclass(StatisticalWarning, DataQualityWarning)
    assert not issubclass(DataQualityWarning, StatisticalWarning)


def test_every_class_of_the_module_is_exported_from_the_package():
    for name in errors.__all__:
        assert getattr(cdanalytics, name) is getattr(errors, name)
        assert name in cdanalytics.__all__


def test_a_filter_on_one_kind_turns_only_that_kind_into_an_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error", StatisticalWarning)
        with pytest.raises(StatisticalWarning):
            warnings.warn("doubtful", StatisticalWarning, stacklevel=1)
        with pytest.warns(DataQualityWarning):
            warnings.warn("rows left out", DataQualityWarning, stacklevel=1)


def test_base_class_catches_both_kinds():
    for kind in (StatisticalWarning, DataQualityWarning):
        with pytest.warns(CdaWarning):
            warnings.warn("x", kind, stacklevel=1)
