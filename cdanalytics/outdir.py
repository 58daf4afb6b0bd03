"""Output folders that are safe by construction: marker files, the folder rule and a lock.

Every command that writes a folder (``report``, ``batch``, ``validate``) and
the library functions behind them call :func:`check_out_folder` before they
read anything, and write inside :func:`folder_lock`.

The folder rule
---------------
An output folder may be written only when it is

- new (it does not exist yet; it is created), or
- empty, or
- marked as an earlier cdanalytics output of the same kind: it holds the
  marker file ``.cdanalytics-<kind>`` (JSON with ``kind`` and ``version``),
  written by :func:`write_marker` into every folder cdanalytics writes, or
- (``report`` only) a report written before markers existed: nothing but
  ``report.html``, ``run.json``, ``outcomes.json``, ``figures/`` and
  ``tables/``, with a ``run.json`` that names its package and schema version,
  so that a scheduled job keeps running after an upgrade.

Anything else (a folder with files cdanalytics did not write, or another
kind's output) is refused with :class:`~cdanalytics.errors.OutputFolderError`
unless ``force`` is given. Refused even with ``force``: an output folder that
is, or is inside, an export being read, or that holds one of those exports
(writing would replace or mix with the input). Paths are compared after
resolving symbolic links, so a link pointing at the export is the export.

The lock
--------
:func:`folder_lock` takes an exclusive, non-blocking ``flock`` on the lock file
``.<name>.cdanalytics-lock`` beside the output folder (beside, not inside: the
report folder itself is swapped as a whole). A second run on the same folder
fails at once with "another cdanalytics run is writing DIR (pid N)". The lock
is released by the kernel when the process ends, killed or not, so a stale
lock never blocks; the small lock file is left in place (removing it would
race with a run opening it). Where ``fcntl`` is missing (Windows) runs are not
serialised, and a debug message says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import OutputFolderError

try:  # POSIX only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "KINDS",
    "check_out_folder",
    "folder_lock",
    "is_inside",
    "marker_path",
    "read_marker",
    "real_path",
    "write_marker",
]

log = logging.getLogger(__name__)

#: Kinds of output folder, one marker file name each.
KINDS = ("report", "batch", "validate")

_FORCE_HINT = {
    "report": "--force (force=True in Python)",
    "batch": "--force-out (force_out=True in Python)",
    "validate": "--force",
}


def real_path(path: str | Path) -> Path:
    """``path`` made absolute with every symbolic link resolved (it need not exist)."""
    return Path(os.path.realpath(os.path.abspath(path)))


def is_inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or below it (both already real paths)."""
    return path == folder or folder in path.parents


def marker_path(folder: str | Path, kind: str) -> Path:
    """Path of the marker file of a ``kind`` output in ``folder``."""
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}; expected one of {', '.join(KINDS)}")
    return Path(folder) / f".cdanalytics-{kind}"


def read_marker(folder: str | Path, kind: str) -> dict[str, Any] | None:
    """The marker of a ``kind`` output in ``folder``, or ``None`` if it has none.

    A marker that is not a JSON object naming this kind counts as none.
    """
    path = marker_path(folder, kind)
    if not path.is_file() or path.is_symlink():
        return None
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(content, dict) or content.get("kind") != kind:
        return None
    return content


def write_marker(folder: str | Path, kind: str, **extra: Any) -> Path:
    """Write the marker of a ``kind`` output into ``folder``; returns its path.

    Parameters
    ----------
    folder
        The output folder (or the staging folder that becomes it).
    kind
        One of :data:`KINDS`.
    **extra
        More JSON-serialisable content (``validate`` lists the files it wrote).

    Returns
    -------
    Path
        The marker file.
    """
    path = marker_path(folder, kind)
    content = {"kind": kind, "version": __version__, **extra}
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    partial.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


#: Everything a report folder written before output markers (0.1.0) held.
_UNMARKED_REPORT = frozenset({"report.html", "run.json", "outcomes.json", "figures", "tables"})


def _is_unmarked_report(folder: Path) -> bool:
    """Whether ``folder`` is a report of a version that wrote no marker.

    It must hold nothing but the files such a report wrote, and a
    ``run.json`` whose ``package_version`` and ``schema_version`` say it came
    from cdanalytics; anything else (one file of the user's) fails the test.
    """
    names = {entry.name for entry in folder.iterdir()}
    if "run.json" not in names or not names <= _UNMARKED_REPORT:
        return False
    try:
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(run, dict) and {"package_version", "schema_version"} <= run.keys()


def _refuse(out: Path, why: str, what_to_do: str) -> OutputFolderError:
    return OutputFolderError(f"Refusing to write into {out}: {why}. {what_to_do}")


def check_out_folder(
    out: str | Path,
    kind: str,
    *,
    sources: Iterable[str | Path] = (),
    force: bool = False,
) -> Path:
    """Apply the folder rule to an output folder before anything is written.

    Parameters
    ----------
    out
        The output folder asked for.
    kind
        One of :data:`KINDS`: the kind of output about to be written.
    sources
        The exports (folders or workbooks) the run reads; ``out`` must be
        neither one of them, nor inside one, nor hold one.
    force
        Write even into a folder with files cdanalytics did not write (or
        another kind's output). Never overrides the rule on ``sources``.

    Returns
    -------
    Path
        ``out`` as a real path (symbolic links resolved): write there.

    Raises
    ------
    OutputFolderError
        The folder breaks the rule; the message names it and what to do.
    """
    real = real_path(out)
    for source in sources:
        src = real_path(source)
        if is_inside(real, src):
            where = "the export" if real == src else "inside the export"
            raise _refuse(
                real,
                f"it is {where} {src}",
                "Write reports and problem lists outside the export folder: choose another --out.",
            )
        if is_inside(src, real):
            raise _refuse(
                real,
                f"it holds the export {src}",
                "Choose an --out that is not a parent of the export.",
            )
    if real.exists() and not real.is_dir():
        raise _refuse(real, "it is a file, not a folder", "Choose a folder for --out.")
    if force or not real.exists() or read_marker(real, kind) is not None:
        return real
    if kind == "report" and _is_unmarked_report(real):
        log.info("%s is a report written before output markers; replacing it", real)
        return real
    if not any(real.iterdir()):
        return real
    others = [k for k in KINDS if k != kind and read_marker(real, k) is not None]
    why = (
        f"it holds a cdanalytics {others[0]} output, not a {kind} output"
        if others
        else f"it is not empty and has no {marker_path(real, kind).name} marker of an"
        f" earlier cdanalytics {kind}, so it may hold files of yours"
    )
    raise _refuse(
        real,
        why,
        f"Choose a new or empty folder, or pass {_FORCE_HINT[kind]}"
        f" to {'replace its contents' if kind == 'report' else 'write into it anyway'}.",
    )


def _lock_file(out: Path) -> Path:
    return out.with_name(f".{out.name}.cdanalytics-lock")


@contextlib.contextmanager
def folder_lock(out: str | Path) -> Iterator[Path]:
    """Hold the lock of output folder ``out`` (a real path) while writing it.

    Yields
    ------
    Path
        The lock file (beside ``out``).

    Raises
    ------
    OutputFolderError
        Another process holds the lock: "another cdanalytics run is writing
        DIR (pid N)".
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = _lock_file(out)
    if fcntl is None:  # pragma: no cover - Windows
        log.debug("no fcntl: concurrent runs on %s are not serialised", out)
        yield path
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise OutputFolderError(
                f"Another cdanalytics run is writing {out} (pid {holder}). Wait for it to"
                " finish, or choose another --out."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing releases the flock
