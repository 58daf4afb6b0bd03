"""The command line (``cdanalytics.cli``): exit codes, help texts, quiet runs and
what ``cdanalytics report`` writes (checked against the export itself)."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib.metadata
import io
import json
import logging
import platform
import shutil
import sys
from pathlib import Path

import pytest

from cdanalytics.cli import _SUBCOMMANDS, main
from cdanalytics.cli.report import StepBar, progress, report_steps
from cdanalytics.config import validate_config
from cdanalytics.errors import AnalysisError
from cdanalytics.synth import write_synthetic_export

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
TABLES = ("participants", "sessions", "measures", "events")


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` with its exit code, stdout and stderr (root log level restored)."""
    root = logging.getLogger()
    level = root.level
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        root.setLevel(level)
    return code, out.getvalue(), err.getvalue()


# ``sample_report`` (the sample's report, made once per session) is in conftest.py.


@pytest.fixture(scope="module")
def small_export(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("small") / "export"
    write_synthetic_export(folder, n_participants=150, seed=5)
    return folder


# --------------------------------------------------------------------------- exit codes


def test_report_on_the_sample_exits_0_and_prints_nothing_when_quiet(sample_report):
    code, stdout, out = sample_report
    assert code == 0
    assert stdout == ""
    assert (out / "report.html").is_file()


def test_an_invalid_export_exits_1_and_writes_nothing(small_export, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(small_export, broken)
    with (broken / "participants.csv").open("a", encoding="utf-8", newline="") as f:
        first_row = (small_export / "participants.csv").read_text().splitlines()[1]
        f.write(first_row + "\n")  # the first participant twice
    code, _, stderr = run_cli(["report", str(broken), "--out", str(tmp_path / "out")])
    assert code == 1
    assert "participant_id" in stderr
    assert not (tmp_path / "out").exists()


def test_an_unknown_config_key_exits_2_and_names_the_key(small_export, tmp_path):
    config = tmp_path / "evaluation.yaml"
    config.write_text("disclosure:\n  treshold: 5\n", encoding="utf-8")
    argv = ["report", str(small_export), "--out", str(tmp_path / "out"), "--config", str(config)]
    code, _, stderr = run_cli(argv)
    assert code == 2
    assert "disclosure.treshold" in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["report"],  # no export
        ["report", "x"],  # no --out
        ["report", "x", "--out", "y", "--lang", "fr"],
        ["batch", "x"],
        ["no-such-command"],
        [],
    ],
)
def test_usage_errors_exit_2(argv):
    err = io.StringIO()
    with pytest.raises(SystemExit) as stop, contextlib.redirect_stderr(err):
        main(argv)
    assert stop.value.code == 2
    assert "usage:" in err.getvalue()


def test_an_analysis_failure_exits_3(small_export, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise AnalysisError("no outcome can be computed")

    monkeypatch.setattr("cdanalytics.report.build.compute_outcomes", fail)
    code, _, stderr = run_cli(["report", str(small_export), "--out", str(tmp_path / "out")])
    assert code == 3
    assert "analysis failed: no outcome can be computed" in stderr
    assert not (tmp_path / "out").exists()


EXIT_CODES = {
    "report": (
        "0 success",
        "1 invalid export",
        "2 usage error",
        "3 analysis failure",
        "4 internal error",
    ),
    "batch": ("0 every export has a report", "1 at least", "2 usage error", "4 internal error"),
    "validate": ("0 valid", "1 invalid export", "2 usage error", "4 internal error"),
    "synth": ("0 success", "2 usage error", "4 internal error"),
    "pseudonymise": ("0 success", "1 unreadable export", "2 usage error", "4 internal error"),
}


@pytest.mark.parametrize("command", _SUBCOMMANDS)
def test_help_of_every_command_documents_its_exit_codes(command):
    out = io.StringIO()
    with pytest.raises(SystemExit) as stop, contextlib.redirect_stdout(out):
        main([command, "--help"])
    assert stop.value.code == 0
    text = " ".join(out.getvalue().split())  # unwrap the help text
    assert "exit codes:" in text
    for code in EXIT_CODES[command]:
        assert code in text


def test_batch_takes_every_option_report_takes():
    from cdanalytics.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices

    def options(command: str) -> set[str]:
        return {o for a in commands[command]._actions for o in a.option_strings}

    assert options("report") <= options("batch")
    assert {"--jobs", "--max-problems", "--force-out"} <= options("batch")


def test_top_level_help_documents_the_exit_codes():
    out = io.StringIO()
    with pytest.raises(SystemExit), contextlib.redirect_stdout(out):
        main(["--help"])
    text = " ".join(out.getvalue().split())
    assert "0 success, 1 invalid export, 2 usage error, 3 analysis failure" in text
    assert "4 internal error" in text


# --------------------------------------------------------------------------- what a report holds


def test_figures_are_written_as_svg_only_unless_png_is_asked_for(sample_reports_by_lang):
    run, _ = sample_reports_by_lang["en"]  # build_report(SAMPLE): the defaults
    figures = run.out / "figures"
    assert len(list(figures.glob("*.svg"))) >= 8
    assert list(figures.glob("*.png")) == []


def test_no_figures_writes_the_same_tables_and_outcomes_and_a_page_without_charts(
    sample_report, tmp_path
):
    _, _, with_figures = sample_report
    out = tmp_path / "r"
    code, _, _ = run_cli(["report", str(SAMPLE), "--out", str(out), "--quiet", "--no-figures"])
    assert code == 0
    assert not list(out.glob("figures/*"))
    tables = sorted(p.name for p in (with_figures / "tables").glob("*.csv"))
    assert tables == sorted(p.name for p in (out / "tables").glob("*.csv"))
    for name in [*(f"tables/{t}" for t in tables), "outcomes.json"]:
        assert (out / name).read_bytes() == (with_figures / name).read_bytes(), name
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" not in html and '<div class="figure"' not in html
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["figures"] == "none"
    assert (
        json.loads((with_figures / "run.json").read_text(encoding="utf-8"))["figures"] == "svg+png"
    )


def test_png_without_figures_is_a_usage_error(tmp_path):
    argv = ["report", str(SAMPLE), "--out", str(tmp_path / "r"), "--png", "--no-figures"]
    code, _, stderr = run_cli(argv)
    assert code == 2 and "png needs the figures" in stderr
    assert not (tmp_path / "r").exists()


def test_report_writes_every_output(sample_report):
    _, _, out = sample_report
    svgs = {p.stem for p in (out / "figures").glob("*.svg")}
    assert svgs == {p.stem for p in (out / "figures").glob("*.png")}
    assert len(svgs) >= 8
    for svg in (out / "figures").glob("*.svg"):
        assert svg.read_text(encoding="utf-8").startswith("<svg")
    for png in (out / "figures").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tables = sorted(p.stem for p in (out / "tables").glob("*.csv"))
    assert {"engagement", "fixed_window", "change", "rows"} <= set(tables)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count('<div class="figure"') == len(svgs)  # every figure embedded
    assert "<img" not in html and "src=" not in html  # self-contained
    json.loads((out / "outcomes.json").read_text(encoding="utf-8"))


def test_run_json_records_checksums_rows_versions_config_and_timings(sample_report):
    _, _, out = sample_report
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    expected = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in SAMPLE.iterdir() if p.is_file()
    }
    assert run["input_checksums"] == expected
    for table in TABLES:
        with (SAMPLE / f"{table}.csv").open(encoding="utf-8", newline="") as f:
            n_rows = sum(1 for _ in csv.DictReader(f))
        assert run["rows"][table] == {
            "rows_read": n_rows,
            "rows_accepted": n_rows,
            "rows_quarantined": 0,
        }
    manifest = json.loads((SAMPLE / "manifest.json").read_text(encoding="utf-8"))
    assert run["extract_date"] == manifest["extract_date"]
    assert run["package_version"] == importlib.metadata.version("cdanalytics")
    assert run["schema_version"] == manifest["schema_version"]
    assert run["config"] == json.loads(json.dumps(validate_config(None).as_dict()))
    assert run["language"] == "en"
    steps = {"load", "engagement", "reoffending", "matching", "prepost", "disclosure", "write"}
    assert steps <= set(run["timings_seconds"])
    assert all(seconds >= 0 for seconds in run["timings_seconds"].values())


def test_run_json_records_the_versions_of_python_and_the_libraries(sample_report):
    _, _, out = sample_report
    versions = json.loads((out / "run.json").read_text(encoding="utf-8"))["library_versions"]
    assert versions["python"] == platform.python_version()
    for name in ("pandas", "numpy", "statsmodels", "scipy", "pandera", "matplotlib"):
        assert versions[name] == importlib.metadata.version(name)
    import numpy
    import pandas

    assert (versions["pandas"], versions["numpy"]) == (pandas.__version__, numpy.__version__)


def test_run_json_records_the_mapping_used(small_export, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("description: the contract's own names\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["report", str(small_export), "--out", str(out), "--mapping", str(mapping), "--quiet"]
    assert run_cli(argv)[0] == 0
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["mapping_checksum"] == hashlib.sha256(mapping.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- progress bar


class Terminal(io.StringIO):
    """A stream that says it is a terminal, keeping what was drawn on it."""

    def isatty(self) -> bool:
        return True


def on_screen(term: Terminal) -> str:
    """The bar as last drawn (tqdm redraws its line after a carriage return)."""
    return term.getvalue().rsplit("\r", 1)[-1]


def test_the_progress_bar_follows_the_steps_a_report_runs(sample_report):
    _, _, out = sample_report
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert list(run["timings_seconds"]) == list(report_steps())  # in the order they ran


def test_the_progress_bar_names_the_step_running_not_the_one_finished():
    term = Terminal()
    bar = StepBar(("load", "engagement", "write"), term)
    assert "0/3" in on_screen(term) and "load" in on_screen(term)
    bar.finished("load")  # load done: engagement is running
    assert "1/3" in on_screen(term) and "engagement" in on_screen(term)
    assert "load" not in on_screen(term)
    bar.finished("engagement")
    assert "2/3" in on_screen(term) and "write" in on_screen(term)
    bar.finished("write")
    assert "3/3" in on_screen(term) and "write" not in on_screen(term)
    bar.close()


def test_log_lines_are_written_above_the_bar_not_into_it(monkeypatch):
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    handler = logging.StreamHandler(sys.stderr)  # as main() sets up logging
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with progress(True, sys.stderr) as on_step:
            on_step("load")
            logging.getLogger("cdanalytics.test").warning("a log line")
            drawn = term.getvalue()
        restored = handler in root.handlers  # the redirect is undone afterwards
    finally:
        root.removeHandler(handler)
    assert restored
    before, after = drawn.split("WARNING a log line", 1)
    assert before.endswith("\r")  # the bar's line was cleared first
    assert after.startswith("\n")  # the log line is a line of its own
    assert "engagement" in after.rsplit("\r", 1)[-1]  # and the bar is drawn again below it


def test_no_progress_bar_without_a_terminal_or_when_quiet():
    with progress(False, Terminal()) as on_step:
        assert on_step is None


def test_quarantined_rows_are_counted_in_run_json(small_export, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(small_export, bad)
    lines = (bad / "sessions.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("attendance")] = "maybe"  # not an allowed value
    lines[1] = ",".join(row)
    (bad / "sessions.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    code, _, _ = run_cli(["report", str(bad), "--out", str(out), "--quarantine", "--quiet"])
    assert code == 0
    rows = json.loads((out / "run.json").read_text(encoding="utf-8"))["rows"]["sessions"]
    # run.json counts as published: one quarantined row is a small count, shown as the
    # primary marker, and the accepted rows are withheld with it (read - accepted = 1).
    assert rows == {
        "rows_read": len(lines) - 1,
        "rows_accepted": "[c]",
        "rows_quarantined": "<10",
    }
    with (out / "tables" / "rows.csv").open(encoding="utf-8", newline="") as f:
        published = {row["table"]: row for row in csv.DictReader(f)}["sessions"]
    assert published == {"table": "sessions", **{k: str(v) for k, v in rows.items()}}
