"""Person names inside free text, recognised with a list of common NL and UK names.

The list (``cdanalytics/registries/person_names.yaml``) holds a few hundred
of the most common given names and surnames of the Netherlands and the
United Kingdom, from public frequency lists (sources in the file's header).
A text *contains a person's name* when one of these holds, looking at
consecutive words (a word is a run of letters with inner apostrophes or
hyphens; any other character except spaces breaks the sequence):

==========================  ===============================================  ==================
rule                        definition                                       examples
==========================  ===============================================  ==================
given name + word           a listed given name, capitalised, then           "Pieter Xyz",
                            (after at most three particles such as *van*,    "Jan de Vries",
                            *de*, *der*) a capitalised word that is not a    "met Sarah Okafor
                            stop word (places, months, categories, street    gesproken"
                            words: "Victoria Road" is not a name)
initials + surname          one or more initials ("J.", "J.P.") then a       "J. Smith",
                            listed surname (particles allowed)               "P. de Vries"
title + word                Mr, Mrs, Ms, Miss, Mx, Dr, dhr, mevr, mw,        "Mr Smith",
                            meneer, mevrouw, de heer (any case, optional     "mevrouw Bakker"
                            full stop) then a capitalised word that is not
                            a stop word
SURNAME, Given              a capitalised (or all-capital) word, a comma,    "JANSEN, Pieter",
                            then a listed given name, capitalised            "Smith, John"
given name + surname        a listed given name then a listed surname, in    "pieter jansen",
                            any case                                         "JOHN SMITH"
==========================  ===============================================  ==================

Not recognised: a given name or surname on its own ("Pieter moved away",
"spoke to Jansen"), uncommon names not on the list after a given name that is
not on it either ("Xander Okoye"), names written in lower case unless both
parts are listed, and nicknames. Only the first :data:`NAME_SCAN_CHARS`
characters of a value are read for names (every other pattern reads the
whole value).
"""

from __future__ import annotations

import functools
import re
from importlib import resources

import yaml

from .patterns import NAME_STOP_WORDS, WEAK_SCAN_CHARS

# libyaml's parser when installed (the same safe loading, several times faster)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = ["NAME_SCAN_CHARS", "TITLES", "contains_person_name", "person_names"]

#: Characters of a value read by :func:`contains_person_name`.
NAME_SCAN_CHARS = WEAK_SCAN_CHARS

#: Forms of address that precede a surname (lower case, without full stop).
TITLES: frozenset[str] = frozenset(
    ("mr", "mrs", "ms", "miss", "mx", "dr", "dhr", "mevr", "mw", "meneer", "mevrouw", "heer")
)
_PARTICLES = frozenset(
    (
        "van", "von", "de", "der", "den", "te", "ter", "ten", "het", "la", "le", "du", "da",
        "di", "del", "della", "dos", "das", "el", "al", "bin", "ibn", "op", "in", "'t", "vd",
    )
)  # fmt: skip
#: Words, and every other non-space character (or run of digits) as its own token.
_TOKEN = re.compile(r"[^\W\d_]++(?:['’-][^\W\d_]++)*+|\d++|[^\w\s]|_++")


@functools.cache
def person_names() -> tuple[frozenset[str], frozenset[str]]:
    """The given names and surnames of the shipped list, case-folded.

    Returns
    -------
    tuple of frozenset
        ``(given_names, surnames)`` over both countries.

    References
    ----------
    See the header of ``cdanalytics/registries/person_names.yaml``.
    """
    text = resources.files("cdanalytics").joinpath("registries", "person_names.yaml")
    data = yaml.load(text.read_text("utf-8"), Loader=_LOADER)
    given = frozenset(n.casefold() for names in data["given_names"].values() for n in names)
    surnames = frozenset(n.casefold() for names in data["surnames"].values() for n in names)
    return given, surnames


def _capitalised(token: str) -> bool:
    """A word starting with a capital: "Smith", "O'Brien", "JANSEN" (not "A")."""
    return token[0].isupper() and token[0].isalpha() and (len(token) > 1 or token.isalpha())


def _word(token: str) -> bool:
    return token[0].isalpha() or token[0] in "'’"


def _after_particles(tokens: list[str], i: int) -> int:
    """Index of the first token at or after ``i`` that is not a particle (at most 3)."""
    for _ in range(3):
        if i < len(tokens) and tokens[i].casefold() in _PARTICLES and tokens[i].islower():
            i += 1
    return i


def _name_word(token: str) -> bool:
    """A capitalised word that can be a surname (not a stop word or a title)."""
    folded = token.casefold()
    return (
        _word(token)
        and _capitalised(token)
        and len(token) > 1
        and folded not in NAME_STOP_WORDS
        and folded not in TITLES
    )


def _given(token: str, given: frozenset[str]) -> bool:
    folded = token.casefold()
    return folded in given or folded.split("-", 1)[0] in given


def _name_at(tokens: list[str], i: int, given: frozenset[str], surnames: frozenset[str]) -> bool:
    """Whether a name rule (module docstring) matches starting at token ``i``."""
    token = tokens[i]
    n = len(tokens)
    folded = token.casefold()
    if not _word(token):
        return False
    if _given(token, given):
        j = _after_particles(tokens, i + 1)
        if j < n and tokens[j].casefold() in surnames:
            return True  # given name + surname, any case
        if _capitalised(token) and j < n and _name_word(tokens[j]):
            return True  # given name + capitalised word
    if folded in TITLES:
        j = i + 1 + (i + 1 < n and tokens[i + 1] == ".")
        j = _after_particles(tokens, j)
        if j < n and _name_word(tokens[j]):
            return True
    if len(token) == 1 and token.isupper() and i + 1 < n and tokens[i + 1] == ".":
        j = i
        while j + 1 < n and len(tokens[j]) == 1 and tokens[j].isupper() and tokens[j + 1] == ".":
            j += 2
        j = _after_particles(tokens, j)
        if j < n and tokens[j].casefold() in surnames and _capitalised(tokens[j]):
            return True  # initials + surname
    return (
        _name_word(token)
        and i + 2 < n
        and tokens[i + 1] == ","
        and _capitalised(tokens[i + 2])
        and _given(tokens[i + 2], given)
    )  # SURNAME, Given


def contains_person_name(text: str) -> bool:
    """Whether a text contains a person's name by the rules of the module docstring.

    Parameters
    ----------
    text
        Any text; only its first :data:`NAME_SCAN_CHARS` characters are read.

    Returns
    -------
    bool
    """
    given, surnames = person_names()
    tokens = _TOKEN.findall(text[:NAME_SCAN_CHARS])
    folded = {t.casefold() for t in tokens}
    listed = not (
        folded.isdisjoint(given) and folded.isdisjoint(TITLES) and folded.isdisjoint(surnames)
    )
    if not listed and not any(_given(t, given) for t in tokens if "-" in t):
        return False
    return any(_name_at(tokens, i, given, surnames) for i in range(len(tokens)))
