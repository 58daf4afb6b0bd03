"""Benchmark of the main job, ``cdanalytics report``, end to end.

Makes (once, cached in ``benchmarks/out/``) a synthetic Parquet export and
times ``cdanalytics report EXPORT --out DIR --quiet`` in a child process:
loading and full validation, every outcome, disclosure control, figures and
writing. Target (issue 6): under 3 minutes and under 8 GB peak memory for
1,000,000 participants on a 2-core machine. The per-step timings come from
the report's own ``run.json``; the disclosure gate's share of the report's
time (its ``disclosure`` step: protecting every table, the linked tables
together, the self-check and the headline figures) is printed too (target,
issue 10: under 10% at 1,000,000 participants).

Usage::

    python benchmarks/bench_report.py [--participants 1000000]
"""

from __future__ import annotations

import argparse
import json
import shutil

from _common import OUT, machine, measure, synthetic_export

from cdanalytics.cli import main


def run_report(export, out) -> dict[str, float]:
    """Run the CLI; return the per-step timings of run.json."""
    code = main(["report", str(export), "--out", str(out), "--quiet"])
    if code != 0:
        raise SystemExit(f"cdanalytics report exited with {code}")
    return json.loads((out / "run.json").read_text())["timings_seconds"]


def main_benchmark() -> None:
    """Print the machine, then the end-to-end time and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    args = parser.parse_args()
    print(machine())
    export = synthetic_export(args.participants, "parquet")
    out = OUT / f"report_{args.participants}"
    shutil.rmtree(out, ignore_errors=True)
    _, _, timings = measure(
        f"cdanalytics report, {args.participants:,} participants", lambda: run_report(export, out)
    )
    total = sum(timings.values())
    gate = timings.get("disclosure", 0.0)
    print(f"disclosure gate: {gate:.2f} s of {total:.2f} s = {gate / total:.1%} of the report")
    matching = json.loads((out / "run.json").read_text())["matching_seconds_by_programme"]
    print("matching per programme (s):", matching)


if __name__ == "__main__":
    main_benchmark()
