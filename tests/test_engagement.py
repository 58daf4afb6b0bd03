"""Engagement outcomes, checked against hand-counted fixtures and independent computations.

The hand fixture has three small programmes registered through overrides:

- ``mini``: 4 group sessions, completion = 3 or more attended including the
  last, expected duration 28 days + 7 days grace;
- ``rollmini``: the same but rolling entry and the last session not required;
- ``mixmini``: 1 individual + 3 group sessions (mixed), 3 including the last.

Sessions are weekly from the start unless listed explicitly. Extract date
2024-06-30. Every expected figure below was counted by hand from the fixture.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from lifelines import KaplanMeierFitter
from scipy.stats import chi2, norm

from cdanalytics import engagement as eng
from cdanalytics.errors import (
    AnalysisError,
    ConfigError,
    ConvergenceError,
    DataQualityWarning,
    InsufficientDataError,
    StatisticalWarning,
)
from cdanalytics.io.export import Export, Manifest

EXTRACT = pd.Timestamp("2024-06-30")
RULE = {"min_core_share": 0.75, "require_last_core": True}
PROGRAMMES = {
    "mini": {
        "name": {"en": "Mini", "nl": "Mini"},
        "core": {"group": 4},
        "expected_duration_days": 28,
        "completion_grace_days": 7,
        "completion_rule": RULE,
    },
    "rollmini": {
        "name": {"en": "Rolling mini", "nl": "Rolling mini"},
        "core": {"group": 4},
        "expected_duration_days": 28,
        "completion_grace_days": 7,
        "completion_rule": {"min_core_share": 0.75, "require_last_core": False},
        "rolling_entry": True,
    },
    "mixmini": {
        "name": {"en": "Mixed mini", "nl": "Mixed mini"},
        "core": {"individual": 1, "group": 3},
        "expected_duration_days": 28,
        "completion_grace_days": 7,
        "completion_rule": RULE,
    },
}
PROGRAMME_CODES = ["mini", "mixmini", "rollmini"]


def table(text: str) -> list[tuple]:
    """Rows of a whitespace-aligned table: ``-`` is missing, ``y`` / ``n`` are True / False."""
    values = {"-": None, "y": True, "n": False}
    return [tuple(values.get(v, v) for v in line.split()) for line in text.strip().splitlines()]


# participant_id, programme, group, referral, assessed, eligible, exclusion_reason,
# start, end, exit_status, exit_reason, weekly attendance from start (A/E/U)
PEOPLE = table(
    """
P01 mini     programme  2024-01-05 y y -            2024-01-15 2024-02-05 completed   -        AAUA
P02 mini     programme  2023-12-18 y y -            2024-01-15 2024-01-29 dropped_out -        AEU
P03 mini     programme  2024-01-08 y y -            2024-01-15 2024-02-05 completed   -        AAAU
P04 mini     programme  2024-01-01 y y -            2024-01-15 -          -           -        AAAA
P05 mini     programme  2023-12-25 y y -            2024-01-15 -          -           -        AUUU
P06 mini     programme  2024-06-01 y y -            2024-06-20 -          -           -        AU
P07 mini     programme  2024-05-30 y y -            2024-06-13 2024-06-13 dropped_out -        A
P08 mini     programme  2024-01-01 y n denies_abuse -          -          -           -        -
P09 mini     programme  2024-01-01 n - -            -          -          not_started -        -
P10 mini     programme  2024-06-25 - - -            -          -          ongoing     -        -
P11 mini     programme  2024-01-01 y y -            -          -          not_started declined -
P12 mini     programme  2023-12-11 y y -            2024-01-15 2024-01-22 transferred moved    AA
P13 mini     comparison -          - - -            -          -          -           -        -
P14 mini     programme  2023-12-04 y y -            2024-01-15 2024-02-05 dropped_out -        AAAA
P15 mini     programme  2024-01-12 y y -            2024-01-15 -          ongoing     -        AUUU
P16 mini     programme  2024-01-01 - - -            -          -          not_started -        AU
R1  rollmini programme  2024-02-26 y y -            2024-03-04 -          -           -        -
R2  rollmini programme  2024-05-20 y y -            2024-06-01 -          -           -        -
R3  rollmini programme  2024-01-01 y y -            2024-01-08 -          -           -        -
M1  mixmini  programme  2024-01-20 y y -            2024-02-01 -          -           -        -
M2  mixmini  programme  2024-01-20 y y -            2024-02-01 -          -           -        -
"""
)
P16_FIRST_SESSION = "2024-01-15"  # P16 has no start_date: sessions from here
# Rolling entry: people join a running group, so their group session numbers wrap.
# Mixed: individual and group sessions interleave; M1 has two sessions on 2024-02-15.
EXPLICIT_SESSIONS = [
    ("R1", "group", 3, "2024-03-04", "attended"),
    ("R1", "group", 4, "2024-03-11", "unexcused"),
    ("R1", "group", 1, "2024-03-18", "attended"),
    ("R1", "group", 2, "2024-03-25", "attended"),
    ("R2", "group", 4, "2024-06-01", "attended"),
    ("R2", "group", 1, "2024-06-08", "attended"),
    ("R3", "group", 2, "2024-01-08", "attended"),
    ("R3", "group", 3, "2024-01-15", "attended"),
    ("R3", "group", 4, "2024-01-22", "unexcused"),
    ("R3", "group", 1, "2024-01-29", "unexcused"),
    ("M1", "group", 1, "2024-02-01", "attended"),
    ("M1", "group", 2, "2024-02-08", "attended"),
    ("M1", "individual", 1, "2024-02-15", "unexcused"),
    ("M1", "group", 3, "2024-02-15", "attended"),
    ("M1", "review", 1, "2024-05-01", "attended"),
    ("M2", "group", 1, "2024-02-01", "attended"),
    ("M2", "individual", 1, "2024-02-08", "attended"),
    ("M2", "group", 2, "2024-02-15", "attended"),
    ("M2", "group", 3, "2024-02-22", "unexcused"),
]
ATTENDANCE = {"A": "attended", "E": "excused", "U": "unexcused"}


def make_export(participants: pd.DataFrame, sessions: pd.DataFrame, extract=EXTRACT) -> Export:
    """An in-memory export with the loader's dtypes."""
    people = participants.copy()
    for column in ("referral_date", "start_date", "end_date"):
        if column in people:
            people[column] = pd.to_datetime(people[column])
    for column in ("assessed", "eligible"):
        if column in people:
            people[column] = people[column].astype("boolean")
    for column in ("programme", "group", "site", "exit_status", "exit_reason", "exclusion_reason"):
        if column in people:
            people[column] = people[column].astype("category")
    sessions = sessions.copy()
    sessions["session_date"] = pd.to_datetime(sessions["session_date"])
    sessions["session_number"] = sessions["session_number"].astype("Int64")
    for column in ("session_type", "attendance"):
        sessions[column] = sessions[column].astype("category")
    empty = pd.DataFrame({"participant_id": pd.Series([], dtype="str")})
    return Export(
        participants=people,
        sessions=sessions,
        measures=empty,
        events=empty,
        manifest=Manifest(extract_date=extract),
    )


def hand_export() -> Export:
    columns = ["participant_id", "programme", "group", "referral_date", "assessed", "eligible"]
    columns += ["exclusion_reason", "start_date", "end_date", "exit_status", "exit_reason"]
    people = pd.DataFrame([row[:-1] for row in PEOPLE], columns=columns)
    people["site"] = np.where(
        people["participant_id"].isin(["P01", "P02", "P03", "R1"]), "East", "West"
    )
    weekly = []
    for row in PEOPLE:
        pid, start, pattern = row[0], row[7] or P16_FIRST_SESSION, row[-1] or ""
        for i, mark in enumerate(pattern):
            date = pd.Timestamp(start) + pd.Timedelta(days=7 * i)
            weekly.append((pid, "group", i + 1, date, ATTENDANCE[mark]))
    sessions = pd.DataFrame(
        weekly + EXPLICIT_SESSIONS,
        columns=["participant_id", "session_type", "session_number", "session_date", "attendance"],
    )
    return make_export(people, sessions)


@pytest.fixture(scope="module")
def data() -> eng.EngagementData:
    return eng.prepare_engagement(hand_export(), PROGRAMMES)


def row(frame: pd.DataFrame, **where) -> pd.Series:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in where.items():
        mask &= (frame[column] == value).to_numpy()
    assert mask.sum() == 1, f"expected one row for {where}, got {mask.sum()}"
    return frame.loc[mask].iloc[0]


def wilson_closed_form(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson (1927) score interval written out."""
    z = norm.ppf(1 - alpha / 2)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


# --- core session sequence and attendance -------------------------------------------------

# participant: scheduled, attended, excused, unexcused, last attended, longest absence run,
# attended last, rule met
SEQUENCE = {
    "P01": (4, 3, 0, 1, 4, 1, True, True),
    "P02": (3, 1, 1, 1, 1, 2, False, False),
    "P03": (4, 3, 0, 1, 3, 1, False, False),
    "P04": (4, 4, 0, 0, 4, 0, True, True),
    "P05": (4, 1, 0, 3, 1, 3, False, False),
    "P06": (2, 1, 0, 1, 1, 1, False, False),
    "P07": (1, 1, 0, 0, 1, 0, False, False),
    "P08": (0, 0, 0, 0, 0, 0, False, False),
    "P12": (2, 2, 0, 0, 2, 0, False, False),
    "P14": (4, 4, 0, 0, 4, 0, True, True),
    "P15": (4, 1, 0, 3, 1, 3, False, False),
    "P16": (2, 1, 0, 1, 1, 1, False, False),
    # rolling entry, by date: A U A A / A A / A A U U
    "R1": (4, 3, 0, 1, 4, 1, True, True),
    "R2": (2, 2, 0, 0, 2, 0, False, False),
    "R3": (4, 2, 0, 2, 2, 2, False, False),
    # mixed, by date (same-day tie: individual before group, the registry order)
    "M1": (4, 3, 0, 1, 4, 1, True, True),
    "M2": (4, 3, 0, 1, 3, 1, False, False),
}


def test_core_sequence_counts_match_hand_count(data):
    ep = data.episodes.set_index("participant_id")
    columns = [
        "n_core_scheduled",
        "n_core_attended",
        "n_core_excused",
        "n_core_unexcused",
        "last_core_attended",
        "longest_absence_run",
        "attended_last_core",
        "rule_met",
    ]
    for pid, expected in SEQUENCE.items():
        assert tuple(ep.loc[pid, columns]) == expected, pid


def test_sessions_needed_is_not_fooled_by_floating_point():
    # 0.7 * 10 is 7.000000000000001 in floating point; the rule needs 7 sessions, not 8.
    tenner = {"tenner": {**PROGRAMMES["mini"], "core": {"group": 10}}}
    tenner["tenner"]["completion_rule"] = {"min_core_share": 0.7, "require_last_core": False}
    people = pd.DataFrame(
        {
            "participant_id": ["T1"],
            "programme": ["tenner"],
            "site": ["S"],
            "start_date": ["2024-01-01"],
        }
    )
    sessions = pd.DataFrame(
        {
            "participant_id": "T1",
            "session_type": "group",
            "session_number": range(1, 11),
            "session_date": pd.date_range("2024-01-01", periods=10, freq="7D"),
            "attendance": ["attended"] * 7 + ["unexcused"] * 3,
        }
    )
    status = eng.derive_exit_status(make_export(people, sessions), programmes=tenner)
    assert status.loc[0, "n_core_needed"] == 7
    assert status.loc[0, "exit_status_derived"] == "completed"


def test_comparison_rows_are_not_programme_participants(data):
    assert "P13" not in set(data.episodes["participant_id"])
    assert len(data.episodes) == len(PEOPLE) - 1


def test_review_sessions_are_not_core(data):
    # M1 has a review session; only the 4 core sessions are in the sequence.
    assert row(data.episodes, participant_id="M1")["n_core_scheduled"] == 4


def test_sequence_order_does_not_depend_on_row_order():
    export = hand_export()
    shuffled = make_export(export.participants, export.sessions.sample(frac=1.0, random_state=3))
    a = eng.prepare_engagement(export, PROGRAMMES).episodes
    b = eng.prepare_engagement(shuffled, PROGRAMMES).episodes
    columns = ["n_core_scheduled", "last_core_attended", "longest_absence_run", "rule_met"]
    pd.testing.assert_frame_equal(a[columns], b[columns])


# --- exit status ------------------------------------------------------------------------

# recorded, derived, used
STATUS = {
    "P01": ("completed", "completed", "completed"),
    "P02": ("dropped_out", "dropped_out", "dropped_out"),
    "P03": ("completed", "dropped_out", "completed"),
    "P04": (None, "completed", "completed"),
    "P05": (None, "dropped_out", "dropped_out"),
    "P06": (None, "ongoing", "ongoing"),
    "P07": ("dropped_out", "dropped_out", "dropped_out"),
    "P08": (None, "excluded", "excluded"),
    "P09": ("not_started", "not_started", "not_started"),
    "P10": ("ongoing", "not_started", "ongoing"),
    "P11": ("not_started", "not_started", "not_started"),
    "P12": ("transferred", "dropped_out", "transferred"),
    "P14": ("dropped_out", "completed", "dropped_out"),
    "P15": ("ongoing", "dropped_out", "ongoing"),
    "P16": ("not_started", "dropped_out", "not_started"),
    "R1": (None, "completed", "completed"),
    "R2": (None, "ongoing", "ongoing"),
    "R3": (None, "dropped_out", "dropped_out"),
    "M1": (None, "completed", "completed"),
    "M2": (None, "dropped_out", "dropped_out"),
}


def test_derived_exit_status_and_recorded_status_is_kept(data):
    status = eng.derive_exit_status(data).set_index("participant_id")
    for pid, (recorded, derived, used) in STATUS.items():
        got = status.loc[pid, ["exit_status_recorded", "exit_status_derived", "exit_status_used"]]
        got = tuple(None if pd.isna(v) else v for v in got)
        assert got == (recorded, derived, used), pid
        source = "recorded" if recorded else "derived"
        assert status.loc[pid, "exit_status_source"] == source


def test_started_without_core_sessions_has_no_derived_status():
    export = hand_export()
    people = export.participants.copy()
    people.loc[people["participant_id"] == "P04", "exit_status"] = "completed"
    sessions = export.sessions[export.sessions["participant_id"] != "P04"]
    status = eng.derive_exit_status(make_export(people, sessions), programmes=PROGRAMMES)
    p04 = row(status, participant_id="P04")
    assert pd.isna(p04["exit_status_derived"])
    assert p04["exit_status_used"] == "completed"


def test_disagreements_list_each_contradiction_once(data):
    found = eng.exit_status_disagreements(data)
    assert dict(zip(found["participant_id"], found["finding"], strict=True)) == {
        "P03": "recorded_completed_rule_not_met",
        "P14": "rule_met_not_recorded_completed",
        "P15": "recorded_ongoing_but_closed_or_overdue",
        "P16": "recorded_not_started_but_attended",
    }
    p03 = row(found, participant_id="P03")
    assert p03["description"] == eng.FINDINGS["recorded_completed_rule_not_met"]
    assert (p03["n_core_attended"], p03["n_core_needed"], p03["attended_last_core"]) == (
        3,
        3,
        False,
    )
    assert p03["completion_rule"] == (
        "attended at least 75% of the 4 core sessions (3 or more), including the last"
    )


def test_transfer_and_exclusion_are_not_disagreements(data):
    # P12 is recorded transferred; attendance alone would say dropped_out.
    found = eng.exit_status_disagreements(data)
    assert "P12" not in set(found["participant_id"])


# --- potential completers -----------------------------------------------------------------


def test_potential_completers_time_elapsed_or_case_closed(data):
    pot = eng.potential_completers(data).set_index("participant_id")
    # started 2024-01-15: expected end 2024-02-19, before the extract
    assert pot.loc["P01", "expected_end"] == pd.Timestamp("2024-02-19")
    assert pot.loc["P01", "basis"] == "time_elapsed"
    # P07 started 2024-06-13 (expected end 2024-07-18) but the case is closed
    assert pot.loc["P07", "basis"] == "case_closed"
    assert pot.loc["P07", "potential_completer"]
    # P06 started 2024-06-20 and is still open
    assert pot.loc["P06", "basis"] == "not_yet"
    assert not pot.loc["P06", "potential_completer"]
    # P16 has no start_date: the first attended core session is the start
    assert pot.loc["P16", "start"] == pd.Timestamp(P16_FIRST_SESSION)
    assert set(pot.index) == {p for p, s in SEQUENCE.items() if s[1] > 0}
    assert int(pot["potential_completer"].sum()) == 14


def test_potential_completers_without_closed_cases(data):
    pot = eng.potential_completers(data, closed_cases=False).set_index("participant_id")
    assert not pot.loc["P07", "potential_completer"]
    assert pot.loc["P07", "basis"] == "not_yet"
    assert int(pot["potential_completer"].sum()) == 13


def test_potential_completer_boundary_is_inclusive():
    # start + 35 days == extract date counts; one day later does not.
    people = pd.DataFrame(
        {
            "participant_id": ["on_time", "late"],
            "programme": ["mini", "mini"],
            "site": ["S", "S"],
            "referral_date": ["2024-05-01", "2024-05-01"],
            "start_date": ["2024-05-26", "2024-05-27"],
        }
    )
    sessions = pd.DataFrame(
        {
            "participant_id": ["on_time", "late"],
            "session_type": ["group", "group"],
            "session_number": [1, 1],
            "session_date": ["2024-05-26", "2024-05-27"],
            "attendance": ["attended", "attended"],
        }
    )
    pot = eng.potential_completers(make_export(people, sessions), programmes=PROGRAMMES)
    assert list(pot["potential_completer"]) == [True, False]


# --- flow ------------------------------------------------------------------------------


def test_flow_counts(data):
    flow = eng.flow(data, by="programme")
    mini = row(flow, programme="mini")
    counts = ["n_referred", "n_assessed", "n_eligible", "n_started", "n_completed"]
    assert tuple(mini[counts]) == (15, 13, 12, 11, 3)
    assert tuple(row(flow, programme="rollmini")[counts]) == (3, 3, 3, 3, 1)
    assert tuple(row(flow, programme="mixmini")[counts]) == (2, 2, 2, 2, 1)
    overall = eng.flow(data)
    assert len(overall) == 1
    assert tuple(overall.iloc[0][counts]) == (20, 18, 17, 16, 5)


def test_flow_exits_reasons_add_up(data):
    exits = eng.flow_exits(data, by="programme")
    mini = exits[exits["programme"] == "mini"]
    got = {(s, r): n for s, r, n in zip(mini["stage"], mini["reason"], mini["n_left"], strict=True)}
    assert got == {
        ("referred", "not_assessed"): 1,
        ("referred", "awaiting_assessment"): 1,
        ("assessed", "denies_abuse"): 1,
        ("eligible", "declined"): 1,
        ("started", "dropped_out"): 4,
        ("started", "ongoing"): 2,
        ("started", "transferred"): 1,
        ("started", "not_started"): 1,
    }
    flow = eng.flow(data, by="programme")
    left = exits.groupby("programme", observed=True)["n_left"].sum()
    for _, group in flow.iterrows():
        assert left.get(group["programme"], 0) == group["n_referred"] - group["n_completed"]
    # stages come in flow order, reasons by count within a stage
    assert list(mini["stage"].astype(str))[:3] == ["referred", "referred", "assessed"]
    assert list(mini["reason"])[4] == "dropped_out"


# --- completion, dropout ------------------------------------------------------------------


def test_completion_counts_and_wilson_intervals(data):
    out = eng.completion(data, by="programme")
    mini = row(out, programme="mini")
    counts = ["n_started", "n_potential", "n_clear_outcome", "n_completed"]
    assert tuple(mini[counts]) == (11, 10, 7, 3)
    assert mini["completion_rate"] == pytest.approx(3 / 10)
    assert mini["completion_rate_clear"] == pytest.approx(3 / 7)
    assert (mini["completion_ci_low"], mini["completion_ci_high"]) == pytest.approx(
        wilson_closed_form(3, 10)
    )
    assert (mini["completion_ci_low_clear"], mini["completion_ci_high_clear"]) == pytest.approx(
        wilson_closed_form(3, 7)
    )
    assert mini["completion_rule"] == data.registry["mini"]["completion_rule"]["text"]
    assert tuple(row(out, programme="rollmini")[counts]) == (3, 2, 2, 1)
    assert tuple(row(out, programme="mixmini")[counts]) == (2, 2, 2, 1)


def test_completion_overall_states_every_rule(data):
    out = eng.completion(data)
    assert len(out) == 1
    assert tuple(out.iloc[0][["n_potential", "n_clear_outcome", "n_completed"]]) == (14, 11, 5)
    rule = out.iloc[0]["completion_rule"]
    assert rule.startswith("mini: attended at least 75% of the 4 core sessions")
    assert "; mixmini: " in rule and "; rollmini: " in rule


def test_completion_without_closed_cases(data):
    mini = row(eng.completion(data, by="programme", closed_cases=False), programme="mini")
    assert tuple(mini[["n_potential", "n_clear_outcome", "n_completed"]]) == (9, 6, 3)


def test_completion_by_site_and_99_percent_interval(data):
    out = eng.completion(data, by=["programme", "site"], alpha=0.01)
    east = row(out, programme="mini", site="East")  # P01 P02 P03
    assert tuple(east[["n_potential", "n_completed"]]) == (3, 2)
    assert (east["completion_ci_low"], east["completion_ci_high"]) == pytest.approx(
        wilson_closed_form(2, 3, 0.01)
    )


def test_dropout_rate_and_early_dropout(data):
    out = eng.dropout(data, by="programme")
    mini = row(out, programme="mini")
    # dropouts among the 10 potential completers: P02 P05 P07 P14; last attended 1 1 1 4
    assert (mini["n_potential"], mini["n_dropped_out"], mini["n_early_dropout"]) == (10, 4, 3)
    assert mini["dropout_rate"] == pytest.approx(0.4)
    assert (mini["dropout_ci_low"], mini["dropout_ci_high"]) == pytest.approx(
        wilson_closed_form(4, 10)
    )
    assert mini["early_dropout_rate"] == pytest.approx(0.3)
    assert (mini["early_dropout_ci_low"], mini["early_dropout_ci_high"]) == pytest.approx(
        wilson_closed_form(3, 10)
    )
    assert mini["median_last_core_attended"] == 1.0
    assert mini["early_before"] == 4  # the one default (last attended 1 1 1: before session 4)
    late = row(eng.dropout(data, by="programme", early_before=5), programme="mini")
    assert late["n_early_dropout"] == 4
    earlier = row(eng.dropout(data, by="programme", early_before=2), programme="mini")
    assert earlier["n_early_dropout"] == 3


def test_library_and_report_share_the_early_dropout_default():
    import inspect

    from cdanalytics.config import DEFAULTS

    default = inspect.signature(eng.dropout).parameters["early_before"].default
    assert (
        default == eng.EARLY_DROPOUT_BEFORE == DEFAULTS["engagement"]["early_dropout_before"] == 4
    )


def test_dropout_rejects_bad_early_before(data):
    with pytest.raises(ConfigError, match="early_before"):
        eng.dropout(data, early_before=0)


def test_dropout_timing_distribution(data):
    out = eng.dropout_timing(data, by="programme")
    mini = out[out["programme"] == "mini"]
    assert dict(zip(mini["last_core_attended"], mini["n_dropped_out"], strict=True)) == {1: 3, 4: 1}
    assert list(mini["share"]) == pytest.approx([0.75, 0.25])
    # rolling entry: R3 attended group sessions 2 and 3, the first two of their own sequence
    roll = row(out, programme="rollmini")
    assert roll["last_core_attended"] == 2
    # mixed: M2's last attended core session is the 3rd of their sequence (group 2)
    assert row(out, programme="mixmini")["last_core_attended"] == 3


# --- retention ---------------------------------------------------------------------------


def test_retention_hand_counted(data):
    out = eng.retention(data, by="programme")
    mini = out[out["programme"] == "mini"]
    assert list(mini["session"]) == [0, 1, 2, 3, 4]
    assert list(mini["n_at_risk"]) == [11, 11, 10, 7, 6]
    assert list(mini["n_dropped_out"]) == [0, 1, 0, 1, 2]
    assert list(mini["n_censored"]) == [0, 0, 3, 0, 4]
    expected = [1, 10 / 11, 10 / 11, 10 / 11 * 6 / 7, 10 / 11 * 6 / 7 * 4 / 6]
    assert list(mini["retained"]) == pytest.approx(expected)


def test_retention_rolling_entry_uses_own_sequence(data):
    out = eng.retention(data, by="programme")
    roll = out[out["programme"] == "rollmini"]
    # R1 completed after 4 sessions, R2 ongoing after 2, R3 dropped out after 4
    assert list(roll["n_at_risk"]) == [3, 3, 3, 2, 2]
    assert list(roll["retained"]) == pytest.approx([1, 1, 1, 1, 0.5])


def random_export(n: int, seed: int) -> Export:
    """Participants in ``mini`` with random enrolment lengths and exit statuses."""
    rng = np.random.default_rng(seed)
    enrolled = rng.integers(1, 5, n)
    status = rng.choice(
        ["completed", "dropped_out", "ongoing", "transferred"], n, p=[0.4, 0.35, 0.15, 0.1]
    )
    ids = [f"X{i:04d}" for i in range(n)]
    people = pd.DataFrame(
        {
            "participant_id": ids,
            "programme": "mini",
            "site": rng.choice(["North", "South"], n),
            "referral_date": "2023-01-01",
            "start_date": "2023-02-01",
            "exit_status": status,
        }
    )
    person = np.repeat(np.arange(n), enrolled)
    number = np.arange(len(person)) - np.repeat(np.cumsum(enrolled) - enrolled, enrolled) + 1
    sessions = pd.DataFrame(
        {
            "participant_id": np.array(ids)[person],
            "session_type": "group",
            "session_number": number,
            "session_date": pd.Timestamp("2023-02-01") + pd.to_timedelta(7 * (number - 1), "D"),
            "attendance": rng.choice(
                ["attended", "excused", "unexcused"], len(person), p=[0.8, 0.1, 0.1]
            ),
        }
    )
    return make_export(people, sessions)


def test_retention_matches_lifelines_kaplan_meier():
    export = random_export(400, seed=11)
    out = eng.retention(export, by="site", programmes=PROGRAMMES)
    for site, group in out.groupby("site", observed=True):
        people = export.participants[export.participants["site"] == site]
        enrolled = export.sessions["participant_id"].value_counts()
        time = enrolled.reindex(people["participant_id"]).to_numpy()
        event = (people["exit_status"] == "dropped_out").to_numpy()
        kmf = KaplanMeierFitter().fit(time, event)
        sessions = group["session"].to_numpy()
        expected = kmf.survival_function_at_times(sessions).to_numpy()
        assert group["retained"].to_numpy() == pytest.approx(expected, abs=1e-12)
        ci = kmf.confidence_interval_survival_function_
        at = np.searchsorted(ci.index.to_numpy(), sessions, side="right") - 1
        assert group["ci_low"].to_numpy() == pytest.approx(ci.iloc[at, 0].to_numpy(), abs=1e-9)
        assert group["ci_high"].to_numpy() == pytest.approx(ci.iloc[at, 1].to_numpy(), abs=1e-9)


# --- attendance, waiting times -------------------------------------------------------------


def test_attendance_per_participant(data):
    per = eng.attendance(data).set_index("participant_id")
    assert set(per.index) == {p for p, s in SEQUENCE.items() if s[1] > 0}
    assert per.loc["P02", "attendance_rate"] == pytest.approx(1 / 3)
    assert per.loc["P02", "core_share"] == pytest.approx(1 / 4)
    assert per.loc["P05", "longest_absence_run"] == 3


def test_attendance_summary_hand_counted(data):
    out = row(eng.attendance_summary(data, by="programme"), programme="mini")
    assert out["n_participants"] == 11
    assert tuple(
        out[["n_core_scheduled", "n_core_attended", "n_core_excused", "n_core_unexcused"]]
    ) == (
        34,
        22,
        1,
        11,
    )
    assert out["attendance_rate"] == pytest.approx(22 / 34)
    rates = [3 / 4, 1 / 3, 3 / 4, 1, 1 / 4, 1 / 2, 1, 1, 1, 1 / 4, 1 / 2]
    assert out["mean_attendance_rate"] == pytest.approx(sum(rates) / 11)
    # attended: 1 1 1 1 1 1 2 3 3 4 4; longest runs: 0 0 0 0 1 1 1 1 2 3 3
    assert (out["q1_attended"], out["median_attended"], out["q3_attended"]) == (1, 1, 3)
    assert (out["median_longest_absence_run"], out["max_longest_absence_run"]) == (1, 3)


def test_waiting_times_median_and_iqr(data):
    out = eng.waiting_times(data, by="programme")
    wait = row(out, programme="mini", interval="referral_to_start")
    # waits 3 7 10 14 14 14 19 21 28 35 42 days
    assert (wait["n"], wait["q1_days"], wait["median_days"], wait["q3_days"]) == (11, 12, 14, 24.5)
    duration = row(out, programme="mini", interval="start_to_end")
    # durations 0 7 14 21 21 21 days
    assert (duration["n"], duration["q1_days"], duration["median_days"], duration["q3_days"]) == (
        6,
        8.75,
        17.5,
        21,
    )


# --- grouping and errors ---------------------------------------------------------------------


def test_groups_with_missing_values_are_kept(data):
    out = eng.completion(data, by="exclusion_reason")
    assert out["n_started"].sum() == 16
    assert out["exclusion_reason"].isna().any()


def test_derived_columns_can_group(data):
    out = eng.flow(data, by="exit_status_used")
    assert out["n_referred"].sum() == 20
    assert row(out, exit_status_used="completed")["n_completed"] == 5


def test_unknown_group_column(data):
    with pytest.raises(ConfigError, match="Cannot group by nonsense"):
        eng.completion(data, by=["programme", "nonsense"])


def test_unknown_programme_is_a_config_error():
    with pytest.raises(ConfigError, match="not in the programme registry"):
        eng.prepare_engagement(hand_export())


def test_session_of_unknown_participant():
    export = hand_export()
    extra = export.sessions.iloc[:1].astype(object).assign(participant_id="nobody")
    sessions = pd.concat([export.sessions.astype(object), extra])
    with pytest.raises(AnalysisError, match="1 session rows name participants"):
        eng.prepare_engagement(make_export(export.participants, sessions), PROGRAMMES)


def test_programmes_with_prepared_data_is_refused(data):
    with pytest.raises(ConfigError, match="prepare_engagement"):
        eng.completion(data, programmes=PROGRAMMES)


def test_export_and_prepared_data_agree(data):
    direct = eng.completion(hand_export(), by="programme", programmes=PROGRAMMES)
    pd.testing.assert_frame_equal(direct, eng.completion(data, by="programme"))


def test_no_starters_gives_zero_counts_not_errors():
    export = hand_export()
    people = export.participants
    people = people[people["participant_id"].isin(["P08", "P09", "P10", "P11"])]
    data = eng.prepare_engagement(make_export(people, export.sessions.iloc[:0]), PROGRAMMES)
    done = eng.completion(data)
    assert tuple(done.iloc[0][["n_started", "n_potential", "n_completed"]]) == (0, 0, 0)
    assert np.isnan(done.iloc[0]["completion_rate"]) and np.isnan(done.iloc[0]["completion_ci_low"])
    assert eng.retention(data).empty
    assert eng.waiting_times(data, by="programme").empty
    assert eng.attendance_summary(data).empty


def test_participant_without_programme():
    export = hand_export()
    people = export.participants.copy()
    people.loc[0, "programme"] = np.nan
    with pytest.raises(AnalysisError, match="1 programme rows have no programme"):
        eng.prepare_engagement(make_export(people, export.sessions), PROGRAMMES)


# --- dropout model ----------------------------------------------------------------------------


def outcome_export(frame: pd.DataFrame) -> Export:
    """Concluded ``mini`` participants with recorded statuses and covariates, no sessions."""
    n = len(frame)
    people = frame.assign(
        participant_id=[f"Y{i:05d}" for i in range(n)],
        programme="mini",
        site="S",
        referral_date="2023-01-01",
        start_date="2023-02-01",
        end_date="2023-03-01",
        exit_status=np.where(frame.pop("dropped"), "dropped_out", "completed"),
    )
    sessions = pd.DataFrame(
        columns=["participant_id", "session_type", "session_number", "session_date", "attendance"]
    )
    return make_export(people, sessions)


def two_by_two(a: int, b: int, c: int, d: int) -> pd.DataFrame:
    """a dropouts and b completers with flag yes, c and d with flag no."""
    flag = ["yes"] * (a + b) + ["no"] * (c + d)
    dropped = [True] * a + [False] * b + [True] * c + [False] * d
    return pd.DataFrame({"flag": flag, "dropped": dropped})


def test_dropout_model_odds_ratio_of_a_two_by_two_table():
    a, b, c, d = 30, 20, 25, 75
    model = eng.dropout_model(
        outcome_export(two_by_two(a, b, c, d)), ["flag"], programmes=PROGRAMMES
    )
    term = model.summary.iloc[0]
    assert (term["term"], term["level"], term["reference"]) == ("flag[yes]", "yes", "no")
    assert term["odds_ratio"] == pytest.approx(a * d / (b * c))
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)  # Woolf
    log_or = math.log(a * d / (b * c))
    assert term["ci_low"] == pytest.approx(math.exp(log_or - 1.959963984540054 * se), rel=1e-6)
    assert term["ci_high"] == pytest.approx(math.exp(log_or + 1.959963984540054 * se), rel=1e-6)
    assert term["p_value"] == pytest.approx(2 * norm.sf(log_or / se), rel=1e-6)
    assert (model.n_used, model.n_events, model.n_missing) == (150, 55, 0)
    assert model.references == {"flag": "no"}
    assert "mini: attended at least 75%" in model.completion_rule


def test_dropout_model_matches_statsmodels_formula_fit():
    rng = np.random.default_rng(5)
    n = 600
    risk = rng.choice(["low", "medium", "high"], n)
    prior = rng.poisson(2, n)
    logit = -1 + 0.5 * (risk == "medium") + 1.0 * (risk == "high") + 0.2 * prior
    dropped = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame({"risk": risk, "prior": prior, "dropped": dropped})
    frame["risk"] = pd.Categorical(frame["risk"], categories=["low", "medium", "high"])
    reference = smf.logit(
        "y ~ C(risk, Treatment('low')) + prior", frame.assign(y=frame["dropped"].astype(float))
    ).fit(disp=0)
    model = eng.dropout_model(
        outcome_export(frame.copy()), ["risk", "prior"], programmes=PROGRAMMES
    )
    summary = model.summary.set_index("term")
    expected = {
        "risk[medium]": "C(risk, Treatment('low'))[T.medium]",
        "risk[high]": "C(risk, Treatment('low'))[T.high]",
        "prior": "prior",
    }
    ci = reference.conf_int()
    for ours, theirs in expected.items():
        assert summary.loc[ours, "odds_ratio"] == pytest.approx(math.exp(reference.params[theirs]))
        assert summary.loc[ours, "ci_low"] == pytest.approx(math.exp(ci.loc[theirs, 0]))
        assert summary.loc[ours, "ci_high"] == pytest.approx(math.exp(ci.loc[theirs, 1]))
        assert summary.loc[ours, "p_value"] == pytest.approx(reference.pvalues[theirs])
    assert model.references == {"risk": "low"}
    assert summary.loc["prior", "level"] == ""


def test_dropout_model_reference_level_can_be_chosen():
    model = eng.dropout_model(
        outcome_export(two_by_two(30, 20, 25, 75)),
        ["flag"],
        reference={"flag": "yes"},
        programmes=PROGRAMMES,
    )
    assert model.summary.iloc[0]["term"] == "flag[no]"
    assert model.summary.iloc[0]["odds_ratio"] == pytest.approx((20 * 25) / (30 * 75))


def test_dropout_model_too_few_events():
    frame = two_by_two(1, 40, 0, 40)
    with pytest.raises(
        InsufficientDataError, match="1 dropouts and 80 completers for 2 parameters"
    ):
        eng.dropout_model(outcome_export(frame), ["flag"], programmes=PROGRAMMES)


def test_dropout_model_separation_by_category():
    frame = two_by_two(12, 0, 20, 30)
    with pytest.raises(
        ConvergenceError, match="all 12 participants with flag\\[yes\\] dropped out"
    ):
        eng.dropout_model(outcome_export(frame), ["flag"], programmes=PROGRAMMES)


def test_dropout_model_complete_separation_by_numeric_covariate():
    score = np.arange(60, dtype=float)
    frame = pd.DataFrame({"score": score, "dropped": score >= 30})
    with pytest.raises(ConvergenceError, match="separat"):
        eng.dropout_model(outcome_export(frame), ["score"], programmes=PROGRAMMES)


def test_dropout_model_warns_on_few_events_per_parameter():
    frame = two_by_two(4, 20, 4, 20)
    with pytest.warns(StatisticalWarning, match="events per parameter"):
        model = eng.dropout_model(outcome_export(frame), ["flag"], programmes=PROGRAMMES)
    assert model.n_events == 8


def test_dropout_model_reports_missing_covariates():
    frame = two_by_two(30, 20, 25, 75)
    frame["age"] = np.where(np.arange(150) % 10 == 0, np.nan, np.arange(150) % 7)
    with pytest.warns(DataQualityWarning, match="15 participants left out"):
        model = eng.dropout_model(outcome_export(frame), ["flag", "age"], programmes=PROGRAMMES)
    assert (model.n_used, model.n_missing) == (135, 15)


def test_dropout_model_unknown_covariate_and_reference():
    export = outcome_export(two_by_two(30, 20, 25, 75))
    with pytest.raises(ConfigError, match="Unknown covariate"):
        eng.dropout_model(export, ["shoe_size"], programmes=PROGRAMMES)
    with pytest.raises(ConfigError, match="Reference level 'maybe'"):
        eng.dropout_model(export, ["flag"], reference={"flag": "maybe"}, programmes=PROGRAMMES)


def test_dropout_model_collinear_covariates():
    frame = two_by_two(30, 20, 25, 75)
    frame["flag2"] = frame["flag"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InsufficientDataError, match="collinear"):
            eng.dropout_model(outcome_export(frame), ["flag", "flag2"], programmes=PROGRAMMES)


# --- truth recovery on a synthetic export -------------------------------------------------------

N_SYNTH = 20_000


@pytest.fixture(scope="module")
def synthetic_export() -> tuple[Export, dict]:
    from cdanalytics.synth import generate

    return generate(N_SYNTH, seed=2024)


@pytest.fixture(scope="module")
def synthetic(synthetic_export):
    export, truth = synthetic_export
    return eng.prepare_engagement(export), truth


def by_programme_and_risk(frame: pd.DataFrame, truth: dict, key: str) -> pd.DataFrame:
    frame = frame.copy()
    frame["truth"] = [
        truth["engagement"][p][r][key]
        for p, r in zip(frame["programme"], frame["risk_level"], strict=True)
    ]
    return frame


def assert_truth_inside(
    frame: pd.DataFrame, count: str, nobs: str, interval: tuple[str, ...] = ("ci_low", "ci_high")
) -> None:
    """Each cell's interval holds the truth, and the cells fit it jointly.

    The joint check (Pearson chi-square of the counts against the true
    probabilities, 28 cells) catches a systematic bias too small for any one
    interval to miss.
    """
    low, high = interval
    outside = frame[(frame["truth"] < frame[low]) | (frame["truth"] > frame[high])]
    assert outside.empty, outside.to_string()
    k, n, p = (frame[c].to_numpy(dtype=float) for c in (count, nobs, "truth"))
    pearson = float(np.sum((k - n * p) ** 2 / (n * p * (1 - p))))
    assert pearson < chi2.ppf(0.999, len(frame)), pearson


def test_synthetic_completion_and_dropout_recover_truth(synthetic):
    data, truth = synthetic
    # starters followed to the end of the core programme (closed_cases=False): the
    # population for which truth's p_complete and p_dropout hold; Bonferroni over
    # the programme x risk cells keeps the family-wise error at 5% per measure.
    cells = 7 * 4
    by = ["programme", "risk_level"]
    done = eng.completion(data, by=by, closed_cases=False, alpha=0.05 / cells)
    assert_truth_inside(
        by_programme_and_risk(done, truth, "p_complete"),
        "n_completed",
        "n_potential",
        eng.COMPLETION_COLUMNS[1:],
    )
    dropped = eng.dropout(data, by=by, closed_cases=False, alpha=0.05 / cells)
    assert_truth_inside(
        by_programme_and_risk(dropped, truth, "p_dropout"),
        "n_dropped_out",
        "n_potential",
        eng.DROPOUT_COLUMNS[1:],
    )
    assert done["n_potential"].min() >= 25


def test_synthetic_completion_derived_from_attendance_recovers_truth(synthetic_export):
    # With every starter's exit_status blanked, completion comes from the registry
    # rule applied to the core session sequences (BORG and Caledonian mixed, four
    # programmes rolling entry): it must still recover p_complete.
    export, truth = synthetic_export
    people = export.participants.copy()
    started = people["start_date"].notna()
    people["exit_status"] = people["exit_status"].mask(started)
    blanked = Export(people, export.sessions, export.measures, export.events, export.manifest)
    derived = eng.prepare_engagement(blanked)
    assert (
        derived.episodes.loc[derived.episodes["started"], "exit_status_source"] == "derived"
    ).all()
    done = eng.completion(
        derived, by=["programme", "risk_level"], closed_cases=False, alpha=0.05 / 28
    )
    assert_truth_inside(
        by_programme_and_risk(done, truth, "p_complete"),
        "n_completed",
        "n_potential",
        eng.COMPLETION_COLUMNS[1:],
    )


def test_synthetic_completion_by_programme_recovers_truth(synthetic):
    data, truth = synthetic
    done = eng.completion(data, by="programme", closed_cases=False, alpha=0.05 / 7)
    done["truth"] = [truth["engagement_overall"][p]["p_complete"] for p in done["programme"]]
    assert_truth_inside(done, "n_completed", "n_potential", eng.COMPLETION_COLUMNS[1:])


def test_synthetic_disagreements_are_the_deliberate_ones(synthetic):
    data, truth = synthetic
    planted = truth["data_quality"]["exit_status_disagreements"]["participant_ids"]
    found = eng.exit_status_disagreements(data)
    assert sorted(found["participant_id"]) == sorted(planted)
    assert set(found["finding"]) <= {
        "recorded_completed_rule_not_met",
        "rule_met_not_recorded_completed",
    }


def test_synthetic_missing_status_is_derived(synthetic):
    data, truth = synthetic
    ep = data.episodes
    derived = ep[ep["exit_status_source"] == "derived"]
    assert len(derived) == truth["data_quality"]["exit_status_missing"]["count"]
    assert set(derived["exit_status_used"].astype(str)) <= {"completed", "dropped_out"}


def test_synthetic_retention_recovers_dropout_hazard(synthetic):
    data, truth = synthetic
    cells = 7 * 4
    curve = eng.retention(data, by=["programme", "risk_level", "due_by_extract"])
    curve = curve[curve["due_by_extract"]]
    # constant per-session hazard: the MLE pools events over risk sets, sessions 1..K-1
    k = (
        curve["programme"]
        .astype(str)
        .map({p: e["n_core_sessions"] for p, e in _core_counts(data).items()})
    )
    before_last = curve[(curve["session"] >= 1) & (curve["session"] < k)]
    pooled = before_last.groupby(["programme", "risk_level"], observed=True)[
        ["n_dropped_out", "n_at_risk"]
    ].sum()
    pooled = pooled.reset_index()
    low, high = eng_wilson(pooled["n_dropped_out"], pooled["n_at_risk"], 0.05 / cells)
    frame = by_programme_and_risk(pooled.assign(ci_low=low, ci_high=high), truth, "dropout_hazard")
    assert_truth_inside(frame, "n_dropped_out", "n_at_risk")


def _core_counts(data: eng.EngagementData) -> dict:
    return {p: {"n_core_sessions": sum(e["core"].values())} for p, e in data.registry.items()}


def eng_wilson(count, nobs, alpha):
    from cdanalytics._stats import wilson_ci

    return wilson_ci(count, nobs, alpha=alpha)


def test_synthetic_attendance_recovers_p_attend(synthetic):
    data, truth = synthetic
    cells = 7 * 4
    per = eng.attendance(data).merge(
        data.episodes[["participant_id", "risk_level"]], on="participant_id"
    )
    # session 1 is attended by definition; later enrolled sessions with p_attend
    later = (
        per.assign(attended=per["n_core_attended"] - 1, scheduled=per["n_core_scheduled"] - 1)
        .groupby(["programme", "risk_level"], observed=True)[["attended", "scheduled"]]
        .sum()
    )
    later = later.reset_index()
    low, high = eng_wilson(later["attended"], later["scheduled"], 0.05 / cells)
    frame = by_programme_and_risk(later.assign(ci_low=low, ci_high=high), truth, "p_attend")
    assert_truth_inside(frame, "attended", "scheduled")


def test_synthetic_flow_recovers_funnel(synthetic):
    data, truth = synthetic
    flow = eng.flow(data, by="programme")
    waiting = eng.flow_exits(data, by="programme")
    waiting = waiting[waiting["reason"] == "awaiting_start"].set_index("programme")["n_left"]
    flow["n_decided"] = flow["n_eligible"] - flow["programme"].map(waiting).fillna(0).astype(int)
    for step, count, base in (
        ("p_assessed", "n_assessed", "n_referred"),
        ("p_eligible", "n_eligible", "n_assessed"),
        ("p_start", "n_started", "n_decided"),
    ):
        low, high = eng_wilson(flow[count], flow[base], 0.05 / 21)
        frame = flow.assign(ci_low=low, ci_high=high)
        frame["truth"] = [truth["funnel"][p][step] for p in frame["programme"]]
        assert_truth_inside(frame, count, base)
