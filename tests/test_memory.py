"""Freed memory goes back to the system between report steps (``_memory``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent(
    """
    import numpy as np
    import pyarrow as pa

    from cdanalytics._memory import release_free_memory

    def resident():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    # 3,000 arrays of 48 KiB (malloc's heap, below its mmap threshold), every one
    # freed but the last, which pins the heap's top so that free() cannot shrink it;
    # and Arrow text that its own pool keeps after it is freed
    arrays = [np.ones(6144) for _ in range(3000)]
    del arrays[:-1]
    text = pa.array([f"participant-{i:09d}" for i in range(1_500_000)])
    del text
    before = resident()
    release_free_memory()
    after = resident()
    print(before, after)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_free_memory_gives_freed_heap_back_to_the_system():
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True
    ).stdout
    before, after = map(int, out.split())
    assert before - after > 100 * 2**20  # of ~140 MiB freed with the heap pinned
