"""Benchmark: load + full validation of a synthetic export against plain pandas reads.

Usage::

    python benchmarks/bench_io.py [--participants N]   # default 1,000,000
    python benchmarks/bench_io.py --bad-rows N         # e.g. 1,000,000 all-bad session rows

Makes (once, cached in ``benchmarks/out/``) a synthetic export of N
participants as Parquet and as CSV, then times, each in a fresh forked
process with its own peak memory:

- plain ``pd.read_parquet`` of the four table files, and
  ``cdanalytics.io.load_export`` of the same folder (read, identifier scan,
  typing, every rule including the cross-table ones);
- plain ``pd.read_csv(engine="pyarrow")`` of the four CSV files, and
  ``load_export`` of the CSV folder;
- the identifier scan alone (part of the load), for the breakdown.

Targets (issue 2, 2-core machine): Parquet load + validation within 5x the
plain read and under 6 GB peak; CSV load within 3x pandas' pyarrow read.
Issue 16: within 1.5x of the plain read for both. With ``--interleaved``
the plain read and the load are timed alternately (load, read, load, read,
...), each in a fresh forked child, median of three, wall and CPU time
(user + system), with the load average, and one ``RATIO`` line per format;
``--formats parquet`` (or ``csv``) times one format only::

    python benchmarks/bench_io.py --interleaved [--formats parquet,csv]

With ``--bad-rows N`` it times instead ``cdanalytics validate`` (strict, and
with ``--quarantine``) on an export whose N session rows each break five
rules (unknown participant, unknown session type, unreadable session number,
unreadable session date, unknown attendance: five problems a row),
against a plain ``pd.read_csv`` of the same sessions file. Target (issue 9):
under 60 s and 2 GB for one million rows on 2 cores; the problem list stays
bounded (1,000 per rule and table) while every problem is counted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _common import OUT, compare, machine, measure, synthetic_export

from cdanalytics.io import load_export
from cdanalytics.io.export import TABLES
from cdanalytics.io.privacy import scan_identifiers


def _files(folder: Path, suffix: str) -> list[Path]:
    return [folder / f"{name}{suffix}" for name in TABLES if (folder / f"{name}{suffix}").exists()]


def plain_parquet(folder: Path) -> dict[str, int]:
    """``pd.read_parquet`` of every table file; rows per file."""
    return {p.stem: len(pd.read_parquet(p)) for p in _files(folder, ".parquet")}


def plain_csv(folder: Path) -> dict[str, int]:
    """``pd.read_csv(engine="pyarrow")`` of every table file; rows per file."""
    return {p.stem: len(pd.read_csv(p, engine="pyarrow")) for p in _files(folder, ".csv")}


def ours(folder: Path) -> dict[str, int]:
    """``load_export``: rows accepted per table."""
    export = load_export(folder)
    return {name: len(export.table(name)) for name in TABLES}


def identifier_scan(folder: Path) -> dict[str, int]:
    """Plain Parquet read plus the privacy scan of every table."""
    found = 0
    for path in _files(folder, ".parquet"):
        found += len(scan_identifiers(pd.read_parquet(path), table=path.stem, source=path.name))
    return {"findings": found}


def bad_export(n_rows: int) -> Path:
    """A small valid participants table and ``n_rows`` session rows each with five problems."""
    folder = OUT / f"bad_sessions_5rules_{n_rows}"
    if (folder / "manifest.json").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "participant_id": ["P1", "P2"],
            "programme": ["borg", "borg"],
            "site": ["A", "A"],
            "group": ["programme", "programme"],
            "referral_date": ["2024-01-10", "2024-01-10"],
        }
    ).to_csv(folder / "participants.csv", index=False)
    i = np.arange(n_rows)
    pd.DataFrame(
        {
            "participant_id": np.char.add("X", i.astype(str)),
            "session_type": np.array(["grp", "??", "indiv"])[i % 3],
            "session_number": np.char.add("n", (i % 997).astype(str)),
            "session_date": np.char.add("d", (i % 4999).astype(str)),
            "attendance": np.array(["yes", "no", "maybe"])[i % 3],
        }
    ).to_csv(folder / "sessions.csv", index=False)
    manifest = {"extract_date": "2025-06-30", "schema_version": 1}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def validate_command(folder: Path, *extra: str) -> dict[str, int]:
    """``cdanalytics validate FOLDER --out TMP [extra]``: exit code and problem-list rows."""
    from cdanalytics.cli import main as cli

    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        code = cli(["validate", str(folder), "--out", str(Path(tmp) / "out"), *extra])
        problems = Path(tmp) / "out" / "validation_problems.csv"
        listed = sum(1 for _ in problems.open(encoding="utf-8")) - 1 if problems.exists() else 0
    return {"exit": code, "problem_rows": listed}


def bad_rows_bench(n_rows: int) -> None:
    """Time and peak memory of ``validate`` on ``n_rows`` all-bad session rows."""
    folder = bad_export(n_rows)
    sessions = folder / "sessions.csv"
    peer = measure("pd.read_csv (sessions.csv)", lambda: {"rows": len(pd.read_csv(sessions))})
    strict = measure("cdanalytics validate (strict)", lambda: validate_command(folder))
    quarantine = measure(
        "cdanalytics validate --quarantine", lambda: validate_command(folder, "--quarantine")
    )
    print()
    for label, (seconds, peak, _) in (("strict", strict), ("quarantine", quarantine)):
        print(
            f"validate {label:<10} {seconds:6.1f} s = {seconds / peer[0]:5.1f}x pd.read_csv, "
            f"peak {peak / 1024:.2f} GiB (target < 60 s and < 2 GB for 1,000,000 rows)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument(
        "--bad-rows",
        type=int,
        default=None,
        metavar="N",
        help="time validate on N all-bad session rows instead",
    )
    parser.add_argument("--interleaved", action="store_true", help="ABAB, median of three")
    parser.add_argument(
        "--formats",
        default="parquet,csv",
        help="with --interleaved: the formats to time, comma-separated (default parquet,csv)",
    )
    args = parser.parse_args()
    print(machine())
    # the CLI sets it to 0 before numpy loads (cdanalytics/cli); it applies to both sides here
    print(f"NUMPY_MADVISE_HUGEPAGE={os.environ.get('NUMPY_MADVISE_HUGEPAGE', '(unset)')}")
    if args.bad_rows:
        bad_rows_bench(args.bad_rows)
        return
    if args.interleaved:
        formats = [f.strip() for f in args.formats.split(",") if f.strip()]
        n = f"{args.participants:,} participants"
        peers = {
            "parquet": ("Parquet", plain_parquet, "pd.read_parquet"),
            "csv": ("CSV", plain_csv, 'pd.read_csv(engine="pyarrow")'),
        }
        for fmt in (f for f in peers if f in formats):
            title, plain, peer = peers[fmt]
            folder = synthetic_export(args.participants, fmt)
            compare(
                f"load + validation, {title}, {n}",
                lambda folder=folder: ours(folder),
                lambda folder=folder, plain=plain: plain(folder),
                peer,
            )
        return
    parquet = synthetic_export(args.participants, "parquet")
    csv = synthetic_export(args.participants, "csv")
    rows = measure("pd.read_parquet (4 tables)", lambda: plain_parquet(parquet))
    print(f"rows: {rows[2]}")
    load = measure("load_export (parquet, full validation)", lambda: ours(parquet))
    measure("  of which: read + identifier scan", lambda: identifier_scan(parquet))
    csv_plain = measure('pd.read_csv(engine="pyarrow") (4 tables)', lambda: plain_csv(csv))
    csv_load = measure("load_export (csv, full validation)", lambda: ours(csv))
    print()
    print(
        f"parquet: load_export / read_parquet = {load[0] / rows[0]:.2f}x (target <= 5x), "
        f"peak {load[1] / 1024:.2f} GiB (target < 6 GB)"
    )
    print(
        f"csv:     load_export / read_csv(pyarrow) = {csv_load[0] / csv_plain[0]:.2f}x "
        "(target <= 3x)"
    )


if __name__ == "__main__":
    main()
