"""Typing raw columns: dates, numbers, booleans, categories, and which values are unreadable."""

import numpy as np
import pandas as pd
import pytest

from cdanalytics.io.coerce import coerce


def text(values):
    return pd.Series(values, dtype="str")


def dates(values):
    return [None if pd.isna(v) else v.strftime("%Y-%m-%d") for v in values]


# -- dates ----------------------------------------------------------------------------------


def test_iso_dates_are_read_and_times_dropped():
    out = coerce(text(["2024-12-31", "2024-01-05 10:30:00", "2024-02-29T08:00", None]), "date")
    assert dates(out.series) == ["2024-12-31", "2024-01-05", "2024-02-29", None]
    assert not out.bad.any()
    assert out.note is None


def test_a_first_field_above_12_makes_the_whole_column_day_first():
    out = coerce(text(["31-12-2024", "05-06-2024", "01/02/2024", "07.08.2024"]), "date")
    assert dates(out.series) == ["2024-12-31", "2024-06-05", "2024-02-01", "2024-08-07"]
    assert out.note.startswith("day-first")


def test_a_second_field_above_12_and_no_first_makes_it_month_first():
    out = coerce(text(["12-31-2024", "05-06-2024"]), "date")
    assert dates(out.series) == ["2024-12-31", "2024-05-06"]
    assert out.note.startswith("month-first")


def test_undecidable_day_month_order_is_day_first_and_said_so():
    out = coerce(text(["05-06-2024", "01-02-2024"]), "date")
    assert dates(out.series) == ["2024-06-05", "2024-02-01"]
    assert "cannot be told apart" in out.note


def test_a_column_mixing_both_orders_is_day_first_and_the_rest_is_unreadable():
    out = coerce(text(["31-12-2024", "12-31-2024", "2024-03-01"]), "date")
    assert dates(out.series) == ["2024-12-31", None, "2024-03-01"]
    assert out.bad.tolist() == [False, True, False]


def test_impossible_and_garbled_dates_are_unreadable_not_shifted():
    raw = ["2024-02-30", "31-04-2024", "yesterday", "24-12-31", "", None]
    out = coerce(text(raw), "date")
    assert out.series.isna().all()
    assert out.bad.tolist() == [True, True, True, True, False, False]


def test_a_mapping_date_format_overrides_the_guess_but_iso_still_reads():
    out = coerce(text(["05-06-2024", "2024-07-01"]), "date", date_format="%m-%d-%Y")
    assert dates(out.series) == ["2024-05-06", "2024-07-01"]


def test_typed_datetimes_are_normalised_to_midnight():
    raw = pd.Series(pd.to_datetime(["2024-01-05 13:45", None]))
    out = coerce(raw, "date")
    assert dates(out.series) == ["2024-01-05", None]
    assert out.series.iloc[0] == pd.Timestamp("2024-01-05")


def test_numbers_in_a_date_column_are_unreadable():
    out = coerce(pd.Series([45000.0, np.nan]), "date")
    assert out.bad.tolist() == [True, False]


# -- numbers --------------------------------------------------------------------------------


def test_decimal_commas_and_points_are_both_read():
    out = coerce(text(["12,5", "1.234,5", "7.25", "-3", None]), "number")
    assert out.series.tolist()[:4] == [12.5, 1234.5, 7.25, -3.0]
    assert np.isnan(out.series.iloc[4])
    assert "decimal commas" in out.note


def test_text_and_infinite_numbers_are_unreadable():
    out = coerce(text(["x", "inf", "1e3"]), "number")
    assert out.bad.tolist() == [True, True, False]
    assert out.series.iloc[2] == 1000.0


def test_integers_must_be_whole():
    out = coerce(text(["12", "12,0", "3.5", "x", None]), "integer")
    assert out.series.dtype == "Int64"
    assert out.series.tolist() == [12, 12, pd.NA, pd.NA, pd.NA]
    assert out.bad.tolist() == [False, False, True, True, False]


def test_float_columns_with_fractions_are_not_integers():
    out = coerce(pd.Series([1.0, 2.5, np.nan]), "integer")
    assert out.series.tolist() == [1, pd.NA, pd.NA]
    assert out.bad.tolist() == [False, True, False]


# -- booleans, categories, strings ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("TRUE", True), ("yes", True), ("1", True), ("n", False), ("False", False)],
)
def test_boolean_spellings(raw, expected):
    out = coerce(text([raw]), "boolean")
    assert out.series.dtype == "boolean"
    assert out.series.iloc[0] == expected


def test_unknown_boolean_labels_are_unreadable_unless_mapped():
    assert coerce(text(["ja", "nee"]), "boolean").bad.all()
    out = coerce(text(["ja", "nee"]), "boolean", labels={"ja": "true", "nee": "false"})
    assert out.series.tolist() == [True, False]


def test_categories_are_stripped_relabelled_and_merged():
    raw = pd.Series([" voltooid", "uitgevallen", "completed", "onbekend", ""]).astype("category")
    labels = {"voltooid": "completed", "uitgevallen": "dropped_out", "onbekend": None}
    out = coerce(raw, "category", labels=labels)
    assert out.series.tolist()[:3] == ["completed", "dropped_out", "completed"]
    assert out.series.iloc[3:].isna().all()
    assert sorted(out.series.cat.categories) == ["completed", "dropped_out"]


def test_numeric_codes_become_text_labels_without_decimals():
    out = coerce(pd.Series([2023.0, np.nan, 2024.0]), "category")
    assert out.series.tolist()[::2] == ["2023", "2024"]


def test_identifiers_stay_text_with_leading_zeros():
    out = coerce(pd.Series(["007", "010"]).astype("category"), "string")
    assert out.series.tolist() == ["007", "010"]
    assert out.series.dtype == "str"
