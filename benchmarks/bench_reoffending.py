"""Benchmark of the reoffending survival analyses (cdanalytics.reoffending).

On a synthetic export of N participants (default 1,000,000; made once by
``cdanalytics.synth`` and cached in ``benchmarks/out``): the per-person
outcome table, Kaplan-Meier cumulative reoffending by group, the log-rank
test between programme and comparison, and a Cox model with 6 covariates
(15 terms), then its proportional-hazards check. Target on a 2-core machine:
Kaplan-Meier, log-rank and Cox together under 60 s.

Each step runs in a forked child so its peak memory is its own; the child
inherits the loaded export and outcome table, so the peaks include them.

Usage::

    python benchmarks/bench_reoffending.py [--participants 1000000]
"""

from __future__ import annotations

import argparse
import time

from _common import machine, measure, synthetic_export

from cdanalytics.io.load import load_export
from cdanalytics.reoffending import (
    cox,
    cumulative_reoffending,
    logrank,
    person_outcomes,
)

COVARIATES = ["group", "risk_level", "prior_offences", "n_children", "age_band", "ethnicity_group"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    args = parser.parse_args()
    print(machine())

    folder = synthetic_export(args.participants)
    start = time.perf_counter()
    export = load_export(folder)
    print(f"{'load_export (parquet)':<48} {time.perf_counter() - start:9.2f} s")

    measure(
        "person_outcomes",
        lambda: {"in_cohort": int(person_outcomes(export)["in_cohort"].sum())},
    )
    outcomes = person_outcomes(export)

    def kaplan_meier():
        result = cumulative_reoffending(outcomes, by="group")
        twelve = result.horizons.query("horizon_months == 12")
        return dict(zip(twelve["group"], twelve["cumulative"].round(4), strict=True))

    def log_rank():
        result = logrank(outcomes, by="group")
        return {"chi2": round(result.statistic, 1)}

    def cox_model():
        result = cox(outcomes, COVARIATES)
        hr = result.summary.set_index("term").loc["group[programme]", "hazard_ratio"]
        return {
            "terms": len(result.terms),
            "n_events": result.n_events,
            "hr_programme": round(hr, 4),
        }

    def cox_with_ph_check():
        table = cox(outcomes, COVARIATES).proportional_hazards()
        return {"global_p": float(table["p_value"].iloc[-1].round(4))}

    total = 0.0
    for label, fn in (
        ("Kaplan-Meier by group (curve, horizons, medians)", kaplan_meier),
        ("log-rank programme vs comparison", log_rank),
        (f"Cox, {len(COVARIATES)} covariates, Efron ties", cox_model),
    ):
        seconds, _, _ = measure(label, fn)
        total += seconds
    print(f"{'KM + log-rank + Cox together':<48} {total:9.2f} s   (target < 60 s)")
    measure("Cox + proportional-hazards check (km)", cox_with_ph_check)


if __name__ == "__main__":
    main()
