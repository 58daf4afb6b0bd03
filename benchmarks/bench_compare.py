"""Benchmark of the fair comparison of sites and cohorts (cdanalytics.compare).

On a per-person outcome table of N programme participants (default 1,000,000;
made directly with numpy: 60 sites, 16 referral quarters, risk level, prior
offences and age band as case mix): the logistic case-mix model with expected
counts, O/E, standardised rates and funnel limits per site and per referral
quarter (target: under 10 s together), then the Cox case-mix model per site.
Each step runs in a forked child; the load average is printed beside the
machine line, as the machine may be shared.

Usage::

    python benchmarks/bench_compare.py [--participants 1000000] [--skip-cox]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd
from _common import machine, measure

from cdanalytics.compare import casemix_comparison, casemix_model, referral_quarter

RISK = ["low", "medium", "high", "very_high"]
AGES = ["18-24", "25-34", "35-44", "45-54", "55+"]


def outcome_table(n: int, seed: int = 1) -> pd.DataFrame:
    """Programme participants with a 12-month window outcome and follow-up."""
    rng = np.random.default_rng(seed)
    site = rng.integers(0, 60, n)
    risk = rng.integers(0, 4, n)
    prior = rng.poisson(2, n)
    logit = -2 + 0.7 * risk + 0.1 * prior + rng.normal(0, 0.2, 60)[site]
    event = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    referral = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 1461, n), unit="D")
    return pd.DataFrame(
        {
            "site": pd.Categorical.from_codes(site, [f"site_{i:02d}" for i in range(60)]),
            "group": "programme",
            "risk_level": pd.Categorical.from_codes(risk, RISK, ordered=True),
            "prior_offences": prior,
            "age_band": pd.Categorical.from_codes(rng.integers(0, 5, n), AGES),
            "referral_date": referral,
            "referral_quarter": referral_quarter(pd.Series(referral)),
            "window_eligible": True,
            "reoffended_in_window": event,
            "duration_days": np.round(rng.uniform(30, 1100, n)),
            "event": event,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--skip-cox", action="store_true")
    args = parser.parse_args()
    print(machine())
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    table = outcome_table(args.participants)
    n = args.participants

    def both() -> dict:
        model = casemix_model(table)
        sites = casemix_comparison(model, "site")
        quarters = casemix_comparison(model, "referral_quarter")
        return {
            "sites": len(sites.table),
            "quarters": len(quarters.table),
            "outside_998": int(sites.table["outside_998"].sum()),
            "phi": round(sites.phi, 2),
        }

    measure(f"case mix + funnel, sites and quarters ({n:,})", both)
    if not args.skip_cox:
        measure(
            f"Cox case mix + funnel, sites ({n:,})",
            lambda: {"sites": len(casemix_comparison(table, "site", outcome="survival").table)},
        )


if __name__ == "__main__":
    main()
