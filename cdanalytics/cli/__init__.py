"""The ``cdanalytics`` command line.

Each subcommand lives in its own module of this package, which defines
``register(subparsers)`` (adds its parser and sets ``func``) and a function
``run(args) -> int`` that returns the exit code.

Exit codes
----------
0  success
1  invalid export (validation failed, identifiers found, unreadable files)
2  usage error (bad arguments, invalid config or mapping)
3  analysis failure
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings

from .._version import __version__
from ..errors import AnalysisError, ConfigError, ExportError

__all__ = ["EXIT_ANALYSIS", "EXIT_INVALID", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_ANALYSIS = 0, 1, 2, 3

_SUBCOMMANDS = ("validate", "synth", "pseudonymise", "report", "batch")

EPILOG = """exit codes: 0 success, 1 invalid export, 2 usage error, 3 analysis failure"""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="cdanalytics",
        description="Evaluate domestic-abuse perpetrator programmes from anonymised case exports.",
        epilog=EPILOG,
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
    """Run the command line; returns the exit code (also used by the console script)."""
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
    except AnalysisError as exc:
        print(f"cdanalytics {args.command}: analysis failed: {exc}", file=sys.stderr)
        return EXIT_ANALYSIS


if __name__ == "__main__":
    sys.exit(main())
