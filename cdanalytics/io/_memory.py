"""The C allocator's settings for loading: fewer fresh memory pages, and the freed ones returned.

Loading an export of a million participants makes many column-long
temporaries (masks, codes, days), each freed before the next. glibc's
``malloc`` serves a request above its *mmap threshold* with fresh pages
from the kernel and returns them on ``free``, so every such temporary
costs a page fault per 4 KiB touched (about 200,000 at a million
participants, a third of the load's CPU time under contention). glibc
raises that threshold by itself as large blocks are freed, up to 32 MiB,
with a *trim threshold* of twice as much; :func:`settle_allocator` sets
both to those ceilings at once, so temporaries up to 32 MiB reuse freed
memory (half the page faults; the peak memory is the same). Only the
allocator's thresholds change; no value read or computed does.
:func:`release_memory` gives the freed pages back to the system after the
load (glibc's and Arrow's allocators).

Elsewhere than Linux with glibc both do nothing beyond Arrow's release.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

import pyarrow as pa

__all__ = ["release_memory", "settle_allocator"]

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's ceiling of its own dynamic mmap threshold on 64-bit systems, and twice it.
_MMAP_THRESHOLD = 32 * 2**20
_TRIM_THRESHOLD = 2 * _MMAP_THRESHOLD

_libc: list[Any] = []


def _glibc() -> Any | None:
    """The process's C library when it is glibc (with ``mallopt`` and ``malloc_trim``)."""
    if not _libc:
        lib = None
        if sys.platform.startswith("linux"):
            try:
                lib = ctypes.CDLL(None)
                lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
                lib.mallopt.restype = ctypes.c_int
                lib.malloc_trim.argtypes = [ctypes.c_size_t]
                lib.malloc_trim.restype = ctypes.c_int
                lib.gnu_get_libc_version  # noqa: B018  (glibc only: musl has no such symbol)
            except (OSError, AttributeError):
                lib = None
        _libc.append(lib)
    return _libc[0]


def settle_allocator() -> None:
    """Set glibc's mmap and trim thresholds to the ceilings it would reach by itself."""
    lib = _glibc()
    if lib is not None:
        lib.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        lib.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)


def release_memory() -> None:
    """Give freed memory back to the system (Arrow's allocator, then glibc's)."""
    pa.default_memory_pool().release_unused()
    lib = _glibc()
    if lib is not None:
        lib.malloc_trim(0)
