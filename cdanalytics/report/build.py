"""The main job: validate an export, compute every outcome, write the report.

:func:`build_report` writes, atomically (a crash or kill leaves any previous
report untouched):

- ``report.html``: one self-contained page (figures embedded as SVG), a
  summary for managers first;
- ``figures/``: every figure as SVG (and PNG when asked; no figures at
  all with ``figures=False``);
- ``tables/``: every published table as CSV, after disclosure control;
- ``outcomes.json``: the headline figures under stable keys
  (``docs/outcomes.md``);
- ``run.json``: input checksums, rows read/accepted/quarantined (as
  ``tables/rows.csv`` publishes them), extract date, package and schema
  versions, the versions of Python and the statistics libraries
  (``library_versions``), the config used, the site mapping's SHA-256
  (``mapping_checksum``), the figures drawn (``figures``: ``"svg"``,
  ``"svg+png"`` or ``"none"``), timings and the SHA-256 of every other file
  of the report (``files``);
- ``.cdanalytics-report``: the marker that lets the next run replace it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import yaml

from .._memory import release_free_memory
from .._version import __version__, library_versions
from ..config import EvaluationConfig, load_config, validate_config
from ..disclosure import DisclosurePolicy, protect_frame
from ..i18n import date, datetime, label, localised, number
from ..io import load_export
from ..io.csvsafe import write_csv
from ..io.export import Export
from ..io.formats import DEFAULT_MAX_PROBLEMS
from ..outdir import check_out_folder, folder_lock, write_marker
from . import family, methods_extra
from ._atomic import atomic_directory
from .compute import Outcomes, Section, compute_outcomes, step_names
from .figures import Figure, draw_figures, figure_kind, save_figures
from .headlines import headline_figures
from .notes import note_words
from .page import (
    completion_rules,
    figure_html,
    html_table,
    instrument_lines,
    methods_paragraphs,
    report_title,
    table_caption,
    unreliable_scales,
)
from .practice import practice_section
from .published import PublishedTable
from .selfcheck import self_check
from .summary import programme_overview, summary_sentences
from .tables import engagement_views, publish_tables, rows_of

__all__ = ["ReportRun", "build_report", "input_checksums"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: Sections added beside the main tables, each with publish, add_headlines, draw
#: and context functions (their template partial is ``<name>.html.j2``); what
#: each computes runs as one of :data:`_SECTIONS`.
ADDED_SECTIONS = (family, methods_extra)


def _family(out: Outcomes) -> None:
    family.compute(out)
    # its last reader: the prepared engagement data (about 1.3 GiB at 10M
    # participants) goes before pre/post, reoffending and matching allocate
    out.models.pop("engagement", None)


#: When the added sections compute: each right after the step whose results it
#: needs (the family section needs only the prepared engagement data).
_SECTIONS = (
    Section("family", "engagement", _family),
    # while the pre/post step's score table is still shared (not made again)
    Section("imputation", "prepost", methods_extra.compute_imputed),
    Section("methods", "matching", methods_extra.compute),
)

#: Steps of :func:`build_report`, in the order they run (each reported to ``on_step``
#: when done, and timed in ``run.json``).
REPORT_STEPS: tuple[str, ...] = (
    "load",
    *step_names(_SECTIONS),
    "disclosure",
    "figures",
    "write",
)


@dataclass(frozen=True)
class ReportRun:
    """What a report run wrote.

    Attributes
    ----------
    out
        The report folder.
    outcomes
        The content of ``outcomes.json``.
    run
        The content of ``run.json``.
    """

    out: Path
    outcomes: dict[str, Any]
    run: dict[str, Any]

    @property
    def html(self) -> Path:
        """Path of ``report.html``."""
        return self.out / "report.html"


def input_checksums(source: Path) -> dict[str, str]:
    """SHA-256 of every file of an export (a folder, or a workbook and its manifest)."""
    files = sorted(p for p in source.iterdir() if p.is_file()) if source.is_dir() else [source]
    if not source.is_dir():
        manifest = source.with_name("manifest.json")
        files += [manifest] if manifest.exists() else []
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _data_quality(export: Export, policy: DisclosurePolicy) -> dict[str, PublishedTable]:
    """Rows read/accepted/quarantined and problems by rule, protected like the rest."""
    from .published import TableSpec

    report = export.report
    out: dict[str, PublishedTable] = {}
    if report is None:
        return out
    rows = report.tables.reset_index()[["table", "rows_read", "rows_accepted", "rows_quarantined"]]
    spec = TableSpec(
        source="rows", keys=("table",), columns=tuple(rows.columns[1:]), fixed_keys=True
    )
    out["rows"] = PublishedTable(
        "rows",
        spec,
        protect_frame(
            rows,
            policy,
            count_cols=["rows_accepted", "rows_quarantined"],
            row_total="rows_read",
            table="rows",
            key_columns=["table"],
        ),
    )
    if not report.ok:
        problems = report.counts_by_rule()  # exact, including problems beyond the listed ones
        spec = TableSpec(
            source="problems", keys=("table", "rule"), columns=("n_rows",), fixed_keys=True
        )
        out["problems"] = PublishedTable(
            "problems",
            spec,
            protect_frame(
                problems,
                policy,
                count_cols=["n_rows"],
                table="problems",
                key_columns=["table", "rule"],
            ),
        )
    return out


def _render_html(
    out: Outcomes,
    published: Mapping[str, PublishedTable],
    figures: list[Figure],
    outcomes: Mapping[str, Any],
    checksums: Mapping[str, str],
    lang: str,
) -> str:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cdanalytics.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    t = partial(label, lang=lang)
    config = out.config
    policy = next(iter(published.values())).protected.policy
    threshold = policy.threshold
    programmes = out.export.registries.programmes
    instruments = out.export.registries.instruments
    present = sorted(str(p) for p in pd.unique(out.export.participants["programme"].dropna()))
    measured = sorted(str(i) for i in pd.unique(out.export.measures["instrument"].dropna()))
    names = {code: entry["name"][lang] for code, entry in programmes.items()}
    by_programme = published.get("change_by_programme")
    programme_tables = {}
    for code in present if by_programme is not None else []:
        rows = rows_of(by_programme, "change_by_programme", programme=code)
        if len(rows.published):
            caption = f"{table_caption('change_by_programme', lang)}: {names.get(code, code)}"
            programme_tables[code] = html_table(
                rows, lang, caption=caption, anchor=f"change_by_programme-{code}"
            )
    findings = out.tables.get("exit_status_findings")
    n_findings = 0 if findings is None else len(findings)
    return env.get_template("report.html.j2").render(
        lang=lang,
        t=lambda key, **kw: label(key, lang, **kw),
        title=report_title(config.title, lang),
        intro=t(
            "summary_intro",
            programmes=", ".join(
                localised(programmes[p]["name"], lang) for p in present if p in programmes
            ),
            extract_date=date(outcomes["extract_date"], lang),
            threshold=number(threshold, lang),
        ),
        summary=summary_sentences(outcomes, lang, names),
        programmes=programme_overview(outcomes, lang, names),
        programme_tables=programme_tables,
        window=config.reoffending.window_months,
        not_computed=[note_words(note, lang) for note in out.notes],
        threshold=threshold,
        figures={f.name: figure_html(f) for f in figures},
        tables={
            name: html_table(table, lang)
            for name, table in {**published, **engagement_views(published)}.items()
        },
        findings=(
            t("exit_status_findings", n=policy.publish_count(n_findings)) if n_findings else None
        ),
        completion_rules=completion_rules(programmes, present, lang),
        methods=methods_paragraphs(config, lang),
        instruments=instrument_lines(instruments, lang),
        reliable_change_notes=unreliable_scales(instruments, measured, lang),
        early_dropout_before=number(config.engagement.early_dropout_before, lang),
        version=__version__,
        schema_version=SCHEMA_VERSION,
        generated=datetime(dt.datetime.now(dt.UTC), lang),
        checksums=checksums,
        config_yaml=yaml.safe_dump(config.as_dict(), sort_keys=False, allow_unicode=True),
        added={
            s.__name__.rsplit(".", 1)[-1]: s.context(out, published, lang) for s in ADDED_SECTIONS
        },
    )


def build_report(
    export: str | Path,
    out: str | Path,
    *,
    config: str | Path | Mapping[str, Any] | EvaluationConfig | None = None,
    lang: str | None = None,
    mapping: str | Path | None = None,
    quarantine: bool = False,
    on_step: Callable[[str], None] | None = None,
    force: bool = False,
    max_problems: int | None = DEFAULT_MAX_PROBLEMS,
    png: bool = False,
    figures: bool = True,
) -> ReportRun:
    """Validate an export, compute every outcome and write the report folder.

    Parameters
    ----------
    export
        Folder (or ``.xlsx`` workbook) of the case export.
    out
        Report folder; replaced as a whole only when the new report is complete
        (see :mod:`cdanalytics.report._atomic`). It must be new, empty or an
        earlier report (it holds the marker ``.cdanalytics-report``), and
        never the export, inside it or a parent of it
        (:func:`cdanalytics.outdir.check_out_folder`).
    config
        Evaluation config: a YAML path, an already-parsed mapping, an
        :class:`~cdanalytics.config.EvaluationConfig`, or ``None`` for the
        defaults (:mod:`cdanalytics.config`).
    lang
        ``"en"`` or ``"nl"``; overrides the config's ``language``.
    mapping
        Site mapping file for the export's column names and labels.
    quarantine
        Set invalid rows aside instead of stopping (see :func:`load_export`).
    on_step
        Called with the name of each finished step (for progress bars).
    force
        Replace ``out`` even when it holds files cdanalytics did not write
        (they are deleted). Never allows writing into or over the export.
    max_problems
        Problems listed per rule and table in the validation report
        (``load_export(max_problems_per_rule=)``; ``None``: all).
    png
        Also write each figure as ``figures/NAME.png`` (150 dpi) beside its
        SVG. Off by default: the page embeds the SVGs, and drawing the PNGs
        costs about as much again.
    figures
        Draw the figures (on the page and in ``figures/``). ``False`` writes
        the same tables, ``outcomes.json`` and page without any chart, in
        about half the time of a small export's report (for jobs that read
        only the tables); ``run.json`` records which were drawn.

    Returns
    -------
    ReportRun

    Raises
    ------
    ExportValidationError, IdentifierError
        The export breaks the contract (strict mode) or holds identifiers.
    ConfigError
        The config is invalid, or ``png`` is asked for without ``figures``.
    OutputFolderError
        ``out`` breaks the folder rule or another run is writing it; checked
        before anything is read.
    """
    kind = figure_kind(figures=figures, png=png)
    source = Path(export)
    target = check_out_folder(out, "report", sources=[source], force=force)
    with folder_lock(target):
        return _build(
            source, target, config, lang, mapping, quarantine, on_step, max_problems, kind
        )


def _build(
    source: Path,
    target: Path,
    config: str | Path | Mapping[str, Any] | EvaluationConfig | None,
    lang: str | None,
    mapping: str | Path | None,
    quarantine: bool,
    on_step: Callable[[str], None] | None,
    max_problems: int | None = DEFAULT_MAX_PROBLEMS,
    kind: str = "svg",
) -> ReportRun:
    """:func:`build_report` once ``target`` is checked and locked."""
    timings: dict[str, float] = {}
    step = on_step or (lambda _name: None)
    clock = time.perf_counter()

    def done(name: str) -> None:
        nonlocal clock
        release_free_memory()  # what the step freed, before the next one allocates
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now
        step(name)

    cfg = validate_config(config) if isinstance(config, Mapping) else load_config(config)
    if lang is not None:
        cfg = cfg.with_language(lang)
    lang = cfg.language
    policy = cfg.disclosure
    if policy.method == "cell_key":
        policy.secret()  # a missing secret is a usage error before any work is done
    data = load_export(
        source,
        mapping=mapping,
        quarantine=quarantine,
        programmes=cfg.programmes,
        instruments=cfg.instruments,
        audit_tools=cfg.audit_tools,
        max_problems_per_rule=max_problems,
    )
    done("load")
    outcomes_obj = compute_outcomes(data, cfg, on_step=done, sections=_SECTIONS)
    published = publish_tables(outcomes_obj.tables, policy, tuple(cfg.groupings))
    published.update(_data_quality(data, policy))
    practice = practice_section(data, policy)  # empty without case audits
    published.update(practice.tables)
    for section in ADDED_SECTIONS:
        published.update(section.publish(outcomes_obj, policy, published))
    self_check(published, policy)
    outcomes = headline_figures(outcomes_obj, published)
    practice.add_to(outcomes, outcomes_obj.notes)
    for section in ADDED_SECTIONS:
        section.add_headlines(outcomes, outcomes_obj, published)
    done("disclosure")
    names = {c: e["name"][lang] for c, e in data.registries.programmes.items()}
    figures: list[Figure] = []
    if kind != "none":
        png = kind == "svg+png"
        figures = draw_figures(outcomes_obj, lang, policy, published, names, png=png)
        for section in ADDED_SECTIONS:
            figures += section.draw(outcomes_obj, published, lang, png=png)
    done("figures")
    checksums = input_checksums(source)
    page = _render_html(outcomes_obj, published, figures, outcomes, checksums, lang)
    run = {
        "package_version": __version__,
        "library_versions": library_versions(),
        "schema_version": SCHEMA_VERSION,
        "export": str(source.resolve()),
        "extract_date": outcomes["extract_date"],
        "input_checksums": checksums,
        "mapping_checksum": _file_checksum(mapping) if isinstance(mapping, (str, Path)) else None,
        "rows": _published_rows(published.get("rows")),
        "config": cfg.as_dict(),
        "config_digest": config_digest(cfg),
        "language": lang,
        "figures": kind,
        "not_computed": outcomes_obj.notes,
        "timings_seconds": timings,
        "matching_seconds_by_programme": outcomes_obj.models.get("matching_seconds", {}),
    }
    with atomic_directory(target) as staging:
        write_marker(staging, "report")
        (staging / "report.html").write_text(page, encoding="utf-8")
        save_figures(figures, staging / "figures")
        tables_dir = staging / "tables"
        tables_dir.mkdir()
        for name, table in published.items():
            write_csv(table.protected.marked(), tables_dir / f"{name}.csv")
        (staging / "outcomes.json").write_text(_json(outcomes), encoding="utf-8")
        done("write")
        run["timings_seconds"] = timings
        run["files"] = _file_checksums(staging)
        (staging / "run.json").write_text(_json(run), encoding="utf-8")
    log.info("report written to %s", target)
    return ReportRun(out=target, outcomes=outcomes, run=run)


def _file_checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file written so far, by path relative to ``folder``."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    }


def _file_checksum(path: str | Path) -> str:
    """SHA-256 of one file (the site mapping, which may lie outside the export)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _published_rows(rows: PublishedTable | None) -> dict[str, dict[str, Any]]:
    """Rows read/accepted/quarantined per table as ``tables/rows.csv`` publishes them.

    ``run.json`` counts as published: a count the table withholds appears as
    its marker (``"<10"``, ``"[c]"``) here too, never as the exact number.
    """
    if rows is None:
        return {}
    marked = rows.protected.marked().set_index("table")
    return {
        str(table): {k: v if isinstance(v, str) else int(v) for k, v in row.items()}
        for table, row in marked.iterrows()
    }


def config_digest(config: EvaluationConfig) -> str:
    """SHA-256 of a config, independent of key order (used to skip unchanged batch runs)."""
    text = json.dumps(config.as_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=_jsonable) + "\n"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (pd.Timestamp, dt.date)):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
