"""Export.participant_rows: the one integer lookup of participant_id that
load_export carries over from validation, against a plain pandas join of
the accepted rows (strict and quarantine loads), and the lookup an export
built in memory makes on first use."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _io_exports import tables, write_csv_export

from cdanalytics.errors import ExportValidationError
from cdanalytics.io import load_export
from cdanalytics.io.export import TABLES, Export, Manifest


def _joined(export: Export, table: str) -> np.ndarray:
    """Row in participants of each row's participant_id, by a pandas join."""
    position = pd.Series(
        np.arange(len(export.participants)), index=export.participants["participant_id"]
    )
    ids = export.table(table)["participant_id"]
    return position.reindex(ids).fillna(-1).to_numpy(dtype=np.int64)


def test_loaded_rows_equal_a_join_of_the_accepted_rows(tmp_path):
    export = load_export(write_csv_export(tmp_path, tables()))
    for name in TABLES[1:]:
        np.testing.assert_array_equal(export.participant_rows(name), _joined(export, name))


def test_quarantined_participants_and_orphans_renumber_the_rows(tmp_path):
    frames = tables()
    frames["participants"].loc[1, "start_date"] = "2024-01-01"  # P002 quarantined
    frames["sessions"].loc[8] = ["P999", "group", "1", "2024-02-05", "attended"]  # orphan
    export = load_export(write_csv_export(tmp_path, frames), quarantine=True)
    assert len(export.quarantine["participants"]) == 1
    for name in TABLES[1:]:
        rows = export.participant_rows(name)
        np.testing.assert_array_equal(rows, _joined(export, name))
        assert (rows >= 0).all()


def test_in_memory_export_looks_up_once_and_again_after_a_table_is_replaced():
    participants = pd.DataFrame({"participant_id": pd.array(["A", "B", "C"], dtype="str")})
    measures = pd.DataFrame({"participant_id": pd.array(["C", "A", "X", "C"], dtype="str")})
    export = Export(
        participants=participants,
        sessions=pd.DataFrame(),
        measures=measures,
        events=pd.DataFrame(),
        manifest=Manifest(extract_date=pd.Timestamp("2025-01-01")),
    )
    first = export.participant_rows("measures")
    np.testing.assert_array_equal(first, [2, 0, -1, 2])
    assert export.participant_rows("measures") is first
    export.measures = measures.iloc[:2]
    np.testing.assert_array_equal(export.participant_rows("measures"), [2, 0])


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (["A", "A"], "has duplicate participant_id values"),
        (["A", None, "B"], "has 1 missing participant_id value"),
    ],
    ids=["a duplicate identifier", "a missing identifier"],
)
def test_duplicate_or_missing_participant_identifiers_are_refused(ids, message):
    participants = pd.DataFrame({"participant_id": pd.array(ids, dtype="str")})
    export = Export(
        participants=participants,
        sessions=pd.DataFrame(),
        measures=pd.DataFrame({"participant_id": pd.array(["A"], dtype="str")}),
        events=pd.DataFrame(),
        manifest=Manifest(extract_date=pd.Timestamp("2025-01-01")),
    )
    with pytest.raises(ExportValidationError, match=message):
        export.participant_rows("measures")
