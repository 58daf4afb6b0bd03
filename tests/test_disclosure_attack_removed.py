"""The attacker suite: the same export with one participant fewer, the batch index
against each report, and ``run.json`` of a run with quarantined rows (see
``tests/test_disclosure_attack.py``).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from _attack import (
    attack,
    attack_batch,
    attack_one_removed,
    describe,
    read_published,
    remove_participant,
)
from _attack_reports import RELEASE_METHODS, disclosure, published, refuse, run_cli

#: Every test here builds and attacks two reports: minutes of CPU in all.
pytestmark = pytest.mark.slow


def test_row_counts_in_run_json_do_not_undo_the_rows_table(attack_reports, tmp_path_factory):
    """Three invalid rows, quarantined: ``run.json`` must not print what ``rows.csv`` withholds."""
    export = tmp_path_factory.mktemp("quarantine") / "export"
    shutil.copytree(attack_reports.export("small"), export)
    sessions = export / "sessions.csv"
    lines = sessions.read_text(encoding="utf-8").splitlines(keepends=True)
    for i in (1, 2, 3):  # three sessions on an impossible date
        fields = lines[i].split(",")
        fields[3] = "2019-02-30"
        lines[i] = ",".join(fields)
    sessions.write_text("".join(lines), encoding="utf-8")
    report = attack_reports.report(export, disclosure(10, "suppression"), ("--quarantine",))
    assert report.code == 0, report.log[-2000:]
    pub = report.published()
    # the three bad sessions: fewer than 10, so run.json shows the marker, as rows.csv does
    assert pub.run["rows"]["sessions"]["rows_quarantined"] == "<10"
    found = attack(pub, families=("within", "duplicates"))
    refuse(found, {}, "run.json against tables/rows.csv")


# ------------------------------------------------------------- one participant fewer, the batch


def removed_person(export: Path) -> dict[str, str]:
    """A programme starter of the smallest programme: the person the attacker is after."""
    with (export / "participants.csv").open(encoding="utf-8", newline="") as f:
        people = [p for p in csv.DictReader(f) if p["group"] == "programme"]
    sizes: dict[str, int] = {}
    for p in people:
        sizes[p["programme"]] = sizes.get(p["programme"], 0) + 1
    starters = [p for p in people if p["start_date"] and p["exit_status"] == "completed"]
    return min(starters, key=lambda p: (sizes[p["programme"]], p["participant_id"]))


@pytest.mark.parametrize("method", RELEASE_METHODS)
@pytest.mark.parametrize("export", ["sample", "small"])
def test_the_same_export_with_one_participant_removed(
    attack_reports, tmp_path_factory, export, method, record_property
):
    full_export = attack_reports.export(export)
    person = removed_person(full_export)
    less_export = remove_participant(
        full_export,
        tmp_path_factory.mktemp("removed") / export,
        person["participant_id"],
    )
    config = disclosure(10, method)
    full = published(attack_reports, full_export, config, method).published()
    less = published(attack_reports, less_export, config, method).published()
    diff = attack_one_removed(full, less)
    programme = frozenset({("programme", person["programme"])})
    # the attacker's model, checked against the person's own row of the export
    for column in ("n_referred", "n_started"):
        cell = ("full", "engagement", column, programme)
        if cell in diff.pinned:
            assert diff.pinned[cell] == 1, f"{describe(cell)} should count the removed starter"
    lines = diff.lines()
    record_property("recovered", lines)
    # what the attacker is after: did this person complete, did he reoffend
    secret = {
        describe(c): v
        for c, v in diff.pinned.items()
        if c[1:3] in (("engagement", "n_completed"), ("fixed_window", "n_reoffenders"))
        and c[3] <= programme | {("group", "programme")}
    }
    print(
        f"\none participant ({person['programme']}, completed) removed under {method}: "
        f"{len(lines)} memberships pinned, {len(diff.about_withheld())} of them through "
        f"withheld counts; completion and reoffending: {secret}"
    )
    if method == "cell_key":
        assert not secret, "the removed person's completion or reoffending can be read off"


def test_the_batch_index_against_each_report(attack_reports, tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    exports = root / "exports"
    for name in ("small", "second"):
        shutil.copytree(attack_reports.export(name), exports / name)
    out = root / "out"
    code, log = run_cli(["batch", str(exports), "--out", str(out), "--quiet"])
    assert code == 0, log[-2000:]
    pubs = {name: read_published(out / name, log) for name in ("small", "second")}
    found = attack_batch((out / "index.html").read_text(encoding="utf-8"), pubs)
    refuse(found, {}, "the batch index with the reports")
