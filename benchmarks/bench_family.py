"""Benchmark of the family analyses (issue 13) at scale.

Makes (once, cached in ``benchmarks/out/``) a synthetic Parquet export with the
family features switched on (``synth.FAMILY_PARAMETERS``): every father has
1 + Poisson(0.5) children (1.5 on average), one SDQ series per child, and
partner support is offered to 60% of the men who start. Then, in a child
process each:

- the added analyses of the family section alone (stage completion, reviews,
  evaluation meeting, services reach, partner contact: ``report.family``'s
  ``compute``), and their publication through the disclosure gate
  (``publish``, including the stage table protected beside the engagement
  table), after the report's other outcomes have been computed and published;
- the whole report, ``cdanalytics report EXPORT --out DIR --quiet``, for its
  peak memory and per-step timings.

Targets (issue 13): at 1,000,000 participants the added analyses take under
15 s and the report stays under 4 GB peak.

Usage::

    python benchmarks/bench_family.py [--participants 1000000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
import warnings

import numpy as np
import pandas as pd
from _common import OUT, load_average, machine, measure_usage

from cdanalytics._merge import deep_merge
from cdanalytics.cli import main
from cdanalytics.synth import DEFAULT_PARAMETERS, FAMILY_PARAMETERS, write_synthetic_export

#: 1 + Poisson(0.5) children per father (1.5 on average), partner support offered to 60%.
PARAMETERS = deep_merge(
    FAMILY_PARAMETERS,
    {
        "programmes": {
            code: {"n_children": {"minimum": 1, "poisson_mean": 0.5}}
            for code in DEFAULT_PARAMETERS["programmes"]
        },
        "services": {"partner_support": {"offered": 0.6}},
    },
)


def family_export(n: int, seed: int = 2026):
    folder = OUT / f"synth_family_{n}_parquet_{seed}"
    if not (folder / "manifest.json").exists():
        start = time.perf_counter()
        write_synthetic_export(
            folder, n_participants=n, seed=seed, fmt="parquet", parameters=PARAMETERS
        )
        print(f"made {folder.name} in {time.perf_counter() - start:.1f} s")
    return folder


def describe(folder) -> str:
    people = pd.read_parquet(folder / "participants.parquet", columns=["n_children"])
    services = pd.read_parquet(folder / "services.parquet", columns=["participant_id", "service"])
    measures = pd.read_parquet(folder / "measures.parquet", columns=["subject_id"])
    children = people["n_children"].to_numpy(dtype=float)
    partner = services.loc[services["service"] == "partner_support", "participant_id"].nunique()
    return (
        f"{len(people):,} participants, {np.nanmean(children):.2f} children per man on "
        f"average, {len(services):,} service rows ({partner:,} men with partner support), "
        f"{measures['subject_id'].notna().sum():,} measures about a child"
    )


def added_analyses(folder) -> dict[str, float]:
    """Seconds of the family section's compute and publish, after the main outcomes."""
    from cdanalytics import load_export
    from cdanalytics.config import load_config
    from cdanalytics.report import family
    from cdanalytics.report.compute import compute_outcomes
    from cdanalytics.report.tables import publish_tables

    config = load_config(None)
    export = load_export(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = compute_outcomes(export, config)
        published = publish_tables(out.tables, config.disclosure, tuple(config.groupings))
        start = time.perf_counter()
        family.compute(out)
        computed = time.perf_counter()
        tables = family.publish(out, config.disclosure, published)
        done = time.perf_counter()
    return {
        "compute_s": round(computed - start, 2),
        "publish_s": round(done - computed, 2),
        "tables": sorted(tables),
    }


def report(folder) -> dict[str, float]:
    out = OUT / "family_report"
    shutil.rmtree(out, ignore_errors=True)
    code = main(["report", str(folder), "--out", str(out), "--quiet"])
    if code != 0:
        raise SystemExit(f"cdanalytics report exited with {code}")
    return json.loads((out / "run.json").read_text())["timings_seconds"]


def main_benchmark() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    n = parser.parse_args().participants
    print(machine())
    folder = family_export(n)
    print(describe(folder))
    wall, peak, info, (user, system) = measure_usage(
        "family section: compute + publish", lambda: added_analyses(folder)
    )
    added = info["compute_s"] + info["publish_s"]
    print(
        f"  added analyses {added:.1f} s (compute {info['compute_s']} s, publish "
        f"{info['publish_s']} s; target < 15 s); tables {', '.join(info['tables'])}; "
        f"{load_average()}"
    )
    wall, peak, timings, (user, system) = measure_usage(
        "cdanalytics report (whole)", lambda: report(folder)
    )
    print(
        f"  report {wall:.1f} s wall, {user + system:.1f} s CPU, peak {peak / 1024:.2f} GiB "
        f"(target < 4 GB = 3.73 GiB); steps {timings}; {load_average()}"
    )


if __name__ == "__main__":
    main_benchmark()
