"""write_export: the files written for a small hand-made export, byte for byte."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cdanalytics.errors import ConfigError
from cdanalytics.io import write as write_module
from cdanalytics.io.export import Export, Manifest
from cdanalytics.io.write import write_export


def _dates(*values):
    return pd.Series(pd.to_datetime(list(values)).as_unit("s"))


@pytest.fixture
def export() -> Export:
    participants = pd.DataFrame(
        {
            "participant_id": pd.Series(["P1", "P2"], dtype="str"),
            "programme": pd.Categorical(["borg", "caring_dads"]),
            "site": pd.Categorical(["Den Haag", "Leeds"]),
            "assessed": pd.array([True, None], dtype="boolean"),
            "start_date": _dates("2024-01-08", None),
            "prior_offences": pd.array([3, None], dtype="Int64"),
        }
    )
    sessions = pd.DataFrame(
        {
            "participant_id": pd.Series(["P1"], dtype="str"),
            "session_type": pd.Categorical(["group"]),
            "session_number": pd.array([1], dtype="Int64"),
            "session_date": _dates("2024-01-08"),
            "attendance": pd.Categorical(["attended"]),
        }
    )
    measures = pd.DataFrame(
        {
            "participant_id": pd.Series(["P1", "P1"], dtype="str"),
            "instrument": pd.Categorical(["parenting_scale", "sdq"]),
            "timepoint": pd.Categorical(["pre", "pre"]),
            "score": np.array([3.25, 12.0]),
        }
    )
    events = pd.DataFrame(
        {
            "participant_id": pd.Series([], dtype="str"),
            "event_date": pd.Series([], dtype="datetime64[s]"),
            "event_type": pd.Categorical([]),
        }
    )
    return Export(
        participants,
        sessions,
        measures,
        events,
        Manifest(pd.Timestamp("2025-06-30"), 1, "test system", "two people"),
    )


def test_csv_files_hold_iso_dates_plain_text_and_empty_missing_values(tmp_path, export):
    write_export(export, tmp_path, fmt="csv")
    assert (tmp_path / "participants.csv").read_text("utf-8") == (
        "participant_id,programme,site,assessed,start_date,prior_offences\n"
        "P1,borg,Den Haag,true,2024-01-08,3\n"
        "P2,caring_dads,Leeds,,,\n"
    )
    assert (tmp_path / "sessions.csv").read_text("utf-8") == (
        "participant_id,session_type,session_number,session_date,attendance\n"
        "P1,group,1,2024-01-08,attended\n"
    )
    assert (tmp_path / "measures.csv").read_text("utf-8") == (
        "participant_id,instrument,timepoint,score\nP1,parenting_scale,pre,3.25\nP1,sdq,pre,12\n"
    )
    assert (tmp_path / "events.csv").read_text("utf-8") == "participant_id,event_date,event_type\n"


def test_csv_quotes_text_only_in_a_table_that_needs_it(tmp_path, export):
    export.participants["site"] = pd.Categorical(['Leeds, "East"', "Leeds"])
    write_export(export, tmp_path, fmt="csv")
    lines = (tmp_path / "participants.csv").read_text("utf-8").splitlines()
    assert lines[1] == '"P1","borg","Leeds, ""East""",true,2024-01-08,3'
    assert (tmp_path / "sessions.csv").read_text("utf-8").splitlines()[1].startswith("P1,group")
    back = pd.read_csv(tmp_path / "participants.csv")
    assert back["site"].tolist() == ['Leeds, "East"', "Leeds"]


def test_manifest_json_is_fixed_text(tmp_path, export):
    write_export(export, tmp_path, fmt="csv")
    assert json.loads((tmp_path / "manifest.json").read_text("utf-8")) == {
        "extract_date": "2025-06-30",
        "schema_version": 1,
        "source_system": "test system",
        "description": "two people",
    }
    assert (tmp_path / "manifest.json").read_text("utf-8").endswith("}\n")


def test_parquet_has_plain_types_and_no_pandas_metadata(tmp_path, export):
    write_export(export, tmp_path, fmt="parquet")
    table = pq.read_table(tmp_path / "participants.parquet")
    assert str(table.schema.field("start_date").type) == "date32[day]"
    assert str(table.schema.field("programme").type) == "string"
    assert str(table.schema.field("assessed").type) == "bool"
    assert str(table.schema.field("prior_offences").type) == "int64"
    assert b"pandas" not in (table.schema.metadata or {})
    assert table.column("start_date").to_pylist()[0].isoformat() == "2024-01-08"
    assert table.column("prior_offences").to_pylist() == [3, None]
    assert pq.read_table(tmp_path / "events.parquet").num_rows == 0


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_writing_twice_gives_identical_bytes(tmp_path, export, fmt):
    write_export(export, tmp_path / "a", fmt=fmt)
    write_export(export, tmp_path / "b", fmt=fmt)
    a = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    b = {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}
    assert a == b and len(a) == (2 if fmt == "xlsx" else 5)


def test_xlsx_has_a_sheet_per_table_and_fixed_zip_dates(tmp_path, export):
    write_export(export, tmp_path, fmt="xlsx")
    path = tmp_path / write_module.WORKBOOK_NAME
    with zipfile.ZipFile(path) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode("utf-8")
    assert "2000-01-01T00:00:00Z" in core
    sheets = pd.read_excel(path, sheet_name=None, engine="calamine")
    assert list(sheets) == ["participants", "sessions", "measures", "events"]
    people = sheets["participants"]
    assert people["site"].tolist() == ["Den Haag", "Leeds"]
    assert people["start_date"].iloc[0] == pd.Timestamp("2024-01-08")
    assert people["prior_offences"].isna().tolist() == [False, True]
    assert sheets["measures"]["score"].tolist() == [3.25, 12.0]


def test_xlsx_refuses_a_table_longer_than_a_sheet(tmp_path, export, monkeypatch):
    monkeypatch.setattr(write_module, "XLSX_MAX_ROWS", 1)
    with pytest.raises(ConfigError, match=r"participants.*csv or parquet"):
        write_export(export, tmp_path, fmt="xlsx")


def test_unknown_format_is_a_config_error(tmp_path, export):
    with pytest.raises(ConfigError, match="json"):
        write_export(export, tmp_path, fmt="json")
    assert not any(tmp_path.iterdir())
