"""The score tables that change, reliable change and attrition share per export:
kept for the next analysis, and given back by ``release_score_tables``."""

from __future__ import annotations

import gc
import weakref

import pandas as pd
from _prepost_fixtures import make_export

from cdanalytics.prepost import _data, change, release_score_tables


def _export(shift: float):
    rows = [
        (f"p{i}", "cts2", "physical_assault", "partner", timepoint, 10.0 + i % 7 + delta)
        for i in range(40)
        for timepoint, delta in (("pre", 0.0), ("post", shift + (i % 3)))
    ]
    return make_export(rows)


def _kept(export) -> weakref.ref:
    """A weak reference to the score table kept for ``export``."""
    (_, layout), *_ = _data._SHARED[id(export)][2]
    return weakref.ref(layout.table)


def test_the_table_is_kept_and_then_released_with_the_same_results_after():
    export = _export(-2.0)
    before = change(export)
    kept = _kept(export)
    gc.collect()
    assert kept() is not None  # kept while the export lives: the next analysis shares it
    release_score_tables(export)
    gc.collect()
    assert kept() is None
    pd.testing.assert_frame_equal(change(export), before)  # made again, the same


def test_releasing_one_export_keeps_the_others_and_none_releases_all():
    first, second = _export(-2.0), _export(1.0)
    change(first), change(second)
    kept_first, kept_second = _kept(first), _kept(second)
    release_score_tables(first)
    gc.collect()
    assert kept_first() is None and kept_second() is not None
    release_score_tables()
    gc.collect()
    assert kept_second() is None


def test_the_tables_go_with_their_export():
    export = _export(-2.0)
    change(export)
    key = id(export)
    kept = _kept(export)
    assert key in _data._SHARED
    del export
    gc.collect()
    assert key not in _data._SHARED and kept() is None
