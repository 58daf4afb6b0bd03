"""Benchmark of the engagement outcomes (cdanalytics.engagement).

Loads the cached synthetic export (made once by ``cdanalytics.synth``; default
1,000,000 participants, about 17 million session rows at that size) and
computes every engagement outcome grouped by programme and site: the
per-participant preparation (core session sequences, attendance, exit status,
potential completers), flow and exits, completion, dropout and its timing,
retention, attendance, waiting times, data-quality disagreements, and the
dropout model. Target: under 20 s for all of it together on a 2-core machine.

The export is loaded (and validated) in this process first; the outcomes then
run in a forked child, so the peak memory printed includes the loaded export.

Usage::

    python benchmarks/bench_engagement.py [--participants 1000000]
"""

from __future__ import annotations

import argparse
import time
import warnings

from _common import machine, measure, synthetic_export

from cdanalytics import engagement as eng
from cdanalytics.io.load import load_export

BY = ["programme", "site"]
COVARIATES = ["risk_level", "age_band", "prior_offences", "referral_source"]


def all_outcomes(export) -> dict[str, float]:
    """Compute every engagement outcome by programme and site; seconds per step."""
    steps = {}

    def timed(name, fn):
        start = time.perf_counter()
        fn()
        steps[name] = round(time.perf_counter() - start, 2)

    data = None

    def prepare():
        nonlocal data
        data = eng.prepare_engagement(export)

    timed("prepare", prepare)
    timed("flow", lambda: (eng.flow(data, by=BY), eng.flow_exits(data, by=BY)))
    timed("completion", lambda: eng.completion(data, by=BY))
    timed("dropout", lambda: (eng.dropout(data, by=BY), eng.dropout_timing(data, by=BY)))
    timed("retention", lambda: eng.retention(data, by=BY))
    timed("attendance", lambda: (eng.attendance(data), eng.attendance_summary(data, by=BY)))
    timed("waiting_times", lambda: eng.waiting_times(data, by=BY))
    timed(
        "data_quality",
        lambda: (eng.exit_status_disagreements(data), eng.potential_completers(data)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        timed("dropout_model", lambda: eng.dropout_model(data, COVARIATES))
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    args = parser.parse_args()
    print(machine())
    folder = synthetic_export(args.participants, "parquet")
    start = time.perf_counter()
    export = load_export(folder)
    print(
        f"loaded {len(export.participants):,} participants and {len(export.sessions):,} "
        f"session rows in {time.perf_counter() - start:.1f} s (not part of the target)"
    )
    seconds, _, _ = measure(
        f"engagement outcomes by {' x '.join(BY)}", lambda: all_outcomes(export)
    )
    verdict = "within" if seconds < 20 else "OVER"
    print(f"total {seconds:.1f} s: {verdict} the 20 s target")


if __name__ == "__main__":
    main()
