"""Benchmark of the reoffending survival analyses (cdanalytics.reoffending).

On a synthetic export of N participants (default 1,000,000; made once by
``cdanalytics.synth`` and cached in ``benchmarks/out``): the per-person
outcome table, Kaplan-Meier cumulative reoffending by group, the log-rank
test between programme and comparison, and a Cox model with 6 covariates
(15 terms), then its proportional-hazards check. Target on a 2-core machine:
Kaplan-Meier, log-rank and Cox together under 60 s.

Then each against the peer a researcher would use, on the same outcome
table, interleaved (ours, peer, ours, peer, ...), median of three (issue 16;
target ours / peer <= 0.5): lifelines ``KaplanMeierFitter`` on each group,
``logrank_test`` on the two groups, and ``CoxPHFitter`` (Efron ties) on the
same 15 terms (``pd.get_dummies`` of the covariates, inside its timing as
our design matrix is inside ours); the two Cox fits print their log partial
likelihood, which does not depend on the reference levels.

Each step runs in a forked child so its peak memory is its own; the child
inherits the loaded export and outcome table, so the peaks include them.

Usage::

    python benchmarks/bench_reoffending.py [--participants 1000000] [--only-peers]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from _common import compare, machine, measure, synthetic_export

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
    parser.add_argument("--only-peers", action="store_true", help="only the peer comparisons")
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
    if not args.only_peers:
        steps(outcomes)
    peers(outcomes)


def steps(outcomes: pd.DataFrame) -> None:
    """Each analysis on its own, with its peak memory."""

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


def peers(outcomes: pd.DataFrame) -> None:
    """Ours against lifelines, interleaved, median of three."""
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test

    def cohort_arrays() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        """What the peer starts from, made inside its timing as ours is."""
        cohort = outcomes[outcomes["in_cohort"].to_numpy(dtype=bool)]
        time_, event = cohort["duration_days"].to_numpy(float), cohort["event"].to_numpy(bool)
        return cohort, time_, event, (cohort["group"] == "programme").to_numpy()

    _, time_, event, _ = cohort_arrays()
    print(f"{len(time_):,} people in the cohort, {int(event.sum()):,} first reoffences")

    def km_ours():
        result = cumulative_reoffending(outcomes, by="group")
        return {"rows": len(result.curve)}

    def km_peer():
        _, time_, event, programme = cohort_arrays()
        rows = 0
        for part in (programme, ~programme):
            fitted = KaplanMeierFitter().fit(time_[part], event[part])
            rows += len(fitted.survival_function_)
        return {"rows": rows}

    def lr_ours():
        return {"chi2": round(logrank(outcomes, by="group").statistic, 6)}

    def lr_peer():
        _, time_, event, programme = cohort_arrays()
        result = logrank_test(
            time_[programme], time_[~programme], event[programme], event[~programme]
        )
        return {"chi2": round(result.test_statistic, 6)}

    def cox_ours():
        return {"loglik": round(cox(outcomes, COVARIATES).loglik, 4)}

    def cox_peer():
        cohort, time_, event, _ = cohort_arrays()
        design = pd.get_dummies(cohort[COVARIATES], drop_first=True, dtype=float)
        design = design.assign(duration_days=time_, event=event)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = CoxPHFitter().fit(design, "duration_days", "event")
        return {"loglik": round(fitted.log_likelihood_, 4), "terms": len(fitted.params_)}

    np.seterr(all="ignore")
    compare("Kaplan-Meier by group", km_ours, km_peer, "lifelines KaplanMeierFitter")
    compare("log-rank, 2 groups", lr_ours, lr_peer, "lifelines logrank_test")
    compare(
        f"Cox, {len(COVARIATES)} covariates, Efron", cox_ours, cox_peer, "lifelines CoxPHFitter"
    )


if __name__ == "__main__":
    main()
