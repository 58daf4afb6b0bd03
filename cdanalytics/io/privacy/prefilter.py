"""Vectorised character tests that pick the values worth each Python pattern of :mod:`.rules`.

:func:`~.rules.rule_masks` applies Python regular expressions value by value;
most values (identifiers such as ``P0000001``, codes, dates) can be seen not
to match without one Python call each. The tests here run once over the Arrow
array of the values (RE2, in C++, linear time: RE2 never backtracks) and are
of two kinds:

- *exact*: the same answer as the Python test they replace (an ASCII digit,
  an ``@``, the length in code points);
- *maybe*: true for every value the Python pattern matches, and perhaps for
  others; the Python pattern then runs on those values only, so the result
  is the Python pattern's. Each is derived from a part every match of its
  pattern must contain, and is written without Unicode classes: Python's
  ``\\d`` (any Unicode decimal digit) is covered by *an ASCII digit or any
  character beyond ASCII*, its ``\\s`` (and, under ``IGNORECASE``, letters
  such as the Kelvin sign that fold to ASCII ones) by *any one character*
  beyond the ASCII ones named, so RE2's and Python's Unicode tables never
  have to agree. Possessive and atomic parts of a Python pattern only remove
  matches; the plain repetition in the *maybe* pattern keeps them all.

``tests/test_privacy_prefilter.py`` checks each test against its Python
pattern on adversarial values.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["MAYBE", "arrow_text", "contains", "has_ascii_digit", "is_short", "maybe"]

#: Any character Python's ``\d`` may match: an ASCII digit or any character beyond ASCII.
_D = r"[0-9\x{80}-\x{10FFFF}]"
#: Any letter ``[A-Za-z]`` may match under Python's ``IGNORECASE``.
_L = r"[A-Za-z\x{80}-\x{10FFFF}]"

#: RE2 patterns, each matching (somewhere) every value its Python pattern of
#: :mod:`.rules` / :mod:`.patterns` finds, with the part of the Python pattern
#: every match contains.
MAYBE: dict[str, str] = {
    # _POSTCODE: a UK postcode ends "\d[ABD-HJLNP-UW-Z]{2}", a Dutch one
    # "\d{3}\s?[A-EGHJ-NPR-TV-XZ]{2}": a digit, at most one character, two capitals
    "postcode": rf"(?s){_D}.?[A-Z][A-Z]",
    # POSTCODE_WHOLE: the same ends, in any case
    "postcode_whole": rf"(?s){_D}.?{_L}{_L}",
    # _PURE_NUMBER (fullmatch): at most 8 spaces or tabs, then 8 or more digits
    "pure_number": rf"^[ \t]{{0,8}}{_D}{{8}}",
    # _NUMBER_RUN: its two alternatives, with any digit
    "number_run": rf"{_D}{{8}}|{_D}{{3}}[ .-]{_D}{{2,3}}[ .-]{_D}{{3}}",
    # _TWO_WORDS: a letter, 1 to 8 non-word characters, a letter; a non-word
    # character is none of the ASCII word characters
    "two_words": r"[^0-9A-Za-z_]",
    # ADDRESS: both alternatives hold "[ \t]{1,4}+"
    "address": r"[ \t]",
}


def arrow_text(values: np.ndarray) -> pa.Array | None:
    """The values (Python strings, none missing) as an Arrow string array;
    ``None`` when Arrow cannot hold them (a lone surrogate, a value not a string)."""
    try:
        text = pa.array(values, type=pa.string(), from_pandas=False)
    except (pa.ArrowException, UnicodeError, TypeError, ValueError):
        return None
    return None if text.null_count else text


def _booleans(mask: pa.Array) -> np.ndarray:
    return mask.to_numpy(zero_copy_only=False).astype(bool, copy=False)


def has_ascii_digit(text: pa.Array) -> np.ndarray:
    """Exact: whether each value holds an ASCII digit (Python ``re.search("[0-9]", v)``)."""
    return _booleans(pc.match_substring_regex(text, "[0-9]"))


def contains(text: pa.Array, part: str) -> np.ndarray:
    """Exact: whether each value holds ``part`` (Python ``part in v``)."""
    return _booleans(pc.match_substring(text, part))


def is_short(text: pa.Array, most: int) -> np.ndarray:
    """Exact: whether each value has at most ``most`` characters (Python ``len(v) <= most``)."""
    return _booleans(pc.less_equal(pc.utf8_length(text), most))


def maybe(text: pa.Array, rule: str) -> np.ndarray:
    """Whether each value may match the Python pattern of ``rule`` (a key of
    :data:`MAYBE`): false only where it cannot."""
    return _booleans(pc.match_substring_regex(text, MAYBE[rule]))
