"""Redaction and free-text dropping: what may be shown, and what is kept."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdanalytics.errors import FreeTextWarning
from cdanalytics.io.privacy import (
    MAX_SHOWN,
    drop_free_text,
    free_text_columns,
    redact,
    redact_frame,
    value_kind,
)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("j.smith@example.org", "an e-mail address"),
        ("ls1 4ap", "a UK or Dutch postcode"),
        ("bel 06-12345678", "a UK or Dutch phone number"),
        ("AB 12 34 56 C", "a National Insurance number"),
        ("111222333", "a Dutch citizen service number (BSN)"),
        ("12345672", "a Dutch citizen service number (BSN)"),  # 012345672 lost its 0
        ("943 476 5919", "an NHS or CHI number"),
        ("Pieter Jansen", "a person's name"),
        ("OKOYE, Xander", "a person's name"),
        ("verhuisd, met Sarah Okafor gesproken", "a person's name"),
        ("12 High Street", "a street address"),
    ],
)
def test_values_that_look_like_identifiers_are_replaced_saying_why(value, why):
    assert redact([value]).tolist() == [f"[redacted: looks like {why}]"]


def test_ordinary_values_are_shown_as_they_are():
    values = ["probation", "P000123", "2024-13-01", "Moved to another area", "many", "7"]
    assert redact(values).tolist() == values


def test_long_values_are_cut_with_their_length_and_missing_values_stay_missing():
    long = "x" * 10_485_760
    shown = redact(pd.Series([long, None, "short"], index=[5, 6, 7]))
    assert shown.index.tolist() == [5, 6, 7]
    assert shown.iloc[0] == "x" * MAX_SHOWN + "… [cut, 10,485,760 characters]"
    assert shown.iloc[1] is None and shown.iloc[2] == "short"


def test_an_identifier_straddling_the_cut_is_still_hidden():
    value = "y" * 75 + " j.smith@example.org " + "y" * 1000
    assert redact([value]).tolist() == ["[redacted: looks like an e-mail address]"]


def test_every_value_of_a_column_named_like_an_identifier_is_replaced():
    shown = redact(["harmless", "also harmless", None], columns=["telefoon", "site", "telefoon"])
    assert shown.tolist() == [
        "[redacted: the column looks like a phone number column]",
        "also harmless",
        None,
    ]


def test_value_kind_reads_only_the_start_of_a_long_value():
    assert value_kind("a" * 5_000 + " j.smith@example.org") is None


def test_quarantine_frames_are_redacted_but_keep_dates_flags_and_own_columns():
    frame = pd.DataFrame(
        {
            "source_row": [2, 3],
            "participant_id": ["P001", "P002"],
            "referral_source": pd.Categorical(["Pieter Jansen", "probation"]),
            "case_number": [111222333, 5],
            "start": pd.to_datetime(["2024-01-01", None]),
            "assessed": [True, False],
            "quarantine_reason": ["allowed (referral_source '[redacted]')", "x"],
        }
    )
    out = redact_frame(frame, keep=("source_row", "quarantine_reason"))
    assert out["referral_source"].tolist() == [
        "[redacted: looks like a person's name]",
        "probation",
    ]
    assert out["case_number"].tolist() == [
        "[redacted: looks like a Dutch citizen service number (BSN)]",
        "5",
    ]
    assert out["participant_id"].tolist() == ["P001", "P002"]
    for column in ("source_row", "start", "assessed", "quarantine_reason"):
        pd.testing.assert_series_equal(out[column], frame[column])


# --- free text -----------------------------------------------------------------------


def test_the_contract_marks_the_reason_columns_as_free_text():
    assert free_text_columns("participants") == ["exclusion_reason", "exit_reason"]
    assert free_text_columns("sessions") == []


@pytest.mark.parametrize("categorical", [False, True])
def test_free_text_is_dropped_codes_and_mapped_labels_are_kept(categorical):
    reasons = ["moved_away", "Met Pieter Jansen gesproken", None, "Verhuisd", "gestopt", "Verhuisd"]
    column = pd.Categorical(reasons) if categorical else pd.Series(reasons, dtype="str")
    frame = pd.DataFrame({"participant_id": list("abcdef"), "exit_reason": column})
    with pytest.warns(FreeTextWarning) as caught:
        out, notes = drop_free_text(
            frame,
            table="participants",
            file="deelnemers.csv",
            labels={"exit_reason": {"gestopt": "dropped_out"}},
            source_names={"exit_reason": "uitstroomreden"},
        )
    kept = out["exit_reason"].astype(object).where(out["exit_reason"].notna(), None).tolist()
    assert kept == ["moved_away", None, None, None, "gestopt", None]
    assert notes == [str(caught[0].message)]
    assert notes[0].startswith(
        "deelnemers.csv, column uitstroomreden (exit_reason): 3 free-text value(s) dropped"
    )
    assert "Pieter" not in notes[0] and "Verhuisd" not in notes[0]
    assert frame["exit_reason"].notna().sum() == 5  # the input is not changed


def test_declared_safe_free_text_is_kept_whole_without_a_warning():
    frame = pd.DataFrame({"exit_reason": ["Moved to another area", "moved_away"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, notes = drop_free_text(frame, table="participants", file="p.csv", safe=["exit_reason"])
    assert notes == [] and out["exit_reason"].tolist() == frame["exit_reason"].tolist()


def test_a_table_without_free_text_columns_is_returned_as_it_is():
    frame = pd.DataFrame({"session_type": ["Group Session"], "n": [np.int64(1)]})
    out, notes = drop_free_text(frame, table="sessions", file="s.csv")
    assert out is frame and notes == []


# --- properties ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=400), min_size=1, max_size=20))
def test_redaction_never_fails_and_never_shows_more_than_the_cut(values):
    shown = redact(values)
    assert len(shown) == len(values)
    for value, text in zip(values, shown, strict=True):
        assert isinstance(text, str)
        assert len(text) <= MAX_SHOWN + len(f"… [cut, {len(value):,} characters]")
        assert text == value or text.startswith(("[redacted: ", value[:MAX_SHOWN]))


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=" abcxyz.,;-", max_size=60), st.text(alphabet=" abcxyz.,;-", max_size=60))
def test_an_e_mail_address_anywhere_in_the_shown_part_is_hidden(before, after):
    value = f"{before} j.smith@example.org {after}"
    assert redact([value]).tolist() == ["[redacted: looks like an e-mail address]"]
