"""Loading an export: find the files, read, map, guard privacy, type, validate, quarantine.

:func:`load_export` is the one entry point. An export is a folder of CSV or
Parquet files (``participants.csv``, ``sessions.csv``, ... and
``manifest.json``) or one Excel workbook with a sheet per table and either a
``manifest`` sheet (columns ``key`` and ``value``) or a ``manifest.json``
beside it. A folder holding no table files but exactly one ``.xlsx`` is read
as that workbook. Only ``participants`` is required; absent tables are empty.

The optional practice tables (``case_audits``, ``family_outcomes``) are read
the same way when present and checked by :mod:`cdanalytics.io.rules_practice`
(a wide audit file is turned long first), and the optional ``services`` table
by :mod:`cdanalytics.io.rules_services`; an export without them loads
exactly as one from before they existed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._memory import release_free_memory, settle_allocator
from ..errors import ExportError, ExportValidationError
from ..registry import Registries
from ._take import take_small
from .export import ALL_TABLES, PRACTICE_TABLES, TABLES, Export, Manifest
from .layout import Layout, Location, find_layout
from .mapping import SiteMapping, TableMapping, load_mapping
from .privacy import (
    drop_free_text,
    free_text_columns,
    identifier_error,
    redact,
    scan_identifiers,
)
from .problems import DEFAULT_MAX_PROBLEMS
from .quarantine import partition_rows, quarantine_frame, table_counts
from .read import (
    RawTable,
    read_csv_table,
    read_excel_table,
    read_manifest_json,
    read_manifest_sheet,
    read_parquet_table,
)
from .rules_practice import audit_items, scan_pseudonyms, validate_practice, wide_to_long
from .rules_services import validate_services
from .schema import allowed_values, table_schema
from .typed import SCHEMA_VERSION, type_manifest, type_table, warn_trimmed
from .validation import (
    ProblemLog,
    TableData,
    ValidationReport,
    validate_tables,
)

__all__ = ["load_export"]

logger = logging.getLogger(__name__)

# -- reading and mapping ---------------------------------------------------------------------


def _read_hints(name: str, mapping: TableMapping, declared: bool) -> dict[str, set[str]]:
    """Source column names to read as text, as categoricals (of text) and as dates.

    Counts are read as text (a reader would take "1.000" for 1.0), and so
    are numbers when the mapping declares how they are written.
    """
    hints: dict[str, set[str]] = {"text": set(), "category": set(), "date": set()}
    for col in table_schema(name).columns:
        source = mapping.source_name(col.name)
        as_text = col.type == "integer" or (col.type == "number" and declared)
        if col.type == "string":
            hints["text"].add(source)
        elif col.type == "category" or col.name in mapping.labels or as_text:
            hints["category"].add(source)
        elif col.type == "date":
            hints["date"].add(source)
    return hints


def _read_table(
    name: str, location: Location, mapping: TableMapping, declared: bool = False
) -> RawTable:
    hints = _read_hints(name, mapping, declared)
    if location.format == "csv":
        raw = read_csv_table(
            location.path,
            table=name,
            text_columns=hints["text"],
            category_columns=hints["category"],
            date_columns=hints["date"],
        )
    elif location.format == "parquet":
        raw = read_parquet_table(location.path, table=name, category_columns=hints["category"])
    else:
        raw = read_excel_table(location.path, location.sheet, table=name)
    if mapping.columns:
        clash = [
            target
            for source, target in mapping.columns.items()
            if source in raw.frame.columns and target in raw.frame.columns and source != target
        ]
        if clash:
            raise ExportError(
                f"{raw.file} has both a column the mapping renames to {clash[0]!r} and a column "
                f"already named {clash[0]!r}; remove one of them or change the mapping."
            )
        raw.frame = raw.frame.rename(columns=mapping.columns)
        raw.whole_days = frozenset(mapping.columns.get(c, c) for c in raw.whole_days)
    return raw


def _refuse_identifiers(frames: Mapping[str, tuple[pd.DataFrame, str]]) -> None:
    """Refuse the export when any table has a column that looks like a direct identifier."""
    findings = [
        scan_identifiers(frame, table=name, source=file) for name, (frame, file) in frames.items()
    ]
    findings += [
        scan_pseudonyms(frame, table=name, source=file)
        for name, (frame, file) in frames.items()
        if name in PRACTICE_TABLES
    ]
    found = pd.concat(findings, ignore_index=True)
    if len(found):
        raise identifier_error(found)


# -- result ----------------------------------------------------------------------------------


def _final_categories(
    frame: pd.DataFrame, name: str, programmes: Mapping[str, Any], instruments: Mapping[str, Any]
) -> pd.DataFrame:
    """Enumerated columns get their full list of allowed values as categories.

    As ``cat.set_categories`` (a value outside the list becomes empty), by a
    lookup from each old category to its new code: no column-long temporary.
    """
    for col in table_schema(name).columns:
        allowed = allowed_values(col, programmes=programmes, instruments=instruments)
        if col.type == "category" and allowed is not None:
            values = frame[col.name]
            new = pd.Index(list(allowed))
            old = values.cat.codes.to_numpy()
            width = np.int8 if len(new) < 127 else np.int32
            # old code -> new code; the last slot for code -1 (empty)
            lookup = np.append(new.get_indexer(values.cat.categories), -1).astype(width)
            same = old.dtype == width and np.array_equal(lookup[:-1], np.arange(len(lookup) - 1))
            codes = old if same else take_small(lookup, old)  # old codes stand if unchanged
            dtype = pd.CategoricalDtype(new, ordered=col.ordered)
            # every code is valid by construction: no pass to validate them
            frame[col.name] = pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
    return frame


def _type_and_validate(
    raws: dict[str, RawTable | None],
    layout: Layout,
    site: SiteMapping,
    programmes: Mapping[str, Any],
    instruments: Mapping[str, Any],
    log: ProblemLog,
    notes: list[str],
    items: Mapping[str, tuple[int, ...]],
) -> tuple[Manifest, dict[str, TableData], dict[str, np.ndarray]]:
    """Read the manifest, type every table and run every rule, logging the problems."""
    if layout.manifest.format == "json":
        manifest_raw = read_manifest_json(layout.manifest.path)
    else:
        manifest_raw = read_manifest_sheet(layout.manifest.path, layout.manifest.sheet)
    location = layout.manifest
    file = (
        location.path.name if location.sheet is None else f"{location.path.name}[{location.sheet}]"
    )
    extract, values = type_manifest(
        manifest_raw, file, location.sheet is not None, site, log, notes
    )

    def text(key: str) -> str | None:
        value = values.get(key)
        return None if value in (None, "") else str(value)

    manifest = Manifest(
        extract_date=extract,
        schema_version=SCHEMA_VERSION,
        source_system=text("source_system"),
        description=text("description"),
    )
    tables = {}
    trimmed: dict[str, int] = {}
    for name in ALL_TABLES:
        # the raw frame is given up right after: typed numbers may keep its memory
        tables[name] = type_table(raws[name], name, site, log, notes, trimmed, take_over=True)
        if raws[name] is not None:
            raws[name].frame = raws[name].frame.iloc[:0]  # the typed copy is all we need now
    warn_trimmed(trimmed, notes)
    parents = validate_tables(
        tables,
        extract_date=manifest.extract_date,
        programmes=programmes,
        instruments=instruments,
        log=log,
    )
    parents.update(
        validate_services(
            tables, extract_date=manifest.extract_date, log=log, parent=parents.get("services")
        )
    )
    validate_practice(
        {name: tables[name] for name in PRACTICE_TABLES},
        extract_date=manifest.extract_date,
        items=items,
        log=log,
    )
    return manifest, tables, parents


def load_export(
    path: str | Path,
    *,
    mapping: str | Path | Mapping[str, Any] | SiteMapping | None = None,
    quarantine: bool = False,
    programmes: Mapping[str, Any] | None = None,
    instruments: Mapping[str, Any] | None = None,
    max_problems_per_rule: int | None = DEFAULT_MAX_PROBLEMS,
    audit_tools: Mapping[str, Any] | None = None,
) -> Export:
    """Read, check and type a case export.

    Parameters
    ----------
    path
        Folder of CSV or Parquet files with ``manifest.json``, or an ``.xlsx``
        workbook (see the module docstring).
    mapping
        A site mapping (YAML path, dict or
        :class:`~cdanalytics.io.mapping.SiteMapping`) renaming the site's
        files, columns and value labels to the contract's.
    quarantine
        ``False`` (strict, the default): any problem raises
        :class:`~cdanalytics.errors.ExportValidationError`. ``True``: rows
        with problems, and every row of a participant with problems, are set
        aside in ``export.quarantine[table]`` (with ``source_row`` and
        ``quarantine_reason``) and the rest is returned. Quarantined cells,
        like the values in the problem list, are shown through
        :func:`cdanalytics.io.privacy.redact`: identifier-like values are
        replaced and long values cut. Problems with a file
        as a whole (a missing required column, an invalid manifest) still
        raise.
    programmes, instruments
        Registry overrides (as in the evaluation config's ``programmes:``
        and ``instruments:``), merged into the built-in registries.
    max_problems_per_rule
        Problems listed in full (row, value, message) per rule and table;
        the rest are counted (``report.counts``, ``report.omitted``) and
        their rows still quarantined. ``None`` lists every problem. Keeps
        the memory and the problem list of a wholly broken export bounded.
    audit_tools
        Audit-tool registry overrides (as in the evaluation config's
        ``audit_tools:``), merged into the built-in registry: the items and
        scales ``case_audits`` is checked against.

    Returns
    -------
    Export
        The accepted rows with the contract's dtypes (enumerated columns have
        the full list of allowed values as categories; ``group`` is filled
        with ``programme`` and ``scale`` with ``total`` where empty; the
        practice tables empty when absent), the
        manifest, the :class:`~cdanalytics.io.validation.ValidationReport`
        (``export.report``) and, with ``quarantine=True``, the quarantined rows.

    Raises
    ------
    ExportError
        The export cannot be read (missing folder, participants table or
        manifest; unreadable file).
    IdentifierError
        A table has a column that looks like a direct identifier, or a case
        or reader id of the practice tables looks like a person's name.
    ExportValidationError
        The export breaks the contract (strict mode), or has a file-level
        problem; ``.report`` holds every problem.
    ConfigError
        The mapping or a registry override is invalid.

    Examples
    --------
    A small synthetic export written into a temporary folder, loaded, then
    broken on purpose: a session whose attendance is ``maybe``. The strict
    load refuses it; with ``quarantine=True`` that row (line 2 of
    ``sessions.csv``, after the header) is set aside and every row is
    accounted for:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> from cdanalytics.errors import ExportValidationError
    >>> from cdanalytics.synth import write_synthetic_export
    >>> tmp = tempfile.TemporaryDirectory()
    >>> folder = Path(tmp.name) / "site"
    >>> _ = write_synthetic_export(folder, n_participants=200, seed=1)
    >>> export = load_export(folder)
    >>> len(export.participants), export.report.ok
    (200, True)
    >>> sessions = pd.read_csv(folder / "sessions.csv", dtype=str)
    >>> sessions.loc[0, "attendance"] = "maybe"
    >>> sessions.to_csv(folder / "sessions.csv", index=False)
    >>> try:
    ...     load_export(folder)
    ... except ExportValidationError as error:
    ...     print(error.report.n_problems)
    1
    >>> export = load_export(folder, quarantine=True)
    >>> export.report.problems[["table", "row", "column", "value", "rule"]].values.tolist()
    [['sessions', 2, 'attendance', 'maybe', 'allowed']]
    >>> counts = export.report.tables.loc["sessions"]
    >>> read, accepted, quarantined = counts[["rows_read", "rows_accepted", "rows_quarantined"]]
    >>> (read, accepted, quarantined) == (len(sessions), len(sessions) - 1, 1)
    True
    >>> tmp.cleanup()
    """
    settle_allocator()  # fewer fresh pages for the checks' temporaries (see _memory)
    site = load_mapping(mapping)
    registries = Registries.build(programmes, instruments, audit_tools)
    progs, instrs = registries.programmes, registries.instruments
    items = audit_items(registries.audit_tools)
    layout = find_layout(Path(path), site)
    notes = list(layout.notes)
    raws: dict[str, RawTable | None] = {}
    for name in ALL_TABLES:
        location = layout.tables[name]
        raws[name] = (
            None
            if location is None
            else _read_table(name, location, site.table(name), site.number_format is not None)
        )
        if location is None and name in TABLES:
            notes.append(f"No {name} table: read as empty.")
    if raws["case_audits"] is not None:
        raws["case_audits"], note = wide_to_long(raws["case_audits"], items)
        notes += [note] if note else []
    for raw in raws.values():
        if raw is not None and raw.blank_rows:
            notes.append(f"{raw.file}: {raw.blank_rows} blank row(s) skipped.")
    for name, raw in raws.items():
        if raw is not None:
            table = site.table(name)
            raw.frame, dropped = drop_free_text(
                raw.frame,
                table=name,
                file=raw.file,
                safe=table.free_text_safe,
                labels=table.labels,
                source_names={c: table.source_name(c) for c in free_text_columns(name)},
            )
            notes += dropped
    log = ProblemLog(max_problems_per_rule)
    _refuse_identifiers({n: (r.frame, r.file) for n, r in raws.items() if r is not None})
    manifest, tables, parents = _type_and_validate(
        raws, layout, site, progs, instrs, log, notes, items
    )
    problems = log.frame()  # bounded: at most max_problems_per_rule per rule and table
    problems["value"] = redact(problems["value"], columns=problems["column"]).to_numpy()
    own, by_parent = partition_rows(tables, log, parents)
    report = ValidationReport(
        problems=problems.drop(columns="position"),
        tables=table_counts(tables, raws, own, by_parent),
        notes=notes,
        mode="quarantine" if quarantine else "strict",
        source=layout.source,
        counts=log.counts(),
        max_per_rule=log.max_per_rule,
    )
    report.reconcile()
    if not report.ok and (not quarantine or report.fatal):
        raise ExportValidationError(_failure_message(report, quarantine), report)
    accepted: dict[str, pd.DataFrame] = {}
    quarantined: dict[str, pd.DataFrame] = {}
    for name, data in tables.items():
        mask = own[name] | by_parent[name]
        frame = data.frame.loc[~mask].reset_index(drop=True) if mask.any() else data.frame
        accepted[name] = _final_categories(frame, name, progs, instrs)
        if quarantine and (name in TABLES or raws[name] is not None):
            listed = problems[(problems["table"] == name) & (problems["position"] >= 0)]
            quarantined[name] = quarantine_frame(
                data, mask, log.reasons(name, listed), parents.get(name), tables["participants"]
            )
    logger.debug("loaded %s: %s", layout.source, report.tables["rows_accepted"].to_dict())
    export = Export(
        **accepted,
        manifest=manifest,
        report=report,
        source=layout.source,
        quarantine=quarantined,
        registries=registries,
    )
    # The validation's lookup of each child row's participant, carried over
    # to the accepted rows, so that no analysis hashes the identifiers again.
    kept = ~(own["participants"] | by_parent["participants"])
    # every participant kept: positions unchanged, no renumbering gather
    renumber = None if kept.all() else np.r_[np.cumsum(kept) - 1, -1].astype(np.int32)
    for name, rows in parents.items():
        mask = own[name] | by_parent[name]
        rows = rows[~mask] if mask.any() else rows
        export.remember_participant_rows(
            name, rows.astype(np.int32, copy=False) if renumber is None else renumber[rows]
        )
    release_free_memory()  # the freed reads and temporaries (~0.2 GiB at 1M participants)
    return export


def _failure_message(report: ValidationReport, quarantine: bool) -> str:
    n = report.n_problems
    head = f"The export {report.source} breaks the contract: {n:,} problem(s)."
    if quarantine:
        head += (
            " Some concern a file as a whole (a missing required column or an invalid "
            "manifest), which quarantine cannot set aside."
        )
    return "\n".join(
        [
            head,
            *report.digest(top=5),
            "The report (.report, or `cdanalytics validate`) lists the problems with their file, "
            "row and what to do (the first of each rule, and how many more).",
        ]
    )
