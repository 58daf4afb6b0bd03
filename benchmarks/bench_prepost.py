"""Benchmark of cdanalytics.prepost.

Pre/post outcomes except the mixed model (change, reliable change and its
summary, attrition; all grouped by programme) on N participants with 4
instruments x 3 timepoints, made directly with numpy (one scale per
instrument; post and follow-up each missing for 10%); then the
mixed model on 10,000 and 100,000 participants with statsmodels MixedLM and
with the exact profile-REML route. Multiple imputation of the missing post
scores (m = 20, pooled by Rubin's rules) is timed on its own. Each step runs in a
forked child; the peak memory printed includes the input tables inherited from
the parent. The load average is printed beside the machine line (the machine
may be shared).

Usage: python benchmarks/bench_prepost.py [--participants 1000000] [--skip-mixed]
       [--only-impute]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd
from _common import machine, measure

from cdanalytics.io.export import Export, Manifest
from cdanalytics.prepost import (
    attrition,
    change,
    mixed_model,
    reliable_change,
    reliable_change_summary,
    score_table,
)
from cdanalytics.registry import instrument_registry

SERIES = [  # instrument, scale, informant, mean, true-score SD, change, reliability
    ("sdq", "total", "partner", 17.0, 4.5, -1.6, 0.73),
    ("psi_sf", "total", "father", 95.0, 18.0, -5.4, 0.90),
    ("cts2", "physical_assault", "partner", 60.0, 12.0, -6.0, 0.76),
    ("parenting_scale", "total", "father", 3.4, 0.55, -0.27, 0.84),
]
PROGRAMMES = ["caring_dads", "borg", "carrousel", "journey", "plus_one", "stop_gap", "caledonian"]
REGISTRY = instrument_registry(
    {
        "psi_sf": {"scales": {"total": {"reliability": 0.90}}},
        "parenting_scale": {"scales": {"total": {"reliability": 0.84}}},
    }
)


def _categorical(labels: list[str], index: np.ndarray, ordered: bool = False) -> pd.Categorical:
    categories = list(dict.fromkeys(labels))
    codes = np.array([categories.index(x) for x in labels])[index]
    return pd.Categorical.from_codes(codes, categories=categories, ordered=ordered)


def make_export(n: int, seed: int = 1) -> Export:
    """N participants, each with 4 instruments at pre, and post / follow-up when present."""
    rng = np.random.default_rng(seed)
    ids = pd.array(np.char.add("P", np.arange(n).astype(str)), dtype="str")
    has_post = rng.random(n) >= 0.1
    present = np.stack([np.ones(n, bool), has_post, rng.random(n) >= 0.1], axis=1)
    who, when = np.nonzero(present)
    parts = []
    for s, (_, _, _, mean, sd, delta, rel) in enumerate(SERIES):
        true = rng.normal(mean, sd, n)
        noise = sd * np.sqrt((1 - rel) / rel)
        values = true[:, None] + np.array([0.0, delta, 0.8 * delta]) + rng.normal(0, noise, (n, 3))
        parts.append((np.full(who.size, s), values[who, when]))
    series = np.concatenate([p[0] for p in parts])
    pid = np.tile(who, len(SERIES))
    tp = np.tile(when, len(SERIES))
    measures = pd.DataFrame(
        {
            "participant_id": ids.take(pid),
            "instrument": _categorical([s[0] for s in SERIES], series),
            "scale": _categorical([s[1] for s in SERIES], series),
            "informant": _categorical([s[2] for s in SERIES], series),
            "timepoint": _categorical(["pre", "post", "follow_up"], tp, ordered=True),
            "score": np.concatenate([p[1] for p in parts]),
        }
    )
    status = np.where(has_post, 0, np.where(rng.random(n) < 0.8, 1, 2))
    participants = pd.DataFrame(
        {
            "participant_id": ids,
            "programme": _categorical(PROGRAMMES, rng.integers(0, len(PROGRAMMES), n)),
            "exit_status": _categorical(["completed", "dropped_out", "transferred"], status),
        }
    )
    return Export(
        participants=participants,
        sessions=pd.DataFrame(),
        measures=measures,
        events=pd.DataFrame(),
        manifest=Manifest(extract_date=pd.Timestamp("2025-06-30")),
    )


def outcomes(export: Export) -> dict:
    """Every pre/post outcome except the mixed model, grouped by programme, from one
    score table (the measures reshaped once)."""
    table = score_table(export, by="programme")
    ch = change(table, by="programme", registry=REGISTRY)
    ch_fu = change(table, by="programme", timepoints=("pre", "follow_up"), registry=REGISTRY)
    rc = reliable_change(table, by="programme", registry=REGISTRY)
    summary = reliable_change_summary(rc, by="programme")
    att = attrition(table, by="programme")
    return {"table_rows": len(table), "result_rows": len(ch) + len(ch_fu) + len(summary) + len(att)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--skip-mixed", action="store_true", help="skip the mixed-model part")
    parser.add_argument("--only-impute", action="store_true", help="time imputation only")
    args = parser.parse_args()
    print(machine())
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    export = make_export(args.participants)
    print(f"{args.participants:,} participants, {len(export.measures):,} measures rows")
    n = args.participants
    measure(
        f"change with imputation, m = 20, by programme ({n:,})",
        lambda: {
            "rows": len(
                change(export, by="programme", registry=REGISTRY, missing="impute", m=20, seed=1)
            )
        },
    )
    if args.only_impute:
        return
    measure(
        f"change pre-post, by programme ({n:,})",
        lambda: {"rows": len(change(export, by="programme", registry=REGISTRY))},
    )
    measure(
        f"reliable_change + summary ({n:,})",
        lambda: {
            "rows": len(
                reliable_change_summary(
                    reliable_change(export, by="programme", registry=REGISTRY), by="programme"
                )
            )
        },
    )
    measure(f"attrition ({n:,})", lambda: {"rows": len(attrition(export, by="programme"))})
    measure(f"all outcomes except mixed model ({n:,})", lambda: outcomes(export))
    if args.skip_mixed:
        return
    for size in (10_000, 100_000):
        small = make_export(size, seed=2)
        for engine in ("profile_reml", "statsmodels"):

            def fit(small=small, engine=engine) -> dict:
                res = mixed_model(
                    small, "sdq", "total", "partner", registry=REGISTRY, engine=engine
                )
                post = res.summary.set_index("term").loc["post - pre"]
                return {
                    "post-pre": round(float(post["estimate"]), 6),
                    "se": round(float(post["se"]), 6),
                }

            measure(f"mixed model {engine} ({size:,})", fit)


if __name__ == "__main__":
    main()
