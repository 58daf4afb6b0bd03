"""Person names in free text: the shipped name list and the rules that use it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from cdanalytics.io.privacy import contains_person_name, person_names, scan_identifiers

NAMES_FILE = (
    Path(__file__).resolve().parents[1] / "cdanalytics" / "registries" / "person_names.yaml"
)


def test_the_name_list_is_data_with_its_sources_and_a_few_hundred_names_per_country():
    text = NAMES_FILE.read_text(encoding="utf-8")
    header = text.split("\ngiven_names:")[0]
    for source in (
        "Meertens",
        "Voornamenbank",
        "Familienamenbank",
        "Office for National Statistics",
    ):
        assert source in header
    data = yaml.safe_load(text)
    for kind in ("given_names", "surnames"):
        for country in ("nl", "uk"):
            names = data[kind][country]
            assert len(names) >= 100 and len(set(names)) == len(names), (kind, country)
    given, surnames = person_names()
    assert {"pieter", "jan", "john", "sarah"} <= given and {"jansen", "smith", "vries"} <= surnames


@pytest.mark.parametrize(
    "text",
    [
        "Pieter Jansen",  # given name + capitalised word
        "met Sarah Okafor gesproken",
        "Jan de Vries",  # particles between
        "Anne-Marie Xyz",  # hyphenated given name by its first part
        "J. Smith",  # initials + surname
        "contact via P.J. van Dijk",
        "Mr Smith",  # title + capitalised word
        "gesprek met mevrouw Bakker",
        "dhr. Okoye belde",
        "JANSEN, Pieter",  # SURNAME, Given
        "Smith, John",
        "referred after pieter jansen called",  # given name + surname in lower case
        "JOHN SMITH",
    ],
)
def test_a_name_in_free_text_is_found(text):
    assert contains_person_name(text)


@pytest.mark.parametrize(
    "text",
    [
        "Moved to another area",
        "Referred by GP",
        "Verhuisd naar Utrecht",
        "Verhuisd naar Den Haag",
        "Lost contact",
        "Transferred to Leeds Team",
        "Referred by Children Social Care",
        "Moved to Victoria Road",
        "Started Jan 2024",
        "Mark as completed",
        "Geen motivatie meer, gestopt",
        "Detained in HMP Leeds",
        "Family Court order",
        "moved_away",
        "Sarah moved away",  # a given name on its own: not caught (documented)
        "spoke to Jansen",  # a surname on its own: not caught (documented)
    ],
)
def test_ordinary_reasons_are_not_names(text):
    assert not contains_person_name(text)


def test_a_free_text_column_with_one_name_is_refused_and_one_without_is_not():
    reasons = ["Moved to another area", "Referred by GP", "Verhuisd naar Utrecht"] * 10
    clean = pd.DataFrame({"exit_reason": reasons})
    assert scan_identifiers(clean, table="participants", source="p.csv").empty
    dirty = pd.DataFrame({"exit_reason": [*reasons, "met Pieter Jansen gesproken"]})
    findings = scan_identifiers(dirty, table="participants", source="p.csv")
    assert findings["kind"].tolist() == ["name"]
    assert findings["reason"].iloc[0].startswith("1 of 4 distinct values contain a person's name")
