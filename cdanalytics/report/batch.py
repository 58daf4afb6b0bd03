"""Scheduled batches: a report for every export under a folder, and an index page.

:func:`batch_reports` finds every export below a root folder (a folder with a
``manifest.json``), writes its report to ``OUT/<path below root>``, skips an
export whose input checksums, config and package version already produced the
report there, and carries on when one export fails. ``OUT/index.html``
compares the headline figures of all exports; ``OUT/batch.json`` lists what
happened to each.
"""

from __future__ import annotations

import html
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._crash import write_crash_file
from .._version import __version__
from ..config import EvaluationConfig, load_config, validate_config
from ..errors import CdaError, ExportError, OutputFolderError
from ..i18n import number, percent
from ..outdir import check_out_folder, folder_lock, is_inside, real_path, write_marker
from .build import build_report, config_digest, input_checksums

__all__ = ["BatchEntry", "batch_reports", "find_exports"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchEntry:
    """What happened to one export of a batch.

    Attributes
    ----------
    export
        Path of the export below the batch root.
    status
        ``"written"``, ``"skipped"`` (unchanged since its last report),
        ``"invalid"`` (the export breaks the contract), ``"failed"`` (an
        analysis, config or output-folder error) or ``"error"`` (an internal
        error: a bug, with a crash file).
    message
        Why it was invalid or failed (empty otherwise).
    report
        Report folder, relative to the batch output folder.
    """

    export: str
    status: str
    message: str
    report: str

    @property
    def failed(self) -> bool:
        """Whether the export did not produce a report."""
        return self.status in ("invalid", "failed", "error")


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


def _up_to_date(out: Path, checksums: Mapping[str, str], digest: str) -> bool:
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
    )


def batch_reports(
    root: str | Path,
    out: str | Path,
    *,
    config: str | Path | Mapping[str, Any] | EvaluationConfig | None = None,
    lang: str | None = None,
    quarantine: bool = False,
    force: bool = False,
    force_out: bool = False,
) -> list[BatchEntry]:
    """Report every export under ``root`` into ``out``; never stop at one failure.

    Parameters
    ----------
    root
        Folder searched (recursively) for exports.
    out
        Output folder: one report folder per export plus ``index.html`` and
        ``batch.json``.
    config, lang, quarantine
        As for :func:`~cdanalytics.report.build_report`, for every export.
    force
        Rebuild reports even when nothing changed.
    force_out
        Write into ``out`` (and its report folders) even when they hold files
        cdanalytics did not write. Never allows ``out`` to be ``root``, inside
        an export or a parent of ``root``.

    Returns
    -------
    list of BatchEntry
        One per export, in path order.

    Raises
    ------
    ConfigError
        The config is invalid, or names the cell key method without a secret.
    OutputFolderError
        ``out`` breaks the folder rule (:func:`cdanalytics.outdir.check_out_folder`)
        or another run is writing it. ``out`` may lie below ``root`` (it is
        not searched for exports) but not be ``root`` itself.
    """
    root = Path(root)
    out = _check_batch_out(root, out, force_out)
    cfg = validate_config(config) if isinstance(config, Mapping) else load_config(config)
    if lang is not None:
        cfg = cfg.with_language(lang)
    policy = cfg.disclosure
    if policy.method == "cell_key":
        policy.secret()  # a missing secret is a usage error, not one failure per export
    with folder_lock(out):
        out.mkdir(parents=True, exist_ok=True)
        write_marker(out, "batch")
        entries = _report_each(root, out, cfg, quarantine, force, force_out)
        _write_atomically(out / "batch.json", json.dumps([asdict(e) for e in entries], indent=2))
        _write_atomically(out / "index.html", _index_page(out, entries, cfg.title))
    return entries


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


def _report_each(
    root: Path,
    out: Path,
    cfg: EvaluationConfig,
    quarantine: bool,
    force: bool,
    force_out: bool,
) -> list[BatchEntry]:
    digest = config_digest(cfg)
    entries = []
    for export in find_exports(root, skip=out):
        name = export.relative_to(root).as_posix() if export != root else export.name
        target = out / name
        checksums = input_checksums(export)
        if not force and _up_to_date(target, checksums, digest):
            entries.append(BatchEntry(name, "skipped", "", name))
            log.info("%s: unchanged, skipped", name)
            continue
        try:
            build_report(export, target, config=cfg, quarantine=quarantine, force=force_out)
        except ExportError as exc:
            entries.append(BatchEntry(name, "invalid", str(exc).splitlines()[0], name))
            log.error("%s: invalid export: %s", name, exc)
        except CdaError as exc:
            entries.append(BatchEntry(name, "failed", str(exc), name))
            log.error("%s: report failed: %s", name, exc)
        except Exception as exc:  # one broken export must not stop the batch
            crash = write_crash_file(exc, [out])
            entries.append(
                BatchEntry(
                    name,
                    "error",
                    f"internal error ({type(exc).__name__}), a bug in cdanalytics: please"
                    f" report it with the crash file {crash} (it holds no data values)",
                    name,
                )
            )
            log.error("%s: internal error (%s); crash file %s", name, type(exc).__name__, crash)
        else:
            entries.append(BatchEntry(name, "written", "", name))
    return entries


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def _headline_cells(out: Path, entry: BatchEntry) -> list[str]:
    outcomes_file = out / entry.report / "outcomes.json"
    if entry.failed or not outcomes_file.exists():
        return [""] * 5
    outcomes = json.loads(outcomes_file.read_text(encoding="utf-8"))
    eng, reo = outcomes["engagement"], outcomes["reoffending"]
    withheld = outcomes.get("withheld", {})

    def shown(key: str, value: object, fmt) -> str:
        """The figure as the report publishes it: its marker when withheld."""
        if value is not None:
            return fmt(value)
        return withheld.get(key, {}).get("marker", "")

    def matched(code: str, itt: dict) -> str:
        """A programme's matched difference (all starters), or its status."""
        value = itt.get("difference")
        key = f"programmes.{code}.matched.all_starters.difference"
        if value is None:
            return f"{code} " + withheld.get(key, {}).get("marker", itt.get("status", ""))
        return f"{code} {100 * value:+.1f} pp"

    return [
        outcomes["extract_date"],
        shown("engagement.referred", eng.get("referred"), number),
        shown(
            "engagement.completion.rate",
            eng.get("completion", {}).get("rate"),
            lambda v: percent(v, digits=1),
        ),
        shown(
            "reoffending.programme.rate",
            reo.get("programme", {}).get("rate"),
            lambda v: percent(v, digits=1),
        ),
        "; ".join(
            matched(code, p["matched"]["all_starters"])
            for code, p in outcomes.get("programmes", {}).items()
            if "all_starters" in p.get("matched", {})
        ),
    ]


def _index_page(out: Path, entries: list[BatchEntry], title: str) -> str:
    head = [
        "Export",
        "Status",
        "Extract date",
        "Referred",
        "Completion rate",
        "Proven reoffending (programme)",
        "Matched difference per programme (all starters)",
        "Message",
    ]
    rows = []
    for entry in entries:
        link = (
            f'<a href="{html.escape(entry.report)}/report.html">{html.escape(entry.export)}</a>'
            if not entry.failed
            else html.escape(entry.export)
        )
        cells = [link, entry.status, *map(html.escape, _headline_cells(out, entry))]
        cells.append(html.escape(entry.message))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}: all exports</title>
<style>body{{font-family:"DejaVu Sans",Arial,sans-serif;margin:2em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em}}
th{{background:#eef2f5}}</style></head><body>
<h1>{html.escape(title)}: all exports</h1>
<p>{sum(not e.failed for e in entries)} of {len(entries)} exports have a report;
{sum(e.failed for e in entries)} failed. Figures are the published (disclosure-controlled)
headline figures of each report.</p>
<table><thead><tr>{header}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""
