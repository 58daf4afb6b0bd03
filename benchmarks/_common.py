"""Shared helpers of the benchmark scripts: machine description, timing with
peak memory, and a cached large synthetic export.

Each measured step runs in a forked child process so that its peak resident
memory (``ru_maxrss``) is its own, not the benchmark script's.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"


def machine() -> str:
    """One line describing the machine the figures come from."""
    import numpy
    import pandas

    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.node()} | {platform.machine()} | {os.cpu_count()} cores | "
        f"{mem_gib:.0f} GiB RAM | {load_average()} | Python {platform.python_version()} | "
        f"pandas {pandas.__version__} | numpy {numpy.__version__}"
    )


def _child(fn: Callable[[], Any], queue: mp.Queue) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    info = fn()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    peak_mib = after.ru_maxrss / 1024
    cpu = (after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime)
    queue.put((seconds, peak_mib, info, cpu))


def load_average() -> str:
    """The load average (1, 5, 15 minutes) and the cores, for the timing lines."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def compare(
    label: str,
    ours: Callable[[], Any],
    peer: Callable[[], Any],
    peer_name: str,
    repeats: int = 3,
) -> tuple[float, float]:
    """Time ``ours`` and ``peer`` interleaved (ours, peer, ours, peer, ...),
    each run in a forked child of its own (so nothing one run caches helps
    the next); print every run, then the medians of wall time and of CPU
    time (user + system: on a shared machine contention inflates it less
    than wall time) and ours / peer with the load average. Returns (median
    ours, median peer) wall seconds."""
    wall: dict[str, list[float]] = {"ours": [], "peer": []}
    cpu: dict[str, list[float]] = {"ours": [], "peer": []}
    for i in range(repeats):
        for who, fn in (("ours", ours), ("peer", peer)):
            name = "cdanalytics" if who == "ours" else peer_name
            seconds, _, _, (user, system) = measure_usage(f"  {label}: {name} (run {i + 1})", fn)
            wall[who].append(seconds)
            cpu[who].append(user + system)
    a, b = statistics.median(wall["ours"]), statistics.median(wall["peer"])
    ca, cb = statistics.median(cpu["ours"]), statistics.median(cpu["peer"])
    print(
        f"RATIO {label}: wall cdanalytics {a:.3f} s, {peer_name} {b:.3f} s, ours/peer {a / b:.2f}; "
        f"CPU {ca:.3f} s vs {cb:.3f} s, ours/peer {ca / cb:.2f} "
        f"(median of {repeats}, {load_average()})"
    )
    return a, b


def measure(label: str, fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Run ``fn`` in a forked child; print and return (seconds, peak MiB, fn's result).

    ``fn``'s result must be picklable and small (a dict of figures, say).
    """
    seconds, peak_mib, info, _ = measure_usage(label, fn)
    return seconds, peak_mib, info


def measure_usage(
    label: str, fn: Callable[[], Any]
) -> tuple[float, float, Any, tuple[float, float]]:
    """As :func:`measure`, also returning the child's (user, system) CPU
    seconds spent in ``fn``."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, queue))
    proc.start()
    seconds, peak_mib, info, cpu = queue.get()
    proc.join()
    print(f"{label:<48} {seconds:9.2f} s   peak {peak_mib:9.0f} MiB   {info if info else ''}")
    return seconds, peak_mib, info, cpu


def synthetic_export(n_participants: int, fmt: str = "parquet", seed: int = 2026) -> Path:
    """Folder of a synthetic export of ``n_participants``, made once and cached in ``out/``."""
    from cdanalytics.synth import write_synthetic_export

    folder = OUT / f"synth_{n_participants}_{fmt}_{seed}"
    if not (folder / "manifest.json").exists():
        start = time.perf_counter()
        write_synthetic_export(folder, n_participants=n_participants, seed=seed, fmt=fmt)
        print(f"made {folder.name} in {time.perf_counter() - start:.1f} s")
    return folder
