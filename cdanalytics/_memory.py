"""The allocators' side of a long job: fewer fresh memory pages while loading,
and freed memory given back between the steps of a report.

Loading an export of a million participants makes many column-long
temporaries (masks, codes, days), each freed before the next. glibc's
``malloc`` serves a request above its *mmap threshold* with fresh pages from
the kernel and returns them on ``free``, so every such temporary costs a page
fault per 4 KiB touched (about 200,000 at a million participants, a third of
the load's CPU time under contention). glibc raises that threshold by itself
as large blocks are freed, up to 32 MiB, with a *trim threshold* of twice as
much; :func:`settle_allocator` sets both to those ceilings at once, so
temporaries up to 32 MiB reuse freed memory (half the page faults; the peak
memory is the same). Only the allocator's thresholds change; no value read or
computed does.

A report then frees hundreds of megabytes after each step (the load's raw
tables, the matchings, the imputed scores). Two allocators keep such memory
for their own later use: Arrow's pools (its default one, mimalloc or jemalloc,
and the CSV reader's, :func:`csv_memory_pool`), which hold the export's text
columns, and glibc's ``malloc``, which holds numpy's arrays.
Neither can use what the other keeps, so the process grows by both.
:func:`release_free_memory` hands both back to the operating system:
measured on a report of 1,000,000 participants, 0.2 to 0.35 GiB less
resident after each step and a lower peak.

Elsewhere than Linux with glibc both do nothing beyond Arrow's release.

References
----------
Apache Arrow, ``MemoryPool.release_unused``; glibc, ``mallopt(3)`` and
``malloc_trim(3)``.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from typing import Any

__all__ = ["csv_memory_pool", "release_free_memory", "settle_allocator"]

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's ceiling of its own dynamic mmap threshold on 64-bit systems, and twice it.
_MMAP_THRESHOLD = 32 * 2**20
_TRIM_THRESHOLD = 2 * _MMAP_THRESHOLD


@functools.cache
def _glibc() -> Any | None:
    """The process's C library when it is glibc (with ``mallopt`` and ``malloc_trim``)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        lib = ctypes.CDLL(None)
        lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.mallopt.restype = ctypes.c_int
        lib.malloc_trim.argtypes = [ctypes.c_size_t]
        lib.malloc_trim.restype = ctypes.c_int
        lib.gnu_get_libc_version  # noqa: B018  (glibc only: musl has no such symbol)
    except (OSError, AttributeError):
        return None
    return lib


def settle_allocator() -> None:
    """Set glibc's mmap and trim thresholds to the ceilings it would reach by itself."""
    lib = _glibc()
    if lib is not None:
        lib.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        lib.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)


def csv_memory_pool() -> Any:
    """The memory pool Arrow's CSV reader allocates from (a ``pyarrow.MemoryPool``):
    jemalloc where pyarrow has it, else the system allocator; not Arrow's
    default (mimalloc on most builds), which on Linux backs a CSV read with
    transparent huge pages, each zeroed on first touch: a load's system time
    then swings by seconds at a million participants (measured in
    ``docs/scaling.md``). The values read do not depend on the pool.

    Example
    -------
    >>> csv_memory_pool().backend_name in ("jemalloc", "system")
    True
    """
    import pyarrow as pa

    if "jemalloc" in pa.supported_memory_backends():
        return pa.jemalloc_memory_pool()
    return pa.system_memory_pool()


def release_free_memory() -> None:
    """Give the memory that Arrow's pools (its default one and the CSV
    reader's, :func:`csv_memory_pool`) and ``malloc`` keep after frees back to
    the operating system (a few milliseconds; nothing in use is touched).

    Example
    -------
    >>> release_free_memory()
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    csv_memory_pool().release_unused()
    lib = _glibc()
    if lib is not None:
        lib.malloc_trim(0)
