"""Start-up time: ``import cdanalytics`` and ``cdanalytics --help``.

Prints the cumulative import time of ``cdanalytics`` as ``python -X importtime``
reports it, the wall time of ``python -c "import cdanalytics"`` and of
``cdanalytics --help`` (run as ``python -m cdanalytics.cli --help``, which is what
the console script does), each the median of ``--repeat`` fresh interpreters,
and the line describing the machine. Targets: import under 1.5 s, ``--help``
under 1 s.

Usage::

    python benchmarks/bench_startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import machine

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    """The environment of the child interpreters: this source tree first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def import_time_seconds() -> float:
    """Cumulative import time of ``cdanalytics`` from ``python -X importtime``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import cdanalytics"],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
    )
    for line in result.stderr.splitlines():
        # "import time: self [us] | cumulative | imported package"
        parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == "cdanalytics":
            return int(parts[1]) / 1e6
    raise RuntimeError("python -X importtime did not report cdanalytics")


def wall_seconds(args: list[str], repeat: int) -> float:
    """Median wall time of ``python ARGS`` over ``repeat`` fresh interpreters."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, *args], capture_output=True, env=_env(), check=True, timeout=120
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (median)")
    args = parser.parse_args()
    print(machine())
    rows = [
        ("python -X importtime: import cdanalytics", import_time_seconds()),
        (
            f"wall, median of {args.repeat}: import cdanalytics",
            wall_seconds(["-c", "import cdanalytics"], args.repeat),
        ),
        (
            f"wall, median of {args.repeat}: cdanalytics --help",
            wall_seconds(["-m", "cdanalytics.cli", "--help"], args.repeat),
        ),
    ]
    for label, seconds in rows:
        print(f"{label:<48} {seconds:7.3f} s")


if __name__ == "__main__":
    main()
