"""Benchmark: load + full validation of a synthetic export against plain pandas reads.

Usage::

    python benchmarks/bench_io.py [--participants N]   # default 1,000,000

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
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from _common import machine, measure, synthetic_export

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    args = parser.parse_args()
    print(machine())
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
