"""The attacker's suite (issue 10): what a report publishes must not give away what it withholds.

Written from outside the gate: the tests run the command line, read only what the
report folder holds (``tables/*.csv``, ``outcomes.json``, ``run.json``,
``report.html``, the figure SVGs) and the log, and try to work out the counts the
report withholds (``tests/_attack.py`` says how). The synthetic export is read
only to learn true counts, so that a recovery is checked to be real.

Policy the tests hold the report to: **no withheld count may be recovered
exactly**, by any attack or by all of them together. Narrowing a withheld count to
an interval of two or more values is allowed (``<T`` itself says ``0..T-1``).

Within one report this must hold for every export (``data/sample``, a 300- and a
20,000-person synthetic export), threshold (5, 10, 30) and method (suppression,
``round_to: 5``, cell key). Across releases (another threshold, another grouping,
one person fewer) plain suppression is expected to give things away: those tests
print what they recover (``pytest -s``, or the ``recovered`` property in the JUnit
report) and assert only for the perturbative option (``disclosure: {method:
cell_key}``), run with a fixed test secret (``CDANALYTICS_CELL_KEY_SECRET``); the
attacker allows for the noise bound ``D`` that ``run.json`` states.

The suite is four files, so that ``pytest -n 2 --dist loadfile`` spreads it over
both workers: this one (every attack within one report of ``data/sample`` and
the 300-person export, and the format), ``test_disclosure_attack_large.py`` (the
20,000-person export and the site breakdowns),
``test_disclosure_attack_releases.py`` (two releases: another threshold, other
groupings) and ``test_disclosure_attack_removed.py`` (one participant fewer, the
batch index, quarantined rows). The helpers are in ``tests/_attack_reports.py``.

Cost: every report is built once per session (per test process) by the
``attack_reports`` fixture of ``tests/conftest.py`` and shared by the tests, in
any of the four files, that read it. The 20,000-person matrix, the site
breakdowns and the two other files are marked ``slow`` (deselect with
``-m "not slow"`` for a quick run); all of it belongs to the default run.
"""

from __future__ import annotations

import pytest
from _attack import (
    FAMILIES,
    attack,
    html_tables,
    is_count_column,
    is_withheld,
)
from _attack_reports import (
    METHODS,
    THRESHOLDS,
    disclosure,
    published,
    refuse,
    truth_of,
)

# --------------------------------------------------------------------------- one report


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("threshold", THRESHOLDS)
@pytest.mark.parametrize("export", ["sample", "small"])
def test_all_attacks_together_recover_nothing_within_one_report(
    attack_reports, export, threshold, method
):
    report = published(attack_reports, export, disclosure(threshold, method), method)
    pub = report.published()
    found = attack(pub)
    refuse(found, truth_of(attack_reports, export, pub), "one report, every attack at once,")


ATTACKS = {
    "subtraction within a table": ("within",),
    "subtraction across tables": ("within", "across"),
    "rate x base": ("within", "rates"),
    "Kaplan-Meier horizons and at-risk rows": ("within", "km"),
    "numbers printed twice (outcomes.json, run.json, HTML, figures, log)": (
        "within",
        "duplicates",
    ),
}


@pytest.mark.parametrize("attack_name", list(ATTACKS))
@pytest.mark.parametrize("threshold", THRESHOLDS)
@pytest.mark.parametrize("export", ["sample", "small"])
def test_each_attack_alone_recovers_nothing(attack_reports, export, threshold, attack_name):
    report = published(attack_reports, export, disclosure(threshold, "suppression"), "suppression")
    pub = report.published()
    found = attack(pub, families=ATTACKS[attack_name])
    refuse(found, truth_of(attack_reports, export, pub), attack_name)


def test_the_families_of_attacks_cover_every_relation():
    assert {f for fams in ATTACKS.values() for f in fams} | {"releases"} == set(FAMILIES)


# --------------------------------------------------------------------------- the format


@pytest.mark.parametrize("threshold", [5, 10])
@pytest.mark.parametrize("export", ["sample", "small"])
def test_withheld_counts_are_written_as_markers_never_blank(attack_reports, export, threshold):
    """``[c]`` (secondary) or ``<T`` with the threshold in force; a count is never blank.

    Expected to fail until the gate writes markers in ``tables/*.csv``.
    """
    report = published(attack_reports, export, disclosure(threshold, "suppression"), "suppression")
    pub = report.published()
    blank, wrong_threshold = [], []
    for table in pub.tables.values():
        for row in table.rows:
            for col in table.columns:
                if not is_count_column(table.name, col, table.keys):
                    continue
                text = (row.get(col) or "").strip()
                where = f"{table.name}[{table.key_of(row)}].{col}"
                if text == "":
                    blank.append(where)
                elif text.startswith("<") and text != f"<{threshold}":
                    wrong_threshold.append(f"{where} = {text}")
    tables, _ = html_tables(pub.html)
    for rows in tables:
        for row in rows[1:]:
            for text in row:
                if is_withheld(text) and text.startswith("<") and text != f"<{threshold}":
                    wrong_threshold.append(f"report.html: {row[0]} ... {text}")
    assert not wrong_threshold, wrong_threshold
    assert not blank, f"{len(blank)} withheld counts are blank, e.g. {blank[:5]}"


def test_the_attacker_reads_markers_and_blanks_as_withheld():
    assert all(is_withheld(t) for t in ("", " ", "[c]", "<10", "<5"))
    assert not any(is_withheld(t) for t in ("0", "12", "0.25", "1,400", "48.4%"))
