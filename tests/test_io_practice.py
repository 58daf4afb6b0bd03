"""The optional practice tables of an export: case_audits and family_outcomes.

As an outsider: write the fixture export with audits (tests/_audit_exports.py),
run the loader or `cdanalytics validate`, and read what comes back.
"""

from pathlib import Path

import pandas as pd
import pytest
import yaml
from _audit_exports import FAMILY, ITEMS, WIDE, long_audits, write_audit_export
from _io_exports import dutch_export, write_csv_export

from cdanalytics.cli import EXIT_INVALID, EXIT_OK, main
from cdanalytics.cli.validate import PROBLEMS_FILE
from cdanalytics.errors import IdentifierError
from cdanalytics.io import load_export


def test_audits_and_outcomes_load_typed_and_counted(tmp_path):
    export = load_export(write_audit_export(tmp_path / "x"))
    audits = export.case_audits
    assert export.has_audits
    assert len(audits) == len(long_audits())
    assert list(audits["item"].astype(str)) == list(long_audits()["item"])
    assert audits["score"].tolist() == [int(s) for s in long_audits()["score"]]
    assert audits["trained"].dtype == "boolean"
    assert pd.api.types.is_datetime64_any_dtype(audits["audit_date"])
    assert export.family_outcomes["removed_into_care"].tolist() == [False, False, True]
    counts = export.report.tables
    for table in ("case_audits", "family_outcomes"):
        row = counts.loc[table]
        assert row["rows_read"] == row["rows_accepted"] + row["rows_quarantined"]


def test_a_wide_audit_file_is_read_as_the_long_one(tmp_path):
    long = load_export(write_audit_export(tmp_path / "long")).case_audits
    wide = load_export(write_audit_export(tmp_path / "wide", WIDE.copy()))
    pd.testing.assert_frame_equal(wide.case_audits, long)
    assert any("read as a wide audit table" in note for note in wide.report.notes)


def test_a_wide_column_that_is_no_item_is_kept_and_said_so(tmp_path):
    wide = WIDE.assign(cc9_made_up=["1", "2", "0", "1"])
    export = load_export(write_audit_export(tmp_path / "x", wide))
    assert set(export.case_audits["item"].astype(str)) == set(ITEMS)
    assert export.case_audits["cc9_made_up"].notna().all()
    assert any("cc9_made_up are not items" in note for note in export.report.notes)


def test_a_wide_file_problem_names_the_wide_row(tmp_path):
    wide = WIDE.copy()
    wide.loc[2, ITEMS[0]] = "7"  # the third data row: line 4 of the file
    export = load_export(write_audit_export(tmp_path / "x", wide), quarantine=True)
    problem = export.report.problems.query("table == 'case_audits'").iloc[0]
    assert (problem["file"], problem["row"], problem["column"], problem["rule"]) == (
        "case_audits.csv",
        4,
        "score",
        "score_range",
    )


def test_an_export_without_practice_tables_loads_as_before(tmp_path):
    export = load_export(write_csv_export(tmp_path / "x"))
    assert not export.has_audits
    assert list(export.report.tables.index) == ["participants", "sessions", "measures", "events"]
    assert export.case_audits.empty and "item" in export.case_audits.columns
    assert not any("case_audits" in n or "family" in n for n in export.report.notes)


def test_quarantine_sets_aside_only_the_bad_reading(tmp_path):
    audits = long_audits()
    audits.loc[0, "score"] = "5"
    export = load_export(write_audit_export(tmp_path / "x", audits), quarantine=True)
    row = export.report.tables.loc["case_audits"]
    assert (row["rows_read"], row["rows_accepted"], row["rows_quarantined"]) == (
        len(audits),
        len(audits) - 1,
        1,
    )
    assert export.quarantine["case_audits"]["source_row"].tolist() == [2]


def _audits_with(row, column, value):
    def build(folder):
        audits = long_audits()
        audits.loc[row, column] = value
        return write_audit_export(folder, audits)

    return build


def _orphan_outcome(folder):
    family = FAMILY.copy()
    family.loc[1, "case_id"] = "C99"
    return write_audit_export(folder, family=family)


#: name: (build, exit code, text in the output, rule in the problem CSV, planted value)
CORPUS = {
    "unknown_item": (
        _audits_with(1, "item", "cc9_made_up"),
        EXIT_INVALID,
        "item is not an item of any audit tool",
        "item",
        None,
    ),
    "score_out_of_scale": (
        _audits_with(0, "score", "3"),
        EXIT_INVALID,
        "score is not on the scale of item cc1_coercive_control (scores 0, 1, 2)",
        "score_range",
        None,
    ),
    "reader_surname_initial": (
        _audits_with(4, "reader_id", "Jansen, P."),
        EXIT_INVALID,
        "column 'reader_id': looks like",
        None,
        "Jansen",
    ),
    "reader_full_name": (
        _audits_with(4, "reader_id", "Pieter Jansen"),
        EXIT_INVALID,
        "column 'reader_id': looks like",
        None,
        "Jansen",
    ),
    "audit_after_extract": (
        _audits_with(6, "audit_date", "2025-07-15"),
        EXIT_INVALID,
        "audit_date is after the extract date 2025-06-30",
        "after_extract",
        None,
    ),
    "orphan_family_outcome": (
        _orphan_outcome,
        EXIT_INVALID,
        "case_id matches no row of case_audits",
        "orphan",
        None,
    ),
    "valid": (write_audit_export, EXIT_OK, "", None, None),
}


def _everything_written(folder: Path) -> str:
    return "".join(p.read_text("utf-8", errors="replace") for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_bad_practice_export_gives_its_rule_and_exit_code(case, tmp_path, capsys):
    build, code, text, rule, planted = CORPUS[case]
    folder = build(tmp_path / case)
    out = tmp_path / "out"
    assert main(["validate", str(folder), "--out", str(out)]) == code
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert text in printed
    if rule is not None:
        problems = pd.read_csv(out / PROBLEMS_FILE, dtype=str)
        assert rule in set(problems.query("table in ['case_audits', 'family_outcomes']")["rule"])
    if planted is not None:
        assert planted not in printed
        assert not out.exists() or planted not in _everything_written(out)


@pytest.mark.parametrize("name", ["Jansen, P.", "Pieter Jansen", "Jan de Vries", "j. smith"])
def test_a_reader_name_is_refused_and_never_shown(name, tmp_path):
    audits = long_audits()
    audits.loc[3, "reader_id"] = name
    with pytest.raises(IdentifierError) as caught:
        load_export(write_audit_export(tmp_path / "x", audits))
    assert name not in str(caught.value)
    assert "reader_id" in str(caught.value)


@pytest.mark.parametrize("code", ["R017", "a3f9c2e1", "READER-12", "R_003"])
def test_reader_codes_are_accepted(code, tmp_path):
    audits = long_audits()
    audits["reader_id"] = audits["reader_id"].where(audits.index != 3, code)
    export = load_export(write_audit_export(tmp_path / "x", audits))
    assert code in set(export.case_audits["reader_id"])


def test_a_dutch_export_with_audits_reads_with_the_example_mapping(tmp_path):
    """Dutch file, column and value names, day-first dates, ``;`` and Windows-1252."""
    mapping_file = Path(__file__).parents[1] / "data/mappings/dutch_example.yaml"
    spec = yaml.safe_load(mapping_file.read_text("utf-8"))["tables"]
    folder = dutch_export(tmp_path / "nl")
    for table, frame in (("case_audits", long_audits()), ("family_outcomes", FAMILY.copy())):
        out = frame.replace({"baseline": "nulmeting", "follow_up": "vervolgmeting"})
        out = out.replace({"true": "ja", "false": "nee"})
        for column in out.columns:
            if column.endswith("_date"):
                dates = pd.to_datetime(out[column], format="%Y-%m-%d")
                out[column] = dates.dt.strftime("%d-%m-%Y").fillna("")
        out = out.rename(columns={v: k for k, v in spec[table]["columns"].items()})
        out.to_csv(folder / f"{spec[table]['file']}.csv", sep=";", index=False, encoding="cp1252")
    dutch = load_export(folder, mapping=mapping_file)
    english = load_export(write_audit_export(tmp_path / "en"))
    for table in ("case_audits", "family_outcomes"):
        pd.testing.assert_frame_equal(_ns(dutch.table(table)), _ns(english.table(table)))


def _ns(frame):
    """Dates in one resolution (a CSV reader picks s or ms by the file), for comparison."""
    dates = frame.select_dtypes("datetime").columns
    return frame.astype(dict.fromkeys(dates, "datetime64[ns]"))
