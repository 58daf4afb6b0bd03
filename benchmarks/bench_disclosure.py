"""What the disclosure gate publishes and what it costs: utility and time.

For each export (``data/sample``, a 20,000- and a 300-person synthetic
export) and threshold (5, 10, 30), computes the outcomes once, passes them
through the gate (:func:`cdanalytics.report.tables.publish_tables`) and prints:

- the share of count cells whose true value is at least the threshold that
  are published (a gate that withholds everything is safe and useless);
- the programmes with at least 20 potential completers, and how many of them
  have their completion rate and interval published (issue 10: all);
- the gate's time.

Usage::

    python benchmarks/bench_disclosure.py [--sizes 20000 300] [--thresholds 5 10 30]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from _common import synthetic_export

from cdanalytics.config import load_config, validate_config
from cdanalytics.io import load_export
from cdanalytics.report.compute import OVERALL, compute_outcomes
from cdanalytics.report.tables import publish_tables

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
RATE = ["completion_rate", "completion_ci_low", "completion_ci_high"]


def published_share(published, threshold: int) -> tuple[int, int]:
    """(published, total) count cells whose true value is at least the threshold."""
    shown = total = 0
    for table in published.values():
        if table.counts is None:
            continue
        cells = table.counts.to_numpy(dtype=float)
        columns = list(table.counts.columns)
        for column, members in table.members.items():
            if column not in table.published.columns:
                continue
            true = cells[:, [columns.index(m) for m in members]].sum(axis=1)
            large = true >= threshold
            total += int(large.sum())
            shown += int((large & ~table.protected.mask[column].to_numpy()).sum())
    return shown, total


def completion_published(outcomes, published) -> tuple[int, int]:
    """(published, total) programmes with >= 20 potential completers and their rate + CI."""
    raw = outcomes.tables["engagement"]
    eng = published["engagement"].published
    big = raw.loc[(raw["n_potential"] >= 20) & (raw["programme"].astype(str) != OVERALL)]
    rows = eng.set_index(eng["programme"].astype(str))
    ok = [bool(rows.loc[p, RATE].notna().all()) for p in big["programme"].astype(str)]
    return int(np.sum(ok)), len(ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[20_000, 300])
    parser.add_argument("--thresholds", type=int, nargs="*", default=[5, 10, 30])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    exports = {"data/sample": SAMPLE}
    exports.update({f"synthetic {n:,}": synthetic_export(n, "csv") for n in args.sizes})
    print(
        f"{'export':<18}{'T':>4}{'cells >= T published':>26}{'completion (>=20)':>20}{'gate s':>9}"
    )
    for name, folder in exports.items():
        config = load_config(None)
        data = load_export(folder, programmes=config.programmes, instruments=config.instruments)
        outcomes = compute_outcomes(data, config)
        for threshold in args.thresholds:
            cfg = validate_config({"disclosure": {"threshold": threshold}})
            policy = cfg.disclosure
            start = time.perf_counter()
            published = publish_tables(outcomes.tables, policy, tuple(cfg.groupings))
            seconds = time.perf_counter() - start
            shown, total = published_share(published, threshold)
            done, wanted = completion_published(outcomes, published)
            print(
                f"{name:<18}{threshold:>4}{f'{shown}/{total} = {shown / total:.1%}':>26}"
                f"{f'{done}/{wanted}':>20}{seconds:>9.2f}"
            )


if __name__ == "__main__":
    main()
