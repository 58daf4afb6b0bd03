"""Internal errors (:mod:`cdanalytics._crash` and ``cdanalytics.cli.main``): exit 4, a
crash file with the versions and where it happened, and no data value anywhere.

A bug is injected into a real command: the value carried by the exception
stands for a value from the export, and must appear in no output.
"""

from __future__ import annotations

import json
from pathlib import Path

from _cli_run import run_cli

import cdanalytics.io.load as io_load
import cdanalytics.report.batch as batch_module
from cdanalytics._crash import crash_text
from cdanalytics._version import __version__
from cdanalytics.cli import EXIT_INTERNAL
from cdanalytics.errors import ConfigError

SECRET = "P0012345 Jansen"


def buggy_loader(*args, **kwargs):
    try:
        {}[SECRET]
    except KeyError as exc:
        raise ValueError(f"could not read {SECRET}") from exc


def crash_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("cdanalytics-crash-*.txt"))


def test_an_unexpected_exception_exits_4_with_a_crash_file_without_values(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(io_load, "load_export", buggy_loader)
    code, text = run_cli(["validate", str(tmp_path / "export"), "--out", str(tmp_path / "out")])
    assert code == EXIT_INTERNAL
    assert "internal error (ValueError)" in text and "please report it" in text
    assert SECRET not in text and "Traceback" not in text
    [crash] = crash_files(tmp_path)  # the output folder is not yet theirs: current folder
    assert str(crash) in text
    content = crash.read_text(encoding="utf-8")
    assert SECRET not in content
    assert f"cdanalytics {__version__}" in content
    assert "builtins.KeyError" in content and "builtins.ValueError" in content
    assert "in buggy_loader" in content and "in run" in content  # where it happened
    assert content.index("KeyError") < content.index("ValueError")  # cause first


def test_a_bug_in_one_export_of_a_batch_exits_4_and_the_crash_file_goes_to_out(
    tmp_path, monkeypatch
):
    (tmp_path / "root" / "site").mkdir(parents=True)
    (tmp_path / "root" / "site" / "manifest.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(batch_module, "build_report", buggy_loader)
    out = tmp_path / "out"
    code, text = run_cli(["batch", str(tmp_path / "root"), "--out", str(out), "--quiet"])
    assert code == EXIT_INTERNAL
    [entry] = json.loads((out / "batch.json").read_text(encoding="utf-8"))
    assert entry["status"] == "error" and "internal error (ValueError)" in entry["message"]
    [crash] = crash_files(out)
    assert str(crash) in entry["message"]
    for output in [text, *(p.read_text(encoding="utf-8") for p in out.iterdir() if p.is_file())]:
        assert SECRET not in output


def test_messages_of_our_own_errors_are_kept_others_withheld():
    try:
        raise ConfigError("unknown key 'tabels'")
    except ConfigError as exc:
        assert "unknown key 'tabels'" in crash_text(exc)
    try:
        int(SECRET)
    except ValueError as exc:
        text = crash_text(exc)
    assert SECRET not in text and "message withheld" in text
