"""Fixtures shared by several test modules.

Session-scoped fixtures are built once per test process (once per xdist
worker with ``-n 2``) and only read by the tests that use them: a test that
changes a report folder makes its own.
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
from _attack_reports import TEST_SECRET, Reports

if TYPE_CHECKING:
    from cdanalytics.report import ReportRun

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="session")
def sample_report(tmp_path_factory) -> tuple[int, str, Path]:
    """``cdanalytics report data/sample --quiet --png`` with the defaults (English).

    The exit code, what it wrote to stdout, and the report folder; the root
    logger's level, which the command line sets, is restored. Read (never
    changed) by ``test_cli.py``.
    """
    from cdanalytics.cli import main

    out = tmp_path_factory.mktemp("sample-report") / "sample"
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
def sample_reports_by_lang(tmp_path_factory) -> dict[str, tuple[ReportRun, list[str]]]:
    """The sample's report in English and in Dutch (:func:`build_report`, defaults).

    Language -> (the run, the message of every warning the build gave).
    Read (never changed) by ``test_report_browser.py`` and
    ``test_report_language.py``.
    """
    from cdanalytics.report import build_report

    out = tmp_path_factory.mktemp("sample-by-language")
    built = {}
    for lang in ("en", "nl"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = build_report(SAMPLE, out / lang, lang=lang)
        built[lang] = (run, [str(w.message) for w in caught])
    return built


@pytest.fixture(scope="session")
def attack_reports(tmp_path_factory) -> Iterator[Reports]:
    """The attacker suite's exports and reports, each made once per session.

    Shared by the ``test_disclosure_attack*.py`` files (and the stage table's
    subtraction test), also across the processes of ``pytest -n 2``: each is
    made once per session; the cell key method runs with a fixed test secret.
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one folder for every worker of the session
        root = tmp_path_factory.getbasetemp().parent / "attack"
        root.mkdir(exist_ok=True)
    else:
        root = tmp_path_factory.mktemp("attack")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDANALYTICS_CELL_KEY_SECRET", TEST_SECRET)
        yield Reports(root)
