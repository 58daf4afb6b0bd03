"""Benchmark of the reoffending survival analyses (cdanalytics.reoffending).

On a synthetic export of N participants (default 1,000,000; made once by
``cdanalytics.synth`` and cached in ``benchmarks/out``): the per-person
outcome table, Kaplan-Meier cumulative reoffending by group, the log-rank
test between programme and comparison, and a Cox model with 6 covariates
(15 terms), then its proportional-hazards check. Target on a 2-core machine:
Kaplan-Meier, log-rank and Cox together under 60 s.

Then each against the peer a researcher would use, on the same outcome
table, interleaved (ours, peer, ours, peer, ...), medians of the runs
(issue 16; target ours / peer <= 0.5): lifelines ``KaplanMeierFitter`` on each group,
``logrank_test`` on the two groups, and ``CoxPHFitter`` (Efron ties) on the
same 15 terms (``pd.get_dummies`` of the covariates, inside its timing as
our design matrix is inside ours); the two Cox fits print their log partial
likelihood, which does not depend on the reference levels. Each RATIO line
gives ours / peer of the median wall time, CPU time (user + system), peak
resident memory, and the part of the peak above what the child had at the
fork (what the step itself added), with the load average.

Each step runs in a forked child so its peak memory is its own; the child
inherits the loaded export and outcome table, so the peaks include them.

``--peer-rows 1000000,3000000`` runs only the peer comparisons, on outcome
tables of exactly that many people in the cohort: the same generator
(``cdanalytics.synth.generate``, in chunks of 1,000,000 participants with
seeds 2026, 2027, ... so that its memory stays bounded; the cohort rows of
the chunks, then a random subset of exactly that many), the same 6
covariates and 15 terms. Each table is made once and cached in
``benchmarks/out``; the script holds nothing else (no export), so the
memory a child inherits is the table and the imported libraries.
``--peer-repeats`` sets the runs of each side of the Cox
comparison (default 3; 2 keeps the 3M lifelines Cox fit to two runs),
``--quick-repeats`` those of Kaplan-Meier and log-rank (default 5: a
fraction of a second each, whose wall time a shared machine's scheduler
blurs more).

Usage::

    python benchmarks/bench_reoffending.py [--participants 1000000] [--only-peers]
    python benchmarks/bench_reoffending.py --peer-rows 1000000,3000000 [--peer-repeats 3]
        [--quick-repeats 5]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from _common import OUT, load_average, machine, measure, synthetic_export

from cdanalytics.io.load import load_export
from cdanalytics.reoffending import (
    cox,
    cumulative_reoffending,
    logrank,
    person_outcomes,
)

COVARIATES = ["group", "risk_level", "prior_offences", "n_children", "age_band", "ethnicity_group"]
#: Participants per call of the generator when making a table of --peer-rows.
CHUNK_PARTICIPANTS = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--only-peers", action="store_true", help="only the peer comparisons")
    parser.add_argument(
        "--peer-rows",
        type=_row_counts,
        default=None,
        help="only the peer comparisons, on outcome tables of these many people in the "
        "cohort (comma-separated, e.g. 1000000,3000000)",
    )
    parser.add_argument(
        "--peer-repeats", type=int, default=3, help="Cox runs of each side (median; default 3)"
    )
    parser.add_argument(
        "--quick-repeats",
        type=int,
        default=5,
        help="Kaplan-Meier and log-rank runs of each side (median; default 5)",
    )
    args = parser.parse_args()
    print(machine())

    if args.peer_rows:
        for rows in args.peer_rows:
            peers(peer_outcomes(rows), args.peer_repeats, args.quick_repeats)
        return

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
    peers(outcomes, args.peer_repeats, args.quick_repeats)


def _row_counts(text: str) -> list[int]:
    """ "1000000,3000000" as [1000000, 3000000] (underscores allowed)."""
    counts = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("row counts must be positive whole numbers")
    return counts


def peer_outcomes(rows: int, seed: int = 2026) -> pd.DataFrame:
    """An outcome table of exactly ``rows`` people in the cohort, with the
    model's covariates, ``duration_days``, ``event`` and ``in_cohort``.

    ``cdanalytics.synth.generate`` is called for chunks of
    :data:`CHUNK_PARTICIPANTS` participants (seeds ``seed``, ``seed + 1``,
    ...) until their cohorts hold ``rows`` people; a random subset of exactly
    ``rows`` of them is kept, in their order. Made once, cached in ``out/``.
    """
    from cdanalytics.synth import generate

    path = OUT / f"peer_outcomes_{rows}_{seed}.parquet"
    if not path.exists():
        start = time.perf_counter()
        parts, have = [], 0
        while have < rows:
            export, _ = generate(CHUNK_PARTICIPANTS, seed=seed + len(parts))
            outcomes = person_outcomes(export)
            del export
            cohort = outcomes.loc[
                outcomes["in_cohort"].to_numpy(dtype=bool),
                [*COVARIATES, "duration_days", "event", "in_cohort"],
            ]
            parts.append(cohort)
            have += len(cohort)
            del outcomes
        chunks = len(parts)
        table = pd.concat(parts, ignore_index=True)
        del parts
        keep = np.sort(np.random.default_rng(seed).choice(len(table), rows, replace=False))
        table = table.take(keep).reset_index(drop=True)
        table.attrs = {}  # the definition object; the default one made it
        OUT.mkdir(parents=True, exist_ok=True)
        table.to_parquet(path)
        print(
            f"made {path.name} from {have:,} cohort rows of {chunks} "
            f"chunk(s) of {CHUNK_PARTICIPANTS:,} participants in "
            f"{time.perf_counter() - start:.1f} s"
        )
    return pd.read_parquet(path)


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


def _resident_mib() -> float:
    """This process's resident memory now (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _child(fn: Callable[[], Any], queue: mp.Queue) -> None:
    at_fork = _resident_mib()
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    info = fn()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    queue.put((seconds, cpu, after.ru_maxrss / 1024, at_fork, info))


def _run(label: str, fn: Callable[[], Any]) -> tuple[float, float, float, float]:
    """``fn`` in a forked child: (wall s, CPU s, peak MiB, MiB resident at the fork)."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, queue))
    proc.start()
    seconds, cpu, peak, at_fork, info = queue.get()
    proc.join()
    print(
        f"{label:<60} {seconds:8.2f} s  CPU {cpu:7.2f} s  peak {peak:7.0f} MiB "
        f"(+{peak - at_fork:.0f})  {info}"
    )
    return seconds, cpu, peak, at_fork


def compare(
    label: str, ours: Callable[[], Any], peer: Callable[[], Any], peer_name: str, repeats: int
) -> None:
    """Ours and the peer interleaved (ours, peer, ours, peer, ...), each run
    in a forked child of its own; then one RATIO line: medians of wall time,
    CPU time (user + system), peak resident memory and the part of it above
    what the child had at the fork, each as ours / peer, with the load
    average."""
    runs: dict[str, list[tuple[float, float, float, float]]] = {"ours": [], "peer": []}
    for i in range(repeats):
        for who, fn in (("ours", ours), ("peer", peer)):
            name = "cdanalytics" if who == "ours" else peer_name
            runs[who].append(_run(f"  {label}: {name} (run {i + 1})", fn))

    def median(who: str, j: int) -> float:
        return statistics.median(run[j] for run in runs[who])

    wall, cpu = (median("ours", 0), median("peer", 0)), (median("ours", 1), median("peer", 1))
    peak = (median("ours", 2), median("peer", 2))
    added = tuple(statistics.median(r[2] - r[3] for r in runs[w]) for w in ("ours", "peer"))
    print(
        f"RATIO {label}: wall {wall[0]:.3f} s vs {wall[1]:.3f} s, ours/peer "
        f"{wall[0] / wall[1]:.2f}; CPU {cpu[0]:.3f} s vs {cpu[1]:.3f} s, ours/peer "
        f"{cpu[0] / cpu[1]:.2f}; peak {peak[0]:.0f} MiB vs {peak[1]:.0f} MiB (added "
        f"{added[0]:.0f} vs {added[1]:.0f} MiB, ours/peer {added[0] / added[1]:.2f}); "
        f"cdanalytics vs {peer_name}, median of {repeats} ({load_average()})"
    )


def peers(outcomes: pd.DataFrame, repeats: int = 3, quick_repeats: int = 5) -> None:
    """Ours against lifelines, interleaved: Cox median of ``repeats``,
    Kaplan-Meier and log-rank median of ``quick_repeats``."""
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
    print(f"{_resident_mib():.0f} MiB resident before the runs ({load_average()})")
    compare("Kaplan-Meier by group", km_ours, km_peer, "lifelines KaplanMeierFitter", quick_repeats)
    compare("log-rank, 2 groups", lr_ours, lr_peer, "lifelines logrank_test", quick_repeats)
    compare(
        f"Cox, {len(COVARIATES)} covariates, Efron",
        cox_ours,
        cox_peer,
        "lifelines CoxPHFitter",
        repeats,
    )


if __name__ == "__main__":
    main()
