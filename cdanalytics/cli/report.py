"""``cdanalytics report``: the main job."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from ._process import heavy_imports

__all__ = ["StepBar", "register", "report_steps", "run"]

DESCRIPTION = """\
Validate an export, compute every outcome (engagement, reoffending, pre/post
change) and write the evaluation report: report.html (self-contained),
figures/ (SVG, PNG), tables/ (CSV, after disclosure control), outcomes.json
(headline figures under stable keys) and run.json (checksums, row counts,
versions of cdanalytics, Python and the statistics libraries, config,
mapping checksum, timings, checksums of the other files). The output folder
is replaced only when the new report is complete: a crash or kill at any
moment leaves the previous report or the new one in place, never neither.

OUT must be a new or empty folder or an earlier report (it holds the marker
file .cdanalytics-report); anything else is refused (exit 2) unless --force
is given, which deletes its contents. OUT may never be the export, inside it,
or a parent of it, even with --force. Two runs on one OUT at once: the second
stops with "another cdanalytics run is writing OUT" (exit 2)."""

EPILOG = """\
exit codes: 0 success, 1 invalid export (validation failed or identifiers
found; see the summary on stderr), 2 usage error (bad arguments, invalid
config, an unsafe or busy OUT), 3 analysis failure, 4 internal error (a bug:
a crash file without data values is written; please report it)"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="validate an export and write the evaluation report",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("export", help="export folder (or .xlsx workbook) with manifest.json")
    parser.add_argument("--out", required=True, help="report folder to write")
    parser.add_argument("--config", help="evaluation config YAML (default: built-in defaults)")
    parser.add_argument("--lang", choices=("en", "nl"), help="report language (default: config)")
    parser.add_argument("--mapping", help="site mapping YAML for column names and labels")
    parser.add_argument(
        "--png",
        action="store_true",
        help="also write each figure as PNG beside its SVG in OUT/figures/",
    )
    parser.add_argument(
        "--no-figures",
        dest="figures",
        action="store_false",
        help="draw no figures: the same tables, outcomes.json and page without charts, faster",
    )
    parser.add_argument(
        "--quarantine",
        action="store_true",
        help="set invalid rows aside (listed in the data-quality section) instead of stopping",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace OUT even if it is not an earlier report (its contents are deleted)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar; only warnings and errors on stderr"
    )
    parser.set_defaults(func=run)


def report_steps() -> tuple[str, ...]:
    """The steps of a report, in the order :func:`~cdanalytics.report.build_report` runs them."""
    from ..report.build import REPORT_STEPS

    return REPORT_STEPS


class StepBar:
    """A progress bar over a report's steps that names the step *running*.

    ``build_report`` calls its ``on_step`` when a step has finished; the bar
    then moves on and names the next step, the one now running.

    Parameters
    ----------
    steps
        The steps in order (:func:`report_steps`).
    file
        Where the bar is drawn (a terminal).
    """

    def __init__(self, steps: Sequence[str], file: TextIO) -> None:
        from tqdm import tqdm

        self.steps = tuple(steps)
        self.bar = tqdm(total=len(self.steps), desc="report", unit="step", file=file, mininterval=0)
        self.bar.set_postfix_str(self.steps[0] if self.steps else "")

    def finished(self, name: str) -> None:
        """Step ``name`` is done: count it and name the next one."""
        following = self.steps.index(name) + 1 if name in self.steps else len(self.steps)
        self.bar.set_postfix_str(
            self.steps[following] if following < len(self.steps) else "", refresh=False
        )
        self.bar.update()

    def close(self) -> None:
        """Stop drawing; the finished bar stays on the terminal."""
        self.bar.close()


@contextlib.contextmanager
def progress(show: bool, file: TextIO) -> Iterator[Callable[[str], None] | None]:
    """The ``on_step`` of a report: a :class:`StepBar` on ``file`` when ``show``, else ``None``.

    While the bar is shown, log records go through tqdm
    (:func:`tqdm.contrib.logging.logging_redirect_tqdm`), so a log line is
    written above the bar instead of through it.
    """
    if not show:
        yield None
        return
    from tqdm.contrib.logging import logging_redirect_tqdm

    bar = StepBar(report_steps(), file)
    try:
        with logging_redirect_tqdm():
            yield bar.finished
    finally:
        bar.close()


def run(args: argparse.Namespace) -> int:
    """Build the report; returns the exit code (errors are mapped by the caller)."""
    with heavy_imports():
        from ..report import build_report  # heavy: imported only when the command runs

    if args.quiet:
        logging.getLogger().setLevel(logging.WARNING)
    with progress(not args.quiet and sys.stderr.isatty(), sys.stderr) as on_step:
        result = build_report(
            args.export,
            args.out,
            config=args.config,
            lang=args.lang,
            mapping=args.mapping,
            quarantine=args.quarantine,
            on_step=on_step,
            force=args.force,
            png=args.png,
            figures=args.figures,
        )
    if not args.quiet:
        print(f"Report written: {result.html}", file=sys.stderr)
    return 0
