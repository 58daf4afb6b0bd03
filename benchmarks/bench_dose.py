"""Benchmark of dose-response with attendance as a time-varying covariate
(cdanalytics.reoffending.cox_time_varying) and its landmark analysis.

A synthetic cohort of N men (default 1,000,000) offered 28 weekly group
sessions, each attended with the man's own probability (Beta(7, 3), mean
0.7), reoffending at a constant hazard lowered by 3% per session attended so
far, followed for two years; no session is attended after a reoffence. That
gives about 17 (start, stop] intervals per man: 17 million at the default
size. Two fixed covariates (risk level, four levels; prior offences) make
five terms. Target on a 2-core machine: under 60 s and 6 GB. Intervals
without an event that agree in every covariate are merged into weighted rows
(the same partial likelihood); ``--continuous`` adds a continuous covariate
so that nothing merges, the worst case.

The peer is lifelines' ``CoxTimeVaryingFitter`` (Efron ties, like ours),
which loops over the distinct event times in Python: it is timed on the
intervals of a small cohort (``--peer-participants``, about 100,000
intervals at the default), beside ours on the very same intervals, and its
time at full size extrapolated linearly in the number of intervals (a lower
bound: its work per event time grows with the risk set).

Each step runs in a forked child so its peak memory is its own (it includes
the cohort and sessions tables the child inherits). The machine is shared:
the load average is printed before and after, and the full-size fit also
reports its CPU seconds (``cpu_s``), which contention inflates less than
wall time.

Usage::

    python benchmarks/bench_dose.py [--participants 1000000] [--peer-participants 6000]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd
from _common import machine, measure

from cdanalytics.reoffending import attendance_intervals, cox_time_varying, landmark

N_SESSIONS = 28
INDEX = pd.Timestamp("2023-01-02")
COVARIATES = ["risk_level", "prior_offences"]


def cohort(n: int, seed: int = 2026) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(outcome table, sessions table) of ``n`` synthetic men (see the module docstring)."""
    rng = np.random.default_rng(seed)
    days = np.arange(N_SESSIONS) * 7
    attends = rng.random((n, N_SESSIONS)) < rng.beta(7, 3, n)[:, None]
    risk = rng.integers(0, 4, n)
    hazard = 0.4 / 365 * np.exp(0.3 * risk)
    # Piecewise-constant hazard exp(-0.03 per session) between session days.
    count = np.cumsum(attends, axis=1)
    edges = np.r_[days, 730].astype(float)
    rates = hazard[:, None] * np.exp(-0.03 * count)
    cumulative = np.c_[np.zeros(n), np.cumsum(rates * np.diff(edges), axis=1)]
    target = rng.exponential(size=n)
    piece = (cumulative <= target[:, None]).sum(axis=1) - 1
    event = piece < N_SESSIONS
    piece = np.minimum(piece, N_SESSIONS - 1)
    rows = np.arange(n)
    time_ = edges[piece] + (target - cumulative[rows, piece]) / rates[rows, piece]
    duration = np.where(event, np.maximum(np.ceil(time_), 1), 730.0)
    attends &= days[None, :] < duration[:, None]
    ids = pd.Series(np.char.add("P", np.arange(n).astype(str)), dtype="str")
    people = pd.DataFrame(
        {
            "participant_id": ids,
            "index_date": INDEX,
            "in_cohort": True,
            "duration_days": duration,
            "event": event,
            "risk_level": pd.Categorical.from_codes(risk, ["low", "medium", "high", "very_high"]),
            "prior_offences": rng.poisson(1.5, n).astype(float),
            "age_days": rng.uniform(18 * 365.25, 60 * 365.25, n).round(),
        }
    )
    sessions = pd.DataFrame(
        {
            "participant_id": ids.repeat(N_SESSIONS).reset_index(drop=True),
            "session_type": pd.Categorical.from_codes(
                np.zeros(n * N_SESSIONS, dtype=np.int8), ["group", "individual", "review"]
            ),
            "session_date": INDEX + pd.to_timedelta(np.tile(days, n), unit="D"),
            "attendance": pd.Categorical.from_codes(
                np.where(attends.ravel(), 0, 1), ["attended", "unexcused"]
            ),
        }
    )
    return people, sessions


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--peer-participants", type=int, default=6_000)
    parser.add_argument(
        "--continuous",
        action="store_true",
        help="add a continuous covariate (age in days): every man has a profile of his own, "
        "so no intervals are merged (the worst case)",
    )
    args = parser.parse_args()
    covariates = [*COVARIATES, "age_days"] if args.continuous else COVARIATES
    print(machine())
    print(load())

    start = time.perf_counter()
    people, sessions = cohort(args.participants)
    print(f"{'synthetic cohort':<48} {time.perf_counter() - start:9.2f} s")

    def fit() -> dict:
        cpu = time.process_time()
        result = cox_time_varying(people, covariates, sessions=sessions)
        row = result.summary.iloc[0]
        return {
            "cpu_s": round(time.process_time() - cpu, 1),
            "intervals": result.n_intervals,
            "events": result.n_events,
            "hr_per_session": round(float(row["hazard_ratio"]), 4),
        }

    _, _, full = measure(f"cox_time_varying ({args.participants:,} people)", fit)
    measure(
        "landmark (84 days)",
        lambda: {
            "hr": round(
                float(
                    landmark(people, covariates, sessions=sessions).cox.summary.iloc[0][
                        "hazard_ratio"
                    ]
                ),
                4,
            )
        },
    )

    small_people, small_sessions = cohort(args.peer_participants, seed=7)
    intervals = attendance_intervals(small_people, small_sessions).merge(
        small_people[["participant_id", *covariates[1:]]], on="participant_id"
    )
    intervals = intervals.assign(
        event=intervals["event"].astype(float),
        **{
            f"risk_{level}": (small_people["risk_level"] == level)
            .to_numpy()[
                pd.Index(small_people["participant_id"]).get_indexer(intervals["participant_id"])
            ]
            .astype(float)
            for level in ("medium", "high", "very_high")
        },
    )
    ours, _, _ = measure(
        f"ours, {len(intervals):,} intervals",
        lambda: {
            "coef": round(
                float(
                    cox_time_varying(
                        small_people, covariates, sessions=small_sessions
                    ).summary.iloc[0]["coef"]
                ),
                6,
            )
        },
    )

    def peer() -> dict:
        from lifelines import CoxTimeVaryingFitter

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = CoxTimeVaryingFitter().fit(
                intervals,
                id_col="participant_id",
                start_col="start",
                stop_col="stop",
                event_col="event",
            )
        return {"coef": round(float(fitted.params_["sessions_attended"]), 6)}

    theirs, _, _ = measure(f"lifelines CoxTimeVaryingFitter, {len(intervals):,} intervals", peer)
    scale = full["intervals"] / len(intervals)
    print(
        f"peer ratio at {len(intervals):,} intervals: lifelines {theirs / ours:.0f}x slower; "
        f"lifelines extrapolated linearly to {full['intervals']:,} intervals: "
        f">= {theirs * scale / 60:.0f} min"
    )
    print(load())


if __name__ == "__main__":
    main()
