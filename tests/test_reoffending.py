"""The proven-reoffending definition, person_outcomes and fixed_window.

Each rule of the definition (events before the index date, the waiting
period for proof, not-yet-eligible people, censoring at followup_end and at
the extract date) has its own small explicit export.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _reoffending_fixtures import make_export

from cdanalytics.errors import AnalysisError, ConfigError, DataQualityWarning
from cdanalytics.reoffending import (
    FIXED_WINDOW_COLUMNS,
    OUTCOME_COLUMNS,
    ReoffendingDefinition,
    fixed_window,
    person_outcomes,
)

EXTRACT = "2024-06-30"


def one(outcomes: pd.DataFrame, pid: str) -> pd.Series:
    return outcomes.set_index("participant_id").loc[pid]


# --- the definition ---------------------------------------------------------------


def test_defaults_follow_the_ministry_of_justice_measure():
    d = ReoffendingDefinition()
    assert d.event_types == ("dv_offence", "violent_offence", "other_offence")
    assert (d.index, d.window_months, d.waiting_months) == ("index_date", 12, 6)
    assert d.require_proof is None and not d.violent_only


@pytest.mark.parametrize("types", [("order_breach",), ["dv_offence", "order_breach"]])
def test_order_breaches_never_count(types):
    with pytest.raises(ConfigError, match="breaches"):
        ReoffendingDefinition(event_types=types)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"event_types": ("shoplifting",)},
        {"event_types": ()},
        {"index": "release_date"},
        {"window_months": 0},
        {"window_months": 12.5},
        {"waiting_months": -1},
        {"violent_only": True, "event_types": ("other_offence",)},
        {"seriousness": "grave"},
        {"seriousness": "ernstig"},
        {"disposal": "prison"},
        {"disposal": ()},
        {"disposal": ("custody", "probation")},
    ],
)
def test_invalid_definitions_are_refused(kwargs):
    with pytest.raises(ConfigError):
        ReoffendingDefinition(**kwargs)


def test_violent_only_counts_the_violent_types_among_the_counted_ones():
    d = ReoffendingDefinition(violent_only=True)
    assert d.counted_event_types == ("dv_offence", "violent_offence")


def test_definition_from_the_config_section_ignores_other_keys():
    section = {
        "event_types": ["dv_offence"],
        "index": "start_date",
        "window_months": 24,
        "waiting_months": 6,
        "horizons_months": [6, 12],
        "cox_covariates": ["risk_level"],
    }
    d = ReoffendingDefinition.from_config(section)
    assert d == ReoffendingDefinition(
        event_types=("dv_offence",), index="start_date", window_months=24
    )


# --- person_outcomes: the rules ------------------------------------------------------


def test_outcome_columns_follow_the_participant_columns():
    export = make_export([{"participant_id": "a", "start_date": "2020-01-15"}])
    out = person_outcomes(export)
    assert list(out.columns) == [*export.participants.columns, *OUTCOME_COLUMNS]
    assert out["index_date"].iloc[0] == pd.Timestamp("2020-01-15")


def test_events_before_the_index_date_never_count():
    export = make_export(
        [{"participant_id": "a", "start_date": "2020-01-15"}],
        [
            ("a", "dv_offence", "2020-01-14", "2020-02-01"),  # the day before: never
            ("a", "violent_offence", "2019-06-01", "2019-09-01"),
        ],
    )
    row = one(person_outcomes(export), "a")
    assert row["window_eligible"]
    assert not row["reoffended_in_window"] and row["n_offences_in_window"] == 0
    assert pd.isna(row["days_to_first"])
    # Censored at the extract date: 2020-01-15 to 2024-06-30.
    assert not row["event"]
    assert row["duration_days"] == (pd.Timestamp(EXTRACT) - pd.Timestamp("2020-01-15")).days


def test_an_offence_on_the_index_date_counts_from_day_zero():
    export = make_export(
        [{"participant_id": "a", "start_date": "2020-01-15"}],
        [("a", "dv_offence", "2020-01-15", "2020-03-01")],
    )
    row = one(person_outcomes(export), "a")
    assert row["reoffended_in_window"] and row["days_to_first"] == 0
    assert row["event"] and row["duration_days"] == 0


def test_the_waiting_period_allows_six_months_for_proof():
    # Index 2020-01-15: window [2020-01-15, 2021-01-15), proof before 2021-07-15.
    people = [{"participant_id": p, "start_date": "2020-01-15"} for p in "abcd"]
    events = [
        ("a", "dv_offence", "2021-01-14", "2021-07-14"),  # last window day, proven in time
        ("b", "dv_offence", "2020-12-01", "2021-07-15"),  # proven one day too late
        ("c", "dv_offence", "2021-01-15", "2021-02-01"),  # committed after the window
        ("d", "dv_offence", "2020-06-01", None),  # never proven
    ]
    out = person_outcomes(make_export(people, events)).set_index("participant_id")
    assert out.attrs["reoffending_proof_applied"]
    assert out["reoffended_in_window"].tolist() == [True, False, False, False]
    assert out.loc["a", "days_to_first"] == 365
    assert (out["window_eligible_from"] == pd.Timestamp("2021-07-15")).all()
    # For survival the proof must only arrive by the end of observation.
    assert out["event"].tolist() == [True, True, True, False]
    assert (
        out.loc["b", "duration_days"]
        == (pd.Timestamp("2020-12-01") - pd.Timestamp("2020-01-15")).days
    )


def test_without_proof_dates_offences_count_by_offence_date_and_no_waiting():
    people = [{"participant_id": "a", "start_date": "2023-01-01"}]
    events = [("a", "other_offence", "2023-05-01", None)]
    out = one(person_outcomes(make_export(people, events)), "a")
    # Window ends 2024-01-01 <= extract 2024-06-30: eligible without a waiting period.
    assert out["window_eligible"] and out["reoffended_in_window"]
    assert out["window_eligible_from"] == pd.Timestamp("2024-01-01")
    required = ReoffendingDefinition(require_proof=True)
    strict = one(person_outcomes(make_export(people, events), required), "a")
    assert not strict["window_eligible"] and pd.isna(strict["reoffended_in_window"])
    assert not strict["event"]


def test_people_without_the_full_window_and_waiting_period_are_not_yet_eligible():
    people = [
        {"participant_id": "due", "start_date": "2022-12-30"},  # eligible from 2024-06-30
        {"participant_id": "late", "start_date": "2023-01-01"},  # from 2024-07-01
        {"participant_id": "recent", "start_date": "2024-01-10"},
    ]
    events = [
        ("late", "dv_offence", "2023-02-01", "2023-04-01"),
        ("recent", "dv_offence", "2024-02-01", "2024-03-01"),
    ]
    out = person_outcomes(make_export(people, events, extract=EXTRACT)).set_index("participant_id")
    assert out["window_eligible"].tolist() == [True, False, False]
    # Already reoffended, but not eligible: never counted either way.
    assert out["reoffended_in_window"].isna().tolist() == [False, True, True]
    assert out["n_offences_in_window"].isna().tolist() == [False, True, True]
    assert out["event"].tolist() == [False, True, True]
    table = fixed_window(out.reset_index())
    assert table.loc[
        0, ["n_in_cohort", "n_eligible", "n_not_yet_eligible", "n_reoffenders"]
    ].tolist() == [3, 1, 2, 0]


def test_censoring_at_followup_end():
    people = [{"participant_id": "a", "start_date": "2020-01-15", "followup_end": "2020-10-01"}]
    events = [
        ("a", "dv_offence", "2020-09-01", "2020-11-01"),  # proven after followup_end
        ("a", "dv_offence", "2020-10-02", "2020-10-20"),  # committed after followup_end
    ]
    row = one(person_outcomes(make_export(people, events)), "a")
    assert row["observation_end"] == pd.Timestamp("2020-10-01")
    assert not row["event"]
    assert row["duration_days"] == (pd.Timestamp("2020-10-01") - pd.Timestamp("2020-01-15")).days
    # The window plus waiting period cannot be completed before followup_end.
    assert not row["window_eligible"] and pd.isna(row["reoffended_in_window"])


def test_censoring_at_the_extract_date():
    people = [
        {"participant_id": "a", "start_date": "2023-01-01", "followup_end": "2025-01-01"},
        {"participant_id": "b", "start_date": "2023-01-01"},
    ]
    events = [
        ("a", "other_offence", "2022-06-01", "2022-08-01"),  # before the index date
        ("b", "violent_offence", "2024-06-01", None),  # awaiting proof at the extract
    ]
    out = person_outcomes(make_export(people, events)).set_index("participant_id")
    assert (out["observation_end"] == pd.Timestamp(EXTRACT)).all()
    assert out["duration_days"].tolist() == [546.0, 546.0]
    assert out["event"].tolist() == [False, False]


def test_index_options_and_the_comparison_rows():
    people = [
        {
            "participant_id": "p",
            "referral_date": "2019-11-01",
            "start_date": "2020-01-15",
            "end_date": "2020-06-01",
        },
        {"participant_id": "q", "index_date": "2020-02-01", "start_date": "2020-01-15"},
        {"participant_id": "c", "group": "comparison", "index_date": "2020-03-01"},
        {"participant_id": "never", "referral_date": "2020-01-01"},
    ]
    export = make_export(people)
    expected = {
        "index_date": ["2020-01-15", "2020-02-01", "2020-03-01", None],
        "start_date": ["2020-01-15", "2020-01-15", "2020-03-01", None],
        "referral_date": ["2019-11-01", None, "2020-03-01", "2020-01-01"],
        "end_date": ["2020-06-01", None, "2020-03-01", None],
    }
    for option, dates in expected.items():
        out = person_outcomes(export, ReoffendingDefinition(index=option))
        assert out["index_date"].tolist() == [pd.Timestamp(d) if d else pd.NaT for d in dates]
        assert out["in_cohort"].tolist() == [d is not None for d in dates]
    # Rows without an index date stay, with every outcome missing.
    row = one(person_outcomes(export), "never")
    assert not row["in_cohort"] and not row["window_eligible"]
    assert pd.isna(row["duration_days"]) and pd.isna(row["event"])


def test_only_the_counted_event_types_count():
    people = [{"participant_id": "a", "start_date": "2020-01-15"}]
    events = [
        ("a", "order_breach", "2020-02-01", "2020-03-01"),
        ("a", "dv_incident", "2020-03-01", None),
        ("a", "child_protection_referral", "2020-03-01", None),
        ("a", "other_offence", "2020-05-01", "2020-06-01"),
        ("a", "violent_offence", "2020-08-01", "2020-09-01"),
    ]
    export = make_export(people, events)
    row = one(person_outcomes(export), "a")
    assert row["n_offences_in_window"] == 2 and row["days_to_first"] == 107
    violent = one(person_outcomes(export, ReoffendingDefinition(violent_only=True)), "a")
    assert violent["n_offences_in_window"] == 1 and violent["days_to_first"] == 199


def test_windows_are_calendar_months():
    people = [{"participant_id": "leap", "start_date": "2020-02-29"}]
    events = [("leap", "dv_offence", "2022-02-27", "2022-03-01")]
    export = make_export(people, events)
    twelve = one(person_outcomes(export), "leap")
    assert twelve["window_end"] == pd.Timestamp("2021-02-28")
    assert twelve["window_eligible_from"] == pd.Timestamp("2021-08-29")
    assert not twelve["reoffended_in_window"]
    two_years = one(person_outcomes(export, ReoffendingDefinition(window_months=24)), "leap")
    assert two_years["window_end"] == pd.Timestamp("2022-02-28")
    assert two_years["reoffended_in_window"] and two_years["days_to_first"] == 729


def test_events_of_unknown_participants_are_refused():
    export = make_export(
        [{"participant_id": "a", "start_date": "2020-01-15"}],
        [("ghost", "dv_offence", "2020-02-01", "2020-03-01")],
    )
    with pytest.raises(AnalysisError, match="missing from the participants"):
        person_outcomes(export)


# --- fixed_window --------------------------------------------------------------------


@pytest.fixture
def two_groups():
    """Programme: 4 eligible (2 reoffenders with 3 and 1 offences), 1 not yet
    eligible, 1 never started. Comparison: 2 eligible, no reoffences."""
    people = [
        {"participant_id": "p1", "start_date": "2020-01-01"},
        {"participant_id": "p2", "start_date": "2020-01-01"},
        {"participant_id": "p3", "start_date": "2020-01-01"},
        {"participant_id": "p4", "start_date": "2020-01-01"},
        {"participant_id": "p5", "start_date": "2024-01-01"},
        {"participant_id": "p6", "referral_date": "2020-01-01"},
        {"participant_id": "c1", "group": "comparison", "index_date": "2020-01-01"},
        {"participant_id": "c2", "group": "comparison", "index_date": "2020-01-01"},
    ]
    events = [
        ("p1", "dv_offence", "2020-01-11", "2020-02-01"),
        ("p1", "dv_offence", "2020-03-01", "2020-04-01"),
        ("p1", "other_offence", "2020-05-01", "2020-06-01"),
        ("p2", "violent_offence", "2020-01-31", "2020-02-10"),
        ("p5", "dv_offence", "2024-02-01", "2024-03-01"),
    ]
    return make_export(people, events)


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson (1927) score interval, written out."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_fixed_window_by_group(two_groups):
    table = fixed_window(two_groups, by="group")
    assert list(table.columns) == ["group", *FIXED_WINDOW_COLUMNS]
    row = table.set_index("group").loc["programme"]
    assert row[["n_in_cohort", "n_eligible", "n_not_yet_eligible", "n_reoffenders"]].tolist() == [
        5,
        4,
        1,
        2,
    ]
    low, high = wilson(2, 4)
    assert row["rate"] == 0.5
    assert row["ci_low"] == pytest.approx(low, abs=1e-12)
    assert row["ci_high"] == pytest.approx(high, abs=1e-12)
    assert row["per_100"] == 50.0
    assert row["per_100_ci_low"] == pytest.approx(100 * low, abs=1e-10)
    assert row["n_offences"] == 4
    assert row["offences_per_person"] == 1.0 and row["offences_per_reoffender"] == 2.0
    assert row["mean_days_to_first"] == 20.0 and row["median_days_to_first"] == 20.0
    comparison = table.set_index("group").loc["comparison"]
    assert comparison["n_reoffenders"] == 0 and comparison["rate"] == 0.0
    assert np.isnan(comparison["offences_per_reoffender"])
    assert np.isnan(comparison["mean_days_to_first"])


def test_fixed_window_overall_is_one_row_without_grouping_columns(two_groups):
    table = fixed_window(two_groups)
    assert list(table.columns) == FIXED_WINDOW_COLUMNS
    assert table.loc[0, ["n_in_cohort", "n_eligible", "n_reoffenders"]].tolist() == [7, 6, 2]


def test_fixed_window_of_a_group_with_nobody_eligible_has_no_rate(two_groups):
    table = fixed_window(two_groups, by="start_date").set_index("start_date")
    late = table.loc[pd.Timestamp("2024-01-01")]
    assert late["n_eligible"] == 0 and late["n_not_yet_eligible"] == 1
    assert np.isnan(late["rate"]) and np.isnan(late["ci_low"])


def test_an_outcome_table_is_reused_only_with_its_own_definition(two_groups):
    outcomes = person_outcomes(two_groups)
    assert fixed_window(outcomes).equals(fixed_window(two_groups))
    with pytest.raises(ConfigError, match="definition differs"):
        fixed_window(outcomes, definition=ReoffendingDefinition(window_months=24))
    with pytest.raises(ConfigError, match="lacks column"):
        fixed_window(outcomes.drop(columns="window_eligible"))
    with pytest.raises(ConfigError, match="unknown column"):
        fixed_window(outcomes, by="nonexistent")


# --- seriousness and disposal ----------------------------------------------------


@pytest.fixture
def graded():
    """Two men starting 2020-01-15, each offence proven a month later.
    a: general (Feb, fine), serious (Apr, community sentence), very serious
    (Jun, custody); b: serious (Mar, custody), a breach (never counted) with
    custody, an offence with no seriousness or disposal recorded (May)."""
    people = [
        {"participant_id": "a", "start_date": "2020-01-15"},
        {"participant_id": "b", "start_date": "2020-01-15"},
    ]
    events = [
        ("a", "dv_offence", "2020-02-01", "2020-03-01"),
        ("a", "other_offence", "2020-04-01", "2020-05-01"),
        ("a", "violent_offence", "2020-06-01", "2020-07-01"),
        ("b", "dv_offence", "2020-03-01", "2020-04-01"),
        ("b", "order_breach", "2020-02-01", "2020-02-20"),
        ("b", "other_offence", "2020-05-01", "2020-06-01"),
    ]
    export = make_export(people, events)
    export.events["seriousness"] = pd.Categorical(
        ["general", "serious", "very_serious", "serious", "very_serious", None],
        categories=["general", "serious", "very_serious"],
        ordered=True,
    )
    export.events["disposal"] = pd.Categorical(
        ["fine", "community_sentence", "custody", "custody", "custody", None],
        categories=["custody", "community_sentence", "fine", "caution", "other"],
    )
    return export


def counts(export, **selection) -> dict[str, tuple[int, int]]:
    """(offences in the window, days to the first) per man."""
    table = person_outcomes(export, ReoffendingDefinition(**selection))
    return {
        pid: (int(row["n_offences_in_window"]), row["days_to_first"])
        for pid, row in table.set_index("participant_id").iterrows()
    }


def test_general_reoffending_counts_every_offence_whatever_its_seriousness(graded):
    expected = {"a": (3, 17), "b": (2, 46)}
    assert counts(graded) == expected
    assert counts(graded, seriousness="general") == expected


def test_serious_means_serious_or_worse(graded):
    with pytest.warns(DataQualityWarning, match="1 of 5 offences have no seriousness"):
        assert counts(graded, seriousness="serious") == {"a": (2, 77), "b": (1, 46)}


def test_very_serious_counts_only_the_most_serious(graded):
    with pytest.warns(DataQualityWarning):
        got = counts(graded, seriousness="very_serious")
    assert got["a"] == (1, 138)
    assert got["b"][0] == 0 and pd.isna(got["b"][1])


def test_reoffending_leading_to_custody_counts_custodial_disposals_only(graded):
    """b's breach led to custody but breaches never count."""
    with pytest.warns(DataQualityWarning, match="no disposal recorded"):
        assert counts(graded, disposal="custody") == {"a": (1, 138), "b": (1, 46)}
    with pytest.warns(DataQualityWarning):
        both = counts(graded, disposal=["custody", "community_sentence"])
    assert both == {"a": (2, 77), "b": (1, 46)}


def test_seriousness_and_disposal_combine(graded):
    with pytest.warns(DataQualityWarning):
        got = counts(graded, seriousness="serious", disposal="community_sentence")
    assert got["a"] == (1, 77) and got["b"][0] == 0


def test_selecting_on_a_column_the_export_does_not_record_is_refused(graded):
    graded.events["disposal"] = pd.Categorical([None] * 6, categories=["custody"])
    with pytest.raises(AnalysisError, match="no offence in the events records a disposal"):
        person_outcomes(graded, ReoffendingDefinition(disposal="custody"))
    without = make_export([{"participant_id": "a", "start_date": "2020-01-15"}], [])
    assert counts(without, seriousness="serious")["a"][0] == 0
