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

``--peer`` compares change + reliable change (with its summary) against the
plain pandas + scipy route a researcher would write, on the same export,
interleaved (ours, peer, ours, peer, ...), median of three, at each size of
``--peer-sizes`` (issue 16; target ours / peer <= 0.25): pair the pre and
post rows with ``merge``, join the programme, then per programme ×
instrument × scale × informant ``scipy.stats.ttest_rel`` (with its
interval), ``wilcoxon``, ``pearsonr``, means and SDs, d_z, and the Reliable
Change Index against the baseline SD and registry reliability (no Holm
adjustment: the peer does less than we do). The export's one lookup of
``participant_id`` (:meth:`Export.participant_rows`, which ``load_export``
fills from validation) is made before timing, as a loaded export has it.

Usage: python benchmarks/bench_prepost.py [--participants 1000000] [--skip-mixed]
       [--only-impute] [--peer --peer-sizes 20000,1000000]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd
from _common import compare, machine, measure
from scipy import stats

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


RELIABILITY = {(s[0], s[1]): s[6] for s in SERIES}


def scipy_loop(export: Export) -> dict:
    """The peer: change and reliable change per group with pandas and scipy."""
    m = export.measures
    keys = ["participant_id", "instrument", "scale", "informant"]
    pre = m.loc[(m["timepoint"] == "pre").to_numpy(), [*keys, "score"]]
    post = m.loc[(m["timepoint"] == "post").to_numpy(), [*keys, "score"]]
    pairs = pre.merge(post, on=keys, suffixes=("_pre", "_post"))
    pairs = pairs.merge(export.participants[["participant_id", "programme"]], on="participant_id")
    baseline_sd = pre.groupby(["instrument", "scale", "informant"], observed=True)["score"].std()
    rows = []
    for (programme, instrument, scale, informant), g in pairs.groupby(
        ["programme", "instrument", "scale", "informant"], observed=True
    ):
        x, y = g["score_pre"].to_numpy(), g["score_post"].to_numpy()
        d = y - x
        t = stats.ttest_rel(y, x)
        ci = t.confidence_interval()
        w = stats.wilcoxon(d)
        s_diff = baseline_sd[(instrument, scale, informant)] * np.sqrt(
            2 * (1 - RELIABILITY[(instrument, scale)])
        )
        rci = d / s_diff
        rows.append(
            {
                "programme": programme,
                "instrument": instrument,
                "n": len(d),
                "mean_pre": x.mean(),
                "sd_pre": x.std(ddof=1),
                "mean_post": y.mean(),
                "sd_post": y.std(ddof=1),
                "r": stats.pearsonr(x, y).statistic,
                "mean_change": d.mean(),
                "ci": (ci.low, ci.high),
                "t": t.statistic,
                "p": t.pvalue,
                "wilcoxon": w.statistic,
                "wilcoxon_p": w.pvalue,
                "d_z": d.mean() / d.std(ddof=1),
                "improved": int((rci < -1.96).sum()),
                "deteriorated": int((rci > 1.96).sum()),
            }
        )
    return {"rows": len(pd.DataFrame(rows))}


def ours(export: Export) -> dict:
    """change + reliable change and its summary, by programme, from the export."""
    ch = change(export, by="programme", registry=REGISTRY)
    rc = reliable_change(export, by="programme", registry=REGISTRY)
    summary = reliable_change_summary(rc, by="programme")
    return {"rows": len(ch), "summary_rows": len(summary)}


def peers(sizes: list[int]) -> None:
    """Ours against the scipy loop at each size."""
    for size in sizes:
        export = make_export(size)
        export.participant_rows("measures")  # as load_export leaves it
        compare(
            f"change + reliable change, {size:,} people",
            lambda export=export: ours(export),
            lambda export=export: scipy_loop(export),
            "pandas + scipy loop",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--skip-mixed", action="store_true", help="skip the mixed-model part")
    parser.add_argument("--only-impute", action="store_true", help="time imputation only")
    parser.add_argument("--peer", action="store_true", help="only the comparison with scipy")
    parser.add_argument("--peer-sizes", default="20000,1000000")
    args = parser.parse_args()
    print(machine())
    if args.peer:
        peers([int(x) for x in args.peer_sizes.split(",")])
        return
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
