"""Every validation rule on a small explicit export, and the validation report.

Each test changes one or two cells of the valid fixture (tests/_io_exports.py)
and checks the exact problem reported: table, source row (CSV header = line 1),
column, value, rule and the advice in the message.
"""

import numpy as np
import pandas as pd
import pytest
from _io_exports import tables, write_csv_export

from cdanalytics.errors import ExportError, ExportValidationError
from cdanalytics.io import load_export
from cdanalytics.io.validation import PROBLEM_COLUMNS, _duplicated


def problems(tmp_path, change):
    frames = tables()
    change(frames)
    with pytest.raises(ExportValidationError) as info:
        load_export(write_csv_export(tmp_path / "export", frames))
    return info.value.report.problems


def only(found):
    assert len(found) == 1, found.to_string()
    return found.iloc[0].to_dict()


def where(problem):
    return (problem["table"], problem["row"], problem["column"], problem["value"], problem["rule"])


def cell(table, row, column, value):
    def change(frames):
        frames[table].loc[row, column] = value

    return change


# -- per column -----------------------------------------------------------------------------


def test_an_unreadable_date_is_a_type_problem_not_also_an_empty_one(tmp_path):
    p = only(problems(tmp_path, cell("participants", 3, "referral_date", "2024-02-30")))
    assert where(p) == ("participants", 5, "referral_date", "2024-02-30", "type")
    assert "must be a date" in p["message"]


def test_a_fraction_in_an_integer_column_is_a_type_problem(tmp_path):
    p = only(problems(tmp_path, cell("sessions", 0, "session_number", "1.5")))
    assert where(p) == ("sessions", 2, "session_number", "1.5", "type")
    assert "whole number" in p["message"]


def test_an_empty_required_value(tmp_path):
    p = only(problems(tmp_path, cell("sessions", 1, "attendance", "")))
    assert where(p) == ("sessions", 3, "attendance", "", "not_null")
    assert "fill it in" in p["message"]


def test_a_value_outside_the_allowed_list(tmp_path):
    p = only(problems(tmp_path, cell("participants", 0, "exit_status", "finished")))
    assert where(p) == ("participants", 2, "exit_status", "finished", "allowed")
    assert "completed, dropped_out" in p["message"]
    assert "mapping file" in p["message"]


def test_a_programme_outside_the_registry(tmp_path):
    p = only(problems(tmp_path, cell("participants", 3, "programme", "duluth")))
    assert where(p) == ("participants", 5, "programme", "duluth", "allowed")
    assert "caring_dads" in p["message"]


def test_a_number_outside_its_fixed_range(tmp_path):
    p = only(problems(tmp_path, cell("participants", 2, "prior_offences", "-1")))
    assert where(p) == ("participants", 4, "prior_offences", "-1", "range")
    assert "between 0 and 500" in p["message"]


def test_a_required_column_missing_names_a_close_match(tmp_path):
    def change(frames):
        frames["participants"] = frames["participants"].rename(columns={"site": "Site"})

    p = only(problems(tmp_path, change))
    assert (p["table"], p["column"], p["rule"]) == ("participants", "site", "missing_column")
    assert pd.isna(p["row"])
    assert "'Site'" in p["message"]


# -- keys and conditional requirements ------------------------------------------------------


def test_every_row_of_a_duplicated_key_is_reported(tmp_path):
    def change(frames):
        s = frames["sessions"]
        frames["sessions"] = pd.concat([s, s.iloc[[0]]], ignore_index=True)

    found = problems(tmp_path, change)
    assert found["row"].tolist() == [2, 10]
    assert set(found["rule"]) == {"unique"}
    assert found["value"].iloc[0] == "P001 / group / 1"
    assert found["message"].iloc[0].startswith("2 rows share the same participant_id, ")


def test_a_duplicated_participant_id(tmp_path):
    found = problems(tmp_path, cell("participants", 5, "participant_id", "P005"))
    assert found[["row", "column", "value", "rule"]].to_numpy().tolist() == [
        [6, "participant_id", "P005", "unique"],
        [7, "participant_id", "P005", "unique"],
    ]


def test_referral_date_is_required_for_programme_rows(tmp_path):
    p = only(problems(tmp_path, cell("participants", 3, "referral_date", "")))
    assert where(p) == ("participants", 5, "referral_date", "", "required_when")
    assert "where group is programme" in p["message"]


def test_index_date_is_required_for_comparison_rows(tmp_path):
    p = only(problems(tmp_path, cell("participants", 4, "index_date", "")))
    assert where(p) == ("participants", 6, "index_date", "", "required_when")


# -- registry rules -------------------------------------------------------------------------


def test_a_scale_the_instrument_does_not_have(tmp_path):
    p = only(problems(tmp_path, cell("measures", 3, "scale", "physical")))
    assert where(p) == ("measures", 5, "scale", "physical", "scale")
    assert "physical_assault" in p["message"]


def test_a_score_outside_the_scale_range(tmp_path):
    p = only(problems(tmp_path, cell("measures", 0, "score", "41")))
    assert where(p) == ("measures", 2, "score", "41.0", "score_range")
    assert "sdq total range 0 to 40" in p["message"]


def test_a_score_below_a_scale_minimum(tmp_path):
    p = only(problems(tmp_path, cell("measures", 2, "score", "35")))
    assert "psi_sf total range 36 to 180" in p["message"]


def test_session_number_above_the_programme_count(tmp_path):
    p = only(problems(tmp_path, cell("sessions", 0, "session_number", "18")))
    assert where(p) == ("sessions", 2, "session_number", "18", "session_number")
    assert "above the 17 group sessions of programme caring_dads" in p["message"]


def test_review_sessions_are_limited_by_the_registry_review_count(tmp_path):
    def change(frames):
        frames["sessions"].loc[7, ["session_type", "session_date"]] = ["review", "2024-05-01"]

    p = only(problems(tmp_path, change))
    assert where(p) == ("sessions", 9, "session_number", "1", "session_number")
    assert "above the 0 review sessions of programme borg" in p["message"]


# -- across tables --------------------------------------------------------------------------


def test_a_child_row_of_an_unknown_participant(tmp_path):
    p = only(problems(tmp_path, cell("events", 1, "participant_id", "P999")))
    assert where(p) == ("events", 3, "participant_id", "P999", "orphan")
    assert "matches no row of participants" in p["message"]


def test_start_before_referral_and_end_before_start(tmp_path):
    def change(frames):
        frames["participants"].loc[0, "start_date"] = "2024-01-01"
        frames["participants"].loc[1, "end_date"] = "2024-02-01"

    found = problems(tmp_path, change)
    first, second = found[found["table"] == "participants"].to_dict("records")
    assert where(first) == ("participants", 2, "start_date", "2024-01-01", "date_order")
    assert "before referral_date (2024-01-10)" in first["message"]
    assert where(second) == ("participants", 3, "end_date", "2024-02-01", "date_order")
    assert "before start_date (2024-02-05)" in second["message"]


def test_a_session_after_the_end_of_the_episode(tmp_path):
    p = only(problems(tmp_path, cell("sessions", 5, "session_date", "2024-03-11")))
    assert where(p) == ("sessions", 7, "session_date", "2024-03-11", "session_outside_episode")
    assert "after the participant's end_date (2024-03-04)" in p["message"]


def test_review_sessions_may_follow_the_end_within_the_review_window(tmp_path):
    frames = tables()
    frames["sessions"].loc[3, "session_date"] = "2024-12-13"  # end 2024-05-27 + 200 days
    assert load_export(write_csv_export(tmp_path / "ok", frames)).report.ok
    p = only(problems(tmp_path, cell("sessions", 3, "session_date", "2024-12-14")))
    assert where(p) == ("sessions", 5, "session_date", "2024-12-14", "session_outside_episode")
    assert "(2024-05-27 + 200 days allowed for review sessions)" in p["message"]


def test_an_attended_session_before_the_start(tmp_path):
    p = only(problems(tmp_path, cell("sessions", 7, "session_date", "2024-03-20")))
    assert where(p) == ("sessions", 9, "session_date", "2024-03-20", "session_outside_episode")
    assert "before the participant's start_date (2024-04-02)" in p["message"]


def test_a_missed_session_before_the_start_is_allowed(tmp_path):
    frames = tables()
    frames["sessions"].loc[7, ["session_date", "attendance"]] = ["2024-03-20", "unexcused"]
    assert load_export(write_csv_export(tmp_path, frames)).report.ok


def test_a_session_before_the_referral(tmp_path):
    def change(frames):
        frames["sessions"].loc[7, ["session_date", "attendance"]] = ["2024-02-20", "unexcused"]

    p = only(problems(tmp_path, change))
    assert where(p) == ("sessions", 9, "session_date", "2024-02-20", "session_outside_episode")
    assert "before the participant's referral_date (2024-03-01)" in p["message"]


def test_an_attended_session_of_someone_who_never_started(tmp_path):
    def change(frames):
        frames["sessions"].loc[8] = ["P004", "individual", "1", "2024-07-01", "attended"]

    p = only(problems(tmp_path, change))
    assert where(p) == ("sessions", 10, "session_date", "2024-07-01", "session_outside_episode")
    assert "without start_date" in p["message"]


@pytest.mark.parametrize(
    ("table", "row", "column", "line"),
    [
        ("events", 1, "event_date", 3),
        ("measures", 1, "measured_on", 3),
        ("participants", 3, "referral_date", 5),
    ],
)
def test_nothing_is_dated_after_the_extract_date(tmp_path, table, row, column, line):
    p = only(problems(tmp_path, cell(table, row, column, "2025-07-01")))
    assert where(p) == (table, line, column, "2025-07-01", "after_extract")
    assert "after the extract date 2025-06-30" in p["message"]


def test_a_session_after_the_extract_date_of_an_ongoing_episode(tmp_path):
    p = only(problems(tmp_path, cell("sessions", 7, "session_date", "2025-07-01")))
    assert where(p) == ("sessions", 9, "session_date", "2025-07-01", "after_extract")


def test_proven_before_the_offence_and_after_the_extract(tmp_path):
    found = problems(tmp_path, cell("events", 0, "proven_date", "2024-07-31"))
    assert where(only(found)) == ("events", 2, "proven_date", "2024-07-31", "proven_before_event")
    found = problems(tmp_path, cell("events", 0, "proven_date", "2025-07-01"))
    assert where(only(found)) == ("events", 2, "proven_date", "2025-07-01", "after_extract")


# -- lazy: everything at once ------------------------------------------------------------------


def test_every_problem_in_every_table_is_found_in_one_run(tmp_path):
    def change(frames):
        cell("participants", 0, "exit_status", "finished")(frames)
        cell("sessions", 0, "session_number", "18")(frames)
        cell("measures", 0, "score", "41")(frames)
        cell("events", 1, "participant_id", "P999")(frames)

    found = problems(tmp_path, change)
    assert found["rule"].tolist() == ["allowed", "session_number", "score_range", "orphan"]
    assert list(found.columns) == list(PROBLEM_COLUMNS)


# -- the report -----------------------------------------------------------------------------


@pytest.fixture
def report(tmp_path):
    frames = tables()
    cell("measures", 0, "score", "41")(frames)
    cell("events", 1, "participant_id", "P999")(frames)
    return load_export(write_csv_export(tmp_path, frames), quarantine=True).report


def test_summary_reconciles_counts_and_groups_problems_by_rule(report):
    text = report.summary()
    assert "quarantine mode" in text
    assert "Counts reconcile: rows read = accepted + quarantined in every table." in text
    assert "score_range in measures.score: 1 (e.g. measures.csv row 2:" in text
    assert "orphan in events.participant_id: 1" in text
    assert "participants.csv: encoding utf-8, delimiter ','" in text


def test_problems_are_written_to_csv(report, tmp_path):
    written = pd.read_csv(report.to_csv(tmp_path / "p.csv"), dtype=str)
    assert list(written.columns) == list(PROBLEM_COLUMNS)
    assert written["rule"].tolist() == ["score_range", "orphan"]
    assert written["row"].tolist() == ["2", "3"]


def test_reconcile_raises_when_counts_do_not_add_up(report):
    report.reconcile()
    report.tables.loc["events", "rows_accepted"] += 1
    with pytest.raises(ExportError, match="events"):
        report.reconcile()


def test_duplicate_detection_with_empty_codes_and_huge_key_spaces():
    a = np.array([0, 1, 0, -1, -1])
    b = np.array([5, 5, 5, 2, 2])
    assert _duplicated([a, b]).tolist() == [True, False, True, False, False]
    huge = np.array([2**40, 2**40, 3])
    assert _duplicated([huge, huge, np.array([1, 1, 1])]).tolist() == [True, True, False]


def test_an_unknown_session_type_is_reported_once(tmp_path):
    p = only(problems(tmp_path, cell("sessions", 0, "session_type", "workshop")))
    assert where(p) == ("sessions", 2, "session_type", "workshop", "allowed")
