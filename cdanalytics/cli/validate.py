"""``cdanalytics validate``: check an export against the contract and report every problem."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import load_config
from ..errors import ExportValidationError
from ..io.load import load_export
from ..io.problems import DEFAULT_MAX_PROBLEMS
from ..io.validation import ValidationReport
from . import EXIT_INVALID, EXIT_OK

__all__ = ["PROBLEMS_FILE", "register", "run"]

#: Name of the problem list written into ``--out``.
PROBLEMS_FILE = "validation_problems.csv"

DESCRIPTION = """\
Read an export (a folder of CSV or Parquet files with manifest.json, or an .xlsx
workbook), check every rule of the contract in data/schemas, and print a summary:
rows read, accepted and quarantined per table, and the commonest problems.

When there are problems, the list (table, file, row as numbered in the file,
column, value, rule, what to do) is written to OUT/validation_problems.csv: the
first 1,000 problems of each rule and table (--max-problems N), then one row per
rule and table saying how many more there were. Every problem is counted, and
every row with a problem is quarantined, listed or not. With
--quarantine, invalid rows and the rows of participants with problems are set
aside in OUT/quarantine_<table>.csv (with their reasons) and the rest is accepted.
"""

EPILOG = """\
exit codes: 0 valid (or invalid rows quarantined), 1 invalid export (strict mode,
a problem with a whole file, identifiers found, unreadable files), 2 usage error
(bad arguments, mapping or config)"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``validate`` subcommand."""
    parser = subparsers.add_parser(
        "validate",
        help="check an export against the contract",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("export", type=Path, help="export folder or .xlsx workbook")
    parser.add_argument(
        "--mapping",
        type=Path,
        metavar="FILE",
        help="site mapping YAML (file, column and value names; see data/mappings/)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="evaluation config YAML whose programmes: and instruments: extend the registries",
    )
    parser.add_argument(
        "--quarantine",
        action="store_true",
        help="set invalid rows aside (OUT/quarantine_<table>.csv) instead of failing",
    )
    parser.add_argument(
        "--max-problems",
        type=_positive_int,
        default=DEFAULT_MAX_PROBLEMS,
        metavar="N",
        help=f"problems listed per rule and table (default {DEFAULT_MAX_PROBLEMS:,}); the rest "
        "are counted, and the list says how many more there were",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(),
        metavar="DIR",
        help=f"folder for {PROBLEMS_FILE} and quarantine files (default: current folder)",
    )
    parser.set_defaults(func=run)


def _write_problems(report: ValidationReport, out: Path) -> str:
    if report.ok:
        return ""
    out.mkdir(parents=True, exist_ok=True)
    path = report.to_csv(out / PROBLEMS_FILE)
    more = report.n_problems - len(report.problems)
    extra = f", {more:,} more counted but not listed" if more else ""
    return f"\nFull problem list ({len(report.problems):,} rows{extra}): {path}"


def run(args: argparse.Namespace) -> int:
    """Validate the export; print the summary; write the problem list and quarantine files."""
    config = load_config(args.config) if args.config else {}
    try:
        export = load_export(
            args.export,
            mapping=args.mapping,
            quarantine=args.quarantine,
            programmes=config.get("programmes"),
            instruments=config.get("instruments"),
            max_problems_per_rule=args.max_problems,
        )
    except ExportValidationError as exc:
        print(exc.report.summary())
        print(_write_problems(exc.report, args.out))
        return EXIT_INVALID
    report = export.report
    print(report.summary())
    tail = _write_problems(report, args.out)
    for name, frame in export.quarantine.items():
        if len(frame):
            path = args.out / f"quarantine_{name}.csv"
            frame.to_csv(path, index=False)
            tail += f"\nQuarantined {name} rows ({len(frame):,}): {path}"
    if tail:
        print(tail)
    return EXIT_OK
