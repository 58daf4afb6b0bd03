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


# -- bounded problem lists -------------------------------------------------------------------

N_BAD = 200_000


def _all_bad_sessions(folder, n=N_BAD):
    """Sessions of which every row breaks three rules: orphan, type and allowed."""
    frames = tables()
    ids = pd.Series(range(n)).map("X{:07d}".format)
    frames["sessions"] = pd.DataFrame(
        {
            "participant_id": ids,
            "session_type": "group",
            "session_number": "one",
            "session_date": "2024-03-01",
            "attendance": "maybe",
        }
    )
    return write_csv_export(folder, frames)


@pytest.fixture(scope="module")
def all_bad(tmp_path_factory):
    return _all_bad_sessions(tmp_path_factory.mktemp("bad") / "export")


def test_a_wholly_broken_table_gives_a_bounded_list_with_exact_counts(all_bad, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["validate", str(all_bad), "--out", str(out), "--quarantine"]) == EXIT_OK
    printed = capsys.readouterr().out
    problems = pd.read_csv(out / PROBLEMS_FILE, dtype=str, keep_default_na=False)
    listed = problems[problems["row"] != ""]
    assert listed.groupby("rule").size().to_dict() == {
        "allowed": 1000,
        "orphan": 1000,
        "type": 1000,
    }
    assert set(listed["file"]) == {"sessions.csv"}
    summary = problems[problems["row"] == ""].set_index("rule")
    assert sorted(summary.index) == ["allowed", "orphan", "type"]
    more = f"{N_BAD - 1000:,} more"
    for rule in ("allowed", "orphan", "type"):
        assert summary.loc[rule, "message"].startswith(f"{more} {rule} problem(s) in sessions")
        assert summary.loc[rule, "table"] == "sessions"
        assert summary.loc[rule, "value"] == ""
        assert f"{rule} in sessions: {more} (of {N_BAD:,})" in printed
    assert f"{3 * N_BAD:,} problem(s)" in printed
    quarantined = pd.read_csv(out / "quarantine_sessions.csv", dtype=str)
    assert len(quarantined) == N_BAD
    assert "Counts reconcile" in printed
    last = quarantined["quarantine_reason"].iloc[-1]
    assert sorted(last.split("; ")) == [
        "allowed (attendance, not listed)",
        "orphan (participant_id, not listed)",
        "type (session_number, not listed)",
    ]


def test_max_problems_sets_the_limit(all_bad, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["validate", str(all_bad), "--out", str(out), "--max-problems", "7"]) == 1
    problems = pd.read_csv(out / PROBLEMS_FILE, dtype=str, keep_default_na=False)
    assert len(problems) == 3 * 7 + 3
    assert f"{N_BAD - 7:,} more orphan problem(s)" in " ".join(problems["message"])
    with pytest.raises(SystemExit) as info:
        main(["validate", str(all_bad), "--max-problems", "0"])
    assert info.value.code == EXIT_USAGE


def test_the_api_counts_every_problem_and_lists_the_first(tmp_path):
    from cdanalytics.errors import ConfigError, ExportValidationError
    from cdanalytics.io import load_export

    folder = _all_bad_sessions(tmp_path / "e", n=2500)
    with pytest.raises(ExportValidationError) as info:
        load_export(folder, max_problems_per_rule=100)
    report = info.value.report
    assert report.n_problems == 3 * 2500
    assert len(report.problems) == 3 * 100
    assert report.omitted.set_index("rule")["omitted"].to_dict() == {
        "type": 2400,
        "allowed": 2400,
        "orphan": 2400,
    }
    assert report.counts_by_rule()["n_rows"].tolist() == [2500, 2500, 2500]
    assert "7,500 problem(s)" in str(info.value)
    export = load_export(folder, quarantine=True, max_problems_per_rule=None)
    assert len(export.report.problems) == 3 * 2500
    assert export.report.omitted.empty
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ConfigError, match="max_problems_per_rule"):
            load_export(folder, max_problems_per_rule=bad)


# -- an outsider: mapped paths stay inside the export ----------------------------------------


SECRET = "OUTSIDE-SENTINEL-7431"


@pytest.mark.parametrize(
    "mapping",
    [
        "tables:\n  participants:\n    file: ../outside/participants\n",
        "manifest:\n  file: ../outside/manifest.json\n",
        "tables:\n  sessions:\n    file: ../outside/sessions\n",
    ],
    ids=["participants", "manifest", "sessions"],
)
def test_validate_refuses_a_mapping_that_leads_outside_the_export(tmp_path, mapping):
    import os
    import subprocess
    import sys

    export = write_csv_export(tmp_path / "export")
    frames = tables()
    frames["participants"]["site"] = SECRET
    frames["sessions"]["attendance"] = SECRET
    outside = write_csv_export(tmp_path / "outside", frames, manifest={"extract_date": SECRET})
    (tmp_path / "map.yaml").write_text(mapping, encoding="utf-8")
    out = tmp_path / "out"
    before = {p: p.stat().st_mtime_ns for p in outside.iterdir()}
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-m", "cdanalytics.cli", "validate", str(export)]
    argv += ["--mapping", str(tmp_path / "map.yaml"), "--out", str(out)]
    run = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert run.returncode == EXIT_USAGE, run.stdout + run.stderr
    assert "outside the export folder" in run.stderr
    assert SECRET not in run.stdout + run.stderr
    assert not out.exists()
    assert {p: p.stat().st_mtime_ns for p in outside.iterdir()} == before
