"""Crash files: what a bug report needs, and no data values.

An unexpected exception (a bug) is written to
``cdanalytics-crash-<UTC timestamp>-<pid>.txt`` with the package, Python and
platform versions and the traceback reduced to exception types and, per
frame, file, line number and function name. Exception messages are dropped
(``KeyError('P0012')`` or a pandas message can hold a value from the export),
except those of cdanalytics' own exceptions, which are written never to hold
a value. The source lines are not included either.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import tempfile
import traceback
from collections.abc import Iterable
from pathlib import Path

from ._version import __version__
from .errors import CdaError

__all__ = ["crash_text", "write_crash_file"]


def _describe(exc: BaseException) -> str:
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    if isinstance(exc, CdaError):
        return f"{name}: {exc}"
    return f"{name} (message withheld: it may hold data values)"


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain[::-1]


def crash_text(exc: BaseException) -> str:
    """The content of a crash file for ``exc``: versions and a value-free traceback."""
    lines = [
        "cdanalytics crash report",
        f"cdanalytics {__version__}",
        f"python {platform.python_version()} ({sys.implementation.name})",
        f"platform {platform.platform()}",
        f"time {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        "",
    ]
    for i, link in enumerate(_chain(exc)):
        if i:
            lines += ["", "which led to:", ""]
        lines.append("Traceback (most recent call last):")
        for frame in traceback.extract_tb(link.__traceback__):
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        lines.append(_describe(link))
    return "\n".join(lines) + "\n"


def write_crash_file(exc: BaseException, folders: Iterable[str | Path] = ()) -> Path:
    """Write the crash file of ``exc`` into the first writable folder; returns its path.

    Parameters
    ----------
    exc
        The unexpected exception.
    folders
        Preferred folders, in order (existing ones only); then the current
        folder, then the system's temporary folder.

    Returns
    -------
    Path
        The crash file written.
    """
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"cdanalytics-crash-{stamp}-{os.getpid()}.txt"
    text = crash_text(exc)
    candidates = [Path(f) for f in folders] + [Path.cwd(), Path(tempfile.gettempdir())]
    for folder in candidates:
        if not folder.is_dir():
            continue
        path = folder / name
        try:
            with path.open("x", encoding="utf-8") as handle:
                handle.write(text)
        except OSError:
            continue
        return path.resolve()
    raise OSError("no folder to write the crash file into")
