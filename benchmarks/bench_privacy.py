"""Benchmark the privacy guard and pseudonymisation on a large synthetic export.

    python benchmarks/bench_privacy.py --participants 1000000 [--format parquet|csv]

Prints, per table, the plain ``pandas`` read time beside the identifier scan
time (the scan is bounded: a 200,000-row sample of a longer table), then the
time and peak memory of pseudonymising the whole export.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from _common import machine, measure, synthetic_export

from cdanalytics.io.export import TABLES
from cdanalytics.io.privacy import scan_identifiers
from cdanalytics.io.pseudonymise import pseudonymise_export


def _read(folder: Path, table: str, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(folder / f"{table}.csv", engine="pyarrow")
    return pd.read_parquet(folder / f"{table}.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    args = parser.parse_args()
    print(machine())
    folder = synthetic_export(args.participants, args.format)
    for table in TABLES:

        def read(table: str = table) -> dict:
            return {"rows": len(_read(folder, table, args.format))}

        def read_and_scan(table: str = table) -> dict:
            df = _read(folder, table, args.format)
            findings = scan_identifiers(df, table=table, source=table)
            return {"rows": len(df), "findings": len(findings)}

        measure(f"{table}: pandas read", read)
        measure(f"{table}: read + identifier scan", read_and_scan)

    out = Path(tempfile.mkdtemp(prefix="bench_pseudo_"))
    try:

        def pseudonymise() -> dict:
            summary = pseudonymise_export(folder, out / "export", key=b"benchmark-key-0123456789")
            return {"rows": int(summary["rows"].sum())}

        measure(f"pseudonymise_export ({args.format})", pseudonymise)
    finally:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
