"""Write a report folder so that a crash or kill never leaves half a report, nor none.

Everything is written into a hidden staging folder beside the target
(``.<name>.partial-<pid>``), while the caller holds the folder's lock
(:func:`cdanalytics.outdir.folder_lock`). Only when it is complete does it
take the target's place:

- On Linux the two folders are exchanged in one atomic step,
  ``renameat2(RENAME_EXCHANGE)`` (called through ``ctypes``): at every instant
  the target path holds either the complete old report or the complete new
  one, and ``OUT/report.html`` stays a real file users open. The old report,
  now under the staging name, is then deleted.
- When there is no old report the staging folder is renamed into place
  (``rename(2)`` is atomic).
- Elsewhere (no ``renameat2``, or a file system that refuses the exchange) the
  swap falls back to two renames, target to ``.<name>.previous`` and staging
  to target. A kill between them leaves the target missing until the next run,
  which restores the previous report first.

Leftovers of killed runs (staging folders, the old report under the staging
name, a backup) are cleared by the next run, and only while it holds the
lock, so a live run's staging folder is never deleted by another run.

For tests only, the environment variable ``CDANALYTICS_SWAP_PAUSE`` names a
step (:data:`STEPS`) at which the swap writes the file named by
``CDANALYTICS_SWAP_PAUSE_FILE`` and waits (up to 120 s) until that file is
deleted, so that a test can kill the run at a known point. Unset (always, in
production) it costs one dictionary look-up per step.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["STEPS", "atomic_directory"]

log = logging.getLogger(__name__)

#: Named points of a swap, in order (for the test pause hook).
STEPS = ("locked", "staged", "renamed-old", "swapped", "cleaned")

_PAUSE = "CDANALYTICS_SWAP_PAUSE"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _pause(step: str) -> None:
    """Test hook: stop at ``step`` until the pause file is deleted (see module docs)."""
    if os.environ.get(_PAUSE) != step:
        return
    signal_file = Path(os.environ[f"{_PAUSE}_FILE"])
    signal_file.write_text(f"{os.getpid()} {step}\n", encoding="utf-8")
    deadline = time.monotonic() + 120
    while signal_file.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with ``renameat2``; ``False`` where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def _names(target: Path) -> tuple[Path, Path]:
    staging = target.with_name(f".{target.name}.partial-{os.getpid()}")
    backup = target.with_name(f".{target.name}.previous")
    return staging, backup


def _recover(target: Path) -> None:
    """Restore a backup left between two fallback renames; clear stale leftovers.

    Call only while holding the folder's lock: then no live run owns any of them.
    """
    _, backup = _names(target)
    if backup.is_dir() and not target.exists():
        log.warning("restoring %s from %s left by an interrupted run", target, backup)
        backup.rename(target)
    stale = [*target.parent.glob(f".{target.name}.partial-*")]
    stale += [backup] if backup.exists() else []
    for path in stale:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _swap(staging: Path, target: Path) -> None:
    """Put ``staging`` at ``target``; the old target ends up at ``staging`` or the backup."""
    if not target.exists():
        staging.rename(target)
        return
    if _exchange(staging, target):
        return
    _, backup = _names(target)
    target.rename(backup)
    _pause("renamed-old")
    staging.rename(target)
    shutil.rmtree(backup, ignore_errors=True)


@contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces ``target`` as a whole.

    ``target`` must have passed :func:`cdanalytics.outdir.check_out_folder`,
    and the caller must hold :func:`cdanalytics.outdir.folder_lock` of it (for
    the whole run, so that a second run stops before computing anything).
    If the body raises, the staging folder is removed and ``target`` is left
    as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _recover(target)
    _pause("locked")
    staging, _ = _names(target)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _pause("staged")
    _swap(staging, target)
    _pause("swapped")
    shutil.rmtree(staging, ignore_errors=True)
    _pause("cleaned")
