"""Write a report folder so that a crash never leaves half a report.

Everything is written into a hidden staging folder beside the target; only
when it is complete is it swapped in with two renames. A run killed before the
swap leaves the previous report untouched (and its staging folder is cleared
by the next run); a run killed between the two renames is repaired by the next
run, which finds the previous report under its backup name and restores it.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_directory"]

log = logging.getLogger(__name__)


def _siblings(target: Path) -> tuple[Path, Path]:
    staging = target.with_name(f".{target.name}.partial-{os.getpid()}")
    backup = target.with_name(f".{target.name}.previous")
    return staging, backup


def recover(target: Path) -> None:
    """Clear stale staging folders and restore a backup left by a killed swap."""
    _, backup = _siblings(target)
    for stale in target.parent.glob(f".{target.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if backup.exists():
        if target.exists():
            shutil.rmtree(backup, ignore_errors=True)
        else:
            log.warning("restoring %s from %s left by an interrupted run", target, backup)
            backup.rename(target)


@contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces ``target`` as a whole.

    If the body raises, the staging folder is removed and ``target`` is left
    as it was.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    staging, backup = _siblings(target)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        target.rename(backup)
    staging.rename(target)
    shutil.rmtree(backup, ignore_errors=True)
