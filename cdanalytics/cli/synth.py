"""``cdanalytics synth``: write a synthetic export with its true parameters."""

from __future__ import annotations

import argparse
import logging
import time

from ..io.formats import FORMATS
from . import EXIT_OK

__all__ = ["register", "run"]

log = logging.getLogger(__name__)

DESCRIPTION = """\
Write a realistic synthetic export (all programmes of the registry plus a
comparison pool) drawn from documented true parameters, and truth.json with
those parameters and the exact probabilities they imply (completion by
programme and risk level, per-session dropout hazard, reoffending hazard
ratios and 12-month proven-reoffending probabilities, pre/post true change
and reliability). The same seed gives the same bytes. Not real data.
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(subparsers) -> None:
    """Add the ``synth`` subcommand."""
    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic export and its truth.json",
        description=DESCRIPTION,
        epilog="exit codes: 0 success, 2 usage error, 4 internal error (a bug: a crash file"
        " without data values is written; please report it)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--participants",
        type=_positive_int,
        required=True,
        metavar="N",
        help="rows of the participants table",
    )
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="folder to write (created if needed)"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="csv",
        dest="fmt",
        help="table file format (default csv)",
    )
    parser.add_argument(
        "--extract-date",
        default="2025-06-30",
        metavar="YYYY-MM-DD",
        help="end of observation (default 2025-06-30)",
    )
    parser.add_argument(
        "--comparison-share",
        type=float,
        default=0.3,
        metavar="SHARE",
        help="share of rows in the comparison pool (default 0.3)",
    )
    parser.add_argument(
        "--audits",
        action="store_true",
        help="also write case_audits and family_outcomes (Safe & Together case-file audits "
        "with a known training effect and reader agreement; truth under 'practice')",
    )
    parser.add_argument(
        "--programme-effects",
        action="store_true",
        help="give each programme its own true reoffending effect, some harmful (opposite in "
        "sign); truth under reoffending.by_programme",
    )
    parser.add_argument(
        "--family",
        action="store_true",
        help="switch on the family features: programme stages with stage-wise dropout, review "
        "sessions and evaluation meeting outcomes, one questionnaire per child and the services "
        "table (truth under 'family')",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write the export; returns the exit code."""
    # heavy: imported only here
    from .._merge import deep_merge
    from ..synth import (
        FAMILY_PARAMETERS,
        PROGRAMME_EFFECT_PARAMETERS,
        TRUTH_FILE,
        write_synthetic_export,
    )

    parameters: dict = {}
    if args.programme_effects:
        parameters = deep_merge(parameters, PROGRAMME_EFFECT_PARAMETERS)
    if args.family:
        parameters = deep_merge(parameters, FAMILY_PARAMETERS)

    start = time.perf_counter()
    truth = write_synthetic_export(
        args.out,
        n_participants=args.participants,
        seed=args.seed,
        fmt=args.fmt,
        extract_date=args.extract_date,
        comparison_share=args.comparison_share,
        audits=args.audits,
        parameters=parameters or None,
    )
    counts = truth["realised"]
    log.info(
        "wrote %s (%s) with %s in %.1f s: %d participants, %d sessions, %d measures, %d events",
        args.out,
        args.fmt,
        TRUTH_FILE,
        time.perf_counter() - start,
        counts["participants"],
        counts["sessions"],
        counts["measures"],
        counts["events"],
    )
    return EXIT_OK
