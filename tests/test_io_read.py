"""Raw readers: encodings, delimiters, blank rows and source row numbers."""

import datetime as dt
import json

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cdanalytics._memory import csv_memory_pool
from cdanalytics.errors import ExportError
from cdanalytics.io.read import (
    excel_error_cells,
    read_csv_table,
    read_excel_table,
    read_manifest_json,
    read_manifest_sheet,
    read_parquet_table,
)

TEXT = "participant_id,site\nP1,Zaandijk\nP2,Göteborg\n"


@pytest.mark.parametrize(
    ("encoded", "label"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (TEXT.encode("utf-8-sig"), "utf-8-sig"),
        (TEXT.encode("cp1252"), "cp1252"),
    ],
)
def test_encoding_is_detected_and_recorded(tmp_path, encoded, label):
    path = tmp_path / "participants.csv"
    path.write_bytes(encoded)
    raw = read_csv_table(path, table="participants")
    assert raw.encoding == label
    assert list(raw.frame.columns) == ["participant_id", "site"]
    assert raw.frame["site"].tolist() == ["Zaandijk", "Göteborg"]


def test_text_that_is_not_utf8_or_cp1252_is_refused(tmp_path):
    path = tmp_path / "participants.csv"
    path.write_bytes(b"participant_id,site\nP1,\x81\x8d\n")  # undefined in Windows-1252
    with pytest.raises(ExportError, match="neither UTF-8 nor Windows-1252"):
        read_csv_table(path, table="participants")


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_delimiter_is_sniffed_from_the_header(tmp_path, sep):
    path = tmp_path / "t.csv"
    path.write_text(f"a{sep}b{sep}c\n1{sep}2{sep}3\n", encoding="utf-8")
    raw = read_csv_table(path, table="participants")
    assert raw.delimiter == sep
    assert list(raw.frame.columns) == ["a", "b", "c"]


def test_csv_row_numbers_count_the_header_as_line_1(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,x\n2,y\n", encoding="utf-8")
    assert read_csv_table(path, table="participants").rows.tolist() == [2, 3]


def test_blank_lines_and_empty_rows_are_skipped_counted_and_keep_row_numbers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,x\n\n,\n2,y\n", encoding="utf-8")
    raw = read_csv_table(path, table="participants")
    assert raw.frame["a"].tolist() == [1, 2]
    assert raw.rows.tolist() == [2, 5]
    assert raw.blank_rows == 2


def test_text_columns_keep_leading_zeros(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("participant_id,n\n007,1\n", encoding="utf-8")
    raw = read_csv_table(path, table="participants", text_columns={"participant_id"})
    assert raw.frame["participant_id"].tolist() == ["007"]


def test_category_columns_are_read_as_categoricals_of_text(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("d\n2024-01-01\n31-12-2024\n", encoding="utf-8")
    raw = read_csv_table(path, table="participants", category_columns={"d"})
    assert isinstance(raw.frame["d"].dtype, pd.CategoricalDtype)
    assert raw.frame["d"].tolist() == ["2024-01-01", "31-12-2024"]


def test_a_duplicated_header_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,a\n1,2,3\n", encoding="utf-8")
    with pytest.raises(ExportError, match="two columns named 'a'"):
        read_csv_table(path, table="participants")


def test_a_row_with_too_many_fields_names_its_line_but_not_its_contents(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4,secret\n", encoding="utf-8")
    with pytest.raises(ExportError, match="line 3") as info:
        read_csv_table(path, table="participants")
    assert "secret" not in str(info.value)


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"")
    with pytest.raises(ExportError, match="empty"):
        read_csv_table(path, table="participants")


def test_parquet_rows_are_numbered_from_1_and_dates_are_datetimes(tmp_path):
    path = tmp_path / "t.parquet"
    table = pa.table(
        {
            "d": pa.array([dt.date(2024, 1, 5), None], pa.date32()),
            "b": pa.array([True, None]),
            "c": pa.array(["x", "y"]),
        }
    )
    pq.write_table(table, path)
    raw = read_parquet_table(path, table="participants", category_columns={"c"})
    assert raw.rows.tolist() == [1, 2]
    assert pd.api.types.is_datetime64_any_dtype(raw.frame["d"])
    assert raw.frame["b"].dtype == "boolean"
    assert isinstance(raw.frame["c"].dtype, pd.CategoricalDtype)


@pytest.fixture
def workbook(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "participants"
    sheet.append([])  # row 1 empty: the header is on row 2
    sheet.append(["participant_id", "referral_date", "score", None])
    sheet.append([123, dt.date(2024, 1, 5), 12.5])
    sheet.append([])  # row 4: a stray blank row
    sheet.append(["P2", dt.datetime(2024, 3, 1, 10, 0), "12,5"])
    manifest = book.create_sheet("manifest")
    manifest.append(["key", "value"])
    manifest.append(["extract_date", dt.date(2025, 6, 30)])
    manifest.append(["schema_version", 1])
    path = tmp_path / "export.xlsx"
    book.save(path)
    return path


def test_excel_rows_are_sheet_rows_and_blank_rows_are_counted(workbook):
    raw = read_excel_table(workbook, "participants", table="participants")
    assert raw.rows.tolist() == [3, 5]
    assert raw.blank_rows == 1
    assert raw.file == "export.xlsx[participants]"


def test_excel_cells_are_read_as_text_the_csv_rules_understand(workbook):
    frame = read_excel_table(workbook, "participants", table="participants").frame
    assert list(frame.columns) == ["participant_id", "referral_date", "score"]
    assert frame["participant_id"].tolist() == ["123", "P2"]
    assert frame["referral_date"].tolist() == ["2024-01-05", "2024-03-01 10:00:00"]
    assert frame["score"].tolist() == ["12.5", "12,5"]


def test_manifest_sheet_and_json(tmp_path, workbook):
    assert read_manifest_sheet(workbook, "manifest") == {
        "extract_date": "2025-06-30",
        "schema_version": "1",
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"extract_date": "2025-06-30"}), encoding="utf-8")
    assert read_manifest_json(path) == {"extract_date": "2025-06-30"}
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ExportError, match="one JSON object"):
        read_manifest_json(path)


def test_excel_error_text_in_a_csv_file_is_kept_as_text(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("participant_id,risk_level\nP1,#N/A\nP2,#DIV/0!\nP3,NA\n", encoding="utf-8")
    frame = read_csv_table(path, table="participants").frame
    assert frame["risk_level"].tolist()[:2] == ["#N/A", "#DIV/0!"]
    assert pd.isna(frame["risk_level"].iloc[2])


def test_error_cells_of_a_workbook_are_read_as_their_error_text(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "participants"
    sheet.append(["participant_id", "risk_level", "score"])
    sheet.append(["P1", "#N/A", 3])
    sheet.append(["P2", "high", "#DIV/0!"])
    sheet["B5"] = "=1/0"  # a formula without a cached value: no error text to find
    path = tmp_path / "export.xlsx"
    book.save(path)
    assert excel_error_cells(path, "participants") == [(1, 1, "#N/A"), (2, 2, "#DIV/0!")]
    frame = read_excel_table(path, "participants", table="participants").frame
    assert frame["risk_level"].tolist()[0] == "#N/A"
    assert frame["score"].tolist()[1] == "#DIV/0!"
    assert excel_error_cells(path, "absent") == []


def test_a_reading_library_error_that_quotes_a_value_is_shown_redacted(tmp_path, monkeypatch):
    """Parquet and Excel errors are passed on, but never with an identifier they quote."""
    path = tmp_path / "participants.parquet"
    pq.write_table(pa.table({"participant_id": ["P1"]}), path)

    def quoting(*args, **kwargs):
        raise pa.ArrowInvalid("cannot convert 'pieter.jansen@example.nl' in row 3")

    monkeypatch.setattr(pq, "read_table", quoting)
    with pytest.raises(ExportError) as caught:
        read_parquet_table(path, table="participants")
    message = str(caught.value)
    assert "participants.parquet cannot be read as Parquet" in message
    assert "pieter.jansen@example.nl" not in message
    assert "redacted" in message


def test_a_header_line_with_a_stray_carriage_return_is_a_clear_error(tmp_path):
    """Found by the random-bytes test: the csv module's own error escaped as a crash."""
    path = tmp_path / "participants.csv"
    path.write_bytes(b"\r\x01")
    with pytest.raises(ExportError, match=r"participants\.csv: the header line cannot be read"):
        read_csv_table(path, table="participants")


def test_csv_text_is_held_in_the_csv_readers_own_memory_pool(tmp_path):
    """The CSV reader allocates from jemalloc (or the system allocator), not
    from Arrow's default pool: the read text columns live there."""
    path = tmp_path / "participants.csv"
    ids = [f"P{i:07d}" for i in range(20_000)]
    pd.DataFrame({"participant_id": ids, "site": ["A", "B"] * 10_000}).to_csv(path, index=False)
    pool = csv_memory_pool()
    assert pool.backend_name in ("jemalloc", "system")
    before = pool.bytes_allocated()
    raw = read_csv_table(path, table="participants", text_columns={"participant_id"})
    # 20,000 ids of 8 bytes and their offsets are still held, by the frame
    assert pool.bytes_allocated() - before >= 20_000 * 8
    assert raw.frame["participant_id"].tolist() == ids


def test_without_jemalloc_the_csv_reader_uses_the_system_allocator(tmp_path, monkeypatch):
    path = tmp_path / "participants.csv"
    path.write_text(TEXT, encoding="utf-8")
    monkeypatch.setattr(pa, "supported_memory_backends", lambda: ["mimalloc", "system"])
    assert csv_memory_pool().backend_name == "system"
    raw = read_csv_table(path, table="participants", text_columns={"participant_id"})
    assert raw.frame["site"].tolist() == ["Zaandijk", "Göteborg"]
