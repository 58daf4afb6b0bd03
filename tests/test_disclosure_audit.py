"""The audit knows that a rate printed with its base is its numerator."""

from __future__ import annotations

import pandas as pd
import pytest

from cdanalytics.disclosure import numerators_from_rates


def test_a_full_precision_rate_and_its_base_give_the_numerator():
    published = pd.DataFrame({"rate": [5 / 20, 47 / 102, float("nan")], "n": [20, 102, 30]})
    found = numerators_from_rates(published, "rate", "n")
    assert found.tolist()[:2] == [5, 47]
    assert found.isna().tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("rate", "base", "decimals", "expected"),
    [
        (0.25, 20, 2, 5),  # 0.245..0.255 x 20 = 4.9..5.1: only 5
        (0.5, 400, 1, None),  # 0.45..0.55 x 400 = 180..220: many
        (0.46, 102, 2, 47),  # 0.455..0.465 x 102 = 46.4..47.4: only 47
    ],
)
def test_printed_digits_widen_the_interval(rate, base, decimals, expected):
    published = pd.DataFrame({"rate": [rate], "n": [base]})
    found = numerators_from_rates(published, "rate", "n", decimals=decimals).iloc[0]
    assert (None if pd.isna(found) else int(found)) == expected


def test_a_rate_per_100_is_scaled():
    published = pd.DataFrame({"per_100": [15.068493150684931], "n": [73]})
    assert numerators_from_rates(published, "per_100", "n", scale=100).iloc[0] == 11


def test_a_withheld_base_gives_nothing():
    published = pd.DataFrame({"rate": [0.25], "n": pd.array([pd.NA], dtype="Int64")})
    assert numerators_from_rates(published, "rate", "n").isna().all()
