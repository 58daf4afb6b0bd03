"""Added sections run right after the step they need (:func:`compute_outcomes`).

The report computes its family section straight after the engagement step,
so that the prepared engagement data can go before pre/post, reoffending and
matching allocate (at 10M participants it is over a gigabyte). Moving it must
not change a number, and the steps must still be reported in the order they
ran.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cdanalytics import load_export
from cdanalytics.errors import ConfigError
from cdanalytics.report import build, family
from cdanalytics.report.compute import STEPS, Section, compute_outcomes

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def sample():
    return load_export(SAMPLE)


def test_a_section_runs_right_after_the_step_it_names(sample):
    seen, steps = {}, []

    def look(out):
        seen["tables"] = set(out.tables)
        seen["models"] = set(out.models)

    out = compute_outcomes(
        sample, sections=[Section("look", "engagement", look)], on_step=steps.append
    )
    assert steps == ["engagement", "look", *STEPS[1:]]
    assert "flow" in seen["tables"] and "engagement" in seen["models"]
    assert not {"change", "fixed_window", "matching_gates"} & seen["tables"]  # later steps'
    assert {"change", "fixed_window", "matching_gates"} <= set(out.tables)


def test_a_section_after_a_step_that_does_not_exist_is_refused(sample):
    with pytest.raises(ConfigError, match="not \\['reoffend'\\]"):
        compute_outcomes(sample, sections=[Section("x", "reoffend", lambda out: None)])


def test_the_report_computes_the_family_section_early_with_the_same_tables(sample):
    early = compute_outcomes(sample, sections=build._SECTIONS[:1])
    assert "engagement" not in early.models  # let go once the family section has run
    late = compute_outcomes(sample)
    family.compute(late)  # where it ran before: after matching
    names = [name for name in late.tables if name.startswith("family_")]
    assert names and set(names) == {n for n in early.tables if n.startswith("family_")}
    for name in names:
        pd.testing.assert_frame_equal(early.tables[name], late.tables[name], check_exact=True)


def test_the_report_steps_list_each_section_after_its_step():
    steps = list(build.REPORT_STEPS)
    assert steps.index("family") == steps.index("engagement") + 1
    assert steps.index("imputation") == steps.index("prepost") + 1
    assert steps.index("methods") == steps.index("matching") + 1
    assert steps[0] == "load" and steps[-3:] == ["disclosure", "figures", "write"]


def test_the_imputed_change_reads_the_score_table_pre_post_made(sample, monkeypatch):
    from cdanalytics.prepost import _data

    made, steps = [], []
    reshape = _data._reshaped
    monkeypatch.setattr(_data, "_reshaped", lambda *a, **k: made.append(1) or reshape(*a, **k))
    out = compute_outcomes(
        sample, sections=build._SECTIONS, on_step=lambda step: steps.append((step, len(made)))
    )
    counts = dict(steps)
    assert counts["imputation"] == counts["prepost"] > 0  # no table made again
    assert not out.tables["prepost_missing"].empty
    assert id(sample) not in _data._SHARED  # and no score table is kept after the steps


def test_the_report_keeps_its_cox_fits_without_their_rows(sample):
    out = compute_outcomes(sample, sections=build._SECTIONS)
    assert out.models["cox"].n_events > 0 and out.models["cox"]._risk_sets is None
    assert not out.tables["cox_ph"].empty  # the test was made before the rows went
    assert out.models["landmark"].cox._risk_sets is None
