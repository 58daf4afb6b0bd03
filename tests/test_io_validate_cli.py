"""`cdanalytics validate` on a corpus of bad exports: message and exit code for each.

The corpus is generated from the valid fixture (tests/_io_exports.py), one
defect per export, so each case reads as "this defect gives this message".
"""

from pathlib import Path

import pandas as pd
import pytest
from _io_exports import tables, write_csv_export

from cdanalytics.cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE, main
from cdanalytics.cli.validate import PROBLEMS_FILE


def _modified(table, row, column, value):
    def build(folder):
        frames = tables()
        frames[table].loc[row, column] = value
        return write_csv_export(folder, frames)

    return build


def _utf16(folder):
    write_csv_export(folder)
    path = folder / "participants.csv"
    path.write_text(path.read_text(encoding="utf-8"), encoding="utf-16")
    return folder


def _cp1252(folder):
    frames = tables()
    frames["participants"].loc[1, "exit_reason"] = "verhuisd naar België"
    return write_csv_export(folder, frames, encoding="cp1252")


def _semicolons_and_decimal_commas(folder):
    frames = tables()
    frames["measures"]["score"] = frames["measures"]["score"].str.replace(".", ",")
    return write_csv_export(folder, frames, sep=";")


def _day_first_dates(folder):
    frames = tables()
    for name, frame in frames.items():
        for column in frame.columns:
            if column.endswith(("_date", "_on")):
                dates = pd.to_datetime(frame[column], format="%Y-%m-%d")
                frame[column] = dates.dt.strftime("%d/%m/%Y").fillna("")
        frames[name] = frame
    return write_csv_export(folder, frames)


def _duplicate_participant(folder):
    frames = tables()
    p = frames["participants"]
    frames["participants"] = pd.concat([p, p.iloc[[2]]], ignore_index=True)
    return write_csv_export(folder, frames)


def _identifier_column(folder):
    frames = tables()
    frames["participants"]["contact"] = ["07700 900123"] * 6
    return write_csv_export(folder, frames)


def _missing_column(folder):
    frames = tables()
    frames["sessions"] = frames["sessions"].drop(columns="attendance")
    return write_csv_export(folder, frames)


#: name: (build the export, exit code, text expected in the output, rule in the problem CSV)
CORPUS = {
    "wrong_encoding": (_utf16, EXIT_INVALID, "saved as UTF-16", None),
    "windows_1252": (_cp1252, EXIT_OK, "encoding cp1252", None),
    "semicolons_decimal_commas": (
        _semicolons_and_decimal_commas,
        EXIT_OK,
        "decimal commas read as decimal points",
        None,
    ),
    "day_first_dates": (_day_first_dates, EXIT_OK, "day-first dates (DD-MM-YYYY)", None),
    "impossible_date": (
        _modified("participants", 0, "referral_date", "31/02/2024"),
        EXIT_INVALID,
        "referral_date must be a date",
        "type",
    ),
    "duplicate_keys": (
        _duplicate_participant,
        EXIT_INVALID,
        "2 rows share the same participant_id",
        "unique",
    ),
    "orphan_rows": (
        _modified("events", 1, "participant_id", "P999"),
        EXIT_INVALID,
        "participant_id matches no row of participants",
        "orphan",
    ),
    "end_before_start": (
        _modified("participants", 0, "end_date", "2024-02-01"),
        EXIT_INVALID,
        "end_date is before start_date (2024-02-05)",
        "date_order",
    ),
    "out_of_range_score": (
        _modified("measures", 1, "score", "48"),
        EXIT_INVALID,
        "score is outside the sdq total range 0 to 40",
        "score_range",
    ),
    "identifier_column": (
        _identifier_column,
        EXIT_INVALID,
        "column 'contact': looks like phone number",
        None,
    ),
    "missing_column": (
        _missing_column,
        EXIT_INVALID,
        "Required column attendance is missing from sessions.csv",
        "missing_column",
    ),
}


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_corpus_case_gives_its_message_and_exit_code(case, tmp_path, capsys):
    build, code, text, rule = CORPUS[case]
    folder = build(tmp_path / case)
    out = tmp_path / "out"
    assert main(["validate", str(folder), "--out", str(out)]) == code
    captured = capsys.readouterr()
    assert text in captured.out + captured.err
    if rule is None:
        assert not (out / PROBLEMS_FILE).exists() or code == EXIT_INVALID
    else:
        problems = pd.read_csv(out / PROBLEMS_FILE, dtype=str)
        assert rule in set(problems["rule"])


def test_identifier_values_never_reach_the_output(tmp_path, capsys):
    out = tmp_path / "out"
    main(["validate", str(_identifier_column(tmp_path / "x")), "--out", str(out)])
    captured = capsys.readouterr()
    assert "900123" not in captured.out + captured.err


def test_a_valid_export_passes_and_writes_no_problem_file(tmp_path, capsys):
    folder = write_csv_export(tmp_path / "ok")
    assert main(["validate", str(folder), "--out", str(tmp_path / "out")]) == EXIT_OK
    assert "no problems" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_quarantine_goes_on_and_writes_the_rows_set_aside(tmp_path, capsys):
    folder = _modified("events", 1, "participant_id", "P999")(tmp_path / "export")
    out = tmp_path / "out"
    assert main(["validate", str(folder), "--quarantine", "--out", str(out)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "Counts reconcile: rows read = accepted + quarantined in every table." in text
    quarantined = pd.read_csv(out / "quarantine_events.csv", dtype=str)
    assert quarantined["source_row"].tolist() == ["3"]
    assert quarantined["quarantine_reason"].iloc[0].startswith("orphan")
    assert not (out / "quarantine_sessions.csv").exists()


def test_strict_failure_says_how_to_go_on(tmp_path, capsys):
    folder = _modified("events", 1, "participant_id", "P999")(tmp_path / "export")
    assert main(["validate", str(folder), "--out", str(tmp_path / "out")]) == EXIT_INVALID
    text = capsys.readouterr().out
    assert "to quarantine" in text
    assert "rerun with --quarantine" in text


def test_the_dutch_export_with_its_mapping(tmp_path, capsys):
    from _io_exports import dutch_export

    mapping = Path(__file__).parents[1] / "data" / "mappings" / "dutch_example.yaml"
    folder = dutch_export(tmp_path / "nl")
    assert main(["validate", str(folder), "--mapping", str(mapping)]) == EXIT_OK
    assert "deelnemers.csv: encoding cp1252, delimiter ';'" in capsys.readouterr().out


def test_usage_errors_exit_2(tmp_path, capsys):
    folder = write_csv_export(tmp_path / "ok")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tabels: {}\n", encoding="utf-8")
    assert main(["validate", str(folder), "--mapping", str(bad)]) == EXIT_USAGE
    assert "unknown key" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == EXIT_USAGE


def test_a_missing_export_exits_1(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "absent")]) == EXIT_INVALID
    assert "does not exist" in capsys.readouterr().err
