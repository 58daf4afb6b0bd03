"""``cdanalytics batch --jobs N`` against ``--jobs 1`` over small synthetic exports.

Writes ``--exports`` synthetic exports of ``--participants`` people each, then
runs ``cdanalytics batch ROOT --out OUT --jobs J --quiet`` for every J of
``--jobs`` in a fresh interpreter each (start-up included, as a scheduler
sees it), into a new output folder each time, ``--repeat`` times in turn.
Prints the wall time of each run, the median per J, the speed-up against
``--jobs 1``, whether every ``index.html`` and ``batch.json`` is byte for byte
the first run's, and the load average before and after.

Usage::

    python benchmarks/bench_batch.py [--exports 10] [--participants 60] [--jobs 1,2] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _batch(root: Path, out: Path, jobs: int) -> float:
    argv = [sys.executable, "-m", "cdanalytics", "batch", str(root), "--out", str(out)]
    start = time.perf_counter()
    subprocess.run([*argv, "--jobs", str(jobs), "--quiet"], env=_env(), check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", type=int, default=10)
    parser.add_argument("--participants", type=int, default=60)
    parser.add_argument("--jobs", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    jobs = [int(j) for j in args.jobs.split(",")]

    from cdanalytics.synth import write_synthetic_export

    print(machine())
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        root = Path(tmp) / "exports"
        for i in range(args.exports):
            write_synthetic_export(
                root / f"site{i:02d}", n_participants=args.participants, seed=i + 1
            )
        print(
            f"{args.exports} exports of {args.participants} participants; load average before:"
            f" {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        times: dict[int, list[float]] = {j: [] for j in jobs}
        outputs: list[tuple[bytes, bytes]] = []
        for rep in range(args.repeat):
            for j in jobs:
                out = Path(tmp) / f"out-{j}-{rep}"
                seconds = _batch(root, out, j)
                times[j].append(seconds)
                outputs.append(
                    ((out / "index.html").read_bytes(), (out / "batch.json").read_bytes())
                )
                print(f"--jobs {j}: {seconds:.1f} s")
        base = statistics.median(times[jobs[0]])
        for j in jobs:
            median = statistics.median(times[j])
            speed = base / median
            print(f"--jobs {j}: median {median:.1f} s, {speed:.2f}x as fast as --jobs {jobs[0]}")
        same = all(o == outputs[0] for o in outputs)
        print(f"index.html and batch.json identical across runs: {same}")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
