"""The attacker suite, two releases: the same export reported at thresholds 10 and
11, and with different groupings (see ``tests/test_disclosure_attack.py``).

Plain suppression is expected to give things away across releases: these tests
print what they recover (``pytest -s``, or the ``recovered`` property in the JUnit
report) and assert only for the cell key method.
"""

from __future__ import annotations

import pytest
from _attack import attack, true_counts, wrong_recoveries
from _attack_reports import RELEASE_METHODS, SAMPLE, disclosure, published, truth_of

#: Every test here builds and attacks two reports: minutes of CPU in all.
pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- releases


def across(found, truth, method: str, record_property, what: str) -> None:
    """Suppression: say what was recovered. Cell key: nothing may be."""
    wrong = wrong_recoveries(found, truth)
    assert not wrong, "the attacker's model is wrong (fix tests/_attack.py): " + "; ".join(wrong)
    lines = found.lines()
    record_property("recovered", lines)
    print(f"\n{what} under {method}: {len(lines)} withheld value(s) recovered")
    print("\n".join(lines))
    if method == "cell_key":
        assert not lines, f"{what} recovers under the cell key method:\n" + "\n".join(lines)


@pytest.mark.parametrize("method", RELEASE_METHODS)
@pytest.mark.parametrize("export", ["sample", "small"])
def test_two_reports_at_thresholds_10_and_11(attack_reports, export, method, record_property):
    pubs = [
        published(attack_reports, export, disclosure(t, method), method).published()
        for t in (10, 11)
    ]
    found = attack(*pubs)
    across(
        found,
        truth_of(attack_reports, export, pubs[0]),
        method,
        record_property,
        "thresholds 10 and 11",
    )


GROUPINGS = {
    "[programme] and [programme, site]": (["programme"], ["programme", "site"]),
    "[site] and [programme, site]": (["site"], ["programme", "site"]),
    "[programme], [site] and [programme, site]": (["programme"], ["site"], ["programme", "site"]),
}


@pytest.mark.parametrize("method", RELEASE_METHODS)
@pytest.mark.parametrize("groupings", list(GROUPINGS))
def test_two_reports_with_different_groupings(attack_reports, groupings, method, record_property):
    pubs = [
        published(
            attack_reports, "sample", {"groupings": g, **disclosure(10, method)}, method
        ).published()
        for g in GROUPINGS[groupings]
    ]
    found = attack(*pubs)
    truth = {}
    for pub in pubs:
        truth |= true_counts(SAMPLE, pub.groupings)
    across(found, truth, method, record_property, f"groupings {groupings}")
