"""Scheduled batches (``cdanalytics batch``, :mod:`cdanalytics.report.batch`).

One scenario, run once (reports are slow to build; they are built without
figures, except in the parallel run): a root with two valid
exports in nested folders (one with its own mapping.yaml and evaluation.yaml)
and one invalid export; the same batch in two worker processes; a second run
on unchanged inputs (with --jobs 2); a run after one input file changed; a run of the invalid
export alone with --max-problems 1; a run with the invalid export removed; a
run with another config; a run with a batch-wide config and mapping. Each test
checks one promise of it.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cdanalytics.cli import main
from cdanalytics.errors import ConfigError
from cdanalytics.i18n import label
from cdanalytics.outdir import check_out_folder
from cdanalytics.report.batch import PROBLEMS_FILE, BatchEntry, batch_reports, find_exports
from cdanalytics.report.batch_index import STATUS_KEYS, index_page
from cdanalytics.synth import write_synthetic_export

VALID = ("leeds/2025Q1", "rotterdam/2025Q2")
INVALID = "broken/2025Q1"
OWN_FILES = VALID[1]  # the export with its own mapping.yaml and evaluation.yaml


class Records(logging.Handler):
    """Every log record of cdanalytics, as ``(logger name, message)``."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.name, record.getMessage()))


def batch(root: Path, out: Path, *extra: str, quiet: bool = True, figures: bool = False) -> int:
    """``cdanalytics batch ROOT --out OUT [--quiet] [--no-figures]``; returns the exit code.

    Without figures unless asked: the tests read tables, indexes and logs (the
    parallel run of the scenario draws them, in its worker processes).
    """
    level = logging.getLogger().level
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            argv = ["batch", str(root), "--out", str(out), *extra]
            argv += [] if figures else ["--no-figures"]
            return main([*argv, "--quiet"] if quiet else argv)
    finally:
        logging.getLogger().setLevel(level)


def logged_batch(root: Path, out: Path, *extra: str) -> tuple[int, list[tuple[str, str]]]:
    """:func:`batch` at log level INFO, with the cdanalytics log records it produced."""
    records, logger, root_logger = Records(), logging.getLogger("cdanalytics"), logging.getLogger()
    level = root_logger.level
    logger.addHandler(records)
    root_logger.setLevel(logging.INFO)
    try:
        return batch(root, out, *extra, quiet=False, figures=True), records.seen
    finally:
        logger.removeHandler(records)
        root_logger.setLevel(level)


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
        write_synthetic_export(root / name, n_participants=60, seed=seed)
    shutil.copytree(root / VALID[0], root / INVALID)
    participants = root / INVALID / "participants.csv"
    first_row = participants.read_text(encoding="utf-8").splitlines()[1]
    with participants.open("a", encoding="utf-8") as f:
        f.write(first_row + "\n")  # a duplicate participant_id
    # a site whose system calls the participants file deelnemers.csv: readable
    # only through its own mapping.yaml; and its own title
    own = root / OWN_FILES
    (own / "participants.csv").rename(own / "deelnemers.csv")
    (own / "mapping.yaml").write_text("tables:\n  participants:\n    file: deelnemers\n")
    (own / "evaluation.yaml").write_text("title: Rotterdam evaluation\n", encoding="utf-8")

    record: dict = {"root": root, "out": out, "base": base}
    record["first"] = (batch(root, out), statuses(out))
    record["first_index"] = (out / "index.html").read_bytes()
    record["first_json"] = (out / "batch.json").read_bytes()
    times = {name: report_times(out, name) for name in VALID}

    parallel = base / "parallel"
    record["parallel"] = logged_batch(root, parallel, "--jobs", "2")
    record["parallel_index"] = (parallel / "index.html").read_bytes()
    record["parallel_json"] = (parallel / "batch.json").read_bytes()

    # unchanged inputs, in parallel: the up-to-date reports are found without a worker
    record["unchanged"] = (batch(root, out, "--jobs", "2"), statuses(out))
    record["unchanged_index"] = (out / "index.html").read_text(encoding="utf-8")
    record["unchanged_times"] = (times, {name: report_times(out, name) for name in VALID})

    events = root / VALID[0] / "events.csv"
    lines = events.read_text(encoding="utf-8").splitlines()
    events.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # one event fewer
    record["input_changed"] = (batch(root, out), statuses(out))
    record["events_checksum"] = hashlib.sha256(events.read_bytes()).hexdigest()

    few = base / "few_problems"
    record["max_problems"] = (batch(root / "broken", few, "--max-problems", "1"), statuses(few))

    with contextlib.redirect_stdout(io.StringIO()):  # what `cdanalytics validate` writes
        record["validated"] = main(["validate", str(root / INVALID), "--out", str(base / "v")])

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

    # batch-wide config and mapping: the mapping names a participants file that
    # no export has, so an export it applies to is invalid (and no report is built)
    wide_mapping = base / "mapping.yaml"
    wide_mapping.write_text("tables:\n  participants:\n    file: nosuchfile\n", encoding="utf-8")
    record["batch_wide"] = (
        batch(root, out, "--config", str(config), "--mapping", str(wide_mapping)),
        statuses(out),
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
    # no report for the invalid export: only its problem list (and the marker)
    assert {p.name for p in (out / INVALID).iterdir()} == {PROBLEMS_FILE, ".cdanalytics-report"}


def test_index_page_lists_every_export_with_its_status(scenario):
    page = IndexPage()
    page.feed(scenario["first_index"].decode("utf-8"))
    header, *rows = page.rows
    assert header[:2] == ["Export", "Status"]
    shown = {status: label(STATUS_KEYS[status], "en") for status in STATUS_KEYS}
    assert {row[0].split(" (")[0]: row[1] for row in rows} == {
        name: shown[status] for name, status in scenario["first"][1].items()
    }
    assert sorted(page.links) == sorted(
        [f"{name}/report.html" for name in VALID] + [f"{INVALID}/{PROBLEMS_FILE}"]
    )
    for row in rows:
        if row[0].startswith(INVALID):
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


def test_the_index_says_up_to_date_not_skipped(scenario):
    page = IndexPage()
    page.feed(scenario["unchanged_index"])
    shown = {row[0]: row[1] for row in page.rows[1:]}
    assert [shown[name] for name in VALID] == ["up to date", "up to date"]
    assert "skipped" not in scenario["unchanged_index"]


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


# ----------------------------------------------------------------- problem lists


def test_an_invalid_export_gets_the_problem_list_validate_writes(scenario):
    assert scenario["validated"] == 1
    written = scenario["out"] / INVALID / PROBLEMS_FILE
    assert written.read_bytes() == (scenario["base"] / "v" / PROBLEMS_FILE).read_bytes()
    entries = json.loads(scenario["first_json"])
    assert {e["export"]: e["problems"] for e in entries} == {
        VALID[0]: "",
        VALID[1]: "",
        INVALID: f"{INVALID}/{PROBLEMS_FILE}",
    }


def test_the_problem_list_folder_may_become_a_report_later(scenario):
    # it carries the report marker, so the next report replaces it without --force-out
    check_out_folder(scenario["out"] / INVALID, "report")


def test_max_problems_limits_the_listed_problems_and_counts_the_rest(scenario):
    code, status = scenario["max_problems"]
    assert (code, status) == (1, {"2025Q1": "invalid"})
    with (scenario["base"] / "few_problems" / "2025Q1" / PROBLEMS_FILE).open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    # the duplicate participant_id is two problems of the rule unique: one listed,
    # then one row saying how many more there were (no row number or value)
    assert [row["rule"] for row in rows] == ["unique", "unique"]
    assert rows[0]["row"] != "" and rows[1]["row"] == "" and rows[1]["value"] == ""
    assert rows[1]["message"].startswith("1 more unique problem(s)")


# ------------------------------------------------------------- per-export files


def test_an_exports_own_mapping_and_config_are_used(scenario):
    # without its mapping.yaml the export has no participants table: it would be invalid
    assert scenario["first"][1][OWN_FILES] == "written"
    report = scenario["out"] / OWN_FILES
    outcomes = json.loads((report / "outcomes.json").read_text(encoding="utf-8"))
    assert outcomes["title"] == "Rotterdam evaluation"
    leeds = json.loads((scenario["out"] / VALID[0] / "outcomes.json").read_text(encoding="utf-8"))
    assert leeds["title"] != "Rotterdam evaluation"


def test_an_exports_own_files_win_over_the_batch_wide_options(scenario):
    code, status = scenario["batch_wide"]
    assert code == 1
    # the batch-wide mapping reached the export without its own mapping ...
    assert status[VALID[0]] == "invalid"
    # ... but not the one with its own files: its report is still up to date
    assert status[OWN_FILES] == "skipped"
    report = scenario["out"] / OWN_FILES
    outcomes = json.loads((report / "outcomes.json").read_text(encoding="utf-8"))
    assert outcomes["title"] == "Rotterdam evaluation"


# ------------------------------------------------------------------- --jobs N


def test_two_jobs_write_the_same_index_and_batch_json_as_one(scenario):
    code, _ = scenario["parallel"]
    assert code == scenario["first"][0] == 1
    assert scenario["parallel_index"] == scenario["first_index"]
    assert scenario["parallel_json"] == scenario["first_json"]


def test_the_workers_log_records_reach_this_process(scenario):
    _, records = scenario["parallel"]
    written = [m for name, m in records if name == "cdanalytics.report.build"]
    for export in VALID:
        target = (scenario["base"] / "parallel" / export).resolve()
        assert f"report written to {target}" in written
    assert any("invalid export" in m for name, m in records if name == "cdanalytics.report.batch")


def test_the_parallel_run_drew_every_reports_figures(scenario):
    for export in VALID:
        folder = scenario["base"] / "parallel" / export
        svgs = list((folder / "figures").glob("*.svg"))
        html = (folder / "report.html").read_text(encoding="utf-8")
        assert svgs and html.count('<div class="figure"') == len(svgs)
        assert json.loads((folder / "run.json").read_text(encoding="utf-8"))["figures"] == "svg"


def test_a_report_without_figures_is_rebuilt_when_figures_are_asked_for(tmp_path):
    root, out = tmp_path / "exports", tmp_path / "out"
    write_synthetic_export(root / "a", n_participants=40, seed=3)
    assert batch(root, out) == 0  # --no-figures
    assert not list((out / "a").glob("figures/*.svg"))
    assert (batch(root, out), statuses(out)) == (0, {"a": "skipped"})
    assert (batch(root, out, figures=True), statuses(out)) == (0, {"a": "written"})
    assert list((out / "a" / "figures").glob("*.svg"))
    assert (batch(root, out, figures=True), statuses(out)) == (0, {"a": "skipped"})


def test_png_without_figures_is_a_usage_error(tmp_path):
    assert batch(tmp_path, tmp_path / "out", "--png") == 2  # with --no-figures
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="png needs the figures"):
        batch_reports(tmp_path, tmp_path / "out", png=True, figures=False)


def test_a_missing_batch_wide_mapping_is_a_usage_error(tmp_path):
    assert batch(tmp_path, tmp_path / "out", "--mapping", str(tmp_path / "nosuch.yaml")) == 2
    assert not (tmp_path / "out").exists()


def test_jobs_below_one_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as stopped, contextlib.redirect_stderr(io.StringIO()):
        batch(tmp_path, tmp_path / "out", "--jobs", "0")
    assert stopped.value.code == 2
    with pytest.raises(ConfigError, match="jobs must be"):
        batch_reports(tmp_path, tmp_path / "out", jobs=0)


# ---------------------------------------------------------------------- index


def test_the_index_speaks_dutch(tmp_path):
    entries = [
        BatchEntry("a/2025Q1", "skipped", "", "a/2025Q1"),
        BatchEntry("b/2025Q1", "invalid", "kapot", "b/2025Q1", f"b/2025Q1/{PROBLEMS_FILE}"),
    ]
    page = IndexPage()
    page.feed(index_page(tmp_path, entries, "Evaluatie", "nl"))
    header, *rows = page.rows
    assert header[:2] == ["Export", "Status"] and header[2] == "Exportdatum"
    assert [row[1] for row in rows] == ["actueel", "ongeldig"]
    assert rows[1][0] == "b/2025Q1 (probleemlijst)"
    assert page.links == ["a/2025Q1/report.html", f"b/2025Q1/{PROBLEMS_FILE}"]


def test_an_invalid_own_config_fails_that_export_only(tmp_path):
    root = tmp_path / "exports"
    write_synthetic_export(root / "a", n_participants=40, seed=1)
    (root / "a" / "evaluation.yaml").write_text("no_such_setting: 1\n", encoding="utf-8")
    out = tmp_path / "out"
    assert batch(root, out) == 1
    entry = json.loads((out / "batch.json").read_text(encoding="utf-8"))[0]
    assert (entry["export"], entry["status"]) == ("a", "failed")
    assert "evaluation.yaml" in entry["message"] and "no_such_setting" in entry["message"]
    assert not (out / "a").exists()  # stopped before anything was read or written
