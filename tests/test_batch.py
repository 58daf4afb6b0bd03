"""Scheduled batches (``cdanalytics batch``, :mod:`cdanalytics.report.batch`).

One scenario, run once (reports are slow to build): a root with two valid
exports in nested folders and one invalid export; a second run on unchanged
inputs; a run after one input file changed; a run with the invalid export
removed; a run with another config. Each test checks one promise of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cdanalytics.cli import main
from cdanalytics.report.batch import find_exports
from cdanalytics.synth import write_synthetic_export

VALID = ("leeds/2025Q1", "rotterdam/2025Q2")
INVALID = "broken/2025Q1"


def batch(root: Path, out: Path, *extra: str) -> int:
    """``cdanalytics batch ROOT --out OUT --quiet``; returns the exit code."""
    level = logging.getLogger().level
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return main(["batch", str(root), "--out", str(out), "--quiet", *extra])
    finally:
        logging.getLogger().setLevel(level)


def statuses(out: Path) -> dict[str, str]:
    entries = json.loads((out / "batch.json").read_text(encoding="utf-8"))
    return {e["export"]: e["status"] for e in entries}


def report_times(out: Path, name: str) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / name).rglob("*") if p.is_file()}


class IndexPage(HTMLParser):
    """The rows of the table in ``index.html``, and the links in it."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("batch")
    root, out = base / "exports", base / "reports"
    for seed, name in enumerate(VALID, start=1):
        write_synthetic_export(root / name, n_participants=200, seed=seed)
    shutil.copytree(root / VALID[0], root / INVALID)
    participants = root / INVALID / "participants.csv"
    first_row = participants.read_text(encoding="utf-8").splitlines()[1]
    with participants.open("a", encoding="utf-8") as f:
        f.write(first_row + "\n")  # a duplicate participant_id

    record: dict = {"root": root, "out": out}
    record["first"] = (batch(root, out), statuses(out))
    record["first_index"] = (out / "index.html").read_text(encoding="utf-8")
    times = {name: report_times(out, name) for name in VALID}

    record["unchanged"] = (batch(root, out), statuses(out))
    record["unchanged_times"] = (times, {name: report_times(out, name) for name in VALID})

    events = root / VALID[0] / "events.csv"
    lines = events.read_text(encoding="utf-8").splitlines()
    events.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # one event fewer
    record["input_changed"] = (batch(root, out), statuses(out))
    record["events_checksum"] = hashlib.sha256(events.read_bytes()).hexdigest()

    shutil.rmtree(root / "broken")
    record["all_valid"] = (batch(root, out), statuses(out))

    config = base / "evaluation.yaml"
    config.write_text("title: Leeds evaluation\n", encoding="utf-8")
    leeds = VALID[0].split("/")[0]
    # OUT/leeds holds only cdanalytics reports but no batch marker of its own
    record["config_changed"] = (
        batch(root / leeds, out / leeds, "--config", str(config), "--force-out"),
        statuses(out / leeds),
    )
    return record


def test_find_exports_lists_every_folder_with_a_manifest_in_path_order(tmp_path):
    for name in ("b/2025Q2", "a/2025Q1", "a/2024Q4", "c/notes"):
        (tmp_path / name).mkdir(parents=True)
    for name in ("b/2025Q2", "a/2025Q1", "a/2024Q4"):
        (tmp_path / name / "manifest.json").write_text("{}", encoding="utf-8")
    found = [p.relative_to(tmp_path).as_posix() for p in find_exports(tmp_path)]
    assert found == ["a/2024Q4", "a/2025Q1", "b/2025Q2"]


def test_one_invalid_export_does_not_stop_the_others_and_exits_1(scenario):
    code, status = scenario["first"]
    assert code == 1
    assert status == {VALID[0]: "written", VALID[1]: "written", INVALID: "invalid"}
    out = scenario["out"]
    for name in VALID:
        run = json.loads((out / name / "run.json").read_text(encoding="utf-8"))
        assert run["export"] == str((scenario["root"] / name).resolve())
    assert not (out / INVALID).exists()


def test_index_page_lists_every_export_with_its_status(scenario):
    page = IndexPage()
    page.feed(scenario["first_index"])
    header, *rows = page.rows
    assert header[:2] == ["Export", "Status"]
    assert {row[0]: row[1] for row in rows} == scenario["first"][1]
    assert sorted(page.links) == [f"{name}/report.html" for name in VALID]
    for row in rows:
        if row[0] == INVALID:
            assert "breaks the contract" in row[-1]  # why it failed
        else:
            manifest = scenario["root"] / row[0] / "manifest.json"
            assert row[2] == json.loads(manifest.read_text(encoding="utf-8"))["extract_date"]
            assert int(row[3].replace(",", "")) > 0  # people referred


def test_unchanged_exports_are_skipped_and_their_reports_left_alone(scenario):
    code, status = scenario["unchanged"]
    assert code == 1  # the invalid export still fails
    assert status == {VALID[0]: "skipped", VALID[1]: "skipped", INVALID: "invalid"}
    before, after = scenario["unchanged_times"]
    assert after == before


def test_a_changed_input_file_rebuilds_that_report_only(scenario):
    _, status = scenario["input_changed"]
    assert status == {VALID[0]: "written", VALID[1]: "skipped", INVALID: "invalid"}
    run = json.loads((scenario["out"] / VALID[0] / "run.json").read_text(encoding="utf-8"))
    assert run["input_checksums"]["events.csv"] == scenario["events_checksum"]


def test_exit_code_is_0_when_every_export_has_a_report(scenario):
    code, status = scenario["all_valid"]
    assert code == 0
    assert status == {VALID[0]: "skipped", VALID[1]: "skipped"}


def test_another_config_rebuilds_the_report(scenario):
    code, status = scenario["config_changed"]
    assert code == 0
    assert status == {"2025Q1": "written"}
    report = scenario["out"] / VALID[0]
    outcomes = json.loads((report / "outcomes.json").read_text(encoding="utf-8"))
    assert outcomes["title"] == "Leeds evaluation"
