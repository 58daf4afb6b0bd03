"""The attacker's suite, part two: the 20,000-person export and the site breakdowns.

Every attack within one report, as in ``tests/test_disclosure_attack.py`` (whose
docstring states the policy), on the 20,000-person synthetic export at every
threshold and method, and on ``data/sample`` broken down by site. A file of its
own so that ``pytest -n 2 --dist loadfile`` runs it beside the first part; its
reports are its own (no report is built in both files). Marked ``slow``.
"""

from __future__ import annotations

import pytest
from _attack import attack, true_counts
from _attack_reports import (
    METHODS,
    SAMPLE,
    THRESHOLDS,
    disclosure,
    published,
    refuse,
    truth_of,
)


@pytest.mark.slow
@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_all_attacks_together_recover_nothing_in_a_report_of_20000(
    attack_reports, threshold, method
):
    report = published(attack_reports, "large", disclosure(threshold, method), method)
    pub = report.published()
    found = attack(pub)
    refuse(found, truth_of(attack_reports, "large", pub), "one report, every attack at once,")


@pytest.mark.slow
@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("groupings", [["programme", "site"], ["site"]], ids=str)
def test_a_site_breakdown_recovers_nothing_within_one_report(attack_reports, groupings, method):
    config = {"groupings": groupings, **disclosure(10, method)}
    pub = published(attack_reports, "sample", config, method).published()
    found = attack(pub)
    refuse(found, true_counts(SAMPLE, pub.groupings), f"one report by {groupings}")
