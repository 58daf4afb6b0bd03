"""Loading an export: find the files, read, map, guard privacy, type, validate, quarantine.

:func:`load_export` is the one entry point. An export is a folder of CSV or
Parquet files (``participants.csv``, ``sessions.csv``, ... and
``manifest.json``) or one Excel workbook with a sheet per table and either a
``manifest`` sheet (columns ``key`` and ``value``) or a ``manifest.json``
beside it. A folder holding no table files but exactly one ``.xlsx`` is read
as that workbook. Only ``participants`` is required; absent tables are empty.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ExportError, ExportValidationError
from ..registry import instrument_registry, programme_registry
from .coerce import coerce
from .export import TABLES, Export, Manifest
from .mapping import SiteMapping, TableMapping, load_mapping
from .privacy import (
    drop_free_text,
    free_text_columns,
    identifier_error,
    redact,
    redact_frame,
    scan_identifiers,
)
from .read import (
    RawTable,
    excel_sheet_names,
    read_csv_table,
    read_excel_table,
    read_manifest_json,
    read_manifest_sheet,
    read_parquet_table,
)
from .schema import ColumnSpec, allowed_values, table_schema
from .validation import (
    TABLE_COLUMNS,
    TYPE_WORDS,
    Problem,
    ProblemLog,
    TableData,
    ValidationReport,
    validate_tables,
)

__all__ = ["load_export"]

logger = logging.getLogger(__name__)

_TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet"}


@dataclass(frozen=True)
class _Location:
    path: Path
    format: str
    sheet: str | None = None


@dataclass
class _Layout:
    source: Path
    tables: dict[str, _Location | None]
    manifest: _Location
    notes: list[str]


# -- finding the files -----------------------------------------------------------------------


def _workbook_layout(book: Path, site: SiteMapping) -> _Layout:
    sheets = excel_sheet_names(book)
    tables: dict[str, _Location | None] = {}
    for name in TABLES:
        sheet = site.table(name).file or name
        tables[name] = _Location(book, "xlsx", sheet) if sheet in sheets else None
    manifest_name = site.manifest.file or "manifest"
    beside = book.parent / (site.manifest.file or "manifest.json")
    if manifest_name in sheets and beside.is_file():
        raise ExportError(
            f"{book.name} has a {manifest_name!r} sheet and {beside.name} lies beside it; "
            "keep one manifest."
        )
    if manifest_name in sheets:
        manifest = _Location(book, "xlsx", manifest_name)
    elif beside.is_file():
        manifest = _Location(beside, "json")
    else:
        raise ExportError(
            f"No manifest for {book.name}: add a sheet named {manifest_name!r} with columns "
            f"key and value (extract_date, ...), or a {beside.name} beside the workbook."
        )
    used = {loc.sheet for loc in tables.values() if loc} | {manifest_name}
    ignored = [s for s in sheets if s not in used]
    notes = [f"Sheets ignored (not part of the contract): {', '.join(ignored)}."] if ignored else []
    return _Layout(book, tables, manifest, notes)


def _folder_layout(folder: Path, site: SiteMapping) -> _Layout:
    tables: dict[str, _Location | None] = {}
    used: set[Path] = set()
    for name in TABLES:
        stem = site.table(name).file or name
        found = [
            _Location(folder / f"{stem}{suffix}", fmt)
            for suffix, fmt in _TABLE_SUFFIXES.items()
            if (folder / f"{stem}{suffix}").is_file()
        ]
        if len(found) > 1:
            raise ExportError(
                f"{folder} holds both {found[0].path.name} and {found[1].path.name}; "
                "keep one file per table."
            )
        tables[name] = found[0] if found else None
        used.update(loc.path for loc in found)
    books = sorted(folder.glob("*.xlsx"))
    if not any(tables.values()) and len(books) == 1:
        return _workbook_layout(books[0], site)
    if not any(tables.values()) and len(books) > 1:
        raise ExportError(
            f"{folder} holds several workbooks ({', '.join(b.name for b in books)}); "
            "pass the one to read."
        )
    manifest = folder / (site.manifest.file or "manifest.json")
    if not manifest.is_file():
        raise ExportError(
            f"No {manifest.name} in {folder}: every export needs a manifest with at least "
            'its extract_date, for example {"extract_date": "2025-06-30", "schema_version": 1}.'
        )
    ignored = sorted(
        p.name
        for p in folder.iterdir()
        if p.suffix in _TABLE_SUFFIXES and p not in used and p.is_file()
    )
    notes = [f"Files ignored (not part of the contract): {', '.join(ignored)}."] if ignored else []
    return _Layout(folder, tables, _Location(manifest, "json"), notes)


def _layout(path: Path, site: SiteMapping) -> _Layout:
    if path.is_file() and path.suffix.lower() == ".xlsx":
        layout = _workbook_layout(path, site)
    elif path.is_dir():
        layout = _folder_layout(path, site)
    elif path.exists():
        raise ExportError(
            f"{path} is neither a folder nor an .xlsx workbook; pass the export's folder."
        )
    else:
        raise ExportError(f"Export not found: {path} does not exist.")
    if layout.tables["participants"] is None:
        stem = site.table("participants").file or "participants"
        raise ExportError(
            f"No participants table in {path}: expected {stem}.csv or {stem}.parquet in the "
            f"folder, or a sheet named {stem!r} in the workbook. It is the one required table."
        )
    return layout


# -- reading and mapping ---------------------------------------------------------------------


def _read_hints(name: str, mapping: TableMapping) -> dict[str, set[str]]:
    """Source column names to read as text, as categoricals (of text) and as dates."""
    hints: dict[str, set[str]] = {"text": set(), "category": set(), "date": set()}
    for col in table_schema(name).columns:
        source = mapping.source_name(col.name)
        if col.type == "string":
            hints["text"].add(source)
        elif col.type == "category" or col.name in mapping.labels:
            hints["category"].add(source)
        elif col.type == "date":
            hints["date"].add(source)
    return hints


def _read_table(name: str, location: _Location, mapping: TableMapping) -> RawTable:
    hints = _read_hints(name, mapping)
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
    return raw


def _refuse_identifiers(frames: Mapping[str, tuple[pd.DataFrame, str]]) -> None:
    """Refuse the export when any table has a column that looks like a direct identifier."""
    findings = [
        scan_identifiers(frame, table=name, source=file) for name, (frame, file) in frames.items()
    ]
    found = pd.concat(findings, ignore_index=True)
    if len(found):
        raise identifier_error(found)


# -- typing ----------------------------------------------------------------------------------


def _missing_column_message(column: str, file: str, present: list[str], mapping_hint: bool) -> str:
    close = difflib.get_close_matches(column, present, n=1, cutoff=0.6)
    lowered = [c for c in present if c.lower().replace(" ", "_") == column]
    guess = (lowered or close or [None])[0]
    hint = f" (is {guess!r} meant to be it?)" if guess else ""
    how = (
        "or map the site's column onto it in the mapping file"
        if mapping_hint
        else "or map the site's column name onto it with a mapping file (--mapping)"
    )
    return f"Required column {column} is missing from {file}{hint}; add it, {how}."


def _empty_column(col: ColumnSpec, n: int) -> pd.Series:
    if col.default is not None:
        values = pd.Series([col.default] * n, dtype="object")
        return coerce(values, col.type).series
    if col.type == "category":
        return pd.Series(pd.Categorical([None] * n, categories=pd.Index([], dtype="str")))
    return pd.Series([None] * n, dtype=col.dtype)


def _fill_default(values: pd.Series, default: Any) -> pd.Series:
    if not values.hasnans:
        return values
    if isinstance(values.dtype, pd.CategoricalDtype) and default not in values.cat.categories:
        values = values.cat.add_categories([default])
    return values.fillna(default)


def _covariate(values: pd.Series) -> pd.Series:
    """An extra column: text that is wholly numeric becomes numbers, else kept as read."""
    if not (pd.api.types.is_string_dtype(values.dtype) and values.notna().any()):
        return values
    number = coerce(values, "number")
    if number.bad.any():
        return values
    whole = number.series.dropna()
    return number.series.astype("Int64") if (whole == np.floor(whole)).all() else number.series


def _type_table(
    raw: RawTable | None, name: str, site: SiteMapping, log: ProblemLog, notes: list[str]
) -> TableData:
    """Type every contract column of a raw table, logging unreadable values and missing columns."""
    spec = table_schema(name)
    mapping = site.table(name)
    n = 0 if raw is None else len(raw.frame)
    rows = np.empty(0, dtype=np.int64) if raw is None else raw.rows
    data = TableData(
        name, pd.DataFrame(index=pd.RangeIndex(n)), rows, None if raw is None else raw.file
    )
    columns: dict[str, pd.Series] = {}
    for col in spec.columns:
        if raw is None or col.name not in raw.frame.columns:
            if raw is not None and col.required:
                log.add(
                    Problem(
                        table=name,
                        file=raw.file,
                        row=None,
                        column=col.name,
                        value=None,
                        rule="missing_column",
                        message=_missing_column_message(
                            col.name, raw.file, list(raw.frame.columns), bool(site.source)
                        ),
                    )
                )
                data.reported[col.name] = np.ones(n, dtype=bool)
            columns[col.name] = _empty_column(col, n)
            continue
        source = raw.frame[col.name]
        labels = mapping.labels.get(col.name)
        typed = coerce(
            source,
            col.type,
            labels=labels,
            date_format=site.date_format_for(name, col.name),
        )
        if typed.note:
            notes.append(f"{raw.file}, {mapping.source_name(col.name)}: {typed.note}.")
        if typed.bad.any():
            data.reported[col.name] = typed.bad
            log.add_rows(
                data,
                typed.bad,
                column=col.name,
                rule="type",
                message=f"{col.name} must be {TYPE_WORDS[col.type]}; correct the value.",
                values=source.reset_index(drop=True),
            )
        values = typed.series
        columns[col.name] = values if col.default is None else _fill_default(values, col.default)
    if raw is not None:
        for extra in raw.frame.columns.difference(list(spec.names), sort=False):
            labels = mapping.labels.get(extra)
            column = raw.frame[extra].reset_index(drop=True)
            columns[extra] = (
                coerce(column, "category", labels=labels).series if labels else _covariate(column)
            )
    data.frame = pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)
    return data


def _manifest(
    raw: dict[str, Any], location: _Location, site: SiteMapping, log: ProblemLog, notes: list[str]
) -> Manifest:
    file = (
        location.path.name if location.sheet is None else f"{location.path.name}[{location.sheet}]"
    )
    values = {site.manifest.keys.get(str(k), str(k)): v for k, v in raw.items()}
    known = set(table_schema("manifest").names)
    extra = sorted(set(values) - known)
    if extra:
        notes.append(f"{file}: keys ignored (not part of the contract): {', '.join(extra)}.")

    def problem(column: str, value: Any, rule: str, message: str) -> None:
        text = None if value is None else str(value)
        log.add(Problem("manifest", file, None, column, text, rule, message))

    extract = pd.NaT
    raw_extract = values.get("extract_date")
    if raw_extract in (None, ""):
        problem(
            "extract_date",
            None,
            "not_null",
            "The manifest has no extract_date; add the date the data were extracted "
            '(for example "extract_date": "2025-06-30"): it is the end of observation.',
        )
    else:
        typed = coerce(
            pd.Series([str(raw_extract)], dtype="str"), "date", date_format=site.date_format
        )
        if typed.bad.any():
            problem(
                "extract_date",
                raw_extract,
                "type",
                "The manifest's extract_date is not a date; write it as YYYY-MM-DD.",
            )
        else:
            extract = pd.Timestamp(typed.series.iloc[0])
    version = values.get("schema_version", 1)
    try:
        version_ok = float(version) == 1
    except (TypeError, ValueError):
        version_ok = False
    if not version_ok:
        problem(
            "schema_version",
            version,
            "range",
            "schema_version must be 1: this version of cdanalytics reads contract version 1.",
        )

    def text(key: str) -> str | None:
        value = values.get(key)
        return None if value in (None, "") else str(value)

    return Manifest(
        extract_date=extract,
        schema_version=1,
        source_system=text("source_system"),
        description=text("description"),
    )


# -- result ----------------------------------------------------------------------------------


def _final_categories(
    frame: pd.DataFrame, name: str, programmes: Mapping[str, Any], instruments: Mapping[str, Any]
) -> pd.DataFrame:
    """Enumerated columns get their full list of allowed values as categories."""
    for col in table_schema(name).columns:
        allowed = allowed_values(col, programmes=programmes, instruments=instruments)
        if col.type == "category" and allowed is not None:
            frame[col.name] = frame[col.name].cat.set_categories(list(allowed), ordered=col.ordered)
    return frame


def _reasons(problems: pd.DataFrame) -> pd.Series:
    """One text per position: every problem of the row."""
    value = problems["value"].fillna("")
    column = problems["column"].fillna("")
    text = problems["rule"] + " (" + column + " '" + value + "'): " + problems["message"]
    return text.groupby(problems["position"].to_numpy()).agg("; ".join)


def _partition(
    tables: Mapping[str, TableData], problems: pd.DataFrame, parents: Mapping[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, pd.Series]]:
    """Rows with problems of their own, rows of a participant with problems, and reasons."""
    own, by_parent, reasons = {}, {}, {}
    row_problems = problems[problems["position"] >= 0]
    for name, data in tables.items():
        mine = row_problems[row_problems["table"] == name]
        mask = np.zeros(len(data.frame), dtype=bool)
        mask[mine["position"].to_numpy(dtype=np.int64)] = True
        own[name] = mask
        reasons[name] = _reasons(mine) if len(mine) else pd.Series(dtype="str")
    bad_participants = np.flatnonzero(own["participants"])
    for name in TABLES[1:]:
        by_parent[name] = np.isin(parents[name], bad_participants) & ~own[name]
    by_parent["participants"] = np.zeros(len(tables["participants"].frame), dtype=bool)
    return own, by_parent, reasons


def _quarantine_frame(
    data: TableData,
    mask: np.ndarray,
    reasons: pd.Series,
    parent: np.ndarray | None,
    participants: TableData,
) -> pd.DataFrame:
    positions = np.flatnonzero(mask)
    out = data.frame.iloc[positions].copy()
    out.insert(0, "source_row", data.rows[positions])
    reason = pd.Series(reasons.reindex(positions).to_numpy(), index=out.index, dtype="str")
    if parent is not None:
        inherited = reason.isna().to_numpy()
        rows = pd.Series(participants.rows[parent[positions[inherited]]], dtype="str")
        text = f"its participant is quarantined ({participants.file} row " + rows + ")"
        reason[inherited] = text.to_numpy()
    out["quarantine_reason"] = reason
    return redact_frame(out.reset_index(drop=True), keep=("source_row", "quarantine_reason"))


def _table_counts(
    tables: Mapping[str, TableData],
    raws: Mapping[str, RawTable | None],
    own: Mapping[str, np.ndarray],
    by_parent: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    records = []
    for name, data in tables.items():
        raw = raws.get(name)
        n_own, n_parent = int(own[name].sum()), int(by_parent[name].sum())
        records.append(
            {
                "table": name,
                "file": data.file,
                "format": None if raw is None else raw.format,
                "encoding": None if raw is None else raw.encoding,
                "delimiter": None if raw is None else raw.delimiter,
                "blank_rows": 0 if raw is None else raw.blank_rows,
                "rows_read": len(data.frame),
                "rows_with_problems": n_own,
                "rows_of_quarantined_participant": n_parent,
                "rows_accepted": len(data.frame) - n_own - n_parent,
                "rows_quarantined": n_own + n_parent,
            }
        )
    return pd.DataFrame.from_records(records, index="table", columns=["table", *TABLE_COLUMNS])


def _type_and_validate(
    raws: dict[str, RawTable | None],
    layout: _Layout,
    site: SiteMapping,
    programmes: Mapping[str, Any],
    instruments: Mapping[str, Any],
    log: ProblemLog,
    notes: list[str],
) -> tuple[Manifest, dict[str, TableData], dict[str, np.ndarray]]:
    """Read the manifest, type every table and run every rule, logging the problems."""
    if layout.manifest.format == "json":
        manifest_raw = read_manifest_json(layout.manifest.path)
    else:
        manifest_raw = read_manifest_sheet(layout.manifest.path, layout.manifest.sheet)
    manifest = _manifest(manifest_raw, layout.manifest, site, log, notes)
    tables = {}
    for name in TABLES:
        tables[name] = _type_table(raws[name], name, site, log, notes)
        if raws[name] is not None:
            raws[name].frame = raws[name].frame.iloc[:0]  # the typed copy is all we need now
    parents = validate_tables(
        tables,
        extract_date=manifest.extract_date,
        programmes=programmes,
        instruments=instruments,
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

    Returns
    -------
    Export
        The accepted rows with the contract's dtypes (enumerated columns have
        the full list of allowed values as categories; ``group`` is filled
        with ``programme`` and ``scale`` with ``total`` where empty), the
        manifest, the :class:`~cdanalytics.io.validation.ValidationReport`
        (``export.report``) and, with ``quarantine=True``, the quarantined rows.

    Raises
    ------
    ExportError
        The export cannot be read (missing folder, participants table or
        manifest; unreadable file).
    IdentifierError
        A table has a column that looks like a direct identifier.
    ExportValidationError
        The export breaks the contract (strict mode), or has a file-level
        problem; ``.report`` holds every problem.
    ConfigError
        The mapping or a registry override is invalid.
    """
    site = load_mapping(mapping)
    progs = programme_registry(programmes)
    instrs = instrument_registry(instruments)
    layout = _layout(Path(path), site)
    notes = list(layout.notes)
    raws: dict[str, RawTable | None] = {}
    for name in TABLES:
        location = layout.tables[name]
        raws[name] = None if location is None else _read_table(name, location, site.table(name))
        if location is None:
            notes.append(f"No {name} table: read as empty.")
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
    log = ProblemLog()
    _refuse_identifiers({n: (r.frame, r.file) for n, r in raws.items() if r is not None})
    manifest, tables, parents = _type_and_validate(raws, layout, site, progs, instrs, log, notes)
    problems = log.frame()
    problems["value"] = redact(problems["value"], columns=problems["column"]).to_numpy()
    own, by_parent, reasons = _partition(tables, problems, parents)
    report = ValidationReport(
        problems=problems.drop(columns="position"),
        tables=_table_counts(tables, raws, own, by_parent),
        notes=notes,
        mode="quarantine" if quarantine else "strict",
        source=layout.source,
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
        if quarantine:
            quarantined[name] = _quarantine_frame(
                data, mask, reasons[name], parents.get(name), tables["participants"]
            )
    logger.debug("loaded %s: %s", layout.source, report.tables["rows_accepted"].to_dict())
    return Export(
        **accepted,
        manifest=manifest,
        report=report,
        source=layout.source,
        quarantine=quarantined,
    )


def _failure_message(report: ValidationReport, quarantine: bool) -> str:
    n = len(report.problems)
    head = f"The export {report.source} breaks the contract: {n} problem(s)."
    if quarantine:
        head += (
            " Some concern a file as a whole (a missing required column or an invalid "
            "manifest), which quarantine cannot set aside."
        )
    return "\n".join(
        [
            head,
            *report.digest(top=5),
            "The report (.report, or `cdanalytics validate`) lists every problem with its file, "
            "row and what to do.",
        ]
    )
