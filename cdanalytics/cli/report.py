"""``cdanalytics report``: the main job."""

from __future__ import annotations

import argparse
import logging
import sys

__all__ = ["register", "run"]

DESCRIPTION = """\
Validate an export, compute every outcome (engagement, reoffending, pre/post
change) and write the evaluation report: report.html (self-contained),
figures/ (SVG, PNG), tables/ (CSV, after disclosure control), outcomes.json
(headline figures under stable keys) and run.json (checksums, row counts,
versions, config, timings, checksums of the other files). The output folder
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


def run(args: argparse.Namespace) -> int:
    """Build the report; returns the exit code (errors are mapped by the caller)."""
    from ..report import build_report  # heavy: imported only when the command runs
    from ..report.compute import STEPS

    if args.quiet:
        logging.getLogger().setLevel(logging.WARNING)
    show_bar = not args.quiet and sys.stderr.isatty()
    bar = None
    if show_bar:
        from tqdm import tqdm

        bar = tqdm(total=len(STEPS) + 4, desc="report", unit="step", file=sys.stderr)
    try:
        result = build_report(
            args.export,
            args.out,
            config=args.config,
            lang=args.lang,
            mapping=args.mapping,
            quarantine=args.quarantine,
            on_step=(lambda name: (bar.set_postfix_str(name), bar.update())) if bar else None,
            force=args.force,
        )
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        print(f"Report written: {result.html}", file=sys.stderr)
    return 0
