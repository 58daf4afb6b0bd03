"""``cdanalytics validate``: check an export against the contract and report every problem."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ExportValidationError
from ..io.formats import DEFAULT_MAX_PROBLEMS
from ..outdir import check_out_folder, folder_lock, read_marker, write_marker
from . import EXIT_INVALID, EXIT_OK

if TYPE_CHECKING:
    from ..io.validation import ValidationReport

__all__ = ["DEFAULT_OUT", "PROBLEMS_FILE", "register", "run"]

#: Name of the problem list written into ``--out``.
PROBLEMS_FILE = "validation_problems.csv"

#: Default ``--out`` folder, below the current folder.
DEFAULT_OUT = "validation"

#: Names of the files this command writes (the only ones it ever deletes).
_OWN_FILE = re.compile(r"(?:validation_problems|quarantine_[a-z_]{1,40})\.csv\Z")

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
Text cells that a spreadsheet would run as a formula get a leading quote.

OUT (default ./validation) must be a new or empty folder or an earlier validate
output (it holds the marker file .cdanalytics-validate, listing the files that
run wrote); anything else is refused (exit 2) unless --force is given. Each run
first deletes the files its earlier run listed, and only those. OUT may never
be the export, inside it or a parent of it, even with --force.
"""

EPILOG = """\
exit codes: 0 valid (or invalid rows quarantined), 1 invalid export (strict mode,
a problem with a whole file, identifiers found, unreadable files), 2 usage error
(bad arguments, mapping or config, an unsafe or busy OUT), 4 internal error (a
bug: a crash file without data values is written; please report it)"""


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
        default=Path(DEFAULT_OUT),
        metavar="DIR",
        help=f"folder for {PROBLEMS_FILE} and quarantine files (default: ./{DEFAULT_OUT})",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into DIR even if it holds files cdanalytics did not write",
    )
    parser.set_defaults(func=run)


def _clear_earlier(out: Path) -> None:
    """Delete the files this command's earlier run listed in its marker, nothing else."""
    marker = read_marker(out, "validate")
    if marker is None:
        return
    for name in marker.get("files", []):
        if isinstance(name, str) and _OWN_FILE.match(name):
            (out / name).unlink(missing_ok=True)


def _write_outputs(out: Path, report: ValidationReport, quarantine: dict) -> str:
    """Write the problem list and quarantine files (and the marker); the summary's tail."""
    from ..io.csvsafe import write_csv

    tail, written = "", []
    quarantined = {name: frame for name, frame in quarantine.items() if len(frame)}
    if report.ok and not quarantined and not out.exists():
        return tail
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out):
        _clear_earlier(out)
        if not report.ok:
            path = report.to_csv(out / PROBLEMS_FILE)
            written.append(path.name)
            more = report.n_problems - len(report.problems)
            extra = f", {more:,} more counted but not listed" if more else ""
            tail += f"\nFull problem list ({len(report.problems):,} rows{extra}): {path}"
        for name, frame in quarantined.items():
            path = write_csv(frame, out / f"quarantine_{name}.csv")
            written.append(path.name)
            tail += f"\nQuarantined {name} rows ({len(frame):,}): {path}"
        write_marker(out, "validate", files=written)
    return tail


def run(args: argparse.Namespace) -> int:
    """Validate the export; print the summary; write the problem list and quarantine files."""
    from ..config import load_config  # heavy: imported only when the command runs
    from ..io.load import load_export

    out = check_out_folder(args.out, "validate", sources=[args.export], force=args.force)
    config = load_config(args.config)
    try:
        export = load_export(
            args.export,
            mapping=args.mapping,
            quarantine=args.quarantine,
            programmes=config.programmes,
            instruments=config.instruments,
            audit_tools=config.audit_tools,
            max_problems_per_rule=args.max_problems,
        )
    except ExportValidationError as exc:
        print(exc.report.summary())
        print(_write_outputs(out, exc.report, {}))
        return EXIT_INVALID
    report = export.report
    print(report.summary())
    tail = _write_outputs(out, report, export.quarantine)
    if tail:
        print(tail)
    return EXIT_OK
