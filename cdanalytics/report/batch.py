"""Scheduled batches: a report for every export under a folder, and an index page.

:func:`batch_reports` finds every export below a root folder (a folder with a
``manifest.json``), writes its report to ``OUT/<path below root>``, leaves
alone a report that is up to date (its export's input checksums, config,
package version and figures unchanged), and carries on when one export fails. An export
that breaks the contract gets its problem list (``validation_problems.csv``,
as ``cdanalytics validate`` writes it) in ``OUT/<path>`` instead of a report.
``OUT/index.html`` compares the headline figures of all exports
(:mod:`cdanalytics.report.batch_index`); ``OUT/batch.json`` lists what
happened to each.

Per-export settings
-------------------
A file beside an export's tables, inside its folder, replaces the batch-wide
option for that export only: ``evaluation.yaml`` (:data:`EXPORT_CONFIG`)
replaces ``config`` as a whole (it is not merged with it), ``mapping.yaml``
(:data:`EXPORT_MAPPING`) replaces ``mapping``. Both count among the export's
input files, so changing one rebuilds its report.

Parallel runs
-------------
With ``jobs > 1`` exports are reported in that many worker processes
(:class:`concurrent.futures.ProcessPoolExecutor`, ``forkserver`` start where
available, else ``spawn``). Their log records are passed back to this
process's loggers. Results are collected in path order, so ``batch.json`` and
``index.html`` are byte for byte those of a serial run. Up-to-date reports are
recognised in this process first: a batch with nothing to rebuild starts no
worker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import logging.handlers
import multiprocessing
import os
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .._crash import write_crash_file
from .._version import __version__
from ..config import EvaluationConfig, load_config, validate_config
from ..errors import CdaError, ConfigError, ExportError, ExportValidationError, OutputFolderError
from ..io.formats import DEFAULT_MAX_PROBLEMS
from ..outdir import check_out_folder, folder_lock, is_inside, real_path, write_marker
from ._atomic import atomic_directory
from .batch_index import index_page
from .build import build_report, config_digest, input_checksums
from .figures import figure_kind

__all__ = [
    "EXPORT_CONFIG",
    "EXPORT_MAPPING",
    "PROBLEMS_FILE",
    "BatchEntry",
    "batch_reports",
    "find_exports",
]

log = logging.getLogger(__name__)

#: An export's own evaluation config, inside its folder; replaces the batch-wide one.
EXPORT_CONFIG = "evaluation.yaml"

#: An export's own site mapping, inside its folder; replaces the batch-wide one.
EXPORT_MAPPING = "mapping.yaml"

#: The problem list of an invalid export, in its output folder (as ``cdanalytics validate``).
PROBLEMS_FILE = "validation_problems.csv"


@dataclass(frozen=True)
class BatchEntry:
    """What happened to one export of a batch.

    Attributes
    ----------
    export
        Path of the export below the batch root.
    status
        ``"written"``, ``"skipped"`` (up to date: its report is current and
        was left as it was; the index says "up to date"), ``"invalid"`` (the
        export breaks the contract), ``"failed"`` (an analysis, config or
        output-folder error) or ``"error"`` (an internal error: a bug, with a
        crash file).
    message
        Why it was invalid or failed (empty otherwise).
    report
        Report folder, relative to the batch output folder.
    problems
        The problem list of an invalid export, relative to the batch output
        folder (``""`` when none was written).
    """

    export: str
    status: str
    message: str
    report: str
    problems: str = ""

    @property
    def failed(self) -> bool:
        """Whether the export did not produce a report."""
        return self.status in ("invalid", "failed", "error")


@dataclass(frozen=True)
class _Job:
    """Everything one worker needs to report one export (picklable)."""

    export: Path
    name: str
    out: Path
    config: Path | EvaluationConfig
    mapping: Path | None
    lang: str | None
    quarantine: bool
    force: bool
    force_out: bool
    max_problems: int | None
    figures: str = "svg"


def find_exports(root: str | Path, *, skip: str | Path | None = None) -> list[Path]:
    """Every export folder (one holding ``manifest.json``) below ``root``, sorted.

    Parameters
    ----------
    root
        Folder searched recursively.
    skip
        A folder not searched (the batch's own output folder when it lies
        below ``root``), compared as real paths.

    Returns
    -------
    list of Path
        Export folders, in path order.
    """
    root = Path(root)
    skipped = real_path(skip) if skip is not None else None
    found = []
    for manifest in root.rglob("manifest.json"):
        if skipped is None or not is_inside(real_path(manifest.parent), skipped):
            found.append(manifest.parent)
    return sorted(found)


def _effective_config(
    config: str | Path | Mapping[str, Any] | EvaluationConfig | None, lang: str | None
) -> EvaluationConfig:
    """The validated config as :func:`build_report` will use it (``lang`` applied)."""
    cfg = validate_config(config) if isinstance(config, Mapping) else load_config(config)
    return cfg.with_language(lang) if lang is not None else cfg


def _up_to_date(
    out: Path, checksums: Mapping[str, str], digest: str, mapping: Path | None, figures: str
) -> bool:
    """Whether the report in ``out`` came from these inputs, config, mapping and version,
    with the figures asked for (``run.json``'s ``figures``)."""
    run_file = out / "run.json"
    try:
        previous = json.loads(run_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no report yet, or not one of ours: rebuild
        return False
    if not isinstance(previous, dict):
        return False
    return (
        previous.get("input_checksums") == checksums
        and previous.get("config_digest") == digest
        and previous.get("package_version") == __version__
        and previous.get("mapping_checksum") == _checksum(mapping)
        and previous.get("figures") == figures
    )


def _checksum(path: Path | None) -> str | None:
    return None if path is None else hashlib.sha256(path.read_bytes()).hexdigest()


def batch_reports(
    root: str | Path,
    out: str | Path,
    *,
    config: str | Path | Mapping[str, Any] | EvaluationConfig | None = None,
    lang: str | None = None,
    mapping: str | Path | None = None,
    quarantine: bool = False,
    force: bool = False,
    force_out: bool = False,
    max_problems: int | None = DEFAULT_MAX_PROBLEMS,
    jobs: int = 1,
    png: bool = False,
    figures: bool = True,
) -> list[BatchEntry]:
    """Report every export under ``root`` into ``out``; never stop at one failure.

    Parameters
    ----------
    root
        Folder searched (recursively) for exports.
    out
        Output folder: one report folder per export plus ``index.html`` and
        ``batch.json``.
    config, lang, mapping, quarantine
        As for :func:`~cdanalytics.report.build_report`, for every export;
        an export's own ``evaluation.yaml`` or ``mapping.yaml`` (inside its
        folder) replaces ``config`` or ``mapping`` for it. ``lang`` applies to
        every export and to the index page.
    force
        Rebuild reports even when they are up to date.
    force_out
        Write into ``out`` (and its report folders) even when they hold files
        cdanalytics did not write. Never allows ``out`` to be ``root``, inside
        an export or a parent of ``root``.
    max_problems
        Problems listed per rule and table in an invalid export's problem
        list (``None``: all); the rest are counted.
    jobs
        Worker processes reporting exports at once (1: all in this process).
    png, figures
        As for :func:`~cdanalytics.report.build_report`, for every report. A
        report is up to date only if it has the figures asked for.

    Returns
    -------
    list of BatchEntry
        One per export, in path order.

    Raises
    ------
    ConfigError
        The batch-wide config is invalid, or names the cell key method without
        a secret; the batch-wide mapping file does not exist; ``jobs`` is below 1;
        ``png`` is asked for without ``figures``.
    OutputFolderError
        ``out`` breaks the folder rule (:func:`cdanalytics.outdir.check_out_folder`)
        or another run is writing it. ``out`` may lie below ``root`` (it is
        not searched for exports) but not be ``root`` itself.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs must be a whole number of at least 1, not {jobs!r}.")
    kind = figure_kind(figures=figures, png=png)
    if mapping is not None and not Path(mapping).is_file():
        raise ConfigError(f"Site mapping {mapping} not found: give the path of a YAML file.")
    root = Path(root)
    out = _check_batch_out(root, out, force_out)
    cfg = _effective_config(config, lang)
    policy = cfg.disclosure
    if policy.method == "cell_key":
        policy.secret()  # a missing secret is a usage error, not one failure per export
    with folder_lock(out):
        out.mkdir(parents=True, exist_ok=True)
        write_marker(out, "batch")
        todo = [
            replace(
                _job(
                    root,
                    out,
                    export,
                    cfg,
                    mapping,
                    lang,
                    quarantine,
                    force,
                    force_out,
                    max_problems,
                ),
                figures=kind,
            )
            for export in find_exports(root, skip=out)
        ]
        entries = _run_serially(todo) if jobs == 1 else _run_in_parallel(todo, jobs)
        _write_atomically(out / "batch.json", json.dumps([asdict(e) for e in entries], indent=2))
        _write_atomically(out / "index.html", index_page(out, entries, cfg.title, cfg.language))
    return entries


def _job(
    root: Path,
    out: Path,
    export: Path,
    cfg: EvaluationConfig,
    mapping: str | Path | None,
    lang: str | None,
    quarantine: bool,
    force: bool,
    force_out: bool,
    max_problems: int | None,
) -> _Job:
    """The job of one export: its own config and mapping files win over the batch's."""
    own_config, own_mapping = export / EXPORT_CONFIG, export / EXPORT_MAPPING
    return _Job(
        export=export,
        name=export.relative_to(root).as_posix() if export != root else export.name,
        out=out,
        config=own_config if own_config.is_file() else cfg,
        mapping=own_mapping if own_mapping.is_file() else (Path(mapping) if mapping else None),
        lang=lang,
        quarantine=quarantine,
        force=force,
        force_out=force_out,
        max_problems=max_problems,
    )


def _check_batch_out(root: Path, out: str | Path, force_out: bool) -> Path:
    """The batch folder rule: ``out`` never ``root`` nor above it, never in an export."""
    real_root, real_out = real_path(root), real_path(out)
    if is_inside(real_root, real_out):
        raise OutputFolderError(
            f"Refusing to write into {real_out}: it is or holds the exports folder"
            f" {real_root}. Choose an --out outside it, or a subfolder of it that holds"
            " no export."
        )
    # every export, including any below OUT: OUT may hold none, nor be or lie in one
    return check_out_folder(real_out, "batch", sources=find_exports(root), force=force_out)


def _run_serially(todo: list[_Job]) -> list[BatchEntry]:
    return [_report_one(job) for job in todo]


def _run_in_parallel(todo: list[_Job], jobs: int) -> list[BatchEntry]:
    """Up-to-date reports found here; the others built in ``jobs`` worker processes.

    Entries come back in the order of ``todo``, whatever order the workers
    finish in. No worker is started when every report is up to date.
    """
    settled = [_check_one(job) for job in todo]
    stale = [job for job, entry in zip(todo, settled, strict=True) if entry is None]
    built = iter(_run_in(stale, jobs) if len(stale) > 1 else [_build_one(j) for j in stale])
    return [entry if entry is not None else next(built) for entry in settled]


def _run_in(todo: list[_Job], jobs: int) -> list[BatchEntry]:
    """Report in ``jobs`` worker processes; entries in the order of ``todo``."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])  # workers start with the libraries loaded
    else:
        context = multiprocessing.get_context("spawn")
    records = context.Queue()
    listener = logging.handlers.QueueListener(records, _ToLocalLoggers())
    listener.start()
    level = logging.getLogger().getEffectiveLevel()
    try:
        with ProcessPoolExecutor(
            max_workers=min(jobs, len(todo)),
            mp_context=context,
            initializer=_start_worker,
            initargs=(records, level),
        ) as pool:
            futures = [pool.submit(_build_one, job) for job in todo]
            return [_result(future, job) for future, job in zip(futures, todo, strict=True)]
    finally:
        listener.stop()
        records.close()


def _result(future, job: _Job) -> BatchEntry:
    """The entry a worker returned; an ``"error"`` entry if its process died."""
    try:
        return future.result()
    except BrokenProcessPool:
        log.error("%s: the worker process reporting it stopped unexpectedly", job.name)
        return BatchEntry(
            job.name,
            "error",
            "the worker process stopped unexpectedly (out of memory, or killed);"
            " run the batch again with --jobs 1 to see why",
            job.name,
        )


class _ToLocalLoggers(logging.Handler):
    """Hand a worker's log record to the logger of the same name in this process."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger(record.name).handle(record)


def _start_worker(records, level: int) -> None:
    """Worker set-up: log records (and warnings, as one line) go to ``records``."""
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(records)]
    root.setLevel(level)
    warnings_log = logging.getLogger("py.warnings")

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        warnings_log.warning("%s: %s", category.__name__, message)

    warnings.showwarning = show


def _settled(job: _Job) -> BatchEntry | None:
    """The entry of an export that needs no build (its report is up to date); else ``None``."""
    cfg = _effective_config(job.config, job.lang)
    checksums, digest = input_checksums(job.export), config_digest(cfg)
    if not job.force and _up_to_date(
        job.out / job.name, checksums, digest, job.mapping, job.figures
    ):
        log.info("%s: up to date, left as it is", job.name)
        return BatchEntry(job.name, "skipped", "", job.name)
    return None


def _check_one(job: _Job) -> BatchEntry | None:
    """:func:`_settled`, a failure turned into the export's entry; never raises."""
    return _entry_of(job, lambda: _settled(job))


def _build_one(job: _Job) -> BatchEntry:
    """Build one export's report (in this process or a worker); never raises."""

    def build() -> BatchEntry:
        build_report(
            job.export,
            job.out / job.name,
            config=_effective_config(job.config, job.lang),
            mapping=job.mapping,
            quarantine=job.quarantine,
            force=job.force_out,
            max_problems=job.max_problems,
            png=job.figures == "svg+png",
            figures=job.figures != "none",
        )
        return BatchEntry(job.name, "written", "", job.name)

    return _entry_of(job, build)


def _report_one(job: _Job) -> BatchEntry:
    """Report one export unless it is up to date; never raises."""
    return _check_one(job) or _build_one(job)


def _entry_of(job: _Job, step: Callable[[], BatchEntry | None]) -> BatchEntry | None:
    """Run one step for an export; what went wrong becomes its entry, never an exception."""
    name, target = job.name, job.out / job.name
    try:
        return step()
    except ExportValidationError as exc:
        log.error("%s: invalid export: %s", name, exc)
        problems = _write_problems(target, exc) if exc.report is not None else False
        listed = f"{name}/{PROBLEMS_FILE}" if problems else ""
        return BatchEntry(name, "invalid", str(exc).splitlines()[0], name, listed)
    except ExportError as exc:
        log.error("%s: invalid export: %s", name, exc)
        return BatchEntry(name, "invalid", str(exc).splitlines()[0], name)
    except CdaError as exc:
        log.error("%s: report failed: %s", name, exc)
        return BatchEntry(name, "failed", str(exc), name)
    except Exception as exc:  # one broken export must not stop the batch
        crash = write_crash_file(exc, [job.out])
        log.error("%s: internal error (%s); crash file %s", name, type(exc).__name__, crash)
        return BatchEntry(
            name,
            "error",
            f"internal error ({type(exc).__name__}), a bug in cdanalytics: please"
            f" report it with the crash file {crash} (it holds no data values)",
            name,
        )


def _write_problems(target: Path, exc: ExportValidationError) -> bool:
    """Replace the export's output folder by its problem list; whether that worked.

    :func:`build_report` checked ``target`` against the folder rule before it
    read the export. The folder is replaced as a whole (a report of the
    export's earlier version goes, as that version did), with the report
    marker, so that the next run may replace it by a report.
    """
    try:
        with folder_lock(target), atomic_directory(target) as staging:
            write_marker(staging, "report")
            exc.report.to_csv(staging / PROBLEMS_FILE)
    except (OSError, OutputFolderError) as error:
        log.error("%s: the problem list could not be written: %s", target, error)
        return False
    return True


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
