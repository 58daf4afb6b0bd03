"""Run the command line in-process, as a scheduler would see it."""

from __future__ import annotations

import contextlib
import io
import logging

from cdanalytics.cli import main


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``cdanalytics ARGV``: the exit code and everything printed (stdout and stderr).

    The root logger's level, which ``main`` sets, is restored afterwards.
    """
    level = logging.getLogger().level
    text = io.StringIO()
    try:
        with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
            code = main(argv)
    finally:
        logging.getLogger().setLevel(level)
    return code, text.getvalue()
