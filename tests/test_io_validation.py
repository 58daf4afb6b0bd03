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
from cdanalytics.io.rules_table import duplicated_keys as _duplicated
from cdanalytics.io.validation import PROBLEM_COLUMNS


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


def new_row(table, values):
    def change(frames):
        frames[table].loc[len(frames[table])] = values

    return change


def case(name, change, expected, *advice):
    """One corruption, the one problem it must give, and phrases of its message."""
    return pytest.param(change, expected, advice, id=name)


ONE_PROBLEM = [
    # -- per column --
    case(
        "an_unreadable_date_is_a_type_problem_not_also_an_empty_one",
        cell("participants", 3, "referral_date", "2024-02-30"),
        ("participants", 5, "referral_date", "2024-02-30", "type"),
        "must be a date",
    ),
    case(
        "a_fraction_in_an_integer_column_is_a_type_problem",
        cell("sessions", 0, "session_number", "1.5"),
        ("sessions", 2, "session_number", "1.5", "type"),
        "whole number",
    ),
    case(
        "an_empty_required_value",
        cell("sessions", 1, "attendance", ""),
        ("sessions", 3, "attendance", "", "not_null"),
        "fill it in",
    ),
    case(
        "a_value_outside_the_allowed_list",
        cell("participants", 0, "exit_status", "finished"),
        ("participants", 2, "exit_status", "finished", "allowed"),
        "completed, dropped_out",
        "mapping file",
    ),
    case(
        "an_unknown_session_type_is_reported_once",
        cell("sessions", 0, "session_type", "workshop"),
        ("sessions", 2, "session_type", "workshop", "allowed"),
    ),
    case(
        "a_programme_outside_the_registry",
        cell("participants", 3, "programme", "duluth"),
        ("participants", 5, "programme", "duluth", "allowed"),
        "caring_dads",
    ),
    case(
        "a_number_outside_its_fixed_range",
        cell("participants", 2, "prior_offences", "-1"),
        ("participants", 4, "prior_offences", "-1", "range"),
        "between 0 and 500",
    ),
    # -- conditional requirements --
    case(
        "referral_date_is_required_for_programme_rows",
        cell("participants", 3, "referral_date", ""),
        ("participants", 5, "referral_date", "", "required_when"),
        "where group is programme",
    ),
    case(
        "index_date_is_required_for_comparison_rows",
        cell("participants", 4, "index_date", ""),
        ("participants", 6, "index_date", "", "required_when"),
    ),
    # -- registry rules --
    case(
        "a_scale_the_instrument_does_not_have",
        cell("measures", 3, "scale", "physical"),
        ("measures", 5, "scale", "physical", "scale"),
        "physical_assault",
    ),
    case(
        "a_score_outside_the_scale_range",
        cell("measures", 0, "score", "41"),
        ("measures", 2, "score", "41.0", "score_range"),
        "sdq total range 0 to 40",
    ),
    case(
        "a_score_below_a_scale_minimum",
        cell("measures", 2, "score", "35"),
        ("measures", 4, "score", "35.0", "score_range"),
        "psi_sf total range 36 to 180",
    ),
    case(
        "session_number_above_the_programme_count",
        cell("sessions", 0, "session_number", "18"),
        ("sessions", 2, "session_number", "18", "session_number"),
        "above the 17 group sessions of programme caring_dads",
    ),
    case(
        "review_sessions_are_limited_by_the_registry_review_count",
        cell("sessions", 7, ["session_type", "session_date"], ["review", "2024-05-01"]),
        ("sessions", 9, "session_number", "1", "session_number"),
        "above the 0 review sessions of programme borg",
    ),
    # -- across tables --
    case(
        "a_child_row_of_an_unknown_participant",
        cell("events", 1, "participant_id", "P999"),
        ("events", 3, "participant_id", "P999", "orphan"),
        "matches no row of participants",
    ),
    case(
        "a_session_after_the_end_of_the_episode",
        cell("sessions", 5, "session_date", "2024-03-11"),
        ("sessions", 7, "session_date", "2024-03-11", "session_outside_episode"),
        "after the participant's end_date (2024-03-04)",
    ),
    case(
        "an_attended_session_before_the_start",
        cell("sessions", 7, "session_date", "2024-03-20"),
        ("sessions", 9, "session_date", "2024-03-20", "session_outside_episode"),
        "before the participant's start_date (2024-04-02)",
    ),
    case(
        "a_session_before_the_referral",
        cell("sessions", 7, ["session_date", "attendance"], ["2024-02-20", "unexcused"]),
        ("sessions", 9, "session_date", "2024-02-20", "session_outside_episode"),
        "before the participant's referral_date (2024-03-01)",
    ),
    case(
        "an_attended_session_of_someone_who_never_started",
        new_row("sessions", ["P004", "individual", "1", "2024-07-01", "attended"]),
        ("sessions", 10, "session_date", "2024-07-01", "session_outside_episode"),
        "without start_date",
    ),
    *(
        case(
            f"nothing_is_dated_after_the_extract_date_{table}",
            cell(table, row, column, "2025-07-01"),
            (table, line, column, "2025-07-01", "after_extract"),
            "after the extract date 2025-06-30",
        )
        for table, row, column, line in (
            ("events", 1, "event_date", 3),
            ("measures", 1, "measured_on", 3),
            ("participants", 3, "referral_date", 5),
        )
    ),
    case(
        "a_session_after_the_extract_date_of_an_ongoing_episode",
        cell("sessions", 7, "session_date", "2025-07-01"),
        ("sessions", 9, "session_date", "2025-07-01", "after_extract"),
    ),
    case(
        "proven_before_the_offence",
        cell("events", 0, "proven_date", "2024-07-31"),
        ("events", 2, "proven_date", "2024-07-31", "proven_before_event"),
    ),
    case(
        "an_unknown_seriousness_label",
        cell("events", 0, "seriousness", "zwaar"),
        ("events", 2, "seriousness", "zwaar", "allowed"),
        "general, serious, very_serious",
        "mapping file",
    ),
    case(
        "an_unknown_disposal",
        cell("events", 0, "disposal", "prison"),
        ("events", 2, "disposal", "prison", "allowed"),
        "custody, community_sentence, fine, caution, other",
    ),
    case(
        "a_disposal_on_an_offence_not_proven",
        cell("events", 1, "disposal", "custody"),
        ("events", 3, "disposal", "custody", "disposal_unproven"),
        "proven_date is empty",
    ),
    case(
        "proven_after_the_extract",
        cell("events", 0, "proven_date", "2025-07-01"),
        ("events", 2, "proven_date", "2025-07-01", "after_extract"),
    ),
]


@pytest.mark.parametrize(("change", "expected", "advice"), ONE_PROBLEM)
def test_one_problem_is_reported_at_its_place_with_advice(tmp_path, change, expected, advice):
    p = only(problems(tmp_path, change))
    assert where(p) == expected
    for phrase in advice:
        assert phrase in p["message"]


def test_a_required_column_missing_names_a_close_match(tmp_path):
    def change(frames):
        frames["participants"] = frames["participants"].rename(columns={"site": "Site"})

    p = only(problems(tmp_path, change))
    assert (p["table"], p["column"], p["rule"]) == ("participants", "site", "missing_column")
    assert pd.isna(p["row"])
    assert "'Site'" in p["message"]


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


def test_review_sessions_may_follow_the_end_within_the_review_window(tmp_path):
    frames = tables()
    frames["sessions"].loc[3, "session_date"] = "2024-12-13"  # end 2024-05-27 + 200 days
    assert load_export(write_csv_export(tmp_path / "ok", frames)).report.ok
    p = only(problems(tmp_path, cell("sessions", 3, "session_date", "2024-12-14")))
    assert where(p) == ("sessions", 5, "session_date", "2024-12-14", "session_outside_episode")
    assert "(2024-05-27 + 200 days allowed for review sessions)" in p["message"]


def test_seriousness_and_disposal_of_proven_offences_load_as_ordered_categories(tmp_path):
    frames = tables()
    frames["events"]["seriousness"] = ["very_serious", "general"]
    frames["events"]["disposal"] = ["custody", ""]
    events = load_export(write_csv_export(tmp_path, frames)).events
    assert events["seriousness"].tolist() == ["very_serious", "general"]
    assert events["seriousness"].cat.ordered
    assert list(events["seriousness"].cat.categories) == ["general", "serious", "very_serious"]
    assert events["disposal"].iloc[0] == "custody"
    assert pd.isna(events["disposal"].iloc[1])


def test_a_missed_session_before_the_start_is_allowed(tmp_path):
    frames = tables()
    frames["sessions"].loc[7, ["session_date", "attendance"]] = ["2024-03-20", "unexcused"]
    assert load_export(write_csv_export(tmp_path, frames)).report.ok


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


# -- no silent misreads ---------------------------------------------------------------------

EXCEL_ERROR_VALUES = ["#DIV/0!", "#VALUE!", "#REF!", "#N/A", "#NAME?", "#NUM!", "#NULL!"]


def misread(name, change, expected, *advice):
    """A value that used to be read as something else, and the problem it must give now.

    ``expected``: (table, file, row, column, value, rule).
    """
    return pytest.param(change, expected, advice, id=name)


MISREADS = [
    misread(
        "a_count_with_a_thousands_comma_is_not_read_as_1",
        cell("participants", 0, "prior_offences", "1,000"),
        ("participants", "participants.csv", 2, "prior_offences", "1,000", "thousands_separator"),
        "thousands separator",
        "number_format",
    ),
    misread(
        "a_count_with_a_thousands_point_is_not_read_as_1",
        cell("sessions", 2, "session_number", "1.000"),
        ("sessions", "sessions.csv", 4, "session_number", "1.000", "thousands_separator"),
        "number_format",
    ),
    misread(
        "a_count_with_several_groups",
        cell("participants", 1, "prior_offences", "1,234,567"),
        (
            "participants",
            "participants.csv",
            3,
            "prior_offences",
            "1,234,567",
            "thousands_separator",
        ),
    ),
    *[
        misread(
            f"excel_error_{value}_in_a_category_column",
            cell("participants", 2, "risk_level", value),
            ("participants", "participants.csv", 4, "risk_level", value, "excel_error"),
            "Excel error value",
        )
        for value in EXCEL_ERROR_VALUES
    ],
    misread(
        "excel_error_in_a_count_column",
        cell("sessions", 1, "session_number", "#VALUE!"),
        ("sessions", "sessions.csv", 3, "session_number", "#VALUE!", "excel_error"),
        "a formula failed",
    ),
    misread(
        "excel_error_in_a_date_column_is_not_an_empty_date",
        cell("measures", 0, "measured_on", "#REF!"),
        ("measures", "measures.csv", 2, "measured_on", "#REF!", "excel_error"),
    ),
    misread(
        "excel_error_in_an_identifier",
        cell("events", 0, "participant_id", "#N/A"),
        ("events", "events.csv", 2, "participant_id", "#N/A", "excel_error"),
    ),
    misread(
        "excel_error_in_an_extra_column",
        cell("participants", 0, "motivation", "#DIV/0!"),
        ("participants", "participants.csv", 2, "motivation", "#DIV/0!", "excel_error"),
    ),
    misread(
        "a_nul_byte_inside_a_value",
        cell("participants", 3, "site", "Le\x00eds"),
        ("participants", "participants.csv", 5, "site", "Le\\x00eds", "control_character"),
        "control character",
    ),
    misread(
        "an_escape_character_inside_a_label",
        cell("sessions", 0, "attendance", "attended\x1b"),
        ("sessions", "sessions.csv", 2, "attendance", "attended\\x1b", "control_character"),
    ),
    misread(
        "a_referral_in_1850",
        cell("participants", 3, "referral_date", "1850-06-01"),
        ("participants", "participants.csv", 5, "referral_date", "1850-06-01", "before_1900"),
        "before 1900-01-01",
    ),
    misread(
        "an_event_in_1899",
        cell("events", 1, "event_date", "31-12-1899"),
        ("events", "events.csv", 3, "event_date", "1899-12-31", "before_1900"),
    ),
]


@pytest.mark.parametrize(("change", "expected", "advice"), MISREADS)
def test_a_value_that_would_be_misread_is_one_problem_at_its_place(
    tmp_path, change, expected, advice
):
    p = only(problems(tmp_path, change))
    assert (p["table"], p["file"], p["row"], p["column"], p["value"], p["rule"]) == expected
    for phrase in advice:
        assert phrase in p["message"]


def test_tab_and_line_breaks_inside_a_value_are_not_control_characters(tmp_path):
    frames = tables()
    frames["participants"].loc[0, "site"] = "Leeds\tnorth\r\nside"
    assert load_export(write_csv_export(tmp_path / "x", frames)).report.ok


def test_plain_counts_and_whole_decimals_are_still_read(tmp_path):
    frames = tables()
    frames["participants"].loc[0, "prior_offences"] = "100"
    frames["participants"].loc[1, "prior_offences"] = "12,0"
    export = load_export(write_csv_export(tmp_path / "x", frames))
    assert export.participants["prior_offences"].tolist()[:2] == [100, 12]


def _pandera_rule(check: str) -> str:
    if check == "not_nullable":
        return "not_null"
    if check.startswith("isin"):
        return "allowed"
    if check.startswith(("greater_than", "less_than")):
        return "range"
    return "type"


@pytest.mark.parametrize("table", ["participants", "sessions", "measures", "events"])
def test_column_rules_find_exactly_the_rows_pandera_finds(tmp_path, table):
    """The loader evaluates the pandera schema's column rules as masks and
    does not run pandera a second time; pandera (a second library) must
    find the same (row, column, rule) on a table broken in every column."""
    import pandera.pandas as pa

    from cdanalytics.io.problems import ProblemLog, TableData
    from cdanalytics.io.rules_table import check_columns
    from cdanalytics.io.schema import pandera_schema, table_schema
    from cdanalytics.synth import write_synthetic_export

    folder = tmp_path / "export"
    write_synthetic_export(folder, n_participants=120, seed=4)
    export = load_export(folder)
    frame = export.table(table).copy()
    rng = np.random.default_rng(11)
    for col in table_schema(table).columns:
        values = frame[col.name].copy()
        rows = rng.choice(len(frame), size=3, replace=False)
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.cat.add_categories(["not_a_code"])
            values.iloc[rows[:2]] = "not_a_code"
        elif col.min is not None or col.max is not None:
            values.iloc[rows[0]] = (col.min if col.min is not None else 0) - 5
            values.iloc[rows[1]] = (col.max if col.max is not None else 0) + 5
        values.iloc[rows[2]] = None
        frame[col.name] = values
    registries = export.registries
    log = ProblemLog(None)
    data = TableData(table, frame, np.arange(len(frame)) + 2, f"{table}.csv")
    check_columns(
        data, programmes=registries.programmes, instruments=registries.instruments, log=log
    )
    found = log.frame()
    ours = set(zip(found["position"].astype(int), found["column"], found["rule"], strict=True))
    schema = pandera_schema(
        table,
        programmes=registries.programmes,
        instruments=registries.instruments,
        unique_key=False,
    )
    with pytest.raises(pa.errors.SchemaErrors) as info:
        schema.validate(frame, lazy=True)
    cases = info.value.failure_cases.dropna(subset=["column", "index"])
    theirs = {
        (int(index), column, _pandera_rule(str(check)))
        for index, column, check in zip(
            cases["index"], cases["column"], cases["check"], strict=True
        )
    }
    assert {rule for _, _, rule in ours} >= {"not_null", "allowed"}
    assert ours == theirs


def test_session_numbers_checked_block_by_block_find_the_same_rows(tmp_path, monkeypatch):
    # numbers above the programme's count in several places: block edges must
    # neither lose nor shift a row, nor its limit in the message
    import cdanalytics.io.rules_cross as rules_cross

    frames = tables()
    rows = [0, 2, 3, len(frames["sessions"]) - 1]
    for row in rows:
        frames["sessions"].loc[row, "session_number"] = "40"
    folder = write_csv_export(tmp_path / "export", frames)

    def found(block):
        monkeypatch.setattr(rules_cross, "_BLOCK", block)
        with pytest.raises(ExportValidationError) as info:
            load_export(folder)
        listed = info.value.report.problems
        return listed[listed["rule"] == "session_number"].reset_index(drop=True)

    whole = found(len(frames["sessions"]) + 1)  # the table in one block
    assert whole["row"].tolist() == [row + 2 for row in rows]
    for block in (1, 2, 3, 7):
        pd.testing.assert_frame_equal(found(block), whole)
