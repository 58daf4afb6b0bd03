"""Write an :class:`~cdanalytics.io.export.Export` to a folder, deterministically.

The folder gets one file per table (``participants``, ``sessions``,
``measures``, ``events``, and ``services``, ``case_audits`` / ``family_outcomes``
when the export has rows in them) as CSV or Parquet, or one workbook ``export.xlsx``
with a sheet per table, plus ``manifest.json``. The same export always gives
the same bytes: no timestamps, no pandas metadata, fixed ZIP entry dates in
the workbook.

Conventions of the files written
--------------------------------
- Dates are ISO ``YYYY-MM-DD`` (Parquet: ``date32``; workbook: date cells
  formatted ``YYYY-MM-DD``).
- Enumerated columns are written as plain text, missing values as empty
  cells (CSV) or nulls.
- CSV is UTF-8 with ``,`` delimiters and ``\\n`` line ends; text is quoted
  only in a table where some value needs it (contains ``,``, ``"`` or a line
  break), booleans are ``true``/``false`` (written by ``pyarrow.csv``).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import ConfigError
from .export import OPTIONAL_TABLES, TABLES, Export
from .formats import FORMATS, WORKBOOK_NAME, XLSX_MAX_ROWS

__all__ = ["FORMATS", "WORKBOOK_NAME", "XLSX_MAX_ROWS", "write_export"]


_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_FIXED_DOC_TIME = "2000-01-01T00:00:00Z"
_NEEDS_QUOTES = r'[,"\r\n]'


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """A table with plain Arrow types: text for categories, date32 for dates, no metadata."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_dictionary(kind):
            column = column.cast(pa.string())
        elif pa.types.is_timestamp(kind):
            column = column.cast(pa.date32())
        elif pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
            column = column.cast(pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _quoting(table: pa.Table) -> str:
    """'none' unless a text value contains a delimiter, quote or line break."""
    for column in table.columns:
        if (
            pa.types.is_string(column.type)
            and pc.any(pc.match_substring_regex(column, _NEEDS_QUOTES)).as_py()
        ):
            return "needed"
    return "none"


def _write_csv(table: pa.Table, path: Path) -> None:
    options = pacsv.WriteOptions(quoting_header="none", quoting_style=_quoting(table))
    pacsv.write_csv(table, path, write_options=options)


def _fix_zip(path: Path) -> None:
    """Rewrite a ZIP (xlsx) with fixed entry dates and fixed document timestamps."""
    with zipfile.ZipFile(path) as src:
        entries = [(info.filename, src.read(info.filename)) for info in src.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as dst:
        for name, data in entries:
            if name == "docProps/core.xml":
                text = data.decode("utf-8")
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                    rf"\g<1>{_FIXED_DOC_TIME}\g<3>",
                    text,
                )
                data = text.encode("utf-8")
            info = zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            dst.writestr(info, data)
    path.write_bytes(buffer.getvalue())


def _tables(export: Export) -> tuple[str, ...]:
    """The tables written: the four always, an optional table when it has rows."""
    return TABLES + tuple(name for name in OPTIONAL_TABLES if len(export.table(name)))


def _write_xlsx(export: Export, path: Path) -> None:
    for name in _tables(export):
        rows = len(export.table(name))
        if rows > XLSX_MAX_ROWS:
            raise ConfigError(
                f"Table {name!r} has {rows:,} rows; an Excel sheet holds at most "
                f"{XLSX_MAX_ROWS:,}. Write this export as csv or parquet instead."
            )
    with pd.ExcelWriter(
        path, engine="openpyxl", date_format="YYYY-MM-DD", datetime_format="YYYY-MM-DD"
    ) as writer:
        for name in _tables(export):
            frame = export.table(name)
            plain = frame.astype(
                {
                    c: object
                    for c in frame.columns
                    if isinstance(frame[c].dtype, pd.CategoricalDtype)
                }
            )
            plain.to_excel(writer, sheet_name=name, index=False)
    _fix_zip(path)


def _manifest_json(export: Export) -> str:
    manifest = export.manifest
    content = {
        "extract_date": pd.Timestamp(manifest.extract_date).strftime("%Y-%m-%d"),
        "schema_version": int(manifest.schema_version),
        "source_system": manifest.source_system,
        "description": manifest.description,
    }
    return json.dumps(content, indent=2, ensure_ascii=False) + "\n"


def write_export(export: Export, folder: str | Path, fmt: str = "csv") -> Path:
    """Write the tables and ``manifest.json`` of ``export`` into ``folder``.

    Parameters
    ----------
    export
        The export to write; every column of each table is written, in order.
    folder
        Destination folder (created if needed). Files of the same names are
        overwritten; other files are left alone.
    fmt
        ``"csv"`` (``<table>.csv``), ``"parquet"`` (``<table>.parquet``) or
        ``"xlsx"`` (one workbook ``export.xlsx``, a sheet per table; at most
        1,048,575 rows per table).

    Returns
    -------
    pathlib.Path
        The folder written.

    Raises
    ------
    ConfigError
        Unknown format, or a table too large for an Excel sheet.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        _write_xlsx(export, folder / WORKBOOK_NAME)
    else:
        for name in _tables(export):
            table = _arrow(export.table(name))
            if fmt == "csv":
                _write_csv(table, folder / f"{name}.csv")
            else:
                pq.write_table(table, folder / f"{name}.parquet", compression="zstd")
    (folder / "manifest.json").write_text(_manifest_json(export), encoding="utf-8")
    return folder
