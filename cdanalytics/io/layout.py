"""Finding an export's files: table files, sheets and the manifest, inside the export only.

An export is a folder of CSV or Parquet files (``participants.csv``, ...,
``manifest.json``) or one Excel workbook with a sheet per table and either a
``manifest`` sheet or a ``manifest.json`` beside it; a folder holding no
table files but exactly one ``.xlsx`` is read as that workbook. File and
sheet names are matched ignoring case (two that differ only by case are
refused), and every file read must resolve, links followed, inside the
export folder: a mapping that names a file outside it is a
:class:`~cdanalytics.errors.ConfigError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, ExportError
from .export import ALL_TABLES
from .mapping import SiteMapping
from .read import excel_sheet_names

__all__ = ["Layout", "Location", "find_layout"]

_TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet"}


@dataclass(frozen=True)
class Location:
    """Where one table or the manifest is: a file, its format and, in a workbook, the sheet."""

    path: Path
    format: str
    sheet: str | None = None


@dataclass
class Layout:
    """The export's source, where each table is (``None``: absent), the manifest and notes."""

    source: Path
    tables: dict[str, Location | None]
    manifest: Location
    notes: list[str]


def _inside(folder: Path, path: Path, what: str, mapped: bool, shown: str | None = None) -> Path:
    """``path`` when it resolves (symlinks followed) inside ``folder``; refused otherwise.

    Raises
    ------
    ConfigError
        A name from the mapping leads outside the export folder.
    ExportError
        A file of the export is a link to a file outside its folder.
    """
    if path.resolve().is_relative_to(folder.resolve()):
        return path
    if mapped:
        raise ConfigError(
            f"The mapping names {what} {shown or path.name!r} outside the export folder "
            f"{folder}; "
            "a mapping may only name files inside the export (a file stem such as "
            "'deelnemers', no folders)."
        )
    raise ExportError(
        f"{path.name} in {folder} links to a file outside the export folder; copy the file "
        "into the export instead of linking to it."
    )


def _named(folder: Path, name: str, what: str, mapped: bool) -> Path | None:
    """The file of ``folder`` named ``name``, ignoring case; ``None`` when there is none.

    A mapped name must stay inside the folder. Two files whose names differ
    only by case are refused.
    """
    target = _inside(folder, folder / name, what, mapped, repr(name))
    if target.parent.resolve() != folder.resolve():
        folder = target.parent  # a mapped name in a subfolder of the export
    if not folder.is_dir():
        return None
    wanted = target.name.casefold()
    found = sorted(p for p in folder.iterdir() if p.name.casefold() == wanted and p.is_file())
    if len(found) > 1:
        raise ExportError(
            f"{folder} holds {' and '.join(p.name for p in found)}, whose names differ only "
            "by upper and lower case; keep one of them."
        )
    return _inside(folder, found[0], what, mapped) if found else None


def _sheet(sheets: list[str], name: str) -> str | None:
    """The sheet named ``name``, ignoring case; two sheets differing only by case are refused."""
    found = [s for s in sheets if s.casefold() == name.casefold()]
    if len(found) > 1:
        raise ExportError(
            f"The workbook has sheets {' and '.join(repr(s) for s in found)}, whose names "
            "differ only by upper and lower case; keep one of them."
        )
    return found[0] if found else None


def _workbook_layout(book: Path, site: SiteMapping) -> Layout:
    sheets = excel_sheet_names(book)
    tables: dict[str, Location | None] = {}
    for name in ALL_TABLES:
        sheet = _sheet(sheets, site.table(name).file or name)
        tables[name] = Location(book, "xlsx", sheet) if sheet is not None else None
    manifest_sheet = _sheet(sheets, site.manifest.file or "manifest")
    beside_name = site.manifest.file or "manifest.json"
    beside = _named(book.parent, beside_name, "the manifest", site.manifest.file is not None)
    if manifest_sheet is not None and beside is not None:
        raise ExportError(
            f"{book.name} has a {manifest_sheet!r} sheet and {beside.name} lies beside it; "
            "keep one manifest."
        )
    if manifest_sheet is not None:
        manifest = Location(book, "xlsx", manifest_sheet)
    elif beside is not None:
        manifest = Location(beside, "json")
    else:
        raise ExportError(
            f"No manifest for {book.name}: add a sheet named "
            f"{site.manifest.file or 'manifest'!r} with columns key and value (extract_date, "
            f"...), or a {Path(beside_name).name} beside the workbook."
        )
    used = {loc.sheet for loc in tables.values() if loc} | {manifest_sheet}
    ignored = [s for s in sheets if s not in used]
    notes = [f"Sheets ignored (not part of the contract): {', '.join(ignored)}."] if ignored else []
    return Layout(book, tables, manifest, notes)


def _folder_layout(folder: Path, site: SiteMapping) -> Layout:
    tables: dict[str, Location | None] = {}
    used: set[Path] = set()
    for name in ALL_TABLES:
        mapped = site.table(name).file is not None
        stem = site.table(name).file or name
        found = []
        for suffix, fmt in _TABLE_SUFFIXES.items():
            path = _named(folder, f"{stem}{suffix}", f"the {name} file", mapped)
            if path is not None:
                found.append(Location(path, fmt))
        if len(found) > 1:
            raise ExportError(
                f"{folder} holds both {found[0].path.name} and {found[1].path.name}; "
                "keep one file per table."
            )
        tables[name] = found[0] if found else None
        used.update(loc.path for loc in found)
    books = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".xlsx" and p.is_file())
    if not any(tables.values()) and len(books) == 1:
        return _workbook_layout(_inside(folder, books[0], "the workbook", False), site)
    if not any(tables.values()) and len(books) > 1:
        raise ExportError(
            f"{folder} holds several workbooks ({', '.join(b.name for b in books)}); "
            "pass the one to read."
        )
    manifest_name = site.manifest.file or "manifest.json"
    manifest = _named(folder, manifest_name, "the manifest", site.manifest.file is not None)
    if manifest is None:
        raise ExportError(
            f"No {Path(manifest_name).name} in {folder}: every export needs a manifest with at "
            "least its extract_date, for example "
            '{"extract_date": "2025-06-30", "schema_version": 1}.'
        )
    ignored = sorted(
        p.name
        for p in folder.iterdir()
        if p.suffix.lower() in _TABLE_SUFFIXES and p not in used and p.is_file()
    )
    notes = [f"Files ignored (not part of the contract): {', '.join(ignored)}."] if ignored else []
    return Layout(folder, tables, Location(manifest, "json"), notes)


def find_layout(path: Path, site: SiteMapping) -> Layout:
    """Find the files of the export at ``path`` (folder or workbook) under a site mapping.

    Raises
    ------
    ExportError
        No export there, no participants table or manifest, or ambiguous files.
    ConfigError
        The mapping names a file outside the export.
    """
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
