"""One row per child: ``subject_id`` joins the measures key, and the pre/post
analyses combine a father's children with a stated rule.

Built on the hand-written CSV export of tests/_io_exports.py: P001's partner
rates two children (C1, C2) on the SDQ before and after the programme, and
P002's partner rates the CTS2 negotiation scale (higher is better) for the
couple as a whole and, separately, about one child.
"""

from __future__ import annotations

import pandas as pd
import pytest
from _io_exports import tables, write_csv_export

from cdanalytics import prepost
from cdanalytics.errors import ConfigError, ExportValidationError
from cdanalytics.io import load_export
from cdanalytics.io.export import Export

SDQ = {"C1": (18, 12), "C2": (24, 21)}
NEGOTIATION = {"": (40, 60), "C9": (20, 70)}


def frames_with_children() -> dict[str, pd.DataFrame]:
    frames = tables()
    rows = []
    for child, (pre, post) in SDQ.items():
        rows += [
            ("P001", "sdq", "total", "partner", "pre", "2024-02-05", str(pre), child),
            ("P001", "sdq", "total", "partner", "post", "2024-05-27", str(post), child),
        ]
    for subject, (pre, post) in NEGOTIATION.items():
        rows += [
            ("P002", "cts2", "negotiation", "partner", "pre", "2024-02-05", str(pre), subject),
            ("P002", "cts2", "negotiation", "partner", "post", "2024-03-04", str(post), subject),
        ]
    columns = [
        "participant_id",
        "instrument",
        "scale",
        "informant",
        "timepoint",
        "measured_on",
        "score",
        "subject_id",
    ]
    frames["measures"] = pd.DataFrame(rows, columns=columns)
    return frames


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Export:
    folder = write_csv_export(tmp_path_factory.mktemp("children") / "x", frames_with_children())
    return load_export(folder)


def test_two_children_of_one_father_load_without_problems(export):
    assert export.report.problems.empty
    sdq = export.measures[export.measures["instrument"] == "sdq"]
    assert sorted(sdq["subject_id"].unique()) == ["C1", "C2"]
    assert len(sdq) == 4


def test_the_mean_rule_averages_the_children_per_timepoint(export):
    table = prepost.score_table(export, subset=["sdq"]).set_index("participant_id")
    assert len(table) == 1  # one row per man, not per child
    assert table.loc["P001", "pre"] == pytest.approx((18 + 24) / 2)
    assert table.loc["P001", "post"] == pytest.approx((12 + 21) / 2)


def test_the_worst_rule_follows_the_direction_of_the_scale(export):
    table = prepost.score_table(export, subjects="worst").set_index(["participant_id", "scale"])
    # SDQ: higher is worse, so the highest score of the children at each timepoint
    assert table.loc[("P001", "total"), ["pre", "post"]].tolist() == [24.0, 21.0]
    # negotiation: higher is better, so the lowest; the empty subject counts as one
    assert table.loc[("P002", "negotiation"), ["pre", "post"]].tolist() == [20.0, 60.0]


def test_both_children_enter_the_change_analysis(export):
    table = prepost.score_table(export, by="programme", subset=["sdq"])
    result = prepost.change(table, by="programme")
    row = result[result["instrument"] == "sdq"].iloc[0]
    assert row["n_paired"] == 1
    assert row["mean_change"] == pytest.approx((12 + 21) / 2 - (18 + 24) / 2)


def problems_with_first_measure_twice(tmp_path, frames) -> pd.DataFrame:
    """The validation problems of loading ``frames`` with its first measure repeated."""
    m = frames["measures"]
    frames["measures"] = pd.concat([m, m.iloc[[0]]], ignore_index=True)
    with pytest.raises(ExportValidationError) as info:
        load_export(write_csv_export(tmp_path / "dup", frames))
    return info.value.report.problems


def test_a_true_duplicate_of_one_child_is_still_caught(tmp_path):
    found = problems_with_first_measure_twice(tmp_path, frames_with_children())
    assert set(found["rule"]) == {"unique"}
    assert found["value"].tolist() == ["P001 / sdq / total / partner / pre / C1"] * 2
    assert found["row"].tolist() == [2, 10]


def test_a_duplicate_without_subject_ids_is_still_caught(tmp_path):
    found = problems_with_first_measure_twice(tmp_path, tables())
    assert set(found["rule"]) == {"unique"}
    assert len(found) == 2


def test_score_table_refuses_a_duplicate_child_in_memory_and_unknown_rules(export):
    measures = pd.concat([export.measures, export.measures.iloc[[0]]], ignore_index=True)
    doubled = Export(export.participants, export.sessions, measures, export.events, export.manifest)
    with pytest.raises(ExportValidationError, match="timepoint and subject"):
        prepost.score_table(doubled)
    with pytest.raises(ConfigError, match="subjects must be one of mean, worst"):
        prepost.score_table(export, subjects="median")
