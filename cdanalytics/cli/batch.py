"""``cdanalytics batch``: a report for every export under a folder."""

from __future__ import annotations

import argparse
import logging
import sys

from ..io.formats import DEFAULT_MAX_PROBLEMS
from . import EXIT_INTERNAL, EXIT_INVALID, EXIT_OK
from ._process import heavy_imports
from .validate import _positive_int

__all__ = ["register", "run"]

DESCRIPTION = """\
Write a report for every export found under EXPORTS_ROOT (any folder holding a
manifest.json, for example one per site and quarter) into OUT/<path>, and an
index page OUT/index.html comparing their headline figures. A report whose
export files, config, mapping and cdanalytics version are unchanged is up to
date and left as it is (--force rebuilds it). A failing export is reported in
OUT/batch.json, the index and on stderr, and does not stop the others; an
export that breaks the contract gets its problem list in
OUT/<path>/validation_problems.csv (as `cdanalytics validate` writes it: the
first --max-problems N problems of each rule and table, then how many more),
linked from the index.

Every option of `cdanalytics report` applies to every export. An export's own
files, inside its folder, win over the batch-wide options for that export:
evaluation.yaml replaces --config (as a whole, not merged) and mapping.yaml
replaces --mapping. --lang applies to all exports and the index.

--jobs N reports N exports at once in separate processes; OUT/batch.json and
OUT/index.html are byte for byte those of a serial run (--jobs 1).

OUT must be a new or empty folder or an earlier batch output (it holds the
marker file .cdanalytics-batch), and each OUT/<path> a new, empty or earlier
report folder; anything else is refused (exit 2) unless --force-out is given.
OUT may lie below EXPORTS_ROOT (it is then not searched for exports), but
never be EXPORTS_ROOT itself, a parent of it, or inside an export, even with
--force-out. (--force rebuilds up-to-date reports; it does not override the
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
    parser.add_argument(
        "--config",
        help="evaluation config YAML for every export without its own evaluation.yaml"
        " (default: built-in defaults)",
    )
    parser.add_argument(
        "--lang", choices=("en", "nl"), help="language of the reports and index (default: config)"
    )
    parser.add_argument(
        "--mapping",
        help="site mapping YAML for every export without its own mapping.yaml",
    )
    parser.add_argument(
        "--quarantine",
        action="store_true",
        help="set invalid rows aside (listed in each report's data-quality section)"
        " instead of failing the export",
    )
    parser.add_argument(
        "--max-problems",
        type=_positive_int,
        default=DEFAULT_MAX_PROBLEMS,
        metavar="N",
        help=f"problems listed per rule and table in a failed export's problem list (default"
        f" {DEFAULT_MAX_PROBLEMS:,}); the rest are counted",
    )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="report N exports at once in separate processes (default 1)",
    )
    parser.add_argument(
        "--png",
        action="store_true",
        help="also write each report's figures as PNG beside their SVG",
    )
    parser.add_argument(
        "--no-figures",
        dest="figures",
        action="store_false",
        help="draw no figures in the reports (tables, outcomes.json and pages only; faster)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild up-to-date reports too")
    parser.add_argument(
        "--force-out",
        action="store_true",
        help="write into OUT and its report folders even if cdanalytics did not write them",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no summary; only warnings and errors on stderr"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the batch; exit 4 if any export met a bug, else 1 if any failed."""
    with heavy_imports():
        from ..report.batch import batch_reports  # heavy: imported only when the command runs

    if args.quiet:
        logging.getLogger().setLevel(logging.WARNING)
    entries = batch_reports(
        args.exports_root,
        args.out,
        config=args.config,
        lang=args.lang,
        mapping=args.mapping,
        quarantine=args.quarantine,
        force=args.force,
        force_out=args.force_out,
        max_problems=args.max_problems,
        jobs=args.jobs,
        png=args.png,
        figures=args.figures,
    )
    failed = [e for e in entries if e.failed]
    for entry in failed:
        listed = f" (problem list: {args.out}/{entry.problems})" if entry.problems else ""
        print(f"{entry.export}: {entry.status}: {entry.message}{listed}", file=sys.stderr)
    if not args.quiet:
        print(
            f"{len(entries) - len(failed)} of {len(entries)} exports reported; "
            f"index: {args.out}/index.html",
            file=sys.stderr,
        )
    if any(e.status == "error" for e in entries):
        return EXIT_INTERNAL
    return EXIT_INVALID if failed else EXIT_OK
