"""Typing raw columns: dates, numbers, booleans, categories, and which values are unreadable."""

import numpy as np
import pandas as pd
import pytest

from cdanalytics.io.coerce import THOUSANDS_SEPARATOR, NumberFormat, coerce


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


# -- thousands separators and declared number formats ----------------------------------------


def test_a_count_with_a_thousands_separator_is_flagged_not_guessed():
    out = coerce(text(["1,000", "1.000", "12", "1,234,567", "12,0", None]), "integer")
    assert out.series.tolist()[2] == 12
    assert out.series.tolist()[4] == 12
    assert out.series.isna().tolist() == [True, True, False, True, False, True]
    assert out.flags[THOUSANDS_SEPARATOR].tolist() == [True, True, False, True, False, False]
    assert not out.bad.any()


def test_decimal_commas_in_numbers_are_still_read():
    out = coerce(text(["12,5", "1.234,5"]), "number")
    assert out.series.tolist() == [12.5, 1234.5]
    assert out.flags == {}


@pytest.mark.parametrize(
    ("fmt", "raw", "expected", "bad"),
    [
        (NumberFormat(",", "."), ["1.000", "1.234,5", "12,5", "7"], [1000, 1234.5, 12.5, 7], []),
        (NumberFormat(",", "."), ["12.5", "1.00"], [None, None], [0, 1]),
        (NumberFormat(".", ","), ["1,000", "1,234.5", "0.25"], [1000, 1234.5, 0.25], []),
        (NumberFormat(".", None), ["1,000", "1000"], [None, 1000], [0]),
        (NumberFormat(",", " "), ["1 000,5", "-3"], [1000.5, -3], []),
    ],
)
def test_a_declared_number_format_is_read_exactly(fmt, raw, expected, bad):
    out = coerce(text(raw), "number", number_format=fmt)
    got = [None if pd.isna(v) else v for v in out.series]
    assert got == expected
    assert np.flatnonzero(out.bad).tolist() == bad


def test_a_declared_format_reads_counts_with_thousands():
    out = coerce(text(["1.000", "12"]), "integer", number_format=NumberFormat(",", "."))
    assert out.series.tolist() == [1000, 12]
    assert out.flags == {}


def test_identifiers_are_trimmed_and_counted():
    out = coerce(text([" P1", "P2 ", "P3", "\tP4", "   ", None]), "string")
    assert out.series.tolist()[:4] == ["P1", "P2", "P3", "P4"]
    assert out.series.isna().tolist()[4:] == [True, True]
    assert out.trimmed == 4
    assert coerce(text(["P1", "P2"]), "string").trimmed == 0


@pytest.mark.parametrize(("type_", "dtype"), [("integer", np.int64), ("number", np.float64)])
def test_numbers_are_copied_unless_the_column_is_taken_over(type_, dtype):
    def numbers(typed: pd.Series) -> np.ndarray:
        return typed.array._data if type_ == "integer" else typed.array._ndarray

    frame = pd.DataFrame({"x": np.arange(1, 7, dtype=dtype), "y": np.arange(6, dtype=dtype)})
    source = frame["x"]
    kept = coerce(source, type_).series
    taken = coerce(frame["x"], type_, take_over=True).series
    for typed in (kept, taken):
        assert typed.tolist() == [1, 2, 3, 4, 5, 6]
        assert numbers(typed).flags.writeable
    # without take_over: a copy, so an edit of the typed column leaves the source alone
    assert not np.shares_memory(numbers(kept), source.to_numpy())
    kept.iloc[0] = 99
    assert source.tolist() == [1, 2, 3, 4, 5, 6]
    # taken over: the typed column is the source's memory (not copied), and editable
    assert np.shares_memory(numbers(taken), source.to_numpy())
    taken.iloc[1] = 50
    assert taken.tolist() == [1, 50, 3, 4, 5, 6]
    assert frame["y"].tolist() == [0, 1, 2, 3, 4, 5]


def test_taking_over_memory_numpy_cannot_write_copies_it():
    values = np.arange(1, 5, dtype=np.int64)
    values.flags.writeable = False
    source = pd.Series(values, copy=False)
    typed = coerce(source, "integer", take_over=True).series
    typed.iloc[0] = 7
    assert typed.tolist() == [7, 2, 3, 4] and values.tolist() == [1, 2, 3, 4]
