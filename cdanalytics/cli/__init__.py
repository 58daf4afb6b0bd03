"""The ``cdanalytics`` command line.

Each subcommand lives in its own module of this package, which defines
``register(subparsers)`` (adds its parser and sets ``func``) and a function
``run(args) -> int`` that returns the exit code.

Exit codes
----------
0  success
1  invalid export (validation failed, identifiers found, unreadable files)
2  usage error (bad arguments, invalid config or mapping, an unsafe or busy
   output folder)
3  analysis failure
4  internal error: a bug in cdanalytics. A crash file
   ``cdanalytics-crash-<time>-<pid>.txt`` with the versions and the traceback
   (exception types, files, lines and functions; no data values) is written
   into the output folder of ``batch`` or ``validate`` when it is theirs,
   else the current folder, else the temporary folder; stderr names it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings
from pathlib import Path

# Before numpy is imported (nothing above imports it): no huge-page advice on
# numpy's large allocations. Measured with benchmarks/bench_report.py on a
# 1,000,000-participant report (2 cores, loaded machine): system time fell
# from 30% to 24% of CPU time and CPU time by 4% (28.5 s to 27.3 s); the
# page faults on fresh huge pages grow with the export (issue 16).
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

from .._crash import write_crash_file
from .._version import __version__
from ..errors import AnalysisError, ConfigError, ExportError, OutputFolderError
from ..outdir import read_marker
from ._process import own_process

__all__ = ["EXIT_ANALYSIS", "EXIT_INTERNAL", "EXIT_INVALID", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_ANALYSIS, EXIT_INTERNAL = 0, 1, 2, 3, 4

_SUBCOMMANDS = ("validate", "synth", "pseudonymise", "report", "batch")

EPILOG = """\
exit codes: 0 success, 1 invalid export, 2 usage error, 3 analysis failure,
4 internal error. A usage error includes an unsafe or busy --out folder. An
internal error is a bug: a crash file without data values is written (stderr
says where); please report it."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="cdanalytics",
        description="Evaluate domestic-abuse perpetrator programmes from anonymised case exports.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(sub)
    for subparser in sub.choices.values():
        # Global options are accepted after the subcommand too. SUPPRESS: when
        # not given there, the value set before the subcommand is kept.
        subparser.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help="log debug detail to stderr",
        )
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings in the log as one readable line, without source code."""
    return f"{category.__name__}: {message}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (also used by the console script).

    Without ``argv`` (the command line of this process) the process is the
    command's own, and its garbage collector is tuned for it
    (:mod:`cdanalytics.cli._process`).
    """
    if argv is None:
        own_process()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.captureWarnings(True)
    warnings.formatwarning = _one_line_warning
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"cdanalytics {args.command}: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ExportError as exc:
        print(f"cdanalytics {args.command}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OutputFolderError as exc:
        print(f"cdanalytics {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AnalysisError as exc:
        print(f"cdanalytics {args.command}: analysis failed: {exc}", file=sys.stderr)
        return EXIT_ANALYSIS
    except Exception as exc:  # a bug: say so, keep the evidence, never the data
        return _internal_error(args, exc)


def _crash_folders(args: argparse.Namespace) -> list[Path]:
    """The output folder of ``batch``/``validate`` if it is theirs (a report's is replaced)."""
    kind = args.command
    out = getattr(args, "out", None)
    if kind not in ("batch", "validate") or out is None:
        return []
    return [Path(out)] if read_marker(out, kind) is not None else []


def _internal_error(args: argparse.Namespace, exc: Exception) -> int:
    try:
        where = f"the crash file {write_crash_file(exc, _crash_folders(args))}"
    except OSError:
        where = "the steps that led to it (no crash file could be written)"
    print(
        f"cdanalytics {args.command}: internal error ({type(exc).__name__}). This is a bug"
        f" in cdanalytics {__version__}: please report it, attaching {where}; it holds the"
        " versions and where the error happened, no data values.",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
