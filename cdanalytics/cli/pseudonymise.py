"""``cdanalytics pseudonymise``: replace a raw id column with keyed pseudonyms."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from ..io.pseudonym_key import DEFAULT_HEX_CHARS, DEFAULT_KEY_ENV, MIN_KEY_BYTES, load_key
from . import EXIT_OK

__all__ = ["register", "run"]

DESCRIPTION = """\
Replace a raw id column with keyed pseudonyms, consistently across every
table file (CSV, Parquet, xlsx) of an export folder, before the export leaves
your organisation. Each id becomes HMAC-SHA256(key, id), truncated to
--hex-chars hexadecimal characters; the same key always gives the same
pseudonym, so tables (and later exports) still link. manifest.json is copied.
"""

EPILOG = f"""\
key handling:
  The key is read from the environment variable named by --key-env (default
  {DEFAULT_KEY_ENV}) or from --key-file (the file's bytes, surrounding
  whitespace removed). It must be at least {MIN_KEY_BYTES} bytes; make one with
    python -c "import secrets; print(secrets.token_hex(32))"
  The key is never written to the output, the log or any message. Keep the key
  file outside the export and output folders, store it safely and use the same
  key for every export you want to link: anyone holding it can recompute the
  pseudonym of a known id.

exit codes: 0 success, 1 unreadable export, 2 usage error (including a missing
or too short key), 4 internal error (a bug: a crash file without data values is
written; please report it)
"""


def register(subparsers) -> None:
    """Add the ``pseudonymise`` subcommand."""
    parser = subparsers.add_parser(
        "pseudonymise",
        help="replace raw ids with keyed pseudonyms (HMAC-SHA256)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("src", metavar="SRC", help="folder of the raw export")
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="new or empty folder for the result"
    )
    parser.add_argument(
        "--column",
        default="participant_id",
        help="raw id column, as named in the files (default: participant_id)",
    )
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--key-file", metavar="FILE", help="read the key from this file")
    key.add_argument(
        "--key-env",
        metavar="VAR",
        default=DEFAULT_KEY_ENV,
        help=f"read the key from this environment variable (default: {DEFAULT_KEY_ENV})",
    )
    parser.add_argument(
        "--hex-chars",
        type=int,
        default=DEFAULT_HEX_CHARS,
        metavar="N",
        help=f"pseudonym length in hex characters, 20-64 (default: {DEFAULT_HEX_CHARS})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Pseudonymise ``args.src`` into ``args.out``; returns the exit code."""
    from ..io.pseudonymise import pseudonymise_export  # heavy: imported only here

    if args.key_file is not None:
        key_path = Path(args.key_file).resolve()
        for folder in (args.src, args.out):
            if key_path.is_relative_to(Path(folder).resolve()):
                raise ConfigError(
                    f"the key file is inside {folder}; keep it outside the export folders"
                )
    key = load_key(env_var=args.key_env, key_file=args.key_file)
    summary = pseudonymise_export(
        args.src, args.out, column=args.column, key=key, hex_chars=args.hex_chars
    )
    done = summary[summary["pseudonymised"]]
    print(
        f"{args.column} pseudonymised in {len(done)} table file(s) "
        f"({', '.join(done['file'])}); written to {args.out}"
    )
    return EXIT_OK
