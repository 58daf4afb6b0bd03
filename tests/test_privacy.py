"""The privacy guard: identifier columns are refused by name and by contents,
legitimate anonymised columns are not, and no message ever shows a value."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from cdanalytics.errors import IdentifierError
from cdanalytics.io.export import TABLES
from cdanalytics.io.privacy import (
    FINDING_COLUMNS,
    IDENTIFIER_KINDS,
    check_identifiers,
    is_valid_bsn,
    is_valid_nhs_number,
    scan_identifiers,
)

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "data" / "schemas"
SAMPLE = ROOT / "data" / "sample"


def found(df: pd.DataFrame) -> set[tuple[str, str]]:
    """(column, kind) pairs the scan reports."""
    findings = scan_identifiers(df, table="participants", source="participants.csv")
    return set(zip(findings["column"], findings["kind"], strict=True))


def padded(values: list, n: int = 10) -> list:
    """``values`` followed by harmless filler, ``n`` rows in all."""
    return values + ["no further contact"] * (n - len(values))


# --- reference check-digit rules, written out independently ------------------


def reference_bsn(number: str) -> bool:
    """11-test: 9*d1 + 8*d2 + ... + 2*d8 - 1*d9 divisible by 11, not all zeros."""
    if len(number) != 9 or not number.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number, [9, 8, 7, 6, 5, 4, 3, 2, -1], strict=True))
    return total % 11 == 0 and number != "000000000"


def reference_nhs(number: str) -> bool:
    """Mod 11: check = 11 - (sum of d_i * (11 - i) for i = 1..9) mod 11; 11 -> 0; 10 invalid."""
    number = number.replace(" ", "")
    if len(number) != 10 or not number.isdigit() or len(set(number)) == 1:
        return False
    check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(number[:9])) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(number[9])


# --- check-digit functions ----------------------------------------------------


def test_known_bsns_pass_the_11_test():
    # 111222333: 9+8+7+12+10+8+9+6-3 = 66 = 6*11.  123456782: 9+16+21+24+25+24+21+16-2 = 154.
    assert is_valid_bsn(["111222333", "123456782"]).tolist() == [True, True]


def test_bsns_failing_the_11_test_or_malformed_are_invalid():
    values = ["111222334", "123456789", "000000000", "11122233", "1112223330", "11122233x", None]
    assert not is_valid_bsn(values).any()


def test_known_nhs_number_passes_mod_11():
    # 9434765919: 9*10+4*9+3*8+4*7+7*6+6*5+5*4+9*3+1*2 = 299; 299 mod 11 = 2; 11-2 = 9.
    assert is_valid_nhs_number(["9434765919", "943 476 5919", "943-476-5919"]).all()


def test_wrong_check_digit_and_placeholders_are_not_nhs_numbers():
    values = ["9434765918", "0000000000", "9999999999", "943476591", None]
    assert not is_valid_nhs_number(values).any()


def test_check_digit_functions_accept_integers_and_keep_the_index():
    series = pd.Series([111222333, 9434765919], index=[10, 20])
    assert is_valid_bsn(series).tolist() == [True, False]
    assert is_valid_nhs_number(series).index.tolist() == [10, 20]


@given(st.lists(st.text("0123456789", min_size=9, max_size=10), max_size=50))
def test_check_digit_functions_agree_with_the_written_out_rules(numbers):
    assert is_valid_bsn(numbers).tolist() == [reference_bsn(n) for n in numbers]
    assert is_valid_nhs_number(numbers).tolist() == [reference_nhs(n) for n in numbers]


# --- refusal by column name -----------------------------------------------------


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("name", "name"),
        ("first_name", "name"),
        ("FirstName", "name"),
        ("surname", "name"),
        ("full_name", "name"),
        ("client_name", "name"),
        ("initials", "name"),
        ("naam", "name"),
        ("voornaam", "name"),
        ("achternaam", "name"),
        ("voorletters", "name"),
        ("address", "address"),
        ("address_line_1", "address"),
        ("street", "address"),
        ("adres", "address"),
        ("straatnaam", "address"),
        ("huisnummer", "address"),
        ("postcode", "postcode"),
        ("Post Code", "postcode"),
        ("zip", "postcode"),
        ("email", "email"),
        ("e-mail", "email"),
        ("EmailAdres", "email"),
        ("phone", "phone"),
        ("mobile_number", "phone"),
        ("telefoonnummer", "phone"),
        ("mobiel", "phone"),
        ("dob", "date_of_birth"),
        ("date_of_birth", "date_of_birth"),
        ("DateOfBirth", "date_of_birth"),
        ("birth_date", "date_of_birth"),
        ("geboortedatum", "date_of_birth"),
        ("bsn", "bsn"),
        ("burgerservicenummer", "bsn"),
        ("nhs_number", "nhs_number"),
        ("NHSNumber", "nhs_number"),
        ("chi_number", "nhs_number"),
        ("ni_number", "ni_number"),
        ("national_insurance_number", "ni_number"),
    ],
)
def test_identifier_column_names_are_refused(column, kind):
    df = pd.DataFrame({"participant_id": ["P000001", "P000002"], column: ["x", "y"]})
    assert found(df) == {(column, kind)}


def contract_columns() -> list[str]:
    names = []
    for path in sorted(SCHEMAS.glob("*.yaml")):
        names += [column["name"] for column in yaml.safe_load(path.read_text())["columns"]]
    return names


@pytest.mark.parametrize(
    "column",
    [
        *contract_columns(),
        "site_name",
        "programme_name",
        "locatienaam",
        "postcode_district",
        "n_telephone_contacts",
        "birth_year",
        "country_of_birth",
        "username",
        "filename",
        "referred_by_nhs",
    ],
)
def test_contract_and_other_harmless_column_names_are_allowed(column):
    df = pd.DataFrame({column: ["x", "y"]})
    assert found(df) == set()


# --- refusal by contents ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("email", "contact via j.smith@example.org"),
        ("postcode", "moved to LS1 4AP"),
        ("postcode", "ls1 4ap"),
        ("postcode", "SW1A 1AA"),
        ("postcode", "verhuisd naar 1234 AB"),
        ("postcode", "1234ab"),
        ("phone", "07700 900123"),
        ("phone", "+44 7700 900123"),
        ("phone", "0113 496 0000"),
        ("phone", "06-12345678"),
        ("phone", "+31 6 12345678"),
        ("ni_number", "AB 12 34 56 C"),
        ("bsn", "111222333"),
        ("bsn", "bsn 1112.22.333 op dossier"),
        ("nhs_number", "943 476 5919"),
        ("nhs_number", "NHS no 9434765919."),
    ],
)
def test_one_strong_identifier_in_a_free_text_column_is_refused(kind, value):
    df = pd.DataFrame({"exit_reason": padded([value])})
    assert (("exit_reason", kind)) in found(df)


def test_identifiers_in_a_category_column_are_found():
    df = pd.DataFrame({"referrer": pd.Categorical(padded(["j.smith@example.org"]))})
    assert found(df) == {("referrer", "email")}


def test_identifier_numbers_read_as_numbers_are_found():
    df = pd.DataFrame(
        {
            "client_no": [111222333, 123456782, 5],
            "ref": [9434765919.0, np.nan, 1.5],
        }
    )
    assert found(df) == {("client_no", "bsn"), ("ref", "nhs_number")}


def test_a_column_of_person_names_is_refused():
    names = ["John Smith", "Mary Jones", "Jan de Vries", "Pieter van den Berg", "J. Okafor"]
    names += ["Anne-Marie O'Brien", "Ahmed Khan", "Sophie Martin", "Tom White", None]
    df = pd.DataFrame({"client": names})
    assert found(df) == {("client", "name")}


def test_a_column_of_street_addresses_is_refused():
    addresses = ["12 High Street", "Flat 2, 7a Mill Lane", "Kerkstraat 5", "Stationsweg 12a"]
    df = pd.DataFrame({"woonplek": padded(addresses)})
    assert found(df) == {("woonplek", "address")}


# --- no false positives -----------------------------------------------------------


def anonymised_tables() -> dict[str, pd.DataFrame]:
    """A realistic anonymised export as read from CSV (raw text) and as typed."""
    rng = np.random.default_rng(1)
    n = 400
    codes = [f"P{i:06d}" for i in range(n)]
    hashes = [f"{int(x):020x}" for x in rng.integers(0, 2**62, n)]
    sites = ["Leeds", "Eindhoven", "North Yorkshire", "Den Haag", "West Midlands"]
    sites += ["Bergen op Zoom", "Hoek van Holland", "Rotterdam-Zuid"]
    reasons = ["Moved Away", "Lost Contact", "Family Court", "Custody", "denies_abuse"]
    participants = pd.DataFrame(
        {
            "participant_id": codes,
            "linked_id": hashes,
            "programme": rng.choice(["caring_dads", "borg", "caledonian"], n),
            "site": pd.Categorical(rng.choice(sites, n)),
            "group": "programme",
            "cohort": rng.choice(["2023 Spring", "2024 Q1", "Group A", "Leeds 2"], n),
            "referral_date": pd.date_range("2020-01-01", periods=n, freq="D"),
            "start_date": pd.date_range("2020-02-01", periods=n, freq="D").strftime("%d-%m-%Y"),
            "end_date": pd.date_range("2020-06-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "exit_reason": rng.choice(reasons, n),
            "age_band": rng.choice(["18-24", "25-34", "35-44"], n),
            "ethnicity_group": rng.choice(["White British", "Black Caribbean", "Asian Other"], n),
            "risk_level": rng.choice(["low", "medium", "high", "very_high"], n),
            "prior_offences": rng.integers(0, 30, n),
            "n_children": rng.integers(0, 6, n),
            "income_band_score": rng.normal(50, 10, n),
            "weight_kg": rng.normal(80, 10, n).round(1).astype(str),
        }
    )
    m = 3000
    sessions = pd.DataFrame(
        {
            "participant_id": rng.choice(codes, m),
            "session_type": rng.choice(["group", "individual", "review"], m),
            "session_number": rng.integers(1, 25, m),
            "session_date": pd.Series(
                pd.date_range("2021-01-01 09:00", periods=m, freq="h")
            ).dt.strftime("%d-%m-%Y %H:%M"),
            "attendance": rng.choice(["attended", "excused", "unexcused"], m),
        }
    )
    measures = pd.DataFrame(
        {
            "participant_id": rng.choice(hashes, m),
            "instrument": "sdq",
            "scale": "total",
            "informant": rng.choice(["father", "partner"], m),
            "timepoint": rng.choice(["pre", "post"], m),
            "measured_on": pd.date_range("2021-01-01", periods=m, freq="D").astype(str),
            "score": pd.Series(rng.normal(14, 5, m).round(1)).astype(str).str.replace(".", ","),
        }
    )
    events = pd.DataFrame(
        {
            "participant_id": rng.choice(codes, 200),
            "event_date": pd.date_range("2022-01-01", periods=200, freq="D"),
            "event_type": rng.choice(["dv_offence", "order_breach"], 200),
            "source": rng.choice(["police_national_computer", "justitiele_documentatie"], 200),
            "case_ref": rng.integers(10**8, 10**10, 200),
        }
    )
    return {
        "participants": participants,
        "sessions": sessions,
        "measures": measures,
        "events": events,
    }


@pytest.mark.parametrize("table", ["participants", "sessions", "measures", "events"])
def test_a_realistic_anonymised_table_passes(table):
    df = anonymised_tables()[table]
    check_identifiers(df, table=table, source=f"{table}.csv")


def test_a_synthetic_export_passes_as_typed_tables():
    from cdanalytics.synth import generate

    export, _ = generate(1000, seed=11)
    for table in TABLES:
        check_identifiers(export.table(table), table=table, source="synthetic")


@pytest.mark.parametrize("table", TABLES)
def test_the_sample_export_passes_as_raw_text(table):
    raw = pd.read_csv(SAMPLE / f"{table}.csv", dtype=str, keep_default_na=False)
    check_identifiers(raw, table=table, source=f"data/sample/{table}.csv")


def test_title_case_categories_are_not_names():
    regions = ["Leeds North", "Kirklees Team", "Bradford Central", "Wakefield", "Calderdale"]
    reasons = ["Moved Away", "Lost Contact", "Health Reasons", "Family Court", "Prison Sentence"]
    df = pd.DataFrame({"team": regions * 20, "leaving": reasons * 20})
    assert found(df) == set()


def test_random_numeric_codes_are_not_mistaken_for_bsn_or_nhs_numbers():
    rng = np.random.default_rng(7)
    nine = pd.Series(rng.integers(10**8, 10**9, 300).astype(str))
    ten = pd.Series(rng.integers(10**9, 10**10, 300).astype(str))
    assert 0 < is_valid_bsn(nine).mean() < 0.5 and 0 < is_valid_nhs_number(ten).mean() < 0.5
    assert found(pd.DataFrame({"case_ref": nine, "file_ref": ten})) == set()


# --- findings and the error message ----------------------------------------------


IDENTIFYING = {
    "email": "j.smith@example.org",
    "telefoon": "06-12345678",
    "notes": "lives at 12 High Street LS1 4AP",
    "client_ref": "111222333",
    "nhs": "943 476 5919",
}


def identifying_table() -> pd.DataFrame:
    return pd.DataFrame({"participant_id": ["P000001"], **{k: [v] for k, v in IDENTIFYING.items()}})


def test_findings_name_table_source_column_kind_and_reason():
    findings = scan_identifiers(identifying_table(), table="participants", source="p.csv")
    assert tuple(findings.columns[:5]) == FINDING_COLUMNS
    assert set(findings["table"]) == {"participants"} and set(findings["source"]) == {"p.csv"}
    assert set(findings["column"]) == set(IDENTIFYING)
    assert set(findings["kind"]) <= set(IDENTIFIER_KINDS)
    assert findings.loc[findings["column"] == "email", "position"].tolist() == [2, 2]


def test_the_error_lists_every_column_and_never_a_value():
    with pytest.raises(IdentifierError) as caught:
        check_identifiers(identifying_table(), table="participants", source="export/p.csv")
    message = str(caught.value)
    assert "participants" in message and "export/p.csv" in message
    for column in IDENTIFYING:
        assert f"'{column}'" in message
    for value in IDENTIFYING.values():
        assert value not in message
    for fragment in ["j.smith", "12345678", "LS1 4AP", "High Street", "111222333", "5919"]:
        assert fragment not in message
    assert "e-mail address" in message and "NHS or CHI number" in message
    assert set(caught.value.findings["column"]) == set(IDENTIFYING)


def test_a_header_that_is_itself_a_value_is_not_repeated():
    df = pd.DataFrame({"participant_id": ["P1"], "j.smith@example.org": ["k.jones@example.org"]})
    with pytest.raises(IdentifierError) as caught:
        check_identifiers(df, table="participants", source="p.csv")
    message = str(caught.value)
    assert "example.org" not in message
    assert "column 2" in message and "header row" in message


def test_a_clean_table_gives_no_findings():
    findings = scan_identifiers(anonymised_tables()["events"], table="events", source="e.csv")
    assert findings.empty and tuple(findings.columns[:5]) == FINDING_COLUMNS


def test_large_columns_are_scanned_on_a_bounded_sample_of_distinct_values():
    df = pd.DataFrame({"notes": [f"person{i}@example.org" for i in range(50)] * 2})
    bounded = scan_identifiers(df, table="t", source="s", max_unique=10)
    assert bounded["reason"].tolist() == [
        "10 of 10 sampled distinct values contain an e-mail address"
    ]
    full = scan_identifiers(df, table="t", source="s", max_unique=None)
    assert full["reason"].tolist() == ["50 of 50 distinct values contain an e-mail address"]


def test_long_tables_are_scanned_on_a_bounded_sample_of_rows():
    df = pd.DataFrame({"notes": [f"person{i}@example.org" for i in range(1000)]})
    bounded = scan_identifiers(df, table="t", source="s", max_rows=100)
    assert bounded["reason"].tolist() == [
        "100 of 100 sampled distinct values contain an e-mail address"
    ]


# --- hardening (issue 9): more shapes of the same identifiers -------------------------


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("mobieletelefoonnummer", "phone"),
        ("telefoonnr", "phone"),
        ("client_telephone", "phone"),
        ("HomePhoneNumber", "phone"),
        ("adresregel", "address"),
        ("woonadres_regel_2", "address"),
        ("client_achternaam", "name"),
        ("meisjesnaam", "name"),
    ],
)
def test_compound_identifier_column_names_are_refused(column, kind):
    df = pd.DataFrame({"participant_id": ["P000001", "P000002"], column: ["x", "y"]})
    assert found(df) == {(column, kind)}


def valid_bsns_starting_with_zero(n: int) -> list[str]:
    """``n`` distinct 9-digit BSNs starting with 0 that pass the written-out 11-test."""
    rng = np.random.default_rng(5)
    out: set[str] = set()
    while len(out) < n:
        number = f"0{rng.integers(10**7, 10**8)}"
        if reference_bsn(number):
            out.add(number)
    return sorted(out)


def test_bsns_that_lost_their_leading_zero_are_found_as_text_and_as_numbers():
    bsns = valid_bsns_starting_with_zero(30)
    df = pd.DataFrame(
        {
            "client_ref": [b[1:] for b in bsns],  # as Excel saves them, read as text
            "client_no": [int(b) for b in bsns],  # read as numbers
        }
    )
    findings = scan_identifiers(df, table="participants", source="p.csv")
    assert set(zip(findings["column"], findings["kind"], strict=True)) == {
        ("client_ref", "bsn"),
        ("client_no", "bsn"),
    }
    assert findings["reason"].str.startswith("30 of 30 distinct values").all()


def test_random_8_digit_codes_are_not_mistaken_for_bsns():
    rng = np.random.default_rng(8)
    codes = rng.integers(10**7, 10**8, 300)
    padded_share = is_valid_bsn([f"0{c}" for c in codes]).mean()
    assert 0 < padded_share < 0.5  # about 1 in 11 pass by chance
    df = pd.DataFrame({"case_ref": codes.astype(str), "case_no": codes})
    assert found(df) == set()


def test_a_column_of_surname_comma_firstname_is_refused():
    people = ["OKOYE, Xander", "ADEYEMI, Tunde", "KOWALSKI, Piotr", "NGUYEN, Thi", "Rossi, L."]
    df = pd.DataFrame({"client": [*people, "ROSSI, Luca"]})
    findings = scan_identifiers(df, table="participants", source="p.csv")
    assert findings["kind"].tolist() == ["name"]
    assert "'SURNAME, Firstname'" in findings["reason"].iloc[0]


def test_category_labels_with_commas_are_not_surname_firstname():
    labels = ["Leeds, North", "Bradford, Central", "Other, not stated", "Unknown"] * 5
    assert found(pd.DataFrame({"team": labels})) == set()


def _empty_arrow_text(arrow_type: pa.DataType) -> pd.Series:
    """No rows, held as an Arrow chunked array without chunks (as a CSV of a header only)."""
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([], type=arrow_type)))


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([], dtype="str"),
        pd.Series([], dtype=object),
        pd.Series(pd.array(pa.chunked_array([], type=pa.string()), dtype="string[pyarrow]")),
        _empty_arrow_text(pa.large_string()),
    ],
    ids=["str", "object", "string-no-chunks", "large_string-no-chunks"],
)
def test_an_empty_table_is_scanned_without_error_and_finds_nothing(column):
    # a table with a header and no rows (measures.csv of an export without scores)
    empty = pd.DataFrame({"free_text": column, "site": column})
    assert scan_identifiers(empty, table="measures", source="measures.csv").empty


def test_an_all_missing_text_column_is_scanned_without_error():
    column = pd.Series([None] * 5, dtype="string[pyarrow]")
    frame = pd.DataFrame({"free_text": column})
    assert scan_identifiers(frame, table="measures", source="measures.csv").empty
