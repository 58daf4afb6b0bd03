"""load_export: formats, typing conventions, mapping, privacy guard, strict and quarantine."""

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from _io_exports import EXTRACT_DATE, MANIFEST, dutch_export, tables, write_csv_export

from cdanalytics.errors import (
    ConfigError,
    DataQualityWarning,
    ExportError,
    ExportValidationError,
    IdentifierError,
)
from cdanalytics.io import load_export
from cdanalytics.io.export import TABLES
from cdanalytics.io.write import write_export

DUTCH_MAPPING = Path(__file__).parents[1] / "data" / "mappings" / "dutch_example.yaml"


@pytest.fixture
def export(tmp_path):
    return load_export(write_csv_export(tmp_path / "export"))


# -- a valid export -------------------------------------------------------------------------


def test_a_valid_export_loads_every_row(export):
    counts = export.report.tables
    assert export.report.ok
    assert counts["rows_read"].to_dict() == {
        "participants": 6,
        "sessions": 8,
        "measures": 4,
        "events": 2,
    }
    assert (counts["rows_accepted"] == counts["rows_read"]).all()
    assert (counts["rows_quarantined"] == 0).all()
    assert export.extract_date == pd.Timestamp(EXTRACT_DATE)
    assert export.manifest.source_system == "test fixture"
    assert export.quarantine == {}


def test_dtypes_follow_the_in_memory_conventions(export):
    p = export.participants
    assert p["participant_id"].dtype == "str"
    assert pd.api.types.is_datetime64_any_dtype(p["referral_date"])
    assert p["prior_offences"].dtype == "Int64"
    assert p["assessed"].dtype == "boolean"
    assert export.measures["score"].dtype == "float64"
    assert list(p["risk_level"].cat.categories) == ["low", "medium", "high", "very_high"]
    assert p["risk_level"].cat.ordered
    assert list(export.measures["timepoint"].cat.categories) == ["pre", "post", "follow_up"]
    assert "caledonian" in p["programme"].cat.categories  # the registry's codes, used or not
    assert list(p["site"].cat.categories) == ["Leeds", "Eindhoven"]


def test_every_contract_column_exists_and_defaults_are_filled(export):
    p = export.participants
    assert p["n_children"].isna().all()  # absent from the file, present and empty
    assert p["followup_end"].isna().all()
    assert p["index_date"].isna().tolist() == [True, True, True, True, False, False]
    assert export.measures["scale"].tolist() == ["total", "total", "total", "physical_assault"]
    assert p["motivation"].tolist()[:4] == [4, 2, 3, 5]  # extra columns kept as covariates


def test_extra_columns_read_as_text_become_whole_numbers_decimals_or_stay_text(tmp_path):
    frames = tables()
    n = len(frames["participants"])
    frames["participants"]["visits"] = [str(i) for i in range(n)]
    frames["participants"]["weight"] = ["1.5"] + ["2"] * (n - 1)
    frames["participants"]["note"] = ["3"] + ["x"] * (n - 1)
    export = load_export(write_csv_export(tmp_path / "csv", frames))
    # a workbook is read as text, so the loader types the extra columns itself
    p = load_export(write_export(export, tmp_path / "xlsx", fmt="xlsx")).participants
    assert p["visits"].dtype == "Int64" and p["visits"].tolist() == list(range(n))
    assert p["weight"].dtype == "float64" and p["weight"].tolist() == [1.5] + [2.0] * (n - 1)
    assert p["note"].tolist() == ["3"] + ["x"] * (n - 1)


def test_group_is_filled_with_programme(tmp_path):
    frames = tables()
    frames["participants"].loc[0, "group"] = ""
    export = load_export(write_csv_export(tmp_path, frames))
    assert export.participants["group"].iloc[0] == "programme"


def test_absent_optional_tables_are_empty_with_contract_columns(tmp_path):
    folder = write_csv_export(tmp_path, {"participants": tables()["participants"]})
    export = load_export(folder)
    assert len(export.participants) == 6
    assert export.events.empty
    assert "proven_date" in export.events.columns
    assert pd.api.types.is_datetime64_any_dtype(export.events["event_date"])
    assert "No events table: read as empty." in export.report.notes


def _seconds(frame):
    """Dates in one unit (the loader keeps the unit a format gives: s, ms, ...)."""
    dates = frame.select_dtypes("datetime").columns
    return frame.astype({c: "datetime64[s]" for c in dates})


@pytest.mark.parametrize("fmt", ["parquet", "xlsx"])
def test_parquet_and_workbook_exports_load_the_same_data(export, tmp_path, fmt):
    again = load_export(write_export(export, tmp_path / fmt, fmt=fmt))
    assert again.report.ok
    for name in TABLES:
        pd.testing.assert_frame_equal(
            _seconds(again.table(name)),
            _seconds(export.table(name)),
            check_dtype=False,
            check_categorical=False,
        )


def test_a_workbook_with_a_manifest_sheet_and_blank_rows(tmp_path):
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, frame in tables().items():
        sheet = book.create_sheet(name)
        sheet.append(list(frame.columns))
        for i, row in enumerate(frame.itertuples(index=False)):
            sheet.append([v if v != "" else None for v in row])
            if i == 0:
                sheet.append([])  # stray blank row after the first data row
    manifest = book.create_sheet("manifest")
    manifest.append(["key", "value"])
    manifest.append(["extract_date", EXTRACT_DATE])
    path = tmp_path / "site.xlsx"
    book.save(path)
    export = load_export(path)
    assert export.report.ok
    assert export.report.tables.loc["sessions", "blank_rows"] == 1
    assert export.report.tables.loc["sessions", "rows_read"] == 8
    assert load_export(tmp_path).report.ok  # a folder holding only the workbook


def test_dutch_seriousness_and_disposal_labels_load_through_the_example_mapping(tmp_path):
    folder = dutch_export(tmp_path)
    path = folder / "gebeurtenissen.csv"
    events = pd.read_csv(path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    events["ernst"] = ["zeer_ernstig", "ernstig"]
    events["afdoening"] = ["taakstraf", ""]
    events.to_csv(path, sep=";", index=False, encoding="cp1252")
    loaded = load_export(folder, mapping=DUTCH_MAPPING).events
    assert loaded["seriousness"].tolist() == ["very_serious", "serious"]
    assert loaded["disposal"].iloc[0] == "community_sentence"
    assert pd.isna(loaded["disposal"].iloc[1])


def test_the_dutch_export_loads_through_the_example_mapping(tmp_path):
    export = load_export(dutch_export(tmp_path), mapping=DUTCH_MAPPING)
    report = export.report
    assert report.ok
    assert report.tables.loc["participants", "encoding"] == "cp1252"
    assert report.tables.loc["participants", "delimiter"] == ";"
    assert any("decimal commas" in note for note in report.notes)
    p = export.participants
    assert p["exit_status"].tolist()[:4] == ["completed", "dropped_out", "ongoing", "not_started"]
    assert p["exit_reason"].iloc[1] == "verhuisd naar België"
    assert p["start_date"].iloc[0] == pd.Timestamp("2024-02-05")
    assert p["assessed"].iloc[0]
    assert export.measures["score"].tolist() == [18.0, 12.0, 95.5, 40.0]
    assert export.sessions["session_type"].iloc[3] == "review"
    assert export.extract_date == pd.Timestamp(EXTRACT_DATE)
    assert export.manifest.source_system == "Testsysteem"


def test_registry_overrides_admit_a_new_programme(tmp_path):
    frames = tables()
    frames["participants"].loc[3, "programme"] = "local_course"
    folder = write_csv_export(tmp_path, frames)
    with pytest.raises(ExportValidationError):
        load_export(folder)
    new = {
        "name": {"en": "Local course"},
        "core": {"group": 4},
        "expected_duration_days": 28,
        "completion_rule": {"min_core_share": 0.75},
    }
    export = load_export(folder, programmes={"local_course": new})
    assert export.participants["programme"].iloc[3] == "local_course"


@pytest.mark.slow
def test_synthetic_exports_are_valid_in_every_format(tmp_path):
    from cdanalytics.synth import write_synthetic_export

    for fmt in ("csv", "parquet", "xlsx"):
        folder = tmp_path / fmt
        write_synthetic_export(folder, n_participants=300, seed=5, fmt=fmt)
        export = load_export(folder)
        assert export.report.ok, export.report.summary()
        assert len(export.participants) == 300


# -- files that cannot be read ----------------------------------------------------------------


def test_missing_folder_participants_or_manifest_are_export_errors(tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        load_export(tmp_path / "absent")
    folder = write_csv_export(tmp_path / "x", {"sessions": tables()["sessions"]})
    with pytest.raises(ExportError, match="No participants table"):
        load_export(folder)
    folder = write_csv_export(tmp_path / "y")
    (folder / "manifest.json").unlink()
    with pytest.raises(ExportError, match=r"No manifest\.json"):
        load_export(folder)


def test_two_files_for_one_table_are_refused(tmp_path):
    folder = write_csv_export(tmp_path)
    tables()["events"].to_parquet(folder / "events.parquet")
    with pytest.raises(ExportError, match=r"both events\.csv and events\.parquet"):
        load_export(folder)


def test_unknown_files_are_ignored_and_said_so(tmp_path):
    folder = write_csv_export(tmp_path)
    (folder / "notes.csv").write_text("a\n1\n", encoding="utf-8")
    assert any("notes.csv" in note for note in load_export(folder).report.notes)


# -- privacy guard ----------------------------------------------------------------------------


def test_identifier_columns_are_refused_naming_every_table_but_no_value(tmp_path):
    frames = tables()
    frames["participants"]["email"] = [f"dad{i}@example.org" for i in range(6)]
    frames["events"]["postcode"] = ["LS1 4AP", "1234 AB"]
    with pytest.raises(IdentifierError) as info:
        load_export(write_csv_export(tmp_path, frames))
    message = str(info.value)
    assert "'email'" in message and "'postcode'" in message
    assert "participants" in message and "events" in message
    assert "example.org" not in message and "LS1 4AP" not in message


def test_identifiers_are_checked_after_the_mapping_renames_columns(tmp_path):
    frames = tables()
    frames["participants"]["naam"] = ["x"] * 6
    with pytest.raises(IdentifierError, match="telephone"):
        load_export(
            write_csv_export(tmp_path, frames),
            mapping={"tables": {"participants": {"columns": {"naam": "telephone"}}}},
        )


# -- strict and quarantine --------------------------------------------------------------------


@pytest.fixture
def broken(tmp_path):
    """P002 starts before its referral; a session of an unknown participant."""
    frames = tables()
    frames["participants"].loc[1, "start_date"] = "2024-01-01"
    frames["sessions"].loc[8] = ["P999", "group", "1", "2024-02-05", "attended"]
    return write_csv_export(tmp_path, frames)


def test_strict_mode_raises_with_the_full_report(broken):
    with pytest.raises(ExportValidationError) as info:
        load_export(broken)
    report = info.value.report
    assert set(report.problems["rule"]) == {"date_order", "orphan"}
    assert "2 problem(s)" in str(info.value)
    assert "start_date is before referral_date" in str(info.value)
    report.reconcile()


def test_quarantine_sets_aside_bad_rows_and_the_rows_of_their_participant(broken):
    export = load_export(broken, quarantine=True)
    counts = export.report.tables
    assert counts.loc[
        "participants", ["rows_read", "rows_accepted", "rows_quarantined"]
    ].tolist() == [
        6,
        5,
        1,
    ]
    # P002 has two sessions, one measure and one event; the orphan session is quarantined too
    assert counts.loc[
        "sessions", ["rows_with_problems", "rows_of_quarantined_participant"]
    ].tolist() == [1, 2]
    assert counts.loc["measures", "rows_quarantined"] == 1
    assert counts.loc["events", "rows_quarantined"] == 1
    assert "P002" not in set(export.sessions["participant_id"])
    q = export.quarantine["sessions"]
    assert q["source_row"].tolist() == [6, 7, 10]
    assert (
        q["quarantine_reason"].iloc[0] == "its participant is quarantined (participants.csv row 3)"
    )
    assert q["quarantine_reason"].iloc[2].startswith("orphan (participant_id 'P999')")
    export.report.reconcile()


def test_file_level_problems_cannot_be_quarantined(tmp_path):
    frames = tables()
    frames["participants"] = frames["participants"].drop(columns="site")
    with pytest.raises(ExportValidationError, match="missing"):
        load_export(write_csv_export(tmp_path, frames), quarantine=True)


def test_manifest_problems_are_reported(tmp_path):
    folder = write_csv_export(tmp_path, manifest={"schema_version": 2})
    with pytest.raises(ExportValidationError) as info:
        load_export(folder, quarantine=True)
    problems = info.value.report.problems
    assert problems[["table", "column", "rule"]].to_numpy().tolist() == [
        ["manifest", "extract_date", "not_null"],
        ["manifest", "schema_version", "range"],
    ]


def test_manifest_keys_outside_the_contract_are_noted(tmp_path):
    folder = write_csv_export(tmp_path, manifest={**MANIFEST, "exported_by": "x"})
    assert any("exported_by" in note for note in load_export(folder).report.notes)
    assert json.loads((folder / "manifest.json").read_text())["exported_by"] == "x"


# -- files found as a person would find them -----------------------------------------------


def _fixture_workbook(sheet_name, manifest_sheet):
    """The fixture as a workbook: a sheet per table named ``sheet_name(table)``, and a manifest."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, frame in tables().items():
        sheet = book.create_sheet(sheet_name(name))
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append(list(row))
    if manifest_sheet is not None:
        manifest = book.create_sheet(manifest_sheet)
        manifest.append(["key", "value"])
        manifest.append(["extract_date", EXTRACT_DATE])
    return book


def test_table_files_are_found_whatever_their_case(tmp_path):
    folder = write_csv_export(tmp_path / "export")
    (folder / "sessions.csv").rename(folder / "sessions.CSV")
    (folder / "participants.csv").rename(folder / "Participants.csv")
    (folder / "manifest.json").rename(folder / "MANIFEST.json")
    report = load_export(folder).report
    assert report.ok
    assert report.tables.loc["sessions", "file"] == "sessions.CSV"
    assert report.tables.loc["sessions", "rows_read"] == len(tables()["sessions"])
    assert report.tables.loc["participants", "file"] == "Participants.csv"


def test_two_files_differing_only_by_case_are_refused_naming_both(tmp_path):
    folder = write_csv_export(tmp_path / "export")
    (folder / "Sessions.csv").write_bytes((folder / "sessions.csv").read_bytes())
    with pytest.raises(ExportError) as info:
        load_export(folder)
    assert "Sessions.csv" in str(info.value)
    assert "sessions.csv" in str(info.value)
    assert "differ only by upper and lower case" in str(info.value)


def test_sheets_are_found_whatever_their_case(tmp_path):
    _fixture_workbook(str.upper, "Manifest").save(tmp_path / "export.xlsx")
    report = load_export(tmp_path / "export.xlsx").report
    assert report.ok
    assert report.tables.loc["sessions", "file"] == "export.xlsx[SESSIONS]"


# -- paths stay inside the export ------------------------------------------------------------


@pytest.mark.parametrize(
    "mapping",
    [
        {"tables": {"participants": {"file": "../other/participants"}}},
        {"tables": {"sessions": {"file": "../../other/sessions"}}},
        {"manifest": {"file": "/etc/passwd"}},
        {"manifest": {"file": "../other/manifest.json"}},
    ],
    ids=["table_up_one", "table_up_two", "manifest_absolute", "manifest_up_one"],
)
def test_a_mapped_path_outside_the_export_is_refused(tmp_path, mapping):
    folder = write_csv_export(tmp_path / "export")
    write_csv_export(tmp_path / "other")
    with pytest.raises(ConfigError, match="outside the export folder"):
        load_export(folder, mapping=mapping)


def test_a_mapped_name_inside_the_export_is_still_read(tmp_path):
    folder = write_csv_export(tmp_path / "export")
    (folder / "sub").mkdir()
    (folder / "sessions.csv").rename(folder / "sub" / "sessies.csv")
    export = load_export(folder, mapping={"tables": {"sessions": {"file": "sub/sessies"}}})
    assert len(export.sessions) == len(tables()["sessions"])


def test_a_table_file_linking_outside_the_export_is_refused(tmp_path):
    folder = write_csv_export(tmp_path / "export")
    outside = write_csv_export(tmp_path / "other")
    (folder / "sessions.csv").unlink()
    (folder / "sessions.csv").symlink_to(outside / "sessions.csv")
    with pytest.raises(ExportError, match="links to a file outside the export folder"):
        load_export(folder)


# -- identifiers are compared after trimming -------------------------------------------------


def test_ids_are_matched_after_trimming_with_one_warning_and_no_values(tmp_path):
    frames = tables()
    frames["sessions"].loc[0, "participant_id"] = "P001 "
    frames["sessions"].loc[4, "participant_id"] = "  P002"
    frames["events"].loc[0, "participant_id"] = "P002\t"
    with pytest.warns(DataQualityWarning) as caught:
        export = load_export(write_csv_export(tmp_path / "x", frames))
    assert export.report.ok
    assert export.sessions["participant_id"].tolist()[:5] == [
        "P001",
        "P001",
        "P001",
        "P001",
        "P002",
    ]
    messages = [str(w.message) for w in caught if w.category is DataQualityWarning]
    assert len(messages) == 1
    assert "sessions.csv, participant_id: 2" in messages[0]
    assert "events.csv, participant_id: 1" in messages[0]
    assert "P00" not in messages[0]


def test_an_id_with_and_without_a_space_is_one_person(tmp_path):
    frames = tables()
    frames["participants"].loc[5, "participant_id"] = "P005 "
    with pytest.warns(DataQualityWarning), pytest.raises(ExportValidationError) as info:
        load_export(write_csv_export(tmp_path / "x", frames))
    found = info.value.report.problems
    assert found[["file", "row", "column", "rule"]].to_numpy().tolist() == [
        ["participants.csv", 6, "participant_id", "unique"],
        ["participants.csv", 7, "participant_id", "unique"],
    ]


# -- the manifest ----------------------------------------------------------------------------


def _manifest_problem(tmp_path, **changes):
    manifest = {**MANIFEST, **changes}
    with pytest.raises(ExportValidationError) as info:
        load_export(write_csv_export(tmp_path / "x", manifest=manifest))
    found = info.value.report.problems
    assert len(found) == 1, found.to_string()
    return found.iloc[0]


def _days_from_today(days):
    return (pd.Timestamp.today().normalize() + pd.Timedelta(days=days)).strftime("%Y-%m-%d")


def test_an_extract_date_in_the_future_is_a_problem(tmp_path):
    p = _manifest_problem(tmp_path, extract_date=_days_from_today(5 * 365))
    assert (p["table"], p["file"], p["column"], p["rule"]) == (
        "manifest",
        "manifest.json",
        "extract_date",
        "after_today",
    )
    assert "not yet eligible" in p["message"]


def test_an_extract_date_of_tomorrow_is_clock_skew(tmp_path):
    manifest = {**MANIFEST, "extract_date": _days_from_today(1)}
    frames = tables()
    assert load_export(write_csv_export(tmp_path / "x", frames, manifest=manifest)).report.ok


@pytest.mark.parametrize(
    ("version", "rule"),
    [(True, "type"), ("1", "type"), (1.0, "type"), (None, "type"), (99, "range"), (0, "range")],
)
def test_schema_version_must_be_the_number_1(tmp_path, version, rule):
    p = _manifest_problem(tmp_path, schema_version=version)
    assert (p["table"], p["file"], p["column"], p["rule"]) == (
        "manifest",
        "manifest.json",
        "schema_version",
        rule,
    )


# -- Excel error cells -----------------------------------------------------------------------


def test_excel_error_cells_of_a_workbook_are_problems_not_empty_values(tmp_path):
    book = _fixture_workbook(str, None)
    book["participants"]["K3"] = "#DIV/0!"  # exit_status of P002, sheet row 3
    book["sessions"]["C4"] = "#VALUE!"  # session_number, sheet row 4
    assert book["participants"]["K3"].data_type == "e"  # written as an error cell
    manifest = book.create_sheet("manifest")
    manifest.append(["key", "value"])
    manifest.append(["extract_date", EXTRACT_DATE])
    manifest.append(["schema_version", "1"])  # a sheet holds text: "1" is the number 1 here
    book.save(tmp_path / "export.xlsx")
    with pytest.raises(ExportValidationError) as info:
        load_export(tmp_path / "export.xlsx")
    found = info.value.report.problems
    assert found[["file", "row", "column", "value", "rule"]].to_numpy().tolist() == [
        ["export.xlsx[participants]", 3, "exit_status", "#DIV/0!", "excel_error"],
        ["export.xlsx[sessions]", 4, "session_number", "#VALUE!", "excel_error"],
    ]
