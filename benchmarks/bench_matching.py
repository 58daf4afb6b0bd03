"""Benchmark of propensity score matching (cdanalytics.matching).

Matches N programme rows against a comparison pool of 10 N rows (default
N = 100,000, so 1,000,000 in the pool; target under 30 s) and, to show the
scaling, N / 10 against 10 N / 10. Greedy matching without replacement costs
O(n log n) here (a sort, then amortised near-constant look-ups), so ten times
the rows should take a little over ten times as long; comparing every pair
would take a hundred times as long.

Also times the effect and the matched Cox model on the large matched sample,
and matching on the report's kind of covariates (categories and counts:
``risk_level``, ``prior_offences``, ``age_band``), whose few distinct
combinations let the propensity model be fitted on the combinations and the
tied treated units choose a run of equal scores at a time (issue 16); that
run is compared with statsmodels' ``Logit`` on every row and the one-by-one
loop, which must give the same pairs.
Each step runs in a forked child so its peak memory is its own.

Usage::

    python benchmarks/bench_matching.py [--participants 100000]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from _common import machine, measure
from statsmodels.discrete.discrete_model import Logit

from cdanalytics.matching import _greedy, match, matched_cox, matched_effect, propensity_model
from cdanalytics.matching.propensity import covariate_terms

COVARIATES = ["age", "prior_offences", "risk_level", "age_band", "n_children", "employed"]
#: The report's default covariates: categories and a count (few distinct combinations).
TIED_COVARIATES = ["risk_level", "prior_offences", "age_band"]


def covariate_table(n_programme: int, pool_factor: int, seed: int = 1) -> pd.DataFrame:
    """Programme and comparison rows with confounded covariates and outcomes."""
    rng = np.random.default_rng(seed)
    n = n_programme * (1 + pool_factor)
    prog = np.zeros(n, dtype=bool)
    prog[:n_programme] = True
    risk = np.where(
        rng.uniform(size=n) < np.where(prog, 0.45, 0.25),
        rng.choice([2, 3], n),
        rng.choice([0, 1], n),
    )
    age = rng.normal(34, 9, n) + 2 * prog
    bands = np.array(["18-24", "25-34", "35-44", "45-54", "55+"])
    hazard = 0.3 / 365 * np.array([0.6, 1.0, 1.6, 2.4])[risk] * np.where(prog, 0.8, 1.0)
    time = rng.exponential(1 / hazard)
    return pd.DataFrame(
        {
            "group": pd.Categorical(np.where(prog, "programme", "comparison")),
            "age": age,
            "prior_offences": rng.poisson(np.where(prog, 3.0, 2.2)),
            "risk_level": pd.Categorical.from_codes(
                risk, categories=["low", "medium", "high", "very_high"], ordered=True
            ),
            "age_band": pd.Categorical(bands[np.clip((age - 15) // 10, 0, 4).astype(int)]),
            "n_children": rng.poisson(1.6, n),
            "employed": rng.uniform(size=n) < np.where(prog, 0.35, 0.45),
            "duration_days": np.minimum(time, 730.0),
            "event": (time <= 730).astype(int),
            "reoffended_12m": (time <= 365).astype(int),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000, help="programme rows")
    parser.add_argument(
        "--pool-factor", type=int, default=10, help="comparison rows per programme row"
    )
    args = parser.parse_args()
    print(machine())

    timings = {}
    for n in (args.participants // 10, args.participants):
        table = covariate_table(n, args.pool_factor)
        label = f"match {n:,} programme vs {n * args.pool_factor:,} pool"

        def run(table=table):
            result = match(table, covariates=COVARIATES)
            s = result.summary.iloc[0]
            return {
                "matched": int(s["n_treated_matched"]),
                "max_abs_smd_after": round(float(s["max_abs_smd_after"]), 3),
            }

        timings[n] = measure(label, run)[0]

    small, large = args.participants // 10, args.participants
    ratio = timings[large] / timings[small]
    nlogn = (large * np.log(large)) / (small * np.log(small))
    print(
        f"scaling x10 rows: time x{ratio:.1f} "
        f"(n log n predicts x{nlogn:.1f}; all pairs would be x100)"
    )

    table = covariate_table(large, args.pool_factor)
    measure(
        "match 1:1 with replacement (vectorised)",
        lambda: {"pairs": len(match(table, covariates=COVARIATES, replace=True).pairs)},
    )
    measure(
        "match exact on risk_level",
        lambda: {"pairs": len(match(table, covariates=COVARIATES, exact=["risk_level"]).pairs)},
    )

    def effects():
        result = match(table, covariates=COVARIATES)
        rate = matched_effect(result, "reoffended_12m").summary.iloc[0]
        cox = matched_cox(result).summary.iloc[0]
        return {"pp": round(100 * float(rate["difference"]), 2), "hr": round(float(cox["hr"]), 3)}

    measure("match + rate difference + matched Cox", effects)

    def tied():
        result = match(table, covariates=TIED_COVARIATES)
        pairs = result.pairs.drop(columns="distance")
        return {
            "matched": int(result.summary.iloc[0]["n_treated_matched"]),
            "pairs_hash": int(pd.util.hash_pandas_object(pairs, index=False).sum()),
        }

    def tied_one_by_one():
        _greedy._tied_groups = lambda *args: None  # in the forked child only
        return tied()

    fast = measure("match on the report's covariates (tied scores)", tied)[2]
    plain = measure("  the same, treated units one by one", tied_one_by_one)[2]
    print(f"same pairs: {fast == plain}")

    def model():
        fit = propensity_model(table, covariates=TIED_COVARIATES)
        return {"coef": [round(float(c), 10) for c in fit.coefficients["coef"]]}

    def statsmodels_model():
        terms = covariate_terms(table, TIED_COVARIATES, drop_first=True)
        design = np.column_stack([np.ones(len(table)), terms.to_numpy(dtype="float64")])
        y = (table["group"] == "programme").to_numpy(dtype="float64")
        fit = Logit(y, design).fit(method="newton", maxiter=100, disp=False)
        return {"coef": [round(float(c), 10) for c in fit.params]}

    ours = measure("propensity model on the covariate patterns", model)[2]
    theirs = measure("  statsmodels Logit on every row", statsmodels_model)[2]
    print(f"same coefficients (10 decimals): {ours == theirs}")


if __name__ == "__main__":
    main()
