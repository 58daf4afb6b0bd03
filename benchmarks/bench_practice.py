"""Benchmark of cdanalytics.practice.

Shares by team and period, the difference in differences per item and every
agreement statistic per item on N audited files (default 100,000: 100 teams x
2 periods x 500 files) x 15 items x 2 readers (every file double-read), made
by :func:`cdanalytics.synth.synthetic_audits` (not timed). The target is the
whole analysis (checking the table once, then shares, change and agreement)
under 10 s on 2 cores. The peer is statsmodels.stats.inter_rater
(``to_table`` + ``cohens_kappa`` unweighted, linear and quadratic,
``aggregate_raters`` + ``fleiss_kappa``, per item) on the same pairs, timed
against our agreement step. Each step runs in a forked child; the machine is
shared, so the load average and the CPU time of the whole analysis (less
sensitive to other processes than wall time) are printed with the figures.

Usage: python benchmarks/bench_practice.py [--files 100000]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _common import machine, measure
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa, to_table

from cdanalytics.practice import agreement, change, item_table, prepare_audits, shares
from cdanalytics.synth import synthetic_audits

ITEMS = list(item_table()["item"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    args = parser.parse_args()
    n_teams = 100
    per = args.files // (2 * n_teams)
    audits, _ = synthetic_audits(
        n_teams=n_teams,
        n_files_per_team_period=per,
        items=ITEMS,
        true_share_by_period={"baseline": 0.3, "follow_up": 0.4},
        true_training_effect_by_item={item: 0.1 for item in ITEMS},
        reader_kappa=0.6,
        seed=2026,
        double_read_share=1.0,
    )
    print(machine())
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    n_files = 2 * n_teams * per
    print(f"{n_files:,} files x {len(ITEMS)} items x 2 readers = {len(audits):,} rows")

    def whole() -> dict:
        cpu = time.process_time()
        prepared = prepare_audits(audits)
        rows = len(shares(prepared)) + len(change(prepared)) + len(agreement(prepared))
        return {"rows out": rows, "cpu s": round(time.process_time() - cpu, 2)}

    total, _, info = measure("practice: check + shares + change + agreement", whole)
    prepared = prepare_audits(audits)
    measure(
        "  prepare_audits (checks, reading order)", lambda: {"rows": len(prepare_audits(audits))}
    )
    measure("  shares by team and period", lambda: {"rows": len(shares(prepared))})
    measure("  change (DiD, team-clustered)", lambda: {"rows": len(change(prepared))})
    ours, _, _ = measure(
        "  agreement (6 statistics per item)", lambda: {"rows": len(agreement(prepared))}
    )

    ordered = audits.sort_values("audit_date", kind="stable")
    ordered = ordered.assign(reading=ordered.groupby(["case_id", "period", "item"]).cumcount())
    pairs = {
        item: ordered[ordered["item"] == item]
        .pivot_table(index=["case_id", "period"], columns="reading", values="score")
        .to_numpy()
        .astype(int)
        for item in ITEMS
    }

    def peer() -> dict:
        out = []
        for ratings in pairs.values():
            table = to_table(ratings, bins=np.arange(4))[0]
            for wt in (None, "linear", "quadratic"):
                out.append(cohens_kappa(table, wt=wt).kappa)
            out.append(fleiss_kappa(aggregate_raters(ratings, n_cat=3)[0]))
        return {"kappas": len(out)}

    theirs, _, _ = measure("  peer: statsmodels inter_rater (pairs given)", peer)
    print(
        f"ratio peer / our agreement: {theirs / ours:.2f} "
        "(the peer computes 4 of our 6 statistics, no alpha)"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    verdict = "met" if total < 10 else "NOT met"
    print(
        f"target: whole analysis under 10 s wall: {verdict} ({total:.1f} s; CPU {info['cpu s']} s)"
    )


if __name__ == "__main__":
    main()
