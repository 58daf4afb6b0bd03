"""Privacy guard: refuse identifier columns, drop free text, never echo an identifier.

Exports must be anonymised (pseudonymous ids, age bands, no contact details).
The loader protects them in three steps:

1. **Free text is dropped** (:mod:`~cdanalytics.io.privacy.freetext`). In the
   contract's free-text columns (``exit_reason`` and ``exclusion_reason``,
   marked ``free_text: true`` in ``data/schemas``) only codes
   (``moved_away``, ``denies_abuse``) and labels listed in the mapping's
   ``values:`` are kept; any other text is emptied, with a warning naming
   the file, column and how many values (never the values). A mapping keeps
   the text of a column by listing it under the table's ``free_text_safe``;
   the text is then checked like every other column.
2. **Identifier columns are refused** (:func:`check_identifiers`, right after
   reading the raw columns and applying the site's column mapping). A column
   is refused when its **name** or its **contents** look like a direct
   identifier (table below).
3. **Nothing is echoed** (:func:`redact`): every value shown in a problem
   row, a quarantine file or a message is replaced when it looks like an
   identifier, and cut to 80 characters when longer.

========================  ==============================================  =========================
kind                      name examples (English and Dutch)               contents
========================  ==============================================  =========================
``name``                  name, first_name, surname, full_name, client_   a name in any value (see
                          name, naam, voornaam, achternaam, voorletters   :mod:`.names`);
                                                                          "Firstname Lastname" or
                                                                          "SURNAME, Firstname"
                                                                          shaped values (weak)
``address``               address, address_line_1, street, adres,         "12 High Street",
                          straat, straatnaam, huisnummer                  "Kerkstraat 5" (weak)
``postcode``              postcode, post_code, postal_code, zip           UK "LS1 4AP", NL "1234 AB"
``email``                 email, e_mail, email_address, emailadres        any e-mail address
``phone``                 phone, telephone, mobile, tel_nr, telefoon,     0 + 9-10 digits
                          telefoonnummer, mobiel, gsm                     ("07700 900123",
                                                                          "06-12345678"), +44, +31
``date_of_birth``         dob, date_of_birth, birth_date, geboortedatum   name only (see below)
``bsn``                   bsn, burgerservicenummer, sofinummer            9 digits passing the
                                                                          11-test, or 8 digits
                                                                          that pass it with the
                                                                          leading 0 restored
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
  number, a person's name by the rules of :mod:`.names`) flag the column
  when **any** sampled value contains one, so a single stray e-mail address
  or "met Pieter Jansen gesproken" in a free-text reason column is refused.
* **Check-digit numbers** (BSN, NHS/CHI). A random 9- or 10-digit number
  passes the 11-test or the mod-11 check by chance about 1 time in 11, so a
  column of other numeric codes would almost surely contain a few. The column
  is flagged when at least half (:data:`CHECK_DIGIT_SHARE`) of the distinct
  values holding a 9-digit (BSN) or 10-digit (NHS) number pass the check:
  a real BSN or NHS column passes 100 %, a column of random codes about 9 %,
  and a single BSN on its own in a notes column is still flagged. Values of
  exactly 8 digits count as BSN candidates with a leading ``0`` restored
  (a spreadsheet stores ``012345672`` as the number ``12345672``).
* **Weak patterns** use share thresholds, because Title Case categories
  ("North Yorkshire", "Moved Away") look like names and venue addresses like
  home addresses. Names: at least :data:`NAME_SHARE` (50 %) of sampled
  distinct values shaped like "Firstname Lastname" (initials and Dutch
  particles allowed: "J. Smith", "Jan de Vries") or "SURNAME, Firstname"
  ("JANSEN, Pieter"), no word from :data:`NAME_STOP_WORDS` ("North",
  "Court", "British", ...), at least :data:`NAME_MIN_VALUES` such values,
  and a high-cardinality column (distinct values at least
  :data:`NAME_MIN_CARDINALITY` of non-empty rows; a category repeats, a name
  column of one row per person does not). Addresses: at least
  :data:`ADDRESS_SHARE` (20 %) of sampled distinct values contain a house
  number next to a street word.

Every pattern runs in linear time in the length of a value
(:mod:`.patterns`), so a 10 MB cell is scanned in well under a second.

Still not caught: a given name or surname on its own in free text, an
uncommon name not preceded by a listed given name, initials or a title,
names beyond the first 100,000 characters of a value, identifiers in the
unsampled rows or values of a very large table (see above), and exact dates
of birth in a column whose name does not say so. Participant codes such as
``P000123``, hex pseudonyms, numeric scores, counts and dates match none of
these rules.
"""

from .freetext import FREE_TEXT_CODE, drop_free_text, free_text_columns
from .names import NAME_SCAN_CHARS, contains_person_name, person_names
from .patterns import (
    IDENTIFIER_KINDS,
    NAME_STOP_WORDS,
    NON_PERSON_WORDS,
    PATTERNS,
    is_valid_bsn,
    is_valid_nhs_number,
    kind_from_column_name,
)
from .redact import MAX_SHOWN, redact, redact_frame, value_kind
from .scan import (
    ADDRESS_SHARE,
    CHECK_DIGIT_SHARE,
    FINDING_COLUMNS,
    MAX_ROWS,
    MAX_UNIQUE,
    NAME_MIN_CARDINALITY,
    NAME_MIN_VALUES,
    NAME_SHARE,
    check_identifiers,
    identifier_error,
    scan_identifiers,
)

__all__ = [
    "ADDRESS_SHARE",
    "CHECK_DIGIT_SHARE",
    "FINDING_COLUMNS",
    "FREE_TEXT_CODE",
    "IDENTIFIER_KINDS",
    "MAX_ROWS",
    "MAX_SHOWN",
    "MAX_UNIQUE",
    "NAME_MIN_CARDINALITY",
    "NAME_MIN_VALUES",
    "NAME_SCAN_CHARS",
    "NAME_SHARE",
    "NAME_STOP_WORDS",
    "NON_PERSON_WORDS",
    "PATTERNS",
    "check_identifiers",
    "contains_person_name",
    "drop_free_text",
    "free_text_columns",
    "identifier_error",
    "is_valid_bsn",
    "is_valid_nhs_number",
    "kind_from_column_name",
    "person_names",
    "redact",
    "redact_frame",
    "scan_identifiers",
    "value_kind",
]
