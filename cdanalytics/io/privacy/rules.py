"""Which content rules each value meets: one vectorised pass shared by scan and redaction.

:func:`rule_masks` applies every content pattern of :mod:`.patterns` and the
name rules of :mod:`.names` to a series of distinct values and returns one
boolean column per rule. The guard (:mod:`.scan`) counts them per column;
redaction (:mod:`.redact`) takes the first rule each value meets. Cheap
character searches pick the values worth each full pattern: every rule but
the names needs a digit (an e-mail address an ``@``), and a name needs two
words. They run once over the Arrow array of the values
(:mod:`.prefilter`), as do tests that leave out values a pattern cannot
match, so the Python patterns see only the values that may match.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from . import prefilter
from .names import contains_person_name
from .patterns import (
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

__all__ = ["RULE_COLUMNS", "rule_masks"]

#: Columns of :func:`rule_masks`, in the order redaction tries them.
RULE_COLUMNS: tuple[str, ...] = (
    *(kind for kind, _, _ in STRONG_RULES),
    "bsn",
    "nhs_number",
    "name_in_text",
    "name_shape",
    "address",
    "bsn_candidate",
    "nhs_number_candidate",
)

_DIGIT = re.compile(r"[0-9]")
_PURE_NUMBER = re.compile(r"[ \t]{0,8}+\d{8,10}+[ \t]{0,8}+")
#: Every form of :data:`~.patterns.NUMBER_CANDIDATE` holds one of these.
_NUMBER_RUN = re.compile(r"\d{8}|\d{3}[ .-]\d{2,3}[ .-]\d{3}")
_TWO_WORDS = re.compile(r"[^\W\d_][^\w]{1,8}+[^\W\d_]")  # a letter, a separator, a letter


#: Fewest values for which the cheap tests run over an Arrow array.
_ARROW_FROM = 64


def _each(test, values) -> np.ndarray:
    """``test(value)`` (truthy or not) for each value, as booleans."""
    return np.fromiter(map(bool, map(test, values)), dtype=bool, count=len(values))


def _on(values: np.ndarray, where: np.ndarray, test) -> np.ndarray:
    """``test(value)`` for each value where ``where`` holds, False elsewhere."""
    out = np.zeros(len(values), dtype=bool)
    if where.any():
        out[where] = _each(test, values[where])
    return out


def _numbers(
    values: np.ndarray, pure_maybe: np.ndarray, run_maybe: np.ndarray
) -> dict[str, np.ndarray]:
    """Per value: holds a 9-/10-digit candidate, and holds one passing its check.

    Values that are nothing but 8 to 10 digits (the common case: a column
    of numbers) are taken whole; other values holding a long enough run of
    digits are searched.
    """
    found: dict[int, tuple[list, list]] = {9: ([], []), 10: ([], [])}
    pure = _on(values, pure_maybe, _PURE_NUMBER.fullmatch)
    for position in np.flatnonzero(pure):
        digits = values[position].strip()
        if len(digits) == 8:
            digits = "0" + digits  # a BSN that lost its leading 0
        found[len(digits)][0].append(position)
        found[len(digits)][1].append(digits)
    searched = _on(values, ~pure & run_maybe, _NUMBER_RUN.search)
    for position in np.flatnonzero(searched):
        for width, numbers in number_candidates(values[position]).items():
            found[width][0].extend([position] * len(numbers))
            found[width][1].extend(numbers)
    out = {}
    for width, kind, validator in (
        (9, "bsn", is_valid_bsn),
        (10, "nhs_number", is_valid_nhs_number),
    ):
        positions, numbers = found[width]
        candidate = np.zeros(len(values), dtype=bool)
        valid = np.zeros(len(values), dtype=bool)
        if numbers:
            candidate[positions] = True
            passed = validator(pd.Series(numbers, dtype=object)).to_numpy(dtype=bool)
            valid[np.asarray(positions)[passed]] = True
        out[f"{kind}_candidate"], out[kind] = candidate, valid
    return out


def rule_masks(values: pd.Series) -> pd.DataFrame:
    """Which content rules each value meets.

    Parameters
    ----------
    values
        Text values (object dtype, no missing values), typically distinct
        and stripped.

    Returns
    -------
    pandas.DataFrame
        Boolean, one row per value (same index), columns
        :data:`RULE_COLUMNS`: a strong pattern (``email``, ``postcode``,
        ``phone``, ``ni_number``) occurs; a number passing the BSN 11-test
        (``bsn``, also 8 digits with the leading 0 restored) or the NHS
        mod-11 check (``nhs_number``) occurs; a person's name by the rules of
        :mod:`.names` occurs (``name_in_text``); the whole value is shaped
        like "Firstname Lastname" or "SURNAME, Firstname" with no stop word
        (``name_shape``); a street address occurs in the first
        :data:`~.patterns.WEAK_SCAN_CHARS` characters (``address``); a
        9- or 10-digit number occurs at all (``bsn_candidate``,
        ``nhs_number_candidate``).
    """
    index = values.index
    values = np.asarray(values, dtype=object)
    # A few values (a column's name) are tested in Python at once: building the
    # Arrow array costs more than it saves.
    text = prefilter.arrow_text(values) if len(values) >= _ARROW_FROM else None
    if text is None:  # few values, or values Arrow cannot hold: every test in Python
        digit = _each(_DIGIT.search, values)
        at = _each(lambda v: "@" in v, values)
        short = _each(lambda v: len(v) <= POSTCODE_WHOLE_MAX, values)
    else:
        digit = prefilter.has_ascii_digit(text)
        at = prefilter.contains(text, "@")
        short = prefilter.is_short(text, POSTCODE_WHOLE_MAX)

    def maybe(rule: str) -> np.ndarray:
        """The *maybe* test of ``rule`` (:mod:`.prefilter`); all true without Arrow."""
        return np.ones(len(values), dtype=bool) if text is None else prefilter.maybe(text, rule)

    out: dict[str, np.ndarray] = {}
    for kind, pattern, _ in STRONG_RULES:
        where = at if kind == "email" else digit
        if kind == "postcode":
            where = where & maybe("postcode")
        out[kind] = _on(values, where, pattern.search)
    out["postcode"] |= _on(
        values, digit & short & maybe("postcode_whole"), POSTCODE_WHOLE.fullmatch
    )
    numbers = _numbers(values[digit], maybe("pure_number")[digit], maybe("number_run")[digit])
    for key, mask in numbers.items():
        out[key] = np.zeros(len(values), dtype=bool)
        out[key][digit] = mask
    words = _on(values, maybe("two_words"), _TWO_WORDS.search)
    out["name_in_text"] = _on(values, words, contains_person_name)
    shaped = _on(values, words, NAME_SHAPE.fullmatch)
    out["name_shape"] = _on(
        values,
        shaped,
        lambda v: NAME_STOP_WORDS.isdisjoint(w.lower() for w in WORD_TOKEN.findall(v)),
    )
    out["address"] = _on(
        values, digit & maybe("address"), lambda v: ADDRESS.search(v, 0, WEAK_SCAN_CHARS)
    )
    return pd.DataFrame({c: out[c] for c in RULE_COLUMNS}, index=index)
