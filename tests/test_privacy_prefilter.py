"""The vectorised prefilters of the identifier scan find what the Python patterns find.

:mod:`cdanalytics.io.privacy.prefilter` replaces three per-value Python tests
by Arrow ones that must give the same answers, and puts an RE2 test in front
of six Python patterns that must be true wherever the pattern matches. Both
are checked here on adversarial values: Unicode digits (Arabic-Indic,
fullwidth, superscripts), Unicode spaces, letters that fold to ASCII ones
under ``IGNORECASE`` (the Kelvin sign, the long s, the dotless i), ``@`` in
odd places, very long and empty-ish values, and thousands of random strings
drawn from those characters. Then :func:`~cdanalytics.io.privacy.rules.rule_masks`
is compared with an independent per-value implementation (every Python
pattern applied to every value, the guard's rules before the prefilters),
including values Arrow cannot hold.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from cdanalytics.io.privacy import prefilter, rules
from cdanalytics.io.privacy.names import contains_person_name
from cdanalytics.io.privacy.patterns import (
    ADDRESS,
    NAME_SHAPE,
    NAME_STOP_WORDS,
    POSTCODE_WHOLE,
    POSTCODE_WHOLE_MAX,
    STRONG_RULES,
    WEAK_SCAN_CHARS,
    WORD_TOKEN,
    is_valid_bsn,
    is_valid_nhs_number,
    number_candidates,
)

_STRONG = {kind: pattern for kind, pattern, _ in STRONG_RULES}

#: The Python test each *maybe* prefilter stands in front of.
PYTHON = {
    "postcode": _STRONG["postcode"].search,
    "postcode_whole": POSTCODE_WHOLE.fullmatch,
    "pure_number": rules._PURE_NUMBER.fullmatch,
    "number_run": rules._NUMBER_RUN.search,
    "two_words": rules._TWO_WORDS.search,
    "address": lambda v: ADDRESS.search(v, 0, WEAK_SCAN_CHARS),
}

ARABIC = "٠١٢٣٤٥٦٧٨٩"  # Arabic-Indic digits: Python's \d matches them
FULLWIDTH = "０１２３４５６７８９"
KELVIN, LONG_S, DOTLESS_I = "\u212a", "\u017f", "\u0131"  # fold to k, s, i

#: Values made to hit each rule, most of them through a character beyond ASCII.
CRAFTED = [
    # postcodes inside text and whole, with Unicode digits and spaces
    "LS1 4AP",
    "ls1 4ap",
    "1234 AB",
    "1234AB",
    "1234\u00a0AB",
    "1234\tAB",
    "x 1234\nAB",
    "1234\x1cAB",
    "1234\x1fab",
    "1234\u2003ab",
    "x 1234\u3000AB y",
    "LS1\u20284AP",
    "LS1 " + ARABIC[4] + "AP",
    "12" + ARABIC[3] + "4 AB",
    "1" + FULLWIDTH[2:5] + " AB",
    "ls1 4a" + KELVIN,
    "1234 a" + KELVIN,
    "1234 " + LONG_S + "t",
    "1234 " + DOTLESS_I + "j",
    "LS1 4AP" + "\u00a0" * 3,
    "\t1234 AB ",
    "EC1A 1BB",
    # numbers: pure, with Unicode digits, grouped, in text
    "123456782",
    "12345678",
    " 1234567" + ARABIC[8] + " ",
    "\t" * 8 + "123456782",
    "\t" * 9 + "123456782",
    "9434765919",
    "943 476 5919",
    "943-476-5919",
    "x1 " + ARABIC * 1,
    "id 1" + FULLWIDTH[:8],
    "12.34.567",
    "1234.56.782",
    "123 45 678",
    "12 345 6789",
    "1" + "\u00b2" * 9,
    "1" + "²³¹" * 4,  # superscripts are not decimal digits
    "0123456789" + ARABIC,
    # phones
    "020 7946 0958",
    "+44 20 7946 0958",
    "0031 20 123 4567",
    "+31 (0) 20 123 4567",
    "06-12345678",
    # NI numbers
    "AB 12 34 56 C",
    "QQ123456C",
    # e-mail addresses and odd '@'
    "jan@example.nl",
    "@",
    "@@",
    "a@",
    "@b.nl",
    "x @ y.com",
    "mail:\u00e9l\u00e9onore@exemple.fr",
    "1@2.3",
    "a@b.c@d.nl",
    # names and two words
    "Jan Jansen",
    "JANSEN, Jan",
    "van der Berg, J.",
    "\u00c9lodie Dupont",
    "Jan\u00a0Jansen",
    "J. de Vries",
    "a_b",
    "a1b",
    "ab",
    "a-b",
    "\u00e9\u00a0\u00e9",
    "Jan  Jansen 12",
    # addresses
    "12 High Street",
    "Flat 2, 7a Mill Lane",
    "Kerkstraat 5",
    "Kerkstraat\t5a",
    "Stationsweg 12-14",
    "1" + ARABIC[2] + " High Street",
    "12\u00a0High Street",
    "x" * 100_001 + " 12 High Street",
    "12 High Street " + "x" * 200_000,
    # long and empty-ish
    "1" * 100_000,
    ARABIC * 10_000,
    "1 " * 50_000,
    "a@" * 50_000,
    "",
    " ",
    "\t",
    "\u00a0",
    "\n",
    "0",
    "P0000001",
    "P0272645",
]


def _random_values(n: int, seed: int) -> list[str]:
    """Random short strings over the characters the patterns care about."""
    alphabet = list(
        "0123456789ABEKLPSTWZabkls@.-+,() '_\t\n"
        + ARABIC[:4]
        + FULLWIDTH[:3]
        + "²³\u00a0\u2003\u3000\u00e9\u00c9\u00df"
        + KELVIN
        + LONG_S
        + DOTLESS_I
    )
    digits = list("0123456789" + ARABIC[:3])
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        size = int(rng.integers(0, 16))
        pool = digits if rng.random() < 0.3 else alphabet
        out.append("".join(rng.choice(pool, size=size)))
    return out


VALUES = CRAFTED + _random_values(20_000, 7)


@pytest.fixture(scope="module")
def text():
    array = prefilter.arrow_text(np.asarray(VALUES, dtype=object))
    assert array is not None
    return array


def test_exact_tests_equal_python(text):
    digit = np.array([bool(re.search("[0-9]", v)) for v in VALUES])
    at = np.array(["@" in v for v in VALUES])
    short = np.array([len(v) <= POSTCODE_WHOLE_MAX for v in VALUES])
    np.testing.assert_array_equal(prefilter.has_ascii_digit(text), digit)
    np.testing.assert_array_equal(prefilter.contains(text, "@"), at)
    np.testing.assert_array_equal(prefilter.is_short(text, POSTCODE_WHOLE_MAX), short)
    # the values tell the answers apart: some Unicode-only digits, some of each
    assert 0 < digit.sum() < len(VALUES) and at.sum() > 0 and (~short).sum() > 0
    assert any(not d and re.search(r"\d", v) for d, v in zip(digit, VALUES, strict=True))


def test_every_maybe_test_has_its_python_pattern_here():
    assert set(PYTHON) == set(prefilter.MAYBE)


@pytest.mark.parametrize("rule", sorted(PYTHON))
def test_maybe_holds_wherever_the_python_pattern_matches(text, rule):
    found = np.array([PYTHON[rule](v) is not None for v in VALUES])
    maybe = prefilter.maybe(text, rule)
    missed = [v[:40] for v, f, m in zip(VALUES, found, maybe, strict=True) if f and not m]
    assert missed == []
    # the test has teeth: the pattern matches, among others, values with
    # characters beyond ASCII, and the prefilter leaves values out
    assert found.any() and not maybe.all()
    assert any(f and not v.isascii() for v, f in zip(VALUES, found, strict=True)), rule


def _each(test, values) -> np.ndarray:
    return np.array([bool(test(v)) for v in values], dtype=bool)


def _reference_masks(values: list[str]) -> pd.DataFrame:
    """Every Python pattern on every value: the rules without prefilters."""
    digit = _each(lambda v: re.search("[0-9]", v), values)
    out = {kind: _each(pattern.search, values) for kind, pattern, _ in STRONG_RULES}
    out["email"] &= _each(lambda v: "@" in v, values)
    for kind in ("postcode", "phone", "ni_number"):
        out[kind] &= digit
    whole = _each(POSTCODE_WHOLE.fullmatch, values)
    out["postcode"] |= digit & whole & _each(lambda v: len(v) <= POSTCODE_WHOLE_MAX, values)
    n = len(values)
    candidate = {9: np.zeros(n, bool), 10: np.zeros(n, bool)}
    valid = {9: np.zeros(n, bool), 10: np.zeros(n, bool)}
    checks = {9: is_valid_bsn, 10: is_valid_nhs_number}
    for i, v in enumerate(values):
        if not digit[i]:
            continue
        if rules._PURE_NUMBER.fullmatch(v):
            digits = v.strip()
            found = {len(digits) if len(digits) > 8 else 9: [digits.rjust(9, "0")]}
        elif rules._NUMBER_RUN.search(v):
            found = number_candidates(v)
        else:
            found = {}
        for width, numbers in found.items():
            if numbers:
                candidate[width][i] = True
                valid[width][i] |= bool(checks[width](pd.Series(numbers, dtype=object)).any())
    out["bsn"], out["nhs_number"] = valid[9], valid[10]
    out["bsn_candidate"], out["nhs_number_candidate"] = candidate[9], candidate[10]
    words = _each(rules._TWO_WORDS.search, values)
    out["name_in_text"] = words & _each(contains_person_name, values)
    out["name_shape"] = words & _each(
        lambda v: (
            NAME_SHAPE.fullmatch(v)
            and NAME_STOP_WORDS.isdisjoint(w.lower() for w in WORD_TOKEN.findall(v))
        ),
        values,
    )
    out["address"] = digit & _each(lambda v: ADDRESS.search(v, 0, WEAK_SCAN_CHARS), values)
    return pd.DataFrame({c: out[c] for c in rules.RULE_COLUMNS})


def test_rule_masks_equal_every_pattern_on_every_value():
    got = rules.rule_masks(pd.Series(VALUES, dtype=object))
    expected = _reference_masks(VALUES)
    pd.testing.assert_frame_equal(got, expected)
    assert expected.to_numpy().sum(axis=0).all()  # every rule is met by some value


def test_values_arrow_cannot_hold_go_through_python():
    some = ["1234 AB", "\ud800 12 High Street", "Jan Jansen", "x\udcff@y.nl", "123456782"]
    values = some * (rules._ARROW_FROM // len(some) + 1)  # enough for the Arrow tests
    assert prefilter.arrow_text(np.asarray(values, dtype=object)) is None
    index = list(range(len(values), 0, -1))
    got = rules.rule_masks(pd.Series(values, dtype=object, index=index))
    expected = _reference_masks(values).set_axis(index)
    pd.testing.assert_frame_equal(got, expected)
    assert got["address"].iloc[1] and got["postcode"].iloc[0] and got["bsn"].iloc[4]


@pytest.mark.parametrize("start", [0, 5, 40, 1_000])
def test_a_few_values_are_tested_in_python_alike(start):
    values = VALUES[start : start + 7]
    assert len(values) < rules._ARROW_FROM
    got = rules.rule_masks(pd.Series(values, dtype=object))
    pd.testing.assert_frame_equal(got, _reference_masks(values))
