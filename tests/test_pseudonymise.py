"""Pseudonymisation: keyed HMAC-SHA256 pseudonyms, key handling, whole exports
and the ``cdanalytics pseudonymise`` command."""

import hashlib
import hmac
import json

import numpy as np
import pandas as pd
import pytest

import cdanalytics.cli as cli
from cdanalytics.errors import ConfigError, ExportError
from cdanalytics.io.export import TABLES
from cdanalytics.io.load import load_export
from cdanalytics.io.pseudonymise import (
    DEFAULT_KEY_ENV,
    _Pseudonyms,
    load_key,
    pseudonymise_export,
    pseudonymise_table,
)

KEY = b"test-key-0123456789-abcdef"
OTHER_KEY = b"another-key-9876543210-zyx"


def expected(raw: str, key: bytes = KEY, hex_chars: int = 20) -> str:
    """The pseudonym computed independently with hmac + hashlib."""
    return hmac.new(key, raw.encode("utf-8"), hashlib.sha256).hexdigest()[:hex_chars]


# --- load_key -------------------------------------------------------------------


def test_key_from_the_default_environment_variable(monkeypatch):
    monkeypatch.setenv(DEFAULT_KEY_ENV, KEY.decode())
    assert load_key() == KEY


def test_key_from_a_named_environment_variable(monkeypatch):
    monkeypatch.setenv("SITE_KEY", KEY.decode())
    assert load_key(env_var="SITE_KEY") == KEY


def test_key_file_wins_and_its_trailing_newline_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv(DEFAULT_KEY_ENV, OTHER_KEY.decode())
    key_file = tmp_path / "key.txt"
    key_file.write_bytes(KEY + b"\n")
    assert load_key(key_file=key_file) == KEY


def test_missing_key_names_the_variable_and_the_option(monkeypatch):
    monkeypatch.delenv(DEFAULT_KEY_ENV, raising=False)
    with pytest.raises(ConfigError, match=f"{DEFAULT_KEY_ENV}.*--key-file"):
        load_key()


def test_missing_key_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the key file"):
        load_key(key_file=tmp_path / "absent.key")


def test_short_key_is_refused_without_showing_it(tmp_path):
    key_file = tmp_path / "key.txt"
    key_file.write_bytes(b"tooshort-secret")
    with pytest.raises(ConfigError, match="15 bytes; at least 16") as caught:
        load_key(key_file=key_file)
    assert "tooshort-secret" not in str(caught.value)


# --- pseudonymise_table ---------------------------------------------------------------


def participants() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "participant_id": ["P001", "P002", " P001 ", None, ""],
            "risk_level": ["low", "high", "low", "medium", "high"],
        }
    )


def test_pseudonyms_are_hmac_sha256_of_the_id_truncated_to_20_hex_characters():
    out = pseudonymise_table(participants(), "participant_id", KEY)
    assert out["participant_id"].tolist()[:3] == [
        expected("P001"),
        expected("P002"),
        expected("P001"),
    ]


def test_missing_and_empty_ids_stay_missing_and_other_columns_are_unchanged():
    raw = participants()
    out = pseudonymise_table(raw, "participant_id", KEY)
    assert out["participant_id"].isna().tolist() == [False, False, False, True, True]
    pd.testing.assert_series_equal(out["risk_level"], raw["risk_level"])
    assert raw["participant_id"].iloc[0] == "P001"  # the input is not modified


def test_whole_number_ids_read_as_numbers_match_the_same_ids_read_as_text():
    numbers = pd.DataFrame({"participant_id": [1001.0, np.nan, 1002.0]})
    text = pd.DataFrame({"participant_id": ["1001", "", "1002"]})
    a = pseudonymise_table(numbers, "participant_id", KEY)["participant_id"]
    b = pseudonymise_table(text, "participant_id", KEY)["participant_id"]
    pd.testing.assert_series_equal(a, b)
    assert a.iloc[0] == expected("1001")


def test_pseudonym_length_can_be_raised_but_not_below_20():
    out = pseudonymise_table(participants(), "participant_id", KEY, hex_chars=32)
    assert out["participant_id"].iloc[0] == expected("P001", hex_chars=32)
    with pytest.raises(ConfigError, match="between 20 and 64"):
        pseudonymise_table(participants(), "participant_id", KEY, hex_chars=16)


def test_same_key_same_pseudonym_across_tables_and_different_key_different():
    sessions = pd.DataFrame(
        {"participant_id": ["P002", "P001", "P001"], "session_number": [1, 1, 2]}
    )
    people = pseudonymise_table(participants(), "participant_id", KEY)
    visits = pseudonymise_table(sessions, "participant_id", KEY)
    assert set(visits["participant_id"]) == set(people["participant_id"].dropna())
    other = pseudonymise_table(sessions, "participant_id", OTHER_KEY)
    assert not set(other["participant_id"]) & set(visits["participant_id"])


def test_missing_column_and_short_key_are_config_errors():
    with pytest.raises(ConfigError, match="no column 'client_id'"):
        pseudonymise_table(participants(), "client_id", KEY)
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        pseudonymise_table(participants(), "participant_id", b"short")


def test_a_pseudonym_collision_is_refused_not_silently_merged():
    ids = pd.Series([f"P{i:03d}" for i in range(100)])  # 100 ids, 16 possible 1-char pseudonyms
    with pytest.raises(ConfigError, match="same 1-character pseudonym"):
        _Pseudonyms(KEY, hex_chars=1)(ids)


# --- pseudonymise_export -------------------------------------------------------------------

MANIFEST = {"extract_date": "2025-03-31", "schema_version": 1, "source_system": "test"}


def write_csv_export(folder):
    folder.mkdir()
    (folder / "participants.csv").write_bytes(
        "deelnemer_id;site;score\r\nD1;Den Haag;12,5\r\nD2;Tilburg;\r\n\r\nD3;Liège;3,0\r\n".encode(
            "cp1252"
        )
    )
    (folder / "sessions.csv").write_bytes(
        b"\xef\xbb\xbfdeelnemer_id,session_date\nD1,31-12-2024\nD3,01-01-2025\nD1,02-01-2025\n"
    )
    (folder / "lookup.csv").write_text("code,label\nA,alpha\n")
    (folder / "manifest.json").write_text(json.dumps(MANIFEST))
    (folder / "notes.txt").write_text("not part of the export")
    return folder


def test_a_csv_export_is_pseudonymised_consistently_and_otherwise_unchanged(tmp_path):
    src = write_csv_export(tmp_path / "raw")
    out = tmp_path / "pseudo"
    summary = pseudonymise_export(src, out, column="deelnemer_id", key=KEY)

    people = (out / "participants.csv").read_bytes().decode("cp1252")
    assert people == (
        f"deelnemer_id;site;score\r\n{expected('D1')};Den Haag;12,5\r\n{expected('D2')};Tilburg;"
        f"\r\n;;\r\n{expected('D3')};Liège;3,0\r\n"
    )
    sessions = (out / "sessions.csv").read_bytes()
    assert (
        sessions
        == (
            f"\ufeffdeelnemer_id,session_date\n{expected('D1')},31-12-2024\n"
            f"{expected('D3')},01-01-2025\n{expected('D1')},02-01-2025\n"
        ).encode()
    )
    assert (out / "lookup.csv").read_bytes() == (src / "lookup.csv").read_bytes()
    assert (out / "manifest.json").read_bytes() == (src / "manifest.json").read_bytes()
    assert not (out / "notes.txt").exists()
    assert summary.set_index("file").loc["participants.csv", ["rows", "n_ids"]].tolist() == [4, 3]
    assert summary.set_index("file")["pseudonymised"].to_dict() == {
        "lookup.csv": False,
        "participants.csv": True,
        "sessions.csv": True,
        "manifest.json": False,
    }


def test_a_pseudonymised_synthetic_export_still_loads_with_every_row_and_link(tmp_path):
    from cdanalytics.synth import write_synthetic_export

    write_synthetic_export(tmp_path / "raw", n_participants=300, seed=5)
    pseudonymise_export(tmp_path / "raw", tmp_path / "pseudo", key=KEY)
    before, after = load_export(tmp_path / "raw"), load_export(tmp_path / "pseudo")
    for table in TABLES:
        raw_ids = before.table(table)["participant_id"]
        assert after.table(table)["participant_id"].tolist() == [expected(i) for i in raw_ids]
        rest = before.table(table).columns.drop("participant_id")
        pd.testing.assert_frame_equal(after.table(table)[rest], before.table(table)[rest])
    assert after.manifest == before.manifest


def test_the_key_is_never_written_to_the_output(tmp_path):
    src = write_csv_export(tmp_path / "raw")
    pseudonymise_export(src, tmp_path / "pseudo", column="deelnemer_id", key=KEY)
    for path in (tmp_path / "pseudo").iterdir():
        content = path.read_bytes()
        assert KEY not in content and KEY.hex().encode() not in content
        assert b"D1" not in content  # nor a raw id


def test_a_parquet_export_keeps_column_types(tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    pd.DataFrame(
        {"participant_id": [101, 102], "start_date": pd.to_datetime(["2024-01-02", "2024-02-03"])}
    ).to_parquet(src / "participants.parquet")
    pd.DataFrame({"participant_id": [102, 101, 102], "score": [1.5, 2.5, 3.5]}).to_parquet(
        src / "measures.parquet"
    )
    pseudonymise_export(src, tmp_path / "out", key=KEY)
    people = pd.read_parquet(tmp_path / "out" / "participants.parquet")
    measures = pd.read_parquet(tmp_path / "out" / "measures.parquet")
    assert people["participant_id"].tolist() == [expected("101"), expected("102")]
    assert measures["participant_id"].tolist() == [expected(i) for i in ["102", "101", "102"]]
    assert people["start_date"].dtype.kind == "M" and measures["score"].tolist() == [1.5, 2.5, 3.5]


def test_an_xlsx_workbook_is_pseudonymised_sheet_by_sheet(tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    with pd.ExcelWriter(src / "export.xlsx") as writer:
        pd.DataFrame({"participant_id": ["A1", "A2"], "site": ["Leeds", "York"]}).to_excel(
            writer, sheet_name="participants", index=False
        )
        pd.DataFrame({"participant_id": ["A2"], "score": [4.0]}).to_excel(
            writer, sheet_name="measures", index=False
        )
    pseudonymise_export(src, tmp_path / "out", key=KEY)
    sheets = pd.read_excel(tmp_path / "out" / "export.xlsx", sheet_name=None, engine="calamine")
    assert sheets["participants"]["participant_id"].tolist() == [expected("A1"), expected("A2")]
    assert sheets["measures"]["participant_id"].tolist() == [expected("A2")]
    assert sheets["participants"]["site"].tolist() == ["Leeds", "York"]


def test_a_tab_separated_table_is_pseudonymised_not_copied_with_its_raw_ids(tmp_path):
    src = write_csv_export(tmp_path / "raw")
    (src / "events.csv").write_text("deelnemer_id\tevent_type\nD2\tdv_offence\n")
    pseudonymise_export(src, tmp_path / "out", column="deelnemer_id", key=KEY)
    events = (tmp_path / "out" / "events.csv").read_text()
    assert events == f"deelnemer_id\tevent_type\n{expected('D2')}\tdv_offence\n"


def test_upper_case_file_suffixes_are_read_by_their_format(tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    (src / "PARTICIPANTS.CSV").write_text("participant_id;site\nA1;Leeds\n")
    pseudonymise_export(src, tmp_path / "out", key=KEY)
    assert (
        tmp_path / "out" / "PARTICIPANTS.CSV"
    ).read_text() == f"participant_id;site\n{expected('A1')};Leeds\n"


def test_export_errors(tmp_path):
    src = write_csv_export(tmp_path / "raw")
    with pytest.raises(ExportError, match="not found"):
        pseudonymise_export(tmp_path / "absent", tmp_path / "o1", key=KEY)
    with pytest.raises(ConfigError, match=r"no table .* has a column 'participant_id'"):
        pseudonymise_export(src, tmp_path / "o2", key=KEY)
    with pytest.raises(ConfigError, match="must differ"):
        pseudonymise_export(src, src, column="deelnemer_id", key=KEY)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "old.csv").write_text("x\n1\n")
    with pytest.raises(ConfigError, match="not empty"):
        pseudonymise_export(src, busy, column="deelnemer_id", key=KEY)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ExportError, match="no CSV, Parquet or xlsx"):
        pseudonymise_export(empty, tmp_path / "o3", key=KEY)


# --- command line ----------------------------------------------------------------------------


@pytest.fixture
def main(monkeypatch):
    """``cdanalytics`` with only this subcommand registered."""
    monkeypatch.setattr(cli, "_SUBCOMMANDS", ("pseudonymise",))
    return cli.main


def test_cli_pseudonymises_with_the_key_from_the_environment(main, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(DEFAULT_KEY_ENV, KEY.decode())
    src = write_csv_export(tmp_path / "raw")
    code = main(
        ["pseudonymise", str(src), "--out", str(tmp_path / "out"), "--column", "deelnemer_id"]
    )
    assert code == 0
    assert expected("D2") in (tmp_path / "out" / "participants.csv").read_bytes().decode("cp1252")
    printed = capsys.readouterr()
    assert "participants.csv, sessions.csv" in printed.out
    assert KEY.decode() not in printed.out + printed.err


def test_cli_reads_a_key_file(main, tmp_path, monkeypatch):
    monkeypatch.delenv(DEFAULT_KEY_ENV, raising=False)
    key_file = tmp_path / "site.key"
    key_file.write_bytes(OTHER_KEY + b"\n")
    src = write_csv_export(tmp_path / "raw")
    args = ["pseudonymise", str(src), "--out", str(tmp_path / "out"), "--column", "deelnemer_id"]
    assert main([*args, "--key-file", str(key_file)]) == 0
    sessions = (tmp_path / "out" / "sessions.csv").read_text(encoding="utf-8-sig")
    assert expected("D3", key=OTHER_KEY) in sessions


def test_cli_missing_key_exits_2(main, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(DEFAULT_KEY_ENV, raising=False)
    src = write_csv_export(tmp_path / "raw")
    code = main(
        ["pseudonymise", str(src), "--out", str(tmp_path / "out"), "--column", "deelnemer_id"]
    )
    assert code == 2
    assert DEFAULT_KEY_ENV in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_key_file_inside_the_export(main, tmp_path):
    src = write_csv_export(tmp_path / "raw")
    (src / "site.key").write_bytes(KEY)
    args = ["pseudonymise", str(src), "--out", str(tmp_path / "out"), "--column", "deelnemer_id"]
    assert main([*args, "--key-file", str(src / "site.key")]) == 2


def test_cli_missing_export_exits_1(main, tmp_path, monkeypatch):
    monkeypatch.setenv(DEFAULT_KEY_ENV, KEY.decode())
    assert main(["pseudonymise", str(tmp_path / "absent"), "--out", str(tmp_path / "out")]) == 1


def test_cli_help_explains_key_handling(main, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["pseudonymise", "--help"])
    assert caught.value.code == 0
    text = capsys.readouterr().out
    assert "HMAC-SHA256" in text and DEFAULT_KEY_ENV in text and "--key-file" in text
    assert "never written to the output" in text
