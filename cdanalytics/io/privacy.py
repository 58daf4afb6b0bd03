"""Privacy guard: refuse tables with columns that look like direct identifiers.

Exports must be anonymised (pseudonymous ids, age bands, no contact details).
The loader calls :func:`check_identifiers` on every table right after reading
its raw columns (and applying the site's column mapping). A column is refused
when its **name** or its **contents** look like a direct identifier:

========================  ==============================================  =========================
kind                      name examples (English and Dutch)               contents
========================  ==============================================  =========================
``name``                  name, first_name, surname, full_name, client_   "Firstname Lastname"
                          name, naam, voornaam, achternaam, voorletters   shaped values (weak)
``address``               address, address_line_1, street, adres,         "12 High Street",
                          straat, straatnaam, huisnummer                  "Kerkstraat 5" (weak)
``postcode``              postcode, post_code, postal_code, zip           UK "LS1 4AP", NL "1234 AB"
``email``                 email, e_mail, email_address, emailadres        any e-mail address
``phone``                 phone, telephone, mobile, tel_nr, telefoon,     0 + 9-10 digits
                          telefoonnummer, mobiel, gsm                     ("07700 900123",
                                                                          "06-12345678"), +44, +31
``date_of_birth``         dob, date_of_birth, birth_date, geboortedatum   name only (see below)
``bsn``                   bsn, burgerservicenummer, sofinummer            9 digits passing the
                                                                          11-test
``nhs_number``            nhs_number, nhs_no, chi_number                  10 digits passing the
                                                                          NHS mod-11 check
``ni_number``             ni_number, nino, national_insurance_number      UK NINO "AB123456C"
========================  ==============================================  =========================

Column names are compared after normalisation (accents removed, camelCase
split, lower case, punctuation to ``_``), and the identifying word must be the
*last* word of the name, so ``postcode_district`` (a coarsened area),
``n_telephone_contacts`` (a count) and ``site_name`` / ``locatienaam``
(names of places or things, listed in :data:`NON_PERSON_WORDS`) are allowed.
Dates are never judged by their contents (session and referral dates look
exactly like dates of birth): only a column *name* saying "birth" flags them.
``age_band`` is the anonymised alternative.

Contents rules
--------------
Contents are checked on the distinct non-empty values of every text and
category column (integer and float columns only for BSN and NHS numbers;
dates and booleans not at all). The scan is bounded so that it stays cheap
beside loading, even for a 17-million-row sessions table:

* a table longer than ``max_rows`` (default :data:`MAX_ROWS` = 200,000) is
  scanned on a fixed-seed random sample of that many rows (the categories of
  a category column are always all scanned);
* when a column has more than ``max_unique`` (default :data:`MAX_UNIQUE` =
  10,000) distinct values, a fixed-seed random sample of that many distinct
  values is scanned.

A site's participants table, where free-text reasons live, is usually far
smaller than ``max_rows`` and is scanned row by row in full; in larger tables
an identifier that occurs in only a few rows, or among more than
``max_unique`` distinct values, can be missed. Pass ``max_rows=None,
max_unique=None`` to scan every value.

Identifiers are serious, so the rules differ by how specific the pattern is:

* **Strong patterns** (e-mail, postcode, phone number, National Insurance
  number) flag the column when **any** sampled value contains one, so a
  single stray e-mail address in a free-text reason column is refused.
* **Check-digit numbers** (BSN, NHS/CHI). A random 9- or 10-digit number
  passes the 11-test or the mod-11 check by chance about 1 time in 11, so a
  column of other numeric codes would almost surely contain a few. The column
  is flagged when at least half (:data:`CHECK_DIGIT_SHARE`) of the distinct
  values holding a 9-digit (BSN) or 10-digit (NHS) number pass the check:
  a real BSN or NHS column passes 100 %, a column of random codes about 9 %,
  and a single BSN on its own in a notes column is still flagged.
* **Weak patterns** use share thresholds, because Title Case categories
  ("North Yorkshire", "Moved Away") look like names and venue addresses like
  home addresses. Names: at least :data:`NAME_SHARE` (50 %) of sampled
  distinct values shaped like "Firstname Lastname" (initials and Dutch
  particles allowed: "J. Smith", "Jan de Vries"), no word from
  :data:`NAME_STOP_WORDS` ("North", "Court", "British", ...), at least
  :data:`NAME_MIN_VALUES` such values, and a high-cardinality column (distinct
  values at least :data:`NAME_MIN_CARDINALITY` of non-empty rows; a category
  repeats, a name column of one row per person does not). Addresses: at least
  :data:`ADDRESS_SHARE` (20 %) of sampled distinct values contain a house
  number next to a street word. Names inside free-text sentences are not
  detected; the column-name rule is the main protection for names.

Participant codes such as ``P000123``, hex pseudonyms, numeric scores, counts
and dates match none of these rules.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..errors import IdentifierError

__all__ = [
    "ADDRESS_SHARE",
    "CHECK_DIGIT_SHARE",
    "FINDING_COLUMNS",
    "IDENTIFIER_KINDS",
    "MAX_ROWS",
    "MAX_UNIQUE",
    "NAME_MIN_CARDINALITY",
    "NAME_MIN_VALUES",
    "NAME_SHARE",
    "NAME_STOP_WORDS",
    "NON_PERSON_WORDS",
    "check_identifiers",
    "identifier_error",
    "is_valid_bsn",
    "is_valid_nhs_number",
    "scan_identifiers",
]

logger = logging.getLogger(__name__)

#: Columns of the findings frame returned by :func:`scan_identifiers`.
FINDING_COLUMNS: tuple[str, ...] = ("table", "source", "column", "kind", "reason")

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

#: Default bound on the distinct values scanned per column.
MAX_UNIQUE = 10_000
#: Default bound on the rows scanned per table.
MAX_ROWS = 200_000
#: Share of sampled distinct values that must be name-shaped.
NAME_SHARE = 0.5
#: Minimum number of distinct name-shaped values.
NAME_MIN_VALUES = 5
#: Minimum ratio of distinct values to non-empty rows for a name column.
NAME_MIN_CARDINALITY = 0.5
#: Share of sampled distinct values that must look like a street address.
ADDRESS_SHARE = 0.2
#: Share of number-bearing distinct values that must pass a check digit.
CHECK_DIGIT_SHARE = 0.5

# ---------------------------------------------------------------------------
# Column names
# ---------------------------------------------------------------------------

_PRE = r"(?:.*_)?"  # any leading words
_NUM = r"(?:_?\d+)?"  # a trailing counter: address_line_1, phone2
_NUMBER = r"(?:_?(?:number|num|no|nr|nummer|id))?"

_NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(_PRE + pattern + _NUM))
    for kind, pattern in (
        ("email", r"(?:e_?)?mail(?:_?(?:address|adres|addr))?"),
        (
            "phone",
            r"(?:[a-z]*phone|telephone|tel|mobile|mobiel|[a-z]*telefoon|gsm|landline|fax)"
            + _NUMBER,
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
            r"(?:[a-z]*address|[a-z]*adres|addr|street(?:_?name)?|[a-z]*straat(?:_?naam)?"
            r"|house_?(?:number|no|nr)|huis_?(?:nummer|nr))(?:_?(?:line|regel))?",
        ),
    )
)

# A person-name column: the last word is a name word. ``prefix`` and the
# Dutch compound head (``locatie`` in ``locatienaam``) must not name a thing.
_PERSON_NAME = re.compile(
    r"(?:(?P<prefix>.*)_)?(?:names?|namen|initials|voorletters|voornamen|tussenvoegsels?"
    r"|(?:first|fore|given|sur|last|family|full|middle|maiden|nick|birth)_?names?"
    r"|(?P<head>[a-z]*)naam)" + _NUM
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
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _kind_from_column_name(name: object) -> str | None:
    """The identifier kind a column name suggests, or ``None``."""
    norm = _normalise_column_name(name)
    for kind, pattern in _NAME_RULES:
        if pattern.fullmatch(norm):
            return kind
    match = _PERSON_NAME.fullmatch(norm)
    if match is None:
        return None
    words = set((match["prefix"] or "").split("_")) | {match["head"] or ""}
    return None if words & NON_PERSON_WORDS else "name"


# ---------------------------------------------------------------------------
# Contents
# ---------------------------------------------------------------------------

_L = r"(?<![0-9A-Za-z])"  # not glued to a letter or digit on the left
_R = r"(?![0-9A-Za-z])"
_L_NUM = r"(?<!\w)(?<!\d[.,])"  # numbers: not part of a longer number or a decimal
_R_NUM = r"(?!\w|[.,]\d)"
_R_PHONE = r"(?![\w:./-])"  # a phone number is not followed by a time or date part

_UK_POSTCODE = r"[A-PR-UWYZ][A-HK-Y]?\d[A-HJKPS-UW\d]?\s?\d[ABD-HJLNP-UW-Z]{2}"
_NL_POSTCODE = r"[1-9]\d{3}\s?(?!SA|SD|SS)[A-EGHJ-NPR-TV-XZ]{2}"


#: Strong patterns: any sampled value containing one flags the column. Postcodes
#: inside text must be in capitals (``a1 2nd`` is not a postcode), but a value
#: that is nothing but a postcode is recognised in any case.
_STRONG_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("email", re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}"), "an e-mail address"),
    (
        "postcode",
        re.compile(
            f"{_L}(?:{_UK_POSTCODE}|{_NL_POSTCODE}){_R}"
            f"|(?i:^\\s*(?:{_UK_POSTCODE}|{_NL_POSTCODE})\\s*$)"
        ),
        "a UK or Dutch postcode",
    ),
    (
        "phone",
        re.compile(
            r"(?<![\w+])(?:0[1-9](?:[ -]?\d){8,9}"
            r"|(?:\+|00)(?:44|31)\s?(?:\(0\)\s?)?[1-9](?:[ -]?\d){7,9})" + _R_PHONE
        ),
        "a UK or Dutch phone number",
    ),
    (
        "ni_number",
        re.compile(
            _L + r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
            r" ?\d{2} ?\d{2} ?\d{2} ?[A-D]" + _R
        ),
        "a National Insurance number",
    ),
)

_BSN_CANDIDATE = re.compile(_L_NUM + r"(\d{9}|\d{4}\.\d{2}\.\d{3})" + _R_NUM)
_NHS_CANDIDATE = re.compile(_L_NUM + r"(\d{10}|\d{3}[ -]\d{3}[ -]\d{4})" + _R_NUM)

_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
#: A capitalised name word: "Smith", "O'Brien", "McDonald", "Smith-Jones", "Élodie".
_WORD = (
    f"[{_UPPER}](?:'[{_UPPER}])?[{_LOWER}]+(?:[{_UPPER}][{_LOWER}]+)?"
    f"(?:[-'’][{_UPPER}]?[{_LOWER}]+)*"
)
_INITIAL = f"[{_UPPER}]\\."
_PARTICLE = (
    r"(?:van|von|de|der|den|te|ter|ten|het|la|le|du|da|di|del|della|dos|das|el|al|bin|ibn|op|in|'t)"
)
#: One to three given names or initials, optional particles, then a surname.
_NAME_SHAPE = re.compile(f"(?:(?:{_WORD}|{_INITIAL})\\s+){{1,3}}(?:{_PARTICLE}\\s+){{0,3}}{_WORD}")

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
))
# fmt: on
_STOP_WORD = re.compile(r"\b(?:" + "|".join(sorted(NAME_STOP_WORDS)) + r")\b", re.IGNORECASE)

_STREET_WORDS_UK = (
    "Street|St|Road|Rd|Lane|Ln|Avenue|Ave|Drive|Dr|Close|Way|Court|Ct|Crescent|Cres|Place|Pl"
    "|Terrace|Gardens|Gdns|Grove|Hill|Square|Sq|Walk|Row|Mews|Park|Rise|Parade|View|Green"
)
_STREET_WORDS_NL = (
    "straat|laan|weg|plein|gracht|kade|singel|dijk|dreef|hof|pad|steeg|plantsoen|markt|park|wal"
    "|baan"
)
#: "12 High Street", "Flat 2, 7a Mill Lane"; "Kerkstraat 5", "Stationsweg 12a".
_ADDRESS = re.compile(
    rf"\b\d+[A-Za-z]?,?\s+(?:[A-Z][\w'-]*\s+){{0,3}}(?:{_STREET_WORDS_UK})\b"
    rf"|\b[A-Z][{_LOWER}]*(?:{_STREET_WORDS_NL})\s+\d+(?:\s?[A-Za-z]\b|-\d+)?\b"
)


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


_CHECK_DIGIT_RULES = (
    ("bsn", _BSN_CANDIDATE, is_valid_bsn, "a 9-digit number", "the BSN 11-test"),
    (
        "nhs_number",
        _NHS_CANDIDATE,
        is_valid_nhs_number,
        "a 10-digit number",
        "the NHS mod-11 check",
    ),
)


def _distinct_values(column: pd.Series, max_unique: int | None) -> tuple[pd.Series, int, int]:
    """Distinct non-empty values of a column as stripped strings, sampled.

    Returns the (possibly sampled) distinct values as an object Series, the
    number of distinct values before sampling and the number of non-missing
    rows scanned.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        distinct = pd.Series(column.cat.categories, dtype=object)
    else:
        distinct = pd.Series(column.dropna().unique(), dtype=object)
    text = distinct.astype(str).str.strip().astype(object)  # Python regex, not pyarrow
    text = text[text != ""].drop_duplicates().reset_index(drop=True)
    n_distinct = len(text)
    if max_unique is not None and n_distinct > max_unique:
        text = text.sample(n=max_unique, random_state=0).reset_index(drop=True)
    return text, n_distinct, int(column.notna().sum())


def _integral_numbers(column: pd.Series) -> pd.Series:
    """Distinct integral values of 9 or 10 digits of a numeric column, as strings."""
    values = pd.Series(column.dropna().unique()).astype("float64")
    keep = (values >= 1e8) & (values < 1e10) & (values == np.floor(values))
    return values[keep].astype("int64").astype(str).reset_index(drop=True).astype(object)


def _check_digit_findings(values: pd.Series) -> list[tuple[str, str]]:
    """BSN / NHS findings among distinct string values."""
    found = []
    for kind, candidate, validator, shape, test in _CHECK_DIGIT_RULES:
        numbers = values.str.extractall(candidate)[0]
        if numbers.empty:
            continue
        digits = numbers.str.replace(r"[^0-9]", "", regex=True)
        valid = validator(digits).groupby(level=0).any()
        n_valid, n_candidates = int(valid.sum()), len(valid)
        if n_valid and n_valid >= CHECK_DIGIT_SHARE * n_candidates:
            found.append(
                (kind, f"{n_valid} of {n_candidates} distinct values holding {shape} pass {test}")
            )
    return found


def _text_findings(
    values: pd.Series, n_distinct: int, n_rows: int, rows_sampled: bool
) -> list[tuple[str, str]]:
    """Content findings for the distinct values of a text column."""
    n = len(values)
    sampled = f"{n} sampled" if rows_sampled or n < n_distinct else f"{n}"
    found = []
    for kind, pattern, what in _STRONG_RULES:
        hits = int(values.str.contains(pattern).sum())
        if hits:
            found.append((kind, f"{hits} of {sampled} distinct values contain {what}"))
    found += _check_digit_findings(values)

    names = int((values.str.fullmatch(_NAME_SHAPE) & ~values.str.contains(_STOP_WORD)).sum())
    if (
        names >= NAME_MIN_VALUES
        and names >= NAME_SHARE * n
        and n_distinct >= NAME_MIN_CARDINALITY * n_rows
    ):
        found.append(
            ("name", f"{names} of {sampled} distinct values are shaped like 'Firstname Lastname'")
        )
    addresses = int(values.str.contains(_ADDRESS).sum())
    if addresses and addresses >= ADDRESS_SHARE * n:
        found.append(
            ("address", f"{addresses} of {sampled} distinct values look like street addresses")
        )
    return found


def _content_findings(
    column: pd.Series, max_unique: int | None, rows_sampled: bool
) -> list[tuple[str, str]]:
    """Content findings for one column of any dtype."""
    dtype = column.dtype
    if pd.api.types.is_object_dtype(dtype) or isinstance(
        dtype, (pd.StringDtype, pd.CategoricalDtype)
    ):
        values, n_distinct, n_rows = _distinct_values(column, max_unique)
        return _text_findings(values, n_distinct, n_rows, rows_sampled) if len(values) else []
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        numbers = _integral_numbers(column)
        return _check_digit_findings(numbers) if len(numbers) else []
    return []


def _header_looks_like_value(name: object) -> bool:
    """Whether a column header itself looks like an identifier value.

    That happens when a file without a header row is read: its first data
    row becomes the header. Such headers are not repeated in messages.
    """
    text = pd.Series([str(name)], dtype=object)
    strong = any(text.str.contains(pattern).iloc[0] for _, pattern, _ in _STRONG_RULES)
    return strong or bool(_check_digit_findings(text))


def scan_identifiers(
    df: pd.DataFrame,
    *,
    table: str,
    source: str,
    max_unique: int | None = MAX_UNIQUE,
    max_rows: int | None = MAX_ROWS,
) -> pd.DataFrame:
    """Find columns whose name or contents look like direct identifiers.

    See the module docstring for the rules and thresholds.

    Parameters
    ----------
    df
        A table as read (after the site's column mapping), any dtypes.
    table
        Table name, for example ``"participants"``.
    source
        File (or workbook sheet) the table was read from.
    max_unique
        Bound on the distinct values scanned per column (a fixed-seed random
        sample above it); ``None`` scans them all.
    max_rows
        Bound on the rows scanned (a fixed-seed random sample of rows above
        it); ``None`` scans every row.

    Returns
    -------
    pandas.DataFrame
        One row per finding, columns ``table``, ``source``, ``column`` (the
        column's name), ``kind`` (a key of :data:`IDENTIFIER_KINDS`),
        ``reason`` (why, with counts but never a value) and ``position``
        (1-based column number in the table). Empty when nothing was found.
    """
    scanned = df
    if max_rows is not None and len(df) > max_rows:
        rows_picked = np.random.default_rng(0).choice(len(df), size=max_rows, replace=False)
        scanned = df.take(np.sort(rows_picked))
    rows_sampled = len(scanned) < len(df)
    rows = []
    for position in range(df.shape[1]):
        name = df.columns[position]
        kind = _kind_from_column_name(name)
        if kind is not None:
            rows.append(
                (
                    name,
                    kind,
                    "the column name is a usual name for this kind of identifier",
                    position + 1,
                )
            )
        rows += [
            (name, found_kind, reason, position + 1)
            for found_kind, reason in _content_findings(
                scanned.iloc[:, position], max_unique, rows_sampled
            )
        ]
    findings = pd.DataFrame(rows, columns=["column", "kind", "reason", "position"])
    findings.insert(0, "source", str(source))
    findings.insert(0, "table", table)
    logger.debug(
        "identifier scan of %s: %d columns, %d findings", table, df.shape[1], len(findings)
    )
    return findings


def identifier_error(findings: pd.DataFrame) -> IdentifierError:
    """The :class:`~cdanalytics.errors.IdentifierError` describing findings.

    Parameters
    ----------
    findings
        Rows from :func:`scan_identifiers`, possibly concatenated over several
        tables so that one error lists every table.

    Returns
    -------
    IdentifierError
        Its message names every table, source file and column with the kind
        of identifier and why, never a value; ``.findings`` holds the frame.
    """
    lines = [
        f"{findings['column'].nunique()} column(s) look like direct identifiers; "
        "exports must be anonymised:"
    ]
    for (table, source), in_table in findings.groupby(["table", "source"], sort=False):
        lines.append(f"table '{table}' (file {source}):")
        for position, in_column in in_table.groupby("position", sort=False):
            name = in_column["column"].iloc[0]
            label = (
                f"column {position} (header not shown: it looks like a value; "
                "is the header row missing?)"
                if _header_looks_like_value(name)
                else f"column '{name}'"
            )
            kinds = ", ".join(IDENTIFIER_KINDS[kind] for kind in in_column["kind"].unique())
            lines.append(f"  - {label}: looks like {kinds}: {'; '.join(in_column['reason'])}")
    lines.append(
        "Remove these columns (use age_band instead of a date of birth) or replace raw ids "
        "with `cdanalytics pseudonymise`, then export again. Values are never shown here."
    )
    error = IdentifierError("\n".join(lines))
    error.findings = findings
    return error


def check_identifiers(
    df: pd.DataFrame,
    *,
    table: str,
    source: str,
    max_unique: int | None = MAX_UNIQUE,
    max_rows: int | None = MAX_ROWS,
) -> None:
    """Refuse a table with a column that looks like a direct identifier.

    Parameters
    ----------
    df, table, source, max_unique, max_rows
        As for :func:`scan_identifiers`.

    Raises
    ------
    IdentifierError
        Listing every finding (table, source file, column, kind and reason);
        the message never contains a value from the table.
    """
    findings = scan_identifiers(
        df, table=table, source=source, max_unique=max_unique, max_rows=max_rows
    )
    if len(findings):
        raise identifier_error(findings)
