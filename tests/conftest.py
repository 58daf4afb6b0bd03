"""Fixtures shared by several test modules.

Session-scoped fixtures are built once per test process (once per xdist
worker with ``-n 2``) and only read by the tests that use them: a test that
changes a report folder makes its own.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from _attack_reports import TEST_SECRET, Reports

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="session")
def sample_report(tmp_path_factory) -> tuple[int, str, Path]:
    """``cdanalytics report data/sample --quiet`` with the defaults (English).

    The exit code, what it wrote to stdout, and the report folder; the root
    logger's level, which the command line sets, is restored. Read (never
    changed) by ``test_cli.py`` and ``test_report_browser.py``.
    """
    from cdanalytics.cli import main

    out = tmp_path_factory.mktemp("sample-report") / "sample"
    root = logging.getLogger()
    level = root.level
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["report", str(SAMPLE), "--out", str(out), "--quiet"])
    finally:
        root.setLevel(level)
    return code, stdout.getvalue(), out


@pytest.fixture(scope="session")
def attack_reports(tmp_path_factory) -> Iterator[Reports]:
    """The attacker suite's exports and reports, each made once per session.

    Shared by ``test_disclosure_attack.py``, ``test_disclosure_attack_releases.py``
    and ``test_disclosure_attack_removed.py``; the cell key method runs with a
    fixed test secret.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDANALYTICS_CELL_KEY_SECRET", TEST_SECRET)
        yield Reports(tmp_path_factory.mktemp("attack"))
