"""Garbage-collector settings of a ``cdanalytics`` process (the fixed cost of a run).

Importing pandas, SciPy, statsmodels and matplotlib makes some 300,000
long-lived objects; each full collection of the cyclic garbage collector then
walks all of them again, and the many small objects a report makes (chart
artists, small frames) trigger such collections: in a 2,000-participant
report they cost about 0.4 s of CPU (a tenth of the run). So, only when the
process *is* the command (:func:`cdanalytics.cli.main` called without
``argv``, as the ``cdanalytics`` script and ``python -m cdanalytics`` call
it; never in a caller's process, such as a test run):

* no collection while the heavy modules load (:func:`heavy_imports`), and
  what they made is then frozen (:func:`gc.freeze`): kept out of every later
  collection, which it would survive anyway;
* the youngest generation is collected after 10,000 new objects instead of
  700 (a few MB of cyclic garbage at most waits a little longer).

Memory is freed as before: reference counting frees everything that is not
in a cycle at once, and cycles are still collected.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["heavy_imports", "own_process"]

#: Allocations between collections of the youngest generation (Python's default: 700).
YOUNG_THRESHOLD = 10_000

_OWN = False


def own_process() -> None:
    """Say that this process is the command itself: tune its garbage collector."""
    global _OWN
    _OWN = True
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


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
