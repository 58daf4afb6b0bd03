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

With several sizes (``--participants 100000,1000000``) it prints per size
the wall time, CPU time (user + system), the wall and CPU time of each of
the report's steps (``REPORT_STEPS``; CPU time is fairer than wall time on
a shared machine), the system share of the CPU time
(page faults: numpy's huge-page advice shows up here; compare a run with
``NUMPY_MADVISE_HUGEPAGE=0`` in the environment) and the peak memory, then a
least-squares line through the sizes: fixed cost + cost per million
participants, in seconds and GiB (issue 16).

Usage::

    python benchmarks/bench_report.py [--participants 100000,1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

import numpy as np
from _common import OUT, load_average, machine, measure_usage, synthetic_export

from cdanalytics.cli import main


def run_report(export, out) -> dict[str, dict[str, float]]:
    """Run the CLI; return the per-step wall timings of run.json and the CPU
    seconds (user + system of this process) of each step.

    The CPU time is taken by wrapping the ``on_step`` the CLI hands to
    ``build_report`` (the report's steps end where run.json's do).
    """
    import cdanalytics.report as report

    cpu: dict[str, float] = {}
    inner = report.build_report
    last = [time.process_time()]

    def build_report(*args, on_step=None, **kwargs):
        def step(name: str) -> None:
            now = time.process_time()
            cpu[name] = round(now - last[0], 3)
            last[0] = now
            if on_step is not None:
                on_step(name)

        last[0] = time.process_time()
        return inner(*args, on_step=step, **kwargs)

    report.build_report = build_report
    try:
        code = main(["report", str(export), "--out", str(out), "--quiet"])
    finally:
        report.build_report = inner
    if code != 0:
        raise SystemExit(f"cdanalytics report exited with {code}")
    wall = json.loads((out / "run.json").read_text())["timings_seconds"]
    return {"wall": wall, "cpu": cpu}


def main_benchmark() -> None:
    """Print the machine, then per size the end-to-end time, CPU, system
    share and peak memory, and the fitted cost per million participants."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", default="1000000", help="sizes, comma-separated")
    args = parser.parse_args()
    sizes = [int(x) for x in args.participants.split(",")]
    print(machine())
    print(f"NUMPY_MADVISE_HUGEPAGE={os.environ.get('NUMPY_MADVISE_HUGEPAGE', '(unset)')}")
    rows = []
    for n in sizes:
        export = synthetic_export(n, "parquet")
        out = OUT / f"report_{n}"
        shutil.rmtree(out, ignore_errors=True)
        label = f"cdanalytics report, {n:,} participants"
        wall, peak, steps, (user, system) = measure_usage(
            label, lambda export=export, out=out: run_report(export, out)
        )
        timings = steps["wall"]
        total = sum(timings.values())
        gate = timings.get("disclosure", 0.0)
        cpu = user + system
        print(
            f"  {n:>10,}: wall {wall:7.1f} s, CPU {cpu:7.1f} s (system {system / cpu:.0%}), "
            f"peak {peak / 1024:5.2f} GiB; disclosure gate {gate / total:.1%} of the report; "
            f"{load_average()}"
        )
        print("  per step, wall / CPU (s):")
        for name, seconds in timings.items():
            print(f"    {name:<16} {seconds:7.2f} / {steps['cpu'].get(name, float('nan')):7.2f}")
        matching = json.loads((out / "run.json").read_text())["matching_seconds_by_programme"]
        print("  matching per programme (s):", matching)
        rows.append((n / 1e6, wall, peak / 1024))
    if len(rows) >= 2:
        millions, walls, peaks = (np.array(c) for c in zip(*rows, strict=True))
        seconds = np.polyfit(millions, walls, 1)
        gib = np.polyfit(millions, peaks, 1)
        print(
            f"cost model: {seconds[1]:.1f} s + {seconds[0]:.1f} s per million participants; "
            f"{gib[1]:.2f} GiB + {gib[0]:.2f} GiB per million"
        )


if __name__ == "__main__":
    main_benchmark()
