"""``cdanalytics batch``: a report for every export under a folder."""

from __future__ import annotations

import argparse
import logging
import sys

from . import EXIT_INTERNAL, EXIT_INVALID, EXIT_OK

__all__ = ["register", "run"]

DESCRIPTION = """\
Write a report for every export found under EXPORTS_ROOT (any folder holding a
manifest.json, for example one per site and quarter) into OUT/<path>, and an
index page OUT/index.html comparing their headline figures. An export whose
input checksums, config and package version already produced its report is
skipped; a failing export is reported in OUT/batch.json and on stderr and does
not stop the others.

OUT must be a new or empty folder or an earlier batch output (it holds the
marker file .cdanalytics-batch), and each OUT/<path> a new, empty or earlier
report folder; anything else is refused (exit 2) unless --force-out is given.
OUT may lie below EXPORTS_ROOT (it is then not searched for exports), but
never be EXPORTS_ROOT itself, a parent of it, or inside an export, even with
--force-out. (--force rebuilds unchanged reports; it does not override the
folder rule.)"""

EPILOG = """\
exit codes: 0 every export has a report (written or unchanged), 1 at least
one export was invalid or failed, 2 usage error (bad arguments or config, an
unsafe or busy OUT), 4 internal error in at least one export (a bug: a crash
file without data values is written into OUT; please report it)"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``batch`` subcommand."""
    parser = subparsers.add_parser(
        "batch",
        help="report every export under a folder, with an index page",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("exports_root", help="folder searched for exports")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--config", help="evaluation config YAML for every export")
    parser.add_argument("--lang", choices=("en", "nl"), help="report language")
    parser.add_argument("--quarantine", action="store_true", help="set invalid rows aside")
    parser.add_argument("--force", action="store_true", help="rebuild unchanged reports too")
    parser.add_argument(
        "--force-out",
        action="store_true",
        help="write into OUT and its report folders even if cdanalytics did not write them",
    )
    parser.add_argument("--quiet", action="store_true", help="only warnings and errors on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the batch; exit 4 if any export met a bug, else 1 if any failed."""
    from ..report.batch import batch_reports  # heavy: imported only when the command runs

    if args.quiet:
        logging.getLogger().setLevel(logging.WARNING)
    entries = batch_reports(
        args.exports_root,
        args.out,
        config=args.config,
        lang=args.lang,
        quarantine=args.quarantine,
        force=args.force,
        force_out=args.force_out,
    )
    failed = [e for e in entries if e.failed]
    for entry in failed:
        print(f"{entry.export}: {entry.status}: {entry.message}", file=sys.stderr)
    if not args.quiet:
        print(
            f"{len(entries) - len(failed)} of {len(entries)} exports reported; "
            f"index: {args.out}/index.html",
            file=sys.stderr,
        )
    if any(e.status == "error" for e in entries):
        return EXIT_INTERNAL
    return EXIT_INVALID if failed else EXIT_OK
