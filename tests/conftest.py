"""Fixtures shared by several test modules.

Session-scoped fixtures are built once per session (the reports once for
every xdist worker of ``-n 2``, see ``attack_reports``) and only read by the
tests that use them: a test that changes a report folder makes its own.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _attack_reports import TEST_SECRET, Caught, Reports

if TYPE_CHECKING:
    from cdanalytics.report import ReportRun

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _sample_cli_report(folder: Path) -> tuple[int, str, Path]:
    from cdanalytics.cli import main

    out = folder / "sample"
    root = logging.getLogger()
    level = root.level
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["report", str(SAMPLE), "--out", str(out), "--quiet", "--png"])
    finally:
        root.setLevel(level)
    return code, stdout.getvalue(), out


@pytest.fixture(scope="session")
def sample_report(attack_reports) -> tuple[int, str, Path]:
    """``cdanalytics report data/sample --quiet --png`` with the defaults (English).

    The exit code, what it wrote to stdout, and the report folder; the root
    logger's level, which the command line sets, is restored. Made once for
    all test processes; read (never changed) by ``test_cli.py``.
    """
    return attack_reports.shared("sample-cli", _sample_cli_report)


def _sample_reports_by_lang(folder: Path) -> dict[str, tuple[ReportRun, list[Caught]]]:
    from cdanalytics.report import build_report

    built = {}
    for lang in ("en", "nl"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = build_report(SAMPLE, folder / lang, lang=lang)
        built[lang] = (run, [Caught(w.category, str(w.message)) for w in caught])
    return built


@pytest.fixture(scope="session")
def sample_reports_by_lang(attack_reports) -> dict[str, tuple[ReportRun, list[Caught]]]:
    """The sample's report in English and in Dutch (:func:`build_report`, defaults).

    Language -> (the run, every warning the build gave). Made once for all
    test processes; read (never changed) by ``test_report_browser.py``,
    ``test_report_language.py``, ``test_cli.py`` and ``test_report_methods.py``.
    """
    return attack_reports.shared("sample-by-language", _sample_reports_by_lang)


@pytest.fixture(scope="session")
def attack_reports(tmp_path_factory) -> Iterator[Reports]:
    """The session's exports and reports, each made once per session.

    Shared by the ``test_disclosure_attack*.py`` files, the stage table's
    tests and the sample's report fixtures above, also across the processes of
    ``pytest -n 2``: each is made once per session; the cell key method runs
    with a fixed test secret.
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one folder for every worker of the session
        root = tmp_path_factory.getbasetemp().parent / "attack"
        root.mkdir(exist_ok=True)
    else:
        root = tmp_path_factory.mktemp("attack")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDANALYTICS_CELL_KEY_SECRET", TEST_SECRET)
        yield Reports(root)
