"""Patterns of the privacy guard: identifier column names, identifier contents, check digits.

Every pattern here runs in linear time in the length of the text it is
applied to: repeated parts are possessive (``*+``, ``++``) or atomic
(``(?>...)``), so a failed match never backtracks into them, every other
repetition is bounded, and patterns that can start anywhere begin with a
fixed-width look-behind that lets at most one start position per run of
characters go further. ``tests/test_privacy_linear.py`` times each pattern on
adversarial strings of growing length.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = [
    "ADDRESS",
    "BSN_STRIPPED_CANDIDATE",
    "CHECK_DIGIT_RULES",
    "IDENTIFIER_KINDS",
    "NAME_STOP_WORDS",
    "NON_PERSON_WORDS",
    "NUMBER_CANDIDATE",
    "PATTERNS",
    "POSTCODE_WHOLE",
    "POSTCODE_WHOLE_MAX",
    "STRONG_RULES",
    "WEAK_SCAN_CHARS",
    "is_valid_bsn",
    "is_valid_nhs_number",
    "kind_from_column_name",
    "number_candidates",
]

#: Identifier kinds and the plain-language label used in messages.
IDENTIFIER_KINDS: dict[str, str] = {
    "name": "person name",
    "address": "street address",
    "postcode": "postcode",
    "email": "e-mail address",
    "phone": "phone number",
    "date_of_birth": "exact date of birth",
    "bsn": "Dutch citizen service number (BSN)",
    "nhs_number": "NHS or CHI number",
    "ni_number": "UK National Insurance number",
}

# ---------------------------------------------------------------------------
# Column names (short strings: a header, normalised)
# ---------------------------------------------------------------------------

_NUM = r"(?:_?\d+)?"  # a trailing counter: address_line_1, phone2
_NUMBER = r"(?:_?(?:number|num|no|nr|nummer|id))?"
#: Column names are cut to this many characters before matching (no header is longer).
_MAX_HEADER = 200

_WORD_START = r"(?<![a-z0-9])"  # a rule starts where a word starts
_NUMBER_WORDS = ("", "number", "num", "no", "nr", "nummer", "id")


def _compound(heads: tuple[str, ...], tails: tuple[str, ...]) -> str:
    """Letters taken whole, ending in a head followed by a tail: ``mobieletelefoonnummer``."""
    ends = "|".join(f"(?<={head}{tail})" for head in heads for tail in tails)
    return f"[a-z]*+(?:{ends})"


# Each rule is matched against every suffix of the name that starts a word
# (``client_telephone`` -> ``client_telephone``, ``telephone``), so the rules
# need no leading ``.*``; compound words (``mobieletelefoon``) are matched by a
# possessive run of letters checked by a look-behind, not by backtracking.
_NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(_WORD_START + pattern + _NUM))
    for kind, pattern in (
        ("email", r"(?:e_?)?mail(?:_?(?:address|adres|addr))?"),
        (
            "phone",
            r"(?:" + _compound(("phone", "telefoon"), _NUMBER_WORDS) + "|telephone|tel|mobile"
            r"|mobiel|gsm|landline|fax)" + _NUMBER,
        ),
        ("postcode", r"(?:post_?code|postal_?code|zip_?code|zip)"),
        (
            "date_of_birth",
            r"(?:dob|d_o_b|date_?of_?birth|birth_?date|birth_?day|date_?born"
            r"|geboorte_?datum|geb_?datum|geboorte_?dag|geboren(?:_?op)?)",
        ),
        (
            "bsn",
            r"(?:bsn|burger_?service_?nummer|sofi|sofi_?nummer|citizen_?service)" + _NUMBER,
        ),
        ("nhs_number", r"(?:nhs|chi)_?(?:number|num|no|nr|id)"),
        ("ni_number", r"(?:nino|ni_?(?:number|num|no|nr)|national_?insurance" + _NUMBER + ")"),
        (
            "address",
            r"(?:"
            + _compound(("address", "adres", "straat", "straatnaam"), ("", "line", "regel"))
            + r"|addr"
            r"|street(?:_?name)?|straat_naam|house_?(?:number|no|nr)|huis_?(?:nummer|nr))"
            r"(?:_?(?:line|regel))?",
        ),
    )
)

# A person-name word at the end of a column name. The Dutch compound head
# (``locatie`` in ``locatienaam``) must not name a thing.
_PERSON_NAME = re.compile(
    _WORD_START + r"(?:names?|namen|initials|voorletters|voornamen|tussenvoegsels?"
    r"|(?:first|fore|given|sur|last|family|full|middle|maiden|nick|birth)_?names?"
    r"|(?P<compound>[a-z]*+(?<=naam)))" + _NUM
)

#: Words before ``name`` / ``naam`` that make it the name of a thing, not a person.
# fmt: off
NON_PERSON_WORDS: frozenset[str] = frozenset((
    "site", "programme", "program", "programma", "team", "instrument", "scale", "schaal",
    "subscale", "item", "organisation", "organization", "org", "organisatie", "service",
    "dienst", "file", "bestand", "group", "groep", "cohort", "course", "cursus", "location",
    "locatie", "venue", "area", "region", "regio", "school", "court", "rechtbank",
    "provider", "aanbieder", "agency", "instantie", "project", "module", "variable",
    "variabele", "column", "kolom", "table", "tabel", "sheet", "source", "bron", "system",
    "systeem", "event", "session", "sessie", "category", "categorie", "municipality",
    "gemeente", "city", "town", "stad", "plaats", "woonplaats", "vestiging", "unit", "ward",
    "hospital", "ziekenhuis", "force", "police", "politie", "measure", "questionnaire",
    "vragenlijst", "ethnicity", "country", "land", "product", "domain", "test", "score",
    "type", "status", "reason",
))
# fmt: on


def _normalise_column_name(name: object) -> str:
    """Lower-case ASCII snake_case form of a column name."""
    text = str(name)[:_MAX_HEADER]
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[^a-z0-9]++", "_", text.lower()).strip("_")


def kind_from_column_name(name: object) -> str | None:
    """The identifier kind a column name suggests, or ``None``.

    Parameters
    ----------
    name
        A column header as read.

    Returns
    -------
    str or None
        A key of :data:`IDENTIFIER_KINDS`.
    """
    norm = _normalise_column_name(name)
    starts = [0] + [i + 1 for i, ch in enumerate(norm) if ch == "_"]
    for kind, pattern in _NAME_RULES:
        if any(pattern.fullmatch(norm, start) for start in starts):
            return kind
    for start in starts:
        match = _PERSON_NAME.fullmatch(norm, start)
        if match is not None:
            words = set(norm[: max(start - 1, 0)].split("_"))
            words.add((match["compound"] or "").removesuffix("naam"))
            return None if words & NON_PERSON_WORDS else "name"
    return None


# ---------------------------------------------------------------------------
# Contents (cells of any length: every pattern is linear-time)
# ---------------------------------------------------------------------------

_R = r"(?![0-9A-Za-z])"
_R_NUM = r"(?!\w|[.,]\d)"
_R_PHONE = r"(?![\w:./-])"  # a phone number is not followed by a time or date part

_UK_POSTCODE = r"[A-PR-UWYZ][A-HK-Y]?\d[A-HJKPS-UW\d]?\s?\d[ABD-HJLNP-UW-Z]{2}"
_NL_POSTCODE = r"[1-9]\d{3}\s?(?!SA|SD|SS)[A-EGHJ-NPR-TV-XZ]{2}"

# Patterns that can start anywhere begin with a character class (so the regex
# engine skips quickly to characters that can start a match) followed by a
# fixed look-behind on the character before it; then at most one start per
# run of characters goes further.

#: An e-mail address. The local part starts where a run of local-part
#: characters starts and is taken whole (possessive), the domain is labels
#: joined by dots taken whole, and its last label must end in two letters
#: (checked by a fixed look-behind, not by backtracking).
_EMAIL = (
    r"[\w.%+-](?<![\w.%+-].)[\w.%+-]*+@(?>[\w-]++)(?:\.(?>[\w-]++))++"
    r"(?<=\.[A-Za-z]{2}|[A-Za-z]{3})(?![\w-])"
)
#: A UK or Dutch postcode inside text, in capitals.
_POSTCODE = (
    r"[A-PR-UWYZ1-9](?<![0-9A-Za-z].)"
    r"(?:(?<=[A-PR-UWYZ])[A-HK-Y]?\d[A-HJKPS-UW\d]?\s?\d[ABD-HJLNP-UW-Z]{2}"
    r"|(?<=[1-9])\d{3}\s?(?!SA|SD|SS)[A-EGHJ-NPR-TV-XZ]{2})"
) + _R
#: A value that is nothing but a postcode, in any case (``ls1 4ap``).
POSTCODE_WHOLE = re.compile(f"(?i:[ \\t]{{0,8}}+(?:{_UK_POSTCODE}|{_NL_POSTCODE})[ \\t]{{0,8}}+)")
#: Longest value tried against :data:`POSTCODE_WHOLE`.
POSTCODE_WHOLE_MAX = 24

#: Strong patterns: any sampled value containing one flags the column. Postcodes
#: inside text must be in capitals (``a1 2nd`` is not a postcode), but a value
#: that is nothing but a postcode is recognised in any case
#: (:data:`POSTCODE_WHOLE`).
STRONG_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("email", re.compile(_EMAIL), "an e-mail address"),
    ("postcode", re.compile(_POSTCODE), "a UK or Dutch postcode"),
    (
        "phone",
        re.compile(
            r"[0+](?<![\w+].)(?:(?<=0)[1-9](?:[ -]?\d){8,9}"
            r"|(?:(?<=\+)|(?<=0)0)(?:44|31)\s?(?:\(0\)\s?)?[1-9](?:[ -]?\d){7,9})" + _R_PHONE
        ),
        "a UK or Dutch phone number",
    ),
    (
        "ni_number",
        re.compile(
            r"[A-CEGHJ-PR-TW-Z](?<![0-9A-Za-z].)"
            r"(?!(?<=B)G|(?<=G)B|(?<=K)N|(?<=N)K|(?<=N)T|(?<=T)N|(?<=Z)Z)[A-CEGHJ-NPR-TW-Z]"
            r" ?\d{2} ?\d{2} ?\d{2} ?[A-D]" + _R
        ),
        "a National Insurance number",
    ),
)

_NUMBER_START = r"\d(?<!\w\d)(?<!\d[.,]\d)"  # not part of a longer number or a decimal
#: A 9-digit number (BSN; or 4.2.3 groups) or a 10-digit number (NHS; or
#: 3-3-4 groups) standing on its own: one pass finds both.
NUMBER_CANDIDATE = re.compile(
    f"({_NUMBER_START}(?:\\d{{8}}|\\d{{3}}\\.\\d{{2}}\\.\\d{{3}}|\\d{{9}}"
    f"|\\d{{2}}[ -]\\d{{3}}[ -]\\d{{4}})){_R_NUM}"
)
#: A value that is nothing but 8 digits: a BSN starting with 0 that a
#: spreadsheet stored as a number (``012345672`` -> ``12345672``).
BSN_STRIPPED_CANDIDATE = re.compile(r"[ \t]{0,8}+(\d{8})(?:\.0)?[ \t]{0,8}+")


def number_candidates(text: str) -> dict[int, list[str]]:
    """The 9- and 10-digit numbers standing on their own in a text, digits only.

    A value that is nothing but 8 digits also gives a 9-digit candidate with
    a leading ``0`` restored (a BSN a spreadsheet stored as a number).

    Parameters
    ----------
    text
        Any text.

    Returns
    -------
    dict
        ``{9: [...], 10: [...]}``.
    """
    found: dict[int, list[str]] = {9: [], 10: []}
    for match in NUMBER_CANDIDATE.finditer(text):
        digits = "".join(ch for ch in match.group(1) if ch.isdigit())
        found[len(digits)].append(digits)
    if len(text) <= 24:
        eight = BSN_STRIPPED_CANDIDATE.fullmatch(text)
        if eight:
            found[9].append("0" + eight.group(1))
    return found


_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
#: A capitalised name word: "Smith", "O'Brien", "McDonald", "Smith-Jones", "Élodie".
_WORD = (
    f"[{_UPPER}](?:'[{_UPPER}])?[{_LOWER}]++(?:[{_UPPER}][{_LOWER}]++)?+"
    f"(?:[-'’][{_UPPER}]?[{_LOWER}]++)*+"
)
#: A surname in capitals, as case systems often write it: "JANSEN", "O'BRIEN".
_CAPS_WORD = f"[{_UPPER}](?:'[{_UPPER}])?[{_UPPER}]++(?:[-'’][{_UPPER}]++)*+"
_INITIAL = f"[{_UPPER}]\\."
_PARTICLE = (
    r"(?:van|von|de|der|den|te|ter|ten|het|la|le|du|da|di|del|della|dos|das|el|al|bin|ibn|op|in|'t)"
)
#: One to three given names or initials, optional particles, then a surname;
#: or "SURNAME, Firstname" (optional particles before the surname).
NAME_SHAPE = re.compile(
    f"(?:{_WORD}|{_INITIAL})(?:\\s++(?:{_WORD}|{_INITIAL})){{0,2}}"
    f"(?:\\s++{_PARTICLE}){{0,3}}\\s++{_WORD}"
    f"|(?:{_PARTICLE}\\s++){{0,3}}(?:{_WORD}|{_CAPS_WORD}),[ \\t]{{0,4}}"
    f"(?:{_WORD}|{_INITIAL})(?:\\s++(?:{_WORD}|{_INITIAL})){{0,2}}"
)

#: Words that make a Title Case value a place, group or category rather than
#: a person ("North Yorkshire", "White British", "Family Court", "Moved Away").
# fmt: off
NAME_STOP_WORDS: frozenset[str] = frozenset((
    "north", "south", "east", "west", "central", "greater", "upper", "lower", "new", "old",
    "great", "little", "saint", "st", "city", "county", "district", "borough", "council",
    "region", "area", "noord", "zuid", "oost", "midden", "groot", "nieuw", "sint", "stad",
    "gemeente", "regio", "court", "service", "services", "team", "care", "social",
    "children", "child", "family", "health", "police", "probation", "prison", "hospital",
    "centre", "center", "unit", "programme", "program", "group", "project", "trust",
    "partnership", "foundation", "stichting", "reclassering", "jeugdzorg", "veilig",
    "thuis", "white", "black", "asian", "british", "irish", "african", "caribbean", "mixed",
    "other", "any", "chinese", "indian", "pakistani", "bangladeshi", "arab", "gypsy",
    "traveller", "european", "dutch", "nederlands", "surinaams", "turks", "marokkaans",
    "antilliaans", "not", "no", "yes", "unknown", "known", "moved", "away", "lost",
    "contact", "reason", "declined", "refused", "completed", "dropped", "excluded",
    "transferred", "ongoing", "started", "withdrawn", "deceased", "custody", "sentence",
    "order", "breach", "referral", "referred", "self", "none", "missing", "stated",
    "prefer", "say", "and", "of", "the", "with", "without", "for", "from", "at", "by",
    "week", "month", "year", "cohort", "spring", "summer", "autumn", "winter",
    "street", "road", "lane", "avenue", "drive", "close", "way", "crescent", "place",
    "terrace", "gardens", "grove", "hill", "square", "walk", "row", "mews", "park", "rise",
    "parade", "view", "green", "station", "school", "college", "university", "house",
    "january", "february", "march", "april", "june", "july", "august", "september",
    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday",
    "friday", "saturday", "sunday", "januari", "februari", "maart", "mei", "juni", "juli",
    "augustus", "oktober", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag",
    "zaterdag", "zondag",
))
# fmt: on
#: A word of letters (with inner apostrophes and hyphens), taken whole.
WORD_TOKEN = re.compile(r"[^\W\d_]++(?:['’-][^\W\d_]++)*+")

_STREET_WORDS_UK = (
    "Street|St|Road|Rd|Lane|Ln|Avenue|Ave|Drive|Dr|Close|Way|Court|Ct|Crescent|Cres|Place|Pl"
    "|Terrace|Gardens|Gdns|Grove|Hill|Square|Sq|Walk|Row|Mews|Park|Rise|Parade|View|Green"
)
_STREET_WORDS_NL = (
    "straat|laan|weg|plein|gracht|kade|singel|dijk|dreef|hof|pad|steeg|plantsoen|markt|park|wal"
    "|baan"
)
#: "12 High Street", "Flat 2, 7a Mill Lane"; "Kerkstraat 5", "Stationsweg 12a".
#: Numbers and words are bounded and the Dutch street word is checked by
#: look-behinds at the end of one capitalised word taken whole, so no part is
#: retried from many positions.
_NL_STREET_END = "|".join(f"(?<={word})" for word in _STREET_WORDS_NL.split("|"))
ADDRESS = re.compile(
    rf"\d(?<!\w\d)\d{{0,4}}+[A-Za-z]?,?[ \t]{{1,4}}+(?:[A-Z][\w'-]{{0,40}}+[ \t]{{1,4}}+){{0,3}}"
    rf"(?:{_STREET_WORDS_UK})\b"
    rf"|[A-Z](?<![{_LOWER}{_UPPER}].)[{_LOWER}]{{0,40}}+(?:{_NL_STREET_END})"
    rf"[ \t]{{1,4}}+\d{{1,5}}+(?:[ \t]?[A-Za-z]\b|-\d{{1,5}}+)?\b"
)
#: Characters of a value read by the weak (share) rules, names and addresses:
#: a column of names or addresses has short values.
WEAK_SCAN_CHARS = 100_000

#: Every content pattern of the guard, by name, for the linear-time tests.
PATTERNS: dict[str, re.Pattern[str]] = {
    **{kind: pattern for kind, pattern, _ in STRONG_RULES},
    "postcode_whole": POSTCODE_WHOLE,
    "bsn_nhs_number": NUMBER_CANDIDATE,
    "bsn_stripped": BSN_STRIPPED_CANDIDATE,
    "name_shape": NAME_SHAPE,
    "address": ADDRESS,
    "word": WORD_TOKEN,
}


def _digit_check(
    text: pd.Series, width: int, check: Callable[[np.ndarray], np.ndarray]
) -> pd.Series:
    """Whether each value is exactly ``width`` ASCII digits passing ``check``.

    ``check`` gets a ``(n, width)`` integer matrix of the digits of the ``n``
    values that are ``width`` digits (after trimming spaces) and returns a
    boolean array of length ``n``; every other value is invalid.
    """
    text = text.astype("string").str.strip()
    mask = text.str.fullmatch(f"[0-9]{{{width}}}").fillna(False).to_numpy(dtype=bool)
    joined = "".join(text[mask].tolist()).encode("ascii")
    digits = (np.frombuffer(joined, dtype=np.uint8).astype(np.int64) - 48).reshape(-1, width)
    out = np.zeros(len(text), dtype=bool)
    out[mask] = check(digits)
    return pd.Series(out, index=text.index)


def is_valid_bsn(values) -> pd.Series:
    """Whether each value is a Dutch BSN that passes the 11-test.

    A BSN (burgerservicenummer) has 9 digits ``d1..d9`` with
    ``9*d1 + 8*d2 + ... + 2*d8 - 1*d9`` divisible by 11; ``000000000`` is not
    a BSN. Vectorised over the values.

    Parameters
    ----------
    values
        Array-like of digit strings (or integers). Anything that is not
        exactly 9 ASCII digits (after trimming spaces), including missing
        values, is invalid; pad an 8-digit number with a leading zero first.

    Returns
    -------
    pandas.Series
        Boolean, aligned with ``values``.

    References
    ----------
    Rijksoverheid, *Burgerservicenummer (BSN)*: the "elfproef" (11-test).
    """
    weights = np.array([9, 8, 7, 6, 5, 4, 3, 2, -1])
    return _digit_check(
        pd.Series(values, copy=False),
        9,
        lambda digits: ((digits @ weights) % 11 == 0) & digits.any(axis=1),
    )


def is_valid_nhs_number(values) -> pd.Series:
    """Whether each value is an NHS number with a valid mod-11 check digit.

    The first nine digits are weighted 10, 9, ..., 2; with ``r`` the weighted
    sum modulo 11 the check digit is ``11 - r`` (11 becomes 0, 10 is never
    issued) and must equal the tenth digit. Numbers of one repeated digit
    (``0000000000``, ``9999999999``) pass the arithmetic but are placeholders,
    not issued numbers, and are treated as invalid. Scottish CHI numbers use
    the same check. Spaces or hyphens between the 3-3-4 groups are allowed.

    Parameters
    ----------
    values
        Array-like of strings (or integers). Missing values are invalid.

    Returns
    -------
    pandas.Series
        Boolean, aligned with ``values``.

    References
    ----------
    NHS Data Model and Dictionary, *NHS Number* (Modulus 11 check).
    """
    compact = (
        pd.Series(values, copy=False)
        .astype("string")
        .str.replace(r"^\s*(\d{3})[ -]?(\d{3})[ -]?(\d{4})\s*$", r"\1\2\3", regex=True)
    )

    def passes(digits: np.ndarray) -> np.ndarray:
        check = (11 - (digits[:, :9] @ np.arange(10, 1, -1)) % 11) % 11
        repdigit = (digits == digits[:, :1]).all(axis=1)
        return (check != 10) & (check == digits[:, 9]) & ~repdigit

    return _digit_check(compact, 10, passes)


#: ``(kind, digits, validator, shape, test)`` of the check-digit rules.
CHECK_DIGIT_RULES = (
    (
        "bsn",
        9,
        is_valid_bsn,
        "a 9-digit number (or 8 digits: a BSN that lost its leading 0)",
        "the BSN 11-test",
    ),
    ("nhs_number", 10, is_valid_nhs_number, "a 10-digit number", "the NHS mod-11 check"),
)
