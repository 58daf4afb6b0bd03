"""Garbage-collector settings of a ``cdanalytics`` process (the fixed cost of a run).

Importing pandas, SciPy, statsmodels and matplotlib makes some 300,000
long-lived objects; each full collection of the cyclic garbage collector then
walks all of them again, and the many small objects a report makes (chart
artists, small frames) trigger such collections: in a 2,000-participant
report they cost about 0.4 s of CPU (a tenth of the run). So, only when the
process *is* the command (:func:`cdanalytics.cli.main` called without
``argv``, as the ``cdanalytics`` script and ``python -m cdanalytics`` call
it; never in a caller's process, such as a test run), there is no collection
while the heavy modules load (:func:`heavy_imports`), and what they made is
then frozen (:func:`gc.freeze`): kept out of every later collection, which it
would survive anyway. GC time of that report: 0.45 s -> 0.07 s.

The collector's thresholds stay as they are: collecting the youngest
generation every 10,000 allocations instead of 700 saved another 0.04 s
there, but raised the peak memory of a 1,000,000-participant report by about
4% (cyclic garbage holding large arrays lived longer).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["heavy_imports", "own_process"]

_OWN = False


def own_process() -> None:
    """Say that this process is the command itself (see :func:`heavy_imports`)."""
    global _OWN
    _OWN = True


@contextlib.contextmanager
def heavy_imports() -> Iterator[None]:
    """Import inside: in the command's own process, with no collection while the
    modules load, and what they made frozen after (see the module notes)."""
    if not _OWN:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
